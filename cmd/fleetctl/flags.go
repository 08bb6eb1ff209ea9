package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// outputFormat is the value of -o/--output.
type outputFormat string

// The output formats.
const (
	formatTable outputFormat = "table"
	formatJSON  outputFormat = "json"
)

// String implements flag.Value.
func (f *outputFormat) String() string { return string(*f) }

// Set implements flag.Value.
func (f *outputFormat) Set(s string) error {
	switch v := outputFormat(s); v {
	case formatTable, formatJSON:
		*f = v
		return nil
	}
	return fmt.Errorf("must be %s or %s", formatTable, formatJSON)
}

// stateList is the value of --state: comma-separated state names, repeatable.
type stateList []fleetv1.NodeState

// String implements flag.Value.
func (l *stateList) String() string {
	names := make([]string, len(*l))
	for i, s := range *l {
		names[i] = stateName(s)
	}
	return strings.Join(names, ",")
}

// Set implements flag.Value.
func (l *stateList) Set(s string) error {
	for name := range strings.SplitSeq(s, ",") {
		state, err := parseState(strings.TrimSpace(name))
		if err != nil {
			return err
		}
		*l = append(*l, state)
	}
	return nil
}

// labelSet is the value of --label: one KEY=VALUE per flag, repeatable.
type labelSet map[string]string

// String implements flag.Value.
func (m labelSet) String() string { return formatLabels(m) }

// Set implements flag.Value.
func (m labelSet) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", s)
	}
	if _, dup := m[k]; dup {
		return fmt.Errorf("label %q given twice", k)
	}
	m[k] = v
	return nil
}

// formatLabels returns labels as "k=v,..." sorted by key; empty for none.
func formatLabels(labels map[string]string) string {
	keys := slices.Sorted(maps.Keys(labels))
	pairs := make([]string, len(keys))
	for i, k := range keys {
		pairs[i] = k + "=" + labels[k]
	}
	return strings.Join(pairs, ",")
}
