package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"

	"github.com/dspyfleet/dspyfleet/internal/humanize"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// backupUsage is the usage of the backup command group.
const backupUsage = `Usage: fleetctl backup <create|list|verify> [flags] [args]

Commands:
  create    Back up the control plane's state now (a hot, consistent copy).
  list      List the control plane's backups and the agents' backups.
  verify    Check a backup: sha256, bbolt structure, schema version, buckets and records.

Restore is offline, on the control plane's host: controlplane restore --from FILE --data-dir DIR.

Run "fleetctl backup <command> -h" for a command's flags.
`

// backupCreateUsage is the usage of "backup create".
const backupCreateUsage = `Usage: fleetctl backup create [--reason TEXT]

Write a backup of the control plane's state now, then apply the retention. Prints the backup
and the backups the retention removed. With -o json, the CreateBackupResponse.

Flags:
  --reason TEXT     recorded in the backup's metadata

` + globalFlagsText

// backupListUsage is the usage of "backup list".
const backupListUsage = `Usage: fleetctl backup list

List the control plane's backups, newest first, then the agents' backups (the archives their
backup commands wrote). With -o json, the ListBackupsResponse.

` + globalFlagsText

// backupVerifyUsage is the usage of "backup verify".
const backupVerifyUsage = `Usage: fleetctl backup verify NAME

Verify the named backup (a name from "backup list"): its size and sha256 against its metadata,
the bbolt structure, the schema version, every bucket, and that every record decodes. Exits 1
with DataLoss when the backup is damaged. With -o json, the VerifyBackupResponse.

` + globalFlagsText

// parseBackup parses "fleetctl backup <command>"; args follow "backup".
func parseBackup(g *globals, args []string) (command, error) {
	fs := newFlagSet("backup", g)
	if err := fs.Parse(args); err != nil {
		return nil, &usageError{usage: backupUsage, err: err}
	}
	args = fs.Args()
	if len(args) == 0 {
		return nil, usageErrorf(backupUsage, "backup: missing command")
	}
	switch args[0] {
	case "create":
		fs := newFlagSet("backup create", g)
		reason := fs.String("reason", "", "")
		pos, err := parseCommand(fs, g, args[1:], backupCreateUsage)
		if err != nil {
			return nil, err
		}
		if len(pos) > 0 {
			return nil, usageErrorf(backupCreateUsage, "backup create: unexpected argument %q", pos[0])
		}
		req := &fleetv1.CreateBackupRequest{Reason: *reason}
		return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
			ctx, cancel := withTimeout(ctx, g.timeout)
			defer cancel()
			resp, err := fleetv1.NewMaintenanceServiceClient(conn).CreateBackup(ctx, req)
			if err != nil {
				return err
			}
			if g.output.structured() {
				return g.output.write(stdout, jsonIndented, resp)
			}
			if err := writeBackups(stdout, []*fleetv1.Backup{resp.GetBackup()}, time.Now()); err != nil {
				return err
			}
			for _, p := range resp.GetPruned() {
				fmt.Fprintf(stdout, "removed by retention: %s\n", p)
			}
			return nil
		}, nil
	case "list":
		pos, err := parseCommand(newFlagSet("backup list", g), g, args[1:], backupListUsage)
		if err != nil {
			return nil, err
		}
		if len(pos) > 0 {
			return nil, usageErrorf(backupListUsage, "backup list: unexpected argument %q", pos[0])
		}
		return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
			ctx, cancel := withTimeout(ctx, g.timeout)
			defer cancel()
			resp, err := listAll(ctx, &fleetv1.ListBackupsRequest{}, 0, fleetv1.NewMaintenanceServiceClient(conn).ListBackups)
			if err != nil {
				return err
			}
			if g.output.structured() {
				return g.output.write(stdout, jsonIndented, resp)
			}
			return writeBackupList(stdout, resp, time.Now())
		}, nil
	case "verify":
		pos, err := parseCommand(newFlagSet("backup verify", g), g, args[1:], backupVerifyUsage)
		if err != nil {
			return nil, err
		}
		name, err := onlyArg(pos, backupVerifyUsage, "backup verify", "backup name")
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
			ctx, cancel := withTimeout(ctx, g.timeout)
			defer cancel()
			resp, err := fleetv1.NewMaintenanceServiceClient(conn).VerifyBackup(ctx, &fleetv1.VerifyBackupRequest{Name: name})
			if err != nil {
				return err
			}
			if g.output.structured() {
				return g.output.write(stdout, jsonIndented, resp)
			}
			b := resp.GetBackup()
			fmt.Fprintf(stdout, "%s is sound: schema %d, %d nodes, %d commands, %d routing policies, sha256 %s\n",
				b.GetName(), b.GetSchemaVersion(), b.GetNodes(), b.GetCommands(), b.GetRoutingPolicies(), b.GetSha256())
			return nil
		}, nil
	}
	return nil, usageErrorf(backupUsage, "backup: unknown command %q", args[0])
}

// writeBackups prints control-plane backups as a table.
func writeBackups(w io.Writer, list []*fleetv1.Backup, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tCREATED\tSIZE\tNODES\tCOMMANDS\tSCHEMA\tREASON")
	for _, b := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\n", b.GetName(), clock(b.GetCreated(), now),
			humanize.Bytes(int64(b.GetSizeBytes())), b.GetNodes(), b.GetCommands(), b.GetSchemaVersion(), oneLine(b.GetReason()))
	}
	return tw.Flush()
}

// writeBackupList prints the control plane's backups, then the agents'.
func writeBackupList(w io.Writer, resp *fleetv1.ListBackupsResponse, now time.Time) error {
	if len(resp.GetBackups()) == 0 {
		fmt.Fprintln(w, "no control-plane backups yet; take one with: fleetctl backup create")
	} else if err := writeBackups(w, resp.GetBackups(), now); err != nil {
		return err
	}
	if len(resp.GetAgentBackups()) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "NODE\tFINISHED\tARCHIVE\tSHA256")
	for _, a := range resp.GetAgentBackups() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.GetNodeId(), clock(a.GetFinished(), now), a.GetArchive(), truncate(a.GetSha256(), 12))
	}
	return tw.Flush()
}
