package scaling

import (
	"cmp"
	"slices"
)

// ChooseVictims returns the ids of n nodes to remove, in order: nodes that are not ready first
// (they carry no load), then by each preference of order in turn, then by id so the choice is
// stable. Fewer than n ids come back when the pool has fewer nodes (the rest of the reduction
// cancels nodes not yet registered).
func ChooseVictims(nodes []Node, n int, order []VictimOrder) []string {
	if n <= 0 || len(nodes) == 0 {
		return nil
	}
	// Sort indices, not the nodes themselves: a swap then moves one word.
	idx := make([]int, len(nodes))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(i, j int) int {
		a, b := &nodes[i], &nodes[j]
		if a.Ready != b.Ready {
			if !a.Ready {
				return -1
			}
			return 1
		}
		for _, o := range order {
			var c int
			switch o {
			case MostExpensive:
				c = cmp.Compare(b.HourlyPrice, a.HourlyPrice)
			case LeastLoaded:
				c = cmp.Compare(a.Load, b.Load)
			case Newest:
				c = b.Started.Compare(a.Started)
			case SpotLast:
				c = cmp.Compare(boolInt(a.Spot), boolInt(b.Spot))
			}
			if c != 0 {
				return c
			}
		}
		return cmp.Compare(a.ID, b.ID)
	})
	ids := make([]string, 0, min(n, len(idx)))
	for _, i := range idx[:min(n, len(idx))] {
		ids = append(ids, nodes[i].ID)
	}
	return ids
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
