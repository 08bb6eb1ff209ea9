package commands

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/dspyfleet/dspyfleet/internal/tracing"
	"github.com/dspyfleet/dspyfleet/internal/wire"
	"github.com/dspyfleet/dspyfleet/pkg/maintenance"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// tracerName names the queue's spans' instrumentation scope.
const tracerName = "github.com/dspyfleet/dspyfleet/controlplane/commands"

// SetTracerProvider traces command lifecycles with tp: a command.queued span when a command is
// created (a child of the caller's span), a command.delivered span each time it is sent, and
// the traceparent the command carries so the agent's command.execute span joins the trace.
// Call it before the queue is used.
func (q *Queue) SetTracerProvider(tp trace.TracerProvider) {
	q.tracer = tp.Tracer(tracerName)
}

// CreateCtx is Create under ctx's span: the command's trace starts there.
func (q *Queue) CreateCtx(ctx context.Context, nodeID string, kind fleetv1.CommandKind, params map[string]string, timeout time.Duration, requestedBy, reason string) (*fleetv1.CommandRecord, error) {
	return q.createCtx(ctx, nodeID, kind, params, timeout, requestedBy, reason, maintenance.Hold{}, false)
}

// createCtx is CreateCtx applying hold (see Submit).
func (q *Queue) createCtx(ctx context.Context, nodeID string, kind fleetv1.CommandKind, params map[string]string, timeout time.Duration, requestedBy, reason string, hold maintenance.Hold, override bool) (*fleetv1.CommandRecord, error) {
	ctx, span := q.tracer.Start(ctx, "command.queued", trace.WithAttributes(
		attribute.String("dspyfleet.node", nodeID), attribute.String("dspyfleet.command.kind", string(wire.CommandKind(kind))),
		attribute.String("dspyfleet.command.requested_by", requestedBy)))
	defer span.End()
	rec, err := q.create(nodeID, kind, params, timeout, requestedBy, reason, tracing.Inject(ctx), hold, override)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return nil, err
	}
	span.SetAttributes(attribute.String("dspyfleet.command.id", rec.GetCommand().GetId()))
	return rec, nil
}

// traceDelivered records a command.delivered span for c sent on session; a command without a
// traceparent (queued while tracing was off) gets none.
func (q *Queue) traceDelivered(c *fleetv1.Command, session uint64) {
	if c.GetTraceparent() == "" {
		return
	}
	_, span := q.tracer.Start(tracing.Extract(context.Background(), c.GetTraceparent()), "command.delivered", trace.WithAttributes(
		attribute.String("dspyfleet.command.id", c.GetId()), attribute.Int64("dspyfleet.session", int64(session))))
	span.End()
}
