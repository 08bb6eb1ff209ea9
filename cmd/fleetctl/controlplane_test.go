package main

import (
	"bufio"
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// syncBuffer is a bytes.Buffer safe to read while fleetctl writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestAgainstControlPlane runs fleetctl against a real control plane with a real agent.
func TestAgainstControlPlane(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	t.Setenv("DSPYFLEET_ADDR", cp.GRPCAddr())

	var watchOut syncBuffer
	watchCtx, stopWatch := context.WithCancel(context.Background())
	watchDone := make(chan int, 1)
	go func() {
		watchDone <- run(watchCtx, []string{"-o", "json", "nodes", "watch"}, &watchOut, &watchOut)
	}()

	fleettest.Eventually(t, 10*time.Second, "the watch to sync", func() bool {
		return strings.Contains(watchOut.String(), "NODE_EVENT_TYPE_SYNCED")
	})

	cfg := agent.DefaultConfig()
	cfg.Server = cp.GRPCAddr()
	cfg.NodeID = "cli-node"
	cfg.Pool = "gpu"
	cfg.Labels = map[string]string{"zone": "b"}
	cfg.Interval = 100 * time.Millisecond
	cfg.StateDir = t.TempDir()
	cfg.Logger = fleettest.Logger(t)
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	agentCtx, stopAgent := context.WithCancel(context.Background())
	agentDone := make(chan error, 1)
	go func() { agentDone <- a.Run(agentCtx) }()
	c := cp.Fleet(t)
	fleettest.Eventually(t, 10*time.Second, "a report from cli-node", func() bool {
		return fleettest.NodeState(c, "cli-node") == fleetv1.NodeState_NODE_STATE_READY &&
			fleettest.Node(t, c, "cli-node").GetReportsReceived() > 0
	})

	res := runCLI(t, "nodes", "list", "--pool", "gpu", "--state", "ready")
	if res.code != exitOK || !strings.Contains(res.stdout, "cli-node") || !strings.Contains(res.stdout, "zone=b") {
		t.Fatalf("list: %+v", res)
	}
	if res := runCLI(t, "nodes", "list", "--state", "down"); res.code != exitOK || strings.Contains(res.stdout, "cli-node") {
		t.Fatalf("list --state down: %+v", res)
	}
	res = runCLI(t, "-o", "json", "nodes", "list")
	var list fleetv1.ListNodesResponse
	if err := protojson.Unmarshal([]byte(res.stdout), &list); err != nil || len(list.GetNodes()) != 1 || list.GetNodes()[0].GetLastReport().GetHost().GetMemoryTotalBytes() == 0 {
		t.Fatalf("list -o json: %v %+v", err, res)
	}
	res = runCLI(t, "nodes", "get", "cli-node")
	if res.code != exitOK || !strings.Contains(res.stdout, "ready") || !strings.Contains(res.stdout, "gpu") {
		t.Fatalf("get: %+v", res)
	}
	res = runCLI(t, "nodes", "get", "nope")
	if res.code != exitNotFound || !strings.Contains(res.stderr, "NotFound") || !strings.Contains(res.stderr, "nope") {
		t.Fatalf("get missing: %+v", res)
	}

	stopAgent()
	if err := <-agentDone; err != nil {
		t.Fatalf("agent: %v", err)
	}
	fleettest.Eventually(t, 10*time.Second, "watch to show ready->disconnected", func() bool {
		return strings.Contains(watchOut.String(), `"previousState":"NODE_STATE_READY"`)
	})
	stopWatch()
	if code := <-watchDone; code != exitOK {
		t.Fatalf("watch exit code %d: %s", code, watchOut.String())
	}
	var types []fleetv1.NodeEventType
	sc := bufio.NewScanner(strings.NewReader(watchOut.String()))
	for sc.Scan() {
		var ev fleetv1.WatchNodesResponse
		if err := protojson.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("watch line %q: %v", sc.Text(), err)
		}
		types = append(types, ev.GetType())
	}
	want := []fleetv1.NodeEventType{
		fleetv1.NodeEventType_NODE_EVENT_TYPE_SYNCED,
		fleetv1.NodeEventType_NODE_EVENT_TYPE_ADDED,
		fleetv1.NodeEventType_NODE_EVENT_TYPE_STATE_CHANGED,
	}
	if len(types) < len(want) {
		t.Fatalf("watch events %v, want at least %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("watch events %v, want %v first", types, want)
		}
	}
}
