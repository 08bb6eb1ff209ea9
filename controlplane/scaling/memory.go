package scaling

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/pkg/scaling"
)

// scalingMemory is what the scaler remembers of a pool between ticks, persisted so that a
// restart keeps the stabilization and rate history, the rule timers, the nodes asked for and
// the hook jobs not yet done (a drained victim must still be removed).
type scalingMemory struct {
	State     scaling.State  `json:"state"`
	Launch    launchMemory   `json:"launch"`
	Instances map[string]int `json:"instances,omitempty"`
	Job       *jobMemory     `json:"job,omitempty"`
	Queued    *jobMemory     `json:"queued,omitempty"`
}

type launchMemory struct {
	Desired int       `json:"desired"`
	Until   time.Time `json:"until"`
}

type jobMemory struct {
	Actuator string    `json:"actuator"`
	Current  int       `json:"current"`
	Desired  int       `json:"desired"`
	Victims  []string  `json:"victims,omitempty"`
	State    string    `json:"state"`
	Attempts int       `json:"attempts"`
	Detail   string    `json:"detail"`
	Time     time.Time `json:"time"`
	Next     time.Time `json:"next"`
	// Sent and Note are the instances actuator's scale commands and what they could not do.
	Sent map[string]sentMemory `json:"sent,omitempty"`
	Note string                `json:"note,omitempty"`
}

type sentMemory struct {
	Command   string `json:"command,omitempty"`
	Instances int    `json:"instances"`
	State     string `json:"state,omitempty"`
	Detail    string `json:"detail,omitempty"`
}

func jobToMemory(j *hookJob) *jobMemory {
	if j == nil {
		return nil
	}
	m := &jobMemory{Actuator: j.actuator, Current: j.current, Desired: j.desired, Victims: j.victims, State: j.state,
		Attempts: j.attempts, Detail: j.detail, Time: j.time, Next: j.next, Note: j.note}
	for id, sc := range j.sent {
		if m.Sent == nil {
			m.Sent = make(map[string]sentMemory, len(j.sent))
		}
		m.Sent[id] = sentMemory{Command: sc.command, Instances: sc.instances, State: sc.state, Detail: sc.detail}
	}
	return m
}

// jobFromMemory restores a job; a hook that was running when the control plane stopped runs
// again (hooks take DESIRED as the target size, so a second run is harmless), and an instances
// job goes on waiting for its scale commands, which the command queue keeps.
func jobFromMemory(m *jobMemory) *hookJob {
	if m == nil {
		return nil
	}
	j := &hookJob{actuator: m.Actuator, current: m.Current, desired: m.Desired, victims: m.Victims, state: m.State,
		attempts: m.Attempts, detail: m.Detail, time: m.Time, next: m.Next, note: m.Note}
	for id, sm := range m.Sent {
		if j.sent == nil {
			j.sent = make(map[string]*sentScale, len(m.Sent))
		}
		j.sent[id] = &sentScale{command: sm.Command, instances: sm.Instances, state: sm.State, detail: sm.Detail}
	}
	if j.state == actRunning && j.actuator != "instances" {
		j.state, j.detail = actPending, "interrupted by a control plane restart; running again"
	}
	return j
}

// encodeMemoryLocked returns the pool's memory as stored; without the recommendation history
// it is the part whose change is worth a write.
func (ps *poolScaling) encodeMemoryLocked(history bool) ([]byte, error) {
	st := ps.state
	if !history {
		st.Recommendations = nil
	}
	return json.Marshal(scalingMemory{
		State: st, Launch: launchMemory{Desired: ps.launch.desired, Until: ps.launch.until},
		Instances: ps.instances, Job: jobToMemory(ps.job), Queued: jobToMemory(ps.queued),
	})
}

// restoreMemory loads a stored memory into ps.
func (ps *poolScaling) restoreMemory(b []byte) error {
	var m scalingMemory
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	ps.state = m.State
	ps.launch = launch{desired: m.Launch.Desired, until: m.Launch.Until}
	if m.Instances != nil {
		ps.instances = m.Instances
	}
	ps.job, ps.queued = jobFromMemory(m.Job), jobFromMemory(m.Queued)
	ps.started = true
	var err error
	ps.saved, err = ps.encodeMemoryLocked(false)
	return err
}

// changedMemoryLocked returns the memories to store: with all set, every pool's; else those of
// pools whose actions, rule timers, launches, instances or jobs changed since the last write.
// The recommendation history alone changes every tick and is not worth a write of its own; it
// goes along with the others and at shutdown.
func (sc *Scaler) changedMemoryLocked(all bool) (map[string][]byte, map[string][]byte, error) {
	out, keys := make(map[string][]byte), make(map[string][]byte)
	for pool, ps := range sc.pools {
		key, err := ps.encodeMemoryLocked(false)
		if err != nil {
			return nil, nil, fmt.Errorf("pool %s: %w", pool, err)
		}
		if !all && bytes.Equal(key, ps.saved) {
			continue
		}
		if out[pool], err = ps.encodeMemoryLocked(true); err != nil {
			return nil, nil, fmt.Errorf("pool %s: %w", pool, err)
		}
		keys[pool] = key
	}
	return out, keys, nil
}

// markSaved records what was stored, once the transaction committed.
func (sc *Scaler) markSaved(keys map[string][]byte) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for pool, k := range keys {
		if ps := sc.pools[pool]; ps != nil {
			ps.saved = k
		}
	}
}

// saveMemory stores every pool's memory, history included; Run calls it when it stops.
func (sc *Scaler) saveMemory() error {
	sc.mu.Lock()
	memory, keys, err := sc.changedMemoryLocked(true)
	sc.mu.Unlock()
	if err != nil {
		return err
	}
	if err := recordScaling(sc.Store, nil, memory, sc.now()); err != nil {
		return err
	}
	sc.markSaved(keys)
	return nil
}

// loadScalingMemory reads every stored pool memory.
func loadScalingMemory(s *store.Store) (map[string][]byte, error) {
	out := make(map[string][]byte)
	err := s.View(func(tx *store.Tx) error {
		return tx.Bucket(store.ScalingMemory).ForEach(func(k, v []byte) error {
			out[string(k)] = bytes.Clone(v)
			return nil
		})
	})
	return out, err
}
