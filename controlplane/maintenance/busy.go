package maintenance

// Busy reports whether a deployment or an open maintenance window covers pool (and node, when
// given), with a reason naming it. Self-healing and scaling ask it before acting, so they never
// fight a rollout or a window.
func Busy(dp *Deployer, w *Windows, pool, node string) (bool, string) {
	if busy, why := dp.Busy(pool, node); busy {
		return true, why
	}
	return w.Busy(pool, node)
}
