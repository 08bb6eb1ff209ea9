package controlplane

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/dspyfleet/dspyfleet/controlplane/alerts"
	"github.com/dspyfleet/dspyfleet/controlplane/api"
	"github.com/dspyfleet/dspyfleet/controlplane/auth"
	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/commands"
	"github.com/dspyfleet/dspyfleet/controlplane/cost"
	"github.com/dspyfleet/dspyfleet/controlplane/fleet"
	"github.com/dspyfleet/dspyfleet/controlplane/logs"
	"github.com/dspyfleet/dspyfleet/controlplane/maintenance"
	"github.com/dspyfleet/dspyfleet/controlplane/policy"
	"github.com/dspyfleet/dspyfleet/controlplane/router"
	"github.com/dspyfleet/dspyfleet/controlplane/scaling"
	"github.com/dspyfleet/dspyfleet/controlplane/stats"
	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/controlplane/ui"
	"github.com/dspyfleet/dspyfleet/internal/version"
	maintplan "github.com/dspyfleet/dspyfleet/pkg/maintenance"
)

// Server is a control plane: the gRPC API, the HTTP endpoints, the registry and its store.
type Server struct {
	cfg      Config
	log      *slog.Logger
	store    *store.Store
	reg      *fleet.Registry
	cmds     *commands.Queue
	stats    *stats.Requests
	router   *router.Router
	config   *policy.Document
	cost     *cost.Tracker
	scaler   *scaling.Scaler
	alerter  *alerts.Alerter
	notifier *alerts.Notifier
	metrics  *metrics
	promReg  *prometheus.Registry
	grpc     *grpc.Server
	services *api.Services
	health   *health.Server
	http     *http.Server
	grpcLn   net.Listener
	httpLn   net.Listener
	steps    []reconcileStep
	backups  *maintenance.Backups
	deployer *maintenance.Deployer
	windows  *maintenance.Windows
	stopping chan struct{}
	ready    atomic.Bool
	sec      *auth.Security
	// dashboard serves /ui/ over dashConn, a client of the gRPC server on dashLn.
	dashboard *ui.Handler
	dashLn    *bufconn.Listener
	dashConn  *grpc.ClientConn
	logs      *logs.Book
}

