package check

// Limits bound what callers may send; the control plane's flags set them, and each is enforced
// with an error naming the limit and its flag.
type Limits struct {
	MaxLabels          int // labels on a node (--max-labels)
	MaxLabelValueBytes int // bytes in one label value (--max-label-value-bytes)
	MaxCommandParams   int // parameters on one command (--max-command-params)
	MaxReasonBytes     int // bytes in a command's reason (--max-reason-bytes)
}

// DefaultLimits are the limits the control plane's flags default to.
func DefaultLimits() Limits {
	return Limits{MaxLabels: 64, MaxLabelValueBytes: 256, MaxCommandParams: 16, MaxReasonBytes: 1024}
}

// CheckCommandInput bounds what an admin call attaches to a command: the parameters (also
// checked by pkg/command against the kind's schema) and the reason.
func (l Limits) CheckCommandInput(params map[string]string, reason string) error {
	if len(params) > l.MaxCommandParams {
		return Invalidf("params: %d parameters, at most %d are allowed (--max-command-params)", len(params), l.MaxCommandParams)
	}
	if len(reason) > l.MaxReasonBytes {
		return Invalidf("reason: %d bytes, at most %d are allowed (--max-reason-bytes)", len(reason), l.MaxReasonBytes)
	}
	return nil
}
