package scaling

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/commands"
	"github.com/dspyfleet/dspyfleet/internal/wire"
	"github.com/dspyfleet/dspyfleet/pkg/command"
	"github.com/dspyfleet/dspyfleet/pkg/scaling"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Actuator defaults and bounds.
const (
	defaultHookTimeout         = 5 * time.Minute
	maxHookTimeout             = time.Hour
	defaultMaxInstancesPerNode = 4
)

// Actuator is how a pool's decisions are carried out.
type Actuator struct {
	hook         string // absolute path of the exec hook; empty for none
	hookTimeout  time.Duration
	instances    bool
	maxInstances int
}

// PolicyFromProto turns an API scaling policy into a validated scaling.Policy and
// actuator: unset fields take the defaults, and every invalid field is named with a "policy."
// prefix in the API's spelling. hookDir is the control plane's --scaling-hook-dir.
func PolicyFromProto(pp *fleetv1.ScalingPolicy, hookDir string) (scaling.Policy, Actuator, error) {
	p := scaling.DefaultPolicy(1, int(min(pp.GetMax(), scaling.MaxNodes+1)))
	if pp.Min != nil {
		p.Min = int(min(pp.GetMin(), scaling.MaxNodes+1))
	}
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("policy.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	dur := func(field string, d *durationpb.Duration, dst *time.Duration) {
		if d == nil {
			return
		}
		if err := d.CheckValid(); err != nil {
			bad(field, "%v", err)
			return
		}
		*dst = d.AsDuration()
	}
	if pp.Tolerance != nil {
		p.Tolerance = pp.GetTolerance()
	}
	for _, t := range pp.GetTargets() {
		p.Targets = append(p.Targets, scaling.Target{Metric: scaling.Metric(t.GetMetric()), Value: t.GetValue()})
	}
	for i, r := range pp.GetRules() {
		rule := scaling.Rule{
			Name: r.GetName(), Metric: scaling.Metric(r.GetMetric()), Comparison: scaling.Comparison(r.GetComparison()),
			Threshold: r.GetThreshold(), Action: scaling.Direction(r.GetAction()), Amount: int(min(r.GetAmount(), scaling.MaxNodes+1)),
			Unit: scaling.Unit(commands.OrDefault(r.GetUnit(), string(scaling.Nodes))), Cooldown: scaling.DefaultRuleCooldown,
		}
		dur(fmt.Sprintf("rules[%d].for_duration", i), r.GetForDuration(), &rule.For)
		dur(fmt.Sprintf("rules[%d].cooldown", i), r.GetCooldown(), &rule.Cooldown)
		p.Rules = append(p.Rules, rule)
	}
	for _, b := range []struct {
		name string
		src  *fleetv1.ScalingBehavior
		dst  *scaling.Behavior
	}{{"scale_up", pp.GetScaleUp(), &p.ScaleUp}, {"scale_down", pp.GetScaleDown(), &p.ScaleDown}} {
		if b.src == nil {
			continue
		}
		dur(b.name+".stabilization_window", b.src.GetStabilizationWindow(), &b.dst.StabilizationWindow)
		dur(b.name+".cooldown", b.src.GetCooldown(), &b.dst.Cooldown)
		if s := b.src.GetSelect(); s != "" {
			b.dst.Select = scaling.Select(s)
		}
		switch {
		case b.src.GetUnlimited() && len(b.src.GetPolicies()) > 0:
			bad(b.name+".unlimited", "cannot be set together with policies")
		case b.src.GetUnlimited():
			b.dst.Policies = nil
		case len(b.src.GetPolicies()) > 0:
			b.dst.Policies = nil
			for i, rp := range b.src.GetPolicies() {
				r := scaling.RatePolicy{Unit: scaling.Unit(rp.GetUnit()), Value: int(min(rp.GetValue(), scaling.MaxNodes+1))}
				dur(fmt.Sprintf("%s.policies[%d].period", b.name, i), rp.GetPeriod(), &r.Period)
				b.dst.Policies = append(b.dst.Policies, r)
			}
		}
	}
	if w := pp.GetWakeSize(); w > 0 {
		p.WakeSize = int(min(w, scaling.MaxNodes+1))
	}
	if v := pp.GetVictims(); len(v) > 0 {
		p.Victims = nil
		for _, o := range v {
			p.Victims = append(p.Victims, scaling.VictimOrder(o))
		}
	}
	if pr := pp.GetPredictive(); pr != nil {
		p.Predictive.Enabled = pr.GetEnabled()
		if m := pr.GetMetric(); m != "" {
			p.Predictive.Metric = scaling.Metric(m)
		}
		dur("predictive.horizon", pr.GetHorizon(), &p.Predictive.Horizon)
		dur("predictive.lead_time", pr.GetLeadTime(), &p.Predictive.LeadTime)
		dur("predictive.min_history", pr.GetMinHistory(), &p.Predictive.MinHistory)
	}
	p.Capacity.BaseOnDemand = int(min(pp.GetBaseOnDemand(), scaling.MaxNodes+1))
	p.Capacity.SpotFraction = pp.GetSpotFraction()
	p.Capacity.Fallback = pp.GetDynamicOnDemandFallback()
	dur("spot_retry", pp.GetSpotRetry(), &p.Capacity.SpotRetry)
	if err := p.Validate(); err != nil {
		var fe *scaling.FieldError
		for _, e := range unjoin(err) {
			if errors.As(e, &fe) {
				field := fe.Field
				if strings.HasSuffix(field, ".for") {
					field += "_duration"
				}
				bad(field, "%s", fe.Reason)
			}
		}
	}
	act := Actuator{hookTimeout: defaultHookTimeout, maxInstances: defaultMaxInstancesPerNode}
	a := pp.GetActuator()
	dur("actuator.hook_timeout", a.GetHookTimeout(), &act.hookTimeout)
	if act.hookTimeout <= 0 || act.hookTimeout > maxHookTimeout {
		bad("actuator.hook_timeout", "%s must be positive and at most %s", act.hookTimeout, maxHookTimeout)
	}
	act.instances = a.GetInstances()
	if m := a.GetMaxInstancesPerNode(); m > 0 {
		act.maxInstances = int(min(m, command.MaxInstances+1))
	}
	if act.maxInstances > command.MaxInstances {
		bad("actuator.max_instances_per_node", "%d must be at most %d", act.maxInstances, command.MaxInstances)
	}
	if h := a.GetExecHook(); h != "" {
		switch path, err := resolveHook(h, hookDir); {
		case err != nil:
			bad("actuator.exec_hook", "%v", err)
		case act.instances:
			bad("actuator.exec_hook", "set either exec_hook or instances, not both")
		default:
			act.hook = path
		}
	}
	if len(errs) > 0 {
		return scaling.Policy{}, Actuator{}, check.Invalidf("%v", errors.Join(errs...))
	}
	return p, act, nil
}

