// Package agent owns the dspyfleet agent that runs on every worker host: it samples host metrics,
// buffers reports while the control plane is unreachable, and keeps one Connect stream open with
// reconnects, acknowledgements and a watchdog. Commands from the control plane are answered only
// with actions configured on this host.
package agent
