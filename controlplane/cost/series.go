package cost

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/pkg/cost"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Series bounds: a point is a whole number of hours up to a week, and a range holds at most
// MaxSeriesPoints points.
const (
	DefaultSeriesRange = 24 * time.Hour
	MaxSeriesStep      = 7 * 24 * time.Hour
	MaxSeriesPoints    = 2000
)

// seriesAcc accumulates one series: host and token cost per point.
type seriesAcc struct {
	host, token []float64
	sum         float64
	unknown     bool
}

// Series reads the ledger hours from the step boundary at or before start to the one holding
// the instant before end, and sums them per step and group. step is a whole number of hours;
// the caller checks the bounds.
func (c *Tracker) Series(start, end time.Time, step time.Duration, by fleetv1.CostGroupBy, pool string) (*fleetv1.CostServiceGetSeriesResponse, error) {
	hours := int64(step / time.Hour)
	if hours < 1 || step%time.Hour != 0 || !start.Before(end) {
		return nil, fmt.Errorf("cost series: step %s over [%s, %s) is not a whole number of hours over a range", step, start, end)
	}
	first := floorDiv(hourOf(start), hours) * hours
	last := hourOf(end.Add(-time.Nanosecond))
	points := int((last-first)/hours) + 1
	groups := map[string]*seriesAcc{}
	total := &seriesAcc{host: make([]float64, points), token: make([]float64, points)}
	err := c.store.View(func(tx *store.Tx) error {
		return scanLedger(tx, first, last, func(key ledgerKey, a cost.Amount) {
			name, ok := groupName(key, by, pool)
			if !ok {
				return
			}
			g := groups[name]
			if g == nil {
				g = &seriesAcc{host: make([]float64, points), token: make([]float64, points)}
				groups[name] = g
			}
			i := int((key.hour - first) / hours)
			for _, acc := range []*seriesAcc{g, total} {
				if key.dim == cost.DimHost {
					acc.host[i] += a.USD
				} else {
					acc.token[i] += a.USD
				}
				acc.sum += a.USD
				acc.unknown = acc.unknown || a.Unknown()
			}
		})
	})
	if err != nil {
		return nil, err
	}
	resp := &fleetv1.CostServiceGetSeriesResponse{
		Start: timestamppb.New(hourTime(first)), End: timestamppb.New(hourTime(first + int64(points)*hours)),
		GroupBy: by, Step: durationpb.New(step), Total: seriesToProto("total", total),
	}
	for i := range points {
		resp.Times = append(resp.Times, timestamppb.New(hourTime(first+int64(i)*hours)))
	}
	for name, g := range groups {
		resp.Series = append(resp.Series, seriesToProto(name, g))
	}
	slices.SortFunc(resp.Series, func(a, b *fleetv1.CostSeries) int {
		return cmp.Or(cmp.Compare(groups[b.GetName()].sum, groups[a.GetName()].sum), cmp.Compare(a.GetName(), b.GetName()))
	})
	return resp, nil
}

// floorDiv is a / b rounded towards minus infinity, for b > 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// seriesToProto renders one series.
func seriesToProto(name string, acc *seriesAcc) *fleetv1.CostSeries {
	s := &fleetv1.CostSeries{Name: name, HostUsd: acc.host, TokenUsd: acc.token, Unknown: acc.unknown, TotalUsd: make([]float64, len(acc.host))}
	for i := range acc.host {
		s.TotalUsd[i] = acc.host[i] + acc.token[i]
	}
	return s
}
