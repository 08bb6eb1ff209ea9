package router

import "github.com/dspyfleet/dspyfleet/pkg/routing"

// PickCritical picks a node of pool for a request marked critical: an on-demand or reserved
// node when one is in the routing set, else any as Pick does.
func (rt *Router) PickCritical(pool, key string) (routing.Pick, error) {
	pr, err := rt.route(pool)
	if err != nil {
		return routing.Pick{}, err
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return pr.pool.PickCritical(key)
}
