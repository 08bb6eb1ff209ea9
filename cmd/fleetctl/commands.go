package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"

	cmdspec "github.com/dspyfleet/dspyfleet/pkg/command"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// parseCmd parses "fleetctl cmd <command>"; args follow "cmd".
func parseCmd(g *globals, args []string) (command, error) {
	fs := newFlagSet("cmd", g)
	if err := fs.Parse(args); err != nil {
		return nil, &usageError{usage: cmdUsage, err: err}
	}
	args = fs.Args()
	if len(args) == 0 {
		return nil, usageErrorf(cmdUsage, "cmd: missing command")
	}
	switch args[0] {
	case "send":
		s, err := parseSend(g, args[1:])
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
			return sendCommand(ctx, fleetv1.NewFleetServiceClient(conn), s, g, stdout)
		}, nil
	case "list":
		req, err := parseCmdList(g, args[1:])
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
			return listCommands(ctx, fleetv1.NewFleetServiceClient(conn), req, g, stdout)
		}, nil
	case "get":
		req, err := parseCmdGet(g, args[1:])
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
			return getCommand(ctx, fleetv1.NewFleetServiceClient(conn), req, g, stdout)
		}, nil
	case "cancel":
		req, err := parseCancel(g, args[1:])
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
			return cancelCommand(ctx, fleetv1.NewFleetServiceClient(conn), req, g, stdout)
		}, nil
	case "watch":
		req, err := parseCmdWatch(g, args[1:])
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
			return watchCommands(ctx, fleetv1.NewFleetServiceClient(conn), req, g, stdout)
		}, nil
	}
	return nil, usageErrorf(cmdUsage, "cmd: unknown command %q", args[0])
}

// send is a parsed "cmd send": the request, and whether to wait for the command to finish.
type send struct {
	req  *fleetv1.SendCommandRequest
	wait bool
}

// paramFlags are the flags of "cmd send" that set a parameter, each for one kind.
var paramFlags = map[string]struct {
	kind  fleetv1.CommandKind
	param string
}{
	"version":   {fleetv1.CommandKind_COMMAND_KIND_DEPLOY, cmdspec.ParamVersion},
	"instances": {fleetv1.CommandKind_COMMAND_KIND_SCALE, cmdspec.ParamInstances},
	"dry-run":   {fleetv1.CommandKind_COMMAND_KIND_CLEANUP, cmdspec.ParamDryRun},
	"deadline":  {fleetv1.CommandKind_COMMAND_KIND_DRAIN, cmdspec.ParamTimeout},
	"action":    {fleetv1.CommandKind_COMMAND_KIND_CUSTOM, cmdspec.ParamAction},
}

// requiredFlags maps a kind to the flag it cannot go without.
var requiredFlags = map[fleetv1.CommandKind]string{
	fleetv1.CommandKind_COMMAND_KIND_DEPLOY: "version",
	fleetv1.CommandKind_COMMAND_KIND_SCALE:  "instances",
	fleetv1.CommandKind_COMMAND_KIND_CUSTOM: "action",
}

