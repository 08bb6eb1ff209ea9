package routing

// PickCritical picks a node for a request marked critical, which a spot reclaim must not cut
// short: the on-demand (or reserved) node of the routing set with the least load per weight,
// when the set has one; else the pool's strategy picks among the spot nodes, as Pick does. It
// walks the routing set once and allocates nothing.
func (p *Pool) PickCritical(key string) (Pick, error) {
	var best *endpoint
	var bestScore float64
	for _, e := range p.cands {
		if e.Spot {
			continue
		}
		score := float64(e.load()+1) / e.weight()
		if best == nil || score < bestScore {
			best, bestScore = e, score
		}
	}
	if best == nil {
		return p.Pick(key)
	}
	p.picks++
	best.picks++
	p.addLoad(best, 1)
	return Pick{ID: best.ID, Address: best.Address, Epoch: best.epoch, Panic: p.panic}, nil
}
