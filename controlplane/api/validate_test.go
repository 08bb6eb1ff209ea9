package api

import (
	"math"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	costmodel "github.com/dspyfleet/dspyfleet/pkg/cost"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func goodHello() *fleetv1.Hello {
	return &fleetv1.Hello{
		NodeId: "worker-1.eu", Pool: "default", Labels: map[string]string{"zone": "a", "gpu/type": "a10"},
		Weight: 2, HourlyPrice: 0.5, InstanceId: "abc123", ReportInterval: durationpb.New(5 * time.Second),
	}
}

func goodReport() *fleetv1.MetricsReport {
	return &fleetv1.MetricsReport{
		Time: timestamppb.New(testNow), Seq: 1, Window: durationpb.New(5 * time.Second),
		Host: &fleetv1.HostMetrics{
			CpuPercent: 42, CpuCount: 4, Load1: 1.5, MemoryTotalBytes: 100, MemoryUsedBytes: 40, MemoryUsedPercent: 40,
			Disks:  []*fleetv1.DiskUsage{{Mountpoint: "/", TotalBytes: 10, UsedBytes: 5, UsedPercent: 50}},
			Uptime: durationpb.New(time.Hour),
		},
		App: &fleetv1.AppMetrics{Requests: 10, Errors: 1, ErrorRate: 0.1},
	}
}

func TestValidateHello(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(h *fleetv1.Hello)
		field  string // "" means valid
	}{
		{"valid", func(*fleetv1.Hello) {}, ""},
		{"empty pool means default", func(h *fleetv1.Hello) { h.Pool = "" }, ""},
		{"empty id", func(h *fleetv1.Hello) { h.NodeId = "" }, "node_id"},
		{"id with space", func(h *fleetv1.Hello) { h.NodeId = "bad id" }, "node_id"},
		{"id starting with dash", func(h *fleetv1.Hello) { h.NodeId = "-x" }, "node_id"},
		{"id too long", func(h *fleetv1.Hello) { h.NodeId = strings.Repeat("a", 64) }, "node_id"},
		{"id with slash", func(h *fleetv1.Hello) { h.NodeId = "a/b" }, "node_id"},
		{"bad pool", func(h *fleetv1.Hello) { h.Pool = "po ol" }, "pool"},
		{"bad label key", func(h *fleetv1.Hello) { h.Labels["bad key"] = "x" }, "labels"},
		{"label value with newline", func(h *fleetv1.Hello) { h.Labels["zone"] = "a\nb" }, "labels[zone]"},
		{"NaN weight", func(h *fleetv1.Hello) { h.Weight = math.NaN() }, "weight"},
		{"negative price", func(h *fleetv1.Hello) { h.HourlyPrice = -1 }, "hourly_price"},
		{"infinite price", func(h *fleetv1.Hello) { h.HourlyPrice = math.Inf(1) }, "hourly_price"},
		{"no instance id", func(h *fleetv1.Hello) { h.InstanceId = "" }, "instance_id"},
		{"interval too short", func(h *fleetv1.Hello) { h.ReportInterval = durationpb.New(time.Millisecond) }, "report_interval"},
		{"interval negative", func(h *fleetv1.Hello) { h.ReportInterval = durationpb.New(-time.Second) }, "report_interval"},
		{"hostname too long", func(h *fleetv1.Hello) { h.Hostname = strings.Repeat("h", 300) }, "hostname"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := goodHello()
			tt.mutate(h)
			assertViolation(t, validateHello(h, check.DefaultLimits()), tt.field)
		})
	}
}

