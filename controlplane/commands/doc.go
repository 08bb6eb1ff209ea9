// Package commands owns the durable command queue: every command pushed to an agent is written
// to the store before it is sent, delivered at least once over the node's session, tracked
// through its states (pending → sent → accepted → running → succeeded | failed | expired |
// cancelled), watched by callers, expired past its deadline and pruned after the retention.
package commands
