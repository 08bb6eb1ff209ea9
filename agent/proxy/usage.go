package proxy

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
)

// usage is what a response says about the request it answers.
type usage struct {
	input, output   int64
	model           string
	program, module string
	cache           reqstats.CacheState
}

// fromHeaders fills in what the configured headers (or, after the body, trailers) say; a header
// that is absent or malformed leaves the field as the body had it.
func (u *usage) fromHeaders(cfg *Config, header, trailer http.Header) {
	get := func(name string) string {
		if v := header.Get(name); v != "" {
			return v
		}
		return trailer.Get(name)
	}
	if n, ok := tokens(get(cfg.InputTokensHeader)); ok {
		u.input = n
	}
	if n, ok := tokens(get(cfg.OutputTokensHeader)); ok {
		u.output = n
	}
	if v := get(cfg.ModelHeader); v != "" {
		u.model = v
	}
	u.program = get(cfg.ProgramHeader)
	u.module = get(cfg.ModuleHeader)
	switch strings.ToLower(get(cfg.CacheHeader)) {
	case "hit", "true", "1":
		u.cache = reqstats.CacheHit
	case "miss", "false", "0":
		u.cache = reqstats.CacheMiss
	}
}

// tokens parses a token count.
func tokens(s string) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	return n, err == nil && n >= 0
}
