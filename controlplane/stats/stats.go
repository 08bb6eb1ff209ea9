package stats

import (
	"bytes"
	"encoding/binary"
	"maps"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/internal/wire"
	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TopN is how many models and programs a pool's figures list before "other".
const TopN = 10

// MemoryMinutes is how many recent minutes of rollups stay in memory; older ones are read from
// bbolt.
const MemoryMinutes = 90

// RollupKey names one node's rollup of one minute.
type RollupKey struct {
	Minute int64 // unix minutes
	Pool   string
	Node   string
}

// encode is the bbolt key: 8-byte big-endian minute, pool, 0, node — time-ordered so a window
// is one Cursor.Seek and a scan.
func (k RollupKey) encode() []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(k.Pool)+1+len(k.Node)), uint64(k.Minute))
	b = append(b, k.Pool...)
	b = append(b, 0)
	return append(b, k.Node...)
}

func decodeRollupKey(b []byte) (RollupKey, bool) {
	if len(b) < 10 {
		return RollupKey{}, false
	}
	pool, node, ok := bytes.Cut(b[8:], []byte{0})
	if !ok {
		return RollupKey{}, false
	}
	return RollupKey{Minute: int64(binary.BigEndian.Uint64(b[:8])), Pool: string(pool), Node: string(node)}, true
}

// Requests keeps one-minute rollups of the DSPy request figures per pool and node: in memory
// for the recent past, in bbolt (one transaction per flush) for the retention.
type Requests struct {
	now       func() time.Time
	store     *store.Store
	retention time.Duration

	mu      sync.Mutex
	minutes map[int64]map[string]*poolMinute // unix minute -> pool -> that pool's rollups
	dirty   map[RollupKey]struct{}
	totals  map[[2]string]*totals // cumulative per pool and node since start, for Prometheus counters
	pruned  time.Time             // last deletion of rollups past the retention
}

// poolMinute is one pool's rollups of one minute, by node. Readers take it by reference under
// the lock and read it after; once shared it is never written again: Add writes to a copy
// (copy on write), so a reconcile step's read costs the lock a map lookup per minute and pool,
// not a copy of every node's rollup.
type poolMinute struct {
	nodes  map[string]reqstats.Window
	shared bool
}

// writableLocked returns the rollups of pool in minute for a write, copying them first when a
// reader holds them.
func (s *Requests) writableLocked(minute int64, pool string) *poolMinute {
	pools := s.minutes[minute]
	if pools == nil {
		pools = make(map[string]*poolMinute)
		s.minutes[minute] = pools
	}
	pm := pools[pool]
	switch {
	case pm == nil:
		pm = &poolMinute{nodes: make(map[string]reqstats.Window)}
		pools[pool] = pm
	case pm.shared:
		pm = &poolMinute{nodes: maps.Clone(pm.nodes)}
		pools[pool] = pm
	}
	return pm
}

// LatencyBuckets are the upper bounds, in seconds, of the cumulative latency histogram the
// control plane exports per pool (dspyfleet_dspy_request_duration_seconds).
var LatencyBuckets = [...]float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}

// latencyBoundsMs are LatencyBuckets in the sketches' unit, milliseconds.
var latencyBoundsMs = func() (ms [len(LatencyBuckets)]float64) {
	for i, b := range LatencyBuckets {
		ms[i] = b * 1000
	}
	return ms
}()

// totals are cumulative counters of one node in one pool.
type totals struct {
	Requests, Errors, InputTokens, OutputTokens, CacheHits, CacheMisses uint64
	CostUSD, SavedUSD                                                   float64
	// LatencyAtMost counts the requests whose latency was at most LatencyBuckets[i] (within
	// the sketches' accuracy); LatencyCount and LatencySeconds are the requests with a latency
	// and its sum.
	LatencyAtMost  [len(LatencyBuckets)]uint64
	LatencyCount   uint64
	LatencySeconds float64
}

func NewRequests(now func() time.Time, st *store.Store, retention time.Duration) *Requests {
	return &Requests{
		now: now, store: st, retention: retention,
		minutes: make(map[int64]map[string]*poolMinute),
		dirty:   make(map[RollupKey]struct{}),
		totals:  make(map[[2]string]*totals),
	}
}

