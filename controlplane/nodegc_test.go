package controlplane_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// jumpClock runs at real speed from now plus an offset the test moves forward.
type jumpClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *jumpClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *jumpClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}

// stepCount returns how many times the reconcile loop has run step, from /metrics.
func stepCount(t *testing.T, cp *fleettest.ControlPlane, step string) int {
	t.Helper()
	series := `dspyfleet_reconcile_step_seconds_count{step="` + step + `"} `
	for line := range strings.Lines(scrape(t, cp)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), series); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("/metrics: %s: %v", strings.TrimSpace(line), err)
			}
			return n
		}
	}
	return 0
}

// waitGCSteps waits until the node GC step has run twice more, so a pass began after the call.
func waitGCSteps(t *testing.T, cp *fleettest.ControlPlane) {
	t.Helper()
	start := stepCount(t, cp, "nodegc")
	fleettest.Eventually(t, 10*time.Second, "two node GC steps", func() bool { return stepCount(t, cp, "nodegc") >= start+2 })
}

// nodeIDs lists the ids of every node known.
func nodeIDs(t *testing.T, c fleetv1.FleetServiceClient) []string {
	t.Helper()
	resp, err := c.ListNodes(context.Background(), &fleetv1.ListNodesRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, n := range resp.GetNodes() {
		ids = append(ids, n.GetId())
	}
	return ids
}

// session opens an agent session for id on cp and waits for the Welcome; close ends it.
func session(t *testing.T, cp *fleettest.ControlPlane, id string) (s agentStream, close func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := fleetv1.NewAgentServiceClient(fleettest.Dial(t, cp.GRPCAddr())).Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	send(t, s, hello(id, "i-"+id))
	if m, err := s.Recv(); err != nil || m.GetWelcome() == nil {
		t.Fatalf("%s: want Welcome, got %v, %v", id, m, err)
	}
	return s, cancel
}

// systemRecords waits until n system audit records are complete (none PENDING: a removal's
// record is completed after the node is gone) and returns them.
func systemRecords(t *testing.T, fc fleetv1.FleetServiceClient, n int) []*fleetv1.AuditRecord {
	t.Helper()
	var recs []*fleetv1.AuditRecord
	fleettest.Eventually(t, 5*time.Second, fmt.Sprintf("%d complete system audit records", n), func() bool {
		recs = listAudit(t, fc, &fleetv1.ListAuditRequest{Kinds: []fleetv1.AuditKind{fleetv1.AuditKind_AUDIT_KIND_SYSTEM}, PageSize: 1000})
		done := 0
		for _, r := range recs {
			if r.GetCode() != "PENDING" {
				done++
			}
		}
		return done >= n
	})
	return recs
}

// removedWatcher collects the ids of REMOVED events from a WatchNodes stream until the test ends.
type removedWatcher struct {
	mu  sync.Mutex
	ids []string
}

func watchRemoved(t *testing.T, cp *fleettest.ControlPlane) *removedWatcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := cp.Fleet(t).WatchNodes(ctx, &fleetv1.WatchNodesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := stream.Recv(); err != nil || m.GetType() != fleetv1.NodeEventType_NODE_EVENT_TYPE_SYNCED {
		t.Fatalf("first watch event %v, %v; want SYNCED on an empty fleet", m, err)
	}
	w := &removedWatcher{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := stream.Recv()
			if err != nil {
				return
			}
			if m.GetType() == fleetv1.NodeEventType_NODE_EVENT_TYPE_REMOVED {
				w.mu.Lock()
				w.ids = append(w.ids, m.GetNode().GetId())
				w.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return w
}

// watchDashboard copies the dashboard's event stream into a buffer until the test ends.
func watchDashboard(t *testing.T, cp *fleettest.ControlPlane) *fleettest.Buffer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+cp.HTTPAddr()+"/ui/api/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /ui/api/events: %v, %v", resp, err)
	}
	buf := &fleettest.Buffer{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(buf, resp.Body)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		resp.Body.Close()
	})
	return buf
}

func (w *removedWatcher) removed() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Sorted(slices.Values(w.ids))
}

