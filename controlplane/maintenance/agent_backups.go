package maintenance

import (
	"slices"
	"strings"

	"github.com/dspyfleet/dspyfleet/pkg/command"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// AgentBackups lists the archives the agents' succeeded backup commands (newest first) wrote and
// that are still on their hosts: an archive a later backup on the same node pruned (absent from
// that backup's kept list) is left out. A node whose agent reports no kept list (an older agent)
// has every archive listed.
func AgentBackups(recs []*fleetv1.CommandRecord) []*fleetv1.AgentBackup {
	kept := map[string][]string{} // node → the newest kept list
	var out []*fleetv1.AgentBackup
	for _, r := range recs {
		node, f := r.GetNodeId(), r.GetFields()
		if list, newest := kept[node]; newest && !slices.Contains(list, f["archive"]) {
			continue
		}
		if k, ok := f[command.FieldBackupKept]; ok {
			if _, seen := kept[node]; !seen {
				kept[node] = strings.Split(k, "\n")
			}
		}
		out = append(out, &fleetv1.AgentBackup{
			NodeId: node, CommandId: r.GetCommand().GetId(),
			Archive: f["archive"], Sha256: f["sha256"], Finished: r.GetUpdated(),
		})
	}
	return out
}
