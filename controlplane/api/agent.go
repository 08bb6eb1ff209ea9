package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dspyfleet/dspyfleet/controlplane/auth"
	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/commands"
	"github.com/dspyfleet/dspyfleet/controlplane/fleet"
	"github.com/dspyfleet/dspyfleet/controlplane/logs"
	"github.com/dspyfleet/dspyfleet/controlplane/scaling"
	"github.com/dspyfleet/dspyfleet/controlplane/stats"
	"github.com/dspyfleet/dspyfleet/internal/wire"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// agentService implements AgentService.Connect: one session per agent stream.
type agentService struct {
	fleetv1.UnimplementedAgentServiceServer
	// receivers are the sessions' receiving goroutines, joined by Services.Wait.
	receivers    sync.WaitGroup
	reg          *fleet.Registry
	cmds         *commands.Queue
	stats        *stats.Requests
	logs         *logs.Book
	sc           *scaling.Scaler // replaces interrupted nodes; nil in tests without one
	log          *slog.Logger
	metrics      *Metrics
	now          func() time.Time
	helloTimeout time.Duration
	maxSkew      time.Duration
	limits       check.Limits
	// checkNode refuses a Hello for a node the caller's credential may not speak for.
	checkNode func(ctx context.Context, nodeID string) error
	// securityEvent records duplicate and refused nodes and commands the agent refused.
	securityEvent func(ctx context.Context, ev fleetv1.SecurityEvent, method, target string, err error)
}

// errHelloTimeout ends a stream whose first message does not arrive in time.
var errHelloTimeout = fmt.Errorf("%w: no Hello within the hello timeout; the first message of a session must be a Hello", check.ErrFailedPrecondition)

// Connect runs one agent session on two goroutines: one of its own only receives (Recv blocks
// until the stream ends, so nothing else could notice the registry ending the session), and the
// handler goroutine applies each message and is the stream's only sender (Welcome,
// acknowledgements, commands). The session ends when the agent closes its side, the stream
// breaks, a message is invalid, or the registry ends it (node declared down, replaced by a newer
// session, shutdown); the receiving goroutine ends with the stream, which grpc-go ends only
// after the handler returns, so Services.Wait joins it once the server has stopped.
func (a *agentService) Connect(stream grpc.BidiStreamingServer[fleetv1.ConnectRequest, fleetv1.ConnectResponse]) error {
	ctx, cancel := context.WithCancelCause(stream.Context())
	defer cancel(nil)
	in := make(chan *fleetv1.ConnectRequest)
	recvErr := make(chan error, 1)
	a.receivers.Go(func() {
		for {
			m, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			select {
			case in <- m:
			case <-ctx.Done():
				return
			}
		}
	})

	hello, err := a.awaitHello(ctx, in, recvErr)
	if err == nil {
		err = a.checkNode(ctx, hello.GetNodeId())
	}
	if err != nil {
		a.metrics.sessions.WithLabelValues("rejected").Inc()
		return check.ToStatus(err)
	}
	credential, _ := auth.Credential(ctx)
	sess, welcome, err := a.reg.AttachFor(hello, auth.PeerAddr(ctx), credential, cancel)
	if err != nil {
		var refusal *fleet.RegisterRefusal
		switch {
		case errors.As(err, &refusal):
			if refusal.Record {
				a.securityEvent(ctx, fleetv1.SecurityEvent_SECURITY_EVENT_NEW_NODE_THROTTLED, fleetv1.AgentService_Connect_FullMethodName, hello.GetNodeId(), err)
			}
		case errors.Is(err, check.ErrAlreadyConnected):
			a.securityEvent(ctx, fleetv1.SecurityEvent_SECURITY_EVENT_DUPLICATE_NODE, fleetv1.AgentService_Connect_FullMethodName, hello.GetNodeId(), err)
		case errors.Is(err, check.ErrTooManyNodes):
			a.securityEvent(ctx, fleetv1.SecurityEvent_SECURITY_EVENT_UNKNOWN_NODE_REFUSED, fleetv1.AgentService_Connect_FullMethodName, hello.GetNodeId(), err)
		}
		a.metrics.sessions.WithLabelValues("rejected").Inc()
		a.log.Warn("agent session refused", "node", hello.GetNodeId(), "peer", auth.PeerAddr(ctx), "err", err)
		return check.ToStatus(err)
	}
	a.metrics.sessions.WithLabelValues("accepted").Inc()
	a.log.Info("agent connected", "node", sess.NodeID, "peer", sess.Peer, "instance", sess.InstanceID)
	if started := a.cmds.StartedSeq(sess.NodeID); hello.GetLastCommandSeq() < started {
		a.log.Warn("the agent's state store was reset: it no longer knows commands it accepted, so a command delivered again could run twice; check its --state-dir",
			"node", sess.NodeID, "agent_last_command_seq", hello.GetLastCommandSeq(), "accepted_seq", started)
	}

	out := &sender{stream: stream, ack: make(chan struct{}, 1), cmds: a.cmds, sess: sess,
		wake: a.cmds.AttachSession(sess.NodeID, sess.ID)}
	defer a.cmds.DetachSession(sess.NodeID, sess.ID)
	why, err := "send failed", stream.Send(&fleetv1.ConnectResponse{Msg: &fleetv1.ConnectResponse_Welcome{Welcome: welcome}})
	if err == nil {
		why, err = a.serve(ctx, sess, in, recvErr, out)
	} else {
		why += ": " + err.Error()
	}
	a.log.Info("agent disconnected", "node", sess.NodeID, "peer", sess.Peer, "reason", a.reg.Detach(sess, why))
	return check.ToStatus(err)
}

