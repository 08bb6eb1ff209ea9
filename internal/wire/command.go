package wire

import (
	"strings"

	"github.com/dspyfleet/dspyfleet/pkg/command"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// CommandKind maps the API's command kind to the command vocabulary of pkg/command
// (COMMAND_KIND_DRAIN → "drain").
func CommandKind(k fleetv1.CommandKind) command.Kind {
	return command.Kind(strings.ToLower(strings.TrimPrefix(k.String(), "COMMAND_KIND_")))
}
