package alerts

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/pkg/rules"
)

// fakeClock is a clock tests set by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// amRecorder is an HTTP server on loopback keeping every batch posted to /api/v2/alerts.
type amRecorder struct {
	mu      sync.Mutex
	batches [][]amAlert
	url     string
}

func startAMRecorder(t *testing.T) *amRecorder {
	r := &amRecorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var batch []amAlert
		if req.Method != http.MethodPost || req.URL.Path != "/api/v2/alerts" || json.NewDecoder(req.Body).Decode(&batch) != nil {
			http.Error(w, "not an Alertmanager v2 alerts post", http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.batches = append(r.batches, batch)
		r.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

// wait returns the first n batches once they arrived.
func (r *amRecorder) wait(t *testing.T, n int) [][]amAlert {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); r.count() < n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d batches at the Alertmanager after 5s, want %d", r.count(), n)
		}
		time.Sleep(5 * time.Millisecond) // polling with a deadline
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.batches[:n]
}

func (r *amRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.batches)
}

// startNotifier runs a notifier on cfg with the clock until the test ends.
func startNotifier(t *testing.T, cfg Config, clock *fakeClock) *Notifier {
	st, err := store.Open(t.TempDir(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	n := NewNotifier(cfg.WithDefaults(), slog.New(slog.NewTextHandler(t.Output(), nil)), st, NewMetrics(prometheus.NewRegistry()), clock.now)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return n
}

func firingAlert(rule string, notified time.Time, channels ...string) rules.Alert {
	return rules.Alert{
		Rule: rule, Target: "fleet", State: rules.StateFiring, Severity: "warning", Labels: map[string]string{"alertname": rule},
		FiredAt: notified.Add(-time.Hour), LastNotified: notified, Channels: channels,
	}
}

// TestResendEveryIntervalWithEndsAtFromIt: firing alerts are sent again once per resend
// interval, whatever the (long) repeat, with endsAt four resend intervals after the send;
// silenced (until the silence ends), resolved, pending, just-notified alerts and other
// channels' alerts are not.
func TestResendEveryIntervalWithEndsAtFromIt(t *testing.T) {
	am := startAMRecorder(t)
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	clock := &fakeClock{t: t0}
	cfg := Config{
		DefaultRepeat: 24 * time.Hour, AlertmanagerResend: time.Minute, EvalInterval: 5 * time.Second,
		Channels: []Channel{{Name: "am", Kind: channelAlertmanager, URL: am.url}, {Name: "hook", Kind: channelWebhook, URL: am.url + "/hook"}},
	}
	n := startNotifier(t, cfg, clock)
	silenced := firingAlert("Silenced", t0.Add(-time.Hour), "am")
	silences := []rules.Silence{
		{ID: "s1", Matchers: []rules.Matcher{{Name: "alertname", Value: "Silenced"}}, Start: t0.Add(-time.Minute), End: t0.Add(90 * time.Second)},
		{ID: "ended", Matchers: []rules.Matcher{{Name: "alertname", Value: "Firing"}}, Start: t0.Add(-time.Hour), End: t0.Add(-time.Minute)},
	}
	resolved := firingAlert("Resolved", t0.Add(-time.Hour), "am")
	resolved.State, resolved.ResolvedAt = rules.StateResolved, t0.Add(-time.Minute)
	alerts := map[string]rules.Alert{}
	for _, a := range []rules.Alert{
		firingAlert("Firing", t0.Add(-10*time.Hour), "log", "am"), silenced, resolved,
		firingAlert("HookOnly", t0.Add(-time.Hour), "hook"), firingAlert("JustNotified", t0, "am"),
		{Rule: "Pending", Target: "fleet", State: rules.StatePending, Channels: []string{"am"}},
	} {
		alerts[a.Key()] = a
	}

	n.resend(t0, alerts, silences)
	got := am.wait(t, 1)[0]
	if len(got) != 1 || got[0].Labels["alertname"] != "Firing" {
		t.Fatalf("resent %+v, want only Firing", got)
	}
	if want := t0.Add(4 * time.Minute); !got[0].EndsAt.Equal(want) || !got[0].StartsAt.Equal(t0.Add(-11*time.Hour)) {
		t.Fatalf("endsAt %v startsAt %v, want endsAt %v (4 resend intervals, not 3 × the 24h repeat)", got[0].EndsAt, got[0].StartsAt, want)
	}

	// Within the interval nothing is sent; at its end the firing alerts are sent again, ending
	// later, the one notified at t0 with them.
	n.resend(t0.Add(30*time.Second), alerts, silences)
	clock.set(t0.Add(time.Minute))
	n.resend(t0.Add(time.Minute), alerts, silences)
	batches := am.wait(t, 2)
	want := t0.Add(5 * time.Minute)
	if b := batches[1]; len(b) != 2 || b[0].Labels["alertname"] != "Firing" || b[1].Labels["alertname"] != "JustNotified" ||
		!b[0].EndsAt.Equal(want) || !b[1].EndsAt.Equal(want) {
		t.Fatalf("second batch %+v, want Firing and JustNotified ending %v", b, want)
	}
	if c := am.count(); c != 2 {
		t.Fatalf("%d batches, want 2: the resend 30s after the first was not due", c)
	}

	// Once its silence has ended, the silenced alert is resent with the others.
	clock.set(t0.Add(2 * time.Minute))
	n.resend(t0.Add(2*time.Minute), alerts, silences)
	if b := am.wait(t, 3)[2]; len(b) != 3 || b[2].Labels["alertname"] != "Silenced" || !b[2].EndsAt.Equal(t0.Add(6*time.Minute)) {
		t.Fatalf("third batch %+v, want Firing, JustNotified and Silenced ending %v", b, t0.Add(6*time.Minute))
	}
}

// TestEndsAtFollowsTheLongerInterval: endsAt is four times the longer of the resend and the
// evaluation interval, and a resolved alert ends when it resolved.
func TestEndsAtFollowsTheLongerInterval(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		resend, eval time.Duration
		resolved     bool
		want         time.Time
	}{
		{resend: time.Minute, eval: 5 * time.Second, want: now.Add(4 * time.Minute)},
		{resend: 10 * time.Second, eval: time.Minute, want: now.Add(4 * time.Minute)},
		{resend: 30 * time.Second, eval: 5 * time.Second, want: now.Add(2 * time.Minute)},
		{resend: time.Minute, eval: 5 * time.Second, resolved: true, want: now.Add(-time.Second)},
	} {
		n := NewNotifier(Config{AlertmanagerResend: tc.resend, EvalInterval: tc.eval, DefaultRepeat: 24 * time.Hour}.WithDefaults(),
			slog.New(slog.NewTextHandler(t.Output(), nil)), nil, nil, func() time.Time { return now })
		a := firingAlert("A", now.Add(-time.Minute), "am")
		a.ResolvedAt = now.Add(-time.Second)
		if got := n.amAlert(a, tc.resolved).EndsAt; !got.Equal(tc.want) {
			t.Errorf("resend %s eval %s resolved %v: endsAt %v, want %v", tc.resend, tc.eval, tc.resolved, got, tc.want)
		}
	}
}

// TestResolvedNotificationEndsAtResolveTime: the resolved notification reaches Alertmanager
// with endsAt at the resolve time, and the firing one four resend intervals after its send.
func TestResolvedNotificationEndsAtResolveTime(t *testing.T) {
	am := startAMRecorder(t)
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	clock := &fakeClock{t: t0}
	n := startNotifier(t, Config{AlertmanagerResend: 20 * time.Second, EvalInterval: time.Second,
		Channels: []Channel{{Name: "am", Kind: channelAlertmanager, URL: am.url + "/"}}}, clock)
	a := firingAlert("A", t0, "am")
	n.enqueue(rules.Notification{Kind: rules.NotifyFiring, Alert: a, Channels: a.Channels})
	am.wait(t, 1)
	a.State, a.ResolvedAt = rules.StateResolved, t0.Add(90*time.Second)
	clock.set(t0.Add(91 * time.Second))
	n.enqueue(rules.Notification{Kind: rules.NotifyResolved, Alert: a, Channels: a.Channels})
	batches := am.wait(t, 2)
	if got := batches[0][0].EndsAt; !got.Equal(t0.Add(80 * time.Second)) {
		t.Errorf("firing endsAt %v, want %v", got, t0.Add(80*time.Second))
	}
	if got := batches[1][0].EndsAt; !got.Equal(a.ResolvedAt) {
		t.Errorf("resolved endsAt %v, want the resolve time %v", got, a.ResolvedAt)
	}
}

// TestResendAfterResolutionLeftOut: a resend built while an alert fired, posted after its
// resolution reached Alertmanager, leaves that alert out, so it does not come back active; a
// later firing of the same rule and target is sent.
func TestResendAfterResolutionLeftOut(t *testing.T) {
	am := startAMRecorder(t)
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	clock := &fakeClock{t: t0}
	ch := Channel{Name: "am", Kind: channelAlertmanager, URL: am.url}
	n := startNotifier(t, Config{AlertmanagerResend: time.Minute, Channels: []Channel{ch}}, clock)
	a := firingAlert("A", t0.Add(-time.Minute), "am")
	other := firingAlert("B", t0.Add(-time.Minute), "am")
	stale := resendBatch{channel: ch, alerts: []rules.Alert{a, other}}
	resolved := a
	resolved.State, resolved.ResolvedAt = rules.StateResolved, t0
	clock.set(t0.Add(time.Second))
	n.enqueue(rules.Notification{Kind: rules.NotifyResolved, Alert: resolved, Channels: resolved.Channels})
	am.wait(t, 1)

	n.sendAgain(context.Background(), stale)
	if b := am.wait(t, 2)[1]; len(b) != 1 || b[0].Labels["alertname"] != "B" {
		t.Fatalf("stale resend posted %+v, want only B", b)
	}
	again := firingAlert("A", t0.Add(30*time.Second), "am")
	again.FiredAt = t0.Add(30 * time.Second)
	n.sendAgain(context.Background(), resendBatch{channel: ch, alerts: []rules.Alert{again}})
	if b := am.wait(t, 3)[2]; len(b) != 1 || b[0].Labels["alertname"] != "A" || !b[0].StartsAt.Equal(again.FiredAt) {
		t.Fatalf("new firing posted %+v, want A from %v", b, again.FiredAt)
	}
}
