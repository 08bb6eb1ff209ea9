package cost

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/pkg/cost"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// recsEvery is how often the cost step draws recommendations from the ledger's last week.
const recsEvery = 10 * time.Minute

// recEvidence gathers what the recommendations rest on from the ledger, the usage samples and
// the current nodes over [from, now].
func (c *Tracker) recEvidence(nodes []*fleetv1.Node, from, now time.Time) (cost.Evidence, time.Duration, error) {
	first, last := hourOf(from), hourOf(now)
	type nodeAcc struct {
		upHours  float64
		requests uint64
		perHour  map[int64]float64
	}
	byNode := map[string]*nodeAcc{}
	progs := map[string]*cost.ProgramUsage{}
	models := map[string]*cost.ModelUsage{}
	earliest := last
	err := c.store.View(func(tx *store.Tx) error {
		return scanLedger(tx, first, last, func(key ledgerKey, a cost.Amount) {
			earliest = min(earliest, key.hour)
			n := byNode[key.node]
			if n == nil {
				n = &nodeAcc{perHour: map[int64]float64{}}
				byNode[key.node] = n
			}
			switch key.dim {
			case cost.DimHost:
				h := (a.UpSeconds + a.UnpricedSeconds) / 3600
				n.upHours += h
				n.perHour[key.hour] += h
			case cost.DimModel:
				n.requests += a.Requests
				m := models[key.name]
				if m == nil {
					m = &cost.ModelUsage{Model: key.name}
					models[key.name] = m
				}
				m.InputTokens += a.InputTokens
				m.OutputTokens += a.OutputTokens
				m.CostUSD += a.USD
			case cost.DimProgram:
				p := progs[key.name]
				if p == nil {
					p = &cost.ProgramUsage{Program: key.name}
					progs[key.name] = p
				}
				p.Requests += a.Requests
				p.CacheHits += a.CacheHits
				p.CacheMisses += a.CacheMisses
				p.CostUSD += a.USD
			}
		})
	})
	if err != nil {
		return cost.Evidence{}, 0, err
	}
	usage, err := loadUsage(c.store, first, last)
	if err != nil {
		return cost.Evidence{}, 0, err
	}
	var ev cost.Evidence
	baselines := map[[2]string]*cost.Baseline{}
	// Complete hours of history only: the current hour is still filling.
	hours := int(last - earliest)
	for _, n := range nodes {
		host, err := hostOf(n)
		if err != nil {
			continue
		}
		acc := byNode[n.GetId()]
		if acc == nil {
			acc = &nodeAcc{}
		}
		nu := cost.NodeUsage{Node: n.GetId(), Pool: n.GetPool(), Host: host, Requests: acc.requests, UpHours: acc.upHours,
			Tolerant: n.GetLabels()[tolerantLabel] == "true"}
		if u := usage[n.GetId()]; u != nil {
			cpu, ok1 := u.cpu.Quantile(0.95)
			mem, ok2 := u.mem.Quantile(0.95)
			nu.CPUP95, nu.MemP95, nu.HaveUsage = cpu, mem, ok1 && ok2
		}
		ev.Nodes = append(ev.Nodes, nu)
		if host.Purchase != cost.OnDemand || host.ExplicitHourly > 0 || host.InstanceType == "" || hours <= 0 {
			continue
		}
		key := [2]string{n.GetPool(), host.InstanceType}
		b := baselines[key]
		if b == nil {
			b = &cost.Baseline{Pool: n.GetPool(), InstanceType: host.InstanceType, NodeHours: make([]float64, hours)}
			baselines[key] = b
		}
		for i := range hours {
			b.NodeHours[i] += acc.perHour[earliest+int64(i)]
		}
	}
	for _, k := range sortedPairs(baselines) {
		ev.Baselines = append(ev.Baselines, *baselines[k])
	}
	for _, name := range slices.Sorted(maps.Keys(progs)) {
		ev.Programs = append(ev.Programs, *progs[name])
	}
	for _, name := range slices.Sorted(maps.Keys(models)) {
		ev.Models = append(ev.Models, *models[name])
	}
	start := hourTime(earliest)
	if from.After(start) {
		start = from
	}
	return ev, now.Sub(start), nil
}

// sortedPairs returns m's keys in order.
func sortedPairs[V any](m map[[2]string]V) [][2]string {
	return slices.SortedFunc(maps.Keys(m), func(a, b [2]string) int {
		return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]))
	})
}

// recommend draws the recommendations from the last week with prices and installs them,
// unless a draw at a later time was installed meanwhile. It reads the store without c.mu.
func (c *Tracker) recommend(nodes []*fleetv1.Node, prices cost.Table, now time.Time) ([]cost.Recommendation, time.Time, error) {
	cfg := cost.DefaultRecConfig()
	ev, window, err := c.recEvidence(nodes, now.Add(-cfg.Window), now)
	if err != nil {
		return nil, time.Time{}, err
	}
	cfg.Window = max(window, time.Hour)
	recs := cost.Recommend(ev, prices, cfg)
	c.mu.Lock()
	if !now.Before(c.recsAt) {
		c.recs, c.recsAt = recs, now
	}
	c.mu.Unlock()
	return recs, now, nil
}

