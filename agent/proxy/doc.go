// Package proxy is the agent's sidecar reverse proxy: it stands in front of a DSPy HTTP server
// and measures every request without any change to the app.
//
// For each request it records latency (until the response body has been copied to the client),
// status, bytes in and out, and whether it failed (status 500 or more, or the upstream could not
// be reached or broke off: 502). Token usage, model, program, module and cache state come from
// response headers (or trailers) when the app sets them, and otherwise from the body: JSON
// responses are scanned for an OpenAI-style "usage" object ("prompt_tokens"/"completion_tokens"
// or "input_tokens"/"output_tokens") and a "model" as the bytes stream through, and Server-Sent
// Events streams are scanned event by event, the last usage winning; for those, the time to the
// first body byte is recorded as TTFT. Nothing is buffered: the scanner sees each chunk as it is
// forwarded and keeps only a few small tokens.
//
// While the node drains, new requests are answered 503 with Retry-After and the requests in
// flight finish.
package proxy
