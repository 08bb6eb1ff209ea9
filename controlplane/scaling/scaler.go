package scaling

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/commands"
	"github.com/dspyfleet/dspyfleet/controlplane/fleet"
	"github.com/dspyfleet/dspyfleet/controlplane/stats"
	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/pkg/backoff"
	"github.com/dspyfleet/dspyfleet/pkg/command"
	"github.com/dspyfleet/dspyfleet/pkg/scaling"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Actuation states of a pool.
const (
	actWaitingDrain = "waiting_drain"
	actPending      = "pending"
	actRunning      = "running"
	actSucceeded    = "succeeded"
	actFailed       = "failed"
)

// minProvisionTimeout is the least time nodes asked of the exec hook count toward a pool's size
// before they register.
const minProvisionTimeout = 10 * time.Minute

// Scaler is the control plane's autoscaler. Every tick it builds each scaled pool's snapshot
// from the registry and the request rollups, decides with pkg/scaling, records decisions that
// change something, and acts through the pool's actuator: the exec hook (run by Run, retried
// with backoff) after draining scale-down victims, or scale commands to the pool's agents.
type Scaler struct {
	now      func() time.Time
	log      *slog.Logger
	reg      *fleet.Registry
	stats    *stats.Requests
	cmds     *commands.Queue
	Store    *store.Store
	HookDir  string
	Defaults ScalingDefaults // the profile's, for fields a new policy leaves out
	// Busy reports a deployment or maintenance window on a pool (node ""); nil means none.
	Busy      func(pool, node string) (bool, string)
	retryBase time.Duration
	retryMax  time.Duration
	kick      chan struct{} // wakes the hook runner
	wakeNow   chan struct{} // asks Run for an immediate tick

	tickMu sync.Mutex // one tick at a time: the reconcile step or a wake-up
	mu     sync.Mutex // guards pools and everything in them
	pools  map[string]*poolScaling
}

// poolScaling is one scaled pool's policy and what the scaler remembers about it.
type poolScaling struct {
	pb        *fleetv1.ScalingPolicy
	policy    scaling.Policy
	act       Actuator
	state     scaling.State
	started   bool
	wake      bool
	model     *scaling.Model
	forecast  *fleetv1.ScalingForecast
	last      *fleetv1.ScalingDecision
	recorded  *fleetv1.ScalingDecision
	launch    launch
	instances map[string]int
	job       *hookJob
	queued    *hookJob
	hookRuns  [2]uint64       // succeeded, failed: for Prometheus
	saved     []byte          // the memory last stored, without the recommendation history
	replace   map[string]bool // reclaimed nodes whose capacity is not replaced yet
	spotLost  time.Time       // the last preemption of a spot node
}

// launch is the size asked of the exec hook, counted until the nodes register or until.
type launch struct {
	desired int
	until   time.Time
}

// hookJob is one run (with its retries) of a pool's actuator.
type hookJob struct {
	actuator         string
	current, desired int
	victims          []string
	target, add      scaling.Mix // the pool's target capacity mix and the capacity to add
	state            string
	attempts         int
	detail           string
	time, next       time.Time
	// sent holds, for the instances actuator, the scale command sent to each host; note says
	// what the commands could not do (instances with no room).
	sent map[string]*sentScale
	note string
}

// sentScale is one scale command of an instances job and what came of it.
type sentScale struct {
	command   string // the command's id
	instances int    // the count asked
	state     string // "" while outstanding, else actSucceeded or actFailed
	detail    string // the agent's account of a failure
}

