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
//	alert_rules              one record per alert or healing rule
//	  <rule name>      -> fleetv1.AlertRule (protobuf); meta "alert_rules_seeded" marks the defaults stored
//	alert_states             pending, firing and recently resolved alerts
//	  <rule>|<target>  -> fleetv1.Alert (protobuf)
//	silences                 one record per silence
//	  <silence id>     -> fleetv1.Silence (protobuf)
//	alert_events             alert transitions and healing decisions, time-ordered, bounded in number
//	  <8-byte big-endian unix nanos + 8 random bytes> -> fleetv1.AlertEvent (protobuf)
//	deliveries               notification deliveries, time-ordered, bounded in number
//	  <8-byte big-endian unix nanos + 8 random bytes> -> fleetv1.Delivery (protobuf)
//	healing_executions       healing commands the rules issued, kept two hours
//	  <command id>     -> fleetv1.HealingExecution (protobuf)
//	baselines                EWMA baselines of rule metrics, rewritten every few minutes
//	  <target>         -> JSON object: metric (or metric@HH for an hour of the day) -> {Mean, Variance, Samples, Updated}
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

	bucketAlertRules        = []byte("alert_rules")
	bucketAlertStates       = []byte("alert_states")
	bucketSilences          = []byte("silences")
	bucketAlertEvents       = []byte("alert_events")
	bucketDeliveries        = []byte("deliveries")
	bucketHealingExecutions = []byte("healing_executions")
	bucketBaselines         = []byte("baselines")
	keyAlertRulesSeeded     = []byte("alert_rules_seeded")

	keySchemaVersion = []byte("schema_version")
)

// schemaVersion is the layout this build reads and writes.
const schemaVersion uint64 = 1

// allBuckets lists every bucket the schema requires.
var allBuckets = [][]byte{bucketMeta, bucketNodes, bucketCommands, bucketRollups,
	bucketRoutingPolicies,
	bucketAlertRules, bucketAlertStates, bucketSilences, bucketAlertEvents, bucketDeliveries, bucketHealingExecutions,
	bucketBaselines,
}
