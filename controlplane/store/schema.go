package store

// The bbolt layout of <data-dir>/fleet.db. Every bucket the control plane uses is declared here.
//
//	meta                     schema bookkeeping
//	  "schema_version" -> uint64 big-endian, currently SchemaVersion
//	  "schema_history" -> one line per migration applied: "<schema> <UTC time> <what changed>"
//	nodes                    one record per node
//	  <node id>        -> fleetv1.Node (protobuf), including its last metrics report
//	rollups                  one-minute DSPy request rollups per pool and node, time-ordered
//	  <8-byte big-endian unix minute><pool>0x00<node> -> fleetv1.AppMetrics (protobuf)
//	commands                 one record per command, in creation order
//	  <command id: 8-byte big-endian unix nanos + 8 random bytes> -> fleetv1.CommandRecord (protobuf)
//	audit                    admin calls that changed state and security events, time-ordered
//	  <8-byte big-endian unix nanos><4-byte big-endian sequence> -> fleetv1.AuditRecord (protobuf)
//	routing_policies         one routing policy per configured pool
//	  <pool>           -> fleetv1.RoutingPolicy (protobuf), every field set
//	config_revisions         the fleet policy's revisions, in order
//	  <8-byte big-endian revision number> -> fleetv1.ConfigRevision (protobuf)
//	cost_ledger              cost per UTC hour, pool, node, dimension (h host, m model, p program) and name
//	  <8-byte big-endian unix hour><pool>0x00<node>0x00<dim byte><name> -> ledger amount (fixed binary)
//	cost_marks               how far accrual got, written in the same transaction as the amounts
//	  <node id>        -> 8-byte big-endian unix nanos: end of the host time accrued
//	  0x00"tokens"     -> 8-byte big-endian unix hour: token cost recomputed from rollups through here
//	cost_prices              the price table
//	  "table"          -> fleetv1.Prices (protobuf)
//	cost_budgets             <budget name> -> fleetv1.Budget (protobuf)
//	cost_budget_state        <budget name> -> fleetv1.BudgetStatus (protobuf): period, fired thresholds
//	cost_events              <8-byte big-endian unix nanos><budget name> -> fleetv1.BudgetEvent (protobuf)
//	cost_recs                <recommendation id> -> fleetv1.Recommendation (protobuf): operator state
//	cost_usage               CPU and memory samples per UTC hour and node, for right-sizing
//	  <8-byte big-endian unix hour><node> -> 2 × 101 uint32 big-endian percent histograms
//	scaling_policies         one scaling policy per scaled pool
//	  <pool>           -> fleetv1.ScalingPolicy (protobuf), every field set
//	scaling_decisions        the scaling decisions that changed something, per pool in time order
//	  <pool>0x00<8-byte big-endian unix nanos> -> fleetv1.ScalingDecision (protobuf)
//	scaling_memory           what the scaler carries between ticks, per scaled pool
//	  <pool>           -> JSON scalingMemory: decision state, nodes asked for, hook jobs
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
//	deployments              one record per deployment, in creation order
//	  <deployment id: 8-byte big-endian unix nanos + 8 random bytes> -> fleetv1.Deployment (protobuf)
//	maintenance              one record per maintenance window, in creation order
//	  <window id: 8-byte big-endian unix nanos + 8 random bytes> -> fleetv1.Maintenance (protobuf)
//	node_bindings            nodes bound to their own credential: the shared agent token may not speak for them
//	  <node id>        -> JSON object {"credential": "token"|"certificate", "since": RFC 3339 time}
//
// A file whose schema_version is newer than SchemaVersion was written by a newer control plane and
// is refused rather than guessed at. An older file is migrated by the ordered steps of migrate.go,
// after a copy of it is kept. What each schema changed:
//
//	1  the first release
//	2  every bucket above exists in every file (schema 1 created later buckets on demand), and
//	   meta records the migrations applied to the file
//	3  node_bindings: a control plane that ignored it would let the shared agent token take over
//	   bound nodes, so a schema-2 build refuses the file
var (
	Meta     = []byte("meta")
	Nodes    = []byte("nodes")
	Commands = []byte("commands")
	Rollups  = []byte("rollups")
	Audit    = []byte("audit")

	RoutingPolicies = []byte("routing_policies")
	ConfigRevisions = []byte("config_revisions")
	CostLedger      = []byte("cost_ledger")
	CostMarks       = []byte("cost_marks")
	CostPrices      = []byte("cost_prices")
	CostBudgets     = []byte("cost_budgets")
	CostBudgetState = []byte("cost_budget_state")
	CostEvents      = []byte("cost_events")
	CostRecs        = []byte("cost_recs")
	CostUsage       = []byte("cost_usage")

	AlertRules          = []byte("alert_rules")
	AlertStates         = []byte("alert_states")
	Silences            = []byte("silences")
	AlertEvents         = []byte("alert_events")
	Deliveries          = []byte("deliveries")
	HealingExecutions   = []byte("healing_executions")
	Baselines           = []byte("baselines")
	KeyAlertRulesSeeded = []byte("alert_rules_seeded")

	Deployments = []byte("deployments")
	Maintenance = []byte("maintenance")

	NodeBindings = []byte("node_bindings")

	keySchemaVersion = []byte("schema_version")
)

var (
	ScalingPolicies  = []byte("scaling_policies")
	ScalingDecisions = []byte("scaling_decisions")
	ScalingMemory    = []byte("scaling_memory")
)

// SchemaVersion is the layout this build reads and writes.
const SchemaVersion uint64 = 3

// allBuckets lists every bucket the schema requires.
var allBuckets = [][]byte{Meta, Nodes, Commands, Rollups,
	RoutingPolicies, ConfigRevisions,
	CostLedger, CostMarks, CostPrices, CostBudgets, CostBudgetState, CostEvents, CostRecs, CostUsage,
	ScalingPolicies, ScalingDecisions, ScalingMemory,
	Audit,
	AlertRules, AlertStates, Silences, AlertEvents, Deliveries, HealingExecutions,
	Baselines,
	Deployments,
	Maintenance,
	NodeBindings,
}
