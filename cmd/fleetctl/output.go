package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dspyfleet/dspyfleet/internal/wire"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// JSON encodings: indented for one response, compact for a stream of one message per line.
// Both use protojson's defaults (lowerCamelCase names, unset fields omitted), as grpcurl does.
var (
	jsonIndented = protojson.MarshalOptions{Multiline: true, Indent: "  "}
	jsonCompact  = protojson.MarshalOptions{}
)

// write writes m as f says: protojson with opts, or YAML for yaml (a document per message, each
// starting with "---" when opts is the compact one of a stream), with protojson's field names and
// order.
func (f outputFormat) write(w io.Writer, opts protojson.MarshalOptions, m proto.Message) error {
	if f != formatYAML {
		return writeJSON(w, opts, m)
	}
	b, err := jsonCompact.Marshal(m)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return err
	}
	blockStyle(&doc)
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return err
	}
	if !opts.Multiline {
		out = append([]byte("---\n"), out...)
	}
	_, err = w.Write(out)
	return err
}

// blockStyle turns JSON's flow style into YAML's block style, keeping strings quoted only where
// they must be.
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// writeJSON writes m in protojson, followed by a newline.
func writeJSON(w io.Writer, opts protojson.MarshalOptions, m proto.Message) error {
	b, err := opts.Marshal(m)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// writeNodeTable writes one row per node. Ages are relative to now. wide adds the host name,
// instance type, agent version and peer address.
func writeNodeTable(w io.Writer, nodes []*fleetv1.Node, now time.Time, wide bool) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	header := "ID\tPOOL\tSTATE\tCPU%\tMEM%\tLOAD1\tLAST SEEN\tLABELS"
	if wide {
		header += "\tHOSTNAME\tINSTANCE TYPE\tAGENT VERSION\tPEER"
	}
	fmt.Fprintln(tw, header)
	for _, n := range nodes {
		cpu, mem, load := "-", "-", "-"
		if h := n.GetLastReport().GetHost(); h != nil {
			cpu = fmt.Sprintf("%.1f", h.GetCpuPercent())
			mem = fmt.Sprintf("%.1f", h.GetMemoryUsedPercent())
			load = fmt.Sprintf("%.2f", h.GetLoad1())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s", n.GetId(), orDash(n.GetPool()), stateName(n.GetState()),
			cpu, mem, load, ago(n.GetLastSeen(), now), orDash(formatLabels(n.GetLabels())))
		if wide {
			fmt.Fprintf(tw, "\t%s\t%s\t%s\t%s", orDash(n.GetHostname()), orDash(n.GetInstanceType()), orDash(n.GetAgentVersion()), orDash(n.GetPeerAddress()))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// writeNode writes all of a node's fields that matter to an operator as a "Key: value" block.
// Ages are relative to now, and times are shown in now's location.
func writeNode(w io.Writer, n *fleetv1.Node, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 8, 1, ' ', 0)
	kv := func(key, value string) { fmt.Fprintf(tw, "%s:\t%s\n", key, value) }

	kv("ID", n.GetId())
	kv("Hostname", orDash(n.GetHostname()))
	kv("Pool", orDash(n.GetPool()))
	kv("State", stateName(n.GetState()))
	kv("Reason", orDash(n.GetStateReason()))
	kv("State since", stamp(n.GetStateSince(), now))
	kv("Labels", orDash(formatLabels(n.GetLabels())))
	kv("Weight", strconv.FormatFloat(n.GetWeight(), 'f', -1, 64))
	kv("Hourly price", "$"+strconv.FormatFloat(n.GetHourlyPrice(), 'f', -1, 64))
	kv("Instance type", orDash(n.GetInstanceType()))
	if c := wire.CapacityName(n.GetCapacityType()); c != "" {
		kv("Capacity type", c)
	}
	if in := n.GetInterruption(); in != nil {
		kv("Interruption", fmt.Sprintf("%s notice (%s), reclaimed at %s", in.GetSource(), orDash(in.GetDetail()), stamp(in.GetDeadline(), now)))
	}
	kv("Agent version", orDash(n.GetAgentVersion()))
	kv("Agent instance", orDash(n.GetAgentInstanceId()))
	kv("Peer", orDash(n.GetPeerAddress()))
	kv("First seen", stamp(n.GetFirstSeen(), now))
	kv("Connected since", stamp(n.GetConnectedSince(), now))
	kv("Last seen", stamp(n.GetLastSeen(), now))
	kv("Report interval", duration(n.GetReportInterval()))
	kv("Reports", fmt.Sprintf("%d received, %d dropped", n.GetReportsReceived(), n.GetReportsDropped()))

	r := n.GetLastReport()
	if r == nil {
		kv("Last report", "none")
		return tw.Flush()
	}
	kv("Last report", fmt.Sprintf("#%d at %s, window %s", r.GetSeq(), stamp(r.GetTime(), now), duration(r.GetWindow())))
	if h := r.GetHost(); h != nil {
		kv("  CPU", fmt.Sprintf("%.1f%% of %d CPUs", h.GetCpuPercent(), h.GetCpuCount()))
		kv("  Load", fmt.Sprintf("%.2f %.2f %.2f", h.GetLoad1(), h.GetLoad5(), h.GetLoad15()))
		kv("  Memory", fmt.Sprintf("%s of %s used (%.1f%%), %s available", bytesIEC(h.GetMemoryUsedBytes()),
			bytesIEC(h.GetMemoryTotalBytes()), h.GetMemoryUsedPercent(), bytesIEC(h.GetMemoryAvailableBytes())))
		kv("  Swap", fmt.Sprintf("%s of %s used", bytesIEC(h.GetSwapUsedBytes()), bytesIEC(h.GetSwapTotalBytes())))
		for _, d := range h.GetDisks() {
			kv("  Disk "+d.GetMountpoint(), fmt.Sprintf("%s %s, %s of %s used (%.1f%%), %s free", d.GetDevice(), d.GetFstype(),
				bytesIEC(d.GetUsedBytes()), bytesIEC(d.GetTotalBytes()), d.GetUsedPercent(), bytesIEC(d.GetFreeBytes())))
		}
		kv("  Disk I/O", fmt.Sprintf("%s/s read, %s/s write",
			bytesIEC(h.GetDiskReadBytesPerSecond()), bytesIEC(h.GetDiskWriteBytesPerSecond())))
		kv("  Network", fmt.Sprintf("%s/s rx, %s/s tx",
			bytesIEC(h.GetNetworkRxBytesPerSecond()), bytesIEC(h.GetNetworkTxBytesPerSecond())))
		if up := h.GetUptime(); up != nil {
			kv("  Uptime", age(up.AsDuration()))
		}
		if cs := h.GetCollectors(); len(cs) > 0 {
			kv("  Collectors", collectors(cs))
		}
	}
	if a := r.GetApp(); a != nil {
		kv("  Requests", fmt.Sprintf("%d (%d errors, %.1f%%), %.1f/s, %d in flight, %d queued", a.GetRequests(),
			a.GetErrors(), 100*a.GetErrorRate(), a.GetRequestsPerSecond(), a.GetInFlight(), a.GetQueueLength()))
		kv("  Latency", fmt.Sprintf("p50 %.1fms, p95 %.1fms, p99 %.1fms, TTFT p95 %.1fms",
			a.GetLatencyP50Ms(), a.GetLatencyP95Ms(), a.GetLatencyP99Ms(), a.GetTtftP95Ms()))
		kv("  Tokens", fmt.Sprintf("%d in, %d out", a.GetInputTokens(), a.GetOutputTokens()))
		kv("  Cache", fmt.Sprintf("%d hits, %d misses", a.GetCacheHits(), a.GetCacheMisses()))
		kv("  Model cost", fmt.Sprintf("$%.4f", a.GetCostUsd()))
	}
	if l := r.GetLogs(); l != nil {
		kv("  Logs", fmt.Sprintf("%d lines (%d errors, %d warnings), %d new templates of %d", l.GetLines(), l.GetErrors(), l.GetWarnings(), l.GetNewTemplates(), l.GetTemplatesTotal()))
	}
	if sec := r.GetSecurity(); sec != nil {
		kv("  Security", fmt.Sprintf("%d failed SSH logins, %d failed sudo, %d new listeners, %d changed files",
			sec.GetSshFailures(), sec.GetSudoFailures(), sec.GetNewListeners(), sec.GetFileChanged()))
		if names := append(append([]string(nil), sec.GetListeners()...), sec.GetChangedFiles()...); len(names) > 0 {
			kv("  New", strings.Join(names, ", "))
		}
	}
	return tw.Flush()
}

// writeEvent writes ev as one line: the time it arrived, its type, the node id and state
// ("previous->new" for a state change), and for a report the node's CPU, memory and load.
func writeEvent(w io.Writer, ev *fleetv1.WatchNodesResponse, at time.Time) error {
	ts, typ := at.Format(time.RFC3339), eventName(ev.GetType())
	n := ev.GetNode()
	if n == nil {
		_, err := fmt.Fprintf(w, "%s  %s\n", ts, typ)
		return err
	}
	state := stateName(n.GetState())
	if ev.GetType() == fleetv1.NodeEventType_NODE_EVENT_TYPE_STATE_CHANGED {
		state = stateName(ev.GetPreviousState()) + "->" + state
	}
	var figures string
	if h := n.GetLastReport().GetHost(); h != nil && ev.GetType() == fleetv1.NodeEventType_NODE_EVENT_TYPE_REPORT {
		figures = fmt.Sprintf("  cpu=%.1f%% mem=%.1f%% load1=%.2f", h.GetCpuPercent(), h.GetMemoryUsedPercent(), h.GetLoad1())
	}
	// 13 is the length of the longest event type, "state_changed".
	_, err := fmt.Fprintf(w, "%s  %-13s  %s  %s%s\n", ts, typ, n.GetId(), state, figures)
	return err
}

// collectors describes collector outcomes as "cpu ok (1.2ms); disk failed (3ms): reason".
func collectors(cs []*fleetv1.CollectorStatus) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		took := c.GetDuration().AsDuration().Round(100 * time.Microsecond)
		if c.GetSuccess() {
			parts[i] = fmt.Sprintf("%s ok (%v)", c.GetName(), took)
		} else {
			parts[i] = fmt.Sprintf("%s failed (%v): %s", c.GetName(), took, c.GetError())
		}
	}
	return strings.Join(parts, "; ")
}