// TestNodeGCRemovesNodesNeverReady: nodes that said Hello and left without ever reporting are
// forgotten once gone longer than --node-gc-unready (24h), not before: gone from ListNodes and,
// as a restart shows, from the store, with an audit record each, a REMOVED event and the
// metric counted. A connected node that never reported and a node that served and disconnected
// (not down) are kept however long.
func TestNodeGCRemovesNodesNeverReady(t *testing.T) {
	clk := &jumpClock{}
	cfg := fleettest.FastConfig(t)
	cfg.Now = clk.Now
	cfg.NodeTTL = 10000 * time.Hour // no node turns down here: the clock jumps past any TTL
	cp := fleettest.StartControlPlane(t, cfg)
	fc := cp.Fleet(t)
	w := watchRemoved(t, cp)

	var junk []string
	for i := range 5 {
		id := fmt.Sprintf("junk-%d", i)
		_, end := session(t, cp, id)
		end()
		junk = append(junk, id)
	}
	session(t, cp, "connected-never-ready") // stays connected, never reports
	s, end := session(t, cp, "served")
	rep := report(1, 10)
	rep.GetReport().Time = timestamppb.New(clk.Now())
	send(t, s, rep)
	waitAck(t, s, 1)
	end()
	for _, id := range append(slices.Clone(junk), "served") {
		fleettest.Eventually(t, 5*time.Second, id+" disconnected", func() bool {
			return fleettest.NodeState(fc, id) == fleetv1.NodeState_NODE_STATE_DISCONNECTED
		})
	}
	if fleettest.Node(t, fc, "served").GetLastReady() == nil || fleettest.Node(t, fc, "junk-0").GetLastReady() != nil {
		t.Fatal("last_ready: want it set on served only")
	}

	clk.Advance(23 * time.Hour)
	waitGCSteps(t, cp)
	if got := nodeIDs(t, fc); len(got) != 7 {
		t.Fatalf("after 23h: nodes %v, want all 7 kept", got)
	}

	clk.Advance(2 * time.Hour)
	want := []string{"connected-never-ready", "served"}
	fleettest.Eventually(t, 10*time.Second, "junk removed after 25h", func() bool { return slices.Equal(nodeIDs(t, fc), want) })
	fleettest.Eventually(t, 5*time.Second, "REMOVED events", func() bool { return slices.Equal(w.removed(), junk) })
	if !strings.Contains(scrape(t, cp), `dspyfleet_nodes_removed_total{reason="never_ready"} 5`) {
		t.Errorf("/metrics lacks dspyfleet_nodes_removed_total{reason=\"never_ready\"} 5")
	}
	recs := systemRecords(t, fc, 5)
	if len(recs) != 5 {
		t.Fatalf("system audit records %v, want 5", recs)
	}
	for _, id := range junk {
		r := findAudit(recs, &fleetv1.AuditRecord{Kind: fleetv1.AuditKind_AUDIT_KIND_SYSTEM, Method: "node-gc", Identity: "control-plane", Target: id})
		if r == nil || r.GetCode() != codes.OK.String() || !strings.Contains(r.GetDetail(), "never seen ready") {
			t.Errorf("audit record of %s: %v", id, r)
		}
	}

	clk.Advance(1000 * time.Hour)
	waitGCSteps(t, cp)
	if got := nodeIDs(t, fc); !slices.Equal(got, want) {
		t.Fatalf("after 1025h: nodes %v, want %v (connected, and served but not down)", got, want)
	}
	if st := fleettest.NodeState(fc, "connected-never-ready"); st != fleetv1.NodeState_NODE_STATE_READY {
		t.Fatalf("connected node is %s", st)
	}

	cp.Stop(t)
	cp = fleettest.StartControlPlane(t, cfg)
	if got := nodeIDs(t, cp.Fleet(t)); !slices.Equal(got, want) {
		t.Fatalf("after a restart: nodes %v, want %v: the store still holds removed nodes", got, want)
	}
}

