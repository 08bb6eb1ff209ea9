package fleet

// eachEntry calls fn for every entry of pool (of the whole fleet when pool is ""), in no
// particular order, holding each entry's own lock (entry.mu) for its call and the registry lock
// only to list the entries. Every report takes the registry lock, so a read over 10,000 nodes
// under it kept reports waiting for milliseconds, tens with the collector's mark assists
// (BENCHMARKS.md section 8); a report now waits at most for one entry's call, and only when it
// is its own node's. The entries fn sees are each as they are at their call, not one instant
// of the fleet: an entry that left pool since the read began is skipped, and one that joined
// is left for the next read. fn must only read the entry.
func (r *Registry) eachEntry(pool string, fn func(e *entry)) {
	r.mu.Lock()
	src := r.nodes
	if pool != "" {
		src = r.byPool[pool]
	}
	entries := make([]*entry, 0, len(src))
	for _, e := range src {
		entries = append(entries, e)
	}
	r.mu.Unlock()
	for _, e := range entries {
		e.mu.Lock()
		if pool == "" || e.node.GetPool() == pool {
			fn(e)
		}
		e.mu.Unlock()
	}
}
