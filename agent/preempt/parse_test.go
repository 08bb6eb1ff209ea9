package preempt

import (
	"errors"
	"testing"
	"time"
)

var seen = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func TestParseEC2Action(t *testing.T) {
	for _, tc := range []struct {
		body    string
		want    time.Time
		wantErr bool
	}{
		{`{"action": "terminate", "time": "2026-12-03T12:02:00Z"}`, seen.Add(2 * time.Minute), false},
		{`{"action": "stop", "time": "2026-12-03T12:01:00Z"}`, seen.Add(time.Minute), false},
		{`{"action": "", "time": "2026-12-03T12:01:00Z"}`, time.Time{}, true},
		{`{"action": "terminate", "time": "soon"}`, time.Time{}, true},
		{`not json`, time.Time{}, true},
	} {
		n, err := ParseEC2Action([]byte(tc.body), seen)
		if (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, ErrParse)) {
			t.Errorf("%s: err = %v, want error %v", tc.body, err, tc.wantErr)
			continue
		}
		if err == nil && (!n.Deadline.Equal(tc.want) || n.Source != "ec2" || !n.Seen.Equal(seen)) {
			t.Errorf("%s: notice %+v, want deadline %s", tc.body, n, tc.want)
		}
	}
}

func TestParseCapacity(t *testing.T) {
	for _, tc := range []struct {
		name  string
		parse func([]byte) (string, error)
		body  string
		want  string
	}{
		{"ec2 spot", ParseEC2LifeCycle, "spot", Spot},
		{"ec2 on-demand", ParseEC2LifeCycle, "on-demand\n", OnDemand},
		{"ec2 scheduled", ParseEC2LifeCycle, "scheduled", Reserved},
		{"ec2 junk", ParseEC2LifeCycle, "maybe", ""},
		{"gce spot", ParseGCEPreemptible, "TRUE", Spot},
		{"gce standard", ParseGCEPreemptible, "FALSE", OnDemand},
		{"gce junk", ParseGCEPreemptible, "true-ish", ""},
		{"azure spot", func(b []byte) (string, error) { _, c, err := ParseAzureCompute(b); return c, err }, `{"name":"vm","priority":"Spot"}`, Spot},
		{"azure regular", func(b []byte) (string, error) { _, c, err := ParseAzureCompute(b); return c, err }, `{"name":"vm","priority":"Regular"}`, OnDemand},
		{"azure junk", func(b []byte) (string, error) { _, c, err := ParseAzureCompute(b); return c, err }, `{"priority":"Premium"}`, ""},
	} {
		got, err := tc.parse([]byte(tc.body))
		if got != tc.want || (tc.want == "") != (err != nil) {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

func TestParseGCEPreempted(t *testing.T) {
	if n, ok, err := ParseGCEPreempted([]byte("TRUE"), seen); !ok || err != nil || !n.Deadline.Equal(seen.Add(30*time.Second)) {
		t.Errorf("TRUE: %+v %v %v", n, ok, err)
	}
	if _, ok, err := ParseGCEPreempted([]byte("FALSE"), seen); ok || err != nil {
		t.Errorf("FALSE: %v %v", ok, err)
	}
	if _, _, err := ParseGCEPreempted([]byte("yes"), seen); !errors.Is(err, ErrParse) {
		t.Errorf("junk: %v", err)
	}
}

func TestParseAzureEvents(t *testing.T) {
	for _, tc := range []struct {
		name, body, vm string
		ok             bool
		want           time.Time
		wantErr        bool
	}{
		{"none", `{"DocumentIncarnation":1,"Events":[]}`, "vm-1", false, time.Time{}, false},
		{"preempt", `{"Events":[{"EventId":"a","EventType":"Preempt","Resources":["vm-1"],"NotBefore":"Thu, 03 Dec 2026 12:00:45 GMT"}]}`, "vm-1", true, seen.Add(45 * time.Second), false},
		{"another vm", `{"Events":[{"EventId":"a","EventType":"Preempt","Resources":["vm-2"],"NotBefore":"Thu, 03 Dec 2026 12:00:45 GMT"}]}`, "vm-1", false, time.Time{}, false},
		{"reboot only", `{"Events":[{"EventId":"a","EventType":"Reboot","Resources":["vm-1"]}]}`, "vm-1", false, time.Time{}, false},
		{"terminate without time", `{"Events":[{"EventId":"a","EventType":"Terminate"}]}`, "", true, seen.Add(30 * time.Second), false},
		{"bad time", `{"Events":[{"EventId":"a","EventType":"Preempt","NotBefore":"tomorrow"}]}`, "", false, time.Time{}, true},
		{"junk", `[`, "", false, time.Time{}, true},
	} {
		n, ok, err := ParseAzureEvents([]byte(tc.body), tc.vm, seen)
		if ok != tc.ok || (err != nil) != tc.wantErr || (ok && !n.Deadline.Equal(tc.want)) {
			t.Errorf("%s: %+v ok=%v err=%v", tc.name, n, ok, err)
		}
	}
}

func FuzzParsers(f *testing.F) {
	f.Add([]byte(`{"action": "terminate", "time": "2026-12-03T12:02:00Z"}`))
	f.Add([]byte(`{"Events":[{"EventId":"a","EventType":"Preempt","NotBefore":"Thu, 03 Dec 2026 12:00:45 GMT"}]}`))
	f.Add([]byte("TRUE"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if n, err := ParseEC2Action(b, seen); err == nil && n.Source != "ec2" {
			t.Fatal("ec2 notice without its source")
		}
		if n, ok, err := ParseAzureEvents(b, "", seen); ok && (err != nil || n.Deadline.IsZero()) {
			t.Fatal("azure notice without a deadline")
		}
		if _, ok, err := ParseGCEPreempted(b, seen); ok && err != nil {
			t.Fatal("gce notice with an error")
		}
		_, _ = ParseEC2LifeCycle(b)
		_, _, _ = ParseAzureCompute(b)
	})
}
