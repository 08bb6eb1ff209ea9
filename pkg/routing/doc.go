// Package routing owns where DSPy requests go: the load-balancing strategies of a pool (round
// robin, smooth weighted round robin, least connections, power of two choices over a
// multi-factor score, consistent hashing with bounded loads), outlier ejection (consecutive
// errors, error rate, and latency far above the pool's), slow start and panic mode.
//
// A Pool is a plain value: it holds no lock, starts no goroutine and reads no clock. The control
// plane feeds it node snapshots (Update) and client outcomes (Result), asks it for picks (Pick)
// and guards it with one mutex per pool. Pick does not allocate.
package routing
