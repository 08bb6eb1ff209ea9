// Package alerts owns alerting and self-healing: the alert and healing rules (CEL, compiled by
// pkg/rules) and their storage, the alerter that evaluates them every reconcile tick on a
// snapshot of the fleet, alert states, silences, healing commands issued through the command
// queue with their guards, metric baselines, the event history, and the notifier that delivers
// notifications to webhooks and Alertmanager without holding up an evaluation.
package alerts
