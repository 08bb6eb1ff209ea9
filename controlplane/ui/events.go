package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Event stream timing: changes are sent at most once per coalesceInterval (the newest row of
// each node), and a comment every keepAliveInterval keeps idle connections open through proxies.
const (
	coalesceInterval  = time.Second
	keepAliveInterval = 15 * time.Second
)

// events streams node changes as server-sent events, fed by FleetService.WatchNodes with
// reports: "nodes" events carry the changed rows (the newest of each node since the previous
// event), "synced" follows the rows that existed when the stream opened. The stream ends when
// the browser goes, the watch ends or the control plane stops; the browser's EventSource
// reconnects.
func (h *Handler) events(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stream, err := h.fleet.WatchNodes(callContext(ctx, s), &fleetv1.WatchNodesRequest{IncludeReports: true})
	if err != nil {
		writeStatus(w, err)
		return
	}
	// A refused watch (token, role, limits) fails its first Recv: answer it with its status.
	first, err := stream.Recv()
	if err != nil {
		writeStatus(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)

	var (
		mu      sync.Mutex
		pending = make(map[string]nodeRow)
		synced  bool
		notify  = make(chan struct{}, 1)
	)
	take := func(resp *fleetv1.WatchNodesResponse) {
		mu.Lock()
		if resp.GetType() == fleetv1.NodeEventType_NODE_EVENT_TYPE_SYNCED {
			synced = true
		} else if n := resp.GetNode(); n != nil {
			row := toRow(n)
			row.Removed = resp.GetType() == fleetv1.NodeEventType_NODE_EVENT_TYPE_REMOVED
			pending[n.GetId()] = row
		}
		mu.Unlock()
		select {
		case notify <- struct{}{}:
		default:
		}
	}
	take(first)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		for {
			resp, err := stream.Recv()
			if err != nil {
				return err
			}
			take(resp)
		}
	})
	g.Go(func() error {
		defer cancel() // ends the watch, and so the receiving goroutine
		keepAlive := time.NewTicker(keepAliveInterval)
		defer keepAlive.Stop()
		for {
			select {
			case <-gctx.Done():
				return gctx.Err()
			case <-h.cfg.Stopping:
				return errStopping
			case <-keepAlive.C:
				if err := writeEvent(rc, w, "", nil); err != nil {
					return err
				}
				continue
			case <-notify:
			}
			mu.Lock()
			rows := slices.Collect(maps.Values(pending))
			clear(pending)
			sendSynced := synced
			synced = false
			mu.Unlock()
			if len(rows) > 0 {
				if err := writeEvent(rc, w, "nodes", rows); err != nil {
					return err
				}
			}
			if sendSynced {
				if err := writeEvent(rc, w, "synced", struct{}{}); err != nil {
					return err
				}
			}
			select {
			case <-gctx.Done():
				return gctx.Err()
			case <-time.After(coalesceInterval):
			}
		}
	})
	err = g.Wait()
	h.cfg.Log.Debug("dashboard event stream ended", "remote", r.RemoteAddr, "err", err)
}

// errStopping ends event streams when the control plane stops.
var errStopping = fmt.Errorf("the control plane is stopping")

// writeEvent writes one server-sent event (a keep-alive comment when name is "") and flushes it.
func writeEvent(rc *http.ResponseController, w http.ResponseWriter, name string, v any) error {
	if name == "" {
		if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
			return err
		}
		return rc.Flush()
	}
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, data); err != nil {
		return err
	}
	return rc.Flush()
}
