// Package ui owns the control plane's web dashboard, served under /ui/ on the HTTP listener:
// the embedded pages, scripts and the pinned uPlot build (static/), the login and its
// sessions, and the JSON and server-sent-event endpoints the pages read.
//
// The dashboard holds no state of the fleet and takes no lock of a subsystem: it calls this
// control plane's own gRPC services over an in-process connection with the session's token, so
// every read and every change passes the same authentication, access table, rate limits and
// audit trail as a fleetctl call. Only the pool plots read the request rollups directly
// (stats.Requests), which the API has no time-series call for, and only for a logged-in session.
//
// Sessions: a login POST with the admin or read-only token sets an HttpOnly, SameSite=Strict
// cookie holding a random session id; the token stays on the server and is never put in a
// URL or in the browser's storage. Changes (drain, undrain, silences, cancelling a command,
// pausing, resuming or aborting a deployment) need the session's CSRF token in the X-CSRF-Token
// header, a same-origin request (http.CrossOriginProtection) and a role that may write; the gRPC
// service checks the role again.
package ui
