// Package scaling owns auto-scaling of the fleet's pools: the scaling policies and decision
// history in the store, the scaler that runs pkg/scaling's decisions every tick with the pool's
// figures, and the actuators that carry them out (a confined exec hook that adds or removes
// hosts after draining victims, or scale commands to agents), with the memory it keeps across
// restarts and its Prometheus series.
package scaling
