package controlplane

import (
	"fmt"
	"math"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/dspyfleet/dspyfleet/internal/wire"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Limits on what an agent may send. They bound memory per node and keep labels usable as
// Prometheus label values.
const (
	maxStringLen      = 256
	maxDisks          = 256
	maxCollectors     = 64
	maxBreakdowns     = 64
	minReportInterval = 100 * time.Millisecond
	maxReportInterval = time.Hour
	defaultPool       = "default"
)

var (
	idPattern       = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
	labelKeyPattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._/-]{0,61}[A-Za-z0-9])?$`)
)

// violations collects field errors; a nil or empty list means valid.
type violations []*fleetv1.FieldViolation

func (v *violations) add(field, format string, args ...any) {
	*v = append(*v, &fleetv1.FieldViolation{Field: field, Description: fmt.Sprintf(format, args...)})
}

// String joins the violations into one actionable sentence.
func (v violations) String() string {
	parts := make([]string, len(v))
	for i, f := range v {
		parts[i] = f.GetField() + ": " + f.GetDescription()
	}
	return strings.Join(parts, "; ")
}

// validID reports whether s is a valid node id or pool name.
func validID(s string) bool { return idPattern.MatchString(s) }

// validateHello checks a Hello message, its labels against lim.
func validateHello(h *fleetv1.Hello, lim limits) violations {
	var v violations
	switch {
	case h.GetNodeId() == "":
		v.add("node_id", "is empty; set --node-id or let it default to the host name")
	case !validID(h.GetNodeId()):
		v.add("node_id", "%q must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit", truncate(h.GetNodeId()))
	}
	if p := h.GetPool(); p != "" && !validID(p) {
		v.add("pool", "%q must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit", truncate(p))
	}
	if len(h.GetLabels()) > lim.maxLabels {
		v.add("labels", "has %d labels, at most %d are allowed (--max-labels)", len(h.GetLabels()), lim.maxLabels)
	}
	for k, val := range h.GetLabels() {
		if !labelKeyPattern.MatchString(k) {
			v.add("labels", "key %q must be 1-63 letters, digits, '.', '_', '/' or '-', starting and ending with a letter or digit", truncate(k))
		}
		if len(val) > lim.maxLabelValueBytes || !utf8.ValidString(val) || strings.ContainsFunc(val, isControl) {
			v.add("labels["+truncate(k)+"]", "value must be valid UTF-8 without control characters, at most %d bytes (--max-label-value-bytes)", lim.maxLabelValueBytes)
		}
	}
	checkNonNegative(&v, "weight", h.GetWeight())
	checkNonNegative(&v, "hourly_price", h.GetHourlyPrice())
	for field, s := range map[string]string{
		"instance_type": h.GetInstanceType(), "agent_version": h.GetAgentVersion(),
		"hostname": h.GetHostname(), "instance_id": h.GetInstanceId(),
	} {
		if len(s) > maxStringLen || !utf8.ValidString(s) || strings.ContainsFunc(s, isControl) {
			v.add(field, "must be valid UTF-8 without control characters, at most %d bytes", maxStringLen)
		}
	}
	if h.GetInstanceId() == "" {
		v.add("instance_id", "is empty; the agent must send a random id per process")
	}
	if a := h.GetAdvertiseAddress(); a != "" {
		host, port, err := net.SplitHostPort(a)
		n, perr := strconv.Atoi(port)
		if err != nil || perr != nil || n < 1 || n > 65535 || len(host) > 253 || !utf8.ValidString(host) || strings.ContainsFunc(host, isControl) {
			v.add("advertise_address", "%q must be host:port with a port from 1 to 65535 (set the agent's --advertise-addr)", truncate(a))
		}
	}
	if ri := h.GetReportInterval(); ri != nil {
		d := ri.AsDuration()
		if !ri.IsValid() || d < minReportInterval || d > maxReportInterval {
			v.add("report_interval", "%s must be between %s and %s", d, minReportInterval, maxReportInterval)
		}
	}
	return v
}

// validateReport checks a MetricsReport: every number finite and non-negative, shares within
// their range, the time set and not ahead of now by more than maxSkew.
func validateReport(r *fleetv1.MetricsReport, now time.Time, maxSkew time.Duration) violations {
	var v violations
	if r.GetSeq() == 0 {
		v.add("seq", "must be positive")
	}
	switch t := r.GetTime(); {
	case t == nil:
		v.add("time", "is missing")
	case !t.IsValid():
		v.add("time", "is not a valid timestamp")
	case t.AsTime().After(now.Add(maxSkew)):
		v.add("time", "%s is more than %s ahead of the control plane's clock; fix the agent host's clock (NTP)", t.AsTime().UTC().Format(time.RFC3339), maxSkew)
	}
	if w := r.GetWindow(); w != nil && (!w.IsValid() || w.AsDuration() < 0) {
		v.add("window", "must be a valid non-negative duration")
	}
	walkNumbers(&v, "", r.ProtoReflect())
	h := r.GetHost()
	checkShare(&v, "host.cpu_percent", h.GetCpuPercent(), 100)
	checkShare(&v, "host.memory_used_percent", h.GetMemoryUsedPercent(), 100)
	if h.GetMemoryUsedBytes() > h.GetMemoryTotalBytes() && h.GetMemoryTotalBytes() > 0 {
		v.add("host.memory_used_bytes", "exceeds memory_total_bytes")
	}
	if len(h.GetDisks()) > maxDisks {
		v.add("host.disks", "has %d entries, at most %d are allowed", len(h.GetDisks()), maxDisks)
	}
	for i, d := range h.GetDisks() {
		checkShare(&v, fmt.Sprintf("host.disks[%d].used_percent", i), d.GetUsedPercent(), 100)
		if d.GetUsedBytes() > d.GetTotalBytes() {
			v.add(fmt.Sprintf("host.disks[%d].used_bytes", i), "exceeds total_bytes")
		}
	}
	if len(h.GetCollectors()) > maxCollectors {
		v.add("host.collectors", "has %d entries, at most %d are allowed", len(h.GetCollectors()), maxCollectors)
	}
	if u := h.GetUptime(); u != nil && (!u.IsValid() || u.AsDuration() < 0) {
		v.add("host.uptime", "must be a valid non-negative duration")
	}
	a := r.GetApp()
	checkShare(&v, "app.error_rate", a.GetErrorRate(), 1)
	checkShare(&v, "app.cache_hit_ratio", a.GetCacheHitRatio(), 1)
	if a.GetErrors() > a.GetRequests() {
		v.add("app.errors", "exceeds app.requests")
	}
	if _, err := wire.WindowFromApp(a, time.Time{}, time.Time{}); err != nil {
		v.add("app", "%v", err)
	}
	if l := a.GetLatency(); l != nil {
		var n uint64 = l.GetZeroCount()
		for _, c := range l.GetCounts() {
			n += c
		}
		if n != a.GetRequests() {
			v.add("app.latency", "holds %d values for %d requests", n, a.GetRequests())
		}
	}
	for field, bs := range map[string][]*fleetv1.AppBreakdown{"app.models": a.GetModels(), "app.programs": a.GetPrograms()} {
		if len(bs) > maxBreakdowns {
			v.add(field, "has %d entries, at most %d are allowed", len(bs), maxBreakdowns)
		}
		for i, b := range bs {
			if len(b.GetName()) > maxStringLen || !utf8.ValidString(b.GetName()) || strings.ContainsFunc(b.GetName(), isControl) {
				v.add(fmt.Sprintf("%s[%d].name", field, i), "must be valid UTF-8 without control characters, at most %d bytes", maxStringLen)
			}
		}
	}
	return v
}

// walkNumbers reports every float or double field in m that is NaN, infinite or negative. It
// walks the message by reflection so fields added later are covered without a change here. A
// first walk that builds no field names finds whether there is anything to report: every
// report passes through here, and naming each field cost an allocation per field.
func walkNumbers(v *violations, prefix string, m protoreflect.Message) {
	if !hasBadNumber(m) {
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, val protoreflect.Value) bool {
		name := prefix + string(fd.Name())
		switch {
		case fd.IsList() && fd.Kind() == protoreflect.MessageKind:
			l := val.List()
			for i := 0; i < l.Len() && i < maxDisks; i++ {
				walkNumbers(v, fmt.Sprintf("%s[%d].", name, i), l.Get(i).Message())
			}
		case fd.IsMap() || fd.IsList():
		case fd.Kind() == protoreflect.MessageKind:
			walkNumbers(v, name+".", val.Message())
		case fd.Kind() == protoreflect.DoubleKind || fd.Kind() == protoreflect.FloatKind:
			checkNonNegative(v, name, val.Float())
		}
		return true
	})
}

// hasBadNumber reports whether a float or double field in m, at any depth, is NaN, infinite or
// negative, looking at the list entries walkNumbers looks at.
func hasBadNumber(m protoreflect.Message) bool {
	bad := false
	m.Range(func(fd protoreflect.FieldDescriptor, val protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Kind() == protoreflect.MessageKind:
			l := val.List()
			for i := 0; i < l.Len() && i < maxDisks && !bad; i++ {
				bad = hasBadNumber(l.Get(i).Message())
			}
		case fd.IsMap() || fd.IsList():
		case fd.Kind() == protoreflect.MessageKind:
			bad = hasBadNumber(val.Message())
		case fd.Kind() == protoreflect.DoubleKind || fd.Kind() == protoreflect.FloatKind:
			x := val.Float()
			bad = math.IsNaN(x) || math.IsInf(x, 0) || x < 0
		}
		return !bad
	})
	return bad
}

func checkNonNegative(v *violations, field string, x float64) {
	switch {
	case math.IsNaN(x):
		v.add(field, "is NaN")
	case math.IsInf(x, 0):
		v.add(field, "is infinite")
	case x < 0:
		v.add(field, "is %g; it cannot be negative", x)
	}
}

func checkShare(v *violations, field string, x, limit float64) {
	if x > limit*(1+1e-9) {
		v.add(field, "is %g; it must be at most %g", x, limit)
	}
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// truncate shortens an echoed value so an error message stays readable.
func truncate(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
