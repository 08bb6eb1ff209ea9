// Package reqstats owns the statistics of DSPy requests: the Event an agent records for each
// completed request, a mergeable latency Sketch, model Prices, and the Aggregator that folds
// events into per-window totals with per-model and per-program breakdowns.
//
// Everything here is pure: no goroutines and no wall clock. Callers pass the time in, so a window
// is whatever [Start, End) they flush, and windows from many nodes or many minutes combine with
// MergeWindows. Sketches travel over the wire as dense buckets (Sketch.Buckets, FromBuckets).
package reqstats
