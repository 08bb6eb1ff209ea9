package main

import (
	"time"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// fixtureNow is the reference time of the fixtures.
var fixtureNow = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// before returns the timestamp d before fixtureNow.
func before(d time.Duration) *timestamppb.Timestamp {
	return timestamppb.New(fixtureNow.Add(-d))
}

// fixtureNodes returns a fully reporting ready node and a down node that never reported.
func fixtureNodes() []*fleetv1.Node {
	const gib = 1 << 30
	return []*fleetv1.Node{
		{
			Id:              "web-1",
			Pool:            "default",
			Labels:          map[string]string{"zone": "eu-west-1a", "gpu": "a10"},
			Weight:          2,
			HourlyPrice:     0.192,
			InstanceType:    "m7i.xlarge",
			AgentVersion:    "0.3.1",
			Hostname:        "web-1.internal",
			State:           fleetv1.NodeState_NODE_STATE_READY,
			StateReason:     "agent connected",
			StateSince:      before(2 * time.Hour),
			FirstSeen:       before(50 * time.Hour),
			LastSeen:        before(3 * time.Second),
			ConnectedSince:  before(2 * time.Hour),
			ReportsReceived: 1440,
			ReportsDropped:  2,
			ReportInterval:  durationpb.New(5 * time.Second),
			PeerAddress:     "10.0.0.5:51234",
			AgentInstanceId: "7f3a",
			LastReport: &fleetv1.MetricsReport{
				Time:   before(4 * time.Second),
				Seq:    1439,
				Window: durationpb.New(5 * time.Second),
				Host: &fleetv1.HostMetrics{
					CpuPercent:              12.5,
					CpuCount:                4,
					Load1:                   0.5,
					Load5:                   0.25,
					Load15:                  0.125,
					MemoryTotalBytes:        16 * gib,
					MemoryUsedBytes:         4 * gib,
					MemoryAvailableBytes:    12 * gib,
					MemoryUsedPercent:       25,
					SwapTotalBytes:          2 * gib,
					DiskReadBytesPerSecond:  1536,
					DiskWriteBytesPerSecond: 2 << 20,
					NetworkRxBytesPerSecond: 512,
					NetworkTxBytesPerSecond: 1024,
					Uptime:                  durationpb.New(76*time.Hour + 30*time.Minute),
					Disks: []*fleetv1.DiskUsage{{
						Mountpoint: "/", Device: "/dev/nvme0n1p1", Fstype: "ext4",
						TotalBytes: 100 * gib, UsedBytes: 40 * gib, FreeBytes: 60 * gib, UsedPercent: 40,
					}},
					Collectors: []*fleetv1.CollectorStatus{
						{Name: "cpu", Success: true, Duration: durationpb.New(1200 * time.Microsecond)},
						{Name: "disk", Duration: durationpb.New(3 * time.Millisecond), Error: "statfs /data: permission denied"},
					},
				},
				App: &fleetv1.AppMetrics{
					Requests: 200, Errors: 4, ErrorRate: 0.02, InFlight: 3, RequestsPerSecond: 40,
					LatencyP50Ms: 120, LatencyP95Ms: 480.5, LatencyP99Ms: 900, TtftP95Ms: 150,
					InputTokens: 51200, OutputTokens: 8000, CacheHits: 150, CacheMisses: 50,
					CostUsd: 0.0375, QueueLength: 1,
				},
			},
		},
		{
			Id:          "gpu-7",
			Pool:        "gpu",
			State:       fleetv1.NodeState_NODE_STATE_DOWN,
			StateReason: "no report for 30s",
			StateSince:  before(5*time.Minute + 3*time.Second),
			LastSeen:    before(5*time.Minute + 33*time.Second),
		},
	}
}

// fixtureCommands returns a deploy that succeeded with fields, a restart that failed with a long
// detail, and a pending cleanup that has no outcome yet, newest first.
func fixtureCommands() []*fleetv1.CommandRecord {
	transition := func(s fleetv1.CommandState, ago time.Duration, detail string) *fleetv1.CommandTransition {
		return &fleetv1.CommandTransition{State: s, Time: before(ago), Detail: detail}
	}
	return []*fleetv1.CommandRecord{
		{
			Command: &fleetv1.Command{
				Id: "0189c3a4b5d6e7f80000000000000003", Seq: 3, Kind: fleetv1.CommandKind_COMMAND_KIND_CLEANUP,
				Params:   map[string]string{"dry_run": "true"},
				Deadline: timestamppb.New(fixtureNow.Add(9 * time.Minute)), RequestedBy: "api@10.0.0.9:4242",
			},
			NodeId: "web-1", State: fleetv1.CommandState_COMMAND_STATE_PENDING, Detail: "queued",
			History: []*fleetv1.CommandTransition{transition(fleetv1.CommandState_COMMAND_STATE_PENDING, time.Minute, "queued")},
			Created: before(time.Minute), Updated: before(time.Minute),
		},
		{
			Command: &fleetv1.Command{
				Id: "0189c3a4b5d6e7f80000000000000002", Seq: 2, Kind: fleetv1.CommandKind_COMMAND_KIND_RESTART,
				Deadline: before(50 * time.Minute), RequestedBy: "api@10.0.0.9:4242",
			},
			NodeId: "gpu-7", State: fleetv1.CommandState_COMMAND_STATE_FAILED,
			Detail:  "no restart action is configured on this agent; add it under actions in the agent config",
			History: []*fleetv1.CommandTransition{transition(fleetv1.CommandState_COMMAND_STATE_PENDING, time.Hour, "queued")},
			Created: before(time.Hour), Updated: before(time.Hour),
		},
		{
			Command: &fleetv1.Command{
				Id: "0189c3a4b5d6e7f80000000000000001", Seq: 1, Kind: fleetv1.CommandKind_COMMAND_KIND_DEPLOY,
				Params:   map[string]string{"version": "1.2.3"},
				Deadline: before(2*time.Hour - 10*time.Minute), RequestedBy: "api@10.0.0.9:4242", Reason: "release\n1.2.3",
			},
			NodeId: "web-1", State: fleetv1.CommandState_COMMAND_STATE_SUCCEEDED, Detail: "now running 1.2.3",
			Fields: map[string]string{"version": "1.2.3", "exit_status": "0"},
			History: []*fleetv1.CommandTransition{
				transition(fleetv1.CommandState_COMMAND_STATE_PENDING, 2*time.Hour, "queued"),
				transition(fleetv1.CommandState_COMMAND_STATE_SENT, 2*time.Hour-time.Second, "sent to the agent"),
				transition(fleetv1.CommandState_COMMAND_STATE_ACCEPTED, 2*time.Hour-2*time.Second, "accepted"),
				transition(fleetv1.CommandState_COMMAND_STATE_RUNNING, 2*time.Hour-2*time.Second, "running"),
				transition(fleetv1.CommandState_COMMAND_STATE_SUCCEEDED, 2*time.Hour-9*time.Second, "now running 1.2.3"),
			},
			Created: before(2 * time.Hour), Updated: before(2*time.Hour - 9*time.Second),
		},
	}
}
