// Package tracing sets up OpenTelemetry tracing for the daemons: an OTLP gRPC exporter when an
// endpoint is configured and nothing otherwise, the W3C trace-context propagator, and the
// helpers that carry a trace context in a string (the traceparent a command carries).
package tracing

import (
	"context"
	"flag"
	"fmt"
	"net"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Propagator is the one propagator the project uses: W3C traceparent and tracestate.
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// Config says where spans go.
type Config struct {
	// Endpoint is the OTLP gRPC collector (host:port); empty turns tracing off.
	Endpoint string
	// Insecure sends spans without TLS; a loopback endpoint is always plaintext.
	Insecure bool
	// Service and Version name the daemon in the spans' resource.
	Service, Version string
	// BatchTimeout is the longest a span waits before it is exported; 0 means the SDK's 5 s.
	BatchTimeout time.Duration
}

// Provider is a tracer provider and what stops it.
type Provider struct {
	trace.TracerProvider
	sdk *sdktrace.TracerProvider
}

// New returns a provider exporting to cfg.Endpoint, or a no-op one when it is empty. It dials
// lazily: a collector that is down loses spans, never blocks the daemon.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	if cfg.Endpoint == "" {
		return &Provider{TracerProvider: noop.NewTracerProvider()}, nil
	}
	host, _, err := net.SplitHostPort(cfg.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("--otlp-endpoint %q must be host:port: %v", cfg.Endpoint, err)
	}
	opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(cfg.Endpoint)}
	if ip := net.ParseIP(host); cfg.Insecure || host == "localhost" || (ip != nil && ip.IsLoopback()) {
		opts = append(opts, otlptracegrpc.WithInsecure())
	}
	exp, err := otlptracegrpc.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("--otlp-endpoint: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		semconv.ServiceName(cfg.Service), semconv.ServiceVersion(cfg.Version)))
	if err != nil {
		return nil, err
	}
	var bopts []sdktrace.BatchSpanProcessorOption
	if cfg.BatchTimeout > 0 {
		bopts = append(bopts, sdktrace.WithBatchTimeout(cfg.BatchTimeout))
	}
	sdk := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, bopts...), sdktrace.WithResource(res))
	return &Provider{TracerProvider: sdk, sdk: sdk}, nil
}

// Enabled reports whether spans are exported.
func (p *Provider) Enabled() bool { return p.sdk != nil }

// Flush exports every finished span now.
func (p *Provider) Flush(ctx context.Context) error {
	if p.sdk == nil {
		return nil
	}
	return p.sdk.ForceFlush(ctx)
}

// Shutdown exports what is left and stops the exporter.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p.sdk == nil {
		return nil
	}
	return p.sdk.Shutdown(ctx)
}

// Inject returns ctx's span context as a traceparent value, "" when ctx holds no span.
func Inject(ctx context.Context) string {
	c := propagation.MapCarrier{}
	Propagator.Inject(ctx, c)
	return c["traceparent"]
}

// Extract returns ctx carrying the remote span context of a traceparent value; an empty or
// malformed one leaves ctx as it is.
func Extract(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return Propagator.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
}

// Flags are the daemons' tracing flags.
type Flags struct {
	Endpoint string
	Insecure bool
}

// Register adds --otlp-endpoint and --otlp-insecure to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Endpoint, "otlp-endpoint", f.Endpoint, "OTLP gRPC collector (host:port) to send trace spans to; empty turns tracing off")
	fs.BoolVar(&f.Insecure, "otlp-insecure", f.Insecure, "send spans to --otlp-endpoint without TLS (always so on loopback)")
}

// Start returns the provider the flags ask for, named service, and the function that flushes
// and stops it within ten seconds.
func (f Flags) Start(ctx context.Context, service, version string) (*Provider, func(), error) {
	p, err := New(ctx, Config{Endpoint: f.Endpoint, Insecure: f.Insecure, Service: service, Version: version})
	if err != nil {
		return nil, nil, err
	}
	return p, func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = p.Shutdown(sctx)
	}, nil
}
