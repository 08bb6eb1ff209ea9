package preempt

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// gceNotice and azureMinNotice are the warning the clouds promise when a notice gives no time:
// GCE gives 30 s, Azure at least 30 s for a Preempt event.
const (
	gceNotice      = 30 * time.Second
	azureMinNotice = 30 * time.Second
)

// ParseEC2Action reads the body of /latest/meta-data/spot/instance-action (present only once
// the instance is marked for interruption): {"action": "terminate"|"stop"|"hibernate", "time":
// RFC 3339}. Any action is a notice: the host stops serving at time.
func ParseEC2Action(body []byte, seen time.Time) (Notice, error) {
	var v struct {
		Action string `json:"action"`
		Time   string `json:"time"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return Notice{}, fmt.Errorf("%w: ec2 instance-action: %v", ErrParse, err)
	}
	if v.Action == "" {
		return Notice{}, fmt.Errorf("%w: ec2 instance-action without an action", ErrParse)
	}
	deadline, err := time.Parse(time.RFC3339, v.Time)
	if err != nil {
		return Notice{}, fmt.Errorf("%w: ec2 instance-action time %q: %v", ErrParse, v.Time, err)
	}
	return Notice{Source: "ec2", Deadline: deadline, Detail: "spot instance-action " + v.Action, Seen: seen}, nil
}

// ParseEC2LifeCycle reads /latest/meta-data/instance-life-cycle: spot, or on-demand (scheduled
// instances count as reserved).
func ParseEC2LifeCycle(body []byte) (string, error) {
	switch strings.TrimSpace(string(body)) {
	case "spot":
		return Spot, nil
	case "on-demand", "normal":
		return OnDemand, nil
	case "scheduled", "capacity-block":
		return Reserved, nil
	}
	return "", fmt.Errorf("%w: ec2 instance-life-cycle %q", ErrParse, body)
}

// ParseGCEPreempted reads /computeMetadata/v1/instance/preempted: TRUE once the VM is being
// preempted, which leaves it 30 s. ok is false while it is FALSE.
func ParseGCEPreempted(body []byte, seen time.Time) (n Notice, ok bool, err error) {
	switch strings.TrimSpace(string(body)) {
	case "TRUE":
		return Notice{Source: "gce", Deadline: seen.Add(gceNotice), Detail: "instance preempted", Seen: seen}, true, nil
	case "FALSE":
		return Notice{}, false, nil
	}
	return Notice{}, false, fmt.Errorf("%w: gce preempted %q", ErrParse, body)
}

// ParseGCEPreemptible reads /computeMetadata/v1/instance/scheduling/preemptible: TRUE for spot
// and preemptible VMs.
func ParseGCEPreemptible(body []byte) (string, error) {
	switch strings.TrimSpace(string(body)) {
	case "TRUE":
		return Spot, nil
	case "FALSE":
		return OnDemand, nil
	}
	return "", fmt.Errorf("%w: gce preemptible %q", ErrParse, body)
}

// ParseAzureEvents reads /metadata/scheduledevents: the first Preempt or Terminate event that
// concerns vm (every event when vm is empty) is a notice, due at its NotBefore (RFC 1123), at
// least 30 s after seen when NotBefore is missing. ok is false when no such event is scheduled.
func ParseAzureEvents(body []byte, vm string, seen time.Time) (n Notice, ok bool, err error) {
	var v struct {
		Events []struct {
			EventID   string   `json:"EventId"`
			EventType string   `json:"EventType"`
			Resources []string `json:"Resources"`
			NotBefore string   `json:"NotBefore"`
		} `json:"Events"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return Notice{}, false, fmt.Errorf("%w: azure scheduled events: %v", ErrParse, err)
	}
	for _, e := range v.Events {
		if e.EventType != "Preempt" && e.EventType != "Terminate" {
			continue
		}
		if vm != "" && len(e.Resources) > 0 && !slices.Contains(e.Resources, vm) {
			continue
		}
		deadline := seen.Add(azureMinNotice)
		if e.NotBefore != "" {
			t, err := time.Parse(time.RFC1123, e.NotBefore)
			if err != nil {
				return Notice{}, false, fmt.Errorf("%w: azure event %s NotBefore %q: %v", ErrParse, e.EventID, e.NotBefore, err)
			}
			deadline = t
		}
		return Notice{Source: "azure", Deadline: deadline, Detail: "scheduled event " + e.EventType + " " + e.EventID, Seen: seen}, true, nil
	}
	return Notice{}, false, nil
}

// ParseAzureCompute reads /metadata/instance/compute: the VM's name and its priority (Spot or
// Low means spot, Regular on-demand).
func ParseAzureCompute(body []byte) (name, capacity string, err error) {
	var v struct {
		Name     string `json:"name"`
		Priority string `json:"priority"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return "", "", fmt.Errorf("%w: azure compute: %v", ErrParse, err)
	}
	switch v.Priority {
	case "Spot", "Low":
		return v.Name, Spot, nil
	case "Regular", "":
		return v.Name, OnDemand, nil
	}
	return "", "", fmt.Errorf("%w: azure priority %q", ErrParse, v.Priority)
}
