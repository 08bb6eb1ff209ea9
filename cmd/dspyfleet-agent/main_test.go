package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/agent/action/backup"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	"github.com/dspyfleet/dspyfleet/internal/version"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestMain lets the test binary run as the agent itself, so tests drive a real child process.
func TestMain(m *testing.M) {
	if os.Getenv("DSPYFLEET_TEST_AGENT_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// startChild runs the agent as a child process with args.
func startChild(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "DSPYFLEET_TEST_AGENT_MAIN=1", "GORACE=atexit_sleep_ms=0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, &out
}

func TestSIGTERMDisconnectsCleanly(t *testing.T) {
	cfg := fleettest.FastConfig(t)
	cfg.NodeTTL = time.Minute // only a clean disconnect, never the TTL, may change the state here
	cp := fleettest.StartControlPlane(t, cfg)
	c := cp.Fleet(t)
	cfgPath := t.TempDir() + "/agent.yaml"
	if err := os.WriteFile(cfgPath, []byte("pool: from-file\nlabels: {zone: file}\ninterval: 5s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, out := startChild(t, "--config", cfgPath, "--server", cp.GRPCAddr(), "--node-id", "child", "--intake-listen", "127.0.0.1:0",
		"--interval", "200ms", "--label", "role=test", "--state-dir", t.TempDir())
	fleettest.Eventually(t, 10*time.Second, "child ready", func() bool {
		return fleettest.NodeState(c, "child") == fleetv1.NodeState_NODE_STATE_READY
	})
	n := fleettest.Node(t, c, "child")
	if n.GetPool() != "from-file" || n.GetLabels()["role"] != "test" || n.GetReportInterval().AsDuration() != 200*time.Millisecond {
		t.Fatalf("file and flags not merged (flags win): pool %q labels %v interval %s", n.GetPool(), n.GetLabels(), n.GetReportInterval().AsDuration())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	termAt := time.Now()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("agent exit after SIGTERM: %v\n%s", err, out)
	}
	t.Logf("agent exited %s after SIGTERM", time.Since(termAt))
	n = fleettest.Node(t, c, "child")
	if n.GetState() != fleetv1.NodeState_NODE_STATE_DISCONNECTED || !strings.HasPrefix(n.GetStateReason(), "agent shut down") {
		t.Fatalf("after SIGTERM: %s (%s), want disconnected by a clean shutdown\n%s", n.GetState(), n.GetStateReason(), out)
	}
}

func TestBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--node-id", "bad id", "--state-dir", t.TempDir()}, "--node-id"},
		{[]string{"--interval", "1ms", "--state-dir", t.TempDir()}, "--interval"},
		{[]string{"--label", "novalue"}, "key=value"},
		{[]string{"--config", "/nonexistent/agent.yaml"}, "--config"},
		{[]string{"stray"}, "unexpected arguments"},
		{[]string{"--hourly-price", "1e308", "--state-dir", t.TempDir()}, "--hourly-price 1e+308 is over the bound"},
		{[]string{"--hourly-price", "+Inf", "--state-dir", t.TempDir()}, "--hourly-price +Inf is not a finite number"},
		{[]string{"--log-format", "yaml", "--state-dir", t.TempDir()}, `--log-format: "yaml" must be text or json`},
	}
	for _, tt := range tests {
		cmd, out := startChild(t, tt.args...)
		err := cmd.Wait()
		if err == nil || !strings.Contains(out.String(), tt.want) {
			t.Errorf("agent %v: exit %v, output %q; want a failure naming %s", tt.args, err, out, tt.want)
		}
	}
}

// TestVersionAndJSONLogs: --version prints the build's version and exits; --log-format json
// logs one JSON object a line.
func TestVersionAndJSONLogs(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"--version"}, &out, &errOut); err != nil || !strings.HasPrefix(out.String(), "dspyfleet-agent "+version.Version+" (revision ") {
		t.Fatalf("--version: %v, %q", err, out.String())
	}
	cmd := exec.Command(os.Args[0], "--log-format", "json", "--server", "127.0.0.1:1", "--node-id", "jsonlogs", "--state-dir", t.TempDir(), "--intake-listen", "")
	cmd.Env = append(os.Environ(), "DSPYFLEET_TEST_AGENT_MAIN=1", "GORACE=atexit_sleep_ms=0")
	var logs fleettest.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var line map[string]any
	fleettest.Eventually(t, 10*time.Second, "a JSON log line", func() bool {
		first, _, _ := strings.Cut(logs.String(), "\n")
		return json.Unmarshal([]byte(first), &line) == nil && line["msg"] != nil
	})
	if line["level"] != "INFO" || line["time"] == nil {
		t.Errorf("first JSON log line %v", line)
	}
}

func TestBackupListAndVerify(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "program.json"), []byte(`{"demos": 3}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "agent.yaml")
	yaml := "actions:\n  backup:\n    paths: [" + data + "]\n    dir: " + filepath.Join(dir, "backups") + "\n    keep: 2\n"
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := backup.Create(context.Background(), backup.Config{Paths: []string{data}, Dir: filepath.Join(dir, "backups"), Keep: 2}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cmd, out := startChild(t, "backup", "list", "--config", cfgPath)
	if err := cmd.Wait(); err != nil || !strings.Contains(out.String(), a.Path) || !strings.Contains(out.String(), a.SHA256) {
		t.Fatalf("backup list: %v\n%s", err, out)
	}
	cmd, out = startChild(t, "backup", "verify", a.Path)
	if err := cmd.Wait(); err != nil || !strings.Contains(out.String(), "ok") {
		t.Fatalf("backup verify: %v\n%s", err, out)
	}
	raw, _ := os.ReadFile(a.Path)
	raw[len(raw)/2] ^= 0xff
	if err := os.WriteFile(a.Path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, out = startChild(t, "backup", "verify", a.Path)
	if err := cmd.Wait(); err == nil {
		t.Fatalf("a corrupted archive verified:\n%s", out)
	}
}
