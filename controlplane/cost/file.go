package cost

import "github.com/dspyfleet/dspyfleet/pkg/cost"

// FilePrices is the cost_prices section of the configuration file:
//
//	cost_prices:
//	  instances:
//	    m7i.xlarge: {on_demand_hourly: 0.2016, spot_hourly: 0.08, reserved_hourly: 0.127, vcpus: 4, memory_gib: 16}
//	  models:
//	    openai/gpt-4o: {input_per_mtok: 2.5, output_per_mtok: 10, cached_input_per_mtok: 1.25, alternative: openai/gpt-4o-mini}
//	    openai/gpt-4o-mini: {input_per_mtok: 0.15, output_per_mtok: 0.6}
type FilePrices struct {
	Instances map[string]struct {
		OnDemandHourly float64 `yaml:"on_demand_hourly"`
		SpotHourly     float64 `yaml:"spot_hourly"`
		ReservedHourly float64 `yaml:"reserved_hourly"`
		VCPUs          float64 `yaml:"vcpus"`
		MemoryGiB      float64 `yaml:"memory_gib"`
	} `yaml:"instances"`
	Models map[string]struct {
		InputPerMTok       float64 `yaml:"input_per_mtok"`
		OutputPerMTok      float64 `yaml:"output_per_mtok"`
		CachedInputPerMTok float64 `yaml:"cached_input_per_mtok"`
		Alternative        string  `yaml:"alternative"`
	} `yaml:"models"`
}

// table converts the section; Config.Validate checks it.
func (f *FilePrices) Table() *cost.Table {
	t := &cost.Table{Instances: map[string]cost.InstancePrice{}, Models: map[string]cost.ModelPrice{}}
	for name, ip := range f.Instances {
		t.Instances[name] = cost.InstancePrice{OnDemandHourly: ip.OnDemandHourly, SpotHourly: ip.SpotHourly, ReservedHourly: ip.ReservedHourly, VCPUs: ip.VCPUs, MemoryGiB: ip.MemoryGiB}
	}
	for name, m := range f.Models {
		t.Models[name] = cost.ModelPrice{InputPerMTok: m.InputPerMTok, OutputPerMTok: m.OutputPerMTok, CachedInputPerMTok: m.CachedInputPerMTok, Alternative: m.Alternative}
	}
	return t
}
