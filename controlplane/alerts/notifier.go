package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/commands"
	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/pkg/backoff"
	"github.com/dspyfleet/dspyfleet/pkg/rules"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// notifierWorkers is how many deliveries run at once; a hanging endpoint holds one worker at
// most DeliveryTimeout per attempt.
const notifierWorkers = 4

// Notifier delivers notifications to their channels in the background: enqueue never blocks,
// Deliveries are retried with backoff, and every outcome is recorded in the store.
type Notifier struct {
	cfg     Config
	log     *slog.Logger
	store   *store.Store
	metrics *alertMetrics
	now     func() time.Time
	client  *http.Client
	queue   chan delivery
	// resends carries the batches of firing alerts sent again to Alertmanager channels.
	resends chan resendBatch
	// resendMu guards lastResend.
	resendMu   sync.Mutex
	lastResend time.Time
	// amMu orders the posts to Alertmanager of resolved alerts and resends, so a resend built
	// before an alert resolved never reaches Alertmanager after its resolution; it guards
	// resolved, when each alert last resolved (by key), kept for validFor.
	amMu     sync.Mutex
	resolved map[string]time.Time
}

// NewNotifier returns a notifier delivering to cfg's channels, reading the time from now.
func NewNotifier(cfg Config, log *slog.Logger, st *store.Store, m *alertMetrics, now func() time.Time) *Notifier {
	return &Notifier{
		cfg: cfg, log: log, store: st, metrics: m, now: now,
		client:   &http.Client{Timeout: cfg.DeliveryTimeout},
		queue:    make(chan delivery, cfg.DeliveryQueue),
		resends:  make(chan resendBatch, len(cfg.Channels)),
		resolved: make(map[string]time.Time),
	}
}

// delivery is one notification bound for one channel.
type delivery struct {
	channel Channel
	n       rules.Notification
	queued  time.Time
}

// enqueue hands n to its channels: the log at once, others to the workers. A silenced
// notification is counted and goes nowhere; one that finds the queue full is recorded as
// failed.
func (n *Notifier) enqueue(note rules.Notification) {
	for _, name := range note.Channels {
		if note.SilencedBy != "" {
			n.metrics.notifications.WithLabelValues(name, "silenced").Inc()
			continue
		}
		if name == rules.LogChannel {
			n.logNotification(note)
			continue
		}
		i := slices.IndexFunc(n.cfg.Channels, func(c Channel) bool { return c.Name == name })
		if i < 0 {
			continue // a rule compiled against a channel no longer configured
		}
		d := delivery{channel: n.cfg.Channels[i], n: note, queued: n.now()}
		select {
		case n.queue <- d:
		default:
			n.metrics.notifications.WithLabelValues(name, "dropped").Inc()
			n.record(d, 0, fmt.Errorf("delivery queue full (%d waiting); the endpoint is too slow or down", cap(n.queue)))
		}
	}
}

func (n *Notifier) logNotification(note rules.Notification) {
	a := note.Alert
	lvl := slog.LevelWarn
	if note.Kind == rules.NotifyResolved {
		lvl = slog.LevelInfo
	}
	n.log.Log(context.Background(), lvl, "alert "+string(note.Kind), "rule", a.Rule, "target", a.Target,
		"severity", a.Severity, "summary", a.Annotations["summary"])
	n.metrics.notifications.WithLabelValues(rules.LogChannel, "delivered").Inc()
}

// Run delivers queued notifications until ctx ends. What is still queued then is recorded by
// Abandon, once nothing enqueues any more.
func (n *Notifier) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		for {
			select {
			case <-gctx.Done():
				return nil
			case b := <-n.resends:
				n.sendAgain(gctx, b)
			}
		}
	})
	for range notifierWorkers {
		g.Go(func() error {
			for {
				select {
				case <-gctx.Done():
					return nil
				case d := <-n.queue:
					n.deliver(gctx, d)
				}
			}
		})
	}
	err := g.Wait()
	n.client.CloseIdleConnections()
	return err
}

// Abandon records every notification still queued as failed: the control plane stopped before
// delivering it. Call it after Run and the reconcile loop returned.
func (n *Notifier) Abandon() {
	for {
		select {
		case d := <-n.queue:
			n.record(d, 0, fmt.Errorf("control plane stopped before delivery"))
		default:
			return
		}
	}
}

// maxDeliveryBackoff caps the wait between two attempts of one delivery.
const maxDeliveryBackoff = 5 * time.Minute

