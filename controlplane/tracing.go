package controlplane

import (
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"

	"github.com/dspyfleet/dspyfleet/internal/tracing"
)

// traceOptions give every RPC a span when tracing is on: otelgrpc's stats handler, continuing
// the caller's W3C trace context.
func (s *Server) traceOptions() []grpc.ServerOption {
	if s.cfg.TracerProvider == nil {
		return nil
	}
	return []grpc.ServerOption{grpc.StatsHandler(otelgrpc.NewServerHandler(
		otelgrpc.WithTracerProvider(s.cfg.TracerProvider), otelgrpc.WithPropagators(tracing.Propagator)))}
}
