// Package maintenance owns the control plane's maintenance work: hot backups of the state file
// with retention and verification, offline restore, deployments (rolling, canary, blue-green)
// driven step by step through the command queue and the router's overrides, and maintenance
// windows that drain, act on and undrain nodes within their limits. The plans and verdicts
// themselves are pkg/maintenance.
package maintenance
