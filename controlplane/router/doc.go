// Package router owns request routing per pool: the routing policies and their storage, one
// pkg/routing pool per fleet pool kept in step with the registry's events and the agents'
// figures, picks and their results, the endpoint watches, and the overrides deployments and
// maintenance windows put on a pool's weights.
package router
