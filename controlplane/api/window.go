package api

import (
	"context"

	"google.golang.org/grpc"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// ScheduleMaintenance validates and stores a maintenance window.
func (m *maintenanceService) ScheduleMaintenance(ctx context.Context, req *fleetv1.ScheduleMaintenanceRequest) (*fleetv1.ScheduleMaintenanceResponse, error) {
	w, err := m.windows.Schedule(req.GetSpec(), requester(ctx))
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.ScheduleMaintenanceResponse{Maintenance: windowEtag(w)}, nil
}

// ListMaintenance lists one page of windows, newest first, each with its etag.
func (m *maintenanceService) ListMaintenance(_ context.Context, req *fleetv1.ListMaintenanceRequest) (*fleetv1.ListMaintenanceResponse, error) {
	if req.GetPool() != "" && !check.ValidID(req.GetPool()) {
		return nil, check.ToStatus(check.Invalidf("pool: %q is not a valid pool name", check.Truncate(req.GetPool())))
	}
	page, err := parsePage(req, 0, check.DefaultPageSize)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	ws, next := pageOf(page, m.windows.List(req.GetPool()), func(w *fleetv1.Maintenance) string {
		return timeKey(w.GetCreated().AsTime(), w.GetId())
	}, true)
	for _, w := range ws {
		windowEtag(w)
	}
	return &fleetv1.ListMaintenanceResponse{Windows: ws, NextPageToken: next}, nil
}

// windowEtag sets w's etag and returns w.
func windowEtag(w *fleetv1.Maintenance) *fleetv1.Maintenance {
	w.Etag = check.Etag(w)
	return w
}

// GetMaintenance returns one window.
func (m *maintenanceService) GetMaintenance(_ context.Context, req *fleetv1.GetMaintenanceRequest) (*fleetv1.GetMaintenanceResponse, error) {
	w, err := m.windows.Get(req.GetId())
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.GetMaintenanceResponse{Maintenance: windowEtag(w)}, nil
}

// WatchMaintenance sends the window, then every change, and ends after it finished.
func (m *maintenanceService) WatchMaintenance(req *fleetv1.WatchMaintenanceRequest, stream grpc.ServerStreamingServer[fleetv1.WatchMaintenanceResponse]) error {
	ch, w, err := m.windows.Watch(req.GetId())
	if err != nil {
		return check.ToStatus(err)
	}
	defer m.windows.Unwatch(req.GetId(), ch)
	return follow(stream.Context(), m.stopping, ch, w, func(w *fleetv1.Maintenance) bool { return w.GetFinished() != nil }, func(w *fleetv1.Maintenance) error {
		return stream.Send(&fleetv1.WatchMaintenanceResponse{Maintenance: windowEtag(w)})
	})
}

// PauseMaintenance pauses a running window.
func (m *maintenanceService) PauseMaintenance(ctx context.Context, req *fleetv1.PauseMaintenanceRequest) (*fleetv1.PauseMaintenanceResponse, error) {
	w, err := withReason(ctx, req.GetReason(), func(by string) (*fleetv1.Maintenance, error) {
		return m.windows.Pause(req.GetId(), req.GetEtag(), req.GetReason(), by)
	})
	if err != nil {
		return nil, err
	}
	return &fleetv1.PauseMaintenanceResponse{Maintenance: windowEtag(w)}, nil
}

// ResumeMaintenance resumes a paused window.
func (m *maintenanceService) ResumeMaintenance(ctx context.Context, req *fleetv1.ResumeMaintenanceRequest) (*fleetv1.ResumeMaintenanceResponse, error) {
	w, err := m.windows.Resume(req.GetId(), req.GetEtag(), requester(ctx))
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.ResumeMaintenanceResponse{Maintenance: windowEtag(w)}, nil
}

// CancelMaintenance cancels a window, undraining its nodes.
func (m *maintenanceService) CancelMaintenance(ctx context.Context, req *fleetv1.CancelMaintenanceRequest) (*fleetv1.CancelMaintenanceResponse, error) {
	w, err := withReason(ctx, req.GetReason(), func(by string) (*fleetv1.Maintenance, error) {
		return m.windows.Cancel(req.GetId(), req.GetEtag(), req.GetReason(), by)
	})
	if err != nil {
		return nil, err
	}
	return &fleetv1.CancelMaintenanceResponse{Maintenance: windowEtag(w)}, nil
}
