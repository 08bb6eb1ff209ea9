package main

import (
	"context"
	"fmt"
	"time"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// waitPoll is how often a wait for a command also asks GetCommand: the watch may have started
// on the server only after the command changed, or may have failed.
var waitPoll = 2 * time.Second

// commandWatch follows the command changes of one node, for waiting on a command.
type commandWatch struct {
	records chan *fleetv1.CommandRecord
	done    chan struct{} // closed when the watch has ended
	cancel  context.CancelFunc
}

// startCommandWatch opens a WatchCommands stream for nodeID and receives from it until stop.
// A watch that cannot be opened or fails ends quietly: the wait goes on with GetCommand.
func startCommandWatch(ctx context.Context, client fleetv1.FleetServiceClient, nodeID string) *commandWatch {
	ctx, cancel := context.WithCancel(ctx)
	w := &commandWatch{records: make(chan *fleetv1.CommandRecord, 16), done: make(chan struct{}), cancel: cancel}
	stream, err := client.WatchCommands(ctx, &fleetv1.WatchCommandsRequest{NodeId: nodeID})
	if err != nil {
		close(w.done)
		return w
	}
	go func() {
		defer close(w.done)
		for {
			ev, err := stream.Recv()
			if err != nil {
				return
			}
			select {
			case w.records <- ev.GetCommand():
			case <-ctx.Done():
				return
			}
		}
	}()
	return w
}

// stop ends the watch and waits for its receiver to return.
func (w *commandWatch) stop() {
	w.cancel()
	<-w.done
}

// await waits until rec's command is terminal and returns its stored record then. It takes
// changes from the watch and asks GetCommand, each call bounded by timeout (0 for none), every
// waitPoll and once more at the end. onChange is called with every record newer than the last;
// a record is newer when its history is longer, as history only grows. It fails when ctx ends
// first.
func (w *commandWatch) await(ctx context.Context, client fleetv1.FleetServiceClient, rec *fleetv1.CommandRecord, timeout time.Duration,
	onChange func(*fleetv1.CommandRecord) error) (*fleetv1.CommandRecord, error) {
	id := rec.GetCommand().GetId()
	poll := time.NewTicker(waitPoll)
	defer poll.Stop()
	watchDone := w.done
	for !terminal(rec.GetState()) {
		var next *fleetv1.CommandRecord
		var err error
		select {
		case <-ctx.Done():
		case r := <-w.records:
			if r.GetCommand().GetId() == id {
				next = r
			}
		case <-watchDone:
			// Without a watch, only polling is left; ask at once, then every waitPoll.
			watchDone = nil
			poll.Reset(waitPoll)
			next, err = getRecord(ctx, client, id, timeout)
		case <-poll.C:
			next, err = getRecord(ctx, client, id, timeout)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("stopped waiting: command %s is still %s; see fleetctl cmd get %s", id, commandStateName(rec.GetState()), id)
		}
		if err != nil {
			return nil, err
		}
		if len(next.GetHistory()) > len(rec.GetHistory()) {
			rec = next
			if err := onChange(rec); err != nil {
				return nil, err
			}
		}
	}
	// The stored record is the whole outcome; a watch event may lack the fields of the last
	// change. If it cannot be had, the outcome is known all the same.
	if last, err := getRecord(ctx, client, id, timeout); err == nil && terminal(last.GetState()) {
		rec = last
	}
	return rec, nil
}

// getRecord asks GetCommand for the command id, within timeout (0 for none).
func getRecord(ctx context.Context, client fleetv1.FleetServiceClient, id string, timeout time.Duration) (*fleetv1.CommandRecord, error) {
	ctx, cancel := withTimeout(ctx, timeout)
	defer cancel()
	resp, err := client.GetCommand(ctx, &fleetv1.GetCommandRequest{Id: id})
	if err != nil {
		return nil, err
	}
	return resp.GetCommand(), nil
}
