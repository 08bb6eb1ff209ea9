package scaling

import (
	"fmt"
	"math"
	"time"
)

// Season lengths of a one-minute series.
const (
	minutesPerDay  = 24 * 60
	hoursPerWeek   = 7 * 24
	minutesPerHour = 60
)

// Smoothing constants of the model, tuned for one-minute request rates: the level follows a
// change within about ten minutes, the trend within days, the daily profile within a few days and
// the weekly profile (hourly slots) within a week or two.
const (
	alpha = 0.1    // level
	beta  = 0.0005 // trend
	gamma = 0.3    // daily profile, once per minute of day per day
	delta = 0.02   // weekly profile, per minute within each hour of the week
	// mapeDecay gives the forecast error a memory of about a week.
	mapeDecay = 1.0 / (7 * minutesPerDay)
	// mapeFloor ignores minutes whose load is below this share of the mean load: a percentage
	// error on almost nothing says nothing.
	mapeFloor = 0.05
)

// Model is an additive Holt-Winters model of a one-minute series with a trend, a daily season
// (one slot per minute of the day) and a weekly season (one slot per hour of the week). It
// learns one observation at a time and measures its own error at its horizon. The zero value is
// not usable; make one with NewModel. A Model is a plain value the caller keeps between ticks.
type Model struct {
	horizon int
	start   time.Time // the minute of the first observation
	n       int       // observations so far
	warm    []float64 // the first day, before the model starts
	level   float64
	trend   float64
	daily   []float64
	weekly  []float64
	mean    float64 // running mean, for mapeFloor
	// pending[i] is the forecast, made horizon minutes before, of minute i mod horizon.
	pending []float64
	errSum  float64
	errN    float64
}

// NewModel returns an empty model whose first observation is the minute starting at start and
// whose error is measured horizon ahead.
func NewModel(start time.Time, horizon time.Duration) *Model {
	h := max(1, int(horizon/time.Minute))
	return &Model{
		horizon: h, start: start.Truncate(time.Minute),
		daily: make([]float64, minutesPerDay), weekly: make([]float64, hoursPerWeek),
		pending: make([]float64, h),
	}
}

// Minutes returns how many minutes the model has seen.
func (m *Model) Minutes() int { return m.n }

// Next returns the minute the next observation describes.
func (m *Model) Next() time.Time { return m.start.Add(time.Duration(m.n) * time.Minute) }

// Observe feeds the next minute's value.
func (m *Model) Observe(y float64) {
	if !finite(y) || y < 0 {
		y = 0
	}
	i := m.n
	m.n++
	m.mean += (y - m.mean) / float64(m.n)
	if i < minutesPerDay {
		m.warm = append(m.warm, y)
		if m.n == minutesPerDay {
			m.initialize()
		}
		return
	}
	if f := m.pending[i%m.horizon]; i >= minutesPerDay+m.horizon && y > mapeFloor*m.mean {
		m.errSum = m.errSum*(1-mapeDecay) + math.Abs(y-f)/y
		m.errN = m.errN*(1-mapeDecay) + 1
	}
	d, w := i%minutesPerDay, m.weekSlot(i)
	season := m.daily[d] + m.weekly[w]
	prev := m.level
	m.level = alpha*(y-season) + (1-alpha)*(m.level+m.trend)
	m.trend = beta*(m.level-prev) + (1-beta)*m.trend
	m.daily[d] = gamma*(y-m.level-m.weekly[w]) + (1-gamma)*m.daily[d]
	m.weekly[w] = delta*(y-m.level-m.daily[d]) + (1-delta)*m.weekly[w]
	m.pending[i%m.horizon] = m.Forecast(m.horizon)
}

// initialize sets the level to the first day's mean and the daily profile to its deviations.
func (m *Model) initialize() {
	var sum float64
	for _, y := range m.warm {
		sum += y
	}
	m.level = sum / float64(len(m.warm))
	for i, y := range m.warm {
		m.daily[i] = y - m.level
	}
	m.warm = nil
}

