package proxy

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
)

// tracerName names the proxy's spans' instrumentation scope.
const tracerName = "github.com/dspyfleet/dspyfleet/agent/proxy"

// cacheNames are the cache states as span attributes.
var cacheNames = map[reqstats.CacheState]string{reqstats.CacheUnknown: "unknown", reqstats.CacheHit: "hit", reqstats.CacheMiss: "miss"}

// endSpan ends a request's span with what the proxy learnt of it: status, model, program,
// tokens and cache.
func endSpan(span trace.Span, e reqstats.Event) {
	attrs := []attribute.KeyValue{
		attribute.Int("http.response.status_code", e.Status),
		attribute.Int64("dspy.input_tokens", e.InputTokens),
		attribute.Int64("dspy.output_tokens", e.OutputTokens),
		attribute.String("dspy.cache", cacheNames[e.Cache]),
	}
	for k, v := range map[string]string{"dspy.model": e.Model, "dspy.program": e.Program, "dspy.module": e.Module} {
		if v != "" {
			attrs = append(attrs, attribute.String(k, v))
		}
	}
	span.SetAttributes(attrs...)
	if e.Error {
		span.SetStatus(codes.Error, "request failed")
	}
	span.End()
}
