package e2e

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/agent/proxy"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
	"google.golang.org/protobuf/proto"
)

// instanceOf asks the service behind the proxy at addr which instance answered.
func instanceOf(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/info")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/info through the proxy: %s", resp.Status)
	}
	var info struct {
		Instance string `json:"instance"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		t.Fatal(err)
	}
	return info.Instance
}

// TestScaledInstancesShareTheProxysTraffic: after `scale --instances 3`, every request through
// the sidecar went to the first instance. The proxy spreads requests over every live instance,
// and one that stops leaves the rotation.
func TestScaledInstancesShareTheProxysTraffic(t *testing.T) {
	srv := buildHealthsrv(t)
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	c := cp.Fleet(t)
	port := fleettest.FreePortRange(t, 3)
	a := startAgentWith(t, cp.GRPCAddr(), "web-1", func(cfg *agent.Config) {
		cfg.ActionsConfig = agent.ActionsConfig{Service: &agent.ServiceConfig{
			Manager: "process", Command: []string{srv}, BasePort: port, StopGrace: 2 * time.Second,
			Health: agent.HealthConfig{URL: "http://127.0.0.1:{port}/healthz", Timeout: 10 * time.Second},
		}}
		cfg.Proxy = proxy.Config{Listen: "127.0.0.1:0", Upstream: "127.0.0.1:" + strconv.Itoa(port)}
	})
	waitState(t, c, "web-1", ready, 10*time.Second)
	if got := instanceOf(t, a.ProxyAddr()); got != "0" {
		t.Fatalf("before scaling, instance %q answered", got)
	}

	resp, err := c.SendCommand(context.Background(), &fleetv1.SendCommandRequest{NodeId: "web-1", Kind: fleetv1.CommandKind_COMMAND_KIND_SCALE,
		Params: map[string]string{"instances": "3"}})
	if err != nil {
		t.Fatal(err)
	}
	waitCommand(t, c, resp.GetCommand().GetCommand().GetId(), fleetv1.CommandState_COMMAND_STATE_SUCCEEDED, 30*time.Second)
	seen := map[string]int{}
	fleettest.Eventually(t, 10*time.Second, "requests to reach all three instances", func() bool {
		clear(seen)
		for range 30 {
			seen[instanceOf(t, a.ProxyAddr())]++
		}
		return len(seen) == 3
	})
	for inst, n := range seen {
		if n < 5 {
			t.Errorf("instance %s got %d of 30 requests (all: %v); want them spread evenly", inst, n, seen)
		}
	}

	resp, err = c.SendCommand(context.Background(), &fleetv1.SendCommandRequest{NodeId: "web-1", Kind: fleetv1.CommandKind_COMMAND_KIND_SCALE,
		Params: map[string]string{"instances": "2"}})
	if err != nil {
		t.Fatal(err)
	}
	waitCommand(t, c, resp.GetCommand().GetCommand().GetId(), fleetv1.CommandState_COMMAND_STATE_SUCCEEDED, 30*time.Second)
	fleettest.Eventually(t, 5*time.Second, "the stopped instance to leave the rotation", func() bool {
		clear(seen)
		for range 20 {
			seen[instanceOf(t, a.ProxyAddr())]++
		}
		return len(seen) == 2 && seen["2"] == 0
	})
}

// TestInstancesActuatorShowsAFailedScaleAndRetries: with one instance's port taken, the agent's
// scale command failed, yet the scaler said it succeeded with every instance ready and never
// retried. The status shows the failure with the agent's reason and the instances really
// serving, and once the port is free the retry brings the pool to its size.
func TestInstancesActuatorShowsAFailedScaleAndRetries(t *testing.T) {
	srv := buildHealthsrv(t)
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	c := cp.Fleet(t)
	sc := fleetv1.NewScalingServiceClient(fleettest.Dial(t, cp.GRPCAddr()))
	port := fleettest.FreePortRange(t, 3)
	taken, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+2))
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	startAgentWith(t, cp.GRPCAddr(), "gpu-1", func(cfg *agent.Config) {
		cfg.Interval = 200 * time.Millisecond
		cfg.ActionsConfig = agent.ActionsConfig{Service: &agent.ServiceConfig{
			Manager: "process", Command: []string{srv}, BasePort: port, StopGrace: time.Second,
			Health: agent.HealthConfig{URL: "http://127.0.0.1:{port}/healthz", Timeout: 2 * time.Second},
		}}
		cfg.Proxy = proxy.Config{Listen: "127.0.0.1:0", Upstream: "127.0.0.1:" + strconv.Itoa(port)}
	})
	waitState(t, c, "gpu-1", ready, 10*time.Second)
	if _, err := sc.SetPolicy(context.Background(), &fleetv1.ScalingServiceSetPolicyRequest{Pool: "web", Policy: &fleetv1.ScalingPolicy{
		Min: proto.Uint32(3), Max: 3, Targets: []*fleetv1.ScalingTarget{{Metric: "cpu_percent", Value: 100}},
		ScaleUp:  &fleetv1.ScalingBehavior{Unlimited: true},
		Actuator: &fleetv1.ScalingActuator{Instances: true, MaxInstancesPerNode: 3},
	}}); err != nil {
		t.Fatal(err)
	}
	status := func() *fleetv1.ScalingServiceGetStatusResponse {
		st, err := sc.GetStatus(context.Background(), &fleetv1.ScalingServiceGetStatusRequest{Pool: "web"})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	fleettest.Eventually(t, 20*time.Second, "the scale to fail with the agent's reason", func() bool {
		a := status().GetActuation()
		return a.GetState() == "failed" && strings.Contains(a.GetDetail(), "gpu-1 (asked 3): failed:") && a.GetNextAttempt() != nil
	})
	fleettest.Eventually(t, 10*time.Second, "the decision to count 2 of the 3 instances as serving", func() bool {
		d := status().GetDecision()
		return d.GetReady() == 2 && d.GetCurrent() == 3
	})

	if n := nodeOf(t, c, "gpu-1"); n.GetState() != ready || !strings.Contains(n.GetLastReport().GetServiceHealth().GetDetail(), "2 of 3 instances serve") {
		t.Errorf("with 2 of 3 instances serving behind the proxy, the node is %s: %q", n.GetState(), n.GetLastReport().GetServiceHealth().GetDetail())
	}
	taken.Close()
	fleettest.Eventually(t, 40*time.Second, "the retry to bring the pool to 3 ready instances", func() bool {
		st := status()
		return st.GetActuation().GetState() == "succeeded" && st.GetActuation().GetAttempts() == 0 && st.GetDecision().GetReady() == 3
	})
	if h := nodeOf(t, c, "gpu-1").GetLastReport().GetServiceHealth(); h.GetInstances() != 3 || h.GetHealthyInstances() != 3 {
		t.Errorf("the agent reports %d instances, %d healthy; want 3 and 3", h.GetInstances(), h.GetHealthyInstances())
	}
}
