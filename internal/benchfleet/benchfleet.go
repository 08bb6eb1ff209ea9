// Package benchfleet builds a large fleet for benchmarks of the reconcile steps: a registry of
// attached nodes with realistic last reports, request rollups of recent minutes in memory, and
// the report path of AgentService.Connect (fleet.Registry.ApplyReport, then
// stats.Requests.Add) driven at a fleet's report rate while a step runs, timing how long each
// report waits.
//
// It imports only controlplane/fleet, controlplane/stats and controlplane/store, so the
// subsystem packages that may import those (router, cost, scaling, alerts) can use it from their
// tests without an import cycle; internal/fleettest cannot serve them, since it imports the
// control plane's wiring, which imports them.
package benchfleet

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"runtime/metrics"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/fleet"
	"github.com/dspyfleet/dspyfleet/controlplane/stats"
	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/internal/wire"
	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// What every node announces and reports: a priced instance type and two priced models, so the
// cost step has host and token cost to compute.
const (
	InstanceType = "m.large"
	ModelSmall   = "openai/gpt-4o-mini"
	ModelLarge   = "anthropic/claude-sonnet"
)

// Programs are the DSPy programs the reports break requests down by.
var Programs = []string{"qa", "summarize", "classify", "extract"}

// Options describe a fleet. Zero fields take the defaults.
type Options struct {
	// Nodes is the number of attached nodes; default 10,000.
	Nodes int
	// Pools spreads the nodes evenly over pool-0, pool-1, …; default 4.
	Pools int
	// History is how many minutes of request rollups before Start the stats hold in memory, one
	// rollup per node and minute; default 10.
	History int
	// Start is the fleet clock's time when New returns; default 2026-11-27 10:00:00 UTC.
	Start time.Time
	// Rate is the reports per second WhileReporting sends; default 10,000 (10,000 agents
	// reporting every second, the BENCHMARKS.md target).
	Rate int
	// Senders is how many goroutines share Rate; default 16.
	Senders int
}

// The report load of WhileReporting can be set for a whole run: -benchfleet.senders=1 with
// -benchfleet.rate=1000 times each report with no other report in its way, so its wait is what
// the step (and the collector) cost it, not the queue of reports behind one lock.
var (
	sendersFlag = flag.Int("benchfleet.senders", 0, "goroutines sending reports while a step runs (0: the benchmark's own, 16 by default)")
	rateFlag    = flag.Int("benchfleet.rate", 0, "reports per second while a step runs (0: the benchmark's own, 10,000 by default)")
)

func (o Options) withDefaults() Options {
	if *sendersFlag > 0 {
		o.Senders = *sendersFlag
	}
	if *rateFlag > 0 {
		o.Rate = *rateFlag
	}
	if o.Nodes == 0 {
		o.Nodes = 10_000
	}
	if o.Pools == 0 {
		o.Pools = 4
	}
	if o.History == 0 {
		o.History = 10
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	}
	if o.Rate == 0 {
		o.Rate = 10_000
	}
	if o.Senders == 0 {
		o.Senders = 16
	}
	return o
}

// Fleet is a registry of attached nodes with their reports, the request rollups, the store they
// share and a clock the benchmark moves.
type Fleet struct {
	Store *store.Store
	Reg   *fleet.Registry
	Stats *stats.Requests
	// Pools lists the pools, sorted; Nodes the node ids, in order.
	Pools []string
	Nodes []string
	// HistoryStart is the first minute of the rollups in memory.
	HistoryStart time.Time

	opts  Options
	clock atomic.Int64 // unix nanoseconds
	nodes []*node
	hosts []*fleetv1.HostMetrics
	apps  []*fleetv1.AppMetrics
}

// node is one attached node; only one sender goroutine reports a given node, so seq needs no lock.
type node struct {
	sess *fleet.Session
	seq  uint64
}

// variants is how many distinct host and app sections the reports cycle through.
const variants = 16

