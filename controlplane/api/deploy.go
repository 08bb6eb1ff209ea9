package api

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
	return &fleetv1.StartDeploymentResponse{Deployment: deploymentEtag(d)}, nil
}

// GetDeployment returns one deployment.
func (m *maintenanceService) GetDeployment(_ context.Context, req *fleetv1.GetDeploymentRequest) (*fleetv1.GetDeploymentResponse, error) {
	d, err := m.deployer.Get(req.GetId())
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.GetDeploymentResponse{Deployment: deploymentEtag(d)}, nil
}

// ListDeployments lists one page of deployments, newest first, each with its etag.
func (m *maintenanceService) ListDeployments(_ context.Context, req *fleetv1.ListDeploymentsRequest) (*fleetv1.ListDeploymentsResponse, error) {
	if req.GetPool() != "" && !check.ValidID(req.GetPool()) {
		return nil, check.ToStatus(check.Invalidf("pool: %q is not a valid pool name", check.Truncate(req.GetPool())))
	}
	page, err := parsePage(req, 0, check.DefaultPageSize)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	ds, next := pageOf(page, m.deployer.List(req.GetPool()), func(d *fleetv1.Deployment) string {
		return timeKey(d.GetCreated().AsTime(), d.GetId())
	}, true)
	for _, d := range ds {
		deploymentEtag(d)
	}
	return &fleetv1.ListDeploymentsResponse{Deployments: ds, NextPageToken: next}, nil
}

// deploymentEtag sets d's etag and returns d.
func deploymentEtag(d *fleetv1.Deployment) *fleetv1.Deployment {
	d.Etag = check.Etag(d)
	return d
}

// WatchDeployment sends the deployment, then every change, and ends after it finished.
func (m *maintenanceService) WatchDeployment(req *fleetv1.WatchDeploymentRequest, stream grpc.ServerStreamingServer[fleetv1.WatchDeploymentResponse]) error {
	ch, d, err := m.deployer.Watch(req.GetId())
	if err != nil {
		return check.ToStatus(err)
	}
	defer m.deployer.Unwatch(req.GetId(), ch)
	return follow(stream.Context(), m.stopping, ch, d, func(d *fleetv1.Deployment) bool { return !maintenance.Active(d) }, func(d *fleetv1.Deployment) error {
		return stream.Send(&fleetv1.WatchDeploymentResponse{Deployment: deploymentEtag(d)})
	})
}

// PauseDeployment pauses a running deployment.
func (m *maintenanceService) PauseDeployment(ctx context.Context, req *fleetv1.PauseDeploymentRequest) (*fleetv1.PauseDeploymentResponse, error) {
	d, err := withReason(ctx, req.GetReason(), func(by string) (*fleetv1.Deployment, error) {
		return m.deployer.Pause(req.GetId(), req.GetEtag(), req.GetReason(), by)
	})
	if err != nil {
		return nil, err
	}
	return &fleetv1.PauseDeploymentResponse{Deployment: deploymentEtag(d)}, nil
}

// ResumeDeployment resumes a paused deployment.
func (m *maintenanceService) ResumeDeployment(ctx context.Context, req *fleetv1.ResumeDeploymentRequest) (*fleetv1.ResumeDeploymentResponse, error) {
	d, err := m.deployer.Resume(req.GetId(), req.GetEtag(), requester(ctx))
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.ResumeDeploymentResponse{Deployment: deploymentEtag(d)}, nil
}

// AbortDeployment aborts a deployment and undoes its routing changes.
func (m *maintenanceService) AbortDeployment(ctx context.Context, req *fleetv1.AbortDeploymentRequest) (*fleetv1.AbortDeploymentResponse, error) {
	d, err := withReason(ctx, req.GetReason(), func(by string) (*fleetv1.Deployment, error) {
		return m.deployer.Abort(req.GetId(), req.GetEtag(), req.GetReason(), by)
	})
	if err != nil {
		return nil, err
	}
	return &fleetv1.AbortDeploymentResponse{Deployment: deploymentEtag(d)}, nil
}