// New opens the store (failing fast if it is locked or corrupt), loads the known nodes and binds
// both listeners. It starts no goroutine: Run serves.
func New(cfg Config) (_ *Server, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	// closers undo what New opened, newest first, when it fails.
	var closers []func() error
	defer func() {
		if err != nil {
			for _, c := range slices.Backward(closers) {
				_ = c()
			}
		}
	}()
	st, err := store.Open(cfg.DataDir, cfg.LockTimeout)
	if err != nil {
		return nil, err
	}
	closers = append(closers, st.Close)
	nodes, err := st.LoadNodes()
	if err != nil {
		return nil, err
	}
	reg := fleet.NewRegistry(cfg.Now, fleet.Liveness{
		NodeTTL: cfg.NodeTTL, Grace: cfg.TTLGrace, FailoverTTL: cfg.FailoverTTL, DefaultInterval: cfg.DefaultInterval,
	}, cfg.WatchBuffer)
	reg.Load(nodes)
	reg.MaxNodes = cfg.MaxNodes
	reg.NewNodes = cfg.registerLimit()
	recs, err := st.LoadCommands()
	if err != nil {
		return nil, err
	}
	cmds := commands.NewQueue(cfg.Now, st, cfg.CommandRetention, cfg.WatchBuffer)
	if cfg.TracerProvider != nil {
		cmds.SetTracerProvider(cfg.TracerProvider)
	}
	cmds.Load(recs)
	stats := stats.NewRequests(cfg.Now, st, cfg.RollupRetention)
	rt, err := router.New(reg, stats, st, cfg.Now, cfg.Logger.With("component", "routing"))
	if err != nil {
		return nil, err
	}
	costs, err := cost.New(cfg.Logger, st, stats, reg, cfg.Now())
	if err == nil {
		costs.Gate.SetColdEstimate(cfg.BudgetColdRequestUSD)
	}
	if err == nil && cfg.CostPrices != nil {
		err = costs.SeedPrices(*cfg.CostPrices)
	}
	if err != nil {
		return nil, err
	}
	sc, err := scaling.New(cfg.Now, cfg.Logger.With("component", "scaling"), reg, stats, cmds, st, cfg.ScalingHookDir)
	if err != nil {
		return nil, err
	}
	sc.Defaults = cfg.ScalingDefaults

	grpcLn, err := net.Listen("tcp", cfg.GRPCListen)
	if err != nil {
		return nil, fmt.Errorf("--grpc-listen %s: %w", cfg.GRPCListen, err)
	}
	closers = append(closers, grpcLn.Close)
	httpLn, err := net.Listen("tcp", cfg.HTTPListen)
	if err != nil {
		return nil, fmt.Errorf("--http-listen %s: %w", cfg.HTTPListen, err)
	}
	closers = append(closers, httpLn.Close)
	s := &Server{
		cfg: cfg, log: cfg.Logger, store: st, reg: reg, cmds: cmds, stats: stats, router: rt, scaler: sc, cost: costs,
		grpcLn: grpcLn, httpLn: httpLn, stopping: make(chan struct{}),
	}
	if s.sec, err = auth.New(cfg.security(), st, cfg.Logger); err != nil {
		return nil, err
	}
	if err := s.checkExposure(grpcLn.Addr(), httpLn.Addr()); err != nil {
		return nil, err
	}
	s.backups = maintenance.NewBackups(st, maintenance.BackupConfig{
		Dir: cmp.Or(cfg.BackupDir, filepath.Join(cfg.DataDir, "backups")), Interval: cfg.BackupInterval,
		Retention: maintplan.Retention{Keep: cfg.BackupKeep, MaxAge: cfg.BackupMaxAge}, Version: version.Version,
	}, cfg.Now, cfg.Logger.With("component", "backup"))
	if s.deployer, err = maintenance.NewDeployer(st, reg, cmds, rt, cfg.Now, cfg.Logger.With("component", "deploy"), cfg.DeployDrainGrace); err != nil {
		return nil, err
	}
	if s.windows, err = maintenance.NewWindows(st, reg, cmds, rt, cfg.Now, cfg.Logger.With("component", "maintenance"), cfg.DeployDrainGrace); err != nil {
		return nil, err
	}
	s.windows.Deploying = s.deployer.Busy
	cmds.SetHolder(s.windows.HoldFor)
	sc.Busy = s.maintenanceBusy
	s.httpLn = s.sec.HTTPListener(httpLn)
	s.promReg, s.metrics = newMetrics(reg, stats)
	s.promReg.MustRegister(&scaling.Collector{Scaler: sc})
	s.promReg.MustRegister(&maintenance.Collector{Backups: s.backups, Deployer: s.deployer, Windows: s.windows})
	s.logs = logs.New(logs.Defaults())
	s.promReg.MustRegister(&logsCollector{reg: reg, book: s.logs})
	s.steps = append(s.steps, reconcileStep{name: "nodegc", run: s.collectGC})
	s.steps = append(s.steps, reconcileStep{name: "routing", run: rt.Reconcile})
	s.steps = append(s.steps, reconcileStep{name: "scaling", run: sc.Reconcile})
	if err := s.newAlerter(); err != nil {
		return nil, err
	}
	s.steps = append(s.steps, reconcileStep{name: "alerts", run: s.alerter.Reconcile})
	s.config = policy.New(st, cfg.Now,
		policy.RoutingSection(rt), policy.ScalingSection(sc), policy.BudgetsSection(costs, cfg.Now), policy.PricesSection(costs))
	s.promReg.MustRegister(&cost.Collector{Tracker: costs, Now: cfg.Now})
	s.steps = append(s.steps, reconcileStep{name: "cost", run: costs.Step})
	s.steps = append(s.steps, reconcileStep{name: "maintenance", run: s.reconcileMaintenance})
	s.promReg.MustRegister(s.sec.Collectors()...)
	s.promReg.MustRegister(storeWriteMetrics(st)...)
	s.log.Info("store opened", "path", st.Path(), "nodes", len(nodes), "commands", len(recs))
	s.grpc = s.newGRPCServer()
	s.dashLn = bufconn.Listen(dashboardConnBuffer)
	s.http = &http.Server{Handler: s.httpHandler(), ReadHeaderTimeout: 10 * time.Second}
	return s, nil
}

// GRPCAddr is the bound gRPC address.
func (s *Server) GRPCAddr() string { return s.grpcLn.Addr().String() }

// HTTPAddr is the bound HTTP address.
func (s *Server) HTTPAddr() string { return s.httpLn.Addr().String() }

// connReadBuffer is the read buffer of each gRPC connection.
const connReadBuffer = 4 << 10

