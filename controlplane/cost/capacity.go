package cost

import (
	"github.com/dspyfleet/dspyfleet/internal/wire"
	"github.com/dspyfleet/dspyfleet/pkg/cost"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// unknownCapacity names host cost recorded before the ledger kept capacity types.
const unknownCapacity = "unknown"

// purchaseOf is how a node's host is bought: its agent's capacity type, else the purchase label.
func purchaseOf(n *fleetv1.Node) (cost.Purchase, bool) {
	switch n.GetCapacityType() {
	case fleetv1.CapacityType_CAPACITY_TYPE_ON_DEMAND:
		return cost.OnDemand, true
	case fleetv1.CapacityType_CAPACITY_TYPE_SPOT:
		return cost.Spot, true
	case fleetv1.CapacityType_CAPACITY_TYPE_RESERVED:
		return cost.Reserved, true
	}
	return cost.OnDemand, false
}

// capacityName is the capacity type a host ledger entry records: on_demand, spot or reserved.
func capacityName(p cost.Purchase) string {
	switch p {
	case cost.Spot:
		return wire.CapacityName(fleetv1.CapacityType_CAPACITY_TYPE_SPOT)
	case cost.Reserved:
		return wire.CapacityName(fleetv1.CapacityType_CAPACITY_TYPE_RESERVED)
	}
	return wire.CapacityName(fleetv1.CapacityType_CAPACITY_TYPE_ON_DEMAND)
}

// capacityLine is the report line of a host ledger entry grouped by capacity type.
func capacityLine(k ledgerKey) string {
	if k.name == "" {
		return unknownCapacity
	}
	return k.name
}

// capacityBudgetName is a budget's capacity type as pkg/cost spells it; "" for unspecified.
func capacityBudgetName(c fleetv1.CapacityType) string {
	if c == fleetv1.CapacityType_CAPACITY_TYPE_UNSPECIFIED {
		return ""
	}
	if n := wire.CapacityName(c); n != "" {
		return n
	}
	return c.String() // refused by Budget.Validate, naming the value
}

// addCapacity counts a host entry under its pool and capacity type.
func (h *hourAgg) addCapacity(k ledgerKey, a cost.Amount) {
	key := [2]string{k.pool, capacityLine(k)}
	sum := h.hostByCapacity[key]
	sum.Add(a)
	h.hostByCapacity[key] = sum
}

// budgetSpend returns what the hour counts against b: the host cost of its capacity type (in
// its pool, or the fleet) when it has one, else as spend does.
func (h *hourAgg) budgetSpend(b cost.Budget) cost.Amount {
	if b.CapacityType == "" {
		return h.spend(b.Pool, b.Program)
	}
	var out cost.Amount
	for k, a := range h.hostByCapacity {
		if k[1] == b.CapacityType && (b.Pool == "" || k[0] == b.Pool) {
			out.Add(a)
		}
	}
	return out
}
