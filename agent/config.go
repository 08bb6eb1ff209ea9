package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/dspyfleet/dspyfleet/agent/collector"
	"github.com/dspyfleet/dspyfleet/agent/intake"
	"github.com/dspyfleet/dspyfleet/agent/logs"
	"github.com/dspyfleet/dspyfleet/agent/preempt"
	"github.com/dspyfleet/dspyfleet/agent/proxy"
	"github.com/dspyfleet/dspyfleet/agent/secmon"
	"github.com/dspyfleet/dspyfleet/internal/cli"
	"github.com/dspyfleet/dspyfleet/internal/credential"
	"github.com/dspyfleet/dspyfleet/pkg/command"
	"github.com/dspyfleet/dspyfleet/pkg/cost"
	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
)

// Config configures an agent. DefaultConfig gives the documented defaults.
type Config struct {
	// Server is the control plane's gRPC address (host:port).
	Server string
	// NodeID identifies this host; empty means the host name.
	NodeID string
	// Pool is the pool the node serves.
	Pool string
	// Labels describe the node (zone, gpu, ...).
	Labels map[string]string
	// Weight is the node's relative capacity for weighted routing.
	Weight float64
	// HourlyPrice is the host's price per hour in USD.
	HourlyPrice float64
	// InstanceType names the host's instance type for the cost model.
	InstanceType string
	// CapacityType is how the host is bought: on_demand, spot or reserved; empty means read it
	// from the metadata service of Cloud, else unknown.
	CapacityType string
	// Cloud names the metadata service watched for interruption notices (spot reclaims): ec2,
	// gce or azure; empty watches none.
	Cloud string
	// MetadataURL replaces the metadata service's base URL (http://host:port).
	MetadataURL string
	// MetadataInterval is how often the metadata service is polled; 0 means 5 s.
	MetadataInterval time.Duration
	// TermNotice is how long a SIGTERM leaves in-flight requests to finish: the agent treats it
	// as an interruption notice with that deadline and stops once nothing is in flight. 0 stops
	// at once.
	TermNotice time.Duration
	// AdvertiseAddr is where clients send this node DSPy requests (host:port), handed out by
	// routing. Empty means the proxy's address when the proxy is on. An unspecified host
	// (":8000", "0.0.0.0:8000") is filled in by the control plane with the agent's address.
	AdvertiseAddr string
	// Interval is how often a report is made.
	Interval time.Duration
	// StateDir holds the agent's local state.
	StateDir string
	// BufferSize is the number of unacknowledged reports kept while disconnected.
	BufferSize int
	// BackoffInitial and BackoffMax bound the reconnect backoff.
	BackoffInitial time.Duration
	BackoffMax     time.Duration
	// Watchdog restarts a session that heard nothing from the control plane for this long;
	// 0 means 3 × Interval.
	Watchdog time.Duration
	// Collectors sample the host; nil means collector.Default().
	Collectors []collector.Collector
	// ActionsConfig configures the actions this host carries out besides drain and undrain,
	// which are built in. A kind without an action is refused with a clear reason.
	ActionsConfig ActionsConfig
	// Prices are the model prices (USD per million tokens) used to cost DSPy requests.
	Prices reqstats.Prices
	// Intake is the local endpoint DSPy programs report requests to; Listen and Socket both
	// empty (the default here; the agent command listens on intake.DefaultListen) disable it.
	Intake intake.Config
	// Proxy is the optional sidecar reverse proxy in front of the DSPy HTTP server: it measures
	// every request and refuses new ones while the node drains. An empty Listen disables it.
	Proxy proxy.Config
	// MetricsListen is where the agent serves its own Prometheus /metrics; empty (the default)
	// serves none. Only a loopback address is accepted: the figures are the host's business.
	MetricsListen string
	// Logs are the DSPy service's log files the agent follows and counts per template; no
	// files disables log analysis.
	Logs logs.Config
	// Security is what the agent watches for security events: the auth log, new listening
	// sockets, file integrity; the zero value watches nothing.
	Security secmon.Config

	// Token is the agent token sent to the control plane as "authorization: Bearer <token>";
	// zero sends none.
	Token credential.Token
	// TokenFile names a file holding the agent token, read by New; it wins over Token.
	TokenFile string
	// TLS connects to the control plane over TLS, verifying it against CAFile, or the system's
	// CAs when CAFile is empty. Setting CAFile or CertFile turns it on too.
	TLS bool
	// CAFile is the PEM CA certificate the control plane's certificate must chain to.
	CAFile string
	// CertFile and KeyFile are the PEM client certificate and key presented for mTLS, re-read
	// when they change; the certificate's subject common name must be the node id.
	CertFile, KeyFile string

	// Actions adds or replaces actions by kind, for programs embedding the agent.
	Actions map[command.Kind]Action
	// Logger receives the agent's logs; nil means slog.Default().
	Logger *slog.Logger
	// TracerProvider receives a command.execute span per command (joining the trace the
	// control plane started) and, with the proxy on, a span per proxied request; nil traces
	// nothing.
	TracerProvider trace.TracerProvider
}

