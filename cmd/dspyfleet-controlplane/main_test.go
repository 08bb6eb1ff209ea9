package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	"github.com/dspyfleet/dspyfleet/internal/version"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestMain lets the test binary run as the control plane itself, so tests drive a real child
// process.
func TestMain(m *testing.M) {
	if os.Getenv("DSPYFLEET_TEST_CONTROLPLANE_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func startChild(t *testing.T, args ...string) (*exec.Cmd, *fleettest.Buffer) {
	t.Helper()
	return startChildEnv(t, nil, args...)
}

// startChildEnv is startChild with extra KEY=VALUE environment entries.
func startChildEnv(t *testing.T, env []string, args ...string) (*exec.Cmd, *fleettest.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "DSPYFLEET_TEST_CONTROLPLANE_MAIN=1", "GORACE=atexit_sleep_ms=0"), env...)
	out := &fleettest.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, out
}

// list returns the fleet's nodes.
func list(t *testing.T, c fleetv1.FleetServiceClient) []*fleetv1.Node {
	t.Helper()
	resp, err := c.ListNodes(context.Background(), &fleetv1.ListNodesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetNodes()
}

var grpcLine = regexp.MustCompile(`gRPC\s+(127\.0\.0\.1:\d+)`)
var httpLine = regexp.MustCompile(`HTTP\s+http://(127\.0\.0\.1:\d+)/metrics`)
var intakeLine = regexp.MustCompile(`intake\s+(http://127\.0\.0\.1:\d+/v1/requests)`)

// TestDevModeFleetOfOne runs `controlplane --dev` as a child process: the local agent shows up
// ready, the printed lines name the real addresses, the HTTP endpoints answer, and SIGTERM stops
// it cleanly.
func TestDevModeFleetOfOne(t *testing.T) {
	dir := t.TempDir()
	cmd, out := startChild(t, "--dev", "--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--data-dir", dir, "--dev-intake-listen", "127.0.0.1:0")
	var grpcAddr, httpAddr string
	fleettest.Eventually(t, 20*time.Second, "the dev banner", func() bool {
		g, h := grpcLine.FindStringSubmatch(out.String()), httpLine.FindStringSubmatch(out.String())
		if g == nil || h == nil {
			return false
		}
		grpcAddr, httpAddr = g[1], h[1]
		return true
	})
	for _, want := range []string{"fleetctl --addr " + grpcAddr + " nodes list", "grpcurl -plaintext " + grpcAddr + " list", "dashboard  http://" + httpAddr + "/ui/"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("banner lacks %q:\n%s", want, out)
		}
	}
	c := fleetv1.NewFleetServiceClient(fleettest.Dial(t, grpcAddr))
	fleettest.Eventually(t, 20*time.Second, "the local agent ready with a report", func() bool {
		resp, err := c.ListNodes(context.Background(), &fleetv1.ListNodesRequest{})
		return err == nil && len(resp.GetNodes()) == 1 &&
			resp.GetNodes()[0].GetState() == fleetv1.NodeState_NODE_STATE_READY &&
			resp.GetNodes()[0].GetLastReport().GetHost().GetMemoryTotalBytes() > 0
	})
	intakeURL := intakeLine.FindStringSubmatch(out.String())
	if intakeURL == nil {
		t.Fatalf("banner lacks the intake URL:\n%s", out)
	}
	body := `{"program":"qa","model":"m","latency_ms":812,"input_tokens":120,"output_tokens":30}` + "\n" + `{"program":"qa","model":"m","latency_ms":90,"error":true}`
	resp, err := http.Post(intakeURL[1], "application/x-ndjson", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("intake answered %d", resp.StatusCode)
	}
	fleettest.Eventually(t, 20*time.Second, "the reported requests in the pool's figures", func() bool {
		st, err := c.GetPoolStats(context.Background(), &fleetv1.GetPoolStatsRequest{})
		return err == nil && st.GetPool().GetRequests() == 2 && st.GetPool().GetErrors() == 1 && st.GetPool().GetInputTokens() == 120
	})
	node := list(t, c)[0].GetId()
	for path, want := range map[string]string{
		"/healthz": "ok",
		"/readyz":  "ok",
		"/metrics": `dspyfleet_dspy_requests_total{node="` + node + `",pool="default"} 2`,
		"/ui/":     "<title>dspyfleet</title>",
	} {
		resp, err := http.Get("http://" + httpAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Fatalf("GET %s: %d, body lacks %q:\n%s", path, resp.StatusCode, want, body)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, out)
	}
	for _, want := range []string{`reason="agent shut down: agent stopping"`, "control plane stopped"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("no clean stop: output lacks %s:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "fleet.db")); err != nil {
		t.Fatal(err)
	}
}

func TestSecondInstanceFailsFast(t *testing.T) {
	dir := t.TempDir()
	first, out := startChild(t, "--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--data-dir", dir)
	fleettest.Eventually(t, 20*time.Second, "the first instance serving", func() bool {
		return strings.Contains(out.String(), "control plane serving")
	})
	start := time.Now()
	second, out2 := startChild(t, "--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--data-dir", dir)
	err := second.Wait()
	if err == nil || !strings.Contains(out2.String(), "data directory is in use by another control plane") {
		t.Fatalf("second instance: exit %v, output:\n%s", err, out2)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Fatalf("second instance took %s to fail", took)
	}
	_ = first.Process.Signal(syscall.SIGTERM)
	if err := first.Wait(); err != nil {
		t.Fatalf("first instance: %v", err)
	}
}

func TestCorruptDataFileFailsAtStart(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "fleet.db"), bytes.Repeat([]byte("garbage!"), 2048), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, out := startChild(t, "--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--data-dir", dir)
	err := cmd.Wait()
	if err == nil || !strings.Contains(out.String(), "corrupt or not a dspyfleet database") || !strings.Contains(out.String(), "restore from a backup") {
		t.Fatalf("corrupt file: exit %v, output:\n%s", err, out)
	}
}

