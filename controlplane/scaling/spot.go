package scaling

import (
	"slices"
	"strconv"
	"time"

	"github.com/dspyfleet/dspyfleet/pkg/scaling"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// PauseTicks waits for a running tick to end and holds the next one until the returned release
// is called, so that a change to the registry and the scaler's own record of it (Interrupted)
// land between two ticks.
func (sc *Scaler) PauseTicks() (release func()) {
	sc.tickMu.Lock()
	return sc.tickMu.Unlock
}

// Interrupted records that the cloud reclaims node of pool (spot when the node is a spot host)
// and ticks the scaler at once, so the pool's replacement is asked of the actuator while the
// node still drains. A reclaimed spot node makes spot scarce for the policy's spot_retry.
func (sc *Scaler) Interrupted(pool, node string, spot bool) {
	sc.mu.Lock()
	ps := sc.pools[pool]
	if ps != nil {
		if ps.replace == nil {
			ps.replace = map[string]bool{}
		}
		ps.replace[node] = true
		if spot {
			ps.spotLost = sc.now()
		}
		// The node no longer counts: nodes asked of the hook count one fewer too, or the
		// remembered launch would hide the loss.
		if ps.launch.desired > 0 {
			ps.launch.desired--
		}
	}
	sc.mu.Unlock()
	if ps == nil {
		return
	}
	select {
	case sc.wakeNow <- struct{}{}:
	default:
	}
}

// replacementsLocked counts the units (nodes, or instances on them) of reclaimed nodes not
// replaced yet; nodes no longer registered are forgotten.
func (ps *poolScaling) replacementsLocked(nodes []*fleetv1.Node) int {
	units := 0
	for id := range ps.replace {
		i := slices.IndexFunc(nodes, func(n *fleetv1.Node) bool { return n.GetId() == id })
		if i < 0 {
			delete(ps.replace, id)
			continue
		}
		if ps.act.instances {
			units += ps.instanceCount(nodes[i])
		} else {
			units++
		}
	}
	return units
}

// settleReplacementsLocked forgets the pending replacements once a decision asked for them, or
// could not because of the pool's max.
func (ps *poolScaling) settleReplacementsLocked(d scaling.Decision, replace int) {
	if replace > 0 && (d.Desired >= d.Current+replace || d.Desired == ps.policy.Max) {
		clear(ps.replace)
	}
}

// isSpot reports whether a node is a spot host: its capacity type, or the older spot=true label.
func isSpot(n *fleetv1.Node) bool {
	return n.GetCapacityType() == fleetv1.CapacityType_CAPACITY_TYPE_SPOT || n.GetLabels()["spot"] == "true"
}

// capacityPlanLocked is the pool's target mix for d.Desired and the capacity types of the nodes
// to add, from the counted nodes' types.
func (ps *poolScaling) capacityPlanLocked(d scaling.Decision, nodes []*fleetv1.Node, now time.Time) (target, add scaling.Mix) {
	var have scaling.Mix
	for _, n := range nodes {
		if counted, _ := counts(n); !counted {
			continue
		}
		if isSpot(n) {
			have.Spot++
		} else {
			have.OnDemand++
		}
	}
	c := ps.policy.Capacity
	target = scaling.TargetMix(c, d.Desired, c.SpotScarce(ps.spotLost, now))
	return target, scaling.Additions(target, have, d.Desired-d.Current)
}

// capacityEnv is the hook's environment for a job's capacity: what to add and the target mix.
func capacityEnv(j *hookJob) []string {
	return []string{
		"CAPACITY_TYPE=" + j.add.String(),
		"ADD_ON_DEMAND=" + strconv.Itoa(j.add.OnDemand), "ADD_SPOT=" + strconv.Itoa(j.add.Spot),
		"DESIRED_ON_DEMAND=" + strconv.Itoa(j.target.OnDemand), "DESIRED_SPOT=" + strconv.Itoa(j.target.Spot),
	}
}

// spotFailedLocked handles a hook run that failed while it asked for spot: spot counts as
// scarce from now, and with the fallback the retry asks for on-demand instead.
func (ps *poolScaling) spotFailedLocked(j *hookJob, now time.Time) {
	if j.add.Spot == 0 {
		return
	}
	ps.spotLost = now
	if c := ps.policy.Capacity; c.Fallback {
		j.target = scaling.TargetMix(c, j.desired, true)
		j.add = scaling.Mix{OnDemand: j.add.Total()}
	}
}
