package api

import (
	"context"

	"google.golang.org/grpc"

	"github.com/dspyfleet/dspyfleet/controlplane/auth"
	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/commands"
	"github.com/dspyfleet/dspyfleet/controlplane/fleet"
	"github.com/dspyfleet/dspyfleet/controlplane/stats"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// fleetService implements FleetService on the registry.
type fleetService struct {
	fleetv1.UnimplementedFleetServiceServer
	reg      *fleet.Registry
	cmds     *commands.Queue
	stats    *stats.Requests
	stopping <-chan struct{}
	limits   check.Limits
	audit    *auth.AuditLog
}

// ListNodes returns one page of the nodes matching the request's filters.
func (f *fleetService) ListNodes(_ context.Context, req *fleetv1.ListNodesRequest) (*fleetv1.ListNodesResponse, error) {
	if err := validateNodeFilter(req.GetPool(), req.GetStates()); err != nil {
		return nil, check.ToStatus(err)
	}
	page, err := parsePage(req, 0, check.DefaultPageSize)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	nodes, more := f.reg.Page(req, page.After, page.Size)
	resp := &fleetv1.ListNodesResponse{Nodes: nodes}
	if len(nodes) > 0 {
		resp.NextPageToken = page.Next(nodes[len(nodes)-1].GetId(), more)
	}
	return resp, nil
}

// GetNode returns one node.
func (f *fleetService) GetNode(_ context.Context, req *fleetv1.GetNodeRequest) (*fleetv1.GetNodeResponse, error) {
	if !check.ValidID(req.GetId()) {
		return nil, check.ToStatus(check.Invalidf("id: %q is not a valid node id (1-63 letters, digits, '.', '_' or '-')", check.Truncate(req.GetId())))
	}
	n, err := f.reg.Get(req.GetId())
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.GetNodeResponse{Node: n}, nil
}

// WatchNodes sends the current nodes, a SYNCED marker, then every change until the client leaves.
func (f *fleetService) WatchNodes(req *fleetv1.WatchNodesRequest, stream grpc.ServerStreamingServer[fleetv1.WatchNodesResponse]) error {
	if err := validateNodeFilter(req.GetPool(), nil); err != nil {
		return check.ToStatus(err)
	}
	w, initial, err := f.reg.Watch(req.GetPool(), req.GetIncludeReports())
	if err != nil {
		return check.ToStatus(err)
	}
	defer f.reg.Unwatch(w)
	for _, n := range initial {
		if err := stream.Send(&fleetv1.WatchNodesResponse{Type: fleetv1.NodeEventType_NODE_EVENT_TYPE_INITIAL, Node: n}); err != nil {
			return err
		}
	}
	if err := stream.Send(&fleetv1.WatchNodesResponse{Type: fleetv1.NodeEventType_NODE_EVENT_TYPE_SYNCED}); err != nil {
		return err
	}
	for {
		select {
		case <-stream.Context().Done():
			return nil
		case <-f.stopping:
			return check.ToStatus(check.ErrShuttingDown)
		case ev, ok := <-w.C:
			if !ok {
				return check.ToStatus(f.reg.WatchErr(w))
			}
			if err := stream.Send(ev); err != nil {
				return err
			}
		}
	}
}

// validateNodeFilter checks the optional pool and state filters.
func validateNodeFilter(pool string, states []fleetv1.NodeState) error {
	if pool != "" && !check.ValidID(pool) {
		return check.Invalidf("pool: %q is not a valid pool name (1-63 letters, digits, '.', '_' or '-')", check.Truncate(pool))
	}
	for _, s := range states {
		if _, ok := fleetv1.NodeState_name[int32(s)]; !ok || s == fleetv1.NodeState_NODE_STATE_UNSPECIFIED {
			return check.Invalidf("states: %d is not a node state", s)
		}
	}
	return nil
}
