package main

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
	"google.golang.org/protobuf/types/known/durationpb"
)

// outputFormat is the value of -o/--output.
type outputFormat string

// The output formats: table and wide (tables with more columns where a command has them) for
// people, json and yaml (the API's messages) for programs.
const (
	formatTable outputFormat = "table"
	formatWide  outputFormat = "wide"
	formatJSON  outputFormat = "json"
	formatYAML  outputFormat = "yaml"
)

// structured reports whether f prints the API's messages (json or yaml) rather than a table.
func (f outputFormat) structured() bool { return f == formatJSON || f == formatYAML }

// String implements flag.Value.
func (f *outputFormat) String() string { return string(*f) }

// Set implements flag.Value.
func (f *outputFormat) Set(s string) error {
	switch v := outputFormat(s); v {
	case formatTable, formatWide, formatJSON, formatYAML:
		*f = v
		return nil
	}
	return fmt.Errorf("must be %s, %s, %s or %s", formatTable, formatWide, formatJSON, formatYAML)
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

// commandStateList is the value of "cmd list --state": comma-separated command state names,
// repeatable.
type commandStateList []fleetv1.CommandState

// String implements flag.Value.
func (l *commandStateList) String() string {
	names := make([]string, len(*l))
	for i, s := range *l {
		names[i] = commandStateName(s)
	}
	return strings.Join(names, ",")
}

// Set implements flag.Value.
func (l *commandStateList) Set(s string) error {
	for name := range strings.SplitSeq(s, ",") {
		state, err := parseCommandState(strings.TrimSpace(name))
		if err != nil {
			return err
		}
		*l = append(*l, state)
	}
	return nil
}

// kindList is the value of "cmd list --kind": comma-separated command kind names, repeatable.
type kindList []fleetv1.CommandKind

// String implements flag.Value.
func (l *kindList) String() string {
	names := make([]string, len(*l))
	for i, k := range *l {
		names[i] = kindName(k)
	}
	return strings.Join(names, ",")
}

// Set implements flag.Value.
func (l *kindList) Set(s string) error {
	for name := range strings.SplitSeq(s, ",") {
		kind, err := parseKind(strings.TrimSpace(name))
		if err != nil {
			return err
		}
		*l = append(*l, kind)
	}
	return nil
}

// positiveDuration is the value of a duration flag that is sent only when given, such as
// --deadline: it sets *p, which stays nil (the server's default) otherwise.
type positiveDuration struct{ p **durationpb.Duration }

// String implements flag.Value.
func (d positiveDuration) String() string {
	if d.p == nil || *d.p == nil {
		return ""
	}
	return (*d.p).AsDuration().String()
}

// Set implements flag.Value.
func (d positiveDuration) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("not a duration like 30s, 5m or 1h")
	}
	if v <= 0 {
		return errors.New("must be positive")
	}
	*d.p = durationpb.New(v)
	return nil
}

// parseLimit parses the value of --limit: a whole number that fits the API's uint32.
func parseLimit(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, errors.New("must be a whole number, 0 or more")
	}
	return uint32(n), nil
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
