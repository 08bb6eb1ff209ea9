package routing

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// judge runs the interval detectors: error rate over the interval and latency far above the
// pool's median. Ejection multipliers of nodes that stayed healthy decay by one.
func (p *Pool) judge(now time.Time) {
	o := p.policy.Outlier
	for _, e := range p.eps {
		if !e.ejected() && e.ejections > 0 {
			e.ejections--
		}
	}
	if o.ErrorRate > 0 {
		for _, e := range p.eps {
			if !e.Ready || e.ejected() {
				continue
			}
			total, errs := e.intOK+e.intErr, e.intErr
			if total < uint64(o.MinRequests) || total == 0 {
				total, errs = e.Requests, e.Errors
			}
			if total == 0 || total < uint64(o.MinRequests) {
				continue
			}
			if rate := float64(errs) / float64(total); rate > o.ErrorRate {
				p.eject(e, fmt.Sprintf("error rate %.1f%% over %d requests, above %.1f%%", rate*100, total, o.ErrorRate*100), now)
			}
		}
	}
	if o.LatencyFactor > 0 {
		p.judgeLatency(now)
	}
	for _, e := range p.eps {
		e.intOK, e.intErr = 0, 0
	}
}

// judgeLatency ejects ready nodes whose p95 is above LatencyFactor × the median p95 of the
// ready nodes with enough requests; it needs three such nodes to call a median.
func (p *Pool) judgeLatency(now time.Time) {
	o := p.policy.Outlier
	var lats []time.Duration
	for _, e := range p.eps {
		if e.Ready && e.Latency > 0 && e.Requests >= uint64(max(o.MinRequests, 1)) {
			lats = append(lats, e.Latency)
		}
	}
	if len(lats) < 3 {
		return
	}
	slices.Sort(lats)
	median := lats[len(lats)/2]
	if len(lats)%2 == 0 {
		median = (lats[len(lats)/2-1] + lats[len(lats)/2]) / 2
	}
	limit := time.Duration(float64(median) * o.LatencyFactor)
	worst := slices.Clone(p.eps)
	slices.SortFunc(worst, func(a, b *endpoint) int { return int(b.Latency - a.Latency) })
	for _, e := range worst {
		if !e.Ready || e.ejected() || e.Requests < uint64(max(o.MinRequests, 1)) || e.Latency <= limit {
			continue
		}
		p.eject(e, fmt.Sprintf("p95 latency %s above %.1f × the pool median %s", e.Latency, o.LatencyFactor, median), now)
	}
}

// eject takes e out of the routing set for BaseEjection × its multiplier (capped at
// MaxEjection), unless that would eject more than MaxEjectedShare of the ready nodes. It
// returns whether e was ejected.
func (p *Pool) eject(e *endpoint, reason string, now time.Time) bool {
	o := p.policy.Outlier
	ready, ejected := 0, 0
	for _, x := range p.eps {
		if x.Ready {
			ready++
			if x.ejected() {
				ejected++
			}
		}
	}
	allowed := int(math.Floor(o.MaxEjectedShare * float64(ready)))
	if allowed == 0 && o.MaxEjectedShare > 0 && ready >= 2 {
		allowed = 1
	}
	if ejected+1 > allowed {
		return false
	}
	e.ejections++
	d := min(o.BaseEjection*time.Duration(e.ejections), o.MaxEjection)
	e.ejectedUntil = now.Add(d)
	e.ejectReason = fmt.Sprintf("%s (ejection %d, for %s)", reason, e.ejections, d)
	return true
}
