package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// waitWindow follows a maintenance window through WatchMaintenance until done says so.
func waitWindow(t *testing.T, mc fleetv1.MaintenanceServiceClient, id string, within time.Duration, what string, done func(*fleetv1.Maintenance) bool) *fleetv1.Maintenance {
	t.Helper()
	return watchUntil(t, within, what, mc.WatchMaintenance, &fleetv1.WatchMaintenanceRequest{Id: id},
		func(r *fleetv1.WatchMaintenanceResponse) bool { return done(r.GetMaintenance()) }).GetMaintenance()
}

func TestMaintenanceWindowKeepsMinimumHealthy(t *testing.T) {
	cp := fleettest.StartControlPlane(t, deployConfig(t))
	conn := fleettest.Dial(t, cp.GRPCAddr())
	rc, mc := fleetv1.NewRoutingServiceClient(conn), fleetv1.NewMaintenanceServiceClient(conn)
	nodes := startVersionFleet(t, cp.GRPCAddr(), 4, 50*time.Millisecond)
	ew := watchEndpoints(t, rc, "web", 4)
	load := startLoad(t, rc, "web")

	// max_unavailable would allow two at once; min_healthy 3 allows one.
	resp, err := mc.ScheduleMaintenance(context.Background(), &fleetv1.ScheduleMaintenanceRequest{Spec: &fleetv1.MaintenanceSpec{
		Pool: "web", MaxUnavailable: 2, MinHealthy: 3, Reason: "monthly restart and upgrade",
		Tasks: []*fleetv1.MaintenanceTask{{Kind: fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_RESTART},
			{Kind: fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_DEPLOY, Version: "2.0"},
			{Kind: fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_CUSTOM, Action: "mark"}}}})
	if err != nil {
		t.Fatal(err)
	}
	m := waitWindow(t, mc, resp.GetMaintenance().GetId(), 60*time.Second, "the window to finish", func(m *fleetv1.Maintenance) bool { return m.GetFinished() != nil })
	load.halt()
	if m.GetState() != fleetv1.MaintenanceState_MAINTENANCE_STATE_SUCCEEDED {
		t.Fatalf("window ended %v: %s", m.GetState(), m.GetReason())
	}
	for _, n := range m.GetNodes() {
		if n.GetPhase() != "done" || len(n.GetResults()) != 3 {
			t.Fatalf("node %v", n)
		}
		restart := n.GetResults()[0]
		if restart.GetState() != succeeded || restart.GetFields()["new_pids"] == "" {
			t.Errorf("%s restart result %v", n.GetNodeId(), restart)
		}
	}
	for _, n := range nodes {
		if v := n.version(t); v != "2.0" {
			t.Errorf("%s runs %q", n.id, v)
		}
		if mark, err := os.ReadFile(n.markFile); err != nil || string(mark) != "maintained" {
			t.Errorf("%s: the custom action did not run: %q, %v", n.id, mark, err)
		}
	}
	if got := ew.fewest(); got < 3 {
		t.Errorf("only %d nodes stayed in routing; min_healthy is 3", got)
	}
	if f := load.failures.Load(); f != 0 {
		t.Errorf("%d of %d requests failed (last: %s)", f, load.requests.Load(), load.lastFailure)
	}
	t.Logf("window over 4 nodes: %d requests, 0 failed, at least %d nodes in routing", load.requests.Load(), ew.fewest())
}

