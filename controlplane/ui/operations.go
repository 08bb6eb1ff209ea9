package ui

import (
	"fmt"
	"net/http"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// operationsCommands is how many commands the operations page lists.
const operationsCommands = 200

// commandListRow is a command as the operations page lists it: the node detail's row with its
// node.
type commandListRow struct {
	commandRow
	Node string `json:"node"`
}

// enumValues maps the lower-case names the page filters by (e.g. pending) to the enum's values.
func enumValues[E ~int32](names map[string]int32, prefix string) map[string]E {
	out := make(map[string]E, len(names))
	for name, v := range names {
		if v != 0 {
			out[strings.ToLower(strings.TrimPrefix(name, prefix))] = E(v)
		}
	}
	return out
}

var (
	commandStates = enumValues[fleetv1.CommandState](fleetv1.CommandState_value, "COMMAND_STATE_")
	commandKinds  = enumValues[fleetv1.CommandKind](fleetv1.CommandKind_value, "COMMAND_KIND_")
)

// commands lists the fleet's commands, newest first, filtered by ?node=, ?state= and ?kind=
// (names as the page shows them, e.g. pending, restart).
func (h *Handler) commands(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	// FleetService.ListCommands checks the node id (node_id).
	req := &fleetv1.ListCommandsRequest{NodeId: q.Get("node"), PageSize: operationsCommands}
	if name := q.Get("state"); name != "" {
		st, ok := commandStates[name]
		if !ok {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("state: %.40q is not a command state such as pending or succeeded", name))
			return
		}
		req.States = []fleetv1.CommandState{st}
	}
	if name := q.Get("kind"); name != "" {
		k, ok := commandKinds[name]
		if !ok {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("kind: %.40q is not a command kind such as drain or restart", name))
			return
		}
		req.Kinds = []fleetv1.CommandKind{k}
	}
	resp, err := h.fleet.ListCommands(callContext(r.Context(), s), req)
	if err != nil {
		writeStatus(w, err)
		return
	}
	rows := []commandListRow{}
	for _, c := range resp.GetCommands() {
		rows = append(rows, commandListRow{commandRow: toCommandRow(c), Node: c.GetNodeId()})
	}
	writeJSON(w, rows)
}

// command answers one command in protojson: its parameters, outcome fields and history.
func (h *Handler) command(w http.ResponseWriter, r *http.Request, s *session) {
	resp, err := h.fleet.GetCommand(callContext(r.Context(), s), &fleetv1.GetCommandRequest{Id: r.PathValue("id")})
	if err != nil {
		writeStatus(w, err)
		return
	}
	writeProto(w, resp.GetCommand())
}

// cancelCommand cancels a command not yet delivered (FleetService.CancelCommand).
func (h *Handler) cancelCommand(w http.ResponseWriter, r *http.Request, s *session) {
	resp, err := h.fleet.CancelCommand(callContext(r.Context(), s), &fleetv1.CancelCommandRequest{Id: r.PathValue("id"), Reason: reasonFor(r)})
	if err != nil {
		writeStatus(w, err)
		return
	}
	h.cfg.Log.Info("command cancelled from the dashboard", "command", r.PathValue("id"), "remote", r.RemoteAddr, "role", s.role)
	writeJSON(w, toCommandRow(resp.GetCommand()))
}

// operationsView is the rest of the operations page, each part as the MaintenanceService
// answers it in protojson: deployments with their per-node progress, maintenance windows, and
// the control plane's and the agents' backups.
type operationsView struct {
	Deployments rawJSON `json:"deployments"`
	Maintenance rawJSON `json:"maintenance"`
	Backups     rawJSON `json:"backups"`
}

func (h *Handler) operations(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := callContext(r.Context(), s)
	deps, err := h.maint.ListDeployments(ctx, &fleetv1.ListDeploymentsRequest{})
	if err != nil {
		writeStatus(w, err)
		return
	}
	wins, err := h.maint.ListMaintenance(ctx, &fleetv1.ListMaintenanceRequest{})
	if err != nil {
		writeStatus(w, err)
		return
	}
	backups, err := h.maint.ListBackups(ctx, &fleetv1.ListBackupsRequest{})
	if err != nil {
		writeStatus(w, err)
		return
	}
	var v operationsView
	opts := protojson.MarshalOptions{EmitUnpopulated: true}
	if v.Deployments, err = opts.Marshal(deps); err == nil {
		if v.Maintenance, err = opts.Marshal(wins); err == nil {
			v.Backups, err = opts.Marshal(backups)
		}
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, v)
}

// deploymentAction pauses, resumes or aborts a deployment (MaintenanceService.PauseDeployment,
// ResumeDeployment, AbortDeployment) as {action} of the path names.
func (h *Handler) deploymentAction(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, id, action := callContext(r.Context(), s), r.PathValue("id"), r.PathValue("action")
	var (
		dep *fleetv1.Deployment
		err error
	)
	switch action {
	case "pause":
		var resp *fleetv1.PauseDeploymentResponse
		resp, err = h.maint.PauseDeployment(ctx, &fleetv1.PauseDeploymentRequest{Id: id, Reason: reasonFor(r)})
		dep = resp.GetDeployment()
	case "resume":
		var resp *fleetv1.ResumeDeploymentResponse
		resp, err = h.maint.ResumeDeployment(ctx, &fleetv1.ResumeDeploymentRequest{Id: id})
		dep = resp.GetDeployment()
	case "abort":
		var resp *fleetv1.AbortDeploymentResponse
		resp, err = h.maint.AbortDeployment(ctx, &fleetv1.AbortDeploymentRequest{Id: id, Reason: reasonFor(r)})
		dep = resp.GetDeployment()
	default:
		writeError(w, http.StatusNotFound, fmt.Sprintf("action: %.40q is not pause, resume or abort", action))
		return
	}
	if err != nil {
		writeStatus(w, err)
		return
	}
	h.cfg.Log.Info("deployment "+action+" from the dashboard", "deployment", id, "remote", r.RemoteAddr, "role", s.role)
	writeProto(w, dep)
}

// writeProto writes m in protojson.
func writeProto(w http.ResponseWriter, m proto.Message) {
	out, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(m)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, rawJSON(out))
}
