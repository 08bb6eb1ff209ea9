package reqstats

import (
	"fmt"
	"time"
)

// Series merges windows (such as one-minute rollups of several nodes) into consecutive buckets
// of step from from (truncated to step) up to to: bucket i covers [start+i·step, start+(i+1)·step)
// and holds every window whose Start falls in it, merged with MergeWindows, with Start and End
// set to the bucket's bounds so rates are per bucket. Buckets without windows are empty windows
// with their bounds set. Windows outside [start, to] are left out.
func Series(ws []Window, from, to time.Time, step time.Duration) ([]Window, error) {
	if step <= 0 {
		return nil, fmt.Errorf("series step %s must be positive", step)
	}
	start := from.Truncate(step)
	if to.Before(start) {
		return nil, nil
	}
	n := int(to.Sub(start)/step) + 1
	groups := make([][]Window, n)
	for _, w := range ws {
		if w.Start.Before(start) || w.Start.After(to) {
			continue
		}
		i := int(w.Start.Sub(start) / step)
		groups[i] = append(groups[i], w)
	}
	out := make([]Window, n)
	for i, g := range groups {
		b := Window{}
		if len(g) > 0 {
			var err error
			if b, err = MergeWindows(DefaultTopN, g...); err != nil {
				return nil, err
			}
		}
		b.Start = start.Add(time.Duration(i) * step)
		b.End = b.Start.Add(step)
		out[i] = b
	}
	return out, nil
}