// stamp formats ts in now's location with its age, e.g. "2026-03-01T10:00:00Z (3s ago)"; "-" if unset.
func stamp(ts *timestamppb.Timestamp, now time.Time) string {
	if ts == nil {
		return "-"
	}
	return ts.AsTime().In(now.Location()).Format(time.RFC3339) + " (" + ago(ts, now) + ")"
}

// ago formats the time since ts, e.g. "3s ago"; "-" if unset.
func ago(ts *timestamppb.Timestamp, now time.Time) string {
	if ts == nil {
		return "-"
	}
	return age(now.Sub(ts.AsTime())) + " ago"
}

// age formats d with its two largest units: "42s", "5m3s", "2h10m", "3d4h". Negative durations
// (clock skew) count as zero.
func age(d time.Duration) string {
	s := int64(max(d, 0) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd%dh", s/86400, s%86400/3600)
}

// duration formats d like time.Duration ("5s"); "-" if unset.
func duration(d *durationpb.Duration) string {
	if d == nil {
		return "-"
	}
	return d.AsDuration().String()
}

// bytesIEC formats a byte count (or rate) with binary units: "512 B", "1.5 KiB", "3.2 GiB".
func bytesIEC[T uint64 | float64](n T) string {
	const units = "KMGTPE"
	v := float64(n)
	if v < 1024 {
		return fmt.Sprintf("%.0f B", v)
	}
	i := 0
	for v /= 1024; v >= 1024 && i < len(units)-1; v /= 1024 {
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, units[i])
}

// orDash returns s, or "-" when s is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
