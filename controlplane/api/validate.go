package api

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

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/internal/wire"
	costmodel "github.com/dspyfleet/dspyfleet/pkg/cost"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Limits on what an agent may send. They bound memory per node and keep labels usable as
// Prometheus label values.
const (
	maxDisks          = 256
	maxCollectors     = 64
	maxBreakdowns     = 64
	minReportInterval = 100 * time.Millisecond
	maxReportInterval = time.Hour
)

var (
	labelKeyPattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._/-]{0,61}[A-Za-z0-9])?$`)
)

// validateHello checks a Hello message, its labels against lim.
func validateHello(h *fleetv1.Hello, lim check.Limits) check.Violations {
	var v check.Violations
	switch {
	case h.GetNodeId() == "":
		v.Add("node_id", "is empty; set --node-id or let it default to the host name")
	case !check.ValidID(h.GetNodeId()):
		v.Add("node_id", "%q must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit", check.Truncate(h.GetNodeId()))
	}
	if p := h.GetPool(); p != "" && !check.ValidID(p) {
		v.Add("pool", "%q must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit", check.Truncate(p))
	}
	if len(h.GetLabels()) > lim.MaxLabels {
		v.Add("labels", "has %d labels, at most %d are allowed (--max-labels)", len(h.GetLabels()), lim.MaxLabels)
	}
	for k, val := range h.GetLabels() {
		if !labelKeyPattern.MatchString(k) {
			v.Add("labels", "key %q must be 1-63 letters, digits, '.', '_', '/' or '-', starting and ending with a letter or digit", check.Truncate(k))
		}
		if len(val) > lim.MaxLabelValueBytes || !utf8.ValidString(val) || strings.ContainsFunc(val, isControl) {
			v.Add("labels["+check.Truncate(k)+"]", "value must be valid UTF-8 without control characters, at most %d bytes (--max-label-value-bytes)", lim.MaxLabelValueBytes)
		}
	}
	checkNonNegative(&v, "weight", h.GetWeight())
	checkNonNegative(&v, "hourly_price", h.GetHourlyPrice())
	if x := h.GetHourlyPrice(); x > costmodel.MaxHourly {
		v.Add("hourly_price", "is %g USD per hour, over the bound of %g (set the agent's --hourly-price)", x, costmodel.MaxHourly)
	}
	for field, s := range map[string]string{
		"instance_type": h.GetInstanceType(), "agent_version": h.GetAgentVersion(),
		"hostname": h.GetHostname(), "instance_id": h.GetInstanceId(),
	} {
		if len(s) > check.MaxStringLen || !utf8.ValidString(s) || strings.ContainsFunc(s, isControl) {
			v.Add(field, "must be valid UTF-8 without control characters, at most %d bytes", check.MaxStringLen)
		}
	}
	if h.GetInstanceId() == "" {
		v.Add("instance_id", "is empty; the agent must send a random id per process")
	}
	if a := h.GetAdvertiseAddress(); a != "" {
		host, port, err := net.SplitHostPort(a)
		n, perr := strconv.Atoi(port)
		if err != nil || perr != nil || n < 1 || n > 65535 || len(host) > 253 || !utf8.ValidString(host) || strings.ContainsFunc(host, isControl) {
			v.Add("advertise_address", "%q must be host:port with a port from 1 to 65535 (set the agent's --advertise-addr)", check.Truncate(a))
		}
	}
	if ri := h.GetReportInterval(); ri != nil {
		d := ri.AsDuration()
		if !ri.IsValid() || d < minReportInterval || d > maxReportInterval {
			v.Add("report_interval", "%s must be between %s and %s", d, minReportInterval, maxReportInterval)
		}
	}
	return v
}

// validateReport checks a MetricsReport: every number finite and non-negative, shares within
// their range, the time set and not ahead of now by more than maxSkew.
func validateReport(r *fleetv1.MetricsReport, now time.Time, maxSkew time.Duration) check.Violations {
	var v check.Violations
	if r.GetSeq() == 0 {
		v.Add("seq", "must be positive")
	}
	switch t := r.GetTime(); {
	case t == nil:
		v.Add("time", "is missing")
	case !t.IsValid():
		v.Add("time", "is not a valid timestamp")
	case t.AsTime().After(now.Add(maxSkew)):
		v.Add("time", "%s is more than %s ahead of the control plane's clock; fix the agent host's clock (NTP)", t.AsTime().UTC().Format(time.RFC3339), maxSkew)
	}
	if w := r.GetWindow(); w != nil && (!w.IsValid() || w.AsDuration() < 0) {
		v.Add("window", "must be a valid non-negative duration")
	}
	walkNumbers(&v, "", r.ProtoReflect())
	h := r.GetHost()
	checkShare(&v, "host.cpu_percent", h.GetCpuPercent(), 100)
	checkShare(&v, "host.memory_used_percent", h.GetMemoryUsedPercent(), 100)
	if h.GetMemoryUsedBytes() > h.GetMemoryTotalBytes() && h.GetMemoryTotalBytes() > 0 {
		v.Add("host.memory_used_bytes", "exceeds memory_total_bytes")
	}
	if len(h.GetDisks()) > maxDisks {
		v.Add("host.disks", "has %d entries, at most %d are allowed", len(h.GetDisks()), maxDisks)
	}
	for i, d := range h.GetDisks() {
		checkShare(&v, fmt.Sprintf("host.disks[%d].used_percent", i), d.GetUsedPercent(), 100)
		if d.GetUsedBytes() > d.GetTotalBytes() {
			v.Add(fmt.Sprintf("host.disks[%d].used_bytes", i), "exceeds total_bytes")
		}
	}
	if len(h.GetCollectors()) > maxCollectors {
		v.Add("host.collectors", "has %d entries, at most %d are allowed", len(h.GetCollectors()), maxCollectors)
	}
	if u := h.GetUptime(); u != nil && (!u.IsValid() || u.AsDuration() < 0) {
		v.Add("host.uptime", "must be a valid non-negative duration")
	}
	validateLogs(&v, r.GetLogs())
	validateSecurity(&v, r.GetSecurity())
	a := r.GetApp()
	checkShare(&v, "app.error_rate", a.GetErrorRate(), 1)
	checkShare(&v, "app.cache_hit_ratio", a.GetCacheHitRatio(), 1)
	if a.GetErrors() > a.GetRequests() {
		v.Add("app.errors", "exceeds app.requests")
	}
	if _, err := wire.WindowFromApp(a, time.Time{}, time.Time{}); err != nil {
		v.Add("app", "%v", err)
	}
	if l := a.GetLatency(); l != nil {
		var n uint64 = l.GetZeroCount()
		for _, c := range l.GetCounts() {
			n += c
		}
		if n != a.GetRequests() {
			v.Add("app.latency", "holds %d values for %d requests", n, a.GetRequests())
		}
	}
	checkUSD(&v, "app.cost_usd", a.GetCostUsd())
	checkUSD(&v, "app.saved_usd", a.GetSavedUsd())
	for field, bs := range map[string][]*fleetv1.AppBreakdown{"app.models": a.GetModels(), "app.programs": a.GetPrograms()} {
		if len(bs) > maxBreakdowns {
			v.Add(field, "has %d entries, at most %d are allowed", len(bs), maxBreakdowns)
		}
		for i, b := range bs {
			checkUSD(&v, fmt.Sprintf("%s[%d].cost_usd", field, i), b.GetCostUsd())
			checkUSD(&v, fmt.Sprintf("%s[%d].saved_usd", field, i), b.GetSavedUsd())
			if len(b.GetName()) > check.MaxStringLen || !utf8.ValidString(b.GetName()) || strings.ContainsFunc(b.GetName(), isControl) {
				v.Add(fmt.Sprintf("%s[%d].name", field, i), "must be valid UTF-8 without control characters, at most %d bytes", check.MaxStringLen)
			}
		}
	}
	return v
}

// walkNumbers reports every float or double field in m that is NaN, infinite or negative. It
// walks the message by reflection so fields added later are covered without a change here. A
// first walk that builds no field names finds whether there is anything to report: every
// report passes through here, and naming each field cost an allocation per field.
func walkNumbers(v *check.Violations, prefix string, m protoreflect.Message) {
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

func checkNonNegative(v *check.Violations, field string, x float64) {
	switch {
	case math.IsNaN(x):
		v.Add(field, "is NaN")
	case math.IsInf(x, 0):
		v.Add(field, "is infinite")
	case x < 0:
		v.Add(field, "is %g; it cannot be negative", x)
	}
}

// checkUSD refuses a report's cost or saving over costmodel.MaxReportUSD (walkNumbers reports
// the NaN, infinite and negative ones).
func checkUSD(v *check.Violations, field string, x float64) {
	if x > costmodel.MaxReportUSD {
		v.Add(field, "is %g USD, over the bound of %g per report", x, costmodel.MaxReportUSD)
	}
}

func checkShare(v *check.Violations, field string, x, limit float64) {
	if x > limit*(1+1e-9) {
		v.Add(field, "is %g; it must be at most %g", x, limit)
	}
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
