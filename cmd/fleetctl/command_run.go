package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"google.golang.org/protobuf/proto"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// commandEndedError reports a waited-for command that ended other than succeeded.
type commandEndedError struct{ rec *fleetv1.CommandRecord }

func (e *commandEndedError) Error() string {
	r := e.rec
	return fmt.Sprintf("command %s (%s on %s) %s: %s", r.GetCommand().GetId(), kindName(r.GetCommand().GetKind()),
		r.GetNodeId(), commandStateName(r.GetState()), orDash(r.GetDetail()))
}

// sendCommand runs "cmd send". With --wait it watches the node's commands from before the
// command is sent, so that no change is missed, and returns a commandEndedError unless the
// command succeeded.
func sendCommand(ctx context.Context, client fleetv1.FleetServiceClient, s *send, g *globals, stdout io.Writer) error {
	var w *commandWatch
	if s.wait {
		w = startCommandWatch(ctx, client, s.req.GetNodeId())
		defer w.stop()
	}
	rctx, cancel := withTimeout(ctx, g.timeout)
	resp, err := client.SendCommand(rctx, s.req)
	cancel()
	if err != nil {
		return err
	}
	rec := resp.GetCommand()
	if g.output.structured() && !s.wait {
		return g.output.write(stdout, jsonIndented, rec)
	}
	if !g.output.structured() {
		if err := writeSummary(stdout, rec); err != nil {
			return err
		}
		if rec.GetCommand().GetKind() == fleetv1.CommandKind_COMMAND_KIND_DRAIN {
			if err := writeDrainNote(stdout, rec); err != nil {
				return err
			}
		}
	}
	if !s.wait {
		return nil
	}

	seen := 1 // the queued transition is in the summary
	rec, err = w.await(ctx, client, rec, g.timeout, func(r *fleetv1.CommandRecord) error {
		if g.output.structured() {
			return nil
		}
		var werr error
		seen, werr = writeTransitions(stdout, r, seen, time.Now())
		return werr
	})
	if err != nil {
		return err
	}
	if g.output.structured() {
		err = g.output.write(stdout, jsonIndented, rec)
	} else {
		err = writeOutcome(stdout, rec)
	}
	if err != nil {
		return err
	}
	if rec.GetState() != fleetv1.CommandState_COMMAND_STATE_SUCCEEDED {
		return &commandEndedError{rec: rec}
	}
	return nil
}

// listCommands runs "cmd list".
func listCommands(ctx context.Context, client fleetv1.FleetServiceClient, req *fleetv1.ListCommandsRequest, g *globals, stdout io.Writer) error {
	ctx, cancel := withTimeout(ctx, g.timeout)
	defer cancel()
	resp, err := allCommands(ctx, client, req)
	if err != nil {
		return err
	}
	if g.output.structured() {
		return g.output.write(stdout, jsonIndented, resp)
	}
	return writeCommandTable(stdout, resp.GetCommands(), time.Now())
}

// defaultCommandLimit is how many commands "cmd list" lists without --limit.
const defaultCommandLimit = 100

// allCommands calls ListCommands page by page until it has the request's limit of commands
// (defaultCommandLimit when 0) or the oldest, and returns them in one response, newest first.
func allCommands(ctx context.Context, client fleetv1.FleetServiceClient, req *fleetv1.ListCommandsRequest) (*fleetv1.ListCommandsResponse, error) {
	limit := int(req.GetLimit())
	if limit == 0 {
		limit = defaultCommandLimit
	}
	req = proto.CloneOf(req)
	req.Limit = 0
	return listAll(ctx, req, limit, client.ListCommands)
}

// getCommand runs "cmd get".
func getCommand(ctx context.Context, client fleetv1.FleetServiceClient, req *fleetv1.GetCommandRequest, g *globals, stdout io.Writer) error {
	ctx, cancel := withTimeout(ctx, g.timeout)
	defer cancel()
	resp, err := client.GetCommand(ctx, req)
	if err != nil {
		return err
	}
	if g.output.structured() {
		return g.output.write(stdout, jsonIndented, resp.GetCommand())
	}
	return writeCommand(stdout, resp.GetCommand(), time.Now())
}

// cancelCommand runs "cmd cancel".
func cancelCommand(ctx context.Context, client fleetv1.FleetServiceClient, req *fleetv1.CancelCommandRequest, g *globals, stdout io.Writer) error {
	ctx, cancel := withTimeout(ctx, g.timeout)
	defer cancel()
	resp, err := client.CancelCommand(ctx, req)
	if err != nil {
		return err
	}
	if g.output.structured() {
		return g.output.write(stdout, jsonIndented, resp.GetCommand())
	}
	return writeSummary(stdout, resp.GetCommand())
}

// watchCommands runs "cmd watch": it prints every command change until the server ends the
// stream or ctx ends, both of which return nil. The global timeout does not apply: the control
// plane sends nothing until a command changes, which may take a long time.
func watchCommands(ctx context.Context, client fleetv1.FleetServiceClient, req *fleetv1.WatchCommandsRequest, g *globals, stdout io.Writer) error {
	stream, err := client.WatchCommands(ctx, req)
	if err != nil {
		return watchEnd(ctx, ctx, err)
	}
	for {
		ev, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return watchEnd(ctx, ctx, err)
		}
		if g.output.structured() {
			err = g.output.write(stdout, jsonCompact, ev)
		} else {
			err = writeCommandEvent(stdout, ev, time.Now())
		}
		if err != nil {
			return err
		}
	}
}
