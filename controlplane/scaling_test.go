package controlplane_test

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// fakeAgent is a simulated agent: it reports its request rate every 100 ms and carries out drain
// commands after drainDelay, remembering when each drain finished.
type fakeAgent struct {
	id         string
	rps        atomic.Uint64 // math.Float64bits
	drainDelay time.Duration

	mu        sync.Mutex
	drainedAt time.Time
}

func (a *fakeAgent) setRPS(v float64) { a.rps.Store(math.Float64bits(v)) }

func (a *fakeAgent) drained() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.drainedAt
}

// startFakeAgent connects a simulated agent of pool; it stops when the test ends.
func startFakeAgent(t *testing.T, cp *fleettest.ControlPlane, id, pool string, price, rps float64) *fakeAgent {
	t.Helper()
	a := &fakeAgent{id: id, drainDelay: 300 * time.Millisecond}
	a.setRPS(rps)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := fleetv1.NewAgentServiceClient(fleettest.Dial(t, cp.GRPCAddr())).Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(&fleetv1.ConnectRequest{Msg: &fleetv1.ConnectRequest_Hello{Hello: &fleetv1.Hello{
		NodeId: id, InstanceId: id + "-1", Pool: pool, HourlyPrice: price, ReportInterval: durationpb.New(100 * time.Millisecond),
	}}})
	if m, rerr := s.Recv(); err != nil || rerr != nil || m.GetWelcome() == nil {
		t.Fatalf("connect %s: %v %v %v", id, err, rerr, m)
	}
	updates := make(chan *fleetv1.CommandUpdate, 16)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // the one sender
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for seq := uint64(1); ; {
			var m *fleetv1.ConnectRequest
			select {
			case <-ctx.Done():
				return
			case u := <-updates:
				m = &fleetv1.ConnectRequest{Msg: &fleetv1.ConnectRequest_CommandUpdate{CommandUpdate: u}}
			case <-tick.C:
				rps := math.Float64frombits(a.rps.Load())
				m = &fleetv1.ConnectRequest{Msg: &fleetv1.ConnectRequest_Report{Report: &fleetv1.MetricsReport{
					Seq: seq, Time: timestamppb.Now(), Window: durationpb.New(100 * time.Millisecond),
					Host: &fleetv1.HostMetrics{CpuPercent: 20},
					App:  &fleetv1.AppMetrics{RequestsPerSecond: rps, InFlight: uint32(rps / 10)},
				}}}
				seq++
			}
			if s.Send(m) != nil {
				return
			}
		}
	}()
	go func() { // the one receiver, answering drains
		defer wg.Done()
		for {
			m, err := s.Recv()
			if err != nil {
				return
			}
			c := m.GetCommand()
			if c == nil {
				continue
			}
			state := func(st fleetv1.CommandState) *fleetv1.CommandUpdate {
				return &fleetv1.CommandUpdate{Id: c.GetId(), State: st, Time: timestamppb.Now(), Detail: "fake agent"}
			}
			select {
			case updates <- state(fleetv1.CommandState_COMMAND_STATE_RUNNING):
			case <-ctx.Done():
				return
			}
			if c.GetKind() == fleetv1.CommandKind_COMMAND_KIND_DRAIN {
				select {
				case <-time.After(a.drainDelay):
				case <-ctx.Done():
					return
				}
				a.mu.Lock()
				a.drainedAt = time.Now()
				a.mu.Unlock()
			}
			select {
			case updates <- state(fleetv1.CommandState_COMMAND_STATE_SUCCEEDED):
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return a
}

// hookCall is one run of the exec hook, as the hook script logged it.
type hookCall struct {
	at               time.Time
	pool, victims    string
	current, desired int
}

// writeHook writes an executable hook into dir that appends its time and environment to log.
func writeHook(t *testing.T, dir, log string) string {
	t.Helper()
	path := filepath.Join(dir, "scale.sh")
	script := fmt.Sprintf("#!/bin/sh\necho \"$(date +%%s%%N) $POOL $CURRENT $DESIRED ${VICTIMS:--}\" >> %s\necho scaled $POOL to $DESIRED\n", log)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// hookCalls reads the hook's log.
func hookCalls(t *testing.T, log string) []hookCall {
	t.Helper()
	data, err := os.ReadFile(log)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var calls []hookCall
	// Only whole lines: the hook may be writing the last one.
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if !strings.HasSuffix(line, "\n") {
			break
		}
		f := strings.Fields(line)
		if len(f) != 5 {
			t.Fatalf("hook log line %q", line)
		}
		ns, _ := strconv.ParseInt(f[0], 10, 64)
		cur, _ := strconv.Atoi(f[2])
		des, _ := strconv.Atoi(f[3])
		calls = append(calls, hookCall{at: time.Unix(0, ns), pool: f[1], current: cur, desired: des, victims: f[4]})
	}
	return calls
}

func scalingClient(t *testing.T, cp *fleettest.ControlPlane) fleetv1.ScalingServiceClient {
	return fleetv1.NewScalingServiceClient(fleettest.Dial(t, cp.GRPCAddr()))
}

// TestScalingSpikeCallsHookAfterForDuration: a load spike fires the rule once it has held for
// its for-duration, and the exec hook runs with a higher DESIRED within about one tick.
func TestScalingSpikeCallsHookAfterForDuration(t *testing.T) {
	cfg := fleettest.FastConfig(t)
	cfg.ScalingHookDir = t.TempDir()
	log := filepath.Join(t.TempDir(), "hook.log")
	hook := writeHook(t, cfg.ScalingHookDir, log)
	cp := fleettest.StartControlPlane(t, cfg)
	sc := scalingClient(t, cp)
	a := startFakeAgent(t, cp, "web-1", "web", 1, 5)
	const forDuration = 600 * time.Millisecond
	_, err := sc.SetPolicy(context.Background(), &fleetv1.ScalingServiceSetPolicyRequest{Pool: "web", Policy: &fleetv1.ScalingPolicy{
		Min: proto.Uint32(1), Max: 5,
		Rules: []*fleetv1.ScalingRule{{Name: "spike", Metric: "requests_per_second_per_node", Comparison: ">", Threshold: 50,
			ForDuration: durationpb.New(forDuration), Action: "scale_up", Amount: 2}},
		Actuator: &fleetv1.ScalingActuator{ExecHook: hook},
	}})
	if err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 5*time.Second, "a first decision", func() bool {
		st, err := sc.GetStatus(context.Background(), &fleetv1.ScalingServiceGetStatusRequest{Pool: "web"})
		return err == nil && st.GetDecision().GetCurrent() == 1
	})
	spike := time.Now()
	a.setRPS(200)
	fleettest.Eventually(t, 5*time.Second, "the hook to run", func() bool { return len(hookCalls(t, log)) > 0 })
	call := hookCalls(t, log)[0]
	if call.pool != "web" || call.current != 1 || call.desired != 3 || call.victims != "-" {
		t.Fatalf("hook call %+v, want web 1 → 3 without victims", call)
	}
	// The rule needs the spike reported (one 100 ms report) and held for its duration; then one
	// 50 ms tick decides and the hook starts (pkg/scaling's TestRules pins that tick with an
	// injected clock). The bound here leaves room for a busy machine.
	took := call.at.Sub(spike)
	if took < forDuration || took > forDuration+3*time.Second {
		t.Fatalf("hook ran %s after the spike began; want after the %s for-duration and within about a tick", took, forDuration)
	}
	t.Logf("hook ran %s after the spike began (for-duration %s, tick 50ms)", took, forDuration)

	fleettest.Eventually(t, 5*time.Second, "the actuation to succeed", func() bool {
		st, err := sc.GetStatus(context.Background(), &fleetv1.ScalingServiceGetStatusRequest{Pool: "web"})
		act := st.GetActuation()
		return err == nil && act.GetState() == "succeeded" && strings.Contains(act.GetDetail(), "exit 0: scaled web to 3")
	})
	ds, err := sc.ListDecisions(context.Background(), &fleetv1.ScalingServiceListDecisionsRequest{Pool: "web"})
	if err != nil || len(ds.GetDecisions()) == 0 {
		t.Fatalf("ListDecisions: %v %v", ds, err)
	}
	found := false
	for _, d := range ds.GetDecisions() {
		if d.GetDesired() == 3 && d.GetCurrent() == 1 && strings.Contains(d.GetReason(), "rule:spike proposes 3") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no recorded decision 1 → 3 with its reason in %v", ds.GetDecisions())
	}

	resp, err := http.Get("http://" + cp.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`dspyfleet_scaling_hook_runs_total{pool="web",result="succeeded"} 1`,
		`dspyfleet_scaling_size{kind="desired",pool="web"} 3`,
		`dspyfleet_scaling_size{kind="ready",pool="web"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestScalingDownDrainsVictimBeforeHook: the most expensive node is drained, and the hook that
// removes it runs only after its agent finished the drain.
func TestScalingDownDrainsVictimBeforeHook(t *testing.T) {
	cfg := fleettest.FastConfig(t)
	cfg.ScalingHookDir = t.TempDir()
	log := filepath.Join(t.TempDir(), "hook.log")
	hook := writeHook(t, cfg.ScalingHookDir, log)
	cp := fleettest.StartControlPlane(t, cfg)
	cheap := startFakeAgent(t, cp, "batch-1", "batch", 1, 0)
	dear := startFakeAgent(t, cp, "batch-2", "batch", 3, 0)
	_, err := scalingClient(t, cp).SetPolicy(context.Background(), &fleetv1.ScalingServiceSetPolicyRequest{Pool: "batch", Policy: &fleetv1.ScalingPolicy{
		Min: proto.Uint32(1), Max: 4,
		Rules: []*fleetv1.ScalingRule{{Name: "idle", Metric: "requests_per_second_per_node", Comparison: "<", Threshold: 1,
			ForDuration: durationpb.New(200 * time.Millisecond), Action: "scale_down", Amount: 1}},
		ScaleDown: &fleetv1.ScalingBehavior{StabilizationWindow: durationpb.New(0)},
		Actuator:  &fleetv1.ScalingActuator{ExecHook: hook},
	}})
	if err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 10*time.Second, "the scale-down hook", func() bool { return len(hookCalls(t, log)) > 0 })
	call := hookCalls(t, log)[0]
	if call.current != 2 || call.desired != 1 || call.victims != "batch-2" {
		t.Fatalf("hook call %+v, want 2 → 1 removing batch-2", call)
	}
	drained := dear.drained()
	if drained.IsZero() || call.at.Before(drained) {
		t.Fatalf("the hook ran at %s, before the victim finished draining (%s)", call.at.Format(time.StampMicro), drained.Format(time.StampMicro))
	}
	if !cheap.drained().IsZero() {
		t.Fatal("the cheaper node was drained too")
	}
	if n := fleettest.Node(t, cp.Fleet(t), "batch-2"); n.GetState() != fleetv1.NodeState_NODE_STATE_DRAINED {
		t.Fatalf("victim state %s, want drained", n.GetState())
	}
}

func TestScalingSetPolicyValidation(t *testing.T) {
	cfg := fleettest.FastConfig(t)
	cfg.ScalingHookDir = t.TempDir()
	notExec := filepath.Join(cfg.ScalingHookDir, "plain.sh")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "outside.sh")
	if err := os.WriteFile(outside, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cp := fleettest.StartControlPlane(t, cfg)
	sc := scalingClient(t, cp)
	tests := []struct {
		name string
		pool string
		p    *fleetv1.ScalingPolicy
		want string
	}{
		{"min above max", "p", &fleetv1.ScalingPolicy{Min: proto.Uint32(5), Max: 3}, "policy.min: 5 is greater than max 3"},
		{"negative target", "p", &fleetv1.ScalingPolicy{Max: 3, Targets: []*fleetv1.ScalingTarget{{Metric: "cpu_percent", Value: -1}}}, "policy.targets[0].value"},
		{"unknown metric", "p", &fleetv1.ScalingPolicy{Max: 3, Targets: []*fleetv1.ScalingTarget{{Metric: "gpu", Value: 1}}}, "policy.targets[0].metric"},
		{"negative window", "p", &fleetv1.ScalingPolicy{Max: 3, ScaleDown: &fleetv1.ScalingBehavior{StabilizationWindow: durationpb.New(-time.Second)}}, "policy.scale_down.stabilization_window"},
		{"negative cooldown", "p", &fleetv1.ScalingPolicy{Max: 3, ScaleUp: &fleetv1.ScalingBehavior{Cooldown: durationpb.New(-time.Second)}}, "policy.scale_up.cooldown"},
		{"rule for", "p", &fleetv1.ScalingPolicy{Max: 3, Rules: []*fleetv1.ScalingRule{{Name: "r", Metric: "cpu_percent", Comparison: ">", Threshold: 1, Action: "scale_up", Amount: 1, ForDuration: durationpb.New(-time.Second)}}}, "policy.rules[0].for_duration"},
		{"hook not executable", "p", &fleetv1.ScalingPolicy{Max: 3, Actuator: &fleetv1.ScalingActuator{ExecHook: notExec}}, "policy.actuator.exec_hook: " + notExec + " is not an executable file"},
		{"hook missing", "p", &fleetv1.ScalingPolicy{Max: 3, Actuator: &fleetv1.ScalingActuator{ExecHook: "nope.sh"}}, "policy.actuator.exec_hook: nope.sh"},
		{"hook outside the directory", "p", &fleetv1.ScalingPolicy{Max: 3, Actuator: &fleetv1.ScalingActuator{ExecHook: outside}}, "is outside --scaling-hook-dir"},
		{"no policy", "p", nil, "policy: is missing"},
		{"bad pool", "bad pool", &fleetv1.ScalingPolicy{Max: 3}, "pool: \"bad pool\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sc.SetPolicy(context.Background(), &fleetv1.ScalingServiceSetPolicyRequest{Pool: tt.pool, Policy: tt.p})
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), tt.want) {
				t.Fatalf("SetPolicy = %v, want InvalidArgument naming %q", err, tt.want)
			}
		})
	}
	if _, err := sc.GetPolicy(context.Background(), &fleetv1.ScalingServiceGetPolicyRequest{Pool: "p"}); status.Code(err) != codes.NotFound {
		t.Fatalf("after only bad SetPolicy calls, GetPolicy = %v, want NotFound (nothing stored)", err)
	}
	if _, err := sc.GetStatus(context.Background(), &fleetv1.ScalingServiceGetStatusRequest{Pool: "p"}); status.Code(err) != codes.NotFound {
		t.Fatalf("GetStatus = %v, want NotFound", err)
	}
	if _, err := sc.ListDecisions(context.Background(), &fleetv1.ScalingServiceListDecisionsRequest{Pool: "p", Limit: 5000}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("ListDecisions limit 5000 = %v, want InvalidArgument", err)
	}
}

func TestScalingPolicyDefaultsAndRestart(t *testing.T) {
	cfg := fleettest.FastConfig(t)
	cp := fleettest.StartControlPlane(t, cfg)
	resp, err := scalingClient(t, cp).SetPolicy(context.Background(), &fleetv1.ScalingServiceSetPolicyRequest{Pool: "gpu", Policy: &fleetv1.ScalingPolicy{
		Max: 8, Targets: []*fleetv1.ScalingTarget{{Metric: "in_flight_per_node", Value: 4}},
		ScaleUp: &fleetv1.ScalingBehavior{Cooldown: durationpb.New(time.Minute)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	p := resp.GetPolicy()
	switch {
	case p.GetMin() != 1 || p.GetTolerance() != 0.1 || p.GetWakeSize() != 1:
		t.Fatalf("defaults not filled: %v", p)
	case p.GetScaleDown().GetStabilizationWindow().AsDuration() != 5*time.Minute || len(p.GetScaleDown().GetPolicies()) != 1:
		t.Fatalf("scale_down defaults: %v", p.GetScaleDown())
	case p.GetScaleUp().GetCooldown().AsDuration() != time.Minute || len(p.GetScaleUp().GetPolicies()) != 2:
		t.Fatalf("scale_up: %v", p.GetScaleUp())
	case p.GetPredictive().GetHorizon().AsDuration() != time.Hour || p.GetActuator().GetHookTimeout().AsDuration() != 5*time.Minute:
		t.Fatalf("predictive/actuator defaults: %v", p)
	}
	fleettest.Eventually(t, 5*time.Second, "a status", func() bool {
		st, err := scalingClient(t, cp).GetStatus(context.Background(), &fleetv1.ScalingServiceGetStatusRequest{Pool: "gpu"})
		return err == nil && st.GetDecision() != nil && st.GetForecast().GetStatus() == "predictive scaling is off"
	})
	cp.Stop(t)

	cp2 := fleettest.StartControlPlane(t, cfg)
	got, err := scalingClient(t, cp2).GetPolicy(context.Background(), &fleetv1.ScalingServiceGetPolicyRequest{Pool: "gpu"})
	if err != nil || got.GetPolicy().GetMax() != 8 || got.GetPolicy().GetTargets()[0].GetMetric() != "in_flight_per_node" {
		t.Fatalf("after a restart: %v %v", got, err)
	}
}
