package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// detailWidth is how many characters of a command's detail a table or a watch line shows.
const detailWidth = 60

// writeCommandTable writes one row per command. Ages are relative to now.
func writeCommandTable(w io.Writer, recs []*fleetv1.CommandRecord, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "ID\tNODE\tKIND\tSTATE\tAGE\tDETAIL")
	for _, r := range recs {
		created := "-"
		if r.GetCreated() != nil {
			created = age(now.Sub(r.GetCreated().AsTime()))
		}
		detail := truncate(oneLine(r.GetDetail()), detailWidth)
		if r.GetState() == fleetv1.CommandState_COMMAND_STATE_HELD {
			detail = oneLine(r.GetDetail()) // the window and until when, whole
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.GetCommand().GetId(), r.GetNodeId(), kindName(r.GetCommand().GetKind()),
			commandStateName(r.GetState()), created, orDash(detail))
	}
	return tw.Flush()
}

// writeCommand writes a command, its outcome and its history as a "Key: value" block. Ages are
// relative to now, and times are shown in now's location.
func writeCommand(w io.Writer, r *fleetv1.CommandRecord, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 8, 1, ' ', 0)
	kv := func(key, value string) {
		lines := strings.Split(value, "\n")
		fmt.Fprintf(tw, "%s:\t%s\n", key, lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(tw, "\t%s\n", l)
		}
	}
	c := r.GetCommand()
	kv("ID", orDash(c.GetId()))
	kv("Node", orDash(r.GetNodeId()))
	kv("Kind", kindName(c.GetKind()))
	kv("Params", orDash(formatLabels(c.GetParams())))
	kv("State", commandStateName(r.GetState()))
	kv("Detail", orDash(r.GetDetail()))
	if r.GetHeldWindow() != "" {
		kv("Held for", "maintenance window "+r.GetHeldWindow()+" until "+stampIn(r.GetHeldUntil(), now))
	}
	if r.GetWindowOverridden() {
		kv("Window overridden", "yes: sent at once outside the pool's maintenance window")
	}
	kv("Fields", orDash(formatFields(r.GetFields(), "\n")))
	kv("Requested by", orDash(c.GetRequestedBy()))
	kv("Reason", orDash(c.GetReason()))
	kv("Seq", strconv.FormatUint(c.GetSeq(), 10))
	kv("Deadline", stampIn(c.GetDeadline(), now))
	kv("Created", stamp(r.GetCreated(), now))
	kv("Updated", stamp(r.GetUpdated(), now))
	if len(r.GetHistory()) == 0 {
		kv("History", "-")
		return tw.Flush()
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// The history is a table of its own, so its columns do not widen the keys above.
	fmt.Fprintln(w, "History:")
	tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, h := range r.GetHistory() {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", clock(h.GetTime(), now), commandStateName(h.GetState()), orDash(oneLine(h.GetDetail())))
	}
	return tw.Flush()
}

// writeCommandEvent writes one line for a changed command: when it changed (in now's location;
// now itself if the record has no time), its id, node, kind and state, and the start of its
// detail.
func writeCommandEvent(w io.Writer, ev *fleetv1.WatchCommandsResponse, now time.Time) error {
	r := ev.GetCommand()
	at := now.Format(time.RFC3339)
	if r.GetUpdated() != nil {
		at = clock(r.GetUpdated(), now)
	}
	// 7 and 9 are the lengths of the longest kind ("undrain") and state ("succeeded").
	_, err := fmt.Fprintf(w, "%s  %s  %s  %-7s  %-9s  %s\n", at, r.GetCommand().GetId(), r.GetNodeId(),
		kindName(r.GetCommand().GetKind()), commandStateName(r.GetState()), orDash(truncate(oneLine(r.GetDetail()), detailWidth)))
	return err
}

// writeSummary writes one line naming a command and where it stands, e.g.
// "Command 0f3a…: deploy on web-1, pending (queued)".
func writeSummary(w io.Writer, r *fleetv1.CommandRecord) error {
	_, err := fmt.Fprintf(w, "Command %s: %s on %s, %s (%s)\n", r.GetCommand().GetId(), kindName(r.GetCommand().GetKind()),
		r.GetNodeId(), commandStateName(r.GetState()), orDash(oneLine(r.GetDetail())))
	return err
}

// writeTransitions writes the history entries of r from index from on, one line each: time in
// now's location, state and detail. It returns the length of the history, the next from.
func writeTransitions(w io.Writer, r *fleetv1.CommandRecord, from int, now time.Time) (int, error) {
	hist := r.GetHistory()
	for _, h := range hist[min(from, len(hist)):] {
		if _, err := fmt.Fprintf(w, "%s  %-9s  %s\n", clock(h.GetTime(), now), commandStateName(h.GetState()), orDash(oneLine(h.GetDetail()))); err != nil {
			return from, err
		}
	}
	return max(from, len(hist)), nil
}

// writeOutcome writes how a finished command ended: its state and detail, then its fields, one
// "key=value" per indented line.
func writeOutcome(w io.Writer, r *fleetv1.CommandRecord) error {
	state := commandStateName(r.GetState())
	out := strings.ToUpper(state[:1]) + state[1:]
	if d := r.GetDetail(); d != "" {
		out += ": " + d
	}
	if f := formatFields(r.GetFields(), "\n  "); f != "" {
		out += "\n  " + f
	}
	_, err := fmt.Fprintln(w, out)
	return err
}

// formatFields returns fields as "k=v" sorted by key and joined by sep; empty for none.
func formatFields(fields map[string]string, sep string) string {
	keys := slices.Sorted(maps.Keys(fields))
	pairs := make([]string, len(keys))
	for i, k := range keys {
		pairs[i] = k + "=" + fields[k]
	}
	return strings.Join(pairs, sep)
}

// clock formats ts in now's location as RFC 3339; "-" if unset.
func clock(ts *timestamppb.Timestamp, now time.Time) string {
	if ts == nil {
		return "-"
	}
	return ts.AsTime().In(now.Location()).Format(time.RFC3339)
}

// stampIn formats a future (or past) time ts in now's location with how far off it is, e.g.
// "2026-03-01T10:10:00Z (in 10m0s)"; "-" if unset.
func stampIn(ts *timestamppb.Timestamp, now time.Time) string {
	if ts == nil {
		return "-"
	}
	if d := ts.AsTime().Sub(now); d > 0 {
		return clock(ts, now) + " (in " + age(d) + ")"
	}
	return stamp(ts, now)
}

// oneLine folds the lines and runs of white space of s into single spaces, for a table cell.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// truncate shortens s to at most n characters, ending a shortened s with "…".
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
