package controlplane

import (
	"context"
	"fmt"

	"google.golang.org/grpc"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/maintenance"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// StartDeployment validates and starts a deployment.
func (m *maintenanceService) StartDeployment(ctx context.Context, req *fleetv1.StartDeploymentRequest) (*fleetv1.StartDeploymentResponse, error) {
	if busy, why := m.windows.Busy(req.GetSpec().GetPool(), ""); busy {
		return nil, check.ToStatus(fmt.Errorf("%w: pool %q: %s; wait for it or cancel it with fleetctl maint cancel", check.ErrFailedPrecondition, req.GetSpec().GetPool(), why))
	}
	d, err := m.deployer.Start(req.GetSpec(), requester(ctx))
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.StartDeploymentResponse{Deployment: d}, nil
}

// GetDeployment returns one deployment.
func (m *maintenanceService) GetDeployment(_ context.Context, req *fleetv1.GetDeploymentRequest) (*fleetv1.GetDeploymentResponse, error) {
	d, err := m.deployer.Get(req.GetId())
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.GetDeploymentResponse{Deployment: d}, nil
}

// ListDeployments lists deployments, newest first.
func (m *maintenanceService) ListDeployments(_ context.Context, req *fleetv1.ListDeploymentsRequest) (*fleetv1.ListDeploymentsResponse, error) {
	if req.GetPool() != "" && !check.ValidID(req.GetPool()) {
		return nil, check.ToStatus(check.Invalidf("pool: %q is not a valid pool name", check.Truncate(req.GetPool())))
	}
	return &fleetv1.ListDeploymentsResponse{Deployments: m.deployer.List(req.GetPool())}, nil
}

// WatchDeployment sends the deployment, then every change, and ends after it finished.
func (m *maintenanceService) WatchDeployment(req *fleetv1.WatchDeploymentRequest, stream grpc.ServerStreamingServer[fleetv1.WatchDeploymentResponse]) error {
	ch, d, err := m.deployer.Watch(req.GetId())
	if err != nil {
		return check.ToStatus(err)
	}
	defer m.deployer.Unwatch(req.GetId(), ch)
	for {
		if err := stream.Send(&fleetv1.WatchDeploymentResponse{Deployment: d}); err != nil {
			return err
		}
		if !maintenance.Active(d) {
			return nil
		}
		select {
		case <-stream.Context().Done():
			return nil
		case <-m.stopping:
			return check.ToStatus(check.ErrShuttingDown)
		case d = <-ch:
		}
	}
}

// PauseDeployment pauses a running deployment.
func (m *maintenanceService) PauseDeployment(ctx context.Context, req *fleetv1.PauseDeploymentRequest) (*fleetv1.PauseDeploymentResponse, error) {
	if len(req.GetReason()) > maintenance.MaxReasonLen {
		return nil, check.ToStatus(check.Invalidf("reason: %d bytes, at most %d", len(req.GetReason()), maintenance.MaxReasonLen))
	}
	d, err := m.deployer.Pause(req.GetId(), req.GetReason(), requester(ctx))
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.PauseDeploymentResponse{Deployment: d}, nil
}

// ResumeDeployment resumes a paused deployment.
func (m *maintenanceService) ResumeDeployment(ctx context.Context, req *fleetv1.ResumeDeploymentRequest) (*fleetv1.ResumeDeploymentResponse, error) {
	d, err := m.deployer.Resume(req.GetId(), requester(ctx))
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.ResumeDeploymentResponse{Deployment: d}, nil
}

// AbortDeployment aborts a deployment and undoes its routing changes.
func (m *maintenanceService) AbortDeployment(ctx context.Context, req *fleetv1.AbortDeploymentRequest) (*fleetv1.AbortDeploymentResponse, error) {
	if len(req.GetReason()) > maintenance.MaxReasonLen {
		return nil, check.ToStatus(check.Invalidf("reason: %d bytes, at most %d", len(req.GetReason()), maintenance.MaxReasonLen))
	}
	d, err := m.deployer.Abort(req.GetId(), req.GetReason(), requester(ctx))
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.AbortDeploymentResponse{Deployment: d}, nil
}
