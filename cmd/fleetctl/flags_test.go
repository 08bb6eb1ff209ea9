package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
	"google.golang.org/protobuf/proto"
)

func TestParseList(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    *fleetv1.ListNodesRequest
		wantErr string
	}{
		{name: "no filters", want: &fleetv1.ListNodesRequest{}},
		{
			name: "all filters",
			args: []string{"--pool", "gpu", "--state", "ready,DOWN", "--state", "Draining", "--label", "zone=eu", "-label=gpu=a10"},
			want: &fleetv1.ListNodesRequest{
				Pool: "gpu",
				States: []fleetv1.NodeState{
					fleetv1.NodeState_NODE_STATE_READY, fleetv1.NodeState_NODE_STATE_DOWN, fleetv1.NodeState_NODE_STATE_DRAINING,
				},
				Labels: map[string]string{"zone": "eu", "gpu": "a10"},
			},
		},
		{name: "label with = in value", args: []string{"--label", "expr=a=b"}, want: &fleetv1.ListNodesRequest{Labels: map[string]string{"expr": "a=b"}}},
		{name: "label with empty value", args: []string{"--label", "spot="}, want: &fleetv1.ListNodesRequest{Labels: map[string]string{"spot": ""}}},
		{name: "bad state", args: []string{"--state", "ready,redy"}, wantErr: `unknown state "redy" (valid: ready, draining, drained, disconnected, down, unhealthy)`},
		{name: "empty state", args: []string{"--state", "ready,"}, wantErr: `unknown state ""`},
		{name: "label without =", args: []string{"--label", "zone"}, wantErr: `want KEY=VALUE, got "zone"`},
		{name: "label without key", args: []string{"--label", "=eu"}, wantErr: `want KEY=VALUE, got "=eu"`},
		{name: "label twice", args: []string{"--label", "zone=eu", "--label", "zone=us"}, wantErr: `label "zone" given twice`},
		{name: "unknown flag", args: []string{"--poool", "x"}, wantErr: "flag provided but not defined: -poool"},
		{name: "argument", args: []string{"web-1"}, wantErr: `nodes list: unexpected argument "web-1"`},
		{name: "negative timeout", args: []string{"--timeout", "-1s"}, wantErr: "--timeout must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseList(&globals{output: formatTable, timeout: time.Second}, tt.args)
			checkParse(t, got, err, tt.want, tt.wantErr, listUsage)
		})
	}
}

func TestParseGet(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    *fleetv1.GetNodeRequest
		wantErr string
	}{
		{name: "id", args: []string{"web-1"}, want: &fleetv1.GetNodeRequest{Id: "web-1"}},
		{name: "flags after id", args: []string{"web-1", "-o", "json"}, want: &fleetv1.GetNodeRequest{Id: "web-1"}},
		{name: "id after --", args: []string{"--", "-odd-id"}, want: &fleetv1.GetNodeRequest{Id: "-odd-id"}},
		{name: "missing id", wantErr: "nodes get: missing node ID"},
		{name: "empty id", args: []string{""}, wantErr: "nodes get: missing node ID"},
		{name: "two ids", args: []string{"web-1", "web-2"}, wantErr: `nodes get: unexpected argument "web-2"`},
		{name: "command flag of list", args: []string{"web-1", "--pool", "x"}, wantErr: "flag provided but not defined: -pool"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseGet(&globals{output: formatTable, timeout: time.Second}, tt.args)
			checkParse(t, got, err, tt.want, tt.wantErr, getUsage)
		})
	}
}

