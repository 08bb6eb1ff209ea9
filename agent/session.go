package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// goodbyeTimeout bounds how long a stopping agent waits for the control plane to close the stream.
const goodbyeTimeout = 2 * time.Second

var (
	errWatchdog     = errors.New("watchdog: nothing heard from the control plane; restarting the session")
	errStreamClosed = errors.New("the control plane closed the stream")
)

// session runs one Connect stream on a fresh connection until it fails or ctx ends. A fresh
// connection per session matters: after a stall, a new stream on the old connection would stall
// too. It reports whether the session was established (a Welcome arrived).
func (a *Agent) session(ctx context.Context) (bool, error) {
	opts, err := dialOptions(a.cfg)
	if err != nil {
		return false, err
	}
	conn, err := grpc.NewClient(a.cfg.Server, append(opts,
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 10 * time.Second, PermitWithoutStream: true}),
	)...)
	if err != nil {
		return false, fmt.Errorf("--server %s: %w", a.cfg.Server, err)
	}
	defer conn.Close()

	// The stream outlives ctx by up to goodbyeTimeout so a stopping agent can say goodbye.
	sctx, scancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer scancel(nil)
	stop := context.AfterFunc(ctx, func() {
		time.AfterFunc(goodbyeTimeout, func() { scancel(context.Canceled) })
	})
	defer stop()

	stream, err := fleetv1.NewAgentServiceClient(conn).Connect(sctx)
	if err != nil {
		return false, err
	}
	if err := stream.Send(&fleetv1.ConnectRequest{Msg: &fleetv1.ConnectRequest_Hello{Hello: a.hello()}}); err != nil {
		return false, recvStatus(stream, err)
	}
	var heard atomic.Int64
	heard.Store(time.Now().UnixNano())
	welcomed := make(chan uint64, 1)

	g, gctx := errgroup.WithContext(sctx)
	stopStream := context.AfterFunc(gctx, func() { scancel(context.Cause(gctx)) })
	defer stopStream()
	g.Go(func() error { return a.watchdog(gctx, &heard, scancel) })
	g.Go(func() error { return a.receive(stream, &heard, welcomed) })
	g.Go(func() error { return a.send(ctx, gctx, stream, welcomed) })
	err = g.Wait()
	established := a.connected.Swap(false)
	return established, err
}

// watchdog cancels the session when nothing arrived from the control plane for cfg.Watchdog.
func (a *Agent) watchdog(ctx context.Context, heard *atomic.Int64, cancel context.CancelCauseFunc) error {
	t := time.NewTicker(a.cfg.Watchdog / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if silent := time.Since(time.Unix(0, heard.Load())); silent > a.cfg.Watchdog {
				err := fmt.Errorf("%w (silent for %s)", errWatchdog, silent.Round(time.Millisecond))
				cancel(err)
				return err
			}
		}
	}
}

// receive handles the control plane's messages: the Welcome, acknowledgements and commands.
func (a *Agent) receive(stream grpc.BidiStreamingClient[fleetv1.ConnectRequest, fleetv1.ConnectResponse], heard *atomic.Int64, welcomed chan<- uint64) error {
	welcome := false
	for {
		m, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errStreamClosed
			}
			a.handleRejection(err)
			return err
		}
		heard.Store(time.Now().UnixNano())
		switch msg := m.GetMsg().(type) {
		case *fleetv1.ConnectResponse_Welcome:
			if welcome {
				continue
			}
			welcome = true
			a.buf.ack(msg.Welcome.GetLastReportSeq())
			a.connected.Store(true)
			a.markReady()
			a.sessions.Add(1)
			a.log.Info("connected to control plane", "server", a.cfg.Server, "down_after", msg.Welcome.GetDownAfter().AsDuration())
			welcomed <- msg.Welcome.GetLastReportSeq()
		case *fleetv1.ConnectResponse_Ack:
			a.buf.ack(msg.Ack.GetSeq())
		case *fleetv1.ConnectResponse_Command:
			cmd := msg.Command
			a.log.Info("command received", "command", cmd.GetId(), "kind", cmd.GetKind(), "reason", cmd.GetReason())
			if err := a.cmds.offer(cmd); err != nil {
				return fmt.Errorf("command %s: %w", cmd.GetId(), err)
			}
		}
	}
}

// handleRejection drops a report the control plane refused as invalid, so it is not resent.
func (a *Agent) handleRejection(err error) {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.InvalidArgument {
		return
	}
	for _, d := range st.Details() {
		if rr, ok := d.(*fleetv1.ReportRejected); ok {
			a.buf.reject(rr.GetSeq())
			a.log.Error("control plane rejected a report; dropped it", "seq", rr.GetSeq(), "err", st.Message())
		}
	}
}

// send is the stream's only sender. A failed Send returns its error; the stream's real status
// reaches receive through Recv: it sends buffered reports in order, command updates, and a
// Goodbye when the agent stops.
func (a *Agent) send(agentCtx, ctx context.Context, stream grpc.BidiStreamingClient[fleetv1.ConnectRequest, fleetv1.ConnectResponse], welcomed <-chan uint64) error {
	var sent uint64
	select {
	case <-ctx.Done():
		return nil
	case <-agentCtx.Done():
		return a.goodbye(stream)
	case sent = <-welcomed:
	}
	if m := a.interruptionMsg(); m != nil {
		if err := stream.Send(m); err != nil {
			return err
		}
		a.noticeSent.Store(true)
	}
	for {
		for _, r := range a.buf.after(sent) {
			if err := stream.Send(&fleetv1.ConnectRequest{Msg: &fleetv1.ConnectRequest_Report{Report: r}}); err != nil {
				return err
			}
			sent = r.GetSeq()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-agentCtx.Done():
			return a.goodbye(stream)
		case u := <-a.cmds.updates:
			if err := stream.Send(&fleetv1.ConnectRequest{Msg: &fleetv1.ConnectRequest_CommandUpdate{CommandUpdate: u}}); err != nil {
				return err
			}
		case <-a.buf.notify:
		case <-a.noticed:
			if err := stream.Send(a.interruptionMsg()); err != nil {
				return err
			}
			a.noticeSent.Store(true)
		}
	}
}

// goodbye announces a clean stop and half-closes the stream; the control plane then ends it.
func (a *Agent) goodbye(stream grpc.BidiStreamingClient[fleetv1.ConnectRequest, fleetv1.ConnectResponse]) error {
	if err := stream.Send(&fleetv1.ConnectRequest{Msg: &fleetv1.ConnectRequest_Goodbye{Goodbye: &fleetv1.Goodbye{Reason: "agent stopping"}}}); err != nil {
		return nil
	}
	_ = stream.CloseSend()
	return nil
}

// recvStatus turns a failed Send into the stream's real status: gRPC reports the cause of a
// broken stream through Recv, not Send. Only for use before receive starts.
func recvStatus(stream grpc.BidiStreamingClient[fleetv1.ConnectRequest, fleetv1.ConnectResponse], err error) error {
	if !errors.Is(err, io.EOF) {
		return err
	}
	for {
		if _, rerr := stream.Recv(); rerr != nil {
			return rerr
		}
	}
}
