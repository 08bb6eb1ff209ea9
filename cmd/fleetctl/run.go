package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Exit codes.
const (
	exitOK          = 0
	exitError       = 1 // the command failed, e.g. an RPC error
	exitUsage       = 2 // bad command line
	exitNotFound    = 3 // what the command names does not exist (NOT_FOUND)
	exitDenied      = 4 // the credentials are missing, wrong or not allowed (UNAUTHENTICATED, PERMISSION_DENIED)
	exitUnavailable = 5 // the control plane could not be reached or did not answer in time (UNAVAILABLE, DEADLINE_EXCEEDED)
)

// defaultAddr is the control plane address when neither --addr nor DSPYFLEET_ADDR is set.
const defaultAddr = "127.0.0.1:7070"

// globals holds the flags every command accepts, before the command name or among its own flags.
type globals struct {
	addr      string
	tokenFile string
	tls       bool
	caFile    string
	output    outputFormat
	timeout   time.Duration
	// offline is set by commands that need no control plane (simulate, version): no connection is made.
	offline bool
}

// newGlobals returns the global flags' defaults; DSPYFLEET_ADDR overrides the address and
// DSPYFLEET_CACERT the CA file.
func newGlobals() *globals {
	g := &globals{addr: defaultAddr, output: formatTable, timeout: 10 * time.Second, caFile: os.Getenv("DSPYFLEET_CACERT")}
	if env := os.Getenv("DSPYFLEET_ADDR"); env != "" {
		g.addr = env
	}
	return g
}

// register adds the global flags to fs. Each flag's default is its current value, so registering
// on a command's flag set keeps what was parsed before the command name.
func (g *globals) register(fs *flag.FlagSet) {
	g.registerButTimeout(fs)
	fs.DurationVar(&g.timeout, "timeout", g.timeout, "")
}

// registerButTimeout adds the global flags except --timeout to fs, for a command whose own
// --timeout means something else ("cmd send"); the global one is then given before the command.
func (g *globals) registerButTimeout(fs *flag.FlagSet) {
	fs.StringVar(&g.addr, "addr", g.addr, "")
	fs.StringVar(&g.tokenFile, "token-file", g.tokenFile, "")
	fs.BoolVar(&g.tls, "tls", g.tls, "")
	fs.StringVar(&g.caFile, "ca-file", g.caFile, "")
	fs.Var(&g.output, "o", "")
	fs.Var(&g.output, "output", "")
}

// usageError is a bad command line. It carries the usage text of the command it concerns; wrapping
// flag.ErrHelp means the user asked for that text.
type usageError struct {
	usage string
	err   error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usageErrorf returns a usageError for usage with a formatted message.
func usageErrorf(usage, format string, args ...any) error {
	return &usageError{usage: usage, err: fmt.Errorf(format, args...)}
}

// command is a parsed command line, ready to run against the control plane. It makes the clients
// of the services it calls from conn.
type command func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error

// run executes the command line args (without the program name) and returns the exit code.
// Command output goes to stdout, and so does help that was asked for; errors, and usage after a
// mistake, go to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := newGlobals()
	cmd, err := parse(g, args)
	switch {
	case err == nil && g.offline:
		err = cmd(ctx, nil, stdout)
	case err == nil:
		err = withConn(g, func(conn grpc.ClientConnInterface) error {
			return cmd(ctx, conn, stdout)
		})
	}

	var uerr *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp) && errors.As(err, &uerr):
		fmt.Fprint(stdout, uerr.usage)
		return exitOK
	case errors.As(err, &uerr):
		fmt.Fprintf(stderr, "fleetctl: %v\n\n%s", err, shortUsage(uerr.usage))
		return exitUsage
	}
	s, ok := status.FromError(err)
	if !ok {
		fmt.Fprintf(stderr, "fleetctl: %v\n", err)
		return exitError
	}
	fmt.Fprintf(stderr, "fleetctl: %v: %s\n", s.Code(), s.Message())
	printDetails(stderr, s)
	if s.Code() == codes.Unavailable && !g.tls && g.caFile == "" && speaksTLS(s.Message()) {
		fmt.Fprintf(stderr, "  the server at %s speaks TLS: add --tls (and --ca-file FILE when its certificate is not from a system CA)\n", g.addr)
	}
	return exitFor(s.Code())
}

// exitFor is the exit code of a command that failed with an RPC error of code c.
func exitFor(c codes.Code) int {
	switch c {
	case codes.NotFound:
		return exitNotFound
	case codes.Unauthenticated, codes.PermissionDenied:
		return exitDenied
	case codes.Unavailable, codes.DeadlineExceeded:
		return exitUnavailable
	}
	return exitError
}

// speaksTLS reports whether a connection error says a plaintext client met a TLS server: the
// server's TLS handshake reply is read as a malformed HTTP/2 preface.
func speaksTLS(msg string) bool {
	return strings.Contains(msg, "error reading server preface") || strings.Contains(msg, "http2: frame too large")
}

// parse parses the command line into g and the command it names. It has no other effect.
func parse(g *globals, args []string) (command, error) {
	fs := newFlagSet("fleetctl", g)
	if err := fs.Parse(args); err != nil {
		return nil, &usageError{usage: usageText, err: err}
	}
	args = fs.Args()
	if len(args) == 0 {
		return nil, usageErrorf(usageText, "missing command")
	}
	switch args[0] {
	case "help":
		return nil, help(args[1:])
	case "nodes":
		return parseNodes(g, args[1:])
	case "cmd":
		return parseCmd(g, args[1:])
	case "pools":
		return parsePools(g, args[1:])
	case "route":
		return parseRoute(g, args[1:])
	case "config":
		return parseConfig(g, args[1:])
	case "simulate":
		return parseSimulate(g, args[1:])
	case "version":
		return parseVersion(g, args[1:])
	case "scale":
		return parseScale(g, args[1:])
	case "cost":
		return parseCost(g, args[1:])
	case "audit":
		return parseAudit(g, args[1:])
	case "alerts":
		return parseAlerts(g, args[1:])
	case "backup":
		return parseBackup(g, args[1:])
	case "deploy":
		return parseDeploy(g, args[1:])
	case "maint":
		return parseMaint(g, args[1:])
	case "logs":
		return parseLogs(g, args[1:])
	case "tls":
		return parseTLS(g, args[1:])
	case "completion":
		return parseCompletion(g, args[1:])
	}
	return nil, usageErrorf(usageText, "unknown command %q", args[0])
}

// withConn dials the control plane, calls f with the connection and closes it.
func withConn(g *globals, f func(grpc.ClientConnInterface) error) error {
	conn, err := dial(g)
	if err != nil {
		return err
	}
	defer conn.Close()
	return f(conn)
}

// newFlagSet returns a flag set for the command name that reports errors instead of printing
// them and that already holds the global flags. Flags carry no help strings: the usage texts in
// usage.go are the one description of them.
func newFlagSet(name string, g *globals) *flag.FlagSet {
	fs := newBareFlagSet(name)
	g.register(fs)
	return fs
}

// newBareFlagSet returns a flag set for the command name that reports errors instead of printing
// them and holds no flags yet.
func newBareFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// withTimeout bounds ctx by d; zero means no bound.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d == 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}
