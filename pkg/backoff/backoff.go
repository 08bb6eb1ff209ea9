// Package backoff is the one rule dspyfleet waits by between attempts: the agent's reconnects
// and its retries after a refusal, the simulated agents', the scaler's hook retries, the alert
// notifier's deliveries and the control plane's answer to failed authentications. The wait
// doubles from an initial one up to a cap; jitter spreads the clients that failed together.
package backoff

import "time"

// Policy is exponential backoff: Initial, doubled after each attempt, never above Max.
type Policy struct {
	Initial, Max time.Duration
}

// Step is the wait before retry n (0 is the first retry): Initial doubled n times, capped at
// Max, without overflowing however large n is. A Max below Initial caps at Initial.
func (p Policy) Step(n int) time.Duration {
	limit := max(p.Max, p.Initial)
	d := p.Initial
	for range max(n, 0) {
		if d >= limit/2 {
			return limit
		}
		d *= 2
	}
	return min(d, limit)
}

// Full is Step(n) with full jitter: r×Step(n), for r uniform in [0, 1). Reconnecting clients
// spread over the whole step.
func (p Policy) Full(n int, r float64) time.Duration {
	return time.Duration(r * float64(p.Step(n)))
}

// Upper is Step(n) jittered into its upper half: Step(n)/2 + r×Step(n)/2, for r uniform in
// [0, 1). Clients that must not come back much sooner than the step, such as a refused agent,
// still spread.
func (p Policy) Upper(n int, r float64) time.Duration {
	d := p.Step(n)
	return d/2 + time.Duration(r*float64(d/2))
}
