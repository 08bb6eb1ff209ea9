package fleet

import (
	"strings"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// StateName is a state's short lower-case name, as used in metrics labels and tables.
func StateName(s fleetv1.NodeState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "NODE_STATE_"))
}
