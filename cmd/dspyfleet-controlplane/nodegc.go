package main

import (
	"flag"

	"github.com/dspyfleet/dspyfleet/controlplane"
)

// registerNodeGCFlags adds the flags that bound the node table: when stale nodes are forgotten
// and how fast each credential may register new node ids.
func registerNodeGCFlags(fs *flag.FlagSet, cfg *controlplane.Config) {
	fs.DurationVar(&cfg.NodeGC, "node-gc", cfg.NodeGC,
		"forget a node down for longer than this (removed from the node list and the store, with an audit record); 0 keeps down nodes for good")
	fs.DurationVar(&cfg.NodeGCUnready, "node-gc-unready", cfg.NodeGCUnready,
		"forget a node that was never seen ready (it never reported while serving) and has not been connected for longer than this; 0 leaves such nodes to --node-gc")
	fs.IntVar(&cfg.MaxNewNodesPerMinute, "max-new-nodes-per-minute", cfg.MaxNewNodesPerMinute,
		"new node ids each credential (agent token, per-node token, certificate) may register a minute, in bursts of as many; past it RESOURCE_EXHAUSTED; known nodes reconnecting are never limited; callers without a credential (authentication off) are not limited; 0 means no limit")
}
