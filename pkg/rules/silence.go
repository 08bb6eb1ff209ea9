package rules

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Matcher matches one label of an alert.
type Matcher struct {
	Name  string
	Value string
	// Regex makes Value an anchored regular expression.
	Regex bool
	// Negate inverts the match.
	Negate bool
}

// Silence suppresses the notifications (never the healing) of alerts whose labels match every
// matcher while Start <= now < End.
type Silence struct {
	ID       string
	Matchers []Matcher
	Start    time.Time
	End      time.Time
	Author   string
	Comment  string
}

// MaxSilenceMatchers bounds a silence's matchers.
const MaxSilenceMatchers = 16

// ValidateSilence checks a silence, naming each bad field.
func ValidateSilence(s Silence) error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...))
	}
	if len(s.Matchers) == 0 {
		bad("matchers: a silence needs at least one matcher, e.g. alertname=DiskFull")
	}
	if len(s.Matchers) > MaxSilenceMatchers {
		bad("matchers: at most %d", MaxSilenceMatchers)
	}
	for i, m := range s.Matchers {
		if !ValidLabelName(m.Name) {
			bad("matchers[%d].name %q is not a label name", i, truncate(m.Name))
		}
		if len(m.Value) > 256 {
			bad("matchers[%d].value is longer than 256 bytes", i)
		}
		if m.Regex {
			if _, err := regexp.Compile("^(?:" + m.Value + ")$"); err != nil {
				bad("matchers[%d].value: %v", i, err)
			}
		}
	}
	if s.Start.IsZero() || s.End.IsZero() {
		bad("start and end are required")
	} else if !s.End.After(s.Start) {
		bad("end %s is not after start %s", s.End.Format(time.RFC3339), s.Start.Format(time.RFC3339))
	}
	if s.Author == "" {
		bad("author is required: who silenced the alerts")
	}
	if len(s.Author) > 128 || len(s.Comment) > 1024 {
		bad("author takes at most 128 bytes and comment 1024")
	}
	return errors.Join(errs...)
}

// Active reports whether the silence applies at now.
func (s Silence) Active(now time.Time) bool {
	return !now.Before(s.Start) && now.Before(s.End)
}

// Matches reports whether every matcher matches labels. A regex that does not compile matches
// nothing (ValidateSilence refuses it before it is stored).
func (s Silence) Matches(labels map[string]string) bool {
	for _, m := range s.Matchers {
		v := labels[m.Name]
		var ok bool
		if m.Regex {
			re, err := regexp.Compile("^(?:" + m.Value + ")$")
			if err != nil {
				return false
			}
			ok = re.MatchString(v)
		} else {
			ok = v == m.Value
		}
		if ok == m.Negate {
			return false
		}
	}
	return true
}

// silencedBy returns the id of the first active silence matching labels, or "".
func silencedBy(silences []Silence, labels map[string]string, now time.Time) string {
	for _, s := range silences {
		if s.Active(now) && s.Matches(labels) {
			return s.ID
		}
	}
	return ""
}
