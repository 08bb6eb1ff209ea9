package wire

import fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"

// CapacityType maps a capacity type name (on_demand, spot, reserved; "" for unknown) to the
// API's enum.
func CapacityType(s string) fleetv1.CapacityType {
	switch s {
	case "on_demand":
		return fleetv1.CapacityType_CAPACITY_TYPE_ON_DEMAND
	case "spot":
		return fleetv1.CapacityType_CAPACITY_TYPE_SPOT
	case "reserved":
		return fleetv1.CapacityType_CAPACITY_TYPE_RESERVED
	}
	return fleetv1.CapacityType_CAPACITY_TYPE_UNSPECIFIED
}

// CapacityName is the name of a capacity type (CAPACITY_TYPE_ON_DEMAND → "on_demand"); ""
// for an unspecified one.
func CapacityName(c fleetv1.CapacityType) string {
	switch c {
	case fleetv1.CapacityType_CAPACITY_TYPE_ON_DEMAND:
		return "on_demand"
	case fleetv1.CapacityType_CAPACITY_TYPE_SPOT:
		return "spot"
	case fleetv1.CapacityType_CAPACITY_TYPE_RESERVED:
		return "reserved"
	}
	return ""
}
