package scaling

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Point is one sample of a request-rate trace.
type Point struct {
	Seconds float64
	RPS     float64
}

// Trace is a request rate over time, linear between points, starting at second 0.
type Trace []Point

// maxTraceSeconds bounds a trace to 31 days.
const maxTraceSeconds = 31 * 24 * 3600

// At returns the rate at second s.
func (tr Trace) At(s float64) float64 {
	if len(tr) == 0 {
		return 0
	}
	i := searchPoints(tr, s)
	switch {
	case i == 0:
		return tr[0].RPS
	case i == len(tr):
		return tr[len(tr)-1].RPS
	}
	a, b := tr[i-1], tr[i]
	return a.RPS + (b.RPS-a.RPS)*(s-a.Seconds)/(b.Seconds-a.Seconds)
}

// searchPoints returns the index of the first point after s.
func searchPoints(tr Trace, s float64) int {
	lo, hi := 0, len(tr)
	for lo < hi {
		mid := (lo + hi) / 2
		if tr[mid].Seconds <= s {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// Duration returns the trace's length in seconds.
func (tr Trace) Duration() float64 {
	if len(tr) == 0 {
		return 0
	}
	return tr[len(tr)-1].Seconds
}

// Peak returns the highest rate.
func (tr Trace) Peak() float64 {
	peak := 0.0
	for _, p := range tr {
		peak = max(peak, p.RPS)
	}
	return peak
}

// ParseTrace reads a CSV trace of "seconds,requests_per_second" rows; a first line that is not
// numbers is a header. Seconds start at 0 or later and strictly increase; rates are finite and
// not negative. Errors name the line.
func ParseTrace(r io.Reader) (Trace, error) {
	var tr Trace
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Split(text, ",")
		if len(fields) != 2 {
			return nil, fmt.Errorf("trace line %d: %d fields, want seconds,requests_per_second", line, len(fields))
		}
		sec, err1 := strconv.ParseFloat(strings.TrimSpace(fields[0]), 64)
		rps, err2 := strconv.ParseFloat(strings.TrimSpace(fields[1]), 64)
		if (err1 != nil || err2 != nil) && len(tr) == 0 && line == 1 {
			continue // header
		}
		switch {
		case err1 != nil:
			return nil, fmt.Errorf("trace line %d: seconds %q is not a number", line, truncate(fields[0]))
		case err2 != nil:
			return nil, fmt.Errorf("trace line %d: requests_per_second %q is not a number", line, truncate(fields[1]))
		case !finite(sec) || sec < 0 || sec > maxTraceSeconds:
			return nil, fmt.Errorf("trace line %d: seconds %v must be between 0 and %d", line, sec, maxTraceSeconds)
		case len(tr) > 0 && sec <= tr[len(tr)-1].Seconds:
			return nil, fmt.Errorf("trace line %d: seconds %v must be after the previous row's %v", line, sec, tr[len(tr)-1].Seconds)
		case !finite(rps) || rps < 0:
			return nil, fmt.Errorf("trace line %d: requests_per_second %v must be a number at least 0", line, rps)
		}
		tr = append(tr, Point{Seconds: sec, RPS: rps})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	if len(tr) < 2 {
		return nil, fmt.Errorf("trace: %d rows; at least 2 are needed", len(tr))
	}
	return tr, nil
}

// BuiltinTraces names the traces BuiltinTrace makes.
var BuiltinTraces = []string{"steady", "spike", "diurnal"}

// BuiltinTrace returns a named synthetic trace, one point a minute, its noise drawn from seed:
//
//	steady   6 h at 100 requests/s, ±10 % noise
//	spike    6 h at 50 requests/s with a jump to 300 requests/s from 2 h to 2 h 30 m, ±5 % noise
//	diurnal  4 days from a Monday: 50 requests/s at night, a bump to 300 requests/s at 14:00
//	         (two-hour width), ±5 % noise
func BuiltinTrace(name string, seed uint64) (Trace, error) {
	r := rand.New(rand.NewPCG(seed, 1))
	noise := func(v, amp float64) float64 { return v * (1 + amp*(2*r.Float64()-1)) }
	var tr Trace
	switch name {
	case "steady":
		for m := range 6*60 + 1 {
			tr = append(tr, Point{float64(m * 60), noise(100, 0.1)})
		}
	case "spike":
		for m := range 6*60 + 1 {
			v := 50.0
			if m >= 120 && m < 150 {
				v = 300
			}
			tr = append(tr, Point{float64(m * 60), noise(v, 0.05)})
		}
	case "diurnal":
		for m := range 4*minutesPerDay + 1 {
			hour := float64(m%minutesPerDay) / 60
			tr = append(tr, Point{float64(m * 60), noise(50+250*math.Exp(-math.Pow((hour-14)/2, 2)), 0.05)})
		}
	default:
		return nil, fmt.Errorf("trace %q is not one of %v or a .csv file", truncate(name), BuiltinTraces)
	}
	return tr, nil
}
