package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/dspyfleet/dspyfleet/controlplane"
	"github.com/dspyfleet/dspyfleet/controlplane/maintenance"
)

// runRestore runs "controlplane restore --from FILE --data-dir DIR": an offline restore of the
// control plane's state from a backup.
func runRestore(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("controlplane restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "the backup file to restore (a fleet-*.db from the backup directory)")
	dataDir := fs.String("data-dir", controlplane.DefaultConfig().DataDir, "the data directory to restore into; no control plane may be using it")
	lockTimeout := fs.Duration("lock-timeout", time.Second, "how long to wait for the data directory's lock")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("restore: unexpected argument %q", fs.Arg(0))
	}
	if *from == "" {
		return errors.New("restore: --from is required: the backup file to restore")
	}
	res, err := maintenance.Restore(*from, *dataDir, *lockTimeout, time.Now())
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	fmt.Fprintf(stdout, "restored %s into %s: schema %d, %d nodes, %d commands, %d routing policies\n",
		*from, res.Path, res.SchemaVersion, res.Nodes, res.Commands, res.RoutingPolicies)
	if res.Previous != "" {
		fmt.Fprintf(stdout, "the previous state is kept as %s\n", res.Previous)
	}
	return nil
}
