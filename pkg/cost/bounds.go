package cost

import (
	"fmt"
	"math"
	"slices"
)

// Bounds on every figure that enters the cost ledger. They are far above any real price, and
// low enough that no sum the ledger keeps (a host's price over 32 days, a fleet's tokens over a
// month) can overflow to an infinity that would hold every hard budget exhausted.
const (
	// MaxHourly is the highest host price, in USD per hour (an agent's hourly_price or a
	// table's on-demand, spot or reserved price).
	MaxHourly = 10_000.0
	// MaxPerMTok is the highest model price, in USD per million tokens.
	MaxPerMTok = 10_000.0
	// MaxVCPUs is the most vCPUs an instance type may have.
	MaxVCPUs = 100_000.0
	// MaxMemoryGiB is the most memory an instance type may have, in GiB.
	MaxMemoryGiB = 1 << 24
	// MaxReportUSD is the highest cost or saving one agent report may carry per window, model
	// or program, in USD.
	MaxReportUSD = 1e9
	// MaxBudgetUSD is the highest budget limit, in USD.
	MaxBudgetUSD = 1e12
)

// AmountProblem says what is wrong with a figure that must be finite and within [0, limit],
// "" when it is good.
func AmountProblem(v, limit float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return fmt.Sprintf("%g is not a finite number", v)
	case v < 0:
		return fmt.Sprintf("%g must not be negative", v)
	case v > limit:
		return fmt.Sprintf("%g is over the bound of %g", v, limit)
	}
	return ""
}

// Finite reports whether every float of a is a finite number: the ledger stores no other.
func (a Amount) Finite() bool {
	for _, f := range []float64{a.USD, a.UpSeconds, a.UnpricedSeconds, a.SavedUSD} {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return false
		}
	}
	return true
}

// Sanitized returns t without the instance types and models Validate refuses, and the names of
// those it dropped ("instances[NAME]", "models[NAME]"): a table stored before a bound existed
// loads without the prices that would poison the ledger. An alternative naming a dropped model
// is cleared.
func (t Table) Sanitized() (Table, []string) {
	out := Table{Instances: map[string]InstancePrice{}, Models: map[string]ModelPrice{}}
	var dropped []string
	for name, ip := range t.Instances {
		if (Table{Instances: map[string]InstancePrice{name: ip}}).Validate() != nil {
			dropped = append(dropped, "instances["+name+"]")
			continue
		}
		out.Instances[name] = ip
	}
	for name, m := range t.Models {
		alone := m
		alone.Alternative = ""
		if (Table{Models: map[string]ModelPrice{name: alone}}).Validate() != nil {
			dropped = append(dropped, "models["+name+"]")
			continue
		}
		out.Models[name] = m
	}
	for name, m := range out.Models {
		if _, ok := out.Models[m.Alternative]; m.Alternative != "" && (!ok || m.Alternative == name) {
			m.Alternative = ""
			out.Models[name] = m
		}
	}
	slices.Sort(dropped)
	return out, dropped
}
