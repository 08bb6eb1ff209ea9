package controlplane

import (
	"context"
	"time"
)

// reconcileStep is one step of the reconcile loop: it reads what it needs at now, decides with
// pkg/* and applies the result. An error is logged and counted; the loop goes on with the next
// step, since one failing subsystem must not stop the others.
type reconcileStep struct {
	name string
	run  func(ctx context.Context, now time.Time) error
}

// reconcileLoop runs the steps in s.steps in order every reconcile interval, in one goroutine, so
// the steps never race each other (DESIGN: health → routing → scaling → self-healing → alerts →
// cost → maintenance).
func (s *Server) reconcileLoop(ctx context.Context) error {
	t := time.NewTicker(s.cfg.ReconcileInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.reconcileOnce(ctx)
		}
	}
}

// reconcileOnce runs every step once at the current time.
func (s *Server) reconcileOnce(ctx context.Context) {
	for _, st := range s.steps {
		start := time.Now()
		err := st.run(ctx, s.cfg.Now())
		s.metrics.reconcileSeconds.WithLabelValues(st.name).Observe(time.Since(start).Seconds())
		if err != nil {
			s.metrics.reconcileErrors.WithLabelValues(st.name).Inc()
			s.log.Error("reconcile step failed; will retry next tick", "step", st.name, "err", err)
		}
	}
}
