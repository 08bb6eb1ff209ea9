// Package throttle decides how long a caller that keeps failing authentication must wait before
// its next failure is looked at: a few failures are free, then each one doubles the wait up to a
// cap, and a caller that stops failing is forgotten. The decisions are pure functions of a
// record and a time; the control plane keeps the records, one per presented credential and one
// per peer host, and never holds a caller with a valid credential to them.
package throttle