func (m *Model) weekSlot(i int) int {
	t := m.start.Add(time.Duration(i) * time.Minute)
	return (int(t.Weekday())*24 + t.Hour()) % hoursPerWeek
}

// Forecast returns the value expected h minutes after the last observation (h ≥ 1), never
// negative. Before a full day has been seen it returns the mean so far.
func (m *Model) Forecast(h int) float64 {
	if m.n < minutesPerDay {
		return m.mean
	}
	i := m.n - 1 + h
	f := m.level + float64(h)*m.trend + m.daily[i%minutesPerDay] + m.weekly[m.weekSlot(i)]
	return max(f, 0)
}

// MAPE returns the mean absolute percentage error of the forecasts made one horizon ahead,
// weighted toward the last week, and whether any has been measured yet.
func (m *Model) MAPE() (float64, bool) {
	if m.errN < 1 {
		return 0, false
	}
	return m.errSum / m.errN, true
}

// Forecast is the predictive part of a pool's status.
type Forecast struct {
	// Ready is false until the model has the policy's MinHistory.
	Ready bool
	// Status says in words whether the forecast is used, and why not.
	Status string
	// MAPE is the error of forecasts one horizon ahead (0.05 is 5 %); valid when HasMAPE.
	MAPE    float64
	HasMAPE bool
	// Load is the expected pool load for each minute of the horizon.
	Load []float64
}

// floorWindow is how far past the lead time the floor looks: a node asked for now must cover the
// load from the moment it serves until later ticks can add more.
const floorWindow = 10 * time.Minute

// PredictFloor forecasts the pool's load (requests/s or tokens/s over the whole pool) over the
// policy's horizon and returns the floor: enough nodes, at the target load per node, for the
// highest load expected between LeadTime and LeadTime+10 min ahead. It returns no floor when
// predictive scaling is off or the model has less than MinHistory.
func PredictFloor(p Policy, m *Model) (Floor, Forecast) {
	pr := p.Predictive
	if !pr.Enabled {
		return Floor{}, Forecast{Status: "predictive scaling is off"}
	}
	need := int(pr.MinHistory / time.Minute)
	if m == nil || m.Minutes() < need {
		have := 0
		if m != nil {
			have = m.Minutes()
		}
		return Floor{}, Forecast{Status: fmt.Sprintf("off until enough history: %d of %d minutes", have, need)}
	}
	horizon := int(pr.Horizon / time.Minute)
	fc := Forecast{Ready: true, Load: make([]float64, horizon)}
	for h := range horizon {
		fc.Load[h] = m.Forecast(h + 1)
	}
	fc.MAPE, fc.HasMAPE = m.MAPE()
	fc.Status = "on"
	if fc.HasMAPE {
		fc.Status = fmt.Sprintf("on; error %.1f%% (MAPE) %s ahead", 100*fc.MAPE, pr.Horizon)
	}
	lead := int(pr.LeadTime / time.Minute)
	peak := 0.0
	for h := max(lead, 1); h <= min(lead+int(floorWindow/time.Minute), horizon); h++ {
		peak = max(peak, fc.Load[h-1])
	}
	var per float64
	for _, t := range p.Targets {
		if t.Metric == pr.Metric {
			per = t.Value
		}
	}
	if per <= 0 {
		return Floor{}, fc
	}
	n := min(int(math.Ceil(peak/per-1e-9)), MaxNodes)
	return Floor{Nodes: n, Forecast: peak, Reason: fmt.Sprintf("forecast peak %s %s over the pool between %s and %s ahead, at %s per node",
		fmtFloat(peak), predictedUnit(pr.Metric), pr.LeadTime, pr.LeadTime+floorWindow, fmtFloat(per))}, fc
}

func predictedUnit(m Metric) string {
	if m == MetricTokens {
		return "tokens/s"
	}
	return "requests/s"
}
