package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
)

// buildGRPCurl builds the grpcurl pinned in tools/go.mod.
func buildGRPCurl(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(t.TempDir(), "grpcurl")
	cmd := exec.Command("go", "build", "-modfile=tools/go.mod", "-o", bin, "github.com/fullstorydev/grpcurl/cmd/grpcurl")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build grpcurl: %v\n%s", err, out)
	}
	return bin
}

func TestGRPCurlReflection(t *testing.T) {
	bin := buildGRPCurl(t)
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	startAgent(t, cp.GRPCAddr(), "curl-node")
	c := cp.Fleet(t)
	waitState(t, c, "curl-node", ready, 10*time.Second)
	fleettest.Eventually(t, 10*time.Second, "a report from curl-node", func() bool {
		return fleettest.Node(t, c, "curl-node").GetReportsReceived() > 0
	})

	grpcurl := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"-plaintext"}, args...)...)
		cmd.Env = append(os.Environ(), "GRPC_GO_LOG_SEVERITY_LEVEL=error")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("grpcurl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	list := grpcurl(cp.GRPCAddr(), "list")
	for _, svc := range []string{"dspyfleet.v1.AgentService", "dspyfleet.v1.FleetService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} {
		if !strings.Contains(list, svc) {
			t.Fatalf("list lacks %s:\n%s", svc, list)
		}
	}
	desc := grpcurl(cp.GRPCAddr(), "describe", "dspyfleet.v1.FleetService")
	for _, rpc := range []string{"rpc ListNodes", "rpc GetNode", "rpc WatchNodes"} {
		if !strings.Contains(desc, rpc) {
			t.Fatalf("describe lacks %s:\n%s", rpc, desc)
		}
	}
	var resp struct {
		Nodes []struct {
			ID         string `json:"id"`
			State      string `json:"state"`
			LastReport struct {
				Host struct {
					MemoryTotalBytes string `json:"memoryTotalBytes"`
				} `json:"host"`
			} `json:"lastReport"`
		} `json:"nodes"`
	}
	out := grpcurl("-d", `{"pool":"web"}`, cp.GRPCAddr(), "dspyfleet.v1.FleetService/ListNodes")
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("ListNodes output is not JSON: %v\n%s", err, out)
	}
	if len(resp.Nodes) != 1 || resp.Nodes[0].ID != "curl-node" || resp.Nodes[0].State != "NODE_STATE_READY" || resp.Nodes[0].LastReport.Host.MemoryTotalBytes == "" {
		t.Fatalf("ListNodes via grpcurl: %s", out)
	}
	health := grpcurl(cp.GRPCAddr(), "grpc.health.v1.Health/Check")
	if !strings.Contains(health, "SERVING") {
		t.Fatalf("health check: %s", health)
	}
}
