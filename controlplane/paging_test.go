package controlplane_test

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// storeNodes writes n down nodes named node-00000... into the data directory of cfg, as a
// control plane that ran before left them.
func storeNodes(t *testing.T, dataDir string, n int) {
	t.Helper()
	st, err := store.Open(dataDir, 0)
	if err != nil {
		t.Fatal(err)
	}
	recs := make(map[string][]byte, n)
	for i := range n {
		id := fmt.Sprintf("node-%05d", i)
		b, err := proto.Marshal(&fleetv1.Node{Id: id, Pool: "default", State: fleetv1.NodeState_NODE_STATE_DOWN})
		if err != nil {
			t.Fatal(err)
		}
		recs[id] = b
	}
	if err := st.PutNodes(recs); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestListNodesPagesEachNodeOnce pages through 10,000 nodes while nodes join before and after
// the cursor and known nodes come back (changing state): every node present from the first
// page to the last is listed exactly once, none twice. Offset paging would list a node twice
// for every join before the cursor.
func TestListNodesPagesEachNodeOnce(t *testing.T) {
	const total, pageSize = 10000, 400
	cfg := fleettest.FastConfig(t)
	cfg.MaxNodes = 2 * total
	storeNodes(t, cfg.DataDir, total)
	cp := fleettest.StartControlPlane(t, cfg)
	fc := cp.Fleet(t)
	ctx := context.Background()

	seen := map[string]int{}
	req := &fleetv1.ListNodesRequest{PageSize: pageSize}
	joined := 0
	for pages := 0; ; pages++ {
		resp, err := fc.ListNodes(ctx, req)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		if got := len(resp.GetNodes()); got > pageSize {
			t.Fatalf("page %d has %d nodes, more than page_size %d", pages, got, pageSize)
		}
		for _, n := range resp.GetNodes() {
			seen[n.GetId()]++
		}
		if resp.GetNextPageToken() == "" {
			break
		}
		// Between pages: a node joins before the cursor, one after it, and a stored node
		// comes back, each through a real agent session.
		last := resp.GetNodes()[len(resp.GetNodes())-1].GetId()
		connect(t, cp, fmt.Sprintf("node-00000-new%02d", pages), "i-before")
		connect(t, cp, last+"-new", "i-after")
		connect(t, cp, fmt.Sprintf("node-%05d", (pages*pageSize+pageSize+7)%total), "i-back")
		joined += 2
		req = &fleetv1.ListNodesRequest{PageSize: pageSize, PageToken: resp.GetNextPageToken()}
	}
	for i := range total {
		id := fmt.Sprintf("node-%05d", i)
		if seen[id] != 1 {
			t.Errorf("%s listed %d times, want once", id, seen[id])
		}
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("%s listed %d times", id, n)
		}
	}
	if joined == 0 {
		t.Fatal("no node joined between pages: the walk had one page")
	}
}

// TestListNodesPageErrors: a page token from another filter, a made-up token and a negative
// page size are refused naming the field; a page size above the maximum is lowered to it.
func TestListNodesPageErrors(t *testing.T) {
	cfg := fleettest.FastConfig(t)
	storeNodes(t, cfg.DataDir, 1200)
	cp := fleettest.StartControlPlane(t, cfg)
	fc := cp.Fleet(t)
	ctx := context.Background()

	first, err := fc.ListNodes(ctx, &fleetv1.ListNodesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.GetNodes()) != 100 || first.GetNextPageToken() == "" {
		t.Fatalf("default page: %d nodes, token %q; want 100 and a token", len(first.GetNodes()), first.GetNextPageToken())
	}
	big, err := fc.ListNodes(ctx, &fleetv1.ListNodesRequest{PageSize: 5000})
	if err != nil {
		t.Fatal(err)
	}
	if len(big.GetNodes()) != 1000 {
		t.Fatalf("page_size 5000 returned %d nodes, want the maximum 1000", len(big.GetNodes()))
	}
	for _, tt := range []struct {
		name string
		req  *fleetv1.ListNodesRequest
		want string
	}{
		{"other filter", &fleetv1.ListNodesRequest{Pool: "other", PageToken: first.GetNextPageToken()}, "page_token"},
		{"made up", &fleetv1.ListNodesRequest{PageToken: "bm9kZS0wMDAxMA"}, "page_token"},
		{"negative", &fleetv1.ListNodesRequest{PageSize: -1}, "page_size"},
	} {
		_, err := fc.ListNodes(ctx, tt.req)
		if status.Code(err) != codes.InvalidArgument || badRequestField(err) != tt.want {
			t.Errorf("%s: %v, want InvalidArgument with a violation of %s", tt.name, err, tt.want)
		}
	}
}

