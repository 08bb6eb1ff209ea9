package proxy

import (
	"context"
	"mime"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
)

// statusClientClosed is recorded when the client goes away before its response is complete
// (nginx's convention); such requests do not count as errors of the app.
const statusClientClosed = 499

// exchange is the measurement of one proxied request. The reverse proxy's hooks find it in the
// request context; all but bytesIn are touched only by the handler's goroutine.
type exchange struct {
	start       time.Time
	instance    *upstreamPort  // the instance the balancer chose; nil: the configured upstream
	res         *http.Response // the upstream's response; nil when there was none
	upstreamErr error          // the upstream could not be reached or broke off
	firstByte   time.Time      // when the first body byte arrived from the upstream
	bytesIn     atomic.Int64
	bytesOut    int64
	inspect     inspector // scans the body for usage; nil when the body is not inspected
	stream      bool      // the response is text/event-stream
	usage       usage
}

// exchangeKey is the context key of the request's exchange.
type exchangeKey struct{}

// exchangeOf returns the exchange ServeHTTP put in ctx.
func exchangeOf(ctx context.Context) *exchange { return ctx.Value(exchangeKey{}).(*exchange) }

// modifyResponse starts measuring the upstream's response body; the reverse proxy calls it
// once the headers arrive.
func (p *Proxy) modifyResponse(res *http.Response) error {
	x := exchangeOf(res.Request.Context())
	x.res = res
	if res.StatusCode == http.StatusSwitchingProtocols {
		return nil // the body is the upgraded connection; the proxy needs it as it is
	}
	if enc := res.Header.Get("Content-Encoding"); enc == "" || strings.EqualFold(enc, "identity") {
		switch mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); {
		case mt == "text/event-stream":
			x.stream = true
			x.inspect = newSSEScanner(&x.usage, p.cfg.MaxInspect)
		case mt == "application/json" || strings.HasSuffix(mt, "+json"):
			x.inspect = &limitedInspector{next: newJSONScanner(&x.usage), left: p.cfg.MaxInspect}
		}
	}
	res.Body = &responseBody{ReadCloser: res.Body, x: x, now: p.cfg.Now}
	return nil
}

// upstreamFailed answers 502 when the upstream cannot be reached or fails before its headers.
func (p *Proxy) upstreamFailed(w http.ResponseWriter, r *http.Request, err error) {
	x := exchangeOf(r.Context())
	x.upstreamErr = err
	if r.Context().Err() == nil {
		p.log.Debug("upstream request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	w.WriteHeader(http.StatusBadGateway)
}

// event is what the exchange measured, ended at end. aborted says the response could not be
// copied to the end; clientGone that the client left.
func (p *Proxy) event(x *exchange, end time.Time, aborted, clientGone bool) reqstats.Event {
	e := reqstats.Event{Time: end, Latency: end.Sub(x.start)}
	if x.res != nil {
		e.Status = x.res.StatusCode
		x.usage.fromHeaders(&p.cfg, x.res.Header, x.res.Trailer)
	}
	switch {
	case clientGone:
		e.Status = statusClientClosed
	case x.upstreamErr != nil:
		e.Error = true
		if x.res == nil {
			e.Status = http.StatusBadGateway
		}
	case aborted:
		e.Status = statusClientClosed
	default:
		e.Error = e.Status >= 500
	}
	if x.stream && !x.firstByte.IsZero() {
		e.TTFT = x.firstByte.Sub(x.start)
	}
	u := &x.usage
	e.InputTokens, e.OutputTokens = u.input, u.output
	e.Model, e.Program, e.Module, e.Cache = u.model, u.program, u.module, u.cache
	// Names and statuses come from the app: drop any value Check refuses rather than the event.
	for _, fe := range e.Check(end, time.Minute) {
		switch fe.Field {
		case "status": // a three-digit status past 599
			e.Status = 0
		case "model":
			e.Model = ""
		case "program":
			e.Program = ""
		case "module":
			e.Module = ""
		}
	}
	return e
}
