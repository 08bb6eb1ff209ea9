package ui

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/dspyfleet/dspyfleet/controlplane/auth"
	"github.com/dspyfleet/dspyfleet/controlplane/stats"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

//go:embed static
var staticFS embed.FS

// Config is what the dashboard needs from the control plane.
type Config struct {
	// Conn reaches this control plane's gRPC services in process.
	Conn grpc.ClientConnInterface
	// Stats are the request rollups the pool plots read.
	Stats *stats.Requests
	// Login checks a token typed on the login page and returns its role (auth.Security.Login).
	Login func(ctx context.Context, remoteAddr, token string) (auth.Role, error)
	// Authenticates is whether the control plane needs credentials; without, nobody logs in and
	// every visitor may change what the API lets an anonymous caller change.
	Authenticates bool
	// Secure marks the session cookie Secure: the listener serves TLS.
	Secure bool
	// SessionTTL is how long a login lasts; 12h when zero.
	SessionTTL time.Duration
	// Stopping is closed when the control plane stops: event streams end.
	Stopping <-chan struct{}
	Log      *slog.Logger
	Now      func() time.Time
}

// Handler serves the dashboard under /ui/.
type Handler struct {
	cfg      Config
	handler  http.Handler
	sessions *sessions
	fleet    fleetv1.FleetServiceClient
	routing  fleetv1.RoutingServiceClient
	scaling  fleetv1.ScalingServiceClient
	alert    fleetv1.AlertServiceClient
	costs    fleetv1.CostServiceClient
	maint    fleetv1.MaintenanceServiceClient
}

// New builds the dashboard; it starts nothing.
func New(cfg Config) *Handler {
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	h := &Handler{
		cfg: cfg, sessions: newSessions(cfg.Now, cfg.SessionTTL),
		fleet:   fleetv1.NewFleetServiceClient(cfg.Conn),
		routing: fleetv1.NewRoutingServiceClient(cfg.Conn),
		scaling: fleetv1.NewScalingServiceClient(cfg.Conn),
		alert:   fleetv1.NewAlertServiceClient(cfg.Conn),
		costs:   fleetv1.NewCostServiceClient(cfg.Conn),
		maint:   fleetv1.NewMaintenanceServiceClient(cfg.Conn),
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the embedded tree always has static/
	}
	mux := http.NewServeMux()
	mux.Handle("GET /ui/static/", http.StripPrefix("/ui/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /ui/login", h.loginPage)
	mux.HandleFunc("POST /ui/login", h.login)
	mux.HandleFunc("POST /ui/logout", h.logout)
	mux.HandleFunc("GET /ui/{$}", h.page)
	mux.HandleFunc("GET /ui/api/session", h.withSession(h.session))
	mux.HandleFunc("GET /ui/api/nodes", h.withSession(h.nodes))
	mux.HandleFunc("GET /ui/api/nodes/{id}", h.withSession(h.node))
	mux.HandleFunc("POST /ui/api/nodes/{id}/drain", h.withWrite(h.drain))
	mux.HandleFunc("POST /ui/api/nodes/{id}/undrain", h.withWrite(h.undrain))
	mux.HandleFunc("GET /ui/api/events", h.withSession(h.events))
	mux.HandleFunc("GET /ui/api/pools/{pool}", h.withSession(h.pool))
	mux.HandleFunc("GET /ui/api/alerts", h.withSession(h.alerts))
	mux.HandleFunc("POST /ui/api/silences", h.withWrite(h.createSilence))
	mux.HandleFunc("DELETE /ui/api/silences/{id}", h.withWrite(h.deleteSilence))
	mux.HandleFunc("GET /ui/api/cost", h.withSession(h.cost))
	mux.HandleFunc("GET /ui/api/commands", h.withSession(h.commands))
	mux.HandleFunc("GET /ui/api/commands/{id}", h.withSession(h.command))
	mux.HandleFunc("POST /ui/api/commands/{id}/cancel", h.withWrite(h.cancelCommand))
	mux.HandleFunc("GET /ui/api/operations", h.withSession(h.operations))
	mux.HandleFunc("POST /ui/api/deployments/{id}/{action}", h.withWrite(h.deploymentAction))
	mux.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no dashboard page or endpoint "+r.Method+" "+r.URL.Path)
	})
	h.handler = http.NewCrossOriginProtection().Handler(securityHeaders(mux))
	return h
}

// ServeHTTP serves a dashboard request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.handler.ServeHTTP(w, r) }

// securityHeaders keeps the pages out of frames and the browser to this origin's scripts.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// page serves the dashboard's one page, or sends a visitor without a session to the login.
func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.current(w, r); !ok {
		http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
		return
	}
	http.ServeFileFS(w, r, staticFS, "static/index.html")
}

// listPage is the page size the dashboard reads whole lists with (alerts, silences, budgets,
// recommendations): the API's largest.
const listPage = 1000

// callContext is ctx with the session's token as the call's bearer credential.
func callContext(ctx context.Context, s *session) context.Context {
	if s.token == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+s.token)
}

// writeJSON writes v as the JSON answer.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		// The client went away mid-answer; nothing is left to tell it.
		return
	}
}

// writeError writes {"error": msg} with code.
func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// httpCodes maps the gRPC codes the services answer with to HTTP.
var httpCodes = map[codes.Code]int{
	codes.InvalidArgument:    http.StatusBadRequest,
	codes.OutOfRange:         http.StatusBadRequest,
	codes.Unauthenticated:    http.StatusUnauthorized,
	codes.PermissionDenied:   http.StatusForbidden,
	codes.NotFound:           http.StatusNotFound,
	codes.AlreadyExists:      http.StatusConflict,
	codes.FailedPrecondition: http.StatusConflict,
	codes.Aborted:            http.StatusConflict,
	codes.ResourceExhausted:  http.StatusTooManyRequests,
	codes.Unavailable:        http.StatusServiceUnavailable,
	codes.DeadlineExceeded:   http.StatusGatewayTimeout,
	codes.Canceled:           499,
}

// writeStatus writes a service's error with its HTTP code and message.
func writeStatus(w http.ResponseWriter, err error) {
	st := status.Convert(err)
	code, ok := httpCodes[st.Code()]
	if !ok {
		code = http.StatusInternalServerError
	}
	writeError(w, code, st.Message())
}

// errNoSession answers API calls without a login.
var errNoSession = errors.New("not logged in: open /ui/login")
