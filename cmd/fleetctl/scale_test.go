package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// startAgent runs a real agent of pool until the test ends.
func startAgent(t *testing.T, cp *fleettest.ControlPlane, id, pool string, price float64) *agent.Agent {
	t.Helper()
	cfg := agent.DefaultConfig()
	cfg.Server = cp.GRPCAddr()
	cfg.NodeID, cfg.Pool, cfg.HourlyPrice = id, pool, price
	cfg.Interval = 100 * time.Millisecond
	cfg.StateDir = t.TempDir()
	cfg.Logger = fleettest.Logger(t)
	return runAgent(t, cfg)
}

// runAgent runs a real agent of cfg until the test ends.
func runAgent(t *testing.T, cfg agent.Config) *agent.Agent {
	t.Helper()
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent %s: %v", cfg.NodeID, err)
		}
	})
	return a
}

// hookLine is one run of the test's exec hook.
type hookLine struct {
	at               time.Time
	current, desired int
	victims          string
}

func readHookLog(t *testing.T, path string) []hookLine {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []hookLine
	// Only whole lines: the hook may be writing the last one.
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if !strings.HasSuffix(line, "\n") {
			break
		}
		f := strings.Fields(line)
		if len(f) != 5 || f[1] != "web" {
			t.Fatalf("hook log line %q", line)
		}
		ns, _ := strconv.ParseInt(f[0], 10, 64)
		cur, _ := strconv.Atoi(f[2])
		des, _ := strconv.Atoi(f[3])
		out = append(out, hookLine{at: time.Unix(0, ns), current: cur, desired: des, victims: f[4]})
	}
	return out
}