// DefaultConfig returns the defaults documented for the agent flags.
func DefaultConfig() Config {
	return Config{
		Server:         "127.0.0.1:7070",
		Pool:           "default",
		Weight:         1,
		Interval:       5 * time.Second,
		StateDir:       "/var/lib/dspyfleet-agent",
		BufferSize:     720,
		BackoffInitial: 500 * time.Millisecond,
		BackoffMax:     30 * time.Second,
	}
}

var (
	idPattern       = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
	labelKeyPattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._/-]{0,61}[A-Za-z0-9])?$`)
)

// Validate reports every invalid setting, naming its flag.
func (c Config) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.Server != "", "--server is empty; set it or DSPYFLEET_ADDR to the control plane's host:port")
	check(c.NodeID == "" || idPattern.MatchString(c.NodeID), "--node-id %q must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit", c.NodeID)
	if c.AdvertiseAddr != "" {
		_, port, err := net.SplitHostPort(c.AdvertiseAddr)
		check(err == nil && port != "" && port != "0", "--advertise-addr %q must be host:port with a non-zero port", c.AdvertiseAddr)
	}
	check(c.Pool == "" || idPattern.MatchString(c.Pool), "--pool %q must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit", c.Pool)
	for k := range c.Labels {
		check(labelKeyPattern.MatchString(k), "--label key %q must be 1-63 letters, digits, '.', '_', '/' or '-', starting and ending with a letter or digit", k)
	}
	check(c.Weight >= 0, "--weight %g must not be negative", c.Weight)
	if msg := cost.AmountProblem(c.HourlyPrice, cost.MaxHourly); msg != "" {
		check(false, "--hourly-price %s (USD per hour, 0 to %g)", msg, cost.MaxHourly)
	}
	check(slices.Contains([]string{"", preempt.OnDemand, preempt.Spot, preempt.Reserved}, c.CapacityType), "--capacity-type %q must be on_demand, spot or reserved", c.CapacityType)
	check(c.Cloud == "" || slices.Contains(preempt.Clouds, c.Cloud), "--cloud %q must be one of %s (or empty)", c.Cloud, strings.Join(preempt.Clouds, ", "))
	check(c.MetadataURL == "" || c.Cloud != "", "--metadata-url needs --cloud")
	check(c.MetadataInterval == 0 || c.MetadataInterval >= 10*time.Millisecond, "--metadata-interval %s must be at least 10ms", c.MetadataInterval)
	check(c.TermNotice >= 0 && c.TermNotice <= time.Hour, "--term-notice %s must be between 0 and 1h", c.TermNotice)
	check(c.Interval >= 100*time.Millisecond && c.Interval <= time.Hour, "--interval %s must be between 100ms and 1h", c.Interval)
	check(c.StateDir != "", "--state-dir is empty")
	check(c.BufferSize > 0, "--buffer-size %d must be positive", c.BufferSize)
	check(c.BackoffInitial > 0 && c.BackoffMax >= c.BackoffInitial, "backoff %s..%s must be positive and increasing", c.BackoffInitial, c.BackoffMax)
	check(c.Watchdog >= 0, "watchdog %s must not be negative", c.Watchdog)
	check(loopbackListen(c.MetricsListen), "--metrics-listen %q must be a loopback host:port (127.0.0.1:9105, [::1]:9105, localhost:9105) or empty", c.MetricsListen)
	for model, p := range c.Prices {
		for _, f := range []struct {
			name  string
			value float64
		}{{"input_per_mtok", p.InputPerMTok}, {"output_per_mtok", p.OutputPerMTok}, {"cached_input_per_mtok", p.CachedInputPerMTok}} {
			if msg := cost.AmountProblem(f.value, cost.MaxPerMTok); msg != "" {
				check(false, "prices[%s].%s %s (USD per million tokens, 0 to %g)", model, f.name, msg, cost.MaxPerMTok)
			}
		}
	}
	if err := c.Logs.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Security.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// fileConfig is the YAML form of the agent's configuration file.
type fileConfig struct {
	Profile       *string           `yaml:"profile"`
	LogLevel      *string           `yaml:"log_level"`
	Server        *string           `yaml:"server"`
	NodeID        *string           `yaml:"node_id"`
	Pool          *string           `yaml:"pool"`
	Labels        map[string]string `yaml:"labels"`
	Weight        *float64          `yaml:"weight"`
	HourlyPrice   *float64          `yaml:"hourly_price"`
	InstanceType  *string           `yaml:"instance_type"`
	CapacityType  *string           `yaml:"capacity_type"`
	Cloud         *string           `yaml:"cloud"`
	MetadataURL   *string           `yaml:"metadata_url"`
	TermNotice    *time.Duration    `yaml:"term_notice"`
	AdvertiseAddr *string           `yaml:"advertise_addr"`
	MetricsListen *string           `yaml:"metrics_listen"`
	Interval      *time.Duration    `yaml:"interval"`
	StateDir      *string           `yaml:"state_dir"`
	BufferSize    *int              `yaml:"buffer_size"`
	Actions       *ActionsConfig    `yaml:"actions"`
	Prices        map[string]price  `yaml:"prices"`
	Intake        *intakeFile       `yaml:"intake"`
	Proxy         *proxyFile        `yaml:"proxy"`
	Logs          *logsFile         `yaml:"logs"`
	Security      *securityFile     `yaml:"security"`

	TokenFile *string `yaml:"token_file"`
	TLS       *bool   `yaml:"tls"`
	CAFile    *string `yaml:"ca_file"`
	CertFile  *string `yaml:"cert_file"`
	KeyFile   *string `yaml:"key_file"`
}

// proxyFile is the proxy section of the config file.
type proxyFile struct {
	Listen     *string        `yaml:"listen"`
	Upstream   *string        `yaml:"upstream"`
	RetryAfter *time.Duration `yaml:"retry_after"`

	MaxConcurrency *int           `yaml:"max_concurrency"`
	MaxQueue       *int           `yaml:"max_queue"`
	QueueTimeout   *time.Duration `yaml:"queue_timeout"`
}

// logsFile is the logs section of the config file.
type logsFile struct {
	Files        []string     `yaml:"files"`
	SampleErrors *bool        `yaml:"sample_errors"`
	MaxTemplates *int         `yaml:"max_templates"`
	Journal      *journalFile `yaml:"journal"`
}

// journalFile is the logs.journal section of the config file.
type journalFile struct {
	Units     []string `yaml:"units"`
	Directory *string  `yaml:"directory"`
}

// securityFile is the security section of the config file.
type securityFile struct {
	AuthLog       *string        `yaml:"auth_log"`
	AuthJournal   *bool          `yaml:"auth_journal"`
	Listeners     *bool          `yaml:"listeners"`
	Files         []string       `yaml:"files"`
	CheckInterval *time.Duration `yaml:"check_interval"`
	Window        *time.Duration `yaml:"window"`
}

// intakeFile is the intake section of the config file.
type intakeFile struct {
	Listen  *string `yaml:"listen"`
	Socket  *string `yaml:"socket"`
	MaxBody *int64  `yaml:"max_body"`
}

// price is a model's price in the config file, USD per million tokens.
type price struct {
	Input       float64 `yaml:"input_per_mtok"`
	Output      float64 `yaml:"output_per_mtok"`
	CachedInput float64 `yaml:"cached_input_per_mtok"`
}

func (f fileConfig) apply(c *Config) {
	cli.Set(&c.Server, f.Server)
	cli.Set(&c.NodeID, f.NodeID)
	cli.Set(&c.Pool, f.Pool)
	cli.Set(&c.Weight, f.Weight)
	cli.Set(&c.HourlyPrice, f.HourlyPrice)
	cli.Set(&c.InstanceType, f.InstanceType)
	cli.Set(&c.CapacityType, f.CapacityType)
	cli.Set(&c.Cloud, f.Cloud)
	cli.Set(&c.MetadataURL, f.MetadataURL)
	cli.Set(&c.TermNotice, f.TermNotice)
	cli.Set(&c.AdvertiseAddr, f.AdvertiseAddr)
	cli.Set(&c.MetricsListen, f.MetricsListen)
	cli.Set(&c.Interval, f.Interval)
	cli.Set(&c.StateDir, f.StateDir)
	cli.Set(&c.BufferSize, f.BufferSize)
	cli.Set(&c.TokenFile, f.TokenFile)
	cli.Set(&c.TLS, f.TLS)
	cli.Set(&c.CAFile, f.CAFile)
	cli.Set(&c.CertFile, f.CertFile)
	cli.Set(&c.KeyFile, f.KeyFile)
	if f.Labels != nil {
		c.Labels = f.Labels
	}
	if f.Actions != nil {
		c.ActionsConfig = *f.Actions
	}
	if i := f.Intake; i != nil {
		cli.Set(&c.Intake.Listen, i.Listen)
		cli.Set(&c.Intake.Socket, i.Socket)
		cli.Set(&c.Intake.MaxBody, i.MaxBody)
	}
	if p := f.Proxy; p != nil {
		cli.Set(&c.Proxy.Listen, p.Listen)
		cli.Set(&c.Proxy.Upstream, p.Upstream)
		cli.Set(&c.Proxy.RetryAfter, p.RetryAfter)
		cli.Set(&c.Proxy.MaxConcurrency, p.MaxConcurrency)
		cli.Set(&c.Proxy.MaxQueue, p.MaxQueue)
		cli.Set(&c.Proxy.QueueTimeout, p.QueueTimeout)
	}
	if l := f.Logs; l != nil {
		if l.Files != nil {
			c.Logs.Files = l.Files
		}
		cli.Set(&c.Logs.SampleErrors, l.SampleErrors)
		cli.Set(&c.Logs.MaxTemplates, l.MaxTemplates)
		if j := l.Journal; j != nil {
			if j.Units != nil {
				c.Logs.Journal.Units = j.Units
			}
			cli.Set(&c.Logs.Journal.Directory, j.Directory)
		}
	}
	if sf := f.Security; sf != nil {
		cli.Set(&c.Security.AuthLog, sf.AuthLog)
		cli.Set(&c.Security.AuthJournal, sf.AuthJournal)
		cli.Set(&c.Security.Listeners, sf.Listeners)
		cli.Set(&c.Security.CheckInterval, sf.CheckInterval)
		cli.Set(&c.Security.Window, sf.Window)
		if sf.Files != nil {
			c.Security.Files = sf.Files
		}
	}
	if f.Prices != nil {
		c.Prices = reqstats.Prices{}
		for model, p := range f.Prices {
			c.Prices[model] = reqstats.ModelPrice{InputPerMTok: p.Input, OutputPerMTok: p.Output, CachedInputPerMTok: p.CachedInput}
		}
	}
}