// deliver tries d up to DeliveryAttempts times with doubling backoff.
func (n *Notifier) deliver(ctx context.Context, d delivery) {
	retry := backoff.Policy{Initial: n.cfg.DeliveryBackoff, Max: maxDeliveryBackoff}
	var err error
	attempt := 0
	for attempt < n.cfg.DeliveryAttempts {
		attempt++
		if err = n.post(ctx, d); err == nil {
			break
		}
		if attempt == n.cfg.DeliveryAttempts {
			break
		}
		t := time.NewTimer(retry.Step(attempt - 1))
		select {
		case <-ctx.Done():
			t.Stop()
			n.record(d, attempt, fmt.Errorf("%v; control plane stopped before the next attempt", err))
			return
		case <-t.C:
		}
	}
	result := "delivered"
	if err != nil {
		result = "failed"
		n.log.Warn("alert notification not delivered", "channel", d.channel.Name, "rule", d.n.Alert.Rule, "attempts", attempt, "err", err)
	}
	n.metrics.notifications.WithLabelValues(d.channel.Name, result).Inc()
	n.record(d, attempt, err)
}

// post sends one attempt.
func (n *Notifier) post(ctx context.Context, d delivery) error {
	switch d.channel.Kind {
	case channelWebhook:
		return n.postJSON(ctx, d.channel, map[string]string{"text": webhookText(d.n)})
	case channelAlertmanager:
		if d.n.Kind != rules.NotifyResolved {
			return n.postJSON(ctx, d.channel, []amAlert{n.amAlert(d.n.Alert, false)})
		}
		n.amMu.Lock()
		defer n.amMu.Unlock()
		n.resolved[d.n.Alert.Key()] = d.n.Alert.ResolvedAt
		return n.postJSON(ctx, d.channel, []amAlert{n.amAlert(d.n.Alert, true)})
	default:
		return fmt.Errorf("unknown channel kind %q", d.channel.Kind)
	}
}

// postJSON posts v to ch once: to its URL, or to an Alertmanager's /api/v2/alerts.
func (n *Notifier) postJSON(ctx context.Context, ch Channel, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	target := ch.URL
	if ch.Kind == channelAlertmanager {
		target = strings.TrimSuffix(target, "/") + "/api/v2/alerts"
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.DeliveryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %s: %s", ch.Kind, resp.Status, strings.TrimSpace(string(snippet)))
	}
	return nil
}

// webhookText is the one-line Slack-compatible message of a notification.
func webhookText(note rules.Notification) string {
	a := note.Alert
	state := "FIRING"
	if note.Kind == rules.NotifyResolved {
		state = "RESOLVED"
	}
	text := fmt.Sprintf("[%s] %s on %s (%s)", state, a.Rule, a.Target, a.Severity)
	if s := a.Annotations["summary"]; s != "" {
		text += ": " + s
	}
	return text
}

// amAlert is one alert of the Alertmanager v2 API (POST /api/v2/alerts).
type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// amAlert converts an alert. A resolved one ends when it resolved; a firing one ends
// validFor from now unless sent again, which the resends do well before, so Alertmanager
// resolves it within validFor of the control plane going away.
func (n *Notifier) amAlert(a rules.Alert, resolved bool) amAlert {
	end := n.now().Add(n.validFor())
	if resolved {
		end = a.ResolvedAt
	}
	return amAlert{Labels: a.Labels, Annotations: a.Annotations, StartsAt: a.FiredAt.UTC(), EndsAt: end.UTC(), GeneratorURL: n.cfg.GeneratorURL}
}

// validFor is how long Alertmanager keeps a firing alert active after it was sent: four resend
// or evaluation intervals, whichever is longer, as Prometheus does.
func (n *Notifier) validFor() time.Duration {
	return 4 * max(n.cfg.AlertmanagerResend, n.cfg.EvalInterval)
}

// record stores the outcome of a delivery.
func (n *Notifier) record(d delivery, attempts int, err error) {
	rec := &fleetv1.Delivery{
		Time: timestamppb.New(d.queued), Channel: d.channel.Name, Rule: d.n.Alert.Rule, Target: d.n.Alert.Target,
		Kind: string(d.n.Kind), Attempts: uint32(attempts), Delivered: err == nil,
	}
	if err != nil {
		rec.Error = err.Error()
	}
	key := commands.NewKey(d.queued)
	rec.Id = fmt.Sprintf("%x", key)
	if werr := appendDelivery(n.store, rec, key, n.cfg.MaxDeliveries); werr != nil {
		n.log.Error("recording an alert delivery failed", "channel", d.channel.Name, "rule", d.n.Alert.Rule, "err", werr)
	}
}
