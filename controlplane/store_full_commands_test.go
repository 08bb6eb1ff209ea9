package controlplane_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// writeFailures reads dspyfleet_store_write_failures_total from /metrics.
func writeFailures(t *testing.T, cp *fleettest.ControlPlane) float64 {
	t.Helper()
	_, m := getBody(t, "http://"+cp.HTTPAddr()+"/metrics")
	for line := range strings.SplitSeq(m, "\n") {
		if v, ok := strings.CutPrefix(line, "dspyfleet_store_write_failures_total "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("parse %q: %v", line, err)
			}
			return f
		}
	}
	t.Fatal("/metrics lacks dspyfleet_store_write_failures_total")
	return 0
}

// countCommands is how many commands the control plane holds for node.
func countCommands(t *testing.T, c fleetv1.FleetServiceClient, node string) int {
	t.Helper()
	resp, err := c.ListCommands(context.Background(), &fleetv1.ListCommandsRequest{NodeId: node, PageSize: 1000})
	if err != nil {
		t.Fatalf("ListCommands: %v", err)
	}
	return len(resp.GetCommands())
}

// bigFields are command-update fields large enough that storing them needs pages the full
// disk cannot give.
func bigFields() map[string]string {
	f := make(map[string]string)
	for i := range 64 {
		f["freed_"+strconv.Itoa(i)] = strings.Repeat("x", 1024)
	}
	return f
}

// TestFullDiskAuditBeforeAckAndCommandUpdates fills the data directory's disk. A SendCommand
// whose audit record cannot be written is refused with Unavailable naming the cause and queues
// nothing; an agent's command update whose write fails keeps its session (its next report is
// acknowledged) and is not lost: it is stored once space is freed and survives a restart.
func TestFullDiskAuditBeforeAckAndCommandUpdates(t *testing.T) {
	disk := mountSmallDisk(t)
	cfg := fleettest.FastConfig(t)
	cfg.DataDir = filepath.Join(disk, "data")
	cp := fleettest.StartControlPlane(t, cfg)
	fc := cp.Fleet(t)
	ctx := context.Background()

	stream := open(t, cp)
	h := hello("n1", "i-1")
	h.GetHello().ReportInterval = durationpb.New(time.Minute)
	send(t, stream, h)
	msgs := make(chan *fleetv1.ConnectResponse, 4096)
	go func() {
		defer close(msgs)
		for {
			m, err := stream.Recv()
			if err != nil {
				return
			}
			msgs <- m
		}
	}()
	next := func(what string, ok func(*fleetv1.ConnectResponse) bool) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case m, open := <-msgs:
				if !open {
					t.Fatalf("the session ended while waiting for %s", what)
				}
				if ok(m) {
					return
				}
			case <-deadline:
				t.Fatalf("no %s within 10s", what)
			}
		}
	}
	next("Welcome", func(m *fleetv1.ConnectResponse) bool { return m.GetWelcome() != nil })

	first, err := fc.SendCommand(ctx, &fleetv1.SendCommandRequest{NodeId: "n1", Kind: fleetv1.CommandKind_COMMAND_KIND_CLEANUP, Reason: "room on disk"})
	if err != nil {
		t.Fatalf("SendCommand with room on disk: %v", err)
	}
	id := first.GetCommand().GetCommand().GetId()
	next("the command", func(m *fleetv1.ConnectResponse) bool { return m.GetCommand().GetId() == id })
	send(t, stream, &fleetv1.ConnectRequest{Msg: &fleetv1.ConnectRequest_CommandUpdate{CommandUpdate: &fleetv1.CommandUpdate{
		Id: id, State: fleetv1.CommandState_COMMAND_STATE_RUNNING, Detail: "cleaning",
	}}})

	filler := filepath.Join(disk, "filler")
	fillDisk(t, filler)
	// Calls that find room in the file's free pages succeed; once none is left, the audit
	// record cannot be written and the call must be refused before it queues anything.
	refused := false
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && !refused; {
		before := countCommands(t, fc, "n1")
		_, err := fc.SendCommand(ctx, &fleetv1.SendCommandRequest{NodeId: "n1", Kind: fleetv1.CommandKind_COMMAND_KIND_CLEANUP, Reason: strings.Repeat("r", 200)})
		if status.Code(err) == codes.Unavailable && strings.Contains(err.Error(), "audit record cannot be written") {
			refused = true
			if !strings.Contains(err.Error(), "no space left on device") || !strings.Contains(err.Error(), "/readyz") {
				t.Errorf("refusal %q, want it to name the store's error and /readyz", err)
			}
			if after := countCommands(t, fc, "n1"); after != before {
				t.Errorf("a SendCommand refused for its audit record changed the queue: %d commands, then %d", before, after)
			}
		}
	}
	if !refused {
		t.Fatal("no SendCommand was refused with Unavailable for its audit record on a full disk")
	}

	failed := writeFailures(t, cp)
	send(t, stream, &fleetv1.ConnectRequest{Msg: &fleetv1.ConnectRequest_CommandUpdate{CommandUpdate: &fleetv1.CommandUpdate{
		Id: id, State: fleetv1.CommandState_COMMAND_STATE_SUCCEEDED, Detail: "cleaned", Fields: bigFields(),
	}}})
	send(t, stream, report(1, 10))
	next("the report's ack after a failed command-update write", func(m *fleetv1.ConnectResponse) bool { return m.GetAck().GetSeq() == 1 })
	if got := writeFailures(t, cp); got <= failed {
		t.Fatalf("write failures %v after the update, was %v: the update's write did not fail, so the test did not exercise it", got, failed)
	}
	got, err := fc.GetCommand(ctx, &fleetv1.GetCommandRequest{Id: id})
	if err != nil || got.GetCommand().GetState() != fleetv1.CommandState_COMMAND_STATE_SUCCEEDED {
		t.Fatalf("GetCommand on a full disk = %v, %v; want SUCCEEDED", got, err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	// The kept update is written on the next expiry tick, or at the latest when the control
	// plane stops.
	cp.Stop(t)
	cp = fleettest.StartControlPlane(t, cfg)
	got, err = cp.Fleet(t).GetCommand(ctx, &fleetv1.GetCommandRequest{Id: id})
	if err != nil || got.GetCommand().GetState() != fleetv1.CommandState_COMMAND_STATE_SUCCEEDED || got.GetCommand().GetDetail() != "cleaned" || len(got.GetCommand().GetFields()) != 64 {
		t.Fatalf("GetCommand after a restart = %v, %v; want SUCCEEDED \"cleaned\": the update written after the failure was lost", got, err)
	}
}
