package maintenance

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/commands"
	"github.com/dspyfleet/dspyfleet/controlplane/fleet"
	"github.com/dspyfleet/dspyfleet/controlplane/router"
	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/pkg/command"
	"github.com/dspyfleet/dspyfleet/pkg/maintenance"
	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Node roles in a deployment.
const (
	roleRolling  = "rolling"
	roleCanary   = "canary"
	roleBaseline = "baseline"
	roleGreen    = "green" // the idle set that gets the version
	roleBlue     = "blue"  // the live set that keeps the old one
)

// Node phases. A node moves pending → holding (out of routing, clients move off it) →
// draining → deploying → undraining → done; green nodes stop at ready (deployed, undrained,
// still out of routing) until the switch.
const (
	phasePending    = "pending"
	phaseHolding    = "holding"
	phaseDraining   = "draining"
	phaseDeploying  = "deploying"
	phaseUndraining = "undraining"
	phaseDone       = "done"
	phaseReady      = "ready"
	phaseFailed     = "failed"
	phaseLive       = "live"     // a blue node serving until the switch
	phaseKept       = "kept"     // a blue node out of routing after the switch, undrained
	phaseRetiring   = "retiring" // being drained at the end
	phaseRetired    = "retired"
	phaseAborted    = "aborted"
	phaseRolledBack = "rolled_back"
)

// Deployment phases.
const (
	depRolling     = "rolling"
	depCanary      = "deploying canary"
	depAnalysis    = "analysing canary"
	depPromoting   = "promoting"
	depRollingBack = "rolling back"
	depPreparing   = "deploying idle set"
	depSwitched    = "switched"
	depSwitchBack  = "switched back"
	depRetiring    = "retiring old set"
	depAborting    = "aborting"
	depDone        = "done"
)

// Deployer runs deployments. The maintenance step of the reconcile loop advances every
// running one; every change is written to bbolt before the next tick, so a restarted control
// plane goes on where the last one stopped.
type Deployer struct {
	executor

	runSet[*fleetv1.Deployment, *deployRun]
}

// deployRun is one deployment and what the executor keeps of it in memory.
type deployRun struct {
	key  []byte
	d    *fleetv1.Deployment
	spec maintenance.DeploySpec
	// The canary step's figures, sampled from the agents' reports since the step began. Not
	// persisted: after a restart the step's window starts again.
	seen             map[string]uint64
	canary, baseline reqstats.Window
	sampled          bool
}

func (r *deployRun) record() *fleetv1.Deployment { return r.d }
func (r *deployRun) pool() string                { return r.d.GetSpec().GetPool() }
func (r *deployRun) storeKey() []byte            { return r.key }