// unjoin returns the errors joined in err, or err alone.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// resolveHook checks that hook names an executable regular file inside dir (a name relative to
// dir, or an absolute path), after following symbolic links, and returns its absolute path. The
// directory confines what the API can make the control plane run.
func resolveHook(hook, dir string) (string, error) {
	if dir == "" {
		return "", fmt.Errorf("%q cannot run: the control plane has no --scaling-hook-dir; start it with one and put the hook there", check.Truncate(hook))
	}
	path := hook
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", fmt.Errorf("--scaling-hook-dir %s: %v", dir, err)
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", fmt.Errorf("%s: %v", check.Truncate(hook), errors.Unwrap(err))
	}
	if rel, err := filepath.Rel(realDir, real); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("%s is outside --scaling-hook-dir %s", check.Truncate(hook), dir)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", fmt.Errorf("%s: %v", check.Truncate(hook), err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("%s is not an executable file (mode %s)", check.Truncate(hook), fi.Mode())
	}
	return real, nil
}

// PolicyToProto renders a policy and its actuator with every default filled in.
func PolicyToProto(p scaling.Policy, a Actuator) *fleetv1.ScalingPolicy {
	pp := wire.ScalingPolicyToProto(p)
	pp.Actuator = &fleetv1.ScalingActuator{
		ExecHook: a.hook, HookTimeout: durationpb.New(a.hookTimeout), Instances: a.instances, MaxInstancesPerNode: uint32(a.maxInstances),
	}
	return pp
}
