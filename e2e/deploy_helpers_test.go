package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/agent/proxy"
	"github.com/dspyfleet/dspyfleet/controlplane"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

var (
	versionsrvOnce sync.Once
	versionsrvPath string
	versionsrvErr  error
)

// buildVersionsrv builds the stand-in DSPy server once per test binary.
func buildVersionsrv(t *testing.T) string {
	t.Helper()
	versionsrvOnce.Do(func() {
		dir, err := os.MkdirTemp("", "versionsrv")
		if err != nil {
			versionsrvErr = err
			return
		}
		versionsrvPath = filepath.Join(dir, "versionsrv")
		out, err := exec.Command("go", "build", "-o", versionsrvPath, "github.com/dspyfleet/dspyfleet/e2e/testdata/versionsrv").CombinedOutput()
		if err != nil {
			versionsrvErr = fmt.Errorf("build versionsrv: %v\n%s", err, out)
		}
	})
	if versionsrvErr != nil {
		t.Fatal(versionsrvErr)
	}
	return versionsrvPath
}

// versionNode is a node of a deployment test: a real agent with a sidecar proxy in front of the
// real child HTTP server it supervises, whose version its deploy hook switches.
type versionNode struct {
	id          string
	versionFile string
	// markFile is what the node's custom action "mark" writes.
	markFile string
	agent    *runningAgent
}

// version is what the node's server runs now.
func (n *versionNode) version(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(n.versionFile)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// startVersionFleet starts n nodes web-1 … web-n in pool web, each serving version "1.0"; the
// deploy hook waits hookSleep, like a real deploy.
func startVersionFleet(t *testing.T, server string, n int, hookSleep time.Duration) []*versionNode {
	t.Helper()
	bin := buildVersionsrv(t)
	base := fleettest.FreePortRange(t, n)
	var nodes []*versionNode
	for i := range n {
		dir := t.TempDir()
		vf := filepath.Join(dir, "version")
		if err := os.WriteFile(vf, []byte("1.0"), 0o644); err != nil {
			t.Fatal(err)
		}
		port := strconv.Itoa(base + i)
		id := fmt.Sprintf("web-%d", i+1)
		a := startAgentWith(t, server, id, func(c *agent.Config) {
			// A slower beat than the other tests: the watchdogs on both sides must not restart
			// sessions when a loaded machine stalls for a few hundred milliseconds.
			c.Interval = 500 * time.Millisecond
			c.Proxy = proxy.Config{Listen: "127.0.0.1:0", Upstream: "127.0.0.1:" + port, RetryAfter: time.Second}
			c.ActionsConfig.Service = &agent.ServiceConfig{
				Manager: "process", Command: []string{bin, "serve", "-port", "{port}", "-version-file", vf}, Instances: 1,
				BasePort: base + i, StopGrace: time.Second,
				Health: agent.HealthConfig{URL: "http://127.0.0.1:{port}/healthz", Timeout: 10 * time.Second},
			}
			c.ActionsConfig.Deploy = &agent.DeployConfig{Hook: []string{bin, "set", "-sleep", hookSleep.String(), vf}, Timeout: 30 * time.Second}
			c.ActionsConfig.Custom = map[string]agent.CustomAction{"mark": {Command: []string{bin, "set", filepath.Join(dir, "mark"), "maintained"}}}
		})
		fleettest.Eventually(t, 10*time.Second, "the agent's child server listening", func() bool {
			resp, err := http.Get("http://127.0.0.1:" + port + "/healthz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
		nodes = append(nodes, &versionNode{id: id, versionFile: vf, markFile: filepath.Join(dir, "mark"), agent: a})
	}
	return nodes
}

// loadPace is the shortest time between two requests of a loadClient: a rate cap, so the load
// does not starve the agents and servers it measures on a small machine.
const loadPace = 2 * time.Millisecond

// loadClient sends requests through RoutingService.Pick to the picked node's proxy until
// stopped, at most one every loadPace, counting requests, failures and the requests each node
// served.
type loadClient struct {
	requests, failures atomic.Int64
	mu                 sync.Mutex
	perNode            map[string]int
	lastFailure        string
	stop               chan struct{}
	done               chan struct{}
}

func startLoad(t *testing.T, rc fleetv1.RoutingServiceClient, pool string) *loadClient {
	t.Helper()
	lc := &loadClient{perNode: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	client := &http.Client{Timeout: 5 * time.Second}
	go func() {
		defer close(lc.done)
		pace := time.NewTicker(loadPace)
		defer pace.Stop()
		for {
			lc.once(client, rc, pool)
			select {
			case <-lc.stop:
				return
			case <-pace.C:
			}
		}
	}()
	t.Cleanup(lc.halt)
	return lc
}

// once picks a node and sends it one request.
func (lc *loadClient) once(client *http.Client, rc fleetv1.RoutingServiceClient, pool string) {
	p, err := rc.Pick(context.Background(), &fleetv1.PickRequest{Pool: pool})
	if err != nil {
		lc.fail("pick: " + err.Error())
		return
	}
	resp, err := client.Get("http://" + p.GetAddress() + "/predict")
	if err != nil {
		lc.fail(p.GetNodeId() + ": " + err.Error())
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	lc.requests.Add(1)
	if resp.StatusCode != http.StatusOK {
		lc.fail(fmt.Sprintf("%s: %d %s", p.GetNodeId(), resp.StatusCode, strings.TrimSpace(string(body))))
	}
	lc.mu.Lock()
	lc.perNode[p.GetNodeId()]++
	lc.mu.Unlock()
}

// waitServed waits until n requests went through, so what the test does next happens under load.
func (lc *loadClient) waitServed(t *testing.T, n int64) {
	t.Helper()
	fleettest.Eventually(t, 30*time.Second, fmt.Sprintf("%d requests through the load client", n), func() bool {
		return lc.requests.Load() >= n
	})
}

func (lc *loadClient) fail(why string) {
	lc.failures.Add(1)
	lc.mu.Lock()
	lc.lastFailure = why
	lc.mu.Unlock()
}

// halt stops the client and waits for it; safe to call twice.
func (lc *loadClient) halt() {
	select {
	case <-lc.stop:
	default:
		close(lc.stop)
	}
	<-lc.done
}

// waitDeployment follows a deployment through WatchDeployment until done says so.
func waitDeployment(t *testing.T, mc fleetv1.MaintenanceServiceClient, id string, within time.Duration, what string, done func(*fleetv1.Deployment) bool) *fleetv1.Deployment {
	t.Helper()
	return watchUntil(t, within, what, mc.WatchDeployment, &fleetv1.WatchDeploymentRequest{Id: id},
		func(r *fleetv1.WatchDeploymentResponse) bool { return done(r.GetDeployment()) }).GetDeployment()
}

// finished reports whether a deployment ended.
func finished(d *fleetv1.Deployment) bool { return d.GetFinished() != nil }

// deployConfig is the control plane configuration of the deployment tests.
func deployConfig(t *testing.T) controlplane.Config {
	t.Helper()
	cfg := fleettest.FastConfig(t)
	cfg.DeployDrainGrace = 100 * time.Millisecond
	// Several agents, their child servers and a load client share a small CI machine: a stall
	// must not get a node declared down in the middle of a measured rollout.
	cfg.NodeTTL = 10 * time.Second
	cfg.TTLGrace = 2 * time.Second
	return cfg
}
