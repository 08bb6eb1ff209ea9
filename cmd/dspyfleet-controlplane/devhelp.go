package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/controlplane"
)

// tryNext are the lines --dev prints to try next, with %[1]s for the gRPC address, %[2]s for
// the HTTP address and %[3]s for the local agent's intake. README.md shows them rendered with
// the default addresses (TestREADMEShowsTheDevLines keeps the two the same).
var tryNext = []string{
	"go run ./cmd/fleetctl --addr %[1]s nodes list                 # table of nodes: state, CPU, memory, load, last seen",
	`go run ./cmd/fleetctl --addr %[1]s nodes get "$(hostname)"    # one node in full`,
	"go run ./cmd/fleetctl --addr %[1]s nodes watch                # every state change as it happens (Ctrl-C to stop)",
	"go run ./cmd/fleetctl --addr %[1]s -o json nodes list         # protojson, the same field names grpcurl prints",
	"",
	"go tool -modfile=tools/go.mod grpcurl -plaintext %[1]s list",
	"go tool -modfile=tools/go.mod grpcurl -plaintext %[1]s describe dspyfleet.v1.FleetService",
	"go tool -modfile=tools/go.mod grpcurl -plaintext %[1]s dspyfleet.v1.FleetService/ListNodes",
	`go tool -modfile=tools/go.mod grpcurl -plaintext -d '{"pool":"default"}' %[1]s dspyfleet.v1.FleetService/WatchNodes`,
	"go tool -modfile=tools/go.mod grpcurl -plaintext %[1]s grpc.health.v1.Health/Check",
	"curl -s %[2]s/metrics | grep ^dspyfleet_",
	"",
	`curl -s -d '{"program":"qa","model":"openai/gpt-4o-mini","latency_ms":812,"input_tokens":120,"output_tokens":30}' %[3]s/v1/requests`,
	"go run ./cmd/fleetctl --addr %[1]s pools stats                # the request figures per node, model and program",
	`while sleep 1; do curl -s -d '{"program":"qa","model":"m","latency_ms":'$((RANDOM %% 900 + 100))'}' %[3]s/v1/requests >/dev/null; done   # traffic for the dashboard's plots`,
}

// renderTryNext returns the lines to try next for these addresses.
func renderTryNext(grpcAddr, httpAddr, intakeAddr string) string {
	var b strings.Builder
	for _, l := range tryNext {
		if l != "" {
			fmt.Fprintf(&b, l, grpcAddr, httpAddr, intakeAddr)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func printDevHelp(w io.Writer, srv *controlplane.Server, ag *agent.Agent, dataDir string) {
	fmt.Fprintf(w, `dspyfleet control plane (dev mode) with a local agent
  dashboard  http://%[2]s/ui/   (open it in a browser)
  gRPC    %[1]s   (reflection on)
  HTTP    http://%[2]s/metrics  /healthz  /readyz
  intake  http://%[4]s/v1/requests   (report DSPy requests here)
  data    %[3]s

Try, in another terminal:
`, srv.GRPCAddr(), srv.HTTPAddr(), dataDir, ag.IntakeAddr())
	fmt.Fprintln(w, renderTryNext(srv.GRPCAddr(), "http://"+srv.HTTPAddr(), "http://"+ag.IntakeAddr()))
}
