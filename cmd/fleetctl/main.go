// Command fleetctl is the operator CLI for a dspyfleet control plane. Over the admin gRPC API it
// lists, shows, watches, drains and undrains the fleet's nodes, and sends, lists, shows, cancels
// and watches the commands pushed to their agents. It prints tables or the protojson form of the
// API's messages (the same JSON grpcurl prints).
//
// Run "fleetctl help" for the commands and flags.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	// After the first signal, restore the default handling so a second Ctrl-C kills at once.
	context.AfterFunc(ctx, stop)
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
