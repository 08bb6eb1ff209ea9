package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// auditUsage is the usage of "audit".
const auditUsage = `Usage: fleetctl audit [--kind admin|security|system] [--target ID] [--since DURATION] [--limit N]

List the audit trail, newest first: every admin call that changed state (who, when, what, on
which target, with what outcome) and every security event (failed authentications, denied
calls, certificate mismatches, duplicate or refused nodes, commands an agent refused) and every
action the control plane took on its own (stale nodes it removed). With -o json, the
ListAuditResponse.

Flags:
  --kind KIND           only admin calls ("admin"), security events ("security") or the
                        control plane's own actions ("system")
  --target ID           only records about this node, command or pool
  --since DURATION      only records from the last DURATION, e.g. 24h
  --limit N             at most N records (default 100), paged through as needed

` + globalFlagsText

// parseAudit parses "fleetctl audit"; args follow "audit".
func parseAudit(g *globals, args []string) (command, error) {
	fs := newFlagSet("audit", g)
	kind := fs.String("kind", "", "")
	target := fs.String("target", "", "")
	since := fs.Duration("since", 0, "")
	limit := fs.String("limit", "0", "")
	pos, err := parseCommand(fs, g, args, auditUsage)
	if err != nil {
		return nil, err
	}
	if len(pos) > 0 {
		return nil, usageErrorf(auditUsage, "audit: unexpected argument %q", pos[0])
	}
	req := &fleetv1.ListAuditRequest{Target: *target}
	switch *kind {
	case "":
	case "admin":
		req.Kinds = []fleetv1.AuditKind{fleetv1.AuditKind_AUDIT_KIND_ADMIN_CALL}
	case "security":
		req.Kinds = []fleetv1.AuditKind{fleetv1.AuditKind_AUDIT_KIND_SECURITY}
	case "system":
		req.Kinds = []fleetv1.AuditKind{fleetv1.AuditKind_AUDIT_KIND_SYSTEM}
	default:
		return nil, usageErrorf(auditUsage, "audit: --kind %q must be admin, security or system", *kind)
	}
	if *since < 0 {
		return nil, usageErrorf(auditUsage, "audit: --since %s must be positive", *since)
	}
	n, err := parseLimit(*limit)
	if err != nil {
		return nil, usageErrorf(auditUsage, "audit: --limit: %v", err)
	}
	n = cmp.Or(n, defaultAuditLimit)
	return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
		if *since > 0 {
			req.Since = timestamppb.New(time.Now().Add(-*since))
		}
		ctx, cancel := withTimeout(ctx, g.timeout)
		defer cancel()
		resp, err := listAll(ctx, req, int(n), fleetv1.NewFleetServiceClient(conn).ListAudit)
		if err != nil {
			return err
		}
		if g.output.structured() {
			return g.output.write(stdout, jsonIndented, resp)
		}
		return writeAudit(stdout, resp.GetRecords(), time.Now())
	}, nil
}

// defaultAuditLimit is how many records "audit" lists without --limit.
const defaultAuditLimit = 100

// writeAudit prints audit records as a table.
func writeAudit(w io.Writer, recs []*fleetv1.AuditRecord, now time.Time) error {
	if len(recs) == 0 {
		_, err := fmt.Fprintln(w, "No audit records.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "TIME\tWHAT\tIDENTITY\tPEER\tMETHOD\tTARGET\tCODE\tDETAIL")
	for _, r := range recs {
		what := "admin call"
		switch r.GetKind() {
		case fleetv1.AuditKind_AUDIT_KIND_SECURITY:
			what = strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(r.GetEvent().String(), "SECURITY_EVENT_"), "_", " "))
		case fleetv1.AuditKind_AUDIT_KIND_SYSTEM:
			what = "system"
		}
		method := r.GetMethod()
		if i := strings.LastIndex(method, "/"); i >= 0 {
			method = method[i+1:]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.GetTime().AsTime().In(now.Location()).Format(time.RFC3339), what,
			orDash(r.GetIdentity()), orDash(r.GetPeer()), orDash(method), orDash(r.GetTarget()), orDash(r.GetCode()), oneLine(r.GetDetail()))
	}
	return tw.Flush()
}
