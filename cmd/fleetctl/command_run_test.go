package main

import (
	"net"
	"strings"
	"testing"
	"time"
)

// TestCommandsUnavailable checks that every command fails fast with Unavailable when no control
// plane listens; cmd watch has no first-event timeout to end it otherwise.
func TestCommandsUnavailable(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()

	for _, cmd := range [][]string{
		{"nodes", "drain", "web-1"},
		{"nodes", "undrain", "web-1"},
		{"cmd", "send", "web-1", "restart", "--wait"},
		{"cmd", "list"},
		{"cmd", "get", "c1"},
		{"cmd", "cancel", "c1"},
		{"cmd", "watch"},
	} {
		t.Run(strings.Join(cmd, " "), func(t *testing.T) {
			start := time.Now()
			res := runCLI(t, append([]string{"--addr", addr}, cmd...)...)
			if res.code != exitUnavailable || !strings.HasPrefix(res.stderr, "fleetctl: Unavailable: ") || res.stdout != "" {
				t.Errorf("got %+v, want exit code %d and an Unavailable error", res, exitUnavailable)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("took %v", took)
			}
		})
	}
}