func (s *Server) newGRPCServer() *grpc.Server {
	logOpts := []logging.Option{
		logging.WithLogOnEvents(logging.FinishCall),
		logging.WithLevels(func(c codes.Code) logging.Level {
			if c == codes.OK || c == codes.Canceled {
				return logging.LevelDebug
			}
			return logging.DefaultServerCodeToLevel(c)
		}),
	}
	logger := logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		s.log.Log(ctx, slog.Level(lvl), msg, fields...)
	})
	recoverOpt := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		s.log.Error("panic in gRPC handler", "panic", p, "peer", auth.PeerAddr(ctx), "stack", string(debug.Stack()))
		return status.Error(codes.Internal, "internal error; the control plane logged the details")
	})
	grpcMetrics := grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram())
	s.promReg.MustRegister(grpcMetrics)
	gs := grpc.NewServer(append([]grpc.ServerOption{
		grpc.MaxRecvMsgSize(s.cfg.MaxRecvBytes),
		// Each agent holds a connection: 32 KiB read buffers (the default) cost 320 MiB at
		// 10,000 agents, while a report is a few KiB (BENCHMARKS.md, agents held).
		grpc.ReadBufferSize(connReadBuffer),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.ChainUnaryInterceptor(grpcMetrics.UnaryServerInterceptor(), logging.UnaryServerInterceptor(logger, logOpts...), check.UnaryBound, recovery.UnaryServerInterceptor(recoverOpt)),
		grpc.ChainStreamInterceptor(grpcMetrics.StreamServerInterceptor(), logging.StreamServerInterceptor(logger, logOpts...), check.StreamBound, recovery.StreamServerInterceptor(recoverOpt)),
	}, append(s.sec.ServerOptions(), s.traceOptions()...)...)...)
	s.services = api.Register(gs, api.Deps{
		Registry: s.reg, Commands: s.cmds, Stats: s.stats, Router: s.router, Scaler: s.scaler, Cost: s.cost,
		Alerts: s.alerter, Policy: s.config, Backups: s.backups, Deployer: s.deployer, Windows: s.windows, Security: s.sec, Logs: s.logs,
		Log: s.log, Now: s.cfg.Now, Stopping: s.stopping, Limits: s.cfg.limits(),
		HelloTimeout: s.cfg.HelloTimeout, MaxClockSkew: s.cfg.MaxClockSkew, Metrics: api.NewMetrics(s.promReg),
	})
	s.health = health.NewServer()
	healthpb.RegisterHealthServer(gs, s.health)
	reflection.Register(gs)
	grpcMetrics.InitializeMetrics(gs)
	return gs
}

// Run serves until ctx ends, then shuts down gracefully: agent sessions and watches end with
// UNAVAILABLE, in-flight calls finish, changed nodes are flushed and the store is closed.
func (s *Server) Run(ctx context.Context) error {
	if err := s.startDashboard(); err != nil {
		return errors.Join(err, s.store.Close())
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		// A stop that comes before Serve starts makes Serve return ErrServerStopped.
		if err := s.grpc.Serve(s.grpcLn); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			return fmt.Errorf("grpc server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		if err := s.grpc.Serve(s.dashLn); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			return fmt.Errorf("grpc server for the dashboard: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		if err := s.http.Serve(s.httpLn); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	})
	g.Go(func() error { return s.livenessLoop(gctx) })
	g.Go(func() error { return s.flushLoop(gctx) })
	g.Go(func() error { return s.reconcileLoop(gctx) })
	g.Go(func() error { return s.router.Run(gctx) })
	g.Go(func() error { return s.scaler.Run(gctx) })
	g.Go(func() error { return s.notifier.Run(gctx) })
	g.Go(func() error { return s.backups.Run(gctx) })
	g.Go(func() error {
		<-gctx.Done()
		s.shutdown()
		return nil
	})
	s.ready.Store(true)
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.log.Info("control plane serving", "grpc", s.GRPCAddr(), "http", s.HTTPAddr())
	err := g.Wait()
	_ = s.dashConn.Close()
	s.notifier.Abandon()
	if ferr := s.flush(); ferr != nil {
		err = errors.Join(err, ferr)
	}
	if left, ferr := s.cmds.Flush(); ferr != nil {
		s.log.Error("command states kept in memory could not be stored at shutdown; agents report them again on their next session", "commands", left, "err", ferr)
	}
	if cerr := s.store.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	s.log.Info("control plane stopped")
	return err
}

