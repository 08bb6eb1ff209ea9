package tracing

import (
	"context"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

func TestOffWithoutEndpoint(t *testing.T) {
	p, err := New(context.Background(), Config{})
	if err != nil || p.Enabled() {
		t.Fatalf("New without endpoint: enabled %v, err %v; want a no-op provider", p.Enabled(), err)
	}
	_, span := p.Tracer("t").Start(context.Background(), "x")
	if span.SpanContext().IsValid() {
		t.Fatal("a no-op provider made a real span")
	}
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestBadEndpoint(t *testing.T) {
	if _, err := New(context.Background(), Config{Endpoint: "no-port"}); err == nil || !strings.Contains(err.Error(), "--otlp-endpoint") {
		t.Fatalf("err %v, want one naming --otlp-endpoint", err)
	}
}

func TestInjectExtract(t *testing.T) {
	if got := Inject(context.Background()); got != "" {
		t.Fatalf("Inject without a span = %q, want empty", got)
	}
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("t").Start(context.Background(), "x")
	defer span.End()
	tp1 := Inject(ctx)
	if !strings.HasPrefix(tp1, "00-"+span.SpanContext().TraceID().String()+"-"+span.SpanContext().SpanID().String()) {
		t.Fatalf("traceparent %q does not name the span", tp1)
	}
	back := trace.SpanContextFromContext(Extract(context.Background(), tp1))
	if back.TraceID() != span.SpanContext().TraceID() || !back.IsRemote() {
		t.Fatalf("extracted %v, want the span's trace, remote", back)
	}
	for _, bad := range []string{"", "garbage", "00-zz-yy-01"} {
		if sc := trace.SpanContextFromContext(Extract(context.Background(), bad)); sc.IsValid() {
			t.Fatalf("Extract(%q) gave a valid span context", bad)
		}
	}
}