// New attaches o.Nodes nodes to a fresh registry over a bbolt file in tb.TempDir(), gives each a
// last report, and fills o.History minutes of request rollups. The store is closed when tb ends.
func New(tb testing.TB, o Options) *Fleet {
	tb.Helper()
	o = o.withDefaults()
	runtime.GC() // the heap of a fleet built before (another benchmark, another -count) is gone
	st, err := store.Open(tb.TempDir(), time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	f := &Fleet{Store: st, opts: o, HistoryStart: o.Start.Add(-time.Duration(o.History) * time.Minute)}
	f.clock.Store(f.HistoryStart.UnixNano())
	f.Reg = fleet.NewRegistry(f.Now, fleet.Liveness{NodeTTL: time.Hour, Grace: time.Minute, FailoverTTL: time.Hour, DefaultInterval: time.Second}, 16)
	f.Stats = stats.NewRequests(f.Now, st, 14*24*time.Hour)
	for p := range o.Pools {
		f.Pools = append(f.Pools, fmt.Sprintf("pool-%d", p))
	}
	for v := range variants {
		f.hosts = append(f.hosts, hostMetrics(v))
		f.apps = append(f.apps, appMetrics(v, f.HistoryStart))
	}
	for i := range o.Nodes {
		id := fmt.Sprintf("node-%05d", i)
		labels := map[string]string{"zone": fmt.Sprintf("zone-%c", 'a'+i%3), "purchase": "on-demand"}
		if (i/o.Pools)%4 == 3 { // a quarter of every pool
			labels["purchase"], labels["spot"] = "spot", "true"
		}
		h := &fleetv1.Hello{
			NodeId: id, InstanceId: "instance-1", Pool: f.Pools[i%o.Pools], Labels: labels, Weight: 1,
			InstanceType: InstanceType, AgentVersion: "1.4.2", Hostname: id + ".fleet.internal",
			ReportInterval: durationpb.New(time.Second), AdvertiseAddress: fmt.Sprintf("10.%d.%d.%d:8000", i>>16, (i>>8)&255, i&255),
		}
		sess, _, err := f.Reg.Attach(h, fmt.Sprintf("10.%d.%d.%d:41000", i>>16, (i>>8)&255, i&255), func(error) {})
		if err != nil {
			tb.Fatal(err)
		}
		f.Nodes = append(f.Nodes, id)
		f.nodes = append(f.nodes, &node{sess: sess})
	}
	// One report per node and minute of the history, then one at Start.
	for m := range o.History {
		f.clock.Store(f.HistoryStart.Add(time.Duration(m)*time.Minute + 30*time.Second).UnixNano())
		f.ReportAll(tb)
	}
	f.clock.Store(o.Start.UnixNano())
	f.ReportAll(tb)
	return f
}

// Now is the fleet clock: the registry's and the rollups' time, and every report's.
func (f *Fleet) Now() time.Time { return time.Unix(0, f.clock.Load()).UTC() }

// Advance moves the fleet clock by d and returns the new time.
func (f *Fleet) Advance(d time.Duration) time.Time {
	return time.Unix(0, f.clock.Add(int64(d))).UTC()
}

// Report sends node i's next report through the report path of AgentService.Connect:
// Registry.ApplyReport, then, for a stored report, stats.Requests.Add.
func (f *Fleet) Report(i int) error {
	n := f.nodes[i]
	n.seq++
	rep := &fleetv1.MetricsReport{
		Seq: n.seq, Time: timestamppb.New(f.Now()), Window: durationpb.New(time.Second),
		Host: f.hosts[i%variants], App: f.apps[(i/variants+int(n.seq))%variants],
	}
	stored, pool, err := f.Reg.ApplyReport(n.sess, rep)
	if err != nil || !stored {
		return fmt.Errorf("report %d of node %s: stored %v, %v", n.seq, n.sess.NodeID, stored, err)
	}
	return f.Stats.Add(pool, n.sess.NodeID, rep)
}

// ReportAll sends one report of every node at the current time, as the fleet does between two
// reconcile ticks; benchmarks call it with the timer stopped.
func (f *Fleet) ReportAll(tb testing.TB) {
	tb.Helper()
	for i := range f.nodes {
		if err := f.Report(i); err != nil {
			tb.Fatal(err)
		}
	}
}

// hostMetrics is an 8-core, 32 GiB host with a root and a data disk, loaded by variant v.
func hostMetrics(v int) *fleetv1.HostMetrics {
	const cpus, memory, disk = 8, 32 << 30, 200 << 30
	cpu := 20 + 4*float64(v)
	used := uint64(float64(memory) * (0.3 + 0.02*float64(v)))
	diskUsed := uint64(disk * (0.3 + 0.01*float64(v)))
	return &fleetv1.HostMetrics{
		CpuPercent: cpu, CpuCount: cpus, Load1: cpu / 100 * cpus, Load5: cpu / 110 * cpus, Load15: cpu / 120 * cpus,
		MemoryTotalBytes: memory, MemoryUsedBytes: used, MemoryAvailableBytes: memory - used, MemoryUsedPercent: 100 * float64(used) / memory,
		Disks: []*fleetv1.DiskUsage{
			{Mountpoint: "/", Device: "/dev/nvme0n1p1", Fstype: "ext4", TotalBytes: disk, UsedBytes: diskUsed, FreeBytes: disk - diskUsed, UsedPercent: 100 * float64(diskUsed) / disk},
			{Mountpoint: "/var/lib/dspy", Device: "/dev/nvme1n1", Fstype: "xfs", TotalBytes: 2 * disk, UsedBytes: diskUsed, FreeBytes: 2*disk - diskUsed, UsedPercent: 50 * float64(diskUsed) / disk},
		},
		DiskReadBytesPerSecond: 1e6, DiskWriteBytesPerSecond: 2e6, NetworkRxBytesPerSecond: 3e6, NetworkTxBytesPerSecond: 4e6,
		Uptime: durationpb.New(72 * time.Hour),
	}
}

// appMetrics is one second of DSPy requests as an agent reports it: 20 requests over the
// programs and both models, with latency and time-to-first-token sketches, a few cache hits and
// an error now and then, shaped by variant v.
func appMetrics(v int, start time.Time) *fleetv1.AppMetrics {
	agentPrices := reqstats.Prices{ModelSmall: {InputPerMTok: 0.15, OutputPerMTok: 0.6}, ModelLarge: {InputPerMTok: 3, OutputPerMTok: 15}}
	agg := reqstats.NewAggregator(agentPrices, reqstats.DefaultRelativeAccuracy, reqstats.DefaultTopN, start)
	const requests = 20
	for i := range requests {
		model := ModelSmall
		if (i+v)%3 == 0 {
			model = ModelLarge
		}
		agg.Add(reqstats.Event{
			Program: Programs[(i+v)%len(Programs)], Model: model,
			Latency: time.Duration(150+13*i+9*v) * time.Millisecond, TTFT: time.Duration(40+3*i+v) * time.Millisecond,
			InputTokens: int64(400 + 17*i), OutputTokens: int64(90 + 5*i), Cache: reqstats.CacheState(1 + (i+v)%2),
			Error: (i+v)%37 == 0,
		})
	}
	return wire.AppFromWindow(agg.Flush(start.Add(time.Second)), 4+v%5, 0)
}

// Waits are how long reports waited while steps ran, and how long the readers' calls took.
type Waits struct {
	samples []time.Duration
	reads   map[string]*Waits // by Reader.Name
	// sched is the longest any goroutine waited runnable for a core while a step ran (the
	// runtime's /sched/latencies:seconds, to its bucket's upper bound): what no lock explains.
	sched time.Duration
}

// schedLatencies reads the runtime's histogram of the time goroutines spent runnable before
// they ran.
func schedLatencies() *metrics.Float64Histogram {
	s := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	metrics.Read(s)
	return s[0].Value.Float64Histogram()
}

// longestNew is the upper bound of the highest bucket of after that counts more than before.
func longestNew(before, after *metrics.Float64Histogram) time.Duration {
	for i := len(after.Counts) - 1; i >= 0; i-- {
		if after.Counts[i] > before.Counts[i] {
			hi := after.Buckets[i+1]
			if math.IsInf(hi, 1) {
				hi = after.Buckets[i]
			}
			return time.Duration(hi * float64(time.Second))
		}
	}
	return 0
}

// Reader is a call that a client of the stepped subsystem makes while a step runs, on the
// subsystem's own lock: a Pick for routing, an API read for cost or alerts. WhileReporting
// calls it once a millisecond while the step runs and times each call from when it was due, as
// it times reports, so a call held up by the step's lock shows as a long wait.
type Reader struct {
	// Name names the figures: max-Name-ms and p99-Name-ms.
	Name string
	// Call is the call; an error fails the benchmark.
	Call func() error
}

// readEvery is how often each Reader calls.
const readEvery = time.Millisecond

// WhileReporting runs step while Options.Senders goroutines send reports of the fleet's nodes
// through the report path (Report), each sender on its own schedule, together at most
// Options.Rate reports per second, and records the wait of every report that overlapped the
// step. A report's wait runs from when it was due to when ApplyReport and stats.Add returned: a
// report that fell due while its sender was still blocked on an earlier one waited from its due
// time, as the agent session that sent it would have, and every report due before the step
// ended is sent; a sender that wakes late from its sleep counts from when it woke and does not
// make up the time, so timer slack is not counted as waiting (and the rate reached is somewhat
// below Options.Rate: reports/op says how many were timed). b's timer runs for the step only;
// it is running again when WhileReporting returns, as b.Loop wants it.
func (f *Fleet) WhileReporting(b *testing.B, w *Waits, step func() error, readers ...Reader) error {
	senders := f.opts.Senders
	interval := time.Duration(float64(time.Second) * float64(senders) / float64(f.opts.Rate))
	var (
		stop              atomic.Bool
		wg, ready         sync.WaitGroup
		stepStart, stepAt atomic.Int64
		mu                sync.Mutex
		errs              []error
	)
	b.StopTimer()
	defer b.StartTimer()
	stepAt.Store(math.MaxInt64)
	per := make([][]time.Duration, senders)
	ready.Add(senders)
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next, i, first := time.Now(), g, true
			// Every report due before the step ended is sent, however late its sender is.
			for !stop.Load() || next.UnixNano() <= stepAt.Load() {
				start := next
				if now := time.Now(); now.Before(next) {
					time.Sleep(next.Sub(now))
					start = time.Now()
				}
				err := f.Report(i)
				end := time.Now()
				if first {
					ready.Done()
					first = false
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				if t0 := stepStart.Load(); t0 > 0 && end.UnixNano() >= t0 && start.UnixNano() <= stepAt.Load() {
					per[g] = append(per[g], end.Sub(start))
				}
				next = start.Add(interval)
				if i += senders; i >= len(f.nodes) {
					i = g
				}
			}
		}()
	}
	ready.Wait()
	readWaits := make([][]time.Duration, len(readers))
	var stepDone atomic.Bool
	for i, rd := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := time.Now()
			for !stepDone.Load() {
				start := next
				if now := time.Now(); now.Before(next) {
					time.Sleep(next.Sub(now))
					start = time.Now()
				}
				if err := rd.Call(); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s: %w", rd.Name, err))
					mu.Unlock()
					return
				}
				readWaits[i] = append(readWaits[i], time.Since(start))
				next = start.Add(readEvery)
			}
		}()
	}
	stepStart.Store(time.Now().UnixNano())
	schedBefore := schedLatencies()
	b.StartTimer()
	err := step()
	b.StopTimer()
	w.sched = max(w.sched, longestNew(schedBefore, schedLatencies()))
	stepAt.Store(time.Now().UnixNano())
	stepDone.Store(true)
	stop.Store(true)
	wg.Wait()
	for _, s := range per {
		w.samples = append(w.samples, s...)
	}
	for i, rd := range readers {
		if w.reads == nil {
			w.reads = map[string]*Waits{}
		}
		rw := w.reads[rd.Name]
		if rw == nil {
			rw = &Waits{}
			w.reads[rd.Name] = rw
		}
		rw.samples = append(rw.samples, readWaits[i]...)
	}
	if err == nil && len(errs) > 0 {
		err = errs[0]
	}
	return err
}

