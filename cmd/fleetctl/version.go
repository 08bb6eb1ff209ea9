package main

import (
	"context"
	"fmt"
	"io"

	"github.com/dspyfleet/dspyfleet/internal/version"
	"google.golang.org/grpc"
)

// versionUsage is the usage of "version".
const versionUsage = `Usage: fleetctl version

Print fleetctl's version, VCS revision and Go version. Needs no control plane.

` + globalFlagsText

// parseVersion parses "fleetctl version".
func parseVersion(g *globals, args []string) (command, error) {
	pos, err := parseCommand(newFlagSet("version", g), g, args, versionUsage)
	if err != nil {
		return nil, err
	}
	if len(pos) > 0 {
		return nil, usageErrorf(versionUsage, "version: unexpected argument %q", pos[0])
	}
	g.offline = true
	return func(_ context.Context, _ grpc.ClientConnInterface, stdout io.Writer) error {
		_, err := fmt.Fprintln(stdout, version.String("fleetctl"))
		return err
	}, nil
}
