package rules

import (
	"fmt"
	"strings"

	"cel.dev/cel-go/cel"
	celcost "cel.dev/cel-go/common/cost"
)

// Cost limits of a condition, in CEL cost units (about one unit per value visited or compared).
const (
	// MaxEstimatedCost is the highest worst-case cost a condition may have, as CEL's cost
	// estimator computes it from the sizes of what the condition reads (sizeHints): a rule over
	// it is refused when it is set, before it can run.
	MaxEstimatedCost = 10_000
	// MaxEvalCost is the cost at which one evaluation is stopped (an evaluation error; the alert
	// keeps its state). It catches what the estimate cannot know, such as more labels than
	// sizeHints assume.
	MaxEvalCost = 10_000
)

// Sizes the cost estimator assumes for what conditions read: the agents' and the control
// plane's bounds on labels, disks and names.
const (
	hintLabels     = 64   // labels on a node (--max-labels default)
	hintLabelValue = 256  // bytes of a label value (--max-label-value-bytes default)
	hintLabelKey   = 63   // bytes of a label key
	hintDisks      = 256  // disks in a report
	hintMountPoint = 4096 // bytes of a mount point
	hintName       = 63   // bytes of a node id, pool name or state
	hintParamName  = 63   // bytes of a parameter name
)

// sizeHints tells CEL's cost estimator how large the maps and strings a condition reads can be;
// without them every collection is unbounded and every comprehension's estimate infinite.
type sizeHints struct {
	params int // the rule's parameters
}

// EstimateSize returns the size bound of a variable or field, nil for the estimator's own.
func (h sizeHints) EstimateSize(n celcost.AstNode) *celcost.SizeEstimate {
	path := n.Path()
	if len(path) == 0 {
		return nil
	}
	size := func(max uint64) *celcost.SizeEstimate { return &celcost.SizeEstimate{Min: 0, Max: max} }
	switch strings.Join(path, ".") {
	case "node.labels":
		return size(hintLabels)
	case "node.labels.@keys":
		return size(hintLabelKey)
	case "node.labels.@values":
		return size(hintLabelValue)
	case "node.host.disk":
		return size(hintDisks)
	case "node.host.disk.@keys":
		return size(hintMountPoint)
	case "node.id", "node.pool", "node.state", "pool.name":
		return size(hintName)
	case "params":
		return size(uint64(h.params))
	case "params.@keys":
		return size(hintParamName)
	}
	switch path[0] {
	case varMean, varZ, varHourMean, varHourZ:
		if len(path) == 1 {
			return size(uint64(len(BaselineMetrics()) * 25))
		}
		return size(hintParamName)
	}
	return nil
}

// EstimateCallCost leaves every function to CEL's standard estimate.
func (sizeHints) EstimateCallCost(string, string, *celcost.AstNode, []celcost.AstNode) *celcost.CallEstimate {
	return nil
}

// checkCost refuses a checked condition whose worst-case cost is over MaxEstimatedCost.
func checkCost(env *cel.Env, checked *cel.Ast, r Rule) error {
	est, err := env.EstimateCost(checked, sizeHints{params: len(r.Params)})
	if err != nil {
		return fmt.Errorf("%w: condition: its cost cannot be estimated: %v", ErrInvalid, err)
	}
	if est.Max > MaxEstimatedCost {
		return fmt.Errorf("%w: condition: its estimated cost is up to %s, over the limit of %d (nested comprehensions multiply: "+
			"iterate over fewer or smaller collections)", ErrInvalid, costString(est.Max), MaxEstimatedCost)
	}
	return nil
}

// costString writes a cost estimate, "unbounded" for the estimator's infinity.
func costString(c uint64) string {
	if c == ^uint64(0) {
		return "unbounded"
	}
	return fmt.Sprintf("%d", c)
}
