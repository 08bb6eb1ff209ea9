package controlplane_test

import (
	"net"
	"testing"

	"github.com/dspyfleet/dspyfleet/controlplane"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
)

// TestFailedNewReleasesWhatItOpened: when New fails after it opened the store and bound the gRPC
// listener (here the HTTP address is taken), both are released, so a second New on the same data
// directory and gRPC address starts.
func TestFailedNewReleasesWhatItOpened(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	grpcAddr := freeAddr(t)
	cfg := fleettest.FastConfig(t)
	cfg.GRPCListen, cfg.HTTPListen = grpcAddr, taken.Addr().String()
	if _, err := controlplane.New(cfg); err == nil {
		t.Fatal("New with a taken --http-listen address succeeded")
	}
	cfg.HTTPListen = "127.0.0.1:0"
	if cp := fleettest.StartControlPlane(t, cfg); cp.GRPCAddr() != grpcAddr {
		t.Fatalf("the second control plane serves on %s, want %s", cp.GRPCAddr(), grpcAddr)
	}
}

// freeAddr returns a loopback address no one listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}
