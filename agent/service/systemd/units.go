package systemd

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/dspyfleet/dspyfleet/agent/service"
)

// maxUnitName is systemd's limit on unit name length (UNIT_NAME_MAX - 1).
const maxUnitName = 255

// validUnitChars reports whether name holds only letters, digits and ":_.@-", the characters
// systemd allows in unit names; '\' is left out so no escaping can hide a glob or path.
func validUnitChars(name string) bool {
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(":_.@-", r)
		if !ok {
			return false
		}
	}
	return true
}

// checkService checks the parts every service name shares and returns the name without
// ".service".
func checkService(key, name string) (string, error) {
	stem, ok := strings.CutSuffix(name, ".service")
	switch {
	case name == "":
		return "", fmt.Errorf("%w: %s is empty", service.ErrInvalidConfig, key)
	case len(name) > maxUnitName:
		return "", fmt.Errorf("%w: %s %q is longer than %d characters", service.ErrInvalidConfig, key, name, maxUnitName)
	case !validUnitChars(name):
		return "", fmt.Errorf("%w: %s %q may hold only letters, digits and ':', '_', '.', '@', '-'", service.ErrInvalidConfig, key, name)
	case !ok || stem == "":
		return "", fmt.Errorf("%w: %s %q must be a service, such as dspy.service", service.ErrInvalidConfig, key, name)
	}
	return stem, nil
}

// validateUnit checks a plain or instance service name such as "dspy.service" or
// "dspy@main.service".
func validateUnit(name string) error {
	stem, err := checkService("unit", name)
	if err != nil {
		return err
	}
	prefix, instance, isInstance := strings.Cut(stem, "@")
	if isInstance && (prefix == "" || instance == "" || strings.Contains(instance, "@")) {
		return fmt.Errorf("%w: unit %q: a name with '@' must be an instance such as dspy@main.service; put templates in template_unit", service.ErrInvalidConfig, name)
	}
	return nil
}

// validateTemplate checks a template service name such as "dspy-worker@.service".
func validateTemplate(name string) error {
	stem, err := checkService("template_unit", name)
	if err != nil {
		return err
	}
	prefix, ok := strings.CutSuffix(stem, "@")
	if !ok || prefix == "" || strings.Contains(prefix, "@") {
		return fmt.Errorf("%w: template_unit %q must be a template such as dspy-worker@.service", service.ErrInvalidConfig, name)
	}
	return nil
}

// template names the instances of a template unit.
type template struct {
	prefix string // "dspy-worker@"
}

func newTemplate(unit string) template {
	return template{prefix: strings.TrimSuffix(unit, ".service")}
}

// unit returns the name of instance i, such as "dspy-worker@2.service".
func (t template) unit(i int) string {
	return t.prefix + strconv.Itoa(i) + ".service"
}

// pattern matches every instance of the template.
func (t template) pattern() string {
	return t.prefix + "*.service"
}

// index returns the instance number of name; ok is false for names this manager did not make,
// such as "dspy-worker@debug.service" or "dspy-worker@01.service".
func (t template) index(name string) (i int, ok bool) {
	s, ok := strings.CutPrefix(name, t.prefix)
	if !ok {
		return 0, false
	}
	if s, ok = strings.CutSuffix(s, ".service"); !ok {
		return 0, false
	}
	i, err := strconv.Atoi(s)
	if err != nil || i < 0 || strconv.Itoa(i) != s {
		return 0, false
	}
	return i, true
}
