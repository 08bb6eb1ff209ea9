package main

import (
	"testing"
	"time"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
	"google.golang.org/protobuf/types/known/durationpb"
)

func TestParseSend(t *testing.T) {
	const (
		deploy  = fleetv1.CommandKind_COMMAND_KIND_DEPLOY
		scale   = fleetv1.CommandKind_COMMAND_KIND_SCALE
		cleanup = fleetv1.CommandKind_COMMAND_KIND_CLEANUP
		drain   = fleetv1.CommandKind_COMMAND_KIND_DRAIN
	)
	tests := []struct {
		name     string
		args     []string
		want     *fleetv1.SendCommandRequest
		wantWait bool
		wantErr  string
	}{
		{
			name: "deploy",
			args: []string{"web-1", "deploy", "--version", "1.2.3"},
			want: &fleetv1.SendCommandRequest{NodeId: "web-1", Kind: deploy, Params: map[string]string{"version": "1.2.3"}},
		},
		{
			name: "flags first, kind in upper case",
			args: []string{"--version=v2+build.7", "-o", "json", "web-1", "DEPLOY"},
			want: &fleetv1.SendCommandRequest{NodeId: "web-1", Kind: deploy, Params: map[string]string{"version": "v2+build.7"}},
		},
		{
			name:     "scale with every common flag",
			args:     []string{"web-1", "scale", "--instances", "3", "--timeout", "30m", "--reason", "peak", "--wait"},
			want:     &fleetv1.SendCommandRequest{NodeId: "web-1", Kind: scale, Params: map[string]string{"instances": "3"}, Timeout: durationpb.New(30 * time.Minute), Reason: "peak"},
			wantWait: true,
		},
		{
			name: "scale to zero",
			args: []string{"web-1", "scale", "--instances=0"},
			want: &fleetv1.SendCommandRequest{NodeId: "web-1", Kind: scale, Params: map[string]string{"instances": "0"}},
		},
		{
			name: "cleanup dry run",
			args: []string{"web-1", "cleanup", "--dry-run"},
			want: &fleetv1.SendCommandRequest{NodeId: "web-1", Kind: cleanup, Params: map[string]string{"dry_run": "true"}},
		},
		{
			name: "cleanup dry run off",
			args: []string{"web-1", "cleanup", "--dry-run=false"},
			want: &fleetv1.SendCommandRequest{NodeId: "web-1", Kind: cleanup, Params: map[string]string{"dry_run": "false"}},
		},
		{
			name: "cleanup",
			args: []string{"web-1", "cleanup"},
			want: &fleetv1.SendCommandRequest{NodeId: "web-1", Kind: cleanup},
		},
		{
			name: "now overrides the maintenance window",
			args: []string{"web-1", "cleanup", "--now"},
			want: &fleetv1.SendCommandRequest{NodeId: "web-1", Kind: cleanup, OverrideWindow: true},
		},
		{
			name: "drain with deadline",
			args: []string{"web-1", "drain", "--deadline", "90s"},
			want: &fleetv1.SendCommandRequest{NodeId: "web-1", Kind: drain, Params: map[string]string{"timeout": "1m30s"}},
		},
		{name: "restart", args: []string{"web-1", "restart"}, want: &fleetv1.SendCommandRequest{NodeId: "web-1", Kind: fleetv1.CommandKind_COMMAND_KIND_RESTART}},
		{name: "backup", args: []string{"web-1", "backup"}, want: &fleetv1.SendCommandRequest{NodeId: "web-1", Kind: fleetv1.CommandKind_COMMAND_KIND_BACKUP}},
		{name: "undrain", args: []string{"web-1", "undrain"}, want: &fleetv1.SendCommandRequest{NodeId: "web-1", Kind: fleetv1.CommandKind_COMMAND_KIND_UNDRAIN}},
		{name: "missing node", wantErr: "cmd send: missing node ID"},
		{name: "missing kind", args: []string{"web-1"}, wantErr: "cmd send: missing command kind (drain, undrain, restart, cleanup, backup, deploy, scale, custom)"},
		{name: "unknown kind", args: []string{"web-1", "reboot"}, wantErr: `cmd send: unknown command kind "reboot" (valid: drain, undrain, restart, cleanup, backup, deploy, scale, custom)`},
		{name: "extra argument", args: []string{"web-1", "restart", "now"}, wantErr: `cmd send: unexpected argument "now"`},
		{name: "deploy without version", args: []string{"web-1", "deploy"}, wantErr: "cmd send: deploy needs --version"},
		{name: "scale without instances", args: []string{"web-1", "scale"}, wantErr: "cmd send: scale needs --instances"},
		{name: "version on restart", args: []string{"web-1", "restart", "--version", "1"}, wantErr: "cmd send: --version applies only to deploy, not restart"},
		{name: "deadline on deploy", args: []string{"web-1", "deploy", "--version", "1", "--deadline", "1m"}, wantErr: "cmd send: --deadline applies only to drain, not deploy"},
		{name: "dry run on backup", args: []string{"web-1", "backup", "--dry-run"}, wantErr: "cmd send: --dry-run applies only to cleanup, not backup"},
		{name: "negative instances", args: []string{"web-1", "scale", "--instances", "-1"}, wantErr: `invalid value "-1" for flag -instances: must be between 0 and 1024`},
		{name: "too many instances", args: []string{"web-1", "scale", "--instances", "1025"}, wantErr: `invalid value "1025" for flag -instances: must be between 0 and 1024`},
		{name: "instances not a number", args: []string{"web-1", "scale", "--instances", "two"}, wantErr: `invalid value "two" for flag -instances: not a whole number`},
		{name: "bad version", args: []string{"web-1", "deploy", "--version", "1.0;rm"}, wantErr: `invalid value "1.0;rm" for flag -version: version "1.0;rm" must be`},
		{name: "zero deadline", args: []string{"web-1", "drain", "--deadline", "0s"}, wantErr: `invalid value "0s" for flag -deadline: must be positive`},
		{name: "negative timeout", args: []string{"web-1", "restart", "--timeout", "-1m"}, wantErr: `invalid value "-1m" for flag -timeout: must be positive`},
		{name: "timeout not a duration", args: []string{"web-1", "restart", "--timeout", "10"}, wantErr: `invalid value "10" for flag -timeout: not a duration like 30s, 5m or 1h`},
		{name: "bad dry run", args: []string{"web-1", "cleanup", "--dry-run=maybe"}, wantErr: `invalid boolean value "maybe" for -dry-run: must be true or false`},
		{name: "unknown flag", args: []string{"web-1", "restart", "--force"}, wantErr: "flag provided but not defined: -force"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSend(&globals{output: formatTable, timeout: time.Second}, tt.args)
			var req *fleetv1.SendCommandRequest
			if got != nil {
				req = got.req
				if got.wait != tt.wantWait {
					t.Errorf("wait = %v, want %v", got.wait, tt.wantWait)
				}
			}
			checkParse(t, req, err, tt.want, tt.wantErr, sendUsage)
		})
	}
}