func TestMaintenanceCancelLeavesNodesUndrained(t *testing.T) {
	cp := fleettest.StartControlPlane(t, deployConfig(t))
	conn := fleettest.Dial(t, cp.GRPCAddr())
	fleet, mc := fleetv1.NewFleetServiceClient(conn), fleetv1.NewMaintenanceServiceClient(conn)
	nodes := startVersionFleet(t, cp.GRPCAddr(), 3, time.Second)
	for _, n := range nodes {
		waitState(t, fleet, n.id, ready, 10*time.Second)
	}
	resp, err := mc.ScheduleMaintenance(context.Background(), &fleetv1.ScheduleMaintenanceRequest{Spec: &fleetv1.MaintenanceSpec{
		Pool: "web", Tasks: []*fleetv1.MaintenanceTask{{Kind: fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_DEPLOY, Version: "2.0"}}}})
	if err != nil {
		t.Fatal(err)
	}
	id := resp.GetMaintenance().GetId()
	waitWindow(t, mc, id, 30*time.Second, "the first node in its tasks", func(m *fleetv1.Maintenance) bool {
		return len(m.GetNodes()) > 0 && m.GetNodes()[0].GetPhase() == "tasks"
	})
	_, err = mc.StartDeployment(context.Background(), &fleetv1.StartDeploymentRequest{Spec: &fleetv1.DeploymentSpec{Pool: "web", Version: "3.0",
		Strategy: fleetv1.DeploymentStrategy_DEPLOYMENT_STRATEGY_ROLLING}})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(status.Convert(err).Message(), "maintenance window "+id) {
		t.Fatalf("deployment during an open window = %v, want FailedPrecondition naming the window", err)
	}
	c, err := mc.CancelMaintenance(context.Background(), &fleetv1.CancelMaintenanceRequest{Id: id, Reason: "change freeze"})
	if err != nil || c.GetMaintenance().GetState() != fleetv1.MaintenanceState_MAINTENANCE_STATE_CANCELLED {
		t.Fatalf("cancel: %v %v", c, err)
	}
	m := waitWindow(t, mc, id, 30*time.Second, "the cancel to finish", func(m *fleetv1.Maintenance) bool { return m.GetFinished() != nil })
	for _, n := range nodes {
		waitState(t, fleet, n.id, ready, 10*time.Second)
		node := fleettest.Node(t, fleet, n.id)
		if node.GetDrainRequested() || node.GetDrained() {
			t.Errorf("%s still drained after the cancel: %v", n.id, node)
		}
	}
	if m.GetNodes()[0].GetPhase() != "cancelled" || m.GetNodes()[2].GetPhase() != "skipped" {
		t.Errorf("node phases after the cancel: %v", m.GetNodes())
	}
}