var recStates = map[fleetv1.RecommendationState]bool{
	fleetv1.RecommendationState_RECOMMENDATION_STATE_OPEN:      true,
	fleetv1.RecommendationState_RECOMMENDATION_STATE_DISMISSED: true,
	fleetv1.RecommendationState_RECOMMENDATION_STATE_DONE:      true,
}

// ListRecs draws the recommendations afresh and returns them with their operator state, most
// savings first.
func (c *Tracker) ListRecs(includeClosed bool, now time.Time) (*fleetv1.ListRecommendationsResponse, error) {
	nodes := c.reg.ListShared()
	c.mu.Lock()
	prices := c.prices
	c.mu.Unlock()
	recs, at, err := c.recommend(nodes, prices, now)
	if err != nil {
		return nil, err
	}
	states, err := loadRecStates(c.store)
	if err != nil {
		return nil, err
	}
	resp := &fleetv1.ListRecommendationsResponse{}
	if !at.IsZero() {
		resp.Evaluated = timestamppb.New(at)
	}
	for _, r := range recs {
		pr := recToProto(r, states[r.ID])
		open := pr.GetState() == fleetv1.RecommendationState_RECOMMENDATION_STATE_OPEN
		if open {
			resp.MonthlySavingsUsd += r.MonthlySavingsUSD
		}
		if open || includeClosed {
			resp.Recommendations = append(resp.Recommendations, pr)
		}
	}
	return resp, nil
}

func recToProto(r cost.Recommendation, st *fleetv1.Recommendation) *fleetv1.Recommendation {
	pr := &fleetv1.Recommendation{
		Id: r.ID, Kind: string(r.Kind), Subject: r.Subject, Pool: r.Pool, Summary: r.Summary, Evidence: r.Evidence,
		MonthlySavingsUsd: r.MonthlySavingsUSD, State: fleetv1.RecommendationState_RECOMMENDATION_STATE_OPEN,
	}
	if st != nil {
		pr.State, pr.StateChanged = st.GetState(), st.GetStateChanged()
	}
	pr.Etag = recEtag(r.ID, st)
	return pr
}

// recEtag is the etag of a recommendation's operator state st (nil: never set, so open).
func recEtag(id string, st *fleetv1.Recommendation) string {
	state := &fleetv1.Recommendation{Id: id, State: fleetv1.RecommendationState_RECOMMENDATION_STATE_OPEN}
	if st != nil {
		state.State, state.StateChanged = st.GetState(), st.GetStateChanged()
	}
	return check.Etag(state)
}

// UpdateRec sets a current recommendation's state; a non-empty etag must be the one of its
// state now (checked in the write's transaction).
func (c *Tracker) UpdateRec(id string, state fleetv1.RecommendationState, etag string, now time.Time) (*fleetv1.Recommendation, error) {
	if !recStates[state] {
		return nil, check.Invalidf("state: %s is not OPEN, DISMISSED or DONE", state)
	}
	c.mu.Lock()
	var found *cost.Recommendation
	for _, r := range c.recs {
		if r.ID == id {
			found = &r
			break
		}
	}
	c.mu.Unlock()
	if found == nil {
		return nil, fmt.Errorf("%w: no current recommendation %q; list them with fleetctl cost recs", check.ErrNotFound, check.Truncate(id))
	}
	st := &fleetv1.Recommendation{Id: id, State: state, StateChanged: timestamppb.New(now)}
	raw, err := proto.Marshal(st)
	if err != nil {
		return nil, err
	}
	err = c.store.Update(func(tx *store.Tx) error {
		b := tx.Bucket(store.CostRecs)
		if etag != "" {
			var cur *fleetv1.Recommendation
			if v := b.Get([]byte(id)); v != nil {
				cur = &fleetv1.Recommendation{}
				if err := proto.Unmarshal(v, cur); err != nil {
					return fmt.Errorf("recommendation %q: stored state: %w", id, err)
				}
			}
			if have := recEtag(id, cur); have != etag {
				return &check.ConflictError{What: "recommendation " + check.Truncate(id), Want: etag, Have: have,
					Retry: "another operator changed its state: list it again (fleetctl cost recs), then update it with the new etag"}
			}
		}
		return b.Put([]byte(id), raw)
	})
	if err != nil {
		return nil, err
	}
	return recToProto(*found, st), nil
}

// loadRecStates reads the operators' recommendation states.
func loadRecStates(s *store.Store) (map[string]*fleetv1.Recommendation, error) {
	out := map[string]*fleetv1.Recommendation{}
	err := s.View(func(tx *store.Tx) error {
		return store.EachProto(tx.Bucket(store.CostRecs), "recommendation", func(k []byte, r *fleetv1.Recommendation) error {
			out[string(k)] = r
			return nil
		})
	})
	return out, err
}
