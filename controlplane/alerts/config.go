package alerts

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/internal/cli"
	"github.com/dspyfleet/dspyfleet/pkg/rules"
)

// Channel kinds a notification channel may have.
const (
	channelWebhook      = "webhook"      // POST {"text": ...}, Slack-compatible
	channelAlertmanager = "alertmanager" // POST <url>/api/v2/alerts
)

// Channel is a notification channel rules may name in notify.
type Channel struct {
	// Name is what rules write in notify ("log" is built in).
	Name string
	// Kind is webhook or alertmanager.
	Kind string
	// URL is the webhook URL, or the Alertmanager base URL (…/api/v2/alerts is appended).
	URL string
}

// Config configures rule evaluation, notification delivery and healing guards. Zero
// fields take the defaults of DefaultAlertsConfig.
type Config struct {
	// Window is how far back the DSPy figures of the snapshot reach (one-minute rollups).
	Window time.Duration
	// DefaultRepeat is how often a firing alert is notified again and its action retried, for
	// Rules without a repeat interval.
	DefaultRepeat time.Duration
	// ResolvedRetention is how long resolved alerts stay listed.
	ResolvedRetention time.Duration
	// Channels are the webhook and Alertmanager channels.
	Channels []Channel
	// DefaultNotify are the channels a rule's "default" notifies (rules.DefaultChannel); every
	// one of Channels when empty.
	DefaultNotify []string
	// GeneratorURL is sent to Alertmanager as each alert's generatorURL.
	GeneratorURL string
	// AlertmanagerResend is how often every firing alert is sent again to the Alertmanager
	// channels, whatever its rule's repeat: Alertmanager resolves an alert at its endsAt,
	// 4 × max(AlertmanagerResend, EvalInterval) after it was last sent.
	AlertmanagerResend time.Duration
	// EvalInterval is how often the rules are evaluated (the reconcile interval).
	EvalInterval time.Duration
	// DeliveryTimeout bounds one delivery attempt; DeliveryAttempts and DeliveryBackoff (doubled
	// per attempt) govern retries.
	DeliveryTimeout  time.Duration
	DeliveryAttempts int
	DeliveryBackoff  time.Duration
	// DeliveryQueue is how many notifications may wait for delivery; past it a notification is
	// recorded as failed rather than blocking the reconcile loop.
	DeliveryQueue int
	// MaxHealingPerHour caps healing executions per node per hour.
	MaxHealingPerHour int
	// EscalateAfter failed attempts within EscalateWindow drain the node and raise a critical
	// alert; a negative value never escalates.
	EscalateAfter  int
	EscalateWindow time.Duration
	// MinHealthy is the fewest ready nodes a pool keeps when healing drains one; PoolMinHealthy
	// overrides it per pool. Once pool scaling policies exist, their minimum applies instead.
	MinHealthy     int
	PoolMinHealthy map[string]int
	// MaxEvents and MaxDeliveries bound the stored history.
	MaxEvents     int
	MaxDeliveries int
	// StepBudget bounds the time one step spends evaluating rules: the rules left when it is
	// spent are evaluated first in the next step, and are counted and recorded as cut off.
	StepBudget time.Duration
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	p := rules.DefaultHealingPolicy()
	return Config{
		Window:             time.Minute,
		DefaultRepeat:      4 * time.Hour,
		AlertmanagerResend: time.Minute,
		EvalInterval:       5 * time.Second,
		ResolvedRetention:  time.Hour,
		DeliveryTimeout:    10 * time.Second,
		DeliveryAttempts:   4,
		DeliveryBackoff:    time.Second,
		DeliveryQueue:      1024,
		MaxHealingPerHour:  p.MaxPerNodePerHour,
		EscalateAfter:      p.EscalateAfter,
		EscalateWindow:     p.EscalateWindow,
		MinHealthy:         p.MinHealthy,
		MaxEvents:          10000,
		MaxDeliveries:      10000,
		StepBudget:         2 * time.Second,
	}
}

// WithDefaults fills zero fields from DefaultAlertsConfig.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	c.Window = cmp.Or(c.Window, d.Window)
	c.DefaultRepeat = cmp.Or(c.DefaultRepeat, d.DefaultRepeat)
	c.AlertmanagerResend = cmp.Or(c.AlertmanagerResend, d.AlertmanagerResend)
	c.EvalInterval = cmp.Or(c.EvalInterval, d.EvalInterval)
	c.ResolvedRetention = cmp.Or(c.ResolvedRetention, d.ResolvedRetention)
	c.DeliveryTimeout = cmp.Or(c.DeliveryTimeout, d.DeliveryTimeout)
	c.DeliveryBackoff = cmp.Or(c.DeliveryBackoff, d.DeliveryBackoff)
	c.EscalateWindow = cmp.Or(c.EscalateWindow, d.EscalateWindow)
	c.DeliveryAttempts = cmp.Or(c.DeliveryAttempts, d.DeliveryAttempts)
	c.DeliveryQueue = cmp.Or(c.DeliveryQueue, d.DeliveryQueue)
	c.MaxHealingPerHour = cmp.Or(c.MaxHealingPerHour, d.MaxHealingPerHour)
	c.EscalateAfter = cmp.Or(c.EscalateAfter, d.EscalateAfter)
	c.MaxEvents = cmp.Or(c.MaxEvents, d.MaxEvents)
	c.MaxDeliveries = cmp.Or(c.MaxDeliveries, d.MaxDeliveries)
	c.StepBudget = cmp.Or(c.StepBudget, d.StepBudget)
	return c
}

