package api

import (
	"context"
	"strings"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/commands"
	"github.com/dspyfleet/dspyfleet/controlplane/maintenance"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// maintenanceService implements MaintenanceService.
type maintenanceService struct {
	fleetv1.UnimplementedMaintenanceServiceServer
	backups  *maintenance.Backups
	cmds     *commands.Queue
	deployer *maintenance.Deployer
	windows  *maintenance.Windows
	stopping <-chan struct{}
}

// CreateBackup writes a backup now.
func (m *maintenanceService) CreateBackup(ctx context.Context, req *fleetv1.CreateBackupRequest) (*fleetv1.CreateBackupResponse, error) {
	if len(req.GetReason()) > maintenance.MaxReasonLen {
		return nil, check.ToStatus(check.Invalidf("reason: %d bytes, at most %d", len(req.GetReason()), maintenance.MaxReasonLen))
	}
	reason := "on demand by " + requester(ctx)
	if r := strings.TrimSpace(req.GetReason()); r != "" {
		reason += ": " + r
	}
	b, pruned, err := m.backups.Create(reason)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.CreateBackupResponse{Backup: b, Pruned: pruned}, nil
}

// ListBackups lists one page of the control plane's backups, newest first, and with the first
// page the agents' backup command results.
func (m *maintenanceService) ListBackups(_ context.Context, req *fleetv1.ListBackupsRequest) (*fleetv1.ListBackupsResponse, error) {
	page, err := parsePage(req, 0, check.DefaultPageSize)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	list, err := m.backups.List()
	if err != nil {
		return nil, check.ToStatus(err)
	}
	resp := &fleetv1.ListBackupsResponse{}
	resp.Backups, resp.NextPageToken = pageOf(page, list, (*fleetv1.Backup).GetName, true)
	if page.After != "" {
		return resp, nil
	}
	resp.AgentBackups = maintenance.AgentBackups(m.cmds.List(&fleetv1.ListCommandsRequest{
		Kinds:  []fleetv1.CommandKind{fleetv1.CommandKind_COMMAND_KIND_BACKUP},
		States: []fleetv1.CommandState{fleetv1.CommandState_COMMAND_STATE_SUCCEEDED},
		Limit:  1000,
	}))
	return resp, nil
}

// VerifyBackup checks one backup through and through.
func (m *maintenanceService) VerifyBackup(_ context.Context, req *fleetv1.VerifyBackupRequest) (*fleetv1.VerifyBackupResponse, error) {
	b, err := m.backups.Verify(req.GetName())
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.VerifyBackupResponse{Backup: b}, nil
}

// follow sends rec, then every change from ch, until ended says the run is over, the caller
// leaves or the control plane stops: the loop of WatchDeployment and WatchMaintenance.
func follow[M any](ctx context.Context, stopping <-chan struct{}, ch <-chan M, rec M, ended func(M) bool, send func(M) error) error {
	for {
		if err := send(rec); err != nil {
			return err
		}
		if ended(rec) {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-stopping:
			return check.ToStatus(check.ErrShuttingDown)
		case rec = <-ch:
		}
	}
}

// withReason refuses a reason over maintenance.MaxReasonLen, then runs change with the caller's
// name: the pause, abort and cancel calls of deployments and windows.
func withReason[M any](ctx context.Context, reason string, change func(by string) (M, error)) (M, error) {
	var zero M
	if len(reason) > maintenance.MaxReasonLen {
		return zero, check.ToStatus(check.Invalidf("reason: %d bytes, at most %d", len(reason), maintenance.MaxReasonLen))
	}
	rec, err := change(requester(ctx))
	if err != nil {
		return zero, check.ToStatus(err)
	}
	return rec, nil
}
