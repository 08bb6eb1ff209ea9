package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// logLines are the shapes the log writer cycles through: DSPy-server-like lines, one in
// twenty an error, each with two numbers.
var logLines = []string{
	"INFO:     127.0.0.1:%d - \"POST /predict HTTP/1.1\" 200 OK in %dms",
	"INFO dspy.predict: program qa answered in %dms with %d tokens",
	"DEBUG cache lookup key=%x hit=%d",
	"INFO:     127.0.0.1:%d - \"GET /health HTTP/1.1\" 200 OK in %dms",
	"WARNING litellm: retrying call %d after %dms",
	"INFO dspy.predict: program summarize answered in %dms with %d tokens",
	"INFO worker %d picked request %d",
	"DEBUG tokenizer loaded %d entries in %dms",
	"INFO dspy.retrieve: %d passages in %dms",
	"INFO:     127.0.0.1:%d - \"POST /predict HTTP/1.1\" 200 OK in %dms",
	"INFO dspy.predict: program qa answered in %dms with %d tokens",
	"INFO:     127.0.0.1:%d - \"POST /predict HTTP/1.1\" 200 OK in %dms",
	"INFO dspy.predict: program qa answered in %dms with %d tokens",
	"INFO worker %d picked request %d",
	"INFO:     127.0.0.1:%d - \"POST /predict HTTP/1.1\" 200 OK in %dms",
	"INFO dspy.predict: program qa answered in %dms with %d tokens",
	"INFO:     127.0.0.1:%d - \"POST /predict HTTP/1.1\" 200 OK in %dms",
	"INFO worker %d picked request %d",
	"INFO dspy.predict: program qa answered in %dms with %d tokens",
	"ERROR dspy.predict: timeout calling model after %ds (attempt %d)",
}

// logCost runs three agents at one interval against a control plane: one following no log, one
// following a log file the harness writes at rate lines per second (rotated every rotate), one
// following it as its log and its auth log with listeners and a file watched too; it reports
// each agent's CPU and RSS over the duration.
func logCost(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("logs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	interval := fs.String("interval", "5s", "report interval of both agents")
	rate := fs.Int("rate", 1000, "log lines per second")
	rotate := fs.Duration("rotate", 30*time.Second, "rotate the log file (rename and create) this often")
	duration := fs.Duration("duration", time.Minute, "how long CPU is measured, after a 10 s warm-up")
	bin := fs.String("bin", "", "directory with the controlplane and agent binaries (default: build them)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rate <= 0 || *rate%100 != 0 {
		return fmt.Errorf("--rate %d must be a positive multiple of 100", *rate)
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
	tmp, err := os.MkdirTemp("", "dspyfleet-bench-logs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	logFile := filepath.Join(tmp, "dspy.log")
	watched := filepath.Join(tmp, "watched.yaml")
	if err := os.WriteFile(watched, []byte("version: 1\n"), 0o600); err != nil {
		return err
	}
	runs := []struct {
		name  string
		extra []string
	}{
		{"no logs", nil},
		{fmt.Sprintf("%d lines/s", *rate), []string{"--log-file", logFile}},
		// The same log as the auth log: every line goes through the auth parser too.
		{fmt.Sprintf("%d lines/s + security", *rate), []string{"--log-file", logFile, "--auth-log", logFile, "--watch-listeners", "--watch-file", watched}},
	}
	var agents []*daemon
	for i, run := range runs {
		extra := run.extra
		state := filepath.Join(tmp, fmt.Sprintf("state-%d", i))
		intake, err := freePort()
		if err != nil {
			return err
		}
		d, err := start(filepath.Join(dir, "dspyfleet-agent"), append([]string{
			"--server", cp.grpc, "--node-id", fmt.Sprintf("logcost-%d", i), "--interval", *interval, "--state-dir", state,
			"--intake-listen", intake, "--log-level", "warn",
		}, extra...), nil, stderr)
		if err != nil {
			return err
		}
		defer d.stop()
		agents = append(agents, d)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	written := make(chan int, 1)
	go func() { written <- writeLog(ctx, logFile, *rate, *rotate) }()

	names := make([]string, len(runs))
	for i, r := range runs {
		names[i] = r.name
	}
	header := func() string {
		return fmt.Sprintf("load avg %s\n\n| agent (%s reports) | CPU (%% of one core) | RSS at end | peak RSS |\n|---|---:|---:|---:|\n", loadAvg(), *interval)
	}
	if err := writeUsage(ctx, stdout, header, agents, names, *duration); err != nil {
		return err
	}
	cancel()
	fmt.Fprintf(stdout, "\n%d lines written\n", <-written)
	return nil
}

// writeLog appends rate lines per second to path in batches every 10 ms, renaming the file to
// path.1 and starting a new one every rotate, until ctx ends; it returns the lines written.
func writeLog(ctx context.Context, path string, rate int, rotate time.Duration) int {
	f, err := os.Create(path)
	if err != nil {
		return 0
	}
	w := bufio.NewWriter(f)
	defer func() { _ = w.Flush(); _ = f.Close() }()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	rotated := time.Now()
	n := 0
	for {
		select {
		case <-ctx.Done():
			return n
		case now := <-tick.C:
			for range rate / 100 {
				fmt.Fprintf(w, logLines[n%len(logLines)]+"\n", n%65536, (n*7)%1000)
				n++
			}
			_ = w.Flush()
			if now.Sub(rotated) >= rotate {
				_ = f.Close()
				_ = os.Rename(path, path+".1")
				if f, err = os.Create(path); err != nil {
					return n
				}
				w.Reset(f)
				rotated = now
			}
		}
	}
}
