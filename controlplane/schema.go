package controlplane

// The bbolt layout of <data-dir>/fleet.db. Every bucket the control plane uses is declared here.
//
//	meta                     schema bookkeeping
//	  "schema_version" -> uint64 big-endian, currently schemaVersion
//	nodes                    one record per node
//	  <node id>        -> fleetv1.Node (protobuf), including its last metrics report
//	rollups                  one-minute DSPy request rollups per pool and node, time-ordered
//	  <8-byte big-endian unix minute><pool>0x00<node> -> fleetv1.AppMetrics (protobuf)
//	commands                 one record per command, in creation order
//	  <command id: 8-byte big-endian unix nanos + 8 random bytes> -> fleetv1.CommandRecord (protobuf)
//	routing_policies         one routing policy per configured pool
//	  <pool>           -> fleetv1.RoutingPolicy (protobuf), every field set
//	deployments              one record per deployment, in creation order
//	  <deployment id: 8-byte big-endian unix nanos + 8 random bytes> -> fleetv1.Deployment (protobuf)
//	maintenance              one record per maintenance window, in creation order
//	  <window id: 8-byte big-endian unix nanos + 8 random bytes> -> fleetv1.Maintenance (protobuf)
//
// A file whose schema_version is newer than schemaVersion was written by a newer control plane and
// is refused rather than guessed at. Later schema changes add ordered migration steps that back up
// the file before they run.
var (
	bucketMeta     = []byte("meta")
	bucketNodes    = []byte("nodes")
	bucketCommands = []byte("commands")
	bucketRollups  = []byte("rollups")

	bucketRoutingPolicies = []byte("routing_policies")

	bucketDeployments = []byte("deployments")
	bucketMaintenance = []byte("maintenance")

	keySchemaVersion = []byte("schema_version")
)

// schemaVersion is the layout this build reads and writes.
const schemaVersion uint64 = 1

// allBuckets lists every bucket the schema requires.
var allBuckets = [][]byte{bucketMeta, bucketNodes, bucketCommands, bucketRollups,
	bucketRoutingPolicies,
	bucketDeployments,
	bucketMaintenance,
}