// TestSendTimeouts checks that --timeout among the flags of "cmd send" is the command's and
// that the global one goes before "cmd".
func TestSendTimeouts(t *testing.T) {
	g := newGlobals()
	cmd, err := parse(g, []string{"--timeout", "3s", "cmd", "send", "web-1", "restart", "--timeout", "30m"})
	if err != nil || cmd == nil {
		t.Fatal(err)
	}
	if g.timeout != 3*time.Second {
		t.Errorf("request timeout = %v, want 3s", g.timeout)
	}
	g = newGlobals()
	if _, err := parse(g, []string{"cmd", "--timeout", "4s", "send", "web-1", "restart"}); err != nil {
		t.Fatal(err)
	}
	if g.timeout != 4*time.Second {
		t.Errorf("request timeout = %v, want 4s", g.timeout)
	}
}

func TestParseCmdList(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    *fleetv1.ListCommandsRequest
		wantErr string
	}{
		{name: "no filters", want: &fleetv1.ListCommandsRequest{}},
		{
			name: "all filters",
			args: []string{"--node", "web-1", "--state", "Failed,expired", "--state", "cancelled", "--kind", "deploy,SCALE", "--limit", "5"},
			want: &fleetv1.ListCommandsRequest{
				NodeId: "web-1",
				States: []fleetv1.CommandState{
					fleetv1.CommandState_COMMAND_STATE_FAILED, fleetv1.CommandState_COMMAND_STATE_EXPIRED, fleetv1.CommandState_COMMAND_STATE_CANCELLED,
				},
				Kinds: []fleetv1.CommandKind{fleetv1.CommandKind_COMMAND_KIND_DEPLOY, fleetv1.CommandKind_COMMAND_KIND_SCALE},
				Limit: 5,
			},
		},
		{
			name:    "bad state",
			args:    []string{"--state", "done"},
			wantErr: `unknown command state "done" (valid: pending, sent, accepted, running, succeeded, failed, expired, cancelled, held)`,
		},
		{name: "node state is not a command state", args: []string{"--state", "ready"}, wantErr: `unknown command state "ready"`},
		{
			name:    "bad kind",
			args:    []string{"--kind", "deploy,reboot"},
			wantErr: `unknown command kind "reboot" (valid: drain, undrain, restart, cleanup, backup, deploy, scale, custom)`,
		},
		{name: "negative limit", args: []string{"--limit", "-1"}, wantErr: `invalid value "-1" for flag -limit: must be a whole number, 0 or more`},
		{name: "huge limit", args: []string{"--limit", "4294967296"}, wantErr: `invalid value "4294967296" for flag -limit`},
		{name: "argument", args: []string{"web-1"}, wantErr: `cmd list: unexpected argument "web-1"`},
		{name: "flag of nodes list", args: []string{"--pool", "gpu"}, wantErr: "flag provided but not defined: -pool"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCmdList(&globals{output: formatTable, timeout: time.Second}, tt.args)
			checkParse(t, got, err, tt.want, tt.wantErr, cmdListUsage)
		})
	}
}

