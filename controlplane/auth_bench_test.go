package controlplane_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// BenchmarkUnaryCall measures a ListNodes call through the real server without authentication
// and with the admin token (authentication, the access table and the rate limiter), so the
// difference is what security costs a call.
func BenchmarkUnaryCall(b *testing.B) {
	for _, tc := range []struct {
		name   string
		tokens bool
	}{{"no-auth", false}, {"admin-token", true}} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := fleettest.FastConfig(b)
			cfg.Logger = slog.New(slog.DiscardHandler)
			var c fleetv1.FleetServiceClient
			if tc.tokens {
				cfg.AgentToken, cfg.AdminToken, cfg.AdminRate = fleettest.Token(b, agentTok), fleettest.Token(b, adminTok), 0
				cp := fleettest.StartControlPlane(b, cfg)
				c = fleetv1.NewFleetServiceClient(fleettest.DialToken(b, cp.GRPCAddr(), fleettest.Token(b, adminTok)))
			} else {
				c = fleettest.StartControlPlane(b, cfg).Fleet(b)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.ListNodes(ctx, &fleetv1.ListNodesRequest{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