// badRequestField is the field of the first google.rpc.BadRequest violation on err, or "".
func badRequestField(err error) string {
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 0 {
			return br.GetFieldViolations()[0].GetField()
		}
	}
	return ""
}

// TestListRevisionsPages: revisions page newest first by number; a revision stored between
// pages is not listed (it is newer than the walk) and none is listed twice or skipped.
func TestListRevisionsPages(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	cc := fleetv1.NewConfigServiceClient(fleettest.Dial(t, cp.GRPCAddr()))
	ctx := context.Background()
	apply := func(i int) {
		t.Helper()
		doc := fmt.Sprintf("routing:\n  web:\n    panic_threshold: %v\n", 0.01*float64(i+1))
		if _, err := cc.Apply(ctx, &fleetv1.ConfigServiceApplyRequest{Document: doc, Message: fmt.Sprint("change ", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 7 {
		apply(i)
	}
	var got []uint64
	req := &fleetv1.ConfigServiceListRevisionsRequest{PageSize: 3}
	for {
		resp, err := cc.ListRevisions(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range resp.GetRevisions() {
			got = append(got, r.GetNumber())
		}
		if resp.GetNextPageToken() == "" {
			break
		}
		apply(len(got) + 10)
		req.PageToken = resp.GetNextPageToken()
	}
	if want := []uint64{7, 6, 5, 4, 3, 2, 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("revisions %v, want %v", got, want)
	}
	old, err := cc.ListRevisions(ctx, &fleetv1.ConfigServiceListRevisionsRequest{Limit: 2})
	if err != nil || len(old.GetRevisions()) != 2 || old.GetRevisions()[0].GetNumber() != 9 || old.GetNextPageToken() == "" {
		t.Fatalf("limit 2 = %v, %v; want the two newest and a next page", old, err)
	}
}

// TestListCommandsPages: commands page newest first; one queued between pages is newer than
// the walk and is not listed, and every command queued before is listed exactly once.
func TestListCommandsPages(t *testing.T) {
	cfg := fleettest.FastConfig(t)
	storeNodes(t, cfg.DataDir, 1)
	cp := fleettest.StartControlPlane(t, cfg)
	fc := cp.Fleet(t)
	ctx := context.Background()
	queue := func() string {
		t.Helper()
		resp, err := fc.SendCommand(ctx, &fleetv1.SendCommandRequest{NodeId: "node-00000", Kind: fleetv1.CommandKind_COMMAND_KIND_CLEANUP})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetCommand().GetCommand().GetId()
	}
	var want []string
	for range 25 {
		want = append([]string{queue()}, want...)
	}
	var got []string
	req := &fleetv1.ListCommandsRequest{NodeId: "node-00000", PageSize: 10}
	for {
		resp, err := fc.ListCommands(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range resp.GetCommands() {
			got = append(got, r.GetCommand().GetId())
		}
		if resp.GetNextPageToken() == "" {
			break
		}
		queue()
		req.PageToken = resp.GetNextPageToken()
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("listed %v\nwant %v", got, want)
	}
}