// Add merges one accepted report's app section into its node's rollup of the report's minute.
// A buffered report keeps its original time and so lands in the minute it describes.
func (s *Requests) Add(pool, node string, rep *fleetv1.MetricsReport) error {
	app := rep.GetApp()
	// A report without requests adds nothing (validation holds the sketches to the request
	// count); skipping it keeps idle nodes out of the rollups that every reconcile tick scans.
	if app.GetRequests() == 0 {
		return nil
	}
	t := rep.GetTime().AsTime()
	start := t.Truncate(time.Minute)
	w, err := wire.WindowFromApp(app, start, start.Add(time.Minute))
	if err != nil {
		return err
	}
	key := RollupKey{Minute: start.Unix() / 60, Pool: pool, Node: node}
	var atMost [len(LatencyBuckets)]uint64
	w.Latency.CountsAtMost(latencyBoundsMs[:], atMost[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	pm := s.writableLocked(key.Minute, pool)
	if prev, ok := pm.nodes[node]; ok {
		if w, err = reqstats.MergeWindows(TopN, prev, w); err != nil {
			return err
		}
	}
	pm.nodes[node] = w
	s.dirty[key] = struct{}{}
	tot := s.totals[[2]string{pool, node}]
	if tot == nil {
		tot = &totals{}
		s.totals[[2]string{pool, node}] = tot
	}
	tot.Requests += app.GetRequests()
	tot.Errors += app.GetErrors()
	tot.InputTokens += app.GetInputTokens()
	tot.OutputTokens += app.GetOutputTokens()
	tot.CacheHits += app.GetCacheHits()
	tot.CacheMisses += app.GetCacheMisses()
	tot.CostUSD += app.GetCostUsd()
	tot.SavedUSD += app.GetSavedUsd()
	for i, n := range atMost {
		tot.LatencyAtMost[i] += n
	}
	tot.LatencyCount += w.Latency.Count()
	tot.LatencySeconds += w.Latency.Sum() / 1000
	return nil
}

// Flush writes changed rollups in one transaction, forgets minutes older than the in-memory
// span, and deletes stored minutes past the retention.
func (s *Requests) Flush() error {
	now := s.now()
	s.mu.Lock()
	changed := make(map[RollupKey]reqstats.Window, len(s.dirty))
	for k := range s.dirty {
		changed[k] = s.minutes[k.Minute][k.Pool].nodes[k.Node]
	}
	clear(s.dirty)
	oldest := now.Add(-MemoryMinutes*time.Minute).Unix() / 60
	maps.DeleteFunc(s.minutes, func(m int64, _ map[string]*poolMinute) bool { return m < oldest })
	prune := now.Sub(s.pruned) >= time.Minute
	if prune {
		s.pruned = now
	}
	cutoff := binary.BigEndian.AppendUint64(nil, uint64(now.Add(-s.retention).Unix()/60))
	s.mu.Unlock()
	recs := make(map[string][]byte, len(changed))
	for k, w := range changed {
		b, err := proto.Marshal(wire.AppFromWindow(w, 0, 0))
		if err != nil {
			return err
		}
		recs[string(k.encode())] = b
	}
	if len(recs) == 0 && !prune {
		return nil
	}
	return s.store.Update(func(tx *store.Tx) error {
		b := tx.Bucket(store.Rollups)
		for k, v := range recs {
			if err := b.Put([]byte(k), v); err != nil {
				return err
			}
		}
		if !prune {
			return nil
		}
		return b.DeleteRange(nil, cutoff)
	})
}

// Window merges the rollups of pool in [from, now], per node, from memory and bbolt.
func (s *Requests) Window(pool string, from time.Time) (map[string][]reqstats.Window, error) {
	first := from.Unix() / 60
	byNode := make(map[string][]reqstats.Window)
	s.mu.Lock()
	memFirst := int64(1<<63 - 1)
	var held []*poolMinute
	for m, pools := range s.minutes {
		memFirst = min(memFirst, m)
		if pm := pools[pool]; pm != nil && m >= first {
			pm.shared = true
			held = append(held, pm)
		}
	}
	s.mu.Unlock()
	for _, pm := range held {
		for node, w := range pm.nodes {
			byNode[node] = append(byNode[node], w)
		}
	}
	if first >= memFirst {
		return byNode, nil
	}
	err := s.scanStored(first, memFirst, pool, func(key RollupKey, w reqstats.Window) {
		byNode[key.Node] = append(byNode[key.Node], w)
	})
	return byNode, err
}

// Counters returns a copy of the cumulative counters per pool and node.
func (s *Requests) Counters() map[[2]string]totals {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[[2]string]totals, len(s.totals))
	for k, t := range s.totals {
		out[k] = *t
	}
	return out
}

// ToRequestStats renders a merged window.
func ToRequestStats(name string, w reqstats.Window, inFlight uint32) *fleetv1.RequestStats {
	app := wire.AppFromWindow(w, int(inFlight), 0)
	return &fleetv1.RequestStats{
		Name: name, Start: timestamppb.New(w.Start), End: timestamppb.New(w.End),
		Requests: app.GetRequests(), Errors: app.GetErrors(), ErrorRate: app.GetErrorRate(), RequestsPerSecond: app.GetRequestsPerSecond(),
		LatencyP50Ms: app.GetLatencyP50Ms(), LatencyP95Ms: app.GetLatencyP95Ms(), LatencyP99Ms: app.GetLatencyP99Ms(),
		InputTokens: app.GetInputTokens(), OutputTokens: app.GetOutputTokens(), CacheHits: app.GetCacheHits(), CacheMisses: app.GetCacheMisses(),
		CacheHitRatio: app.GetCacheHitRatio(), CostUsd: app.GetCostUsd(), SavedUsd: app.GetSavedUsd(), InFlight: inFlight,
		Latency: app.GetLatency(), Models: app.GetModels(), Programs: app.GetPrograms(),
		TtftP50Ms: w.TTFT.Quantile(0.5), TtftP95Ms: w.TTFT.Quantile(0.95), TtftP99Ms: w.TTFT.Quantile(0.99), Ttft: app.GetTtft(),
	}
}

// SetRetention changes how long request rollups are kept.
func (s *Requests) SetRetention(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retention = d
}

// Retention is how long request rollups are kept.
func (s *Requests) Retention() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.retention
}

// Now is the time on the clock the rollups are kept by.
func (s *Requests) Now() time.Time { return s.now() }
