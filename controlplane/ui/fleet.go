package ui

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// nodeRow is a node as the fleet table shows it.
type nodeRow struct {
	ID             string            `json:"id"`
	Pool           string            `json:"pool"`
	State          string            `json:"state"`
	StateReason    string            `json:"stateReason"`
	Labels         map[string]string `json:"labels"`
	CPU            float64           `json:"cpu"`
	Memory         float64           `json:"memory"`
	Disk           float64           `json:"disk"`
	InFlight       uint32            `json:"inFlight"`
	RPS            float64           `json:"rps"`
	Version        string            `json:"version"`
	LastSeen       *time.Time        `json:"lastSeen"`
	ReportTime     *time.Time        `json:"reportTime"`
	DrainRequested bool              `json:"drainRequested"`
	Address        string            `json:"address"`
	// Removed marks a node the control plane forgot (node GC): the browser drops its row.
	Removed bool `json:"removed,omitempty"`
}

// stateName is the lower-case state name fleetctl shows, e.g. ready.
func stateName(s fleetv1.NodeState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "NODE_STATE_"))
}

// toRow summarizes n for the table.
func toRow(n *fleetv1.Node) nodeRow {
	r := nodeRow{
		ID: n.GetId(), Pool: n.GetPool(), State: stateName(n.GetState()), StateReason: n.GetStateReason(),
		Labels: n.GetLabels(), Version: n.GetAgentVersion(), DrainRequested: n.GetDrainRequested(), Address: n.GetAddress(),
	}
	if n.GetLastSeen() != nil {
		t := n.GetLastSeen().AsTime()
		r.LastSeen = &t
	}
	if rep := n.GetLastReport(); rep != nil {
		t := rep.GetTime().AsTime()
		r.ReportTime = &t
		host, app := rep.GetHost(), rep.GetApp()
		r.CPU, r.Memory = host.GetCpuPercent(), host.GetMemoryUsedPercent()
		for _, d := range host.GetDisks() {
			r.Disk = max(r.Disk, d.GetUsedPercent())
		}
		r.InFlight, r.RPS = app.GetInFlight(), app.GetRequestsPerSecond()
	}
	return r
}

// nodesPage is the page size the node list reads ListNodes with: the API's largest.
const nodesPage = 1000

// nodes lists every node, sorted by pool then id, reading every page of ListNodes; the page
// filters.
func (h *Handler) nodes(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := callContext(r.Context(), s)
	rows := []nodeRow{}
	req := &fleetv1.ListNodesRequest{PageSize: nodesPage}
	for {
		resp, err := h.fleet.ListNodes(ctx, req)
		if err != nil {
			writeStatus(w, err)
			return
		}
		for _, n := range resp.GetNodes() {
			rows = append(rows, toRow(n))
		}
		if resp.GetNextPageToken() == "" {
			break
		}
		req.PageToken = resp.GetNextPageToken()
	}
	slices.SortFunc(rows, func(a, b nodeRow) int {
		if c := strings.Compare(a.Pool, b.Pool); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	writeJSON(w, rows)
}

// recentCommands is how many commands a node's detail lists.
const recentCommands = 20

// nodeDetail is one node in full (protojson, as fleetctl -o json prints it) with its recent
// commands.
type nodeDetail struct {
	Node     nodeRow      `json:"summary"`
	Full     rawJSON      `json:"node"`
	Commands []commandRow `json:"commands"`
}

// rawJSON is JSON written as is.
type rawJSON []byte

// MarshalJSON returns r.
func (r rawJSON) MarshalJSON() ([]byte, error) { return r, nil }

// commandRow is a command as the node detail lists it.
type commandRow struct {
	ID      string     `json:"id"`
	Kind    string     `json:"kind"`
	State   string     `json:"state"`
	Detail  string     `json:"detail"`
	Reason  string     `json:"reason"`
	Created *time.Time `json:"created"`
	Updated *time.Time `json:"updated"`
}

func toCommandRow(c *fleetv1.CommandRecord) commandRow {
	cmd := c.GetCommand()
	row := commandRow{
		ID: cmd.GetId(), Kind: strings.ToLower(strings.TrimPrefix(cmd.GetKind().String(), "COMMAND_KIND_")),
		State: strings.ToLower(strings.TrimPrefix(c.GetState().String(), "COMMAND_STATE_")), Detail: c.GetDetail(), Reason: cmd.GetReason(),
	}
	if c.GetCreated() != nil {
		t := c.GetCreated().AsTime()
		row.Created = &t
	}
	if c.GetUpdated() != nil {
		t := c.GetUpdated().AsTime()
		row.Updated = &t
	}
	return row
}

// node answers one node with its recent commands.
func (h *Handler) node(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, id := callContext(r.Context(), s), r.PathValue("id")
	resp, err := h.fleet.GetNode(ctx, &fleetv1.GetNodeRequest{Id: id})
	if err != nil {
		writeStatus(w, err)
		return
	}
	cmds, err := h.fleet.ListCommands(ctx, &fleetv1.ListCommandsRequest{NodeId: id, Limit: recentCommands})
	if err != nil {
		writeStatus(w, err)
		return
	}
	full, err := protojson.Marshal(resp.GetNode())
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	d := nodeDetail{Node: toRow(resp.GetNode()), Full: full, Commands: []commandRow{}}
	for _, c := range cmds.GetCommands() {
		d.Commands = append(d.Commands, toCommandRow(c))
	}
	writeJSON(w, d)
}

// drainTimeout is how long a drain from the dashboard waits for in-flight requests.
const drainTimeout = 5 * time.Minute

// reasonFor is the audit reason of a change made from the dashboard by the visitor at r.
func reasonFor(r *http.Request) string {
	return "from the dashboard (" + r.RemoteAddr + ")"
}

func (h *Handler) drain(w http.ResponseWriter, r *http.Request, s *session) {
	resp, err := h.fleet.DrainNode(callContext(r.Context(), s), &fleetv1.DrainNodeRequest{
		Id: r.PathValue("id"), Timeout: durationpb.New(drainTimeout), Reason: reasonFor(r),
	})
	if err != nil {
		writeStatus(w, err)
		return
	}
	h.cfg.Log.Info("drain from the dashboard", "node", r.PathValue("id"), "remote", r.RemoteAddr, "role", s.role)
	writeJSON(w, toCommandRow(resp.GetCommand()))
}

func (h *Handler) undrain(w http.ResponseWriter, r *http.Request, s *session) {
	resp, err := h.fleet.UndrainNode(callContext(r.Context(), s), &fleetv1.UndrainNodeRequest{Id: r.PathValue("id"), Reason: reasonFor(r)})
	if err != nil {
		writeStatus(w, err)
		return
	}
	h.cfg.Log.Info("undrain from the dashboard", "node", r.PathValue("id"), "remote", r.RemoteAddr, "role", s.role)
	writeJSON(w, toCommandRow(resp.GetCommand()))
}
