package routing

import "math/rand/v2"

// maxBucket caps the load the bucket queue tells apart; heavier nodes share the last bucket.
const maxBucket = 1 << 16

// buckets is a bucket queue of candidates by load: picking a least-loaded candidate (at random
// among ties) and moving one by a request are O(1), so least connections stays fast however
// large the pool.
type buckets struct {
	lists [][]int32 // lists[l]: candidate positions with load l
	pos   []int32   // pos[c]: c's index in its list
	load  []int     // load[c]: c's bucket
	lo    int       // lowest non-empty bucket
}

func bucketOf(load int64) int {
	return int(min(max(load, 0), maxBucket))
}

// build fills the queue with the candidates' loads.
func (b *buckets) build(cands []*endpoint) {
	for i := range b.lists {
		b.lists[i] = b.lists[i][:0]
	}
	b.pos, b.load = b.pos[:0], b.load[:0]
	b.lo = maxBucket
	for c, e := range cands {
		l := bucketOf(e.load())
		b.pos = append(b.pos, 0)
		b.load = append(b.load, l)
		b.add(c, l)
	}
}

func (b *buckets) add(c, l int) {
	for len(b.lists) <= l {
		b.lists = append(b.lists, nil)
	}
	b.pos[c] = int32(len(b.lists[l]))
	b.lists[l] = append(b.lists[l], int32(c))
	b.load[c] = l
	b.lo = min(b.lo, l)
}

// moved records that candidate c's load is now load.
func (b *buckets) moved(c int, load int64) {
	from, to := b.load[c], bucketOf(load)
	if from == to {
		return
	}
	list := b.lists[from]
	last := list[len(list)-1]
	list[b.pos[c]] = last
	b.pos[last] = b.pos[c]
	b.lists[from] = list[:len(list)-1]
	b.add(c, to)
	for b.lo < len(b.lists) && len(b.lists[b.lo]) == 0 {
		b.lo++
	}
}

// min returns a candidate with the least load, chosen at random among ties.
func (b *buckets) min(rng *rand.Rand) int {
	l := b.lists[b.lo]
	if len(l) == 1 {
		return int(l[0])
	}
	return int(l[rng.IntN(len(l))])
}
