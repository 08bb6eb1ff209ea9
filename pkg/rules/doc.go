// Package rules owns alert and self-healing rules: their validation and compilation (CEL
// conditions type-checked against a typed snapshot, annotation templates), the alert state
// machine (inactive → pending → firing → resolved) with repeat intervals and silences, EWMA
// baselines exposed to conditions as baseline("metric") and zscore("metric"), and healing
// decisions with their guards (a rate limit per node, a pool's minimum healthy nodes,
// escalation after repeated failed attempts).
//
// Everything here is a pure function of its inputs: the caller passes the snapshot, the time,
// the previous alert states, silences and healing history, and applies what Evaluate returns
// (notifications, commands, events, the next states). Nothing here starts a goroutine, reads
// the clock or performs I/O.
package rules
