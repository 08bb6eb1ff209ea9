package main

import (
	"context"
	"fmt"
	"io"
	"time"

	cmdspec "github.com/dspyfleet/dspyfleet/pkg/command"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// parseDrain parses the arguments of "nodes drain" into its request.
func parseDrain(g *globals, args []string) (*fleetv1.DrainNodeRequest, error) {
	req := &fleetv1.DrainNodeRequest{}
	fs := newFlagSet("nodes drain", g)
	fs.Var(positiveDuration{&req.Timeout}, "deadline", "")
	fs.StringVar(&req.Reason, "reason", "", "")
	pos, err := parseCommand(fs, g, args, drainUsage)
	if err != nil {
		return nil, err
	}
	if req.Id, err = onlyArg(pos, drainUsage, "nodes drain", "node ID"); err != nil {
		return nil, err
	}
	return req, nil
}

// parseUndrain parses the arguments of "nodes undrain" into its request.
func parseUndrain(g *globals, args []string) (*fleetv1.UndrainNodeRequest, error) {
	req := &fleetv1.UndrainNodeRequest{}
	fs := newFlagSet("nodes undrain", g)
	fs.StringVar(&req.Reason, "reason", "", "")
	pos, err := parseCommand(fs, g, args, undrainUsage)
	if err != nil {
		return nil, err
	}
	if req.Id, err = onlyArg(pos, undrainUsage, "nodes undrain", "node ID"); err != nil {
		return nil, err
	}
	return req, nil
}

// onlyArg returns the one positional argument of the command name, a usage error for usage if
// it is missing, empty or followed by more; what names the argument.
func onlyArg(pos []string, usage, name, what string) (string, error) {
	switch {
	case len(pos) == 0 || pos[0] == "":
		return "", usageErrorf(usage, "%s: missing %s", name, what)
	case len(pos) > 1:
		return "", usageErrorf(usage, "%s: unexpected argument %q", name, pos[1])
	}
	return pos[0], nil
}

// drainNode runs "nodes drain".
func drainNode(ctx context.Context, client fleetv1.FleetServiceClient, req *fleetv1.DrainNodeRequest, g *globals, stdout io.Writer) error {
	ctx, cancel := withTimeout(ctx, g.timeout)
	defer cancel()
	resp, err := client.DrainNode(ctx, req)
	if err != nil {
		return err
	}
	rec := resp.GetCommand()
	if g.output.structured() {
		return g.output.write(stdout, jsonIndented, rec)
	}
	if err := writeSummary(stdout, rec); err != nil {
		return err
	}
	return writeDrainNote(stdout, rec)
}

// writeDrainNote tells what the queued drain command rec means for its node.
func writeDrainNote(w io.Writer, rec *fleetv1.CommandRecord) error {
	// The server records the drain timeout it applied among the params.
	deadline := cmdspec.DrainTimeout(rec.GetCommand().GetParams(), 5*time.Minute)
	_, err := fmt.Fprintf(w, "Node %s is now draining: out of routing at once, drained when its agent has no request in flight (within %s).\n",
		rec.GetNodeId(), deadline)
	return err
}

// undrainNode runs "nodes undrain".
func undrainNode(ctx context.Context, client fleetv1.FleetServiceClient, req *fleetv1.UndrainNodeRequest, g *globals, stdout io.Writer) error {
	ctx, cancel := withTimeout(ctx, g.timeout)
	defer cancel()
	resp, err := client.UndrainNode(ctx, req)
	if err != nil {
		return err
	}
	rec := resp.GetCommand()
	if g.output.structured() {
		return g.output.write(stdout, jsonIndented, rec)
	}
	if err := writeSummary(stdout, rec); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "Node %s returns to ready when its agent confirms.\n", rec.GetNodeId())
	return err
}
