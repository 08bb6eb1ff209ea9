package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSimulateOffline runs simulate against an address where nothing listens: it must not need
// the control plane, and the same seed must print the same figures.
func TestSimulateOffline(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join("testdata", "scaling-policy.yaml")
	csv := filepath.Join(dir, "trace.csv")
	if err := os.WriteFile(csv, []byte("seconds,requests_per_second\n0,20\n1800,200\n3600,20\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var outs []string
	for range 2 {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"--addr", "127.0.0.1:1", "simulate", "--trace", "spike", "--policy", pol, "--seed", "7"}, &stdout, &stderr)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		outs = append(outs, stdout.String())
	}
	if outs[0] != outs[1] {
		t.Fatalf("same seed, different output:\n%s\n%s", outs[0], outs[1])
	}
	for _, want := range []string{"trace spike", "static", "reactive+predictive", "NODE-HOURS", "forecast never on"} {
		if !strings.Contains(outs[0], want) {
			t.Errorf("output lacks %q:\n%s", want, outs[0])
		}
	}

	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"simulate", "-o", "json", "--trace", csv, "--policy", pol}, &stdout, &stderr); code != exitOK {
		t.Fatalf("csv trace: exit %d: %s", code, stderr.String())
	}
	var rows []struct {
		Mode      string  `json:"mode"`
		NodeHours float64 `json:"node_hours"`
		Actions   int     `json:"scaling_actions"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rows); err != nil || len(rows) != 3 || rows[1].Actions == 0 || rows[1].NodeHours >= rows[0].NodeHours {
		t.Fatalf("json rows %+v (%v):\n%s", rows, err, stdout.String())
	}
}

func TestSimulateBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"max": 3, "min": 5}`), 0o600); err != nil {
		t.Fatal(err)
	}
	badCSV := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(badCSV, []byte("0,1\n0,2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.json")
	if err := os.WriteFile(good, []byte(`{"max": 3}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"simulate", "--policy", good}, exitUsage, "--trace is required"},
		{[]string{"simulate", "--trace", "steady"}, exitUsage, "--policy is required"},
		{[]string{"simulate", "--trace", "weekly", "--policy", good}, exitUsage, `"weekly" is not one of`},
		{[]string{"simulate", "--trace", "steady", "--policy", bad}, exitError, "min: 5 is greater than max 3"},
		{[]string{"simulate", "--trace", badCSV, "--policy", good}, exitError, "line 2"},
		{[]string{"simulate", "--trace", "steady", "--policy", filepath.Join(dir, "none.json")}, exitError, "none.json: open"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), tt.args, &stdout, &stderr); code != tt.code || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tt.args, code, stderr.String(), tt.code, tt.want)
		}
	}
}
