package collector

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// funcCollector is a Collector made of a name and a function, for testing the Sampler.
type funcCollector struct {
	name string
	fn   func(m *fleetv1.HostMetrics) error
}

func (c funcCollector) Name() string { return c.name }

func (c funcCollector) Collect(_ context.Context, _ time.Time, m *fleetv1.HostMetrics) error {
	return c.fn(m)
}

func TestSamplerRecordsEveryCollector(t *testing.T) {
	boom := errors.New("boom")
	s := NewSampler([]Collector{
		funcCollector{"a", func(m *fleetv1.HostMetrics) error { m.Load1 = 1.5; return nil }},
		funcCollector{"b", func(*fleetv1.HostMetrics) error { return boom }},
		funcCollector{"nan", func(m *fleetv1.HostMetrics) error { m.CpuPercent = math.NaN(); return nil }},
		funcCollector{"neg", func(m *fleetv1.HostMetrics) error {
			m.NetworkRxBytesPerSecond = -1
			m.NetworkTxBytesPerSecond = math.Inf(1)
			return boom
		}},
		funcCollector{"over", func(m *fleetv1.HostMetrics) error {
			m.Disks = append(m.Disks, &fleetv1.DiskUsage{Mountpoint: "/x", UsedPercent: 100.5})
			m.Uptime = durationpb.New(-time.Second)
			return nil
		}},
		funcCollector{"c", func(m *fleetv1.HostMetrics) error { m.MemoryUsedPercent = 100; return nil }},
	})
	m := s.Sample(context.Background(), time.Now())

	want := []struct {
		name    string
		success bool
		errHas  []string
	}{
		{"a", true, nil},
		{"b", false, []string{"boom"}},
		{"nan", false, []string{"cpu_percent"}},
		{"neg", false, []string{"boom", "network_rx_bytes_per_second", "network_tx_bytes_per_second"}},
		{"over", false, []string{"disks[/x].used_percent", "uptime"}},
		{"c", true, nil},
	}
	if len(m.Collectors) != len(want) {
		t.Fatalf("got %d statuses, want %d", len(m.Collectors), len(want))
	}
	for i, w := range want {
		st := m.Collectors[i]
		if st.Name != w.name || st.Success != w.success {
			t.Errorf("status %d = %q success %v, want %q success %v", i, st.Name, st.Success, w.name, w.success)
		}
		if st.Success != (st.Error == "") {
			t.Errorf("status %q: success %v with error %q", st.Name, st.Success, st.Error)
		}
		for _, s := range w.errHas {
			if !strings.Contains(st.Error, s) {
				t.Errorf("status %q error %q does not mention %q", st.Name, st.Error, s)
			}
		}
		if st.Duration == nil || st.Duration.AsDuration() < 0 {
			t.Errorf("status %q duration = %v", st.Name, st.Duration)
		}
	}
	if m.Load1 != 1.5 || m.MemoryUsedPercent != 100 {
		t.Errorf("valid figures lost: load1 %v, memory_used_percent %v", m.Load1, m.MemoryUsedPercent)
	}
	if m.CpuPercent != 0 || m.NetworkRxBytesPerSecond != 0 || m.NetworkTxBytesPerSecond != 0 ||
		m.Disks[0].UsedPercent != 0 || m.Uptime != nil {
		t.Errorf("invalid figures not cleared: %v", m)
	}
	checkSane(t, m)
}

func TestPercent(t *testing.T) {
	for _, tc := range []struct {
		part, whole uint64
		want        float64
	}{
		{0, 0, 0},
		{5, 0, 0},
		{0, 10, 0},
		{5, 10, 50},
		{10, 10, 100},
		{math.MaxUint64, math.MaxUint64, 100},
		{11, 10, 100},
	} {
		if got := percent(tc.part, tc.whole); got != tc.want {
			t.Errorf("percent(%d, %d) = %v, want %v", tc.part, tc.whole, got, tc.want)
		}
	}
}

// TestSampleThisHost samples the real host twice and checks the figures are sane. The rate
// collectors measure their window between the sample times they are given, so the second
// sample is stamped 300ms after the first instead of being taken 300ms later.
func TestSampleThisHost(t *testing.T) {
	ctx := context.Background()
	cs := Default()
	s := NewSampler(cs)
	at := time.Now()
	first := s.Sample(ctx, at)
	second := s.Sample(ctx, at.Add(300*time.Millisecond))

	for i, m := range []*fleetv1.HostMetrics{first, second} {
		t.Logf("sample %d: %v", i+1, m)
		checkSane(t, m)
		if len(m.Collectors) != len(cs) {
			t.Fatalf("sample %d: %d collector statuses, want %d", i+1, len(m.Collectors), len(cs))
		}
		ok := make(map[string]bool)
		for j, st := range m.Collectors {
			if st.Name != cs[j].Name() {
				t.Errorf("sample %d: status %d is %q, want %q", i+1, j, st.Name, cs[j].Name())
			}
			ok[st.Name] = st.Success
			if !st.Success {
				t.Errorf("sample %d: collector %q failed: %s", i+1, st.Name, st.Error)
			}
		}
		if ok["memory"] && m.MemoryTotalBytes == 0 {
			t.Errorf("sample %d: memory total is 0", i+1)
		}
		if ok["cpu"] && m.CpuCount == 0 {
			t.Errorf("sample %d: cpu count is 0", i+1)
		}
		if ok["uptime"] && m.GetUptime().AsDuration() <= 0 {
			t.Errorf("sample %d: uptime %v", i+1, m.GetUptime().AsDuration())
		}
		if ok["disk"] && len(m.Disks) == 0 {
			t.Errorf("sample %d: no disks", i+1)
		}
	}
}

// TestSampleConcurrently runs samples from several goroutines; with -race it checks that the
// collectors guard their state.
func TestSampleConcurrently(t *testing.T) {
	s := NewSampler(Default())
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			checkSane(t, s.Sample(context.Background(), time.Now()))
		})
	}
	wg.Wait()
}

// checkSane fails t if any number in m is NaN, infinite or negative, or a share is above 100.
func checkSane(t *testing.T, m *fleetv1.HostMetrics) {
	t.Helper()
	var walk func(path string, msg protoreflect.Message)
	walk = func(path string, msg protoreflect.Message) {
		msg.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			name := path + string(fd.Name())
			switch {
			case fd.IsList() && fd.Message() != nil:
				for i := range v.List().Len() {
					walk(name+"[].", v.List().Get(i).Message())
				}
			case fd.Message() != nil:
				walk(name+".", v.Message())
			case fd.Kind() == protoreflect.DoubleKind:
				f := v.Float()
				if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
					t.Errorf("%s = %v", name, f)
				}
				if strings.HasSuffix(name, "percent") && f > 100 {
					t.Errorf("%s = %v, above 100", name, f)
				}
			case fd.Kind() == protoreflect.Int64Kind || fd.Kind() == protoreflect.Int32Kind:
				if v.Int() < 0 {
					t.Errorf("%s = %v", name, v.Int())
				}
			}
			return true
		})
	}
	walk("", m.ProtoReflect())
}
