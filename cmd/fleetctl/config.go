package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// configUsage is the usage of the config command group.
const configUsage = `Usage: fleetctl config <apply|validate|export|history|show|diff|rollback> [flags] [args]

The fleet-wide policy (routing policies per pool, and each subsystem's section as it lands) is a
YAML document kept as numbered revisions. Applying one validates every section first and changes
nothing when any part is invalid; it takes effect at once.

Commands:
  apply FILE -m MSG        Validate and apply a policy document as a new revision.
  validate FILE            Check a policy document without applying it.
  export                   Print the policy in effect as a document (a starting point to edit).
  history                  List revisions, newest first.
  show N                   Print revision N's document.
  diff A [B]               Unified diff from revision A to B (default: the policy in effect).
  rollback N [-m MSG] [--dry-run]
                           Apply revision N's document again, as a new revision, printing the
                           diff it applies: every budget, price or policy it removes or changes
                           shows as a removed or changed line. --dry-run prints it and applies
                           nothing.

Every change to a policy, through these commands or "route policy set", "scale policy set" and
the cost commands, is a revision. An export starts with a "# etag: ..." line: applying the
edited file refuses (ABORTED) when the policy changed since the export, so a concurrent change
is never overwritten; export again and redo the edit, or delete the line to overwrite.

` + globalFlagsText

// parseConfig parses "fleetctl config <command>"; args follow "config".
func parseConfig(g *globals, args []string) (command, error) {
	if len(args) == 0 {
		return nil, usageErrorf(configUsage, "config: missing command")
	}
	name := "config " + args[0]
	fs := newFlagSet(name, g)
	message := fs.String("m", "", "")
	fs.StringVar(message, "message", "", "")
	author := fs.String("author", "", "")
	limit := fs.Uint("limit", 0, "")
	dryRun := fs.Bool("dry-run", false, "")
	pos, err := parseCommand(fs, g, args[1:], configUsage)
	if err != nil {
		return nil, err
	}
	revArg := func(i int, what string) (uint64, error) {
		if i >= len(pos) {
			return 0, usageErrorf(configUsage, "%s: missing %s", name, what)
		}
		n, err := strconv.ParseUint(pos[i], 10, 64)
		if err != nil || n == 0 {
			return 0, usageErrorf(configUsage, "%s: %s %q is not a revision number", name, what, pos[i])
		}
		return n, nil
	}
	wantArgs := func(n int) error {
		if len(pos) > n {
			return usageErrorf(configUsage, "%s: unexpected argument %q", name, pos[n])
		}
		return nil
	}
	readDoc := func() (string, error) {
		if len(pos) == 0 {
			return "", usageErrorf(configUsage, "%s: missing FILE", name)
		}
		if err := wantArgs(1); err != nil {
			return "", err
		}
		raw, err := os.ReadFile(pos[0])
		return string(raw), err
	}
	call := func(f func(ctx context.Context, c fleetv1.ConfigServiceClient, stdout io.Writer) error) command {
		return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
			ctx, cancel := withTimeout(ctx, g.timeout)
			defer cancel()
			return f(ctx, fleetv1.NewConfigServiceClient(conn), stdout)
		}
	}
	switch args[0] {
	case "apply":
		if *message == "" {
			return nil, usageErrorf(configUsage, "config apply: -m MESSAGE is required: say why the policy changes")
		}
		doc, err := readDoc()
		if err != nil {
			return nil, err
		}
		return call(func(ctx context.Context, c fleetv1.ConfigServiceClient, stdout io.Writer) error {
			resp, err := c.Apply(ctx, &fleetv1.ConfigServiceApplyRequest{Document: doc, Message: *message, Author: *author, Etag: docEtag(doc)})
			if err != nil {
				return err
			}
			return printRevision(stdout, g, resp.GetRevision(), "applied")
		}), nil
	case "validate":
		doc, err := readDoc()
		if err != nil {
			return nil, err
		}
		return call(func(ctx context.Context, c fleetv1.ConfigServiceClient, stdout io.Writer) error {
			resp, err := c.Validate(ctx, &fleetv1.ConfigServiceValidateRequest{Document: doc})
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(stdout, "valid; sections: %v\n", resp.GetSections())
			return err
		}), nil
	case "export":
		if err := wantArgs(0); err != nil {
			return nil, err
		}
		return call(func(ctx context.Context, c fleetv1.ConfigServiceClient, stdout io.Writer) error {
			resp, err := c.Export(ctx, &fleetv1.ConfigServiceExportRequest{})
			if err != nil {
				return err
			}
			_, err = io.WriteString(stdout, etagLine+resp.GetEtag()+"\n"+resp.GetDocument())
			return err
		}), nil
	case "history":
		if err := wantArgs(0); err != nil {
			return nil, err
		}
		return call(func(ctx context.Context, c fleetv1.ConfigServiceClient, stdout io.Writer) error {
			resp, err := revisions(ctx, c, int(*limit))
			if err != nil {
				return err
			}
			if g.output.structured() {
				return g.output.write(stdout, jsonIndented, resp)
			}
			tw := tabwriter.NewWriter(stdout, 0, 0, 3, ' ', 0)
			fmt.Fprintln(tw, "REVISION\tTIME\tAUTHOR\tMESSAGE")
			for _, r := range resp.GetRevisions() {
				msg := r.GetMessage()
				if r.GetRollbackOf() != 0 {
					msg = fmt.Sprintf("%s (rollback to %d)", msg, r.GetRollbackOf())
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", r.GetNumber(), r.GetTime().AsTime().Local().Format(time.DateTime), r.GetAuthor(), msg)
			}
			return tw.Flush()
		}), nil
	case "show":
		n, err := revArg(0, "revision")
		if err != nil {
			return nil, err
		}
		if err := wantArgs(1); err != nil {
			return nil, err
		}
		return call(func(ctx context.Context, c fleetv1.ConfigServiceClient, stdout io.Writer) error {
			resp, err := c.GetRevision(ctx, &fleetv1.ConfigServiceGetRevisionRequest{Number: n})
			if err != nil {
				return err
			}
			if g.output.structured() {
				return g.output.write(stdout, jsonIndented, resp)
			}
			_, err = io.WriteString(stdout, resp.GetRevision().GetDocument())
			return err
		}), nil
	case "diff":
		from, err := revArg(0, "revision A")
		if err != nil {
			return nil, err
		}
		var to uint64
		if len(pos) > 1 {
			if to, err = revArg(1, "revision B"); err != nil {
				return nil, err
			}
		}
		if err := wantArgs(2); err != nil {
			return nil, err
		}
		return call(func(ctx context.Context, c fleetv1.ConfigServiceClient, stdout io.Writer) error {
			resp, err := c.Diff(ctx, &fleetv1.ConfigServiceDiffRequest{From: from, To: to})
			if err != nil {
				return err
			}
			_, err = io.WriteString(stdout, resp.GetDiff())
			return err
		}), nil
	case "rollback":
		n, err := revArg(0, "revision")
		if err != nil {
			return nil, err
		}
		if err := wantArgs(1); err != nil {
			return nil, err
		}
		return call(func(ctx context.Context, c fleetv1.ConfigServiceClient, stdout io.Writer) error {
			resp, err := c.Rollback(ctx, &fleetv1.ConfigServiceRollbackRequest{Number: n, Message: *message, Author: *author, DryRun: *dryRun})
			if err != nil {
				return err
			}
			if g.output.structured() {
				return g.output.write(stdout, jsonIndented, resp)
			}
			diff := resp.GetDiff()
			if diff == "" {
				diff = fmt.Sprintf("revision %d is the policy in effect: nothing changes\n", n)
			}
			if _, err := io.WriteString(stdout, diff); err != nil {
				return err
			}
			if *dryRun {
				_, err := fmt.Fprintf(stdout, "dry run: nothing applied; run without --dry-run to roll back to revision %d\n", n)
				return err
			}
			return printRevision(stdout, g, resp.GetRevision(), "rolled back")
		}), nil
	}
	return nil, usageErrorf(configUsage, "config: unknown command %q", args[0])
}

