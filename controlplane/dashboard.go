package controlplane

import (
	"context"
	"fmt"
	"net"
	"net/http"

	"google.golang.org/grpc"

	"github.com/dspyfleet/dspyfleet/controlplane/ui"
)

// dashboardConnBuffer is the buffer of the dashboard's in-memory gRPC connection.
const dashboardConnBuffer = 1 << 20

// startDashboard wires the web dashboard to an in-process connection to this server's gRPC API
// (an in-memory listener, dashLn, that the gRPC server also serves), so every call of the
// dashboard passes the same authentication, access table, limits and audit trail as a remote
// call. Run calls it before serving HTTP, since the connection starts goroutines.
func (s *Server) startDashboard() error {
	conn, err := grpc.NewClient("passthrough:///dashboard",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return s.dashLn.DialContext(ctx) }),
		grpc.WithTransportCredentials(s.sec.InProcessCredentials()))
	if err != nil {
		return fmt.Errorf("the dashboard's connection to the gRPC API: %w", err)
	}
	s.dashConn = conn
	s.dashboard = ui.New(ui.Config{
		Conn: conn, Stats: s.stats, Login: s.sec.Login, Authenticates: s.sec.Authenticates(), Secure: !s.sec.Plaintext(),
		Stopping: s.stopping, Log: s.log.With("component", "ui"), Now: s.cfg.Now,
	})
	return nil
}

// serveDashboard serves /ui/ with the dashboard Run started.
func (s *Server) serveDashboard(w http.ResponseWriter, r *http.Request) { s.dashboard.ServeHTTP(w, r) }