// TestNodeGCRemovesDownNodes: a node that served and went down is kept 71h after it turned down
// and removed past --node-gc (72h), with its audit record, a REMOVED event (the dashboard drops
// its row) and the metric counted.
func TestNodeGCRemovesDownNodes(t *testing.T) {
	clk := &jumpClock{}
	cfg := fleettest.FastConfig(t)
	cfg.Now = clk.Now
	cp := fleettest.StartControlPlane(t, cfg)
	fc := cp.Fleet(t)
	w := watchRemoved(t, cp)
	dash := watchDashboard(t, cp)

	s, end := session(t, cp, "gone")
	rep := report(1, 10)
	rep.GetReport().Time = timestamppb.New(clk.Now())
	send(t, s, rep)
	waitAck(t, s, 1)
	end()
	fleettest.Eventually(t, 10*time.Second, "gone down", func() bool {
		return fleettest.NodeState(fc, "gone") == fleetv1.NodeState_NODE_STATE_DOWN
	})

	clk.Advance(71 * time.Hour)
	waitGCSteps(t, cp)
	if got := nodeIDs(t, fc); !slices.Equal(got, []string{"gone"}) {
		t.Fatalf("71h down: nodes %v, want gone kept", got)
	}
	clk.Advance(time.Hour + time.Minute)
	fleettest.Eventually(t, 10*time.Second, "gone removed past 72h", func() bool { return len(nodeIDs(t, fc)) == 0 })
	fleettest.Eventually(t, 5*time.Second, "REMOVED event", func() bool { return slices.Equal(w.removed(), []string{"gone"}) })
	fleettest.Eventually(t, 5*time.Second, "the dashboard told to drop gone's row", func() bool {
		return strings.Contains(dash.String(), `"id":"gone"`) && strings.Contains(dash.String(), `"removed":true`)
	})
	if !strings.Contains(scrape(t, cp), `dspyfleet_nodes_removed_total{reason="down"} 1`) {
		t.Errorf("/metrics lacks dspyfleet_nodes_removed_total{reason=\"down\"} 1")
	}
	r := findAudit(systemRecords(t, fc, 1), &fleetv1.AuditRecord{Kind: fleetv1.AuditKind_AUDIT_KIND_SYSTEM, Method: "node-gc", Target: "gone"})
	if r == nil || r.GetCode() != codes.OK.String() || !strings.Contains(r.GetDetail(), "--node-gc 72h") {
		t.Fatalf("audit record of the removal: %v", r)
	}

	// Its agent comes back: the node is registered anew.
	session(t, cp, "gone")
	if got := nodeIDs(t, fc); !slices.Equal(got, []string{"gone"}) {
		t.Fatalf("after the agent came back: nodes %v", got)
	}
}

// TestNodeGCRemovesNothingWhileItsAuditCannotBeWritten: on a full data disk the node GC step
// cannot write its audit records, so it removes nothing (and counts a step error); once space
// is freed the nodes are removed, each with its record.
func TestNodeGCRemovesNothingWhileItsAuditCannotBeWritten(t *testing.T) {
	disk := mountSmallDisk(t)
	clk := &jumpClock{}
	cfg := fleettest.FastConfig(t)
	cfg.DataDir = filepath.Join(disk, "data")
	cfg.Now = clk.Now
	cfg.NodeTTL = 10000 * time.Hour
	cp := fleettest.StartControlPlane(t, cfg)
	fc := cp.Fleet(t)
	const junk = 100
	for i := range junk {
		_, end := session(t, cp, fmt.Sprintf("junk-%03d", i))
		end()
	}
	fleettest.Eventually(t, 10*time.Second, "junk nodes disconnected", func() bool {
		resp, err := fc.ListNodes(context.Background(), &fleetv1.ListNodesRequest{States: []fleetv1.NodeState{fleetv1.NodeState_NODE_STATE_DISCONNECTED}, PageSize: 1000})
		return err == nil && len(resp.GetNodes()) == junk
	})

	filler := filepath.Join(disk, "filler")
	fillDisk(t, filler)
	// A full disk still takes the commits that fit in the pages the store's file already holds
	// free. Small writes (each call's audit record) use those up until even they fail, so the
	// GC step's larger write cannot fit.
	i, failed := 0, 0
	fleettest.Eventually(t, 20*time.Second, "writes failing on a full disk", func() bool {
		i++
		_, err := fc.DrainNode(context.Background(), &fleetv1.DrainNodeRequest{Id: fmt.Sprintf("absent-%d", i)})
		if status.Code(err) == codes.Unavailable {
			failed++
		} else {
			failed = 0
		}
		return failed >= 5
	})
	t.Logf("writes failed after %d calls on the full disk", i-failed)
	if code, body := getBody(t, "http://"+cp.HTTPAddr()+"/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz %d on a full disk: %s", code, body)
	}
	clk.Advance(25 * time.Hour)
	waitGCSteps(t, cp)
	if got := nodeIDs(t, fc); len(got) != junk {
		t.Fatalf("%d nodes on a full disk, want all %d kept: removed without an audit record", len(got), junk)
	}
	if !strings.Contains(scrape(t, cp), `dspyfleet_reconcile_step_errors_total{step="nodegc"}`) {
		t.Error(`/metrics lacks dspyfleet_reconcile_step_errors_total{step="nodegc"}`)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 10*time.Second, "junk removed once the disk has room", func() bool { return len(nodeIDs(t, fc)) == 0 })
	recs := systemRecords(t, fc, junk)
	for _, r := range recs {
		if r.GetCode() != codes.OK.String() {
			t.Fatalf("audit record %v, want OK", r)
		}
	}
	if len(recs) != junk {
		t.Fatalf("%d system audit records, want %d", len(recs), junk)
	}
}
