package scaling

import (
	"fmt"
	"math"
	"time"
)

// DefaultSpotRetry is how long after a preemption, or a spot launch that failed, the fallback
// asks for on-demand instead of spot.
const DefaultSpotRetry = 10 * time.Minute

// Capacity is a pool's mix of capacity types: a base of on-demand nodes, a share of the rest on
// spot, and whether spot that is scarce (just preempted, or could not be had) is replaced with
// on-demand until SpotRetry has passed.
type Capacity struct {
	// BaseOnDemand is the least on-demand nodes the pool keeps.
	BaseOnDemand int
	// SpotFraction is the share of the nodes above BaseOnDemand that run on spot, 0 to 1.
	SpotFraction float64
	// Fallback replaces scarce spot capacity with on-demand.
	Fallback bool
	// SpotRetry is how long spot stays scarce after the last preemption or failed spot launch.
	SpotRetry time.Duration
}

// Mix counts nodes by capacity type; reserved nodes count as on-demand.
type Mix struct {
	OnDemand, Spot int
}

// Total is the mix's size.
func (m Mix) Total() int { return m.OnDemand + m.Spot }

// String renders the mix for decisions and hooks: "on_demand", "spot", "on_demand+spot" or
// "none".
func (m Mix) String() string {
	switch {
	case m.OnDemand > 0 && m.Spot > 0:
		return "on_demand+spot"
	case m.Spot > 0:
		return "spot"
	case m.OnDemand > 0:
		return "on_demand"
	}
	return "none"
}

// validate checks c against the pool's largest size.
func (c Capacity) validate(maxNodes int, bad func(field, format string, args ...any)) {
	if c.BaseOnDemand < 0 || c.BaseOnDemand > maxNodes {
		bad("base_on_demand", "%d must be between 0 and max %d", c.BaseOnDemand, maxNodes)
	}
	if !finite(c.SpotFraction) || c.SpotFraction < 0 || c.SpotFraction > 1 {
		bad("spot_fraction", "%v must be between 0 and 1 (0.7 means 70 %% of the nodes above base_on_demand on spot)", c.SpotFraction)
	}
	if c.SpotRetry < 0 || c.SpotRetry > maxDuration {
		bad("spot_retry", "%s must be between 0 and %s", c.SpotRetry, maxDuration)
	}
}

// SpotScarce reports whether spot counts as scarce at now, given the last preemption or failed
// spot launch.
func (c Capacity) SpotScarce(lastLoss, now time.Time) bool {
	return !lastLoss.IsZero() && now.Sub(lastLoss) < c.SpotRetry
}

// TargetMix is the mix a pool of desired nodes aims for: BaseOnDemand on-demand nodes first
// (never more than desired), then SpotFraction of the rest on spot, rounded down, so a
// fraction of a node runs on-demand. With Fallback and spot scarce, the spot share runs
// on-demand too.
func TargetMix(c Capacity, desired int, spotScarce bool) Mix {
	if desired <= 0 {
		return Mix{}
	}
	base := min(c.BaseOnDemand, desired)
	spot := int(math.Floor(float64(desired-base)*c.SpotFraction + 1e-9))
	if c.Fallback && spotScarce {
		spot = 0
	}
	return Mix{OnDemand: desired - spot, Spot: spot}
}

// Additions splits add new nodes between the capacity types so that have moves toward target:
// on-demand first while the pool is short of its on-demand target, the rest spot. A pool that is
// already over one target gets the other type.
func Additions(target, have Mix, add int) Mix {
	if add <= 0 {
		return Mix{}
	}
	od := min(max(target.OnDemand-have.OnDemand, 0), add)
	spot := min(max(target.Spot-have.Spot, 0), add-od)
	// What the targets do not place (have already over one of them) goes where the target
	// has room left, else on-demand.
	if rest := add - od - spot; rest > 0 {
		if target.Spot > have.Spot+spot {
			spot += rest
		} else {
			od += rest
		}
	}
	return Mix{OnDemand: od, Spot: spot}
}

// MixReason explains a mix decision in words.
func MixReason(c Capacity, target, add Mix, spotScarce bool) string {
	why := fmt.Sprintf("target %d on-demand + %d spot (base %d, spot fraction %g)", target.OnDemand, target.Spot, c.BaseOnDemand, c.SpotFraction)
	if spotScarce && c.Fallback {
		why += "; spot is scarce, falling back to on-demand"
	}
	return why + fmt.Sprintf("; adding %s", add)
}
