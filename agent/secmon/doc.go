// Package secmon owns the agent's security monitoring: failed SSH and sudo authentications read
// from the host's auth log, listening sockets that were not there before (a diff of the socket
// table), and changes to configured files (a sha256 baseline). It counts them per report
// window; the control plane turns them into rule inputs (node.security) and metrics.
package secmon
