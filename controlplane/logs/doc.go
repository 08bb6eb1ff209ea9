// Package logs owns the control plane's log templates: per node and template a baseline of the
// template's line rate (pkg/logtemplate), when it was first seen, and the node figures rules
// and Prometheus read (error rate, new templates, anomaly score). The book is kept in memory:
// a restarted control plane learns the baselines again from the next reports.
package logs
