// Package intake is the agent's local endpoint where DSPy programs report their requests.
//
// A program (or the callback in contrib/python) posts one JSON object, or a batch of them as
// NDJSON, to POST /v1/requests:
//
//	{"ts": "2025-01-02T15:04:05Z", "program": "qa", "module": "answer", "model": "openai/gpt-4o-mini",
//	 "latency_ms": 812.5, "ttft_ms": 140, "input_tokens": 1200, "output_tokens": 85,
//	 "cache_hit": false, "error": false, "status": 200}
//
// Only latency_ms is required. ts is RFC 3339 or Unix seconds (default: when the body arrived);
// error is a boolean or a message, a non-empty message meaning the request failed (default: status
// is 500 or more); cache_hit absent means unknown. Unknown fields, wrong types and values
// reqstats.Event.Check refuses are rejected line by line, each bad field named; the good lines of
// a batch are accepted.
//
// Accepted events go to a bounded queue that one goroutine drains into the Sink, so a handler
// never waits on the sink or on the control plane. When the queue cannot take a whole batch the
// intake answers 429 with Retry-After and counts the events it dropped.
package intake