func TestValidateReport(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(r *fleetv1.MetricsReport)
		field  string
	}{
		{"valid", func(*fleetv1.MetricsReport) {}, ""},
		{"no host or app", func(r *fleetv1.MetricsReport) { r.Host, r.App = nil, nil }, ""},
		{"small clock skew", func(r *fleetv1.MetricsReport) { r.Time = timestamppb.New(testNow.Add(time.Minute)) }, ""},
		{"zero seq", func(r *fleetv1.MetricsReport) { r.Seq = 0 }, "seq"},
		{"no time", func(r *fleetv1.MetricsReport) { r.Time = nil }, "time"},
		{"time far ahead", func(r *fleetv1.MetricsReport) { r.Time = timestamppb.New(testNow.Add(time.Hour)) }, "time"},
		{"invalid time", func(r *fleetv1.MetricsReport) { r.Time = &timestamppb.Timestamp{Nanos: -1} }, "time"},
		{"NaN cpu", func(r *fleetv1.MetricsReport) { r.Host.CpuPercent = math.NaN() }, "host.cpu_percent"},
		{"cpu over 100", func(r *fleetv1.MetricsReport) { r.Host.CpuPercent = 101 }, "host.cpu_percent"},
		{"negative load", func(r *fleetv1.MetricsReport) { r.Host.Load5 = -0.1 }, "host.load5"},
		{"infinite rx", func(r *fleetv1.MetricsReport) { r.Host.NetworkRxBytesPerSecond = math.Inf(1) }, "host.network_rx_bytes_per_second"},
		{"used over total", func(r *fleetv1.MetricsReport) { r.Host.MemoryUsedBytes = 101 }, "host.memory_used_bytes"},
		{"NaN disk share", func(r *fleetv1.MetricsReport) { r.Host.Disks[0].UsedPercent = math.NaN() }, "host.disks[0].used_percent"},
		{"disk used over total", func(r *fleetv1.MetricsReport) { r.Host.Disks[0].UsedBytes = 11 }, "host.disks[0].used_bytes"},
		{"negative uptime", func(r *fleetv1.MetricsReport) { r.Host.Uptime = durationpb.New(-time.Second) }, "host.uptime"},
		{"error rate over 1", func(r *fleetv1.MetricsReport) { r.App.ErrorRate = 1.5 }, "app.error_rate"},
		{"more errors than requests", func(r *fleetv1.MetricsReport) { r.App.Errors = 11 }, "app.errors"},
		{"negative latency", func(r *fleetv1.MetricsReport) { r.App.LatencyP95Ms = -3 }, "app.latency_p95_ms"},
		{"NaN cost", func(r *fleetv1.MetricsReport) { r.App.CostUsd = math.NaN() }, "app.cost_usd"},
		{"negative window", func(r *fleetv1.MetricsReport) { r.Window = durationpb.New(-time.Second) }, "window"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := goodReport()
			tt.mutate(r)
			assertViolation(t, validateReport(r, testNow, 5*time.Minute), tt.field)
		})
	}
}

func assertViolation(t *testing.T, v check.Violations, field string) {
	t.Helper()
	if field == "" {
		if len(v) > 0 {
			t.Fatalf("want valid, got %s", v)
		}
		return
	}
	for _, f := range v {
		if f.GetField() == field {
			if f.GetDescription() == "" {
				t.Fatalf("violation of %s has no description", field)
			}
			return
		}
	}
	t.Fatalf("want a violation of %s, got %q", field, v.String())
}

// FuzzValidateReport feeds arbitrary bytes through the report decoder and validator: it must
// never panic, and a report it accepts must hold only finite, non-negative numbers.
func FuzzValidateReport(f *testing.F) {
	seed, _ := proto.Marshal(goodReport())
	f.Add(seed)
	bad := goodReport()
	bad.Host.CpuPercent = math.NaN()
	seedBad, _ := proto.Marshal(bad)
	f.Add(seedBad)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &fleetv1.MetricsReport{}
		if proto.Unmarshal(data, r) != nil {
			return
		}
		if len(validateReport(r, testNow, 5*time.Minute)) > 0 {
			return
		}
		var again check.Violations
		walkNumbers(&again, "", r.ProtoReflect())
		if len(again) > 0 {
			t.Fatalf("accepted a report with bad numbers: %s", again)
		}
		if r.GetHost().GetCpuPercent() > 100 || r.GetApp().GetErrorRate() > 1 {
			t.Fatalf("accepted out-of-range shares: %v", r)
		}
		for _, b := range append(r.GetApp().GetModels(), r.GetApp().GetPrograms()...) {
			if b.GetCostUsd() > costmodel.MaxReportUSD || b.GetSavedUsd() > costmodel.MaxReportUSD {
				t.Fatalf("accepted a breakdown cost over the bound: %v", b)
			}
		}
		if r.GetApp().GetCostUsd() > costmodel.MaxReportUSD || r.GetApp().GetSavedUsd() > costmodel.MaxReportUSD {
			t.Fatalf("accepted a window cost over the bound: %v", r.GetApp())
		}
	})
}

// FuzzValidateHello checks that the Hello validator never panics and that an accepted Hello has
// a node id usable as a bbolt key and a Prometheus label.
func FuzzValidateHello(f *testing.F) {
	seed, _ := proto.Marshal(goodHello())
	f.Add(seed)
	rich := goodHello()
	rich.HourlyPrice = 1e308
	seedRich, _ := proto.Marshal(rich)
	f.Add(seedRich)
	f.Fuzz(func(t *testing.T, data []byte) {
		h := &fleetv1.Hello{}
		if proto.Unmarshal(data, h) != nil {
			return
		}
		if len(validateHello(h, check.DefaultLimits())) > 0 {
			return
		}
		if !check.ValidID(h.GetNodeId()) || len(h.GetNodeId()) > 63 {
			t.Fatalf("accepted node id %q", h.GetNodeId())
		}
		if math.IsNaN(h.GetWeight()) || h.GetWeight() < 0 {
			t.Fatalf("accepted weight %g", h.GetWeight())
		}
		if p := h.GetHourlyPrice(); costmodel.AmountProblem(p, costmodel.MaxHourly) != "" {
			t.Fatalf("accepted hourly_price %g", p)
		}
	})
}
