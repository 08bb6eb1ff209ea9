package cost

import (
	"cmp"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/pkg/cost"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// keyPriceTable is the cost_prices key of the table.
var keyPriceTable = []byte("table")

// tableFromProto converts the API's price table; duplicates are caught by validatePrices.
func tableFromProto(p *fleetv1.Prices) cost.Table {
	t := cost.Table{Instances: map[string]cost.InstancePrice{}, Models: map[string]cost.ModelPrice{}}
	for _, ip := range p.GetInstances() {
		t.Instances[ip.GetInstanceType()] = cost.InstancePrice{
			OnDemandHourly: ip.GetOnDemandHourly(), SpotHourly: ip.GetSpotHourly(), ReservedHourly: ip.GetReservedHourly(),
			VCPUs: ip.GetVcpus(), MemoryGiB: ip.GetMemoryGib(),
		}
	}
	for _, m := range p.GetModels() {
		t.Models[m.GetModel()] = cost.ModelPrice{
			InputPerMTok: m.GetInputPerMtok(), OutputPerMTok: m.GetOutputPerMtok(), CachedInputPerMTok: m.GetCachedInputPerMtok(), Alternative: m.GetAlternative(),
		}
	}
	return t
}

// TableToProto converts a price table for the API, sorted by name.
func TableToProto(t cost.Table) *fleetv1.Prices {
	p := &fleetv1.Prices{}
	for name, ip := range t.Instances {
		p.Instances = append(p.Instances, &fleetv1.InstancePrice{
			InstanceType: name, OnDemandHourly: ip.OnDemandHourly, SpotHourly: ip.SpotHourly, ReservedHourly: ip.ReservedHourly,
			Vcpus: ip.VCPUs, MemoryGib: ip.MemoryGiB,
		})
	}
	for name, m := range t.Models {
		p.Models = append(p.Models, &fleetv1.ModelPrice{
			Model: name, InputPerMtok: m.InputPerMTok, OutputPerMtok: m.OutputPerMTok, CachedInputPerMtok: m.CachedInputPerMTok, Alternative: m.Alternative,
		})
	}
	slices.SortFunc(p.Instances, func(a, b *fleetv1.InstancePrice) int { return cmp.Compare(a.GetInstanceType(), b.GetInstanceType()) })
	slices.SortFunc(p.Models, func(a, b *fleetv1.ModelPrice) int { return cmp.Compare(a.GetModel(), b.GetModel()) })
	return p
}

// ValidatePrices checks an API price table: no instance type or model twice, and every field
// as cost.Table.Validate wants it. Field names follow the API (instances[m7i.large].spot_hourly).
func ValidatePrices(p *fleetv1.Prices) (cost.Table, error) {
	var dup check.Violations
	seen := map[string]bool{}
	for i, ip := range p.GetInstances() {
		if seen[ip.GetInstanceType()] {
			dup.Add(fmt.Sprintf("prices.instances[%d].instance_type", i), "%q is listed twice", check.Truncate(ip.GetInstanceType()))
		}
		seen[ip.GetInstanceType()] = true
	}
	clear(seen)
	for i, m := range p.GetModels() {
		if seen[m.GetModel()] {
			dup.Add(fmt.Sprintf("prices.models[%d].model", i), "%q is listed twice", check.Truncate(m.GetModel()))
		}
		seen[m.GetModel()] = true
	}
	if len(dup) > 0 {
		return cost.Table{}, dup.Err()
	}
	t := tableFromProto(p)
	if err := t.Validate(); err != nil {
		return cost.Table{}, check.Invalidf("prices: %v", err)
	}
	return t, nil
}

// SetPrices stores and installs a validated price table, which the caller no longer changes.
// The API reads it at once; a cost step running meanwhile finishes with the table it started
// with, and every step after uses this one, repricing the token hours it recomputes.
func (c *Tracker) SetPrices(t cost.Table, raw []byte) error {
	var seq uint64
	if err := c.store.Update(func(tx *store.Tx) error {
		if err := tx.Bucket(store.CostPrices).Put(keyPriceTable, raw); err != nil {
			return err
		}
		seq = c.cfgSeq.Add(1)
		return nil
	}); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if seq > c.pricesSeq {
		c.prices, c.pricesSeq = t, seq
	}
	return nil
}

// SeedPrices stores t as the price table when the store has none yet (the configuration file's
// cost_prices); a table set through the API is kept, with a note in the log.
func (c *Tracker) SeedPrices(t cost.Table) error {
	c.mu.Lock()
	stored := len(c.prices.Instances)+len(c.prices.Models) > 0
	c.mu.Unlock()
	if stored {
		c.log.Info("cost_prices in the configuration file ignored: the store holds a price table; change it with fleetctl cost prices set")
		return nil
	}
	raw, err := proto.Marshal(TableToProto(t))
	if err != nil {
		return err
	}
	return c.SetPrices(t.Clone(), raw)
}

// PricesProto returns the price table in force.
func (c *Tracker) PricesProto() *fleetv1.Prices {
	c.mu.Lock()
	t := c.prices
	c.mu.Unlock()
	return TableToProto(t)
}
