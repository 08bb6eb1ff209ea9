package ui

import (
	"encoding/json"
	"net/http"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// recentAlertEvents is how many alert and healing events the alerts page lists.
const recentAlertEvents = 100

// alertsView is what the alerts page shows, each part as the AlertService answers it in
// protojson: every pending and firing alert and every silence in force (all pages), and the
// recent alert and healing events with their reasons.
type alertsView struct {
	Alerts   rawJSON `json:"alerts"`
	Silences rawJSON `json:"silences"`
	Events   rawJSON `json:"events"`
}

func (h *Handler) alerts(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := callContext(r.Context(), s)
	al := &fleetv1.ListAlertsResponse{}
	alReq := &fleetv1.ListAlertsRequest{States: []fleetv1.AlertState{fleetv1.AlertState_ALERT_STATE_FIRING, fleetv1.AlertState_ALERT_STATE_PENDING}, PageSize: listPage}
	for {
		resp, err := h.alert.ListAlerts(ctx, alReq)
		if err != nil {
			writeStatus(w, err)
			return
		}
		al.Alerts = append(al.Alerts, resp.GetAlerts()...)
		if alReq.PageToken = resp.GetNextPageToken(); alReq.PageToken == "" {
			break
		}
	}
	si := &fleetv1.ListSilencesResponse{}
	siReq := &fleetv1.ListSilencesRequest{PageSize: listPage}
	for {
		resp, err := h.alert.ListSilences(ctx, siReq)
		if err != nil {
			writeStatus(w, err)
			return
		}
		si.Silences = append(si.Silences, resp.GetSilences()...)
		if siReq.PageToken = resp.GetNextPageToken(); siReq.PageToken == "" {
			break
		}
	}
	ev, err := h.alert.ListEvents(ctx, &fleetv1.AlertServiceListEventsRequest{Limit: recentAlertEvents})
	if err != nil {
		writeStatus(w, err)
		return
	}
	var v alertsView
	opts := protojson.MarshalOptions{EmitUnpopulated: true}
	if v.Alerts, err = opts.Marshal(al); err == nil {
		if v.Silences, err = opts.Marshal(si); err == nil {
			v.Events, err = opts.Marshal(ev)
		}
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, v)
}

// maxSilenceBytes bounds a silence's JSON body.
const maxSilenceBytes = 16 << 10

// silenceForm is the body of a silence created from the page.
type silenceForm struct {
	Matchers []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"matchers"`
	// Duration from now, e.g. 4h.
	Duration string `json:"duration"`
	Author   string `json:"author"`
	Comment  string `json:"comment"`
}

// createSilence stores a silence from now for the form's duration (AlertService.CreateSilence,
// which checks the matchers, author and comment).
func (h *Handler) createSilence(w http.ResponseWriter, r *http.Request, s *session) {
	var f silenceForm
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSilenceBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		writeError(w, http.StatusBadRequest, "silence: the body is not a silence in JSON: "+err.Error())
		return
	}
	d, err := time.ParseDuration(f.Duration)
	if err != nil || d <= 0 {
		writeError(w, http.StatusBadRequest, "duration: "+f.Duration+" is not a positive duration such as 4h")
		return
	}
	now := h.cfg.Now()
	sil := &fleetv1.Silence{Start: timestamppb.New(now), End: timestamppb.New(now.Add(d)), Author: f.Author, Comment: f.Comment}
	for _, m := range f.Matchers {
		sil.Matchers = append(sil.Matchers, &fleetv1.SilenceMatcher{Name: m.Name, Value: m.Value})
	}
	resp, err := h.alert.CreateSilence(callContext(r.Context(), s), &fleetv1.CreateSilenceRequest{Silence: sil})
	if err != nil {
		writeStatus(w, err)
		return
	}
	h.cfg.Log.Info("silence from the dashboard", "silence", resp.GetSilence().GetId(), "remote", r.RemoteAddr, "role", s.role)
	out, err := protojson.Marshal(resp.GetSilence())
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, rawJSON(out))
}

// deleteSilence ends a silence (AlertService.DeleteSilence).
func (h *Handler) deleteSilence(w http.ResponseWriter, r *http.Request, s *session) {
	if _, err := h.alert.DeleteSilence(callContext(r.Context(), s), &fleetv1.DeleteSilenceRequest{Id: r.PathValue("id")}); err != nil {
		writeStatus(w, err)
		return
	}
	h.cfg.Log.Info("silence deleted from the dashboard", "silence", r.PathValue("id"), "remote", r.RemoteAddr, "role", s.role)
	writeJSON(w, struct{}{})
}