// awaitHello reads the first message, which must be a valid Hello.
func (a *agentService) awaitHello(ctx context.Context, in <-chan *fleetv1.ConnectRequest, recvErr <-chan error) (*fleetv1.Hello, error) {
	timer := time.NewTimer(a.helloTimeout)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	case err := <-recvErr:
		return nil, err
	case <-timer.C:
		return nil, errHelloTimeout
	case m := <-in:
		h := m.GetHello()
		if h == nil {
			return nil, fmt.Errorf("%w: the first message of a session must be a Hello, got %s", check.ErrFailedPrecondition, msgKind(m))
		}
		if v := validateHello(h, a.limits); len(v) > 0 {
			return nil, v.Err()
		}
		return h, nil
	}
}

// serve applies the session's messages and sends what is due until the session ends, returning
// the reason for the node's disconnected state and the error to return to the agent.
func (a *agentService) serve(ctx context.Context, sess *fleet.Session, in <-chan *fleetv1.ConnectRequest, recvErr <-chan error, out *sender) (string, error) {
	for {
		select {
		case <-ctx.Done():
			cause := context.Cause(ctx)
			return cause.Error(), cause
		case <-out.wake:
			if err := out.sendCommands(); err != nil {
				return "send failed: " + err.Error(), err
			}
		case <-out.ack:
			if err := out.sendAck(); err != nil {
				return "send failed: " + err.Error(), err
			}
		case err := <-recvErr:
			if errors.Is(err, io.EOF) {
				return "agent closed the stream", nil
			}
			return err.Error(), err
		case m := <-in:
			if err := a.handle(ctx, sess, m, out); err != nil {
				return err.Error(), err
			}
		}
	}
}

// handle applies one message of an established session.
func (a *agentService) handle(ctx context.Context, sess *fleet.Session, m *fleetv1.ConnectRequest, out *sender) error {
	switch msg := m.GetMsg().(type) {
	case *fleetv1.ConnectRequest_Report:
		rep := msg.Report
		if v := validateReport(rep, a.now(), a.maxSkew); len(v) > 0 {
			a.metrics.reports.WithLabelValues("rejected").Inc()
			return rejectReport(rep.GetSeq(), v)
		}
		stored, pool, err := a.reg.ApplyReport(sess, rep)
		if err != nil {
			return err
		}
		if stored {
			a.metrics.reports.WithLabelValues("accepted").Inc()
			if err := a.stats.Add(pool, sess.NodeID, rep); err != nil {
				a.log.Warn("request figures of a report not merged", "node", sess.NodeID, "seq", rep.GetSeq(), "err", err)
			}
			a.logs.Observe(pool, sess.NodeID, rep.GetLogs(), rep.GetWindow().AsDuration(), a.now())
		} else {
			a.metrics.reports.WithLabelValues("duplicate").Inc()
		}
		out.acknowledge(rep.GetSeq())
	case *fleetv1.ConnectRequest_CommandUpdate:
		a.reg.Touch(sess)
		u := msg.CommandUpdate
		done, err := a.cmds.Update(sess.NodeID, u)
		if errors.Is(err, commands.ErrNotStored) {
			a.storeUpdate(ctx, sess.NodeID, u, err)
		} else if err != nil {
			a.log.Warn("command update not applied", "node", sess.NodeID, "command", u.GetId(), "state", u.GetState(), "err", err)
			return nil
		}
		a.log.Info("command update", "node", sess.NodeID, "command", u.GetId(), "state", u.GetState(), "detail", u.GetDetail())
		if u.GetState() == fleetv1.CommandState_COMMAND_STATE_RUNNING {
			a.holdForRestart(sess.NodeID, u.GetId())
		}
		if done != nil {
			applyCommandEffects(a.reg, done)
			if refusedByAgent(done) {
				a.securityEvent(ctx, fleetv1.SecurityEvent_SECURITY_EVENT_COMMAND_REFUSED, fleetv1.AgentService_Connect_FullMethodName, done.GetCommand().GetId(),
					fmt.Errorf("%w: node %s refused %s command: %s", check.ErrFailedPrecondition, sess.NodeID, wire.CommandKind(done.GetCommand().GetKind()), done.GetDetail()))
			}
		}
	case *fleetv1.ConnectRequest_Goodbye:
		a.reg.Goodbye(sess, msg.Goodbye.GetReason())
	case *fleetv1.ConnectRequest_Interruption:
		return a.interrupted(sess, msg.Interruption)
	case *fleetv1.ConnectRequest_Hello:
		return fmt.Errorf("%w: Hello may only be the first message of a session", check.ErrFailedPrecondition)
	default:
		return check.Invalidf("empty message: set one of hello, report, command_update, goodbye, interruption")
	}
	return nil
}

