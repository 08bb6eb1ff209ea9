package api

import (
	"cmp"
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/dspyfleet/dspyfleet/controlplane/auth"
	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/commands"
	"github.com/dspyfleet/dspyfleet/controlplane/fleet"
	"github.com/dspyfleet/dspyfleet/internal/wire"
	"github.com/dspyfleet/dspyfleet/pkg/command"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// maxCommandTimeout bounds the deadline a caller may give a command.
const maxCommandTimeout = 7 * 24 * time.Hour

// DrainNode moves the node to draining at once and queues a drain command for its agent.
func (f *fleetService) DrainNode(ctx context.Context, req *fleetv1.DrainNodeRequest) (*fleetv1.DrainNodeResponse, error) {
	if err := cmp.Or(f.limits.CheckCommandInput(nil, req.GetReason()), f.checkNode(req.GetId())); err != nil {
		return nil, check.ToStatus(err)
	}
	timeout := commands.DefaultDrainTimeout
	if req.GetTimeout() != nil {
		timeout = req.GetTimeout().AsDuration()
	}
	params := map[string]string{command.ParamTimeout: timeout.String()}
	// The command must outlive the drain itself: the agent reports drained at the latest then.
	rec, err := f.cmds.CreateCtx(ctx, req.GetId(), fleetv1.CommandKind_COMMAND_KIND_DRAIN, params, commands.DefaultTimeout+timeout, requester(ctx), req.GetReason())
	if err != nil {
		return nil, check.ToStatus(err)
	}
	if err := f.reg.SetDrain(req.GetId(), true, false, "drain requested: "+commands.OrDefault(req.GetReason(), "by "+requester(ctx))); err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.DrainNodeResponse{Command: rec}, nil
}

// UndrainNode queues an undrain command; the node returns to ready when its agent confirms.
func (f *fleetService) UndrainNode(ctx context.Context, req *fleetv1.UndrainNodeRequest) (*fleetv1.UndrainNodeResponse, error) {
	if err := cmp.Or(f.limits.CheckCommandInput(nil, req.GetReason()), f.checkNode(req.GetId())); err != nil {
		return nil, check.ToStatus(err)
	}
	rec, err := f.cmds.CreateCtx(ctx, req.GetId(), fleetv1.CommandKind_COMMAND_KIND_UNDRAIN, nil, commands.DefaultTimeout, requester(ctx), req.GetReason())
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.UndrainNodeResponse{Command: rec}, nil
}

// SendCommand validates and durably queues a command. A disruptive one (restart, deploy,
// cleanup, scale down) for a node whose pool has a maintenance window that is not open is held
// until the window opens, unless the request overrides the window; either is noted in the
// call's audit record.
func (f *fleetService) SendCommand(ctx context.Context, req *fleetv1.SendCommandRequest) (*fleetv1.SendCommandResponse, error) {
	if err := cmp.Or(f.limits.CheckCommandInput(req.GetParams(), req.GetReason()), f.checkNode(req.GetNodeId())); err != nil {
		return nil, check.ToStatus(err)
	}
	if _, ok := fleetv1.CommandKind_name[int32(req.GetKind())]; !ok || req.GetKind() == fleetv1.CommandKind_COMMAND_KIND_UNSPECIFIED {
		return nil, check.ToStatus(check.Invalidf("kind: %d is not a command kind; use one of %v", req.GetKind(), command.Kinds()))
	}
	timeout := commands.DefaultTimeout
	if t := req.GetTimeout(); t != nil {
		timeout = t.AsDuration()
		if !t.IsValid() || timeout <= 0 || timeout > maxCommandTimeout {
			return nil, check.ToStatus(check.Invalidf("timeout: %s must be positive (a deadline in the future) and at most %s", timeout, maxCommandTimeout))
		}
	}
	if err := command.Validate(wire.CommandKind(req.GetKind()), req.GetParams()); err != nil {
		return nil, check.ToStatus(check.Invalidf("%v", err))
	}
	if req.GetKind() == fleetv1.CommandKind_COMMAND_KIND_DRAIN {
		drain, err := f.DrainNode(ctx, &fleetv1.DrainNodeRequest{Id: req.GetNodeId(), Reason: req.GetReason(), Timeout: drainTimeoutParam(req.GetParams())})
		if err != nil {
			return nil, err
		}
		return &fleetv1.SendCommandResponse{Command: drain.GetCommand()}, nil
	}
	gate := commands.HeldByWindow
	if req.GetOverrideWindow() {
		gate = commands.OverrideWindow
	}
	rec, hold, err := f.cmds.Submit(ctx, req.GetNodeId(), req.GetKind(), req.GetParams(), timeout, requester(ctx), req.GetReason(), gate)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	switch {
	case hold.Held() && rec.GetWindowOverridden():
		auth.NoteAudit(ctx, fmt.Sprintf("command %s overrode maintenance window %s of pool %s (next opening %s): sent at once on request (--now)",
			rec.GetCommand().GetId(), hold.Window, hold.Pool, hold.Until.UTC().Format(time.RFC3339)))
	case hold.Held():
		auth.NoteAudit(ctx, "command "+rec.GetCommand().GetId()+" "+hold.Reason())
	}
	return &fleetv1.SendCommandResponse{Command: rec}, nil
}

// GetCommand returns one command with its history.
func (f *fleetService) GetCommand(_ context.Context, req *fleetv1.GetCommandRequest) (*fleetv1.GetCommandResponse, error) {
	rec, err := f.cmds.Get(req.GetId())
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.GetCommandResponse{Command: rec}, nil
}

// ListCommands returns the matching commands, newest first.
func (f *fleetService) ListCommands(_ context.Context, req *fleetv1.ListCommandsRequest) (*fleetv1.ListCommandsResponse, error) {
	if req.GetNodeId() != "" && !check.ValidID(req.GetNodeId()) {
		return nil, check.ToStatus(check.Invalidf("node_id: %q is not a valid node id", check.Truncate(req.GetNodeId())))
	}
	page, err := parsePage(req, int(req.GetLimit()), check.DefaultPageSize)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	var before []byte
	if page.After != "" {
		if before, err = hex.DecodeString(page.After); err != nil {
			return nil, check.ToStatus(check.Invalidf("page_token: holds no command key; start again without one"))
		}
	}
	recs, last, more := f.cmds.Page(req, before, page.Size)
	return &fleetv1.ListCommandsResponse{Commands: recs, NextPageToken: page.Next(hex.EncodeToString(last), more)}, nil
}

// CancelCommand cancels a command that has not been delivered.
func (f *fleetService) CancelCommand(_ context.Context, req *fleetv1.CancelCommandRequest) (*fleetv1.CancelCommandResponse, error) {
	if err := f.limits.CheckCommandInput(nil, req.GetReason()); err != nil {
		return nil, check.ToStatus(err)
	}
	rec, err := f.cmds.Cancel(req.GetId(), req.GetReason())
	if err != nil {
		return nil, check.ToStatus(err)
	}
	if rec.GetCommand().GetKind() == fleetv1.CommandKind_COMMAND_KIND_DRAIN {
		_ = f.reg.SetDrain(rec.GetNodeId(), false, false, "drain cancelled before delivery")
	}
	return &fleetv1.CancelCommandResponse{Command: rec}, nil
}

// WatchCommands streams command changes until the client leaves.
func (f *fleetService) WatchCommands(req *fleetv1.WatchCommandsRequest, stream grpc.ServerStreamingServer[fleetv1.WatchCommandsResponse]) error {
	if req.GetNodeId() != "" && !check.ValidID(req.GetNodeId()) {
		return check.ToStatus(check.Invalidf("node_id: %q is not a valid node id", check.Truncate(req.GetNodeId())))
	}
	w := f.cmds.Watch(req.GetNodeId())
	defer f.cmds.Unwatch(w)
	for {
		select {
		case <-stream.Context().Done():
			return nil
		case <-f.stopping:
			return check.ToStatus(check.ErrShuttingDown)
		case rec, ok := <-w.C:
			if !ok {
				return check.ToStatus(f.cmds.WatchErr(w))
			}
			if err := stream.Send(&fleetv1.WatchCommandsResponse{Command: rec}); err != nil {
				return err
			}
		}
	}
}

// checkNode validates a node id and checks the node is known.
func (f *fleetService) checkNode(id string) error {
	if !check.ValidID(id) {
		return check.Invalidf("node id %q is not valid (1-63 letters, digits, '.', '_' or '-')", check.Truncate(id))
	}
	if !f.reg.Exists(id) {
		return fmt.Errorf("%w: no node with id %q; list nodes with fleetctl nodes list", check.ErrNodeNotFound, id)
	}
	return nil
}

// applyCommandEffects updates node state when a drain, undrain or restart command finishes.
func applyCommandEffects(reg *fleet.Registry, rec *fleetv1.CommandRecord) {
	ok := rec.GetState() == fleetv1.CommandState_COMMAND_STATE_SUCCEEDED
	switch rec.GetCommand().GetKind() {
	case fleetv1.CommandKind_COMMAND_KIND_DRAIN:
		if ok {
			_ = reg.SetDrain(rec.GetNodeId(), true, true, "drained: "+rec.GetDetail())
		} else {
			_ = reg.SetDrain(rec.GetNodeId(), true, false, "drain did not finish: "+rec.GetDetail()+"; still out of routing, undrain to return it")
		}
	case fleetv1.CommandKind_COMMAND_KIND_UNDRAIN:
		if ok {
			_ = reg.SetDrain(rec.GetNodeId(), false, false, "undrained: "+rec.GetDetail())
		}
	case fleetv1.CommandKind_COMMAND_KIND_RESTART:
		reg.ReleaseRestart(rec.GetNodeId(), rec.GetCommand().GetId(), strings.ToLower(strings.TrimPrefix(rec.GetState().String(), "COMMAND_STATE_"))+": "+rec.GetDetail())
	}
}

// requester names the caller of an admin RPC for the command's record: its identity and
// address.
func requester(ctx context.Context) string {
	name := "api"
	if id, ok := auth.IdentityFrom(ctx); ok {
		name = id.Name
	}
	return name + "@" + auth.PeerAddr(ctx)
}

// drainTimeoutParam converts a drain timeout parameter for DrainNode; nil means the default.
func drainTimeoutParam(p map[string]string) *durationpb.Duration {
	if _, ok := p[command.ParamTimeout]; !ok {
		return nil
	}
	return durationpb.New(command.DrainTimeout(p, commands.DefaultDrainTimeout))
}
