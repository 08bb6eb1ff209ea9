package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/dspyfleet/dspyfleet/internal/sim"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestRunInProcess runs fleetsim end to end with its own control plane and reads the JSON report.
func TestRunInProcess(t *testing.T) {
	var out, errOut bytes.Buffer
	args := []string{"--agents", "5", "--duration", "1s", "--interval", "200ms", "--pattern", "diurnal", "-o", "json"}
	if err := run(context.Background(), args, &out, &errOut); err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	var r sim.Report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, out.String())
	}
	if r.Agents != 5 || r.Nodes.Ready != 5 || r.Requests.Total == 0 || r.Requests.Total != r.Requests.Successes+r.Requests.Errors {
		t.Errorf("report %+v: want 5 ready agents and requests that add up", r)
	}
	if r.Scaling == nil {
		t.Error("the report has no scaling section: the pool was given no scaling policy, so there is nothing to compare")
	}
}

// TestParseRefusesBadFlags names every bad flag at once.
func TestParseRefusesBadFlags(t *testing.T) {
	var errOut bytes.Buffer
	_, err := parse([]string{"--agents", "0", "--pattern", "bursty", "--interval", "1ms", "-o", "yaml", "--max-picks", "0", "--scale-target-rps", "-2"}, &errOut)
	if err == nil {
		t.Fatal("parse accepted bad flags")
	}
	for _, flag := range []string{"--agents", "--pattern", "--interval", "-o", "--max-picks", "--scale-target-rps"} {
		if !strings.Contains(err.Error(), flag) {
			t.Errorf("error %q does not name %s", err, flag)
		}
	}
}

// TestSpotCompare runs "fleetsim spot" on a short trace and reads its three modes.
func TestSpotCompare(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"spot", "--pattern", "spike", "--preemptions-per-hour", "0.5", "-o", "json"}, &out, &errOut); err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	var res []struct {
		Mode        string
		CostUSD     float64
		Preemptions int
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	if len(res) != 3 || res[0].Mode != "all on-demand" || res[0].Preemptions != 0 || res[1].Preemptions == 0 || res[1].CostUSD >= res[0].CostUSD {
		t.Fatalf("spot comparison %+v", res)
	}
	out.Reset()
	if err := run(context.Background(), []string{"spot", "--spot-fraction", "2"}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "spot_fraction") {
		t.Fatalf("--spot-fraction 2: %v, want an error naming spot_fraction", err)
	}
}