func writeFile(t *testing.T, path, text string, mode os.FileMode) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestScaleAgainstControlPlane drives the autoscaler through fleetctl with real agents and a
// real exec hook: a spike of in-flight requests makes the hook run with a higher DESIRED once
// the rule's for-duration has passed; then an idle rule drains the pricier node, and the hook
// that removes it runs only after the drain.
func TestScaleAgainstControlPlane(t *testing.T) {
	cfg := fleettest.FastConfig(t)
	cfg.ScalingHookDir = t.TempDir()
	dir := t.TempDir()
	hookLog := filepath.Join(dir, "hook.log")
	writeFile(t, filepath.Join(cfg.ScalingHookDir, "scale.sh"),
		fmt.Sprintf("#!/bin/sh\necho \"$(date +%%s%%N) $POOL $CURRENT $DESIRED ${VICTIMS:--}\" >> %s\necho resized $POOL to $DESIRED\n", hookLog), 0o755)
	writeFile(t, filepath.Join(cfg.ScalingHookDir, "plain.sh"), "#!/bin/sh\n", 0o644)
	cp := fleettest.StartControlPlane(t, cfg)
	t.Setenv("DSPYFLEET_ADDR", cp.GRPCAddr())
	cheap := startAgent(t, cp, "web-a", "web", 1)
	startAgent(t, cp, "web-b", "web", 3)
	fleet := cp.Fleet(t)
	fleettest.Eventually(t, 10*time.Second, "both agents ready", func() bool {
		return fleettest.NodeState(fleet, "web-a") == fleetv1.NodeState_NODE_STATE_READY &&
			fleettest.NodeState(fleet, "web-b") == fleetv1.NodeState_NODE_STATE_READY
	})

	bad := writeFile(t, filepath.Join(dir, "bad.yaml"), "max: 4\nactuator:\n  exec_hook: plain.sh\n", 0o600)
	if res := runCLI(t, "scale", "policy", "set", "web", "-f", bad); res.code != exitError ||
		!strings.Contains(res.stderr, "InvalidArgument") || !strings.Contains(res.stderr, "policy.actuator.exec_hook") || !strings.Contains(res.stderr, "not an executable") {
		t.Fatalf("policy set with a plain file as hook: %+v", res)
	}
	if res := runCLI(t, "scale", "status", "web"); res.code != exitNotFound || !strings.Contains(res.stderr, "NotFound") {
		t.Fatalf("status before any policy: %+v", res)
	}

	const forDuration = 500 * time.Millisecond
	spikePolicy := writeFile(t, filepath.Join(dir, "spike.yaml"), `min: 1
max: 4
rules:
  - {name: spike, metric: in_flight_per_node, comparison: ">", threshold: 3, for: 500ms, action: scale_up, amount: 1}
actuator:
  exec_hook: scale.sh
`, 0o600)
	if res := runCLI(t, "scale", "policy", "set", "web", "-f", spikePolicy); res.code != exitOK || !strings.Contains(res.stdout, "exec_hook: "+filepath.Join(cfg.ScalingHookDir, "scale.sh")) {
		t.Fatalf("policy set: %+v", res)
	}
	fleettest.Eventually(t, 5*time.Second, "a first decision", func() bool {
		res := runCLI(t, "scale", "status", "web")
		return res.code == exitOK && strings.Contains(res.stdout, "current 2 (ready 2), desired 2")
	})

	// The spike: 10 requests in flight on web-a, 5 per node on average.
	spike := time.Now()
	var ends []func()
	for range 10 {
		ends = append(ends, cheap.Requests().Begin())
	}
	fleettest.Eventually(t, 5*time.Second, "the scale-up hook", func() bool { return len(readHookLog(t, hookLog)) > 0 })
	up := readHookLog(t, hookLog)[0]
	took := up.at.Sub(spike)
	if up.current != 2 || up.desired != 3 || up.victims != "-" {
		t.Fatalf("scale-up hook %+v, want 2 → 3", up)
	}
	// Reports every 100 ms and ticks every 50 ms: the spike is seen within a report and the rule
	// fires at the first tick after its for-duration (pkg/scaling's TestRules pins that tick with
	// an injected clock). The bound here leaves room for a busy machine.
	if took < forDuration || took > forDuration+3*time.Second {
		t.Fatalf("the hook ran %s after the spike; want after the %s for-duration, within about a tick", took, forDuration)
	}
	t.Logf("scale-up hook ran %s after the spike (for-duration %s, reports 100ms, tick 50ms)", took, forDuration)
	for _, end := range ends {
		end()
	}
	// The node asked for counts toward the size until it registers.
	fleettest.Eventually(t, 5*time.Second, "status: 3 nodes, 2 ready", func() bool {
		res := runCLI(t, "scale", "status", "web")
		return res.code == exitOK && strings.Contains(res.stdout, "current 3 (ready 2)") && strings.Contains(res.stdout, "exec_hook succeeded: 2 → 3")
	})

	idlePolicy := writeFile(t, filepath.Join(dir, "idle.json"), `{
	  "min": 1, "max": 4,
	  "rules": [{"name": "idle", "metric": "in_flight_per_node", "comparison": "<", "threshold": 1, "for": "300ms",
	             "action": "scale_down", "amount": 1, "cooldown": "0s"}],
	  "scale_down": {"stabilization_window": "0s", "policies": []},
	  "actuator": {"exec_hook": "scale.sh"}
	}`, 0o600)
	if res := runCLI(t, "scale", "policy", "set", "web", "-f", idlePolicy); res.code != exitOK {
		t.Fatalf("policy set idle: %+v", res)
	}
	// 3 → 2 cancels the node asked for that never came; 2 → 1 drains web-b, then removes it.
	fleettest.Eventually(t, 10*time.Second, "the hook removing web-b", func() bool {
		calls := readHookLog(t, hookLog)
		return calls[len(calls)-1].victims == "web-b"
	})
	// The two steps reach the hook apart, or as one 3 → 1 when the second decision came before
	// the first run.
	calls := readHookLog(t, hookLog)
	down := calls[len(calls)-1]
	switch prev := calls[len(calls)-2]; {
	case down.current == 2 && down.desired == 1:
		if prev.current != 3 || prev.desired != 2 || prev.victims != "-" {
			t.Fatalf("hook before the removal %+v, want 3 → 2 without victims", prev)
		}
	case down.current != 3 || down.desired != 1:
		t.Fatalf("scale-down hook %+v, want 2 → 1 or 3 → 1", down)
	}
	victim := fleettest.Node(t, fleet, "web-b")
	if victim.GetState() != fleetv1.NodeState_NODE_STATE_DRAINED || down.at.Before(victim.GetStateSince().AsTime()) {
		t.Fatalf("web-b is %s since %s; the hook ran at %s: it must run after the drain", victim.GetState(), victim.GetStateSince().AsTime(), down.at)
	}
	if fleettest.NodeState(fleet, "web-a") != fleetv1.NodeState_NODE_STATE_READY {
		t.Fatal("web-a should still serve")
	}

	res := runCLI(t, "scale", "history", "web", "--limit", "20")
	for _, want := range []string{"TIME", "scale up 2 → 3: rule:spike proposes 3", "scale down 2 → 1"} {
		if res.code != exitOK || !strings.Contains(res.stdout, want) {
			t.Fatalf("history lacks %q: %+v", want, res)
		}
	}
	res = runCLI(t, "scale", "policy", "get", "web")
	if res.code != exitOK || !strings.Contains(res.stdout, "name: idle") {
		t.Fatalf("policy get: %+v", res)
	}
	again := writeFile(t, filepath.Join(dir, "again.yaml"), res.stdout, 0o600)
	if res := runCLI(t, "scale", "policy", "set", "web", "-f", again); res.code != exitOK {
		t.Fatalf("policy get's output does not set again: %+v", res)
	}
	if res := runCLI(t, "-o", "json", "scale", "status", "web"); res.code != exitOK || !strings.Contains(res.stdout, `"reason"`) {
		t.Fatalf("status -o json: %+v", res)
	}
}

func TestParseScale(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "scale: missing command"},
		{[]string{"grow"}, `unknown command "grow"`},
		{[]string{"status"}, "missing POOL"},
		{[]string{"status", "a", "b"}, `unexpected argument "b"`},
		{[]string{"policy"}, "missing get or set"},
		{[]string{"policy", "set", "web"}, "-f FILE is required"},
		{[]string{"policy", "set", "-f", "/nonexistent.yaml", "web"}, "nonexistent.yaml"},
		{[]string{"history", "--limit", "x", "web"}, "limit"},
	}
	for _, tt := range tests {
		if _, err := parseScale(newGlobals(), tt.args); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseScale(%v) = %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
}
