package reqstats

// ModelPrice is what a model costs, in USD per million tokens.
type ModelPrice struct {
	InputPerMTok  float64
	OutputPerMTok float64
	// CachedInputPerMTok is the provider's price for prompt-cached input tokens. Events carry
	// no count of those, so Cost and Saved do not use it yet.
	CachedInputPerMTok float64
}

// Prices maps a model name, exactly as events carry it (e.g. "openai/gpt-4o-mini"), to its price.
type Prices map[string]ModelPrice

// Cost returns what one event cost in USD. A cache hit costs 0: DSPy's cache serves the whole
// answer locally, so no token was bought. Otherwise it is InputTokens×InputPerMTok +
// OutputTokens×OutputPerMTok, over 1e6. An unknown model costs 0; negative token counts count as 0.
func (p Prices) Cost(e Event) float64 {
	cost, _ := p.costs(e)
	return cost
}

// Saved returns what a cache hit saved in USD by its own tokens: the cost the event would have
// had without the cache. Any other event saved 0. A hit that reports no tokens saves 0 here; an
// Aggregator prices it at its program's average miss instead.
func (p Prices) Saved(e Event) float64 {
	_, saved := p.costs(e)
	return saved
}

// costs returns Cost and Saved with one look-up.
func (p Prices) costs(e Event) (cost, saved float64) {
	if e.Cache == CacheHit {
		return 0, p.list(e)
	}
	return p.list(e), 0
}

// list is the uncached price of an event.
func (p Prices) list(e Event) float64 {
	mp, ok := p[e.Model]
	if !ok {
		return 0
	}
	return (float64(tokens(e.InputTokens))*mp.InputPerMTok + float64(tokens(e.OutputTokens))*mp.OutputPerMTok) / 1e6
}

// tokens returns a token count, negative counts as 0.
func tokens(n int64) uint64 { return uint64(max(n, 0)) }