// NewDeployer loads the stored deployments; Reconcile carries on those still in progress.
func NewDeployer(st *store.Store, reg *fleet.Registry, cmds *commands.Queue, rt *router.Router, now func() time.Time, log *slog.Logger, drainGrace time.Duration) (*Deployer, error) {
	dp := &Deployer{executor: executor{st, reg, cmds, rt, now, log, drainGrace}}
	dp.init("deployment", "fleetctl deploy status")
	err := st.View(func(tx *store.Tx) error {
		return tx.Bucket(store.Deployments).ForEach(func(k, v []byte) error {
			d := &fleetv1.Deployment{}
			if err := proto.Unmarshal(v, d); err != nil {
				return fmt.Errorf("%w: deployment %x: %v", store.ErrCorruptStore, k, err)
			}
			run := &deployRun{key: slices.Clone(k), d: d, spec: specFromProto(d.GetSpec())}
			run.spec.Defaults()
			run.resetSample()
			if d.GetPhase() == depAnalysis {
				d.PhaseSince = timestamppb.New(now()) // the sampled figures died with the last process
			}
			dp.runs[d.GetId()] = run
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	for _, run := range dp.runs {
		if Active(run.d) {
			rt.SetOverrides(run.d.GetId(), dp.overrides(run))
		}
	}
	return dp, nil
}

// Active reports whether a deployment has not finished.
func Active(d *fleetv1.Deployment) bool { return d.GetFinished() == nil }

// specFromProto converts the API's spec to the decision package's.
func specFromProto(p *fleetv1.DeploymentSpec) maintenance.DeploySpec {
	s := maintenance.DeploySpec{
		Pool: p.GetPool(), Version: p.GetVersion(), BatchSize: int(p.GetBatchSize()), MaxUnavailable: int(p.GetMaxUnavailable()),
		CanaryNodes: int(p.GetCanaryNodes()), CanaryPercent: slices.Clone(p.GetCanaryPercent()),
		AnalysisWindow: p.GetAnalysisWindow().AsDuration(), MaxErrorRateIncrease: p.GetMaxErrorRateIncrease(),
		MaxP95Ratio: p.GetMaxP95Ratio(), MinRequests: int(p.GetMinRequests()), IdleNodes: slices.Clone(p.GetIdleNodes()),
		KeepOld: p.GetKeepOld().AsDuration(), DrainTimeout: p.GetDrainTimeout().AsDuration(),
		ErrorRateSet: p.MaxErrorRateIncrease != nil, P95RatioSet: p.MaxP95Ratio != nil, MinRequestsSet: p.MinRequests != nil,
	}
	switch p.GetStrategy() {
	case fleetv1.DeploymentStrategy_DEPLOYMENT_STRATEGY_ROLLING:
		s.Strategy = maintenance.Rolling
	case fleetv1.DeploymentStrategy_DEPLOYMENT_STRATEGY_CANARY:
		s.Strategy = maintenance.Canary
	case fleetv1.DeploymentStrategy_DEPLOYMENT_STRATEGY_BLUE_GREEN:
		s.Strategy = maintenance.BlueGreen
	}
	return s
}

// fillSpec writes the defaults back into the stored spec, so GetDeployment shows them.
func fillSpec(p *fleetv1.DeploymentSpec, s maintenance.DeploySpec) {
	batch := uint32(s.BatchSize)
	p.BatchSize, p.MaxUnavailable, p.CanaryNodes = &batch, uint32(s.MaxUnavailable), uint32(s.CanaryNodes)
	p.AnalysisWindow, p.KeepOld, p.DrainTimeout = durationpb.New(s.AnalysisWindow), durationpb.New(s.KeepOld), durationpb.New(s.DrainTimeout)
	p.MaxErrorRateIncrease, p.MaxP95Ratio = &s.MaxErrorRateIncrease, &s.MaxP95Ratio
	mr := uint32(s.MinRequests)
	p.MinRequests = &mr
}

// Start validates and stores a new deployment.
func (dp *Deployer) Start(spec *fleetv1.DeploymentSpec, requestedBy string) (*fleetv1.Deployment, error) {
	if spec == nil {
		return nil, check.Invalidf("spec: is missing")
	}
	if spec.GetPool() != "" && !check.ValidID(spec.GetPool()) {
		return nil, check.Invalidf("spec.pool: %q is not a valid pool name", check.Truncate(spec.GetPool()))
	}
	if spec.GetVersion() != "" {
		if err := command.ValidVersion(spec.GetVersion()); err != nil {
			return nil, check.Invalidf("spec.version: %v", err)
		}
	}
	for _, d := range []*durationpb.Duration{spec.GetAnalysisWindow(), spec.GetKeepOld(), spec.GetDrainTimeout()} {
		if d != nil && !d.IsValid() {
			return nil, check.Invalidf("spec: duration %v is not valid", d)
		}
	}
	if spec.BatchSize != nil && spec.GetBatchSize() < 1 {
		return nil, check.Invalidf("spec.batch_size: %d must be at least 1 (unset means 1)", spec.GetBatchSize())
	}
	if len(spec.GetReason()) > MaxReasonLen {
		return nil, check.Invalidf("spec.reason: %d bytes, at most %d", len(spec.GetReason()), MaxReasonLen)
	}
	if spec.GetPreviousVersion() != "" {
		if err := command.ValidVersion(spec.GetPreviousVersion()); err != nil {
			return nil, check.Invalidf("spec.previous_version: %v", err)
		}
	}
	s := specFromProto(spec)
	if spec.GetStrategy() == fleetv1.DeploymentStrategy_DEPLOYMENT_STRATEGY_UNSPECIFIED {
		s.Strategy = ""
	}
	s.Defaults()
	members := dp.reg.List(&fleetv1.ListNodesRequest{Pool: spec.GetPool()})
	var ids []string
	for _, n := range members {
		ids = append(ids, n.GetId())
	}
	if err := s.Validate(ids); err != nil {
		return nil, fmt.Errorf("%w: %v", check.ErrInvalidArgument, err)
	}
	spec = proto.Clone(spec).(*fleetv1.DeploymentSpec)
	fillSpec(spec, s)
	now := dp.now()
	key := commands.NewKey(now)
	d := &fleetv1.Deployment{Id: hex.EncodeToString(key), Spec: spec, State: fleetv1.DeploymentState_DEPLOYMENT_STATE_RUNNING,
		Created: timestamppb.New(now), Updated: timestamppb.New(now), PhaseSince: timestamppb.New(now), RequestedBy: requestedBy}
	d.Phase, d.Nodes = plan(s, members)

	dp.mu.Lock()
	defer dp.mu.Unlock()
	for _, r := range dp.runs {
		if Active(r.d) && r.d.GetSpec().GetPool() == s.Pool {
			return nil, fmt.Errorf("%w: pool %q already has deployment %s in progress (%s); wait for it, or abort it with fleetctl deploy abort %s",
				check.ErrFailedPrecondition, s.Pool, r.d.GetId(), r.d.GetPhase(), r.d.GetId())
		}
	}
	run := &deployRun{key: key, d: d, spec: s}
	run.resetSample()
	if err := dp.persist(run); err != nil {
		return nil, err
	}
	dp.runs[d.GetId()] = run
	dp.log.Info("deployment started", "id", d.GetId(), "pool", s.Pool, "version", s.Version, "strategy", s.Strategy, "nodes", len(d.GetNodes()))
	return proto.Clone(d).(*fleetv1.Deployment), nil
}

// plan gives each node of the pool its role and the deployment its first phase.
func plan(s maintenance.DeploySpec, members []*fleetv1.Node) (string, []*fleetv1.DeploymentNode) {
	var nodes []*fleetv1.DeploymentNode
	add := func(id, role, phase string) {
		nodes = append(nodes, &fleetv1.DeploymentNode{NodeId: id, Role: role, Phase: phase})
	}
	switch s.Strategy {
	case maintenance.Canary:
		// The canaries are the first ready nodes by id, so a broken node is not judged.
		var canaries []string
		for _, n := range members {
			if len(canaries) < s.CanaryNodes && n.GetState() == fleetv1.NodeState_NODE_STATE_READY {
				canaries = append(canaries, n.GetId())
			}
		}
		for _, n := range members {
			if len(canaries) < s.CanaryNodes && !slices.Contains(canaries, n.GetId()) {
				canaries = append(canaries, n.GetId())
			}
		}
		for _, n := range members {
			if slices.Contains(canaries, n.GetId()) {
				add(n.GetId(), roleCanary, phasePending)
			} else {
				add(n.GetId(), roleBaseline, phasePending)
			}
		}
		return depCanary, nodes
	case maintenance.BlueGreen:
		idle := s.IdleNodes
		if len(idle) == 0 {
			for _, n := range members {
				if n.GetState() == fleetv1.NodeState_NODE_STATE_DRAINED {
					idle = append(idle, n.GetId())
				}
			}
		}
		for _, n := range members {
			if slices.Contains(idle, n.GetId()) {
				add(n.GetId(), roleGreen, phasePending)
			} else {
				add(n.GetId(), roleBlue, phaseLive)
			}
		}
		return depPreparing, nodes
	}
	for _, n := range members {
		add(n.GetId(), roleRolling, phasePending)
	}
	return depRolling, nodes
}

// persist writes a run's deployment.
func (dp *Deployer) persist(run *deployRun) error {
	raw, err := proto.Marshal(run.d)
	if err != nil {
		return err
	}
	if err := dp.store.Update(func(tx *store.Tx) error {
		return tx.Bucket(store.Deployments).Put(run.key, raw)
	}); err != nil {
		return fmt.Errorf("store deployment %s: %w", run.d.GetId(), err)
	}
	return nil
}

// Busy reports whether a deployment in progress covers pool (and node, when given), with a
// reason naming it. Self-healing and scaling ask it, so they leave such nodes alone.
func (dp *Deployer) Busy(pool, node string) (bool, string) {
	dp.mu.Lock()
	defer dp.mu.Unlock()
	for _, r := range dp.runs {
		if !Active(r.d) || r.d.GetSpec().GetPool() != pool {
			continue
		}
		if node == "" {
			return true, fmt.Sprintf("deployment %s of %s is %s", r.d.GetId(), r.d.GetSpec().GetVersion(), r.d.GetPhase())
		}
		for _, n := range r.d.GetNodes() {
			if n.GetNodeId() == node && inFlightPhase(n.GetPhase()) {
				return true, fmt.Sprintf("deployment %s: node %s is %s", r.d.GetId(), node, n.GetPhase())
			}
		}
	}
	return false, ""
}

// inFlightPhase reports whether a node in phase is out of routing because of the deployment.
func inFlightPhase(p string) bool {
	switch p {
	case phaseHolding, phaseDraining, phaseDeploying, phaseUndraining, phaseReady, phaseKept, phaseRetiring:
		return true
	}
	return false
}