func TestBadFlagsAndConfig(t *testing.T) {
	badYAML := filepath.Join(t.TempDir(), "cp.yaml")
	if err := os.WriteFile(badYAML, []byte("grpc_listen: 127.0.0.1:0\nnode_tll: 5s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	shortToken := filepath.Join(t.TempDir(), "short.token")
	if err := os.WriteFile(shortToken, []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--ttl-grace", "-1s"}, "--ttl-grace"},
		{[]string{"--max-recv-bytes", "10"}, "--max-recv-bytes"},
		{[]string{"--config", badYAML}, badYAML + ":2: node_tll: unknown field"},
		{[]string{"--profile", "prod"}, `--profile: profile "prod" must be`},
		{[]string{"--log-level", "loud"}, "--log-level"},
		{[]string{"--log-format", "yaml", "--data-dir", t.TempDir()}, `--log-format: "yaml" must be text or json`},
		{[]string{"--grpc-listen", "256.0.0.1:1", "--data-dir", t.TempDir()}, "--grpc-listen"},
		{[]string{"--grpc-listen", "0.0.0.0:0", "--http-listen", "127.0.0.1:0", "--data-dir", t.TempDir()}, "--insecure"},
		{[]string{"--dev", "--insecure", "--grpc-listen", "0.0.0.0:0", "--http-listen", "127.0.0.1:0", "--data-dir", t.TempDir()}, "loopback only"},
		{[]string{"--agent-token-file", shortToken, "--data-dir", t.TempDir()}, "at least 16"},
	}
	for _, tt := range tests {
		cmd, out := startChild(t, tt.args...)
		err := cmd.Wait()
		if err == nil || !strings.Contains(out.String(), tt.want) {
			t.Errorf("controlplane %v: exit %v, output %q; want a failure naming %s", tt.args, err, out, tt.want)
		}
	}
}

func TestVersionFlag(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"--version"}, &out, &errOut); err != nil || !strings.HasPrefix(out.String(), "dspyfleet-controlplane "+version.Version+" (revision ") {
		t.Fatalf("--version: %v, %q", err, out.String())
	}
}

func TestRestoreCommand(t *testing.T) {
	ctx := context.Background()
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"restore", "--data-dir", t.TempDir()}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "--from is required") {
		t.Fatalf("restore without --from: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "fleet-x.db")
	if err := run(ctx, []string{"restore", "--from", missing, "--data-dir", t.TempDir()}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "refusing to restore") {
		t.Fatalf("restore of a missing file: %v", err)
	}

	cfg := fleettest.FastConfig(t)
	cp := fleettest.StartControlPlane(t, cfg)
	resp, err := fleetv1.NewMaintenanceServiceClient(fleettest.Dial(t, cp.GRPCAddr())).CreateBackup(ctx, &fleetv1.CreateBackupRequest{})
	if err != nil {
		t.Fatal(err)
	}
	cp.Stop(t)
	into := t.TempDir()
	if err := run(ctx, []string{"restore", "--from", resp.GetBackup().GetPath(), "--data-dir", into}, &out, &errOut); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if !strings.Contains(out.String(), "restored ") || !strings.Contains(out.String(), fmt.Sprintf("schema %d", store.SchemaVersion)) {
		t.Fatalf("restore output %q", out.String())
	}
	if _, err := os.Stat(filepath.Join(into, "fleet.db")); err != nil {
		t.Fatal(err)
	}
}