// Interval is the reconcile loop's default interval: the fleet clock moves by it between steps.
const Interval = 5 * time.Second

// RunSteps benchmarks step as the reconcile loop runs it: once per b.Loop iteration, the fleet
// clock moved by every (Interval for the steady state) and every node reporting once (untimed,
// the reports of the interval), then step timed while reports arrive (WhileReporting). It
// reports the waits with Waits.ReportMetrics, and the allocations of the step and of the reports
// sent while it ran (B/op, allocs/op).
func (f *Fleet) RunSteps(b *testing.B, every time.Duration, step func(ctx context.Context, now time.Time) error, readers ...Reader) {
	b.Helper()
	b.ReportAllocs()
	ctx := context.Background()
	var waits Waits
	steps := 0
	for b.Loop() {
		b.StopTimer()
		now := f.Advance(every)
		f.ReportAll(b)
		if err := f.WhileReporting(b, &waits, func() error { return step(ctx, now) }, readers...); err != nil {
			b.Fatal(err)
		}
		steps++
	}
	waits.ReportMetrics(b, steps)
}

// Max is the longest wait.
func (w *Waits) Max() time.Duration {
	if len(w.samples) == 0 {
		return 0
	}
	return slices.Max(w.samples)
}

// Quantile is the q-quantile of the waits (nearest rank).
func (w *Waits) Quantile(q float64) time.Duration {
	if len(w.samples) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(w.samples))
	return s[min(len(s)-1, int(math.Ceil(q*float64(len(s))))-1)]
}

// Count is the number of reports timed.
func (w *Waits) Count() int { return len(w.samples) }

// ReportMetrics adds the worst and the p99 report wait in milliseconds (max-report-ms,
// p99-report-ms), the reports timed per step (reports/op), the longest wait of any goroutine
// for a core while a step ran (max-sched-ms) and each Reader's worst and p99 call
// (max-Name-ms, p99-Name-ms) to b's results.
func (w *Waits) ReportMetrics(b *testing.B, steps int) {
	b.ReportMetric(w.Max().Seconds()*1000, "max-report-ms")
	b.ReportMetric(w.Quantile(0.99).Seconds()*1000, "p99-report-ms")
	b.ReportMetric(float64(w.Count())/float64(max(steps, 1)), "reports/op")
	b.ReportMetric(w.sched.Seconds()*1000, "max-sched-ms")
	for name, rw := range w.reads {
		b.ReportMetric(rw.Max().Seconds()*1000, "max-"+name+"-ms")
		b.ReportMetric(rw.Quantile(0.99).Seconds()*1000, "p99-"+name+"-ms")
	}
}

// Discard is a logger for the subsystems under benchmark.
var Discard = slog.New(slog.DiscardHandler)
