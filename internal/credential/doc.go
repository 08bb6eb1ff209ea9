// Package credential owns the secrets and certificates dspyfleet's programs present and check:
// bearer tokens read from files or the environment (never printed, compared in constant time),
// the per-call credentials clients attach, and TLS configurations whose certificate files are
// re-read when they change.
package credential
