package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/agent/action/backup"
)

// runBackup answers "agent backup list --config FILE" and "agent backup verify ARCHIVE": the
// archives the backup action wrote on this host, and a full check of one of them.
func runBackup(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("backup: want list or verify; see agent backup list -h")
	}
	fs := flag.NewFlagSet("agent backup "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	switch args[0] {
	case "list":
		configPath := fs.String("config", "", "the agent's YAML configuration file (its actions.backup section)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		cfg := agent.DefaultConfig()
		if *configPath == "" {
			return errors.New("backup list: --config is required: the backup directory comes from actions.backup")
		}
		if err := agent.LoadFile(*configPath, &cfg); err != nil {
			return err
		}
		b := cfg.ActionsConfig.Backup
		if b == nil {
			return fmt.Errorf("backup list: %s configures no backup (actions.backup)", *configPath)
		}
		prefix := b.Prefix
		if prefix == "" {
			prefix = "backup"
		}
		archives, err := backup.List(b.Dir, prefix)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 3, ' ', 0)
		fmt.Fprintln(tw, "ARCHIVE\tCREATED\tBYTES\tSHA256")
		for _, a := range archives {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", a.Path, a.Created.Format(time.RFC3339), a.Size, a.SHA256)
		}
		return tw.Flush()
	case "verify":
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return errors.New("backup verify: want one archive path")
		}
		m, err := backup.Verify(fs.Arg(0))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: ok, %d entries, created %s\n", fs.Arg(0), len(m.Files), m.Created.Format(time.RFC3339))
		return nil
	}
	return fmt.Errorf("backup: unknown command %q; want list or verify", args[0])
}