// defaultChannels are the channels "default" stands for: DefaultNotify, or every configured
// channel.
func (c Config) defaultChannels() []string {
	if len(c.DefaultNotify) > 0 {
		return c.DefaultNotify
	}
	var out []string
	for _, ch := range c.Channels {
		out = append(out, ch.Name)
	}
	return out
}

// expandDefault returns r with "default" in its notify replaced by the default channels (none
// when no channel is configured, so the rule notifies the log alone).
func (c Config) expandDefault(r rules.Rule) rules.Rule {
	i := slices.Index(r.Notify, rules.DefaultChannel)
	if i < 0 {
		return r
	}
	notify := slices.Clone(r.Notify[:i])
	for _, name := range append(c.defaultChannels(), r.Notify[i+1:]...) {
		if !slices.Contains(notify, name) && name != rules.DefaultChannel {
			notify = append(notify, name)
		}
	}
	r.Notify = notify
	return r
}

// channelNames lists the channels rules may name: log, default and the configured ones.
func (c Config) channelNames() []string {
	out := []string{rules.LogChannel, rules.DefaultChannel}
	for _, ch := range c.Channels {
		out = append(out, ch.Name)
	}
	return out
}

// policy is the healing policy the rules apply.
func (c Config) policy() rules.HealingPolicy {
	return rules.HealingPolicy{
		MaxPerNodePerHour: c.MaxHealingPerHour, EscalateAfter: max(c.EscalateAfter, 0), EscalateWindow: c.EscalateWindow,
		MinHealthy: c.MinHealthy, PoolMinHealthy: c.PoolMinHealthy,
	}
}

// Validate reports every invalid alerts setting, naming its flag.
func (c Config) Validate() error {
	var errs []error
	require := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	require(c.Window >= 0 && c.Window <= 24*time.Hour, "--alerts-window %s must be between 0 and 24h", c.Window)
	require(c.DefaultRepeat >= 0, "--alerts-repeat %s must not be negative", c.DefaultRepeat)
	require(c.AlertmanagerResend >= 0, "--alertmanager-resend %s must not be negative", c.AlertmanagerResend)
	require(c.ResolvedRetention >= 0, "alerts resolved retention %s must not be negative", c.ResolvedRetention)
	require(c.DeliveryTimeout >= 0 && c.DeliveryAttempts >= 0 && c.DeliveryBackoff >= 0 && c.DeliveryQueue >= 0,
		"alert delivery timeout, attempts, backoff and queue must not be negative")
	require(c.MaxHealingPerHour >= 0, "--healing-max-per-hour %d must not be negative", c.MaxHealingPerHour)
	require(c.EscalateWindow >= 0, "--healing-escalate-window %s must not be negative", c.EscalateWindow)
	require(c.MinHealthy >= 0, "--healing-min-healthy %d must not be negative", c.MinHealthy)
	require(c.StepBudget >= 0, "--alerts-step-budget %s must not be negative", c.StepBudget)
	for pool, n := range c.PoolMinHealthy {
		require(check.ValidID(pool) && n >= 0, "healing minimum for pool %q: the pool name must be valid and %d not negative", pool, n)
	}
	seen := []string{rules.LogChannel, rules.DefaultChannel}
	for i, ch := range c.Channels {
		require(rules.ValidName(ch.Name) && !slices.Contains(seen, ch.Name),
			"alert channel %d: name %q must be a unique name (letters, digits, '_', '.', '-'), not log or default", i, ch.Name)
		seen = append(seen, ch.Name)
		require(ch.Kind == channelWebhook || ch.Kind == channelAlertmanager, "alert channel %q: kind %q is not webhook or alertmanager", ch.Name, ch.Kind)
		u, err := url.Parse(ch.URL)
		require(err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "", "alert channel %q: url %q must be an http or https URL", ch.Name, ch.URL)
	}
	for _, name := range c.DefaultNotify {
		require(name == rules.LogChannel || slices.ContainsFunc(c.Channels, func(ch Channel) bool { return ch.Name == name }),
			"--alerts-default-notify: %q is not log or a configured channel (%s)", name, strings.Join(c.channelNames()[2:], ", "))
	}
	return errors.Join(errs...)
}