func TestMaintenanceBadInput(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	mc := fleetv1.NewMaintenanceServiceClient(fleettest.Dial(t, cp.GRPCAddr()))
	startServingAgents(t, cp.GRPCAddr(), 2)
	waitState(t, cp.Fleet(t), "web-2", ready, 10*time.Second)
	now := time.Now()
	restart := []*fleetv1.MaintenanceTask{{Kind: fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_RESTART}}
	bad := []struct {
		name string
		spec *fleetv1.MaintenanceSpec
		want string
	}{
		{"no tasks", &fleetv1.MaintenanceSpec{Pool: "web"}, "spec.tasks: is empty"},
		{"end before start", &fleetv1.MaintenanceSpec{Pool: "web", Tasks: restart, Start: timestamppb.New(now.Add(2 * time.Hour)), End: timestamppb.New(now.Add(time.Hour))}, "spec.end"},
		{"cron that does not parse", &fleetv1.MaintenanceSpec{Pool: "web", Tasks: restart, Cron: "61 25 * * *", Duration: durationpb.New(time.Hour)}, "spec.cron"},
		{"cron with a time zone", &fleetv1.MaintenanceSpec{Pool: "web", Tasks: restart, Cron: "CRON_TZ=Europe/Paris 0 3 * * *", Duration: durationpb.New(time.Hour)}, "spec.cron"},
		{"unknown pool", &fleetv1.MaintenanceSpec{Pool: "gpu", Tasks: restart}, `spec.pool: pool "gpu" has no nodes`},
		{"empty pool", &fleetv1.MaintenanceSpec{Tasks: restart}, "spec.pool: is empty"},
		{"deploy without version", &fleetv1.MaintenanceSpec{Pool: "web", Tasks: []*fleetv1.MaintenanceTask{{Kind: fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_DEPLOY}}}, "spec.tasks[0].version"},
		{"custom action that is a command line", &fleetv1.MaintenanceSpec{Pool: "web", Tasks: []*fleetv1.MaintenanceTask{{Kind: fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_CUSTOM, Action: "rm -rf /"}}}, "spec.tasks[0].action"},
	}
	for _, tt := range bad {
		_, err := mc.ScheduleMaintenance(context.Background(), &fleetv1.ScheduleMaintenanceRequest{Spec: tt.spec})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), tt.want) {
			t.Errorf("%s: ScheduleMaintenance = %v, want InvalidArgument naming %s", tt.name, err, tt.want)
		}
	}
	list, err := mc.ListMaintenance(context.Background(), &fleetv1.ListMaintenanceRequest{})
	if err != nil || len(list.GetWindows()) != 0 {
		t.Fatalf("bad requests stored windows: %v %v", list, err)
	}

	// A recurring window waits for its next opening, and can be cancelled before it.
	resp, err := mc.ScheduleMaintenance(context.Background(), &fleetv1.ScheduleMaintenanceRequest{Spec: &fleetv1.MaintenanceSpec{
		Pool: "web", Tasks: restart, Cron: "0 3 * * SUN", Duration: durationpb.New(2 * time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	m := resp.GetMaintenance()
	if m.GetState() != fleetv1.MaintenanceState_MAINTENANCE_STATE_SCHEDULED || m.GetOpens().AsTime().UTC().Weekday() != time.Sunday ||
		m.GetOpens().AsTime().UTC().Hour() != 3 || m.GetCloses().AsTime().Sub(m.GetOpens().AsTime()) != 2*time.Hour {
		t.Fatalf("recurring window %v", m)
	}
	c, err := mc.CancelMaintenance(context.Background(), &fleetv1.CancelMaintenanceRequest{Id: m.GetId()})
	if err != nil || c.GetMaintenance().GetFinished() == nil {
		t.Fatalf("cancel of a scheduled window: %v %v", c, err)
	}
}

func TestMaintenanceWindowResumesAfterRestartAndStreams(t *testing.T) {
	cfg := deployConfig(t)
	cp := fleettest.StartControlPlane(t, cfg)
	mc := fleetv1.NewMaintenanceServiceClient(fleettest.Dial(t, cp.GRPCAddr()))
	nodes := startVersionFleet(t, cp.GRPCAddr(), 3, 400*time.Millisecond)
	fleet := cp.Fleet(t)
	for _, n := range nodes {
		waitState(t, fleet, n.id, ready, 10*time.Second)
	}
	resp, err := mc.ScheduleMaintenance(context.Background(), &fleetv1.ScheduleMaintenanceRequest{Spec: &fleetv1.MaintenanceSpec{
		Pool: "web", Tasks: []*fleetv1.MaintenanceTask{{Kind: fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_DEPLOY, Version: "2.0"}}}})
	if err != nil {
		t.Fatal(err)
	}
	id := resp.GetMaintenance().GetId()
	waitWindow(t, mc, id, 30*time.Second, "the second node in its tasks", func(m *fleetv1.Maintenance) bool {
		return len(m.GetNodes()) == 3 && m.GetNodes()[0].GetPhase() == "done" && m.GetNodes()[1].GetPhase() == "tasks"
	})
	cp.Stop(t)

	cfg2 := deployConfig(t)
	cfg2.DataDir, cfg2.GRPCListen = cfg.DataDir, cp.GRPCAddr()
	cp2 := fleettest.StartControlPlane(t, cfg2)
	conn2 := fleettest.Dial(t, cp2.GRPCAddr())
	mc2 := fleetv1.NewMaintenanceServiceClient(conn2)
	stream, err := mc2.WatchMaintenance(context.Background(), &fleetv1.WatchMaintenanceRequest{Id: id})
	if err != nil {
		t.Fatal(err)
	}
	var last *fleetv1.Maintenance
	for {
		r, err := stream.Recv()
		if err != nil {
			break // the stream ends after the window finished
		}
		last = r.GetMaintenance()
	}
	if last.GetFinished() == nil || last.GetState() != fleetv1.MaintenanceState_MAINTENANCE_STATE_SUCCEEDED || last.GetRuns() != 1 {
		t.Fatalf("window after the restart: %v", last)
	}
	for id, n := range deployCommands(t, fleetv1.NewFleetServiceClient(conn2)) {
		if n != 1 {
			t.Errorf("%s got %d deploy commands, want 1", id, n)
		}
	}
	for _, n := range nodes {
		if v := n.version(t); v != "2.0" {
			t.Errorf("%s runs %q", n.id, v)
		}
	}
}