func TestParseWatch(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    *fleetv1.WatchNodesRequest
		wantErr string
	}{
		{name: "defaults", want: &fleetv1.WatchNodesRequest{}},
		{name: "pool and reports", args: []string{"--pool", "gpu", "--reports"}, want: &fleetv1.WatchNodesRequest{Pool: "gpu", IncludeReports: true}},
		{name: "reports=false", args: []string{"--reports=false"}, want: &fleetv1.WatchNodesRequest{}},
		{name: "argument", args: []string{"gpu"}, wantErr: `nodes watch: unexpected argument "gpu"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseWatch(&globals{output: formatTable, timeout: time.Second}, tt.args)
			checkParse(t, got, err, tt.want, tt.wantErr, watchUsage)
		})
	}
}

// checkParse compares a parse result with the wanted request or a usage error for usage whose
// message contains wantErr.
func checkParse(t *testing.T, got proto.Message, err error, want proto.Message, wantErr, usage string) {
	t.Helper()
	if wantErr != "" {
		var uerr *usageError
		if !errors.As(err, &uerr) || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("err = %v, want usage error containing %q", err, wantErr)
		}
		if uerr.usage != usage {
			t.Errorf("usage error carries the wrong usage text:\n%s", uerr.usage)
		}
		return
	}
	if err != nil {
		t.Fatalf("err = %v", err)
	}
	if !proto.Equal(got, want) {
		t.Errorf("request = %v, want %v", got, want)
	}
}

// TestGlobalFlags checks the defaults and that global flags are accepted before the command
// and among its flags, a later value winning.
func TestGlobalFlags(t *testing.T) {
	tests := []struct {
		name string
		env  string
		args []string
		want globals
	}{
		{name: "defaults", args: []string{"nodes", "list"}, want: globals{addr: defaultAddr, output: formatTable, timeout: 10 * time.Second}},
		{name: "env addr", env: "cp:7070", args: []string{"nodes", "list"}, want: globals{addr: "cp:7070", output: formatTable, timeout: 10 * time.Second}},
		{
			name: "before command",
			env:  "cp:7070",
			args: []string{"--addr", "x:1", "-o", "json", "--timeout", "3s", "nodes", "list"},
			want: globals{addr: "x:1", output: formatJSON, timeout: 3 * time.Second},
		},
		{
			name: "after command",
			args: []string{"nodes", "watch", "--output=json", "-timeout=0", "-addr=y:2"},
			want: globals{addr: "y:2", output: formatJSON, timeout: 0},
		},
		{
			name: "everywhere",
			args: []string{"-o", "json", "nodes", "-o", "table", "get", "web-1", "-o", "json", "--addr", "z:3"},
			want: globals{addr: "z:3", output: formatJSON, timeout: 10 * time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("DSPYFLEET_ADDR", tt.env)
			g := newGlobals()
			if _, err := parse(g, tt.args); err != nil {
				t.Fatal(err)
			}
			if *g != tt.want {
				t.Errorf("globals = %+v, want %+v", *g, tt.want)
			}
		})
	}
}

// TestUsage checks help and command line mistakes through run: help goes to stdout with exit
// code 0, mistakes print the error and the usage to stderr with exit code 2.
func TestUsage(t *testing.T) {
	tests := []struct {
		args      []string
		wantCode  int
		wantUsage string // the usage text printed
		wantErr   string // the first line on stderr
	}{
		{args: []string{"help"}, wantUsage: usageText},
		{args: []string{"-h"}, wantUsage: usageText},
		{args: []string{"--help"}, wantUsage: usageText},
		{args: []string{"help", "nodes"}, wantUsage: nodesUsage},
		{args: []string{"nodes", "-h"}, wantUsage: nodesUsage},
		{args: []string{"help", "nodes", "list"}, wantUsage: listUsage},
		{args: []string{"nodes", "list", "-h"}, wantUsage: listUsage},
		{args: []string{"nodes", "get", "-h"}, wantUsage: getUsage},
		{args: []string{"nodes", "get", "web-1", "--help"}, wantUsage: getUsage},
		{args: []string{"nodes", "watch", "-help"}, wantUsage: watchUsage},
		{args: nil, wantCode: exitUsage, wantUsage: usageText, wantErr: "fleetctl: missing command"},
		{args: []string{"node"}, wantCode: exitUsage, wantUsage: usageText, wantErr: `fleetctl: unknown command "node"`},
		{args: []string{"--bogus", "nodes"}, wantCode: exitUsage, wantUsage: usageText, wantErr: "fleetctl: flag provided but not defined: -bogus"},
		{args: []string{"help", "nodes", "ls"}, wantCode: exitUsage, wantUsage: usageText, wantErr: `fleetctl: help: unknown command "nodes ls"`},
		{args: []string{"nodes"}, wantCode: exitUsage, wantUsage: nodesUsage, wantErr: "fleetctl: nodes: missing command"},
		{args: []string{"nodes", "ls"}, wantCode: exitUsage, wantUsage: nodesUsage, wantErr: `fleetctl: nodes: unknown command "ls"`},
		{args: []string{"nodes", "list", "--bogus"}, wantCode: exitUsage, wantUsage: listUsage, wantErr: "fleetctl: flag provided but not defined: -bogus"},
		{args: []string{"nodes", "list", "-o", "xml"}, wantCode: exitUsage, wantUsage: listUsage, wantErr: `fleetctl: invalid value "xml" for flag -o: must be table, wide, json or yaml`},
		{args: []string{"nodes", "get"}, wantCode: exitUsage, wantUsage: getUsage, wantErr: "fleetctl: nodes get: missing node ID"},
		{args: []string{"nodes", "watch", "--reports=maybe"}, wantCode: exitUsage, wantUsage: watchUsage, wantErr: `fleetctl: invalid boolean value "maybe" for -reports: parse error`},
		{args: []string{"help", "nodes", "drain"}, wantUsage: drainUsage},
		{args: []string{"nodes", "undrain", "-h"}, wantUsage: undrainUsage},
		{args: []string{"help", "cmd"}, wantUsage: cmdUsage},
		{args: []string{"cmd", "--help"}, wantUsage: cmdUsage},
		{args: []string{"help", "cmd", "send"}, wantUsage: sendUsage},
		{args: []string{"cmd", "send", "web-1", "deploy", "-h"}, wantUsage: sendUsage},
		{args: []string{"cmd", "list", "-h"}, wantUsage: cmdListUsage},
		{args: []string{"cmd", "get", "-h"}, wantUsage: cmdGetUsage},
		{args: []string{"help", "cmd", "cancel"}, wantUsage: cancelUsage},
		{args: []string{"cmd", "watch", "-h"}, wantUsage: cmdWatchUsage},
		{args: []string{"nodes", "drain"}, wantCode: exitUsage, wantUsage: drainUsage, wantErr: "fleetctl: nodes drain: missing node ID"},
		{args: []string{"nodes", "drain", "web-1", "--deadline", "-1s"}, wantCode: exitUsage, wantUsage: drainUsage, wantErr: `fleetctl: invalid value "-1s" for flag -deadline: must be positive`},
		{args: []string{"nodes", "undrain", "web-1", "web-2"}, wantCode: exitUsage, wantUsage: undrainUsage, wantErr: `fleetctl: nodes undrain: unexpected argument "web-2"`},
		{args: []string{"cmd"}, wantCode: exitUsage, wantUsage: cmdUsage, wantErr: "fleetctl: cmd: missing command"},
		{args: []string{"cmd", "run"}, wantCode: exitUsage, wantUsage: cmdUsage, wantErr: `fleetctl: cmd: unknown command "run"`},
		{args: []string{"cmd", "send", "web-1", "scale", "--instances", "-1"}, wantCode: exitUsage, wantUsage: sendUsage, wantErr: `fleetctl: invalid value "-1" for flag -instances: must be between 0 and 1024`},
		{args: []string{"cmd", "send", "web-1", "deploy", "--wait"}, wantCode: exitUsage, wantUsage: sendUsage, wantErr: "fleetctl: cmd send: deploy needs --version"},
		{args: []string{"cmd", "send", "web-1", "reboot"}, wantCode: exitUsage, wantUsage: sendUsage, wantErr: `fleetctl: cmd send: unknown command kind "reboot" (valid: drain, undrain, restart, cleanup, backup, deploy, scale, custom)`},
		{args: []string{"cmd", "list", "--state", "done"}, wantCode: exitUsage, wantUsage: cmdListUsage, wantErr: `fleetctl: invalid value "done" for flag -state: unknown command state "done" (valid: pending, sent, accepted, running, succeeded, failed, expired, cancelled, held)`},
		{args: []string{"cmd", "get"}, wantCode: exitUsage, wantUsage: cmdGetUsage, wantErr: "fleetctl: cmd get: missing command ID"},
		{args: []string{"cmd", "cancel"}, wantCode: exitUsage, wantUsage: cancelUsage, wantErr: "fleetctl: cmd cancel: missing command ID"},
		{args: []string{"cmd", "watch", "web-1"}, wantCode: exitUsage, wantUsage: cmdWatchUsage, wantErr: `fleetctl: cmd watch: unexpected argument "web-1"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d", code, tt.wantCode)
			}
			if tt.wantCode == exitOK {
				if stdout.String() != tt.wantUsage || stderr.Len() != 0 {
					t.Errorf("stdout:\n%s\nstderr:\n%s\nwant the usage on stdout only:\n%s", &stdout, &stderr, tt.wantUsage)
				}
				return
			}
			if want := tt.wantErr + "\n\n" + shortUsage(tt.wantUsage); stderr.String() != want || stdout.Len() != 0 {
				t.Errorf("stdout:\n%s\nstderr:\n%s\nwant on stderr only:\n%s", &stdout, &stderr, want)
			}
		})
	}
}