func New(now func() time.Time, log *slog.Logger, reg *fleet.Registry, stats *stats.Requests, cmds *commands.Queue, st *store.Store, hookDir string) (*Scaler, error) {
	sc := &Scaler{
		now: now, log: log, reg: reg, stats: stats, cmds: cmds, Store: st, HookDir: hookDir,
		retryBase: time.Second, retryMax: time.Minute,
		kick: make(chan struct{}, 1), wakeNow: make(chan struct{}, 1),
		pools: make(map[string]*poolScaling),
	}
	stored, err := loadScalingPolicies(st)
	if err != nil {
		return nil, err
	}
	for pool, pb := range stored {
		p, act, err := PolicyFromProto(pb, hookDir)
		if err != nil {
			// A hook that went missing or the hook directory changed: keep deciding, without
			// the actuator, and say so.
			log.Error("stored scaling policy no longer valid; deciding without acting until it is set again", "pool", pool, "err", err)
			act0 := pb.GetActuator()
			pb = proto.Clone(pb).(*fleetv1.ScalingPolicy)
			pb.Actuator = &fleetv1.ScalingActuator{HookTimeout: act0.GetHookTimeout(), MaxInstancesPerNode: act0.GetMaxInstancesPerNode()}
			if p, act, err = PolicyFromProto(pb, hookDir); err != nil {
				return nil, fmt.Errorf("%w: scaling policy of pool %q: %v", store.ErrCorruptStore, pool, err)
			}
		}
		sc.pools[pool] = newPoolScaling(pb, p, act)
	}
	memory, err := loadScalingMemory(st)
	if err != nil {
		return nil, err
	}
	for pool, b := range memory {
		if ps := sc.pools[pool]; ps != nil {
			if err := ps.restoreMemory(b); err != nil {
				log.Error("the scaler's stored memory of a pool is unreadable; starting afresh", "pool", pool, "err", err)
			}
		}
	}
	return sc, nil
}

func newPoolScaling(pb *fleetv1.ScalingPolicy, p scaling.Policy, act Actuator) *poolScaling {
	return &poolScaling{pb: pb, policy: p, act: act, instances: map[string]int{}}
}

// SetPolicy installs a validated policy. The decision state carries over; the forecast model is
// rebuilt when the predictive settings changed.
func (sc *Scaler) SetPolicy(pool string, pb *fleetv1.ScalingPolicy, p scaling.Policy, act Actuator) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	ps := sc.pools[pool]
	if ps == nil {
		sc.pools[pool] = newPoolScaling(pb, p, act)
		return
	}
	if ps.policy.Predictive != p.Predictive {
		ps.model, ps.forecast = nil, nil
	}
	ps.pb, ps.policy, ps.act = pb, p, act
}

// RemovePolicy stops scaling pool: its nodes stay as they are.
func (sc *Scaler) RemovePolicy(pool string) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	delete(sc.pools, pool)
}

// Policies returns every pool's stored policy.
func (sc *Scaler) Policies() map[string]*fleetv1.ScalingPolicy {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	out := make(map[string]*fleetv1.ScalingPolicy, len(sc.pools))
	for pool, ps := range sc.pools {
		out[pool] = proto.Clone(ps.pb).(*fleetv1.ScalingPolicy)
	}
	return out
}

// MinSizes returns each scaled pool's minimum size.
func (sc *Scaler) MinSizes() map[string]int {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	out := make(map[string]int, len(sc.pools))
	for pool, ps := range sc.pools {
		out[pool] = ps.policy.Min
	}
	return out
}

// Policy returns a pool's policy, or nil.
func (sc *Scaler) Policy(pool string) *fleetv1.ScalingPolicy {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if ps := sc.pools[pool]; ps != nil {
		return ps.pb
	}
	return nil
}

// Status returns a pool's latest decision, forecast and actuation; ok is false for a pool
// without a policy.
func (sc *Scaler) Status(pool string) (*fleetv1.ScalingServiceGetStatusResponse, bool) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	ps := sc.pools[pool]
	if ps == nil {
		return nil, false
	}
	resp := &fleetv1.ScalingServiceGetStatusResponse{Pool: pool, Decision: ps.last, Forecast: ps.forecast}
	if j := ps.job; j != nil {
		a := &fleetv1.ScalingActuation{
			Actuator: j.actuator, Current: uint32(j.current), Desired: uint32(j.desired), Victims: j.victims,
			State: j.state, Attempts: uint32(j.attempts), Detail: j.detail, Time: timestamppb.New(j.time),
		}
		if j.add.Total() > 0 {
			a.CapacityType, a.DesiredOnDemand, a.DesiredSpot = j.add.String(), uint32(j.target.OnDemand), uint32(j.target.Spot)
		}
		if j.state == actFailed {
			a.NextAttempt = timestamppb.New(j.next)
		}
		resp.Actuation = a
	}
	return resp, true
}

