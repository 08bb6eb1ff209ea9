// Package preempt watches a cloud's instance metadata service for the notice that it reclaims
// this host (an EC2 spot instance-action, a GCE preemption, an Azure Preempt or Terminate
// scheduled event) and reads the host's capacity type (spot or on-demand) from it. Each cloud is
// a small HTTP poller; its base URL can be overridden, so tests run a metadata server on
// loopback. The parsers are pure functions of a response body and a time.
package preempt
