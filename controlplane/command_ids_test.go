package controlplane_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestMalformedCommandIDs: an empty or malformed command id is InvalidArgument naming the id at
// the API, and an agent's update for one is dropped without ending its session.
func TestMalformedCommandIDs(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	fc := cp.Fleet(t)
	ctx := context.Background()
	for _, id := range []string{"", "nope", strings.Repeat("A", 32)} {
		_, err := fc.GetCommand(ctx, &fleetv1.GetCommandRequest{Id: id})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "id:") {
			t.Errorf("GetCommand(%q) = %v, want InvalidArgument naming id", id, err)
		}
		_, err = fc.CancelCommand(ctx, &fleetv1.CancelCommandRequest{Id: id})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "id:") {
			t.Errorf("CancelCommand(%q) = %v, want InvalidArgument naming id", id, err)
		}
	}
	if _, err := fc.GetCommand(ctx, &fleetv1.GetCommandRequest{Id: "0123456789abcdef0123456789abcdef"}); status.Code(err) != codes.NotFound {
		t.Errorf("GetCommand of a well-formed unknown id = %v, want NotFound", err)
	}

	s := connect(t, cp, "n1", "i1")
	send(t, s, &fleetv1.ConnectRequest{Msg: &fleetv1.ConnectRequest_CommandUpdate{CommandUpdate: &fleetv1.CommandUpdate{
		State: fleetv1.CommandState_COMMAND_STATE_FAILED, Detail: "refused: malformed command"}}})
	send(t, s, report(1, 5))
	waitAck(t, s, 1)
}
