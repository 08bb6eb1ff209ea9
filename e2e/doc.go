// Package e2e holds end-to-end tests of dspyfleet: real agents, control planes, fleetctl-visible
// API and grpcurl, over loopback gRPC with bbolt in temporary directories.
package e2e