// Wake asks for an immediate scale-up of an empty pool to its wake size and returns how long a
// new node takes to serve (the policy's lead time); ok is false for a pool without a scaling
// Policy. It never blocks: the scaler's Run ticks at once. Routing calls it when a Pick finds
// no node.
func (sc *Scaler) Wake(pool string) (leadTime time.Duration, ok bool) {
	sc.mu.Lock()
	ps := sc.pools[pool]
	if ps != nil {
		ps.wake = true
		leadTime = ps.policy.Predictive.LeadTime
	}
	sc.mu.Unlock()
	if ps == nil {
		return 0, false
	}
	select {
	case sc.wakeNow <- struct{}{}:
	default:
	}
	return leadTime, true
}

// Reconcile is the scaling step of the reconcile loop.
func (sc *Scaler) Reconcile(_ context.Context, now time.Time) error {
	return sc.tick(now)
}

// tick decides every scaled pool once and stores the decisions that changed something.
func (sc *Scaler) tick(now time.Time) error {
	sc.tickMu.Lock()
	defer sc.tickMu.Unlock()
	sc.mu.Lock()
	pools := slices.Sorted(maps.Keys(sc.pools))
	sc.mu.Unlock()
	records := make(map[string][]*fleetv1.ScalingDecision)
	var errs []string
	for _, pool := range pools {
		rec, err := sc.tickPool(pool, now)
		if err != nil {
			errs = append(errs, fmt.Sprintf("pool %s: %v", pool, err))
		}
		if rec != nil {
			records[pool] = append(records[pool], rec)
		}
	}
	sc.mu.Lock()
	memory, keys, err := sc.changedMemoryLocked(false)
	sc.mu.Unlock()
	if err != nil {
		errs = append(errs, fmt.Sprintf("encoding the scaler's memory: %v", err))
	}
	if err := recordScaling(sc.Store, records, memory, now); err != nil {
		errs = append(errs, fmt.Sprintf("recording decisions: %v", err))
	} else {
		sc.markSaved(keys)
	}
	select {
	case sc.kick <- struct{}{}:
	default:
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// tickPool decides one pool and applies the decision; it returns the decision when it is worth
// recording: it differs from the last one recorded in size, recommendation or limit (a pool
// without an actuator repeats the same change every tick; it is recorded once).
func (sc *Scaler) tickPool(pool string, now time.Time) (*fleetv1.ScalingDecision, error) {
	nodes := sc.reg.ScalingNodes(pool)
	modelErr := sc.feedModel(pool, now)
	sc.mu.Lock()
	ps := sc.pools[pool]
	if ps == nil {
		sc.mu.Unlock()
		return nil, nil
	}
	sc.settleInstancesLocked(ps, now) // before the snapshot: a failed host counts what it runs
	view := *ps
	sc.mu.Unlock()
	// The snapshot walks the pool's nodes without mu, so the API's reads (Status) do not wait for
	// it. Of what it reads, only wake, act and launch change outside ticks; it takes them as they
	// were when the tick began (a change lands at the next tick).
	snap := snapshotForScaling(&view, nodes, now)
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.pools[pool] != ps {
		return nil, nil // the policy was removed meanwhile
	}
	sc.checkDrainsLocked(pool, ps, nodes, now)
	snap.Replace = ps.replacementsLocked(nodes)
	if !ps.started {
		// A fresh scaler has no history: hold scale-downs for one window, as if the current
		// size had been recommended now.
		ps.state.Recommendations = append(ps.state.Recommendations, scaling.Sample{Time: now, Nodes: snap.Current})
		ps.started = true
	}
	if ps.policy.Predictive.Enabled {
		floor, fc := scaling.PredictFloor(ps.policy, ps.model)
		snap.Floor = floor
		ps.forecast = forecastToProto(fc, floor)
	} else {
		ps.forecast = &fleetv1.ScalingForecast{Status: "predictive scaling is off"}
	}
	d, next := scaling.Decide(ps.policy, ps.state, snap)
	ps.state = next
	if view.wake {
		ps.wake = false // a wake that came during the snapshot is kept for the next tick
	}
	dec := decisionToProto(d, snap.Ready)
	ps.last = dec
	var rec *fleetv1.ScalingDecision
	if !sameDecision(ps.recorded, dec) {
		rec, ps.recorded = dec, dec
		sc.log.Info("scaling decision", "pool", pool, "current", d.Current, "desired", d.Desired, "reason", d.Reason)
	}
	if d.Desired != d.Current || ps.retryDueLocked(now) {
		if busy, why := sc.busyPool(pool); busy {
			sc.log.Info("scaling held during maintenance", "pool", pool, "current", d.Current, "desired", d.Desired, "why", why)
			return rec, modelErr
		}
		sc.applyLocked(pool, ps, d, nodes, now)
	}
	ps.settleReplacementsLocked(d, snap.Replace)
	return rec, modelErr
}

// busyPool reports whether a deployment or maintenance window works on pool: the scaler does
// not resize a pool under maintenance, whose nodes are out of routing on purpose.
func (sc *Scaler) busyPool(pool string) (bool, string) {
	if sc.Busy == nil {
		return false, ""
	}
	return sc.Busy(pool, "")
}

// sameDecision reports whether two decisions agree on everything but time and wording.
func sameDecision(a, b *fleetv1.ScalingDecision) bool {
	return a != nil && b != nil && a.GetCurrent() == b.GetCurrent() && a.GetDesired() == b.GetDesired() &&
		a.GetRecommended() == b.GetRecommended() && a.GetLimit() == b.GetLimit() && a.GetReady() == b.GetReady()
}

// counts reports whether a node counts toward its pool's size (it is neither leaving nor gone:
// a node with a drain requested, a scale-down victim among them, never counts) and whether it
// carries load.
func counts(n *fleetv1.Node) (counted, ready bool) {
	if n.GetDrainRequested() {
		return false, false
	}
	switch n.GetState() {
	case fleetv1.NodeState_NODE_STATE_READY:
		return true, true
	case fleetv1.NodeState_NODE_STATE_UNHEALTHY, fleetv1.NodeState_NODE_STATE_DISCONNECTED:
		return true, false
	}
	return false, false
}

// snapshotForScaling builds a pool's snapshot: its size in nodes (or instances) counting nodes
// asked of the hook that have not registered yet, and each metric from the ready nodes' fresh
// reports. Per-node metrics are averages per ready node (per ready instance with instances);
// latency, time to first token and error rate are pool-wide, weighted by requests. An agent
// report without a request section counts as idle; latency and TTFT are missing without
// requests that measured them.
func snapshotForScaling(ps *poolScaling, nodes []*fleetv1.Node, now time.Time) scaling.Snapshot {
	snap := scaling.Snapshot{Now: now, Wake: ps.wake, Observed: map[scaling.Metric]float64{}}
	var (
		readyNodes, hosts, apps                     int
		cpu, mem, inFlight, queue, rps, tokens      float64
		requests, errs                              uint64
		latencyWeighted, ttftWeighted, ttftRequests float64
	)
	for _, n := range nodes {
		counted, ready := counts(n)
		if !counted {
			continue
		}
		units := 1
		if ps.act.instances {
			units = ps.instanceCount(n)
		}
		snap.Current += units
		if !ready {
			snap.Nodes = append(snap.Nodes, victimOf(n))
			continue
		}
		if ps.act.instances {
			snap.Ready += readyInstances(n, units)
		} else {
			snap.Ready++
		}
		readyNodes++
		snap.Nodes = append(snap.Nodes, victimOf(n))
		rep := n.GetLastReport()
		if rep == nil || now.Sub(rep.GetTime().AsTime()) > freshness(n) {
			continue
		}
		if h := rep.GetHost(); h != nil {
			hosts++
			cpu += h.GetCpuPercent()
			mem += h.GetMemoryUsedPercent()
		}
		app := rep.GetApp()
		apps++
		inFlight += float64(app.GetInFlight())
		queue += float64(app.GetQueueLength())
		rps += app.GetRequestsPerSecond()
		if w := rep.GetWindow().AsDuration(); w > 0 {
			tokens += float64(app.GetInputTokens()+app.GetOutputTokens()) / w.Seconds()
		}
		requests += app.GetRequests()
		errs += app.GetErrors()
		latencyWeighted += app.GetLatencyP95Ms() * float64(app.GetRequests())
		if t := app.GetTtftP95Ms(); t > 0 {
			ttftWeighted += t * float64(app.GetRequests())
			ttftRequests += float64(app.GetRequests())
		}
	}
	if ps.act.instances {
		snap.Nodes = nil // instances are spread over hosts, not chosen one by one
	}
	if l := ps.launch; !ps.act.instances && l.desired > snap.Current && now.Before(l.until) {
		snap.Current = l.desired
	}
	perUnit := func(sum float64, reporting int) float64 {
		// The average per reporting node, spread over the ready units.
		return sum / float64(reporting) * float64(readyNodes) / float64(max(snap.Ready, 1))
	}
	if hosts > 0 {
		snap.Observed[scaling.MetricCPU] = cpu / float64(hosts)
		snap.Observed[scaling.MetricMemory] = mem / float64(hosts)
	}
	if apps > 0 {
		snap.Observed[scaling.MetricInFlight] = perUnit(inFlight, apps)
		snap.Observed[scaling.MetricQueue] = perUnit(queue, apps)
		snap.Observed[scaling.MetricRPS] = perUnit(rps, apps)
		snap.Observed[scaling.MetricTokens] = perUnit(tokens, apps)
		snap.Observed[scaling.MetricErrorRate] = 0
	}
	if requests > 0 {
		snap.Observed[scaling.MetricLatencyP95] = latencyWeighted / float64(requests)
		snap.Observed[scaling.MetricErrorRate] = float64(errs) / float64(requests)
	}
	if ttftRequests > 0 {
		snap.Observed[scaling.MetricTTFT] = ttftWeighted / ttftRequests
	}
	return snap
}

// freshness is how old a node's last report may be to count: three report intervals, at least 15 s.
func freshness(n *fleetv1.Node) time.Duration {
	return max(3*n.GetReportInterval().AsDuration(), 15*time.Second)
}

func victimOf(n *fleetv1.Node) scaling.Node {
	_, ready := counts(n)
	return scaling.Node{
		ID: n.GetId(), Ready: ready, HourlyPrice: n.GetHourlyPrice(), Spot: isSpot(n),
		Load: float64(n.GetLastReport().GetApp().GetInFlight()), Started: n.GetFirstSeen().AsTime(),
	}
}

// instanceCount is the number of instances a host runs: the count the scaler last asked of it
// while that scale command is outstanding or succeeded, else what the host's agent reports it
// supervises, else 1.
func (ps *poolScaling) instanceCount(n *fleetv1.Node) int {
	if c, ok := ps.instances[n.GetId()]; ok {
		return c
	}
	if c := n.GetLastReport().GetServiceHealth().GetInstances(); c > 0 {
		return int(c)
	}
	return 1
}

// readyInstances is how many of a ready host's units serve: the instances its agent reports
// running and passing their health check, capped at units; units when the agent reports none.
func readyInstances(n *fleetv1.Node, units int) int {
	h := n.GetLastReport().GetServiceHealth()
	if h == nil {
		return units
	}
	return min(int(h.GetHealthyInstances()), units)
}

// applyLocked carries out a decision that changes the size.
func (sc *Scaler) applyLocked(pool string, ps *poolScaling, d scaling.Decision, nodes []*fleetv1.Node, now time.Time) {
	switch {
	case ps.act.instances:
		sc.scaleInstancesLocked(pool, ps, d, nodes, now)
	case ps.act.hook != "":
		job := &hookJob{actuator: "exec_hook", current: d.Current, desired: d.Desired, state: actPending, time: now}
		if d.Desired > d.Current {
			job.target, job.add = ps.capacityPlanLocked(d, nodes, now)
			ps.launch = launch{desired: d.Desired, until: now.Add(max(2*ps.policy.Predictive.LeadTime, minProvisionTimeout))}
		} else {
			ps.launch.desired = min(ps.launch.desired, d.Desired)
			reason := fmt.Sprintf("scale-down of pool %s: %d → %d", pool, d.Current, d.Desired)
			for _, id := range d.Victims {
				if err := sc.drainLocked(id, reason); err != nil {
					sc.log.Error("draining a scale-down victim failed; removing it without a drain", "pool", pool, "node", id, "err", err)
				}
			}
			if len(d.Victims) > 0 {
				job.victims, job.state = d.Victims, actWaitingDrain
				job.detail = "draining " + strings.Join(d.Victims, ", ")
			}
		}
		if ps.job != nil && ps.job.state == actRunning {
			ps.queued = mergeJobs(ps.queued, job)
		} else {
			ps.job = mergeJobs(ps.job, job)
		}
	}
}

// mergeJobs returns the job that replaces old with next. A job that has not run yet is folded
// in: the hook sees the whole change, from old's CURRENT to next's DESIRED, and removes the
// victims of both, once all of them have drained.
func mergeJobs(old, next *hookJob) *hookJob {
	if old == nil || old.state == actRunning || old.state == actSucceeded {
		return next
	}
	next.current = old.current
	for _, v := range old.victims {
		if !slices.Contains(next.victims, v) {
			next.victims = append(next.victims, v)
		}
	}
	if len(next.victims) > 0 {
		next.state, next.detail = actWaitingDrain, "draining "+strings.Join(next.victims, ", ")
	}
	return next
}

// drainLocked takes a node out of routing and asks its agent to drain, as FleetService.DrainNode
// does.
func (sc *Scaler) drainLocked(id, reason string) error {
	params := map[string]string{command.ParamTimeout: commands.DefaultDrainTimeout.String()}
	if _, err := sc.cmds.Create(id, fleetv1.CommandKind_COMMAND_KIND_DRAIN, params, commands.DefaultTimeout+commands.DefaultDrainTimeout, "scaling", reason); err != nil {
		return err
	}
	return sc.reg.SetDrain(id, true, false, "drain requested: "+reason)
}

// checkDrainsLocked moves a job whose victims have all drained (or are down, past their TTL) on
// to the hook. A victim that merely disconnected may come back and finish its drain: it is waited
// for until it is down.
func (sc *Scaler) checkDrainsLocked(pool string, ps *poolScaling, nodes []*fleetv1.Node, now time.Time) {
	for _, j := range []*hookJob{ps.job, ps.queued} {
		if j == nil || j.state != actWaitingDrain {
			continue
		}
		done := true
		for _, id := range j.victims {
			i := slices.IndexFunc(nodes, func(n *fleetv1.Node) bool { return n.GetId() == id })
			if i < 0 {
				continue
			}
			switch nodes[i].GetState() {
			case fleetv1.NodeState_NODE_STATE_DRAINED, fleetv1.NodeState_NODE_STATE_DOWN:
			default:
				done = false
			}
		}
		if done {
			j.state, j.time, j.detail = actPending, now, "drained "+strings.Join(j.victims, ", ")
			sc.log.Info("scale-down victims drained; running the hook", "pool", pool, "victims", j.victims)
		}
	}
}

// scaleInstancesLocked spreads the desired instances over the ready hosts, each within its
// maximum (the max_instances label, else the policy's), and sends a scale command to every
// host whose count changes. The job stays running until every host's agent has answered
// (settleInstancesLocked); while it runs, or while a failed one waits for its retry, no new
// commands go out. A scale command lowering a host's instances on a pool with a maintenance
// window that is not open is held until the window opens, as every disruptive command is, and
// the job keeps running meanwhile.
func (sc *Scaler) scaleInstancesLocked(pool string, ps *poolScaling, d scaling.Decision, nodes []*fleetv1.Node, now time.Time) {
	attempts := 0
	if j := ps.job; j != nil && j.actuator == "instances" {
		if j.state == actRunning || j.state == actFailed && now.Before(j.next) {
			return
		}
		if j.state == actFailed {
			attempts = j.attempts
		}
	}
	var hosts []*fleetv1.Node
	for _, n := range nodes {
		if _, ready := counts(n); ready {
			hosts = append(hosts, n)
		}
	}
	capOf := func(n *fleetv1.Node) int {
		if v, err := strconv.Atoi(n.GetLabels()["max_instances"]); err == nil && v >= 0 && v <= command.MaxInstances {
			return v
		}
		return ps.act.maxInstances
	}
	want := make(map[string]int, len(hosts))
	left := d.Desired
	for progress := true; left > 0 && progress; {
		progress = false
		for _, h := range hosts {
			if left > 0 && want[h.GetId()] < capOf(h) {
				want[h.GetId()]++
				left--
				progress = true
			}
		}
	}
	var changed []*fleetv1.Node
	for _, h := range hosts {
		if want[h.GetId()] != ps.instanceCount(h) {
			changed = append(changed, h)
		}
	}
	if j := ps.job; len(changed) == 0 && j != nil {
		// The hosts run what the last job asked, the rest has no room: a failed job whose hosts
		// came round (a crashed instance restarted) is done.
		if j.state == actFailed {
			j.state, j.time, j.attempts, j.next = actSucceeded, now, 0, time.Time{}
			j.detail = fmt.Sprintf("the hosts now run the %d instances asked (after: %s)", d.Desired, j.detail)
		}
		return
	}
	job := &hookJob{actuator: "instances", current: d.Current, desired: d.Desired, state: actRunning, time: now,
		attempts: attempts + 1, sent: map[string]*sentScale{}}
	reason := fmt.Sprintf("scaling pool %s: %d → %d instances", pool, d.Current, d.Desired)
	for _, h := range changed {
		id := h.GetId()
		params := map[string]string{command.ParamInstances: strconv.Itoa(want[id])}
		rec, _, err := sc.cmds.Submit(context.Background(), id, fleetv1.CommandKind_COMMAND_KIND_SCALE, params, commands.DefaultTimeout, "scaling", reason, commands.HeldByWindow)
		if err != nil {
			job.sent[id] = &sentScale{instances: want[id], state: actFailed, detail: err.Error()}
			continue
		}
		ps.instances[id] = want[id]
		job.sent[id] = &sentScale{command: rec.GetCommand().GetId(), instances: want[id]}
	}
	ps.job = job
	if left > 0 {
		job.note = fmt.Sprintf("%d instances have no room on the ready hosts", left)
	}
	sc.settleInstancesLocked(ps, now)
}

// settleInstancesLocked follows a running instances job: each host's scale command is looked up,
// and once every one has ended the job succeeds, or fails with each failing host and its
// agent's reason and is retried after a backoff. A host whose command failed counts again what
// its agent reports, not what it was asked.
func (sc *Scaler) settleInstancesLocked(ps *poolScaling, now time.Time) {
	j := ps.job
	if j == nil || j.actuator != "instances" || j.state != actRunning {
		return
	}
	var waiting int
	var scaled, failed []string
	for _, id := range slices.Sorted(maps.Keys(j.sent)) {
		s := j.sent[id]
		if s.state == "" {
			rec, err := sc.cmds.Get(s.command)
			switch st := rec.GetState(); {
			case err != nil:
				s.state, s.detail = actFailed, "the scale command's record is gone: "+err.Error()
			case st == fleetv1.CommandState_COMMAND_STATE_SUCCEEDED:
				s.state = actSucceeded
			case commands.Terminal(st):
				s.state, s.detail = actFailed, strings.ToLower(strings.TrimPrefix(st.String(), "COMMAND_STATE_"))+": "+rec.GetDetail()
			}
		}
		switch s.state {
		case "":
			waiting++
		case actSucceeded:
			scaled = append(scaled, fmt.Sprintf("%s=%d", id, s.instances))
		default:
			delete(ps.instances, id)
			failed = append(failed, fmt.Sprintf("%s (asked %d): %s", id, s.instances, s.detail))
		}
	}
	switch {
	case waiting > 0:
		j.detail = fmt.Sprintf("waiting for %d of %d scale commands", waiting, len(j.sent))
	case len(failed) > 0:
		j.state, j.time, j.next = actFailed, now, now.Add(sc.retryDelay(j.attempts))
		j.detail = "failed on " + strings.Join(failed, "; ")
		if len(scaled) > 0 {
			j.detail += "; scaled " + strings.Join(scaled, " ")
		}
		sc.log.Error("scaling instances failed; will retry", "attempt", j.attempts, "retry_in", j.next.Sub(now), "detail", j.detail)
	default:
		j.state, j.time, j.attempts = actSucceeded, now, 0
		j.detail = "scaled " + strings.Join(scaled, " ")
		if len(scaled) == 0 {
			j.detail = "no host's count changes"
		}
	}
	if j.note != "" {
		j.detail += "; " + j.note
	}
}

// retryDueLocked reports whether a failed instances job's retry is due.
func (ps *poolScaling) retryDueLocked(now time.Time) bool {
	j := ps.job
	return ps.act.instances && j != nil && j.actuator == "instances" && j.state == actFailed && !now.Before(j.next)
}

// retryDelay is the capped exponential backoff before attempt+1.
func (sc *Scaler) retryDelay(attempts int) time.Duration {
	return backoff.Policy{Initial: sc.retryBase, Max: sc.retryMax}.Step(attempts - 1)
}

// feedModel brings a pool's forecast model up to the last complete minute from the request
// rollups; the first call learns from the whole retained history.
func (sc *Scaler) feedModel(pool string, now time.Time) error {
	sc.mu.Lock()
	ps := sc.pools[pool]
	if ps == nil || !ps.policy.Predictive.Enabled {
		sc.mu.Unlock()
		return nil
	}
	model, pr := ps.model, ps.policy.Predictive
	sc.mu.Unlock()

	end := now.Truncate(time.Minute)
	from := now.Add(-sc.stats.Retention())
	if model != nil {
		from = model.Next()
		if !from.Before(end) {
			return nil
		}
	}
	byNode, err := sc.stats.Window(pool, from)
	if err != nil {
		return err
	}
	loads := make(map[int64]float64)
	for _, ws := range byNode {
		for _, w := range ws {
			v := float64(w.Requests)
			if pr.Metric == scaling.MetricTokens {
				v = float64(w.InputTokens + w.OutputTokens)
			}
			loads[w.Start.Unix()/60] += v / 60
		}
	}
	if model == nil {
		if len(loads) == 0 {
			return nil
		}
		model = scaling.NewModel(time.Unix(slices.Min(slices.Collect(maps.Keys(loads)))*60, 0), pr.Horizon)
	}
	for m := model.Next(); m.Before(end); m = model.Next() {
		model.Observe(loads[m.Unix()/60])
	}
	sc.mu.Lock()
	if ps := sc.pools[pool]; ps != nil && ps.policy.Predictive == pr {
		ps.model = model
	}
	sc.mu.Unlock()
	return nil
}

func forecastToProto(fc scaling.Forecast, floor scaling.Floor) *fleetv1.ScalingForecast {
	out := &fleetv1.ScalingForecast{Ready: fc.Ready, Status: fc.Status, Load: fc.Load, Floor: uint32(floor.Nodes)}
	if fc.HasMAPE {
		out.Mape = &fc.MAPE
	}
	return out
}

func decisionToProto(d scaling.Decision, ready int) *fleetv1.ScalingDecision {
	out := &fleetv1.ScalingDecision{
		Time: timestamppb.New(d.Time), Current: uint32(d.Current), Desired: uint32(d.Desired), Ready: uint32(ready),
		Recommended: uint32(d.Recommended), Limit: d.Limit, Victims: d.Victims, Reason: d.Reason,
	}
	if d.CooldownLeft > 0 {
		out.CooldownLeft = durationpb.New(d.CooldownLeft)
	}
	for _, p := range d.Proposals {
		out.Proposals = append(out.Proposals, &fleetv1.ScalingProposal{
			Source: p.Source, Observed: p.Observed, Target: p.Target, Nodes: uint32(p.Nodes), Note: p.Note,
		})
	}
	return out
}
