package main

import (
	"context"
	"flag"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// parseNodes parses "fleetctl nodes <command>"; args follow "nodes".
func parseNodes(g *globals, args []string) (command, error) {
	fs := newFlagSet("nodes", g)
	if err := fs.Parse(args); err != nil {
		return nil, &usageError{usage: nodesUsage, err: err}
	}
	args = fs.Args()
	if len(args) == 0 {
		return nil, usageErrorf(nodesUsage, "nodes: missing command")
	}
	switch args[0] {
	case "list":
		req, err := parseList(g, args[1:])
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
			return listNodes(ctx, fleetv1.NewFleetServiceClient(conn), req, g, stdout)
		}, nil
	case "get":
		req, err := parseGet(g, args[1:])
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
			return getNode(ctx, fleetv1.NewFleetServiceClient(conn), req, g, stdout)
		}, nil
	case "watch":
		req, err := parseWatch(g, args[1:])
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
			return watchNodes(ctx, fleetv1.NewFleetServiceClient(conn), req, g, stdout)
		}, nil
	case "drain":
		req, err := parseDrain(g, args[1:])
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
			return drainNode(ctx, fleetv1.NewFleetServiceClient(conn), req, g, stdout)
		}, nil
	case "undrain":
		req, err := parseUndrain(g, args[1:])
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
			return undrainNode(ctx, fleetv1.NewFleetServiceClient(conn), req, g, stdout)
		}, nil
	}
	return nil, usageErrorf(nodesUsage, "nodes: unknown command %q", args[0])
}

// parseList parses the arguments of "nodes list" into its request.
func parseList(g *globals, args []string) (*fleetv1.ListNodesRequest, error) {
	req := &fleetv1.ListNodesRequest{Labels: map[string]string{}}
	fs := newFlagSet("nodes list", g)
	fs.StringVar(&req.Pool, "pool", "", "")
	fs.Var((*stateList)(&req.States), "state", "")
	fs.Var(labelSet(req.Labels), "label", "")
	pos, err := parseCommand(fs, g, args, listUsage)
	if err != nil {
		return nil, err
	}
	if len(pos) > 0 {
		return nil, usageErrorf(listUsage, "nodes list: unexpected argument %q", pos[0])
	}
	return req, nil
}

// parseGet parses the arguments of "nodes get" into its request.
func parseGet(g *globals, args []string) (*fleetv1.GetNodeRequest, error) {
	pos, err := parseCommand(newFlagSet("nodes get", g), g, args, getUsage)
	if err != nil {
		return nil, err
	}
	switch {
	case len(pos) == 0 || pos[0] == "":
		return nil, usageErrorf(getUsage, "nodes get: missing node ID")
	case len(pos) > 1:
		return nil, usageErrorf(getUsage, "nodes get: unexpected argument %q", pos[1])
	}
	return &fleetv1.GetNodeRequest{Id: pos[0]}, nil
}

// parseWatch parses the arguments of "nodes watch" into its request.
func parseWatch(g *globals, args []string) (*fleetv1.WatchNodesRequest, error) {
	req := &fleetv1.WatchNodesRequest{}
	fs := newFlagSet("nodes watch", g)
	fs.StringVar(&req.Pool, "pool", "", "")
	fs.BoolVar(&req.IncludeReports, "reports", false, "")
	pos, err := parseCommand(fs, g, args, watchUsage)
	if err != nil {
		return nil, err
	}
	if len(pos) > 0 {
		return nil, usageErrorf(watchUsage, "nodes watch: unexpected argument %q", pos[0])
	}
	return req, nil
}

// parseCommand parses a command's args with fs, which holds the command's and the global flags,
// allowing flags after positional arguments ("get web-1 -o json"); everything after "--" is
// positional. It checks the global flags and returns the positional arguments. Errors are
// usage errors for usage.
func parseCommand(fs *flag.FlagSet, g *globals, args []string, usage string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, &usageError{usage: usage, err: err}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if g.timeout < 0 {
		return nil, usageErrorf(usage, "--timeout must not be negative, got %v", g.timeout)
	}
	return pos, nil
}

// listNodes runs "nodes list".
func listNodes(ctx context.Context, client fleetv1.FleetServiceClient, req *fleetv1.ListNodesRequest, g *globals, stdout io.Writer) error {
	ctx, cancel := withTimeout(ctx, g.timeout)
	defer cancel()
	resp, err := allNodes(ctx, client, req)
	if err != nil {
		return err
	}
	if g.output.structured() {
		return g.output.write(stdout, jsonIndented, resp)
	}
	return writeNodeTable(stdout, resp.GetNodes(), time.Now(), g.output == formatWide)
}

// allNodes calls ListNodes page by page until the last page and returns every node in one
// response.
func allNodes(ctx context.Context, client fleetv1.FleetServiceClient, req *fleetv1.ListNodesRequest) (*fleetv1.ListNodesResponse, error) {
	return listAll(ctx, req, 0, client.ListNodes)
}

// getNode runs "nodes get".
func getNode(ctx context.Context, client fleetv1.FleetServiceClient, req *fleetv1.GetNodeRequest, g *globals, stdout io.Writer) error {
	ctx, cancel := withTimeout(ctx, g.timeout)
	defer cancel()
	resp, err := client.GetNode(ctx, req)
	if err != nil {
		return err
	}
	if g.output.structured() {
		return g.output.write(stdout, jsonIndented, resp.GetNode())
	}
	return writeNode(stdout, resp.GetNode(), time.Now())
}

// watchNodes runs "nodes watch": it prints the events of a WatchNodes stream until the server ends
// the stream or ctx ends, both of which return nil. With a timeout in g, the first event must
// arrive within it.
func watchNodes(ctx context.Context, client fleetv1.FleetServiceClient, req *fleetv1.WatchNodesRequest, g *globals, stdout io.Writer) error {
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var firstEvent *time.Timer
	if g.timeout > 0 {
		firstEvent = time.AfterFunc(g.timeout, func() {
			cancel(status.Errorf(codes.DeadlineExceeded, "no event from %s within %v", g.addr, g.timeout))
		})
		defer firstEvent.Stop()
	}

	stream, err := client.WatchNodes(sctx, req)
	if err != nil {
		return watchEnd(ctx, sctx, err)
	}
	for {
		ev, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return watchEnd(ctx, sctx, err)
		}
		if firstEvent != nil {
			firstEvent.Stop()
		}
		if g.output.structured() {
			err = g.output.write(stdout, jsonCompact, ev)
		} else {
			err = writeEvent(stdout, ev, time.Now())
		}
		if err != nil {
			return err
		}
	}
}

// watchEnd turns the error that ended a watch into its result: nil once ctx (the command's
// context) is done, the first-event timeout if it cancelled sctx, else err.
func watchEnd(ctx, sctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	if cause := context.Cause(sctx); cause != nil {
		return cause
	}
	return err
}
