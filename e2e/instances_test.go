package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/agent/proxy"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
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
