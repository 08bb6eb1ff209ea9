// Package auth owns the control plane's guards: who may call each method (the access table and
// roles), authentication by token, per-node token or client certificate, the binding of nodes
// to their own credential, TLS on the listeners, per-role call rates, streams per peer, the
// backoff of failed authentications, and the audit trail of admin calls and security events.
package auth