// shutdown stops accepting work and ends sessions and servers within the shutdown timeout.
func (s *Server) shutdown() {
	s.ready.Store(false)
	s.health.Shutdown()
	close(s.stopping)
	s.reg.Close()
	s.cmds.CloseWatchers()
	stopped := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(stopped)
	}()
	timer := time.NewTimer(s.cfg.ShutdownTimeout)
	defer timer.Stop()
	select {
	case <-stopped:
	case <-timer.C:
		s.log.Warn("graceful gRPC stop timed out; closing remaining calls", "timeout", s.cfg.ShutdownTimeout)
		s.grpc.Stop()
		<-stopped
	}
	s.services.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := s.http.Shutdown(ctx); err != nil {
		s.log.Warn("http shutdown", "err", err)
	}
}

// livenessLoop declares silent nodes down, expires commands past their deadline and delivers
// the commands held for a maintenance window that opened; once an hour it deletes finished
// commands older than the retention.
func (s *Server) livenessLoop(ctx context.Context) error {
	t := time.NewTicker(s.cfg.LivenessCheck)
	defer t.Stop()
	lastPrune := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.reg.Sweep()
			s.cmds.Expire()
			s.cmds.Release()
			if time.Since(lastPrune) > time.Hour {
				lastPrune = time.Now()
				if err := s.cmds.Prune(); err != nil {
					s.log.Error("pruning old commands failed", "err", err)
				}
				if err := s.sec.Audit.Prune(); err != nil {
					s.log.Error("pruning old audit records failed", "err", err)
				}
			}
		}
	}
}

// flushLoop writes changed nodes to bbolt every flush interval, and at once after a state change.
func (s *Server) flushLoop(ctx context.Context) error {
	t := time.NewTicker(s.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.reg.FlushNow():
		}
		if err := s.flush(); err != nil {
			s.log.Error("writing nodes to the store failed; will retry", "err", err)
		}
	}
}

// flush writes every changed node in one transaction; on failure the nodes stay dirty.
func (s *Server) flush() error {
	recs, err := s.reg.TakeDirty()
	if err != nil {
		return err
	}
	start := time.Now()
	if err := s.store.PutNodes(recs); err != nil {
		s.metrics.flushErrors.Inc()
		s.reg.MarkDirty(recs)
		return fmt.Errorf("write %d nodes to %s: %w", len(recs), s.store.Path(), err)
	}
	if err := s.stats.Flush(); err != nil {
		s.metrics.flushErrors.Inc()
		return fmt.Errorf("write request rollups to %s: %w", s.store.Path(), err)
	}
	if len(recs) > 0 {
		s.metrics.flushes.Observe(time.Since(start).Seconds())
	}
	return nil
}

// newAlerter wires the alerter and its notifier into s.
func (s *Server) newAlerter() error {
	cfg := s.cfg.Alerts
	cfg.EvalInterval = s.cfg.ReconcileInterval
	cfg = cfg.WithDefaults()
	if cfg.GeneratorURL == "" {
		scheme := "https"
		if s.sec.Plaintext() {
			scheme = "http"
		}
		cfg.GeneratorURL = scheme + "://" + s.HTTPAddr() + "/ui/#/alerts"
	}
	m := alerts.NewMetrics(s.promReg)
	log := s.log.With("component", "alerts")
	s.notifier = alerts.NewNotifier(cfg, log, s.store, m, s.cfg.Now)
	a, err := alerts.New(cfg, log, s.store, s.reg, s.stats, s.cmds, s.notifier, m)
	if err != nil {
		return err
	}
	a.Budgets = s.cost.ListBudgets
	a.ScalingMin = s.scaler.MinSizes
	a.Logs = s.nodeLogs
	a.Busy = s.maintenanceBusy
	s.alerter = a
	return nil
}

// reconcileMaintenance is the maintenance step of the reconcile loop: deployments, then
// maintenance windows.
func (s *Server) reconcileMaintenance(ctx context.Context, now time.Time) error {
	return errors.Join(s.deployer.Reconcile(ctx, now), s.windows.Reconcile(now))
}

// maintenanceBusy reports whether a deployment or an open maintenance window covers pool (and
// node), for self-healing and scaling (see maintenance.Busy).
func (s *Server) maintenanceBusy(pool, node string) (bool, string) {
	return maintenance.Busy(s.deployer, s.windows, pool, node)
}
