package alerts

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/dspyfleet/dspyfleet/pkg/rules"
)

// resendBatch is every firing alert one Alertmanager channel is sent again.
type resendBatch struct {
	channel Channel
	alerts  []rules.Alert
}

// resend sends the firing alerts of alerts (the step's states at now) again to the
// Alertmanager channels their rules notify, once every AlertmanagerResend whatever the rules'
// repeat: each send moves the alert's endsAt on, so Alertmanager keeps it active while it fires
// and resolves it soon after the control plane stops sending. An alert a silence of silences
// holds back at now is not sent, so it leaves Alertmanager at its endsAt. The batches are posted beside the reconcile
// loop; one still waiting when the next is due is replaced by it. Steps call it one at a time.
func (n *Notifier) resend(now time.Time, alerts map[string]rules.Alert, silences []rules.Silence) {
	n.resendMu.Lock()
	due := n.lastResend.IsZero() || now.Sub(n.lastResend) >= n.cfg.AlertmanagerResend
	if due {
		n.lastResend = now
	}
	n.resendMu.Unlock()
	if !due {
		return
	}
	for _, b := range resendBatches(n.cfg.Channels, alerts, silences, now) {
		select {
		case n.resends <- b:
			continue
		default:
		}
		select {
		case old := <-n.resends:
			n.metrics.notifications.WithLabelValues(old.channel.Name, "resend_dropped").Inc()
		default:
		}
		select {
		case n.resends <- b:
		default:
			n.metrics.notifications.WithLabelValues(b.channel.Name, "resend_dropped").Inc()
		}
	}
}

// resendBatches groups the firing alerts notified before now and not silenced at now by the
// Alertmanager channels their rules name, in key order; channels with none get no batch. An
// alert notified at now is on its way already.
func resendBatches(channels []Channel, alerts map[string]rules.Alert, silences []rules.Silence, now time.Time) []resendBatch {
	silenced := func(a rules.Alert) bool {
		return slices.ContainsFunc(silences, func(s rules.Silence) bool { return s.Active(now) && s.Matches(a.Labels) })
	}
	var out []resendBatch
	for _, ch := range channels {
		if ch.Kind != channelAlertmanager {
			continue
		}
		b := resendBatch{channel: ch}
		for _, k := range slices.Sorted(maps.Keys(alerts)) {
			a := alerts[k]
			if a.State == rules.StateFiring && !a.LastNotified.IsZero() && a.LastNotified.Before(now) && slices.Contains(a.Channels, ch.Name) && !silenced(a) {
				b.alerts = append(b.alerts, a)
			}
		}
		if len(b.alerts) > 0 {
			out = append(out, b)
		}
	}
	return out
}

// sendAgain posts a resend batch once: the next resend is the retry. Alerts whose firing has
// resolved since the batch was built are left out. The outcome is counted (result resent or
// resend_failed), not recorded as a delivery.
func (n *Notifier) sendAgain(ctx context.Context, b resendBatch) {
	n.amMu.Lock()
	defer n.amMu.Unlock()
	now := n.now()
	for k, at := range n.resolved {
		if now.Sub(at) > n.validFor() {
			delete(n.resolved, k)
		}
	}
	batch := make([]amAlert, 0, len(b.alerts))
	for _, a := range b.alerts {
		if at, ok := n.resolved[a.Key()]; ok && !at.Before(a.FiredAt) {
			continue
		}
		batch = append(batch, n.amAlert(a, false))
	}
	if len(batch) == 0 {
		return
	}
	if err := n.postJSON(ctx, b.channel, batch); err != nil {
		n.metrics.notifications.WithLabelValues(b.channel.Name, "resend_failed").Inc()
		n.log.Warn("firing alerts not sent again to Alertmanager; they end at their last endsAt unless the next resend reaches it",
			"channel", b.channel.Name, "alerts", len(b.alerts), "err", err)
		return
	}
	n.metrics.notifications.WithLabelValues(b.channel.Name, "resent").Inc()
}
