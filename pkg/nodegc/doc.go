// Package nodegc decides which nodes the control plane forgets: nodes down for longer than a
// window (--node-gc), and nodes never seen ready and gone for longer than a shorter one
// (--node-gc-unready), such as those a flood of Hellos with random ids leaves behind. A node
// with a live session is never forgotten.
//
// Everything here is pure: the caller passes the nodes and the time, and applies the removals.
package nodegc
