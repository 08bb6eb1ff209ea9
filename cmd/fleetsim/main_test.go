package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"slices"
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
	for _, want := range []string{"fleetsim: starting 5 agents", "fleetsim: 5 agents ready after", "sending 1s of diurnal traffic", "fleetsim: traffic done; gathering the report"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("progress on stderr lacks %q:\n%s", want, errOut.String())
		}
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

// TestREADMESampleHasTheReportsSections: README.md's sample output of fleetsim has the sections
// a report prints, in the same order.
func TestREADMESampleHasTheReportsSections(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"--agents", "3", "--duration", "1s", "--interval", "200ms"}, &out, &errOut); err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sample, ok := strings.Cut(string(raw), "`go run ./cmd/fleetsim` (50 agents, a minute of the spike pattern, seed 1) prints:\n\n```\n")
	if !ok {
		t.Fatal("README.md has no sample output of fleetsim")
	}
	sample, _, _ = strings.Cut(sample, "```\n")
	sections := func(text string) []string {
		var out []string
		for _, l := range strings.Split(text, "\n") {
			if f := strings.Fields(l); len(f) > 0 && !strings.HasPrefix(l, " ") && !strings.HasPrefix(l, "dspyfleet simulation:") {
				out = append(out, f[0])
			}
		}
		return out
	}
	if got, want := sections(sample), sections(out.String()); !slices.Equal(got, want) {
		t.Fatalf("README.md's sample has sections %v, a report prints %v", got, want)
	}
}
