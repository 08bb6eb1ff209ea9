package cost

import (
	"fmt"
	"maps"
	"slices"
	"unicode"
)

// HoursPerMonth is the average month (365 × 24 / 12 hours) that monthly figures are scaled to.
const HoursPerMonth = 730.0

// MaxNameLen bounds an instance type or model name, in bytes.
const MaxNameLen = 128

// Purchase is how a host is bought.
type Purchase int

// The purchase options. The zero value is on-demand.
const (
	OnDemand Purchase = iota
	Spot
	Reserved
)

// String returns "on-demand", "spot" or "reserved".
func (p Purchase) String() string {
	switch p {
	case Spot:
		return "spot"
	case Reserved:
		return "reserved"
	}
	return "on-demand"
}

// ParsePurchase parses "on-demand" (or ""), "spot" or "reserved".
func ParsePurchase(s string) (Purchase, error) {
	switch s {
	case "", "on-demand", "ondemand":
		return OnDemand, nil
	case "spot":
		return Spot, nil
	case "reserved":
		return Reserved, nil
	}
	return OnDemand, fmt.Errorf("%w: purchase option %q is not on-demand, spot or reserved", ErrInvalid, s)
}

// InstancePrice is an instance type's hourly price in USD per purchase option, and its size
// (used to find a smaller type when right-sizing). A Spot or Reserved price of 0 means the option
// is not offered.
type InstancePrice struct {
	OnDemandHourly float64
	SpotHourly     float64
	ReservedHourly float64
	VCPUs          float64
	MemoryGiB      float64
}

// Hourly returns the price for purchase option p, false when it is not offered.
func (ip InstancePrice) Hourly(p Purchase) (float64, bool) {
	switch p {
	case Spot:
		return ip.SpotHourly, ip.SpotHourly > 0
	case Reserved:
		return ip.ReservedHourly, ip.ReservedHourly > 0
	}
	return ip.OnDemandHourly, true
}

// ModelPrice is what a model costs in USD per million tokens. CachedInputPerMTok is the
// provider's price of prompt-cached input tokens; 0 means it is the same as InputPerMTok.
// Alternative names a cheaper model that can serve the same programs, for recommendations.
type ModelPrice struct {
	InputPerMTok       float64
	OutputPerMTok      float64
	CachedInputPerMTok float64
	Alternative        string
}

// Cost returns the price in USD of input, output and cached input tokens (cached ones counted
// apart from input).
func (m ModelPrice) Cost(input, output, cachedInput uint64) float64 {
	cached := m.CachedInputPerMTok
	if cached == 0 {
		cached = m.InputPerMTok
	}
	return (float64(input)*m.InputPerMTok + float64(output)*m.OutputPerMTok + float64(cachedInput)*cached) / 1e6
}

// Table is the price table: hosts by instance type and models by name.
type Table struct {
	Instances map[string]InstancePrice
	Models    map[string]ModelPrice
}

// Clone returns a deep copy of t.
func (t Table) Clone() Table {
	return Table{Instances: maps.Clone(t.Instances), Models: maps.Clone(t.Models)}
}

// Validate returns FieldErrors naming every bad field: prices and sizes must be finite, not
// negative and within MaxHourly, MaxPerMTok, MaxVCPUs and MaxMemoryGiB, names 1-128 bytes without control characters, and a model's alternative must be
// another model of the table.
func (t Table) Validate() error {
	var errs FieldErrors
	for _, name := range slices.Sorted(maps.Keys(t.Instances)) {
		ip := t.Instances[name]
		f := fmt.Sprintf("instances[%s]", name)
		checkName(&errs, f, name)
		for _, v := range []struct {
			field        string
			value, limit float64
		}{
			{"on_demand_hourly", ip.OnDemandHourly, MaxHourly}, {"spot_hourly", ip.SpotHourly, MaxHourly},
			{"reserved_hourly", ip.ReservedHourly, MaxHourly}, {"vcpus", ip.VCPUs, MaxVCPUs}, {"memory_gib", ip.MemoryGiB, MaxMemoryGiB},
		} {
			checkAmount(&errs, f+"."+v.field, v.value, v.limit)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(t.Models)) {
		m := t.Models[name]
		f := fmt.Sprintf("models[%s]", name)
		checkName(&errs, f, name)
		checkAmount(&errs, f+".input_per_mtok", m.InputPerMTok, MaxPerMTok)
		checkAmount(&errs, f+".output_per_mtok", m.OutputPerMTok, MaxPerMTok)
		checkAmount(&errs, f+".cached_input_per_mtok", m.CachedInputPerMTok, MaxPerMTok)
		if m.Alternative != "" {
			if _, ok := t.Models[m.Alternative]; !ok || m.Alternative == name {
				errs.add(f+".alternative", "%q must name another model of the price table", m.Alternative)
			}
		}
	}
	return errs.orNil()
}

// checkAmount refuses NaN, infinities, negative values and values over limit.
func checkAmount(errs *FieldErrors, field string, v, limit float64) {
	if msg := AmountProblem(v, limit); msg != "" {
		errs.add(field, "%s", msg)
	}
}

// checkName refuses empty, long and control-character names.
func checkName(errs *FieldErrors, field, name string) {
	if msg := nameProblem(name); msg != "" {
		errs.add(field, "name %q %s", truncate(name), msg)
	}
}

// nameProblem says what is wrong with a name, "" when it is good.
func nameProblem(name string) string {
	if name == "" {
		return "is empty"
	}
	if len(name) > MaxNameLen {
		return fmt.Sprintf("is %d bytes, longer than %d", len(name), MaxNameLen)
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return fmt.Sprintf("holds character %U", r)
		}
	}
	return ""
}

// truncate shortens s for an error message.
func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// Host is what the cost model needs to know about one node's host.
type Host struct {
	InstanceType string
	Purchase     Purchase
	// ExplicitHourly, when above 0, is the host's own price (from its agent's configuration)
	// and wins over the table.
	ExplicitHourly float64
}

// ErrUnknownPrice means a host's hourly price cannot be told: no explicit price, and its
// instance type (or purchase option) is not in the table.
var ErrUnknownPrice = fmt.Errorf("unknown price")

// HostHourly returns h's hourly price in USD. It fails with ErrUnknownPrice, never returning 0
// for a host it cannot price.
func (t Table) HostHourly(h Host) (float64, error) {
	if h.ExplicitHourly > 0 {
		if msg := AmountProblem(h.ExplicitHourly, MaxHourly); msg != "" {
			return 0, fmt.Errorf("%w: the node's hourly_price %s; fix hourly_price in its agent config", ErrUnknownPrice, msg)
		}
		return h.ExplicitHourly, nil
	}
	if h.InstanceType == "" {
		return 0, fmt.Errorf("%w: the node names no instance type and no hourly price; set instance_type or hourly_price in its agent config", ErrUnknownPrice)
	}
	ip, ok := t.Instances[h.InstanceType]
	if !ok {
		return 0, fmt.Errorf("%w: instance type %q is not in the price table; add it with fleetctl cost prices set", ErrUnknownPrice, h.InstanceType)
	}
	p, ok := ip.Hourly(h.Purchase)
	if !ok {
		return 0, fmt.Errorf("%w: instance type %q has no %s price in the price table", ErrUnknownPrice, h.InstanceType, h.Purchase)
	}
	return p, nil
}