// AlertFlags registers the alerts flags on fs, writing into c. The channel flags add a channel
// named "webhook" or "alertmanager".
func AlertFlags(fs *flag.FlagSet, c *Config) {
	fs.Func("alert-webhook-url", "notification channel \"webhook\": POST Slack-compatible {\"text\": …} to this URL", func(v string) error {
		c.Channels = append(c.Channels, Channel{Name: channelWebhook, Kind: channelWebhook, URL: v})
		return nil
	})
	fs.Func("alertmanager-url", "notification channel \"alertmanager\": POST alerts to this Alertmanager's /api/v2/alerts", func(v string) error {
		c.Channels = append(c.Channels, Channel{Name: channelAlertmanager, Kind: channelAlertmanager, URL: v})
		return nil
	})
	fs.Func("alerts-default-notify", "comma-separated channels the rules' \"default\" notifies (the shipped rules notify log and default); default: every configured channel", func(v string) error {
		c.DefaultNotify = cli.SplitList(v)
		return nil
	})
	fs.DurationVar(&c.Window, "alerts-window", c.Window, "how far back the DSPy figures that rules read reach")
	fs.DurationVar(&c.DefaultRepeat, "alerts-repeat", c.DefaultRepeat, "how often a firing alert is notified again and its action retried, unless its rule says")
	fs.DurationVar(&c.AlertmanagerResend, "alertmanager-resend", c.AlertmanagerResend,
		"how often every firing alert is sent again to Alertmanager, whatever its rule's repeat; it ends 4 resend (or evaluation) intervals after the last send")
	fs.DurationVar(&c.StepBudget, "alerts-step-budget", c.StepBudget, "longest time one reconcile step spends evaluating alert rules; the rules left are cut off and evaluated first next time")
	fs.IntVar(&c.MaxHealingPerHour, "healing-max-per-hour", c.MaxHealingPerHour, "healing commands per node per hour at most")
	fs.IntVar(&c.EscalateAfter, "healing-escalate-after", c.EscalateAfter, "failed healing attempts of one rule on one node that drain it and raise a critical alert; -1 never")
	fs.DurationVar(&c.EscalateWindow, "healing-escalate-window", c.EscalateWindow, "window in which failed healing attempts count towards escalation")
	fs.IntVar(&c.MinHealthy, "healing-min-healthy", c.MinHealthy, "fewest ready nodes a pool keeps when healing drains one")
}

// File is the "alerts" block of the configuration file.
type File struct {
	Window             *time.Duration `yaml:"window"`
	Repeat             *time.Duration `yaml:"repeat"`
	GeneratorURL       *string        `yaml:"generator_url"`
	AlertmanagerResend *time.Duration `yaml:"alertmanager_resend"`
	Channels           []fileChannel  `yaml:"channels"`
	DefaultNotify      []string       `yaml:"default_notify"`
	MaxHealingPerHour  *int           `yaml:"healing_max_per_hour"`
	EscalateAfter      *int           `yaml:"healing_escalate_after"`
	EscalateWindow     *time.Duration `yaml:"healing_escalate_window"`
	MinHealthy         *int           `yaml:"healing_min_healthy"`
	PoolMinHealthy     map[string]int `yaml:"healing_pool_min_healthy"`
	StepBudget         *time.Duration `yaml:"step_budget"`
}

// fileChannel is one notification channel in the configuration file.
type fileChannel struct {
	Name string `yaml:"name"`
	Kind string `yaml:"kind"`
	URL  string `yaml:"url"`
}

// Apply copies the set fields onto c.
func (f *File) Apply(c *Config) {
	if f == nil {
		return
	}
	cli.Set(&c.Window, f.Window)
	cli.Set(&c.DefaultRepeat, f.Repeat)
	cli.Set(&c.GeneratorURL, f.GeneratorURL)
	cli.Set(&c.AlertmanagerResend, f.AlertmanagerResend)
	cli.Set(&c.MaxHealingPerHour, f.MaxHealingPerHour)
	cli.Set(&c.EscalateAfter, f.EscalateAfter)
	cli.Set(&c.EscalateWindow, f.EscalateWindow)
	cli.Set(&c.MinHealthy, f.MinHealthy)
	cli.Set(&c.StepBudget, f.StepBudget)
	if f.PoolMinHealthy != nil {
		c.PoolMinHealthy = f.PoolMinHealthy
	}
	for _, ch := range f.Channels {
		c.Channels = append(c.Channels, Channel(ch))
	}
	if f.DefaultNotify != nil {
		c.DefaultNotify = f.DefaultNotify
	}
}
