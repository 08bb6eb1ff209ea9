package controlplane

import (
	"context"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/test/bufconn"

	"github.com/dspyfleet/dspyfleet/controlplane/ui"
)

// dashboardConnBuffer is the buffer of the dashboard's in-memory gRPC connection.
const dashboardConnBuffer = 1 << 20

// newDashboard wires the web dashboard to an in-process connection to this server's gRPC API
// (an in-memory listener the gRPC server also serves), so every call of the dashboard passes
// the same authentication, access table, limits and audit trail as a remote call.
func (s *Server) newDashboard() error {
	s.dashLn = bufconn.Listen(dashboardConnBuffer)
	conn, err := grpc.NewClient("passthrough:///dashboard",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return s.dashLn.DialContext(ctx) }),
		grpc.WithTransportCredentials(s.sec.InProcessCredentials()))
	if err != nil {
		return err
	}
	s.dashConn = conn
	s.dashboard = ui.New(ui.Config{
		Conn: conn, Stats: s.stats, Login: s.sec.Login, Authenticates: s.sec.Authenticates(), Secure: !s.sec.Plaintext(),
		Stopping: s.stopping, Log: s.log.With("component", "ui"), Now: s.cfg.Now,
	})
	return nil
}