// printRevision reports a revision just stored.
func printRevision(w io.Writer, g *globals, r *fleetv1.ConfigRevision, what string) error {
	if g.output.structured() {
		return g.output.write(w, jsonIndented, r)
	}
	_, err := fmt.Fprintf(w, "%s: revision %d by %s: %s\n", what, r.GetNumber(), r.GetAuthor(), r.GetMessage())
	return err
}

// etagLine starts the first line of an exported document: a YAML comment holding the etag of
// the policy it was exported from. Applying the document sends that etag, so a change made
// since the export is not overwritten (the apply fails ABORTED); delete the line to overwrite.
const etagLine = "# etag: "

// docEtag returns the etag of a document's etag line, or "" when it has none.
func docEtag(doc string) string {
	first, _, _ := strings.Cut(doc, "\n")
	if etag, ok := strings.CutPrefix(first, etagLine); ok {
		return strings.TrimSpace(etag)
	}
	return ""
}

// defaultHistory is how many revisions "config history" lists without --limit.
const defaultHistory = 50

// revisions calls ListRevisions page by page until it has limit revisions (defaultHistory when
// 0) or the oldest, and returns them in one response, newest first.
func revisions(ctx context.Context, c fleetv1.ConfigServiceClient, limit int) (*fleetv1.ConfigServiceListRevisionsResponse, error) {
	if limit == 0 {
		limit = defaultHistory
	}
	return listAll(ctx, &fleetv1.ConfigServiceListRevisionsRequest{}, limit, c.ListRevisions)
}
