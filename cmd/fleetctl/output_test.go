package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

func TestWriteNodeTable(t *testing.T) {
	tests := []struct {
		name  string
		nodes []*fleetv1.Node
		want  string
	}{
		{
			name: "empty",
			want: "ID   POOL   STATE   CPU%   MEM%   LOAD1   LAST SEEN   LABELS\n",
		},
		{
			name:  "reporting and down",
			nodes: fixtureNodes(),
			want: `ID      POOL      STATE   CPU%   MEM%   LOAD1   LAST SEEN   LABELS
web-1   default   ready   12.5   25.0   0.50    3s ago      gpu=a10,zone=eu-west-1a
gpu-7   gpu       down    -      -      -       5m33s ago   -
`,
		},
		{
			name:  "never seen, unknown pool and state",
			nodes: []*fleetv1.Node{{Id: "new"}},
			want: `ID    POOL   STATE         CPU%   MEM%   LOAD1   LAST SEEN   LABELS
new   -      unspecified   -      -      -       -           -
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			if err := writeNodeTable(&b, tt.nodes, fixtureNow, false); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", b.String(), tt.want)
			}
		})
	}
}

func TestWriteNode(t *testing.T) {
	tests := []struct {
		name string
		node *fleetv1.Node
		want string
	}{
		{
			name: "reporting",
			node: fixtureNodes()[0],
			want: `ID:              web-1
Hostname:        web-1.internal
Pool:            default
State:           ready
Reason:          agent connected
State since:     2026-03-01T08:00:00Z (2h0m ago)
Labels:          gpu=a10,zone=eu-west-1a
Weight:          2
Hourly price:    $0.192
Instance type:   m7i.xlarge
Agent version:   0.3.1
Agent instance:  7f3a
Peer:            10.0.0.5:51234
First seen:      2026-02-27T08:00:00Z (2d2h ago)
Connected since: 2026-03-01T08:00:00Z (2h0m ago)
Last seen:       2026-03-01T09:59:57Z (3s ago)
Report interval: 5s
Reports:         1440 received, 2 dropped
Last report:     #1439 at 2026-03-01T09:59:56Z (4s ago), window 5s
  CPU:           12.5% of 4 CPUs
  Load:          0.50 0.25 0.12
  Memory:        4.0 GiB of 16.0 GiB used (25.0%), 12.0 GiB available
  Swap:          0 B of 2.0 GiB used
  Disk /:        /dev/nvme0n1p1 ext4, 40.0 GiB of 100.0 GiB used (40.0%), 60.0 GiB free
  Disk I/O:      1.5 KiB/s read, 2.0 MiB/s write
  Network:       512 B/s rx, 1.0 KiB/s tx
  Uptime:        3d4h
  Collectors:    cpu ok (1.2ms); disk failed (3ms): statfs /data: permission denied
  Requests:      200 (4 errors, 2.0%), 40.0/s, 3 in flight, 1 queued
  Latency:       p50 120.0ms, p95 480.5ms, p99 900.0ms, TTFT p95 150.0ms
  Tokens:        51200 in, 8000 out
  Cache:         150 hits, 50 misses
  Model cost:    $0.0375
`,
		},
		{
			name: "down, never reported",
			node: fixtureNodes()[1],
			want: `ID:              gpu-7
Hostname:        -
Pool:            gpu
State:           down
Reason:          no report for 30s
State since:     2026-03-01T09:54:57Z (5m3s ago)
Labels:          -
Weight:          0
Hourly price:    $0
Instance type:   -
Agent version:   -
Agent instance:  -
Peer:            -
First seen:      -
Connected since: -
Last seen:       2026-03-01T09:54:27Z (5m33s ago)
Report interval: -
Reports:         0 received, 0 dropped
Last report:     none
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			if err := writeNode(&b, tt.node, fixtureNow); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", b.String(), tt.want)
			}
		})
	}
}

// TestWriteNodeTimeZone checks that times are shown in the location of now.
func TestWriteNodeTimeZone(t *testing.T) {
	var b strings.Builder
	if err := writeNode(&b, fixtureNodes()[1], fixtureNow.In(time.FixedZone("CET", 3600))); err != nil {
		t.Fatal(err)
	}
	if want := "Last seen:       2026-03-01T10:54:27+01:00 (5m33s ago)\n"; !strings.Contains(b.String(), want) {
		t.Errorf("got:\n%s\nwant a line %q", b.String(), want)
	}
}