func TestParseCmdGet(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    *fleetv1.GetCommandRequest
		wantErr string
	}{
		{name: "id", args: []string{"0189c3a4"}, want: &fleetv1.GetCommandRequest{Id: "0189c3a4"}},
		{name: "flags after id", args: []string{"0189c3a4", "-o", "json"}, want: &fleetv1.GetCommandRequest{Id: "0189c3a4"}},
		{name: "missing id", wantErr: "cmd get: missing command ID"},
		{name: "two ids", args: []string{"a", "b"}, wantErr: `cmd get: unexpected argument "b"`},
		{name: "reason is not a flag of get", args: []string{"a", "--reason", "x"}, wantErr: "flag provided but not defined: -reason"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCmdGet(&globals{output: formatTable, timeout: time.Second}, tt.args)
			checkParse(t, got, err, tt.want, tt.wantErr, cmdGetUsage)
		})
	}
}

func TestParseCancel(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    *fleetv1.CancelCommandRequest
		wantErr string
	}{
		{name: "id", args: []string{"0189c3a4"}, want: &fleetv1.CancelCommandRequest{Id: "0189c3a4"}},
		{name: "reason", args: []string{"0189c3a4", "--reason", "wrong node"}, want: &fleetv1.CancelCommandRequest{Id: "0189c3a4", Reason: "wrong node"}},
		{name: "missing id", args: []string{"--reason", "x"}, wantErr: "cmd cancel: missing command ID"},
		{name: "two ids", args: []string{"a", "b"}, wantErr: `cmd cancel: unexpected argument "b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCancel(&globals{output: formatTable, timeout: time.Second}, tt.args)
			checkParse(t, got, err, tt.want, tt.wantErr, cancelUsage)
		})
	}
}

func TestParseCmdWatch(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    *fleetv1.WatchCommandsRequest
		wantErr string
	}{
		{name: "all nodes", want: &fleetv1.WatchCommandsRequest{}},
		{name: "one node", args: []string{"--node", "web-1", "-o", "json"}, want: &fleetv1.WatchCommandsRequest{NodeId: "web-1"}},
		{name: "argument", args: []string{"web-1"}, wantErr: `cmd watch: unexpected argument "web-1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCmdWatch(&globals{output: formatTable, timeout: time.Second}, tt.args)
			checkParse(t, got, err, tt.want, tt.wantErr, cmdWatchUsage)
		})
	}
}

func TestParseDrain(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    *fleetv1.DrainNodeRequest
		wantErr string
	}{
		{name: "defaults", args: []string{"web-1"}, want: &fleetv1.DrainNodeRequest{Id: "web-1"}},
		{
			name: "deadline and reason",
			args: []string{"web-1", "--deadline", "2m", "--reason", "kernel update"},
			want: &fleetv1.DrainNodeRequest{Id: "web-1", Timeout: durationpb.New(2 * time.Minute), Reason: "kernel update"},
		},
		{name: "missing id", wantErr: "nodes drain: missing node ID"},
		{name: "two ids", args: []string{"a", "b"}, wantErr: `nodes drain: unexpected argument "b"`},
		{name: "negative deadline", args: []string{"web-1", "--deadline", "-5m"}, wantErr: `invalid value "-5m" for flag -deadline: must be positive`},
		{name: "deadline not a duration", args: []string{"web-1", "--deadline", "soon"}, wantErr: `invalid value "soon" for flag -deadline: not a duration`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseDrain(&globals{output: formatTable, timeout: time.Second}, tt.args)
			checkParse(t, got, err, tt.want, tt.wantErr, drainUsage)
		})
	}
}

func TestParseUndrain(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    *fleetv1.UndrainNodeRequest
		wantErr string
	}{
		{name: "id", args: []string{"web-1"}, want: &fleetv1.UndrainNodeRequest{Id: "web-1"}},
		{name: "reason", args: []string{"--reason", "fixed", "web-1"}, want: &fleetv1.UndrainNodeRequest{Id: "web-1", Reason: "fixed"}},
		{name: "missing id", wantErr: "nodes undrain: missing node ID"},
		{name: "deadline is not a flag of undrain", args: []string{"web-1", "--deadline", "1m"}, wantErr: "flag provided but not defined: -deadline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseUndrain(&globals{output: formatTable, timeout: time.Second}, tt.args)
			checkParse(t, got, err, tt.want, tt.wantErr, undrainUsage)
		})
	}
}
