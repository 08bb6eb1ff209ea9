package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// footprint runs the real agent binary against a control plane at each interval, all at once,
// and reports each agent's CPU and RSS over the duration.
func footprint(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("footprint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	intervals := fs.String("intervals", "1s,5s", "report intervals, comma-separated, one agent each")
	duration := fs.Duration("duration", time.Minute, "how long CPU is measured, after a 10 s warm-up")
	bin := fs.String("bin", "", "directory with the controlplane and agent binaries (default: build them)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := binaries(*bin)
	if err != nil {
		return err
	}
	cp, err := startControlPlane(ctx, dir, nil, nil, io.Discard)
	if err != nil {
		return err
	}
	defer cp.close()
	var agents []*daemon
	var names []string
	for _, iv := range strings.Split(*intervals, ",") {
		iv = strings.TrimSpace(iv)
		if _, err := time.ParseDuration(iv); err != nil {
			return fmt.Errorf("--intervals: %v", err)
		}
		state, err := os.MkdirTemp("", "dspyfleet-bench-agent-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(state)
		intake, err := freePort()
		if err != nil {
			return err
		}
		d, err := start(filepath.Join(dir, "dspyfleet-agent"), []string{
			"--server", cp.grpc, "--node-id", "footprint-" + iv, "--interval", iv, "--state-dir", state,
			"--intake-listen", intake, "--log-level", "warn",
		}, nil, stderr)
		if err != nil {
			return err
		}
		defer d.stop()
		agents = append(agents, d)
		names = append(names, iv)
	}
	header := func() string {
		return fmt.Sprintf("load avg %s\n\n| interval | CPU (%% of one core) | RSS at end | peak RSS |\n|---|---:|---:|---:|\n", loadAvg())
	}
	return writeUsage(ctx, stdout, header, agents, names, *duration)
}
