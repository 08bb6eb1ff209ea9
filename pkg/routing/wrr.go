package routing

import "math"

// quantize turns a weight into the integer smooth weighted round robin schedules with: a
// thousandth of a unit, at least 1.
func quantize(w float64) uint64 { return max(1, uint64(math.Round(w*1000))) }

// edf is smooth weighted round robin as earliest-deadline-first scheduling: node i's k-th pick
// (from 0) of a cycle is due at (k+½)/w_i, and the node due first is picked (ties to the lower
// position). Over a cycle of Σw picks every node gets exactly w picks (weights reduced by their
// gcd), spread evenly by due time rather than in bursts: the half-period offset keeps a light
// node's pick in the middle of the cycle instead of after every heavy pick. Deadlines are compared as exact integer
// cross products, so nothing drifts however long the pool runs.
type edf struct {
	w     []uint64 // weight of each candidate
	k     []uint64 // picks of each candidate in this cycle
	heap  []int32  // candidate positions ordered by next deadline (2k+1)/2w
	left  uint64   // picks left in this cycle
	cycle uint64   // Σw

	// schedule is one whole cycle, precomputed when it is short enough, so a pick is O(1).
	schedule []int32
	at       int
}

// maxSchedule is the longest cycle precomputed; longer ones (fine-grained weights during slow
// start) are scheduled pick by pick on the heap in O(log n).
const maxSchedule = 1 << 16

// build schedules the candidates with their effective weights.
func (q *edf) build(cands []*endpoint) {
	n := len(cands)
	q.w, q.k, q.heap = q.w[:0], q.k[:0], q.heap[:0]
	var g uint64
	for _, e := range cands {
		w := quantize(e.weight() * e.factor)
		q.w = append(q.w, w)
		g = gcd(g, w)
	}
	q.cycle = 0
	for i := range q.w {
		q.w[i] /= g
		q.cycle += q.w[i]
		q.k = append(q.k, 0)
	}
	for i := range n {
		q.heap = append(q.heap, int32(i))
	}
	q.restart()
	q.schedule, q.at = q.schedule[:0], 0
	if q.cycle <= maxSchedule {
		for range q.cycle {
			q.schedule = append(q.schedule, int32(q.step()))
		}
	}
}

// restart begins a new cycle.
func (q *edf) restart() {
	for i := range q.k {
		q.k[i] = 0
	}
	for i := len(q.heap)/2 - 1; i >= 0; i-- {
		q.down(i)
	}
	q.left = q.cycle
}

// next returns the candidate position due next.
func (q *edf) next() int {
	if len(q.schedule) > 0 {
		c := q.schedule[q.at]
		q.at++
		if q.at == len(q.schedule) {
			q.at = 0
		}
		return int(c)
	}
	return q.step()
}

// step returns the candidate position due first on the heap and schedules its next pick.
func (q *edf) step() int {
	if q.left == 0 {
		q.restart()
	}
	c := q.heap[0]
	q.k[c]++
	q.left--
	q.down(0)
	return int(c)
}

// before reports whether candidate a is due before b: (2k_a+1)/2w_a < (2k_b+1)/2w_b, ties
// to the lower position.
func (q *edf) before(a, b int32) bool {
	l, r := (2*q.k[a]+1)*q.w[b], (2*q.k[b]+1)*q.w[a]
	if l != r {
		return l < r
	}
	return a < b
}

func (q *edf) down(i int) {
	n := len(q.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && q.before(q.heap[r], q.heap[l]) {
			m = r
		}
		if !q.before(q.heap[m], q.heap[i]) {
			return
		}
		q.heap[i], q.heap[m] = q.heap[m], q.heap[i]
		i = m
	}
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
