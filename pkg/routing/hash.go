package routing

import (
	"math"
	"slices"
	"strconv"
)

// fnv64 is FNV-1a over s: stable across processes and releases, so keys keep their nodes when
// the control plane restarts.
func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// mix spreads a hash's bits (the splitmix64 finalizer), since FNV's low bits cluster for
// similar keys.
func mix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// Virtual nodes per node of average weight, and the range a node's count is kept in.
const (
	vnodesPerNode = 160
	minVnodes     = 16
	maxVnodes     = 1280
)

// ring is a consistent-hash ring with virtual nodes in proportion to weight.
type ring struct {
	points []uint64
	owners []int32 // candidate position of each point
}

// build places every candidate's virtual nodes on the ring.
func (r *ring) build(cands []*endpoint, meanWeight float64) {
	r.points, r.owners = r.points[:0], r.owners[:0]
	type point struct {
		h     uint64
		owner int32
	}
	var pts []point
	for i, e := range cands {
		n := int(math.Round(vnodesPerNode * e.weight() / meanWeight))
		n = min(max(n, minVnodes), maxVnodes)
		for v := range n {
			pts = append(pts, point{mix(fnv64(e.ID + "#" + strconv.Itoa(v))), int32(i)})
		}
	}
	slices.SortFunc(pts, func(a, b point) int {
		switch {
		case a.h < b.h:
			return -1
		case a.h > b.h:
			return 1
		}
		return int(a.owner - b.owner)
	})
	for _, p := range pts {
		r.points = append(r.points, p.h)
		r.owners = append(r.owners, p.owner)
	}
}

// keyHash returns the ring position of a request key.
func keyHash(key string) uint64 { return mix(fnv64(key)) }

// lookup returns the candidate position for the ring position h: the first node clockwise from
// h whose load is under its bound, ceil(weight × perWeight). Some node is always under its
// bound, since the bounds add up to more than the total load.
func (r *ring) lookup(h uint64, cands []*endpoint, perWeight float64) int {
	lo, hi := 0, len(r.points)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if r.points[m] < h {
			lo = m + 1
		} else {
			hi = m
		}
	}
	for i := range r.points {
		o := r.owners[(lo+i)%len(r.points)]
		if e := cands[o]; float64(e.load()) < math.Ceil(e.weight()*perWeight) {
			return int(o)
		}
	}
	return int(r.owners[lo%len(r.points)])
}