// parseSend parses the arguments of "cmd send". Its --timeout is the command's (how long it
// may wait to start), so the global --timeout is not among its flags.
func parseSend(g *globals, args []string) (*send, error) {
	req := &fleetv1.SendCommandRequest{Params: map[string]string{}}
	s := &send{req: req}
	fs := newBareFlagSet("cmd send")
	g.registerButTimeout(fs)
	fs.Var(positiveDuration{&req.Timeout}, "timeout", "")
	fs.StringVar(&req.Reason, "reason", "", "")
	fs.BoolVar(&s.wait, "wait", false, "")
	fs.BoolVar(&req.OverrideWindow, "now", false, "")
	fs.Func("version", "", func(v string) error {
		if err := cmdspec.ValidVersion(v); err != nil {
			return err
		}
		req.Params[cmdspec.ParamVersion] = v
		return nil
	})
	fs.Func("instances", "", func(v string) error {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			return errors.New("not a whole number")
		case n < 0 || n > cmdspec.MaxInstances:
			return fmt.Errorf("must be between 0 and %d", cmdspec.MaxInstances)
		}
		req.Params[cmdspec.ParamInstances] = strconv.Itoa(n)
		return nil
	})
	fs.BoolFunc("dry-run", "", func(v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return errors.New("must be true or false")
		}
		req.Params[cmdspec.ParamDryRun] = strconv.FormatBool(b)
		return nil
	})
	fs.Func("action", "", func(v string) error {
		if err := cmdspec.ValidActionName(v); err != nil {
			return err
		}
		req.Params[cmdspec.ParamAction] = v
		return nil
	})
	var deadline *durationpb.Duration
	fs.Var(positiveDuration{&deadline}, "deadline", "")

	pos, err := parseCommand(fs, g, args, sendUsage)
	if err != nil {
		return nil, err
	}
	switch {
	case len(pos) == 0 || pos[0] == "":
		return nil, usageErrorf(sendUsage, "cmd send: missing node ID")
	case len(pos) == 1:
		return nil, usageErrorf(sendUsage, "cmd send: missing command kind (%s)", strings.Join(kindNames(), ", "))
	case len(pos) > 2:
		return nil, usageErrorf(sendUsage, "cmd send: unexpected argument %q", pos[2])
	}
	req.NodeId = pos[0]
	if req.Kind, err = parseKind(pos[1]); err != nil {
		return nil, usageErrorf(sendUsage, "cmd send: %v", err)
	}
	if deadline != nil {
		req.Params[cmdspec.ParamTimeout] = deadline.AsDuration().String()
	}

	var misplaced error
	fs.Visit(func(f *flag.Flag) {
		if p, ok := paramFlags[f.Name]; ok && p.kind != req.Kind && misplaced == nil {
			misplaced = usageErrorf(sendUsage, "cmd send: --%s applies only to %s, not %s", f.Name, kindName(p.kind), kindName(req.Kind))
		}
	})
	if misplaced != nil {
		return nil, misplaced
	}
	if name, ok := requiredFlags[req.Kind]; ok {
		if _, given := req.Params[paramFlags[name].param]; !given {
			return nil, usageErrorf(sendUsage, "cmd send: %s needs --%s", kindName(req.Kind), name)
		}
	}
	return s, nil
}

// parseCmdList parses the arguments of "cmd list" into its request.
func parseCmdList(g *globals, args []string) (*fleetv1.ListCommandsRequest, error) {
	req := &fleetv1.ListCommandsRequest{}
	fs := newFlagSet("cmd list", g)
	fs.StringVar(&req.NodeId, "node", "", "")
	fs.Var((*commandStateList)(&req.States), "state", "")
	fs.Var((*kindList)(&req.Kinds), "kind", "")
	fs.Func("limit", "", func(v string) (err error) {
		req.Limit, err = parseLimit(v)
		return err
	})
	pos, err := parseCommand(fs, g, args, cmdListUsage)
	if err != nil {
		return nil, err
	}
	if len(pos) > 0 {
		return nil, usageErrorf(cmdListUsage, "cmd list: unexpected argument %q", pos[0])
	}
	return req, nil
}

// parseCmdGet parses the arguments of "cmd get" into its request.
func parseCmdGet(g *globals, args []string) (*fleetv1.GetCommandRequest, error) {
	pos, err := parseCommand(newFlagSet("cmd get", g), g, args, cmdGetUsage)
	if err != nil {
		return nil, err
	}
	id, err := onlyArg(pos, cmdGetUsage, "cmd get", "command ID")
	if err != nil {
		return nil, err
	}
	return &fleetv1.GetCommandRequest{Id: id}, nil
}

// parseCancel parses the arguments of "cmd cancel" into its request.
func parseCancel(g *globals, args []string) (*fleetv1.CancelCommandRequest, error) {
	req := &fleetv1.CancelCommandRequest{}
	fs := newFlagSet("cmd cancel", g)
	fs.StringVar(&req.Reason, "reason", "", "")
	pos, err := parseCommand(fs, g, args, cancelUsage)
	if err != nil {
		return nil, err
	}
	if req.Id, err = onlyArg(pos, cancelUsage, "cmd cancel", "command ID"); err != nil {
		return nil, err
	}
	return req, nil
}

// parseCmdWatch parses the arguments of "cmd watch" into its request.
func parseCmdWatch(g *globals, args []string) (*fleetv1.WatchCommandsRequest, error) {
	req := &fleetv1.WatchCommandsRequest{}
	fs := newFlagSet("cmd watch", g)
	fs.StringVar(&req.NodeId, "node", "", "")
	pos, err := parseCommand(fs, g, args, cmdWatchUsage)
	if err != nil {
		return nil, err
	}
	if len(pos) > 0 {
		return nil, usageErrorf(cmdWatchUsage, "cmd watch: unexpected argument %q", pos[0])
	}
	return req, nil
}
