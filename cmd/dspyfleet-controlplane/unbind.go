package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/dspyfleet/dspyfleet/controlplane"
	"github.com/dspyfleet/dspyfleet/controlplane/auth"
	"github.com/dspyfleet/dspyfleet/controlplane/store"
)

// runUnbind runs "controlplane unbind-node --data-dir DIR [NODE...]": with the control plane
// stopped, it removes the nodes' bindings to their own credential, so an operator can re-bind a
// node on purpose; without a node it lists the bindings.
func runUnbind(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("controlplane unbind-node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", controlplane.DefaultConfig().DataDir, "the control plane's data directory; no control plane may be using it")
	lockTimeout := fs.Duration("lock-timeout", time.Second, "how long to wait for the data directory's lock")
	if err := fs.Parse(args); err != nil {
		return err
	}
	path := filepath.Join(*dataDir, store.FileName)
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("unbind-node: --data-dir %s holds no state file: %w", *dataDir, err)
	}
	st, err := store.Open(*dataDir, *lockTimeout)
	if err != nil {
		return fmt.Errorf("unbind-node: %w", err)
	}
	defer st.Close()
	if fs.NArg() == 0 {
		bound, err := auth.ListBindings(st)
		if err != nil {
			return fmt.Errorf("unbind-node: %w", err)
		}
		if len(bound) == 0 {
			fmt.Fprintln(stdout, "no node is bound to a credential")
		}
		for _, b := range bound {
			fmt.Fprintf(stdout, "%s\tbound to its %s since %s\n", b.Node, b.Credential, b.Since.Format(time.RFC3339))
		}
		return nil
	}
	removed, err := auth.Unbind(st, fs.Args())
	for _, b := range removed {
		fmt.Fprintf(stdout, "%s: binding to its %s (since %s) removed; its next session may use any agent credential\n", b.Node, b.Credential, b.Since.Format(time.RFC3339))
	}
	if errors.Is(err, auth.ErrNotBound) {
		return fmt.Errorf("unbind-node: %w", err)
	}
	if err != nil {
		return fmt.Errorf("unbind-node: %w; nothing was removed", err)
	}
	return nil
}
