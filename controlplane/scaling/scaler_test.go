package scaling

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/commands"
	"github.com/dspyfleet/dspyfleet/controlplane/fleet"
	"github.com/dspyfleet/dspyfleet/controlplane/stats"
	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/internal/logtest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// scalerRig is a scaler on a real store, registry and command queue, with a settable clock.
type scalerRig struct {
	st   *store.Store
	sc   *Scaler
	reg  *fleet.Registry
	cmds *commands.Queue
	mu   sync.Mutex
	t    time.Time
}

// testNow is the fixed time the scaler tests start from.
var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func (r *scalerRig) now() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.t
}

func (r *scalerRig) advance(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.t = r.t.Add(d)
}

func newScalerRig(t *testing.T, hookDir string) *scalerRig {
	t.Helper()
	st, err := store.Open(t.TempDir(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	r := &scalerRig{t: testNow, st: st}
	r.reg = fleet.NewRegistry(r.now, fleet.Liveness{Grace: time.Second, DefaultInterval: time.Second}, 16)
	r.cmds = commands.NewQueue(r.now, st, time.Hour, 16)
	stats := stats.NewRequests(r.now, st, 24*time.Hour)
	r.sc, err = New(r.now, slog.New(slog.DiscardHandler), r.reg, stats, r.cmds, st, hookDir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *scalerRig) setPolicy(t *testing.T, pool string, pb *fleetv1.ScalingPolicy) {
	t.Helper()
	p, act, err := PolicyFromProto(pb, r.sc.HookDir)
	if err != nil {
		t.Fatal(err)
	}
	r.sc.SetPolicy(pool, PolicyToProto(p, act), p, act)
}

// addNode attaches a ready node of pool reporting rps requests/s and returns its session.
func (r *scalerRig) addNode(t *testing.T, id, pool string, rps float64) *fleet.Session {
	t.Helper()
	h := &fleetv1.Hello{NodeId: id, InstanceId: "i", Pool: pool, ReportInterval: durationpb.New(time.Second)}
	s, _, err := r.reg.Attach(h, "peer", func(error) {})
	if err != nil {
		t.Fatal(err)
	}
	rep := &fleetv1.MetricsReport{Seq: 1, Time: timestamppb.New(r.now()), App: &fleetv1.AppMetrics{RequestsPerSecond: rps}}
	if _, _, err := r.reg.ApplyReport(s, rep); err != nil {
		t.Fatal(err)
	}
	return s
}

func (r *scalerRig) job(pool string) hookJob {
	r.sc.mu.Lock()
	defer r.sc.mu.Unlock()
	if j := r.sc.pools[pool].job; j != nil {
		return *j
	}
	return hookJob{}
}

// finish ends a command as its agent would.
func (r *scalerRig) finish(t *testing.T, c *fleetv1.CommandRecord, state fleetv1.CommandState, detail string) {
	t.Helper()
	if _, err := r.cmds.Update(c.GetNodeId(), &fleetv1.CommandUpdate{Id: c.GetCommand().GetId(), State: state, Detail: detail}); err != nil {
		t.Fatal(err)
	}
}

// scaleCommands returns each node's latest scale command.
func (r *scalerRig) scaleCommands() map[string]*fleetv1.CommandRecord {
	out := map[string]*fleetv1.CommandRecord{}
	for _, c := range r.cmds.List(&fleetv1.ListCommandsRequest{}) {
		if c.GetCommand().GetKind() != fleetv1.CommandKind_COMMAND_KIND_SCALE {
			continue
		}
		if prev := out[c.GetNodeId()]; prev == nil || c.GetCommand().GetSeq() > prev.GetCommand().GetSeq() {
			out[c.GetNodeId()] = c
		}
	}
	return out
}

func (r *scalerRig) last(pool string) *fleetv1.ScalingDecision {
	r.sc.mu.Lock()
	defer r.sc.mu.Unlock()
	return r.sc.pools[pool].last
}

func executable(t *testing.T, dir, name, script string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestScalerWakeScalesAnEmptyPoolAtOnce: wake on an empty scale-to-zero pool makes Run tick at
// once (no reconcile tick here) and asks the hook for the wake size.
func TestScalerWakeScalesAnEmptyPoolAtOnce(t *testing.T) {
	dir := t.TempDir()
	r := newScalerRig(t, dir)
	hook := executable(t, dir, "ok.sh", "#!/bin/sh\nexit 0\n")
	r.setPolicy(t, "idle", &fleetv1.ScalingPolicy{Min: proto.Uint32(0), Max: 5, WakeSize: 2,
		Targets: []*fleetv1.ScalingTarget{{Metric: "requests_per_second_per_node", Value: 10}}, Actuator: &fleetv1.ScalingActuator{ExecHook: hook}})
	if err := r.sc.tick(r.now()); err != nil {
		t.Fatal(err)
	}
	if d := r.last("idle"); d.GetCurrent() != 0 || d.GetDesired() != 0 {
		t.Fatalf("idle empty pool: %v", d)
	}
	logged := make(chan slog.Record, 64)
	r.sc.log = slog.New(logtest.Handler{C: logged})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.sc.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	if _, ok := r.sc.Wake("idle"); !ok {
		t.Fatal("wake of a scaled pool says it has no policy")
	}
	if _, ok := r.sc.Wake("no-such-pool"); ok {
		t.Fatal("wake of an unscaled pool says it has a policy")
	}
	// Run logs the hook's outcome once it has recorded it in the job.
	timeout := time.After(10 * time.Second)
	for succeeded := false; !succeeded; {
		select {
		case rec := <-logged:
			succeeded = rec.Message == "scaling hook succeeded" && logtest.Attr(rec, "pool") == "idle"
		case <-timeout:
			t.Fatalf("no hook run within 10s of the wake: job %+v, decision %v", r.job("idle"), r.last("idle"))
		}
	}
	if j, d := r.job("idle"), r.last("idle"); j.state != actSucceeded || j.desired != 2 || d.GetDesired() != 2 || !strings.Contains(d.GetReason(), "wake proposes 2") {
		t.Fatalf("job %+v decision %v, want a wake to 2", j, d)
	}
	// The launched nodes count until they register: the next tick does not ask again.
	if err := r.sc.tick(r.now()); err != nil {
		t.Fatal(err)
	}
	if d := r.last("idle"); d.GetCurrent() != 2 || d.GetDesired() != 2 {
		t.Fatalf("after the launch: %v", d)
	}
}

// TestScalerHookFailureRetriesWithBackoff: a failing hook is surfaced in the status with its exit
// Status and output, and retried after a backoff until it succeeds.
func TestScalerHookFailureRetriesWithBackoff(t *testing.T) {
	dir := t.TempDir()
	r := newScalerRig(t, dir)
	r.sc.retryBase = 20 * time.Millisecond
	count := filepath.Join(t.TempDir(), "count")
	hook := executable(t, dir, "flaky.sh", fmt.Sprintf("#!/bin/sh\necho x >> %s\n[ $(wc -l < %s) -ge 3 ] && exit 0\necho cloud quota exceeded >&2\nexit 7\n", count, count))
	r.setPolicy(t, "web", &fleetv1.ScalingPolicy{Max: 5, Targets: []*fleetv1.ScalingTarget{{Metric: "requests_per_second_per_node", Value: 10}},
		Actuator: &fleetv1.ScalingActuator{ExecHook: hook}})
	r.addNode(t, "w1", "web", 30)
	if err := r.sc.tick(r.now()); err != nil {
		t.Fatal(err)
	}
	if d := r.last("web"); d.GetDesired() != 3 {
		t.Fatalf("decision %v, want 1 → 3", d)
	}
	ctx := context.Background()
	r.sc.runDueHooks(ctx)
	j := r.job("web")
	if j.state != actFailed || j.attempts != 1 || j.detail != "exit 7: cloud quota exceeded" || !j.next.Equal(r.now().Add(20*time.Millisecond)) {
		t.Fatalf("after one failure: %+v", j)
	}
	st, _ := r.sc.Status("web")
	if st.GetActuation().GetState() != actFailed || st.GetActuation().GetNextAttempt() == nil {
		t.Fatalf("status does not surface the failure: %v", st.GetActuation())
	}
	if wait := r.sc.runDueHooks(ctx); wait != 20*time.Millisecond || r.job("web").attempts != 1 {
		t.Fatalf("retried before the backoff: wait %s, job %+v", wait, r.job("web"))
	}
	r.advance(20 * time.Millisecond)
	r.sc.runDueHooks(ctx)
	if j := r.job("web"); j.attempts != 2 || !j.next.Equal(r.now().Add(40*time.Millisecond)) {
		t.Fatalf("second failure should double the backoff: %+v", j)
	}
	r.advance(40 * time.Millisecond)
	r.sc.runDueHooks(ctx)
	if j := r.job("web"); j.state != actSucceeded || j.attempts != 3 {
		t.Fatalf("third attempt: %+v", j)
	}
}

// TestScalerInstancesSpreadOverHosts: with the instances actuator, the desired instances are
// spread over the ready hosts within each one's maximum, by scale commands.
func TestScalerInstancesSpreadOverHosts(t *testing.T) {
	r := newScalerRig(t, "")
	r.setPolicy(t, "gpu", &fleetv1.ScalingPolicy{Min: proto.Uint32(1), Max: 20,
		Targets:  []*fleetv1.ScalingTarget{{Metric: "requests_per_second_per_node", Value: 10}},
		ScaleUp:  &fleetv1.ScalingBehavior{Unlimited: true},
		Actuator: &fleetv1.ScalingActuator{Instances: true, MaxInstancesPerNode: 3}})
	// Two hosts at one instance each carry 100 requests/s: 10 instances wanted, 6 fit.
	r.addNode(t, "g1", "gpu", 50)
	r.addNode(t, "g2", "gpu", 50)
	if err := r.sc.tick(r.now()); err != nil {
		t.Fatal(err)
	}
	if d := r.last("gpu"); d.GetCurrent() != 2 || d.GetDesired() != 10 {
		t.Fatalf("decision %v, want 2 → 10 instances", d)
	}
	cmds := r.cmds.List(&fleetv1.ListCommandsRequest{})
	got := map[string]string{}
	for _, c := range cmds {
		if c.GetCommand().GetKind() == fleetv1.CommandKind_COMMAND_KIND_SCALE {
			got[c.GetNodeId()] = c.GetCommand().GetParams()["instances"]
		}
	}
	if len(got) != 2 || got["g1"] != "3" || got["g2"] != "3" {
		t.Fatalf("scale commands %v, want 3 instances on each host", got)
	}
	if j := r.job("gpu"); j.state != actRunning || j.detail != "waiting for 2 of 2 scale commands; 4 instances have no room on the ready hosts" {
		t.Fatalf("actuation before the agents answered: %+v", j)
	}
	for _, c := range cmds {
		r.finish(t, c, fleetv1.CommandState_COMMAND_STATE_SUCCEEDED, "scaled from 1 to 3 instances")
	}
	if err := r.sc.tick(r.now()); err != nil {
		t.Fatal(err)
	}
	if j := r.job("gpu"); j.state != actSucceeded || j.detail != "scaled g1=3 g2=3; 4 instances have no room on the ready hosts" {
		t.Fatalf("actuation once both agents scaled: %+v", j)
	}
}

// TestScalerInstancesFailureIsShownAndRetried: a scale command an agent failed was shown as
// success and never retried. The job fails naming the host and the agent's reason, the host
// counts what its agent reports again, and the command is sent again after the backoff.
func TestScalerInstancesFailureIsShownAndRetried(t *testing.T) {
	r := newScalerRig(t, "")
	r.setPolicy(t, "gpu", &fleetv1.ScalingPolicy{Min: proto.Uint32(1), Max: 20,
		Targets:  []*fleetv1.ScalingTarget{{Metric: "requests_per_second_per_node", Value: 10}},
		ScaleUp:  &fleetv1.ScalingBehavior{Unlimited: true},
		Actuator: &fleetv1.ScalingActuator{Instances: true, MaxInstancesPerNode: 2}})
	r.addNode(t, "g1", "gpu", 50)
	r.addNode(t, "g2", "gpu", 50)
	if err := r.sc.tick(r.now()); err != nil {
		t.Fatal(err)
	}
	byNode := r.scaleCommands()
	if len(byNode) != 2 {
		t.Fatalf("scale commands %v", byNode)
	}
	r.finish(t, byNode["g1"], fleetv1.CommandState_COMMAND_STATE_SUCCEEDED, "scaled from 1 to 2 instances")
	r.finish(t, byNode["g2"], fleetv1.CommandState_COMMAND_STATE_FAILED, "instance 1 did not start: listen 127.0.0.1:8001: address already in use")
	if err := r.sc.tick(r.now()); err != nil {
		t.Fatal(err)
	}
	j := r.job("gpu")
	if j.state != actFailed || !strings.Contains(j.detail, "g2 (asked 2): failed: instance 1 did not start") || !strings.Contains(j.detail, "scaled g1=2") ||
		!j.next.Equal(r.now().Add(r.sc.retryBase)) {
		t.Fatalf("actuation after g2's agent failed: %+v", j)
	}
	if d := r.last("gpu"); d.GetCurrent() != 3 {
		t.Errorf("decision %v: g2 should count the 1 instance its agent runs, g1 its 2", d)
	}
	if err := r.sc.tick(r.now()); err != nil {
		t.Fatal(err)
	}
	if n := len(r.scaleCommands()); n != 2 {
		t.Fatalf("%d scale commands before the backoff passed, want the first 2 only", n)
	}
	r.advance(r.sc.retryBase)
	if err := r.sc.tick(r.now()); err != nil {
		t.Fatal(err)
	}
	retry := r.scaleCommands()["g2"]
	if retry.GetCommand().GetId() == byNode["g2"].GetCommand().GetId() || retry.GetCommand().GetParams()["instances"] != "2" {
		t.Fatalf("after the backoff, g2's command is %v; want a new one for 2 instances", retry.GetCommand())
	}
	if j := r.job("gpu"); j.state != actRunning || j.attempts != 2 || len(j.sent) != 1 {
		t.Fatalf("retry: %+v", j)
	}
}

// TestScalerPredictiveLearnsFromRollups: the forecast model learns the pool's per-minute load
// from the request rollups, and the status says it is off until it has enough history.
func TestScalerPredictiveLearnsFromRollups(t *testing.T) {
	r := newScalerRig(t, "")
	r.setPolicy(t, "web", &fleetv1.ScalingPolicy{Max: 10,
		Targets:    []*fleetv1.ScalingTarget{{Metric: "requests_per_second_per_node", Value: 10}},
		Predictive: &fleetv1.PredictiveScaling{Enabled: true}})
	for m := range 30 {
		at := r.now().Add(time.Duration(m) * time.Minute)
		rep := &fleetv1.MetricsReport{Time: timestamppb.New(at), App: &fleetv1.AppMetrics{Requests: 600}}
		if err := r.sc.stats.Add("web", "w1", rep); err != nil {
			t.Fatal(err)
		}
	}
	r.advance(30*time.Minute + 30*time.Second)
	if err := r.sc.tick(r.now()); err != nil {
		t.Fatal(err)
	}
	st, _ := r.sc.Status("web")
	r.sc.mu.Lock()
	minutes := r.sc.pools["web"].model.Minutes()
	r.sc.mu.Unlock()
	if minutes != 30 || st.GetForecast().GetReady() || st.GetForecast().GetStatus() != "off until enough history: 30 of 2880 minutes" {
		t.Fatalf("model minutes %d, forecast %v", minutes, st.GetForecast())
	}
	r.advance(2 * time.Minute)
	if err := r.sc.tick(r.now()); err != nil {
		t.Fatal(err)
	}
	r.sc.mu.Lock()
	minutes = r.sc.pools["web"].model.Minutes()
	r.sc.mu.Unlock()
	if minutes != 32 {
		t.Fatalf("model minutes %d after two more minutes, want 32", minutes)
	}
}

// everyTarget targets every metric the scaler observes, so a benchmarked tick computes them all.
func everyTarget() []*fleetv1.ScalingTarget {
	var out []*fleetv1.ScalingTarget
	for _, m := range []string{"cpu_percent", "memory_percent", "latency_p95_ms", "ttft_p95_ms", "error_rate",
		"in_flight_per_node", "requests_per_second_per_node", "tokens_per_second_per_node", "queue_length_per_node"} {
		v := 50.0
		if m == "error_rate" {
			v = 0.05
		}
		out = append(out, &fleetv1.ScalingTarget{Metric: m, Value: v})
	}
	return out
}

// BenchmarkScalerTick1000Nodes is one scaling tick of a pool of 1,000 reporting nodes: the
// registry snapshot, the metrics, the decision (every metric targeted) and its record.
func BenchmarkScalerTick1000Nodes(b *testing.B) {
	st, err := store.Open(b.TempDir(), time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := func() time.Time { return testNow }
	reg := fleet.NewRegistry(now, fleet.Liveness{Grace: time.Second, DefaultInterval: time.Second}, 16)
	cmds := commands.NewQueue(now, st, time.Hour, 16)
	sc, err := New(now, slog.New(slog.DiscardHandler), reg, stats.NewRequests(now, st, 24*time.Hour), cmds, st, "")
	if err != nil {
		b.Fatal(err)
	}
	pb := &fleetv1.ScalingPolicy{Max: 2000, Targets: everyTarget()}
	p, act, err := PolicyFromProto(pb, "")
	if err != nil {
		b.Fatal(err)
	}
	sc.SetPolicy("big", PolicyToProto(p, act), p, act)
	for i := range 1000 {
		h := &fleetv1.Hello{NodeId: fmt.Sprintf("n%04d", i), InstanceId: "i", Pool: "big", HourlyPrice: float64(i % 5), ReportInterval: durationpb.New(time.Second)}
		s, _, err := reg.Attach(h, "peer", func(error) {})
		if err != nil {
			b.Fatal(err)
		}
		rep := &fleetv1.MetricsReport{Seq: 1, Time: timestamppb.New(testNow), Window: durationpb.New(time.Second),
			Host: &fleetv1.HostMetrics{CpuPercent: 50, MemoryUsedPercent: 50},
			App: &fleetv1.AppMetrics{Requests: 50, RequestsPerSecond: 50, InFlight: 50, QueueLength: 50, LatencyP95Ms: 50, TtftP95Ms: 50,
				InputTokens: 25, OutputTokens: 25}}
		if _, _, err := reg.ApplyReport(s, rep); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := sc.tick(testNow); err != nil {
			b.Fatal(err)
		}
	}
	if d := sc.pools["big"].last; d.GetCurrent() != 1000 || d.GetReady() != 1000 {
		b.Fatalf("decision %v", d)
	}
}

// TestScalerWaitsForADisconnectedVictim: a victim that disconnects while draining may come back
// and finish, so the hook waits until it has drained or is down.
func TestScalerWaitsForADisconnectedVictim(t *testing.T) {
	dir := t.TempDir()
	r := newScalerRig(t, dir)
	hook := executable(t, dir, "ok.sh", "#!/bin/sh\nexit 0\n")
	r.setPolicy(t, "web", &fleetv1.ScalingPolicy{Max: 5,
		Rules: []*fleetv1.ScalingRule{{Name: "idle", Metric: "requests_per_second_per_node", Comparison: "<", Threshold: 1,
			Action: "scale_down", Amount: 1}},
		ScaleDown: &fleetv1.ScalingBehavior{StabilizationWindow: durationpb.New(0)},
		Actuator:  &fleetv1.ScalingActuator{ExecHook: hook}})
	victim := r.addNode(t, "w1", "web", 0) // on a tie in price, load and age, the lowest id goes
	other := r.addNode(t, "w2", "web", 0)
	if err := r.sc.tick(r.now()); err != nil {
		t.Fatal(err)
	}
	if j := r.job("web"); j.state != actWaitingDrain || len(j.victims) != 1 || j.victims[0] != "w1" {
		t.Fatalf("job %+v, want w1 draining", j)
	}
	r.reg.Detach(victim, "network blip")
	r.advance(time.Second)
	if err := r.sc.tick(r.now()); err != nil {
		t.Fatal(err)
	}
	if j := r.job("web"); j.state != actWaitingDrain {
		t.Fatalf("job %+v moved on while the victim was only disconnected", j)
	}
	r.advance(time.Minute)
	r.reg.Touch(other)
	r.reg.Sweep()
	if n, _ := r.reg.Get("w1"); n.GetState() != fleetv1.NodeState_NODE_STATE_DOWN {
		t.Fatalf("w1 is %s, want down", n.GetState())
	}
	if err := r.sc.tick(r.now()); err != nil {
		t.Fatal(err)
	}
	if j := r.job("web"); j.state != actPending || j.desired != 1 || j.victims[0] != "w1" {
		t.Fatalf("job %+v, want the hook removing w1 due once it is down", j)
	}
}

// TestRunHookTimeoutEndsItsProcessGroup: a hook past its timeout is killed with what it started,
// and the status says so with the output so far.
func TestRunHookTimeoutEndsItsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	// The hook's child writes "up" into a FIFO and keeps it open while it lives; it is the
	// hook's child, not ours, so the FIFO's end of file is how the test sees it exit.
	fifo := filepath.Join(dir, "child.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	child, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer child.Close()
	hook := executable(t, dir, "slow.sh", fmt.Sprintf("#!/bin/sh\necho starting $POOL\n(echo up; exec sleep 30) > '%s' &\nwait\n", fifo))
	start := time.Now()
	detail, err := runHook(context.Background(), hook, 300*time.Millisecond, "web", &hookJob{current: 1, desired: 2})
	if err == nil || !strings.HasPrefix(detail, "killed after 300ms: starting web") || time.Since(start) > 5*time.Second {
		t.Fatalf("runHook = %q, %v after %s", detail, err, time.Since(start))
	}
	if err := child.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(child)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		t.Fatalf("the hook's child outlived the timeout by 5s: it still holds the FIFO open (read %q)", got)
	case err != nil:
		t.Fatal(err)
	case string(got) != "up\n":
		t.Fatalf("the hook's child never started: read %q from the FIFO", got)
	}
}

func TestMergeJobs(t *testing.T) {
	waiting := &hookJob{current: 4, desired: 3, victims: []string{"a"}, state: actWaitingDrain}
	next := &hookJob{current: 3, desired: 2, victims: []string{"b"}, state: actWaitingDrain}
	if got := mergeJobs(waiting, next); got.current != 4 || got.desired != 2 || strings.Join(got.victims, ",") != "b,a" || got.state != actWaitingDrain {
		t.Fatalf("merged %+v, want 4 → 2 removing b and a once drained", got)
	}
	failed := &hookJob{current: 4, desired: 3, victims: []string{"a"}, state: actFailed, attempts: 3}
	up := &hookJob{current: 3, desired: 5, state: actPending}
	if got := mergeJobs(failed, up); got.current != 4 || got.desired != 5 || len(got.victims) != 1 || got.state != actWaitingDrain || got.attempts != 0 {
		t.Fatalf("merged %+v, want 4 → 5 still removing a", got)
	}
	for _, done := range []string{actSucceeded, actRunning} {
		next := &hookJob{current: 3, desired: 2, state: actPending}
		if got := mergeJobs(&hookJob{current: 9, victims: []string{"x"}, state: done}, next); got != next || got.current != 3 || len(got.victims) != 0 {
			t.Fatalf("a %s job was merged: %+v", done, got)
		}
	}
}

// TestScalerMemorySurvivesRestart: a scale-down waiting for its victim's drain, the rule timers
// and the rate history are stored, so a new scaler on the same store carries on.
func TestScalerMemorySurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	r := newScalerRig(t, dir)
	hook := executable(t, dir, "ok.sh", "#!/bin/sh\nexit 0\n")
	pb := &fleetv1.ScalingPolicy{Max: 5,
		Rules: []*fleetv1.ScalingRule{{Name: "idle", Metric: "requests_per_second_per_node", Comparison: "<", Threshold: 1,
			Action: "scale_down", Amount: 1}},
		ScaleDown: &fleetv1.ScalingBehavior{StabilizationWindow: durationpb.New(0)},
		Actuator:  &fleetv1.ScalingActuator{ExecHook: hook}}
	r.setPolicy(t, "web", pb)
	p, act, err := PolicyFromProto(pb, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := PutPolicy(r.st, "web", PolicyToProto(p, act)); err != nil {
		t.Fatal(err)
	}
	r.addNode(t, "w1", "web", 0)
	r.addNode(t, "w2", "web", 0)
	if err := r.sc.tick(r.now()); err != nil {
		t.Fatal(err)
	}
	before := r.job("web")
	if before.state != actWaitingDrain {
		t.Fatalf("job %+v", before)
	}
	sc2, err := New(r.now, slog.New(slog.DiscardHandler), r.reg, r.sc.stats, r.cmds, r.st, dir)
	if err != nil {
		t.Fatal(err)
	}
	ps := sc2.pools["web"]
	if j := ps.job; j == nil || j.state != actWaitingDrain || j.current != 2 || j.desired != 1 || j.victims[0] != "w1" {
		t.Fatalf("restored job %+v, want the 2 → 1 removing w1", j)
	}
	if len(ps.state.Actions) != 1 || ps.state.Rules["idle"].Fired.IsZero() || !ps.started {
		t.Fatalf("restored state %+v", ps.state)
	}
	// At shutdown the history goes too.
	if err := r.sc.saveMemory(); err != nil {
		t.Fatal(err)
	}
	sc3, err := New(r.now, slog.New(slog.DiscardHandler), r.reg, r.sc.stats, r.cmds, r.st, dir)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(sc3.pools["web"].state.Recommendations); n == 0 {
		t.Fatal("the recommendation history was not stored at shutdown")
	}
}