func TestWriteEvent(t *testing.T) {
	nodes := fixtureNodes()
	tests := []struct {
		name string
		ev   *fleetv1.WatchNodesResponse
		want string
	}{
		{
			name: "initial",
			ev:   &fleetv1.WatchNodesResponse{Type: fleetv1.NodeEventType_NODE_EVENT_TYPE_INITIAL, Node: nodes[0]},
			want: "2026-03-01T10:00:00Z  initial        web-1  ready\n",
		},
		{
			name: "state changed",
			ev: &fleetv1.WatchNodesResponse{
				Type: fleetv1.NodeEventType_NODE_EVENT_TYPE_STATE_CHANGED, Node: nodes[1],
				PreviousState: fleetv1.NodeState_NODE_STATE_READY,
			},
			want: "2026-03-01T10:00:00Z  state_changed  gpu-7  ready->down\n",
		},
		{
			name: "report",
			ev:   &fleetv1.WatchNodesResponse{Type: fleetv1.NodeEventType_NODE_EVENT_TYPE_REPORT, Node: nodes[0]},
			want: "2026-03-01T10:00:00Z  report         web-1  ready  cpu=12.5% mem=25.0% load1=0.50\n",
		},
		{
			name: "report without host metrics",
			ev:   &fleetv1.WatchNodesResponse{Type: fleetv1.NodeEventType_NODE_EVENT_TYPE_REPORT, Node: nodes[1]},
			want: "2026-03-01T10:00:00Z  report         gpu-7  down\n",
		},
		{
			name: "updated does not print figures",
			ev:   &fleetv1.WatchNodesResponse{Type: fleetv1.NodeEventType_NODE_EVENT_TYPE_UPDATED, Node: nodes[0]},
			want: "2026-03-01T10:00:00Z  updated        web-1  ready\n",
		},
		{
			name: "synced",
			ev:   &fleetv1.WatchNodesResponse{Type: fleetv1.NodeEventType_NODE_EVENT_TYPE_SYNCED},
			want: "2026-03-01T10:00:00Z  synced\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			if err := writeEvent(&b, tt.ev, fixtureNow); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("got  %q\nwant %q", b.String(), tt.want)
			}
		})
	}
}

// TestWriteJSON checks that both encodings are protojson with the API's JSON field names (as
// grpcurl prints them) and read back to the same message, and that the compact one is one line.
func TestWriteJSON(t *testing.T) {
	msg := &fleetv1.ListNodesResponse{Nodes: fixtureNodes()}
	tests := []struct {
		name      string
		opts      protojson.MarshalOptions
		wantLines int
	}{
		{name: "indented", opts: jsonIndented},
		{name: "compact", opts: jsonCompact, wantLines: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := writeJSON(&b, tt.opts, msg); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			if !strings.HasSuffix(out, "}\n") {
				t.Errorf("output does not end in a newline: %q", out)
			}
			if lines := strings.Count(out, "\n"); tt.wantLines > 0 && lines != tt.wantLines {
				t.Errorf("output has %d lines, want %d", lines, tt.wantLines)
			}
			for _, name := range []string{`"lastSeen"`, `"hourlyPrice"`, `"reportsReceived"`, `"NODE_STATE_READY"`} {
				if !strings.Contains(out, name) {
					t.Errorf("output lacks %s:\n%s", name, out)
				}
			}
			got := &fleetv1.ListNodesResponse{}
			if err := protojson.Unmarshal(b.Bytes(), got); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, msg) {
				t.Errorf("read back %v, want %v", got, msg)
			}
		})
	}
}

func TestAge(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-5 * time.Second, "0s"},
		{0, "0s"},
		{999 * time.Millisecond, "0s"},
		{59 * time.Second, "59s"},
		{60 * time.Second, "1m0s"},
		{5*time.Minute + 3*time.Second, "5m3s"},
		{time.Hour, "1h0m"},
		{23*time.Hour + 59*time.Minute + 59*time.Second, "23h59m"},
		{24 * time.Hour, "1d0h"},
		{400*24*time.Hour + 5*time.Hour, "400d5h"},
	}
	for _, tt := range tests {
		if got := age(tt.d); got != tt.want {
			t.Errorf("age(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestBytesIEC(t *testing.T) {
	tests := []struct {
		n    uint64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{1536, "1.5 KiB"},
		{5 << 20, "5.0 MiB"},
		{3 << 30, "3.0 GiB"},
		{1 << 62, "4.0 EiB"},
		{1<<64 - 1, "16.0 EiB"},
	}
	for _, tt := range tests {
		if got := bytesIEC(tt.n); got != tt.want {
			t.Errorf("bytesIEC(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}