// rejectReport builds the InvalidArgument status for a bad report, with a ReportRejected detail
// so the agent can drop exactly that report, and the google.rpc.BadRequest every InvalidArgument
// carries.
func rejectReport(seq uint64, v check.Violations) error {
	st := status.New(codes.InvalidArgument, fmt.Sprintf("report seq %d rejected: %s", seq, v))
	if d, err := st.WithDetails(&fleetv1.ReportRejected{Seq: seq, Violations: v}, check.BadRequest(v.Err())); err == nil {
		st = d
	}
	return st.Err()
}

// sender sends on the session's stream from the handler goroutine. Acknowledgements are
// coalesced: when several reports were applied before the acknowledgement goes out, only the
// highest seq is sent. Commands go out in seq order, each marked sent once Send returned.
type sender struct {
	stream  grpc.BidiStreamingServer[fleetv1.ConnectRequest, fleetv1.ConnectResponse]
	ackSeq  uint64
	sentAck uint64
	ack     chan struct{}
	cmds    *commands.Queue
	sess    *fleet.Session
	wake    <-chan struct{}
}

// acknowledge schedules an acknowledgement of every report up to seq.
func (s *sender) acknowledge(seq uint64) {
	s.ackSeq = max(s.ackSeq, seq)
	select {
	case s.ack <- struct{}{}:
	default:
	}
}

// sendAck sends the acknowledgement of the highest report applied, unless it went out already.
func (s *sender) sendAck() error {
	if s.ackSeq == s.sentAck {
		return nil
	}
	if err := s.stream.Send(&fleetv1.ConnectResponse{Msg: &fleetv1.ConnectResponse_Ack{Ack: &fleetv1.ReportAck{Seq: s.ackSeq}}}); err != nil {
		return err
	}
	s.sentAck = s.ackSeq
	return nil
}

// sendCommands sends the node's commands not yet sent on this session.
func (s *sender) sendCommands() error {
	for _, c := range s.cmds.Unsent(s.sess.NodeID, s.sess.ID) {
		if err := s.stream.Send(&fleetv1.ConnectResponse{Msg: &fleetv1.ConnectResponse_Command{Command: c}}); err != nil {
			return err
		}
		// A sent mark that could not be stored is kept by the queue and written again later;
		// the command did go out, so the session goes on.
		if err := s.cmds.MarkSent(c.GetId(), s.sess.ID); err != nil && !errors.Is(err, commands.ErrNotStored) {
			return err
		}
	}
	return nil
}

// msgKind names the kind of an agent message for error texts.
func msgKind(m *fleetv1.ConnectRequest) string {
	switch m.GetMsg().(type) {
	case *fleetv1.ConnectRequest_Report:
		return "a report"
	case *fleetv1.ConnectRequest_CommandUpdate:
		return "a command update"
	case *fleetv1.ConnectRequest_Goodbye:
		return "a goodbye"
	case *fleetv1.ConnectRequest_Interruption:
		return "an interruption notice"
	}
	return "an empty message"
}

// holdForRestart takes a node out of routing when a restart command starts running on it: the
// agent lets in-flight requests finish, restarts the service and waits for its health check,
// and the command's end (applyCommandEffects) returns the node.
func (a *agentService) holdForRestart(nodeID, cmdID string) {
	rec, err := a.cmds.Get(cmdID)
	if err != nil || rec.GetCommand().GetKind() != fleetv1.CommandKind_COMMAND_KIND_RESTART {
		return
	}
	if err := a.reg.HoldForRestart(nodeID, cmdID); err != nil {
		a.log.Warn("node not held out of routing for its restart", "node", nodeID, "command", cmdID, "err", err)
	}
}

// updateRetries are the waits between the attempts to store a command update whose write
// failed, while the session waits: about a second in all, bounded so a full disk does not stall
// the session. An update still unstored after them is kept in memory and written by the
// queue's next Flush.
var updateRetries = []time.Duration{50 * time.Millisecond, 150 * time.Millisecond, 300 * time.Millisecond, 500 * time.Millisecond}

// storeUpdate retries the write of a command update the queue applied in memory but could not
// store (err), with bounded backoff; the session stays up whatever the outcome.
func (a *agentService) storeUpdate(ctx context.Context, nodeID string, u *fleetv1.CommandUpdate, err error) {
	a.log.Warn("command update applied but not stored; retrying", "node", nodeID, "command", u.GetId(), "state", u.GetState(), "err", err)
	for _, wait := range updateRetries {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		left, ferr := a.cmds.Flush()
		if left == 0 {
			a.log.Info("command update stored after a failed write", "node", nodeID, "command", u.GetId(), "state", u.GetState())
			return
		}
		err = ferr
	}
	a.log.Error("command update kept in memory: the store cannot write; it is written again every expiry tick, see /readyz",
		"node", nodeID, "command", u.GetId(), "state", u.GetState(), "err", err)
}
