package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"google.golang.org/grpc"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// logsUsage is the usage of the logs command group.
const logsUsage = `Usage: fleetctl logs <top|templates> [flags] [args]

Commands:
  top         A pool's busiest log templates of the nodes' last report windows.
  templates   Every log template the control plane keeps for one node, with its figures.

Run "fleetctl logs <command> -h" for a command's flags.
`

// logsTopUsage is the usage of "logs top".
const logsTopUsage = `Usage: fleetctl logs top [--pool POOL] [--limit N]

List the busiest log templates of the pool's nodes in their last report windows, summed over
the nodes: error lines per minute first, then all lines. NEW marks a template first seen in the
last ten minutes; ANOMALY is how many standard deviations its rate stands above its baseline.
With -o json, the ListTopTemplatesResponse.

Flags:
  --pool POOL           the pool (default: every pool)
  --limit N             at most N templates, 1-1000 (default 20)

` + globalFlagsText

// logsTemplatesUsage is the usage of "logs templates".
const logsTemplatesUsage = `Usage: fleetctl logs templates NODE

Show a node's log figures as rules read them (node.logs) and every template the control plane
keeps for it, busiest first, with totals since first seen and, where the node's agent samples
them (logs.sample_errors), its recent error lines. With -o json, the ListNodeTemplatesResponse.

` + globalFlagsText

// defaultLogTop is how many templates "logs top" lists without --limit.
const defaultLogTop = 20

// parseLogs parses "fleetctl logs <command>"; args follow "logs".
func parseLogs(g *globals, args []string) (command, error) {
	fs := newFlagSet("logs", g)
	if err := fs.Parse(args); err != nil {
		return nil, &usageError{usage: logsUsage, err: err}
	}
	args = fs.Args()
	if len(args) == 0 {
		return nil, usageErrorf(logsUsage, "logs: missing command")
	}
	switch args[0] {
	case "top":
		fs := newFlagSet("logs top", g)
		pool := fs.String("pool", "", "")
		limit := fs.Int("limit", 0, "")
		pos, err := parseCommand(fs, g, args[1:], logsTopUsage)
		if err != nil {
			return nil, err
		}
		if len(pos) > 0 {
			return nil, usageErrorf(logsTopUsage, "logs top: unexpected argument %q", pos[0])
		}
		if *limit < 0 || *limit > 1000 {
			return nil, usageErrorf(logsTopUsage, "logs top: --limit %d must be between 1 and 1000", *limit)
		}
		req := &fleetv1.ListTopTemplatesRequest{Pool: *pool}
		return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
			ctx, cancel := withTimeout(ctx, g.timeout)
			defer cancel()
			resp, err := listAll(ctx, req, cmp.Or(*limit, defaultLogTop), fleetv1.NewLogServiceClient(conn).ListTopTemplates)
			if err != nil {
				return err
			}
			if g.output.structured() {
				return g.output.write(stdout, jsonIndented, resp)
			}
			return writeLogTemplates(stdout, resp.GetTemplates(), true)
		}, nil
	case "templates":
		fs := newFlagSet("logs templates", g)
		pos, err := parseCommand(fs, g, args[1:], logsTemplatesUsage)
		if err != nil {
			return nil, err
		}
		if len(pos) != 1 {
			return nil, usageErrorf(logsTemplatesUsage, "logs templates: want one node id, got %d arguments", len(pos))
		}
		req := &fleetv1.ListNodeTemplatesRequest{NodeId: pos[0]}
		return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
			ctx, cancel := withTimeout(ctx, g.timeout)
			defer cancel()
			resp, err := listAll(ctx, req, 0, fleetv1.NewLogServiceClient(conn).ListNodeTemplates)
			if err != nil {
				return err
			}
			if g.output.structured() {
				return g.output.write(stdout, jsonIndented, resp)
			}
			return writeNodeTemplates(stdout, req.GetNodeId(), resp)
		}, nil
	}
	return nil, usageErrorf(logsUsage, "logs: unknown command %q", args[0])
}

// writeNodeTemplates prints a node's log figures, its templates and their samples.
func writeNodeTemplates(w io.Writer, node string, resp *fleetv1.ListNodeTemplatesResponse) error {
	f := resp.GetFigures()
	fmt.Fprintf(w, "Node %s, last report window\n", node)
	fmt.Fprintf(w, "  Lines:      %d (%d errors, %.1f%%), %.1f errors/min\n", f.GetLines(), f.GetErrors(), 100*f.GetErrorRate(), f.GetErrorsPerMinute())
	fmt.Fprintf(w, "  New:        %d templates in the last 10 min, %.1f of their errors/min\n", f.GetNewTemplates(), f.GetNewTemplateErrorsPerMinute())
	fmt.Fprintf(w, "  Anomaly:    %.1f\n\n", f.GetAnomaly())
	if err := writeLogTemplates(w, resp.GetTemplates(), false); err != nil {
		return err
	}
	for _, t := range resp.GetTemplates() {
		if len(t.GetSamples()) == 0 {
			continue
		}
		fmt.Fprintf(w, "\nRecent errors of %s:\n", t.GetId())
		for _, s := range t.GetSamples() {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}
	return nil
}

// writeLogTemplates prints one template a row; pool rows show the nodes that reported it.
func writeLogTemplates(w io.Writer, ts []*fleetv1.LogTemplateStat, pool bool) error {
	if len(ts) == 0 {
		fmt.Fprintln(w, "No log templates.")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := "ID\tLINES/MIN\tERRORS/MIN\tBASELINE/MIN\tANOMALY\tLINES\tERRORS\tNEW\tTEMPLATE"
	if pool {
		head = "ID\tNODES\tLINES/MIN\tERRORS/MIN\tBASELINE/MIN\tANOMALY\tLINES\tERRORS\tNEW\tTEMPLATE"
	}
	fmt.Fprintln(tw, head)
	for _, t := range ts {
		isNew := ""
		if t.GetNew() {
			isNew = "NEW"
		}
		if pool {
			fmt.Fprintf(tw, "%s\t%d\t", t.GetId(), t.GetNodes())
		} else {
			fmt.Fprintf(tw, "%s\t", t.GetId())
		}
		fmt.Fprintf(tw, "%.1f\t%.1f\t%.1f\t%.1f\t%d\t%d\t%s\t%s\n", t.GetLinesPerMinute(), t.GetErrorsPerMinute(), t.GetBaselineLinesPerMinute(),
			t.GetAnomaly(), t.GetLines(), t.GetErrors(), isNew, t.GetTemplate())
	}
	return tw.Flush()
}
