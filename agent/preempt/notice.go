package preempt

import (
	"errors"
	"time"
)

// Capacity types as the agent reports them.
const (
	OnDemand = "on_demand"
	Spot     = "spot"
	Reserved = "reserved"
)

// Sources of a notice besides the clouds.
const (
	SourceSIGTERM = "sigterm"
)

// ErrParse marks a metadata response the parser cannot read.
var ErrParse = errors.New("unreadable metadata response")

// Notice is a warning that the host goes away at Deadline.
type Notice struct {
	// Source is the cloud (ec2, gce, azure) or sigterm.
	Source string
	// Deadline is when the host is reclaimed.
	Deadline time.Time
	// Detail is the notice as the source gave it.
	Detail string
	// Seen is when the agent saw it.
	Seen time.Time
}
