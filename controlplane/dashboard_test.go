package controlplane_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/internal/credential"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// dashClient is a browser-like HTTP client of the dashboard: it keeps cookies and follows no
// redirect, so the tests see each answer.
type dashClient struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newDashClient(t *testing.T, cp *fleettest.ControlPlane) *dashClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &dashClient{t: t, base: "http://" + cp.HTTPAddr(), c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// do sends a request and returns the answer's status, body and response.
func (d *dashClient) do(method, path string, body io.Reader, header map[string]string) (int, string, *http.Response) {
	d.t.Helper()
	req, err := http.NewRequest(method, d.base+path, body)
	if err != nil {
		d.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := d.c.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		d.t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp
}

func (d *dashClient) login(token string) (int, string, *http.Response) {
	d.t.Helper()
	return d.do("POST", "/ui/login", strings.NewReader(url.Values{"token": {token}}.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
}

// csrf returns the session's CSRF token.
func (d *dashClient) csrf() string {
	d.t.Helper()
	code, body, _ := d.do("GET", "/ui/api/session", nil, nil)
	var s struct{ CSRF string }
	if code != http.StatusOK || json.Unmarshal([]byte(body), &s) != nil || s.CSRF == "" {
		d.t.Fatalf("GET /ui/api/session: %d %s", code, body)
	}
	return s.CSRF
}

// TestDashboardSessions checks the dashboard's guards over plain HTTP: the login and its
// cookie, that an agent token cannot log in, the CSRF token, the same-origin check, the roles
// (checked by the dashboard and again by the gRPC service), the audit trail, the logout.
func TestDashboardSessions(t *testing.T) {
	var logs lockedBuffer
	cp := fleettest.StartControlPlane(t, tokenConfig(t, &logs))
	admin := fleetAs(t, cp, adminTok)
	d := newDashClient(t, cp)

	if code, _, resp := d.do("GET", "/ui/", nil, nil); code != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/login" {
		t.Errorf("GET /ui/ without a session: %d to %q, want 303 to /ui/login", code, resp.Header.Get("Location"))
	}
	if code, body, _ := d.do("GET", "/ui/api/nodes", nil, nil); code != http.StatusUnauthorized || !strings.Contains(body, "not logged in") {
		t.Errorf("GET /ui/api/nodes without a session: %d %s, want 401", code, body)
	}
	for _, tok := range []string{wrongTok, agentTok} {
		if code, body, _ := d.login(tok); code != http.StatusUnauthorized || !strings.Contains(body, "neither") {
			t.Errorf("login with %.5s…: %d, want 401 naming the token:\n%s", tok, code, body)
		}
	}
	if code, body, _ := d.login(""); code != http.StatusBadRequest || !strings.Contains(body, "token:") {
		t.Errorf("login without a token: %d, want 400 naming the field:\n%s", code, body)
	}
	audit, err := admin.ListAudit(context.Background(), &fleetv1.ListAuditRequest{Kinds: []fleetv1.AuditKind{fleetv1.AuditKind_AUDIT_KIND_SECURITY}})
	if err != nil {
		t.Fatal(err)
	}
	// The wrong token failed authentication; the agent token is valid, only not for the
	// dashboard: a denial, which is not counted as a failure.
	failed, denied := 0, 0
	for _, r := range audit.GetRecords() {
		if r.GetMethod() != "/ui/login" || !strings.HasPrefix(r.GetPeer(), "127.0.0.1:") {
			continue
		}
		switch {
		case r.GetEvent() == fleetv1.SecurityEvent_SECURITY_EVENT_AUTH_FAILED && r.GetIdentity() == "":
			failed++
		case r.GetEvent() == fleetv1.SecurityEvent_SECURITY_EVENT_PERMISSION_DENIED && r.GetIdentity() == "agent":
			denied++
		}
	}
	if failed != 1 || denied != 1 {
		t.Errorf("%d failed and %d denied dashboard logins in the audit trail, want 1 and 1: %v", failed, denied, audit.GetRecords())
	}

	code, _, resp := d.login(adminTok)
	if code != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/" {
		t.Fatalf("admin login: %d to %q, want 303 to /ui/", code, resp.Header.Get("Location"))
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 {
		t.Fatalf("admin login set %d cookies, want 1", len(cookies))
	}
	if c := cookies[0]; !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/ui/" || strings.Contains(c.Value, "admin") || c.Value == "" {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, path /ui/, a session id and not the token", c)
	}
	if strings.Contains(resp.Header.Get("Location"), "token") {
		t.Errorf("the login redirect carries the token: %s", resp.Header.Get("Location"))
	}
	if code, body, _ := d.do("GET", "/ui/", nil, nil); code != http.StatusOK || !strings.Contains(body, "<title>dspyfleet</title>") {
		t.Errorf("GET /ui/ logged in: %d", code)
	}
	if code, body, _ := d.do("GET", "/ui/api/nodes", nil, nil); code != http.StatusOK || body != "[]\n" {
		t.Errorf("GET /ui/api/nodes: %d %q, want an empty list", code, body)
	}
	if code, body, _ := d.do("GET", "/ui/api/pools/default?range=1y", nil, nil); code != http.StatusBadRequest || !strings.Contains(body, "range: 1y") {
		t.Errorf("a pool over 1y: %d %s, want 400 naming the range", code, body)
	}
	if code, body, _ := d.do("GET", "/ui/api/pools/no%20such", nil, nil); code != http.StatusBadRequest || !strings.Contains(body, "pool") {
		t.Errorf("a bad pool name: %d %s, want 400 naming the pool", code, body)
	}

	// Changes need the session's CSRF token and a same-origin request.
	csrf := d.csrf()
	if code, body, _ := d.do("POST", "/ui/api/nodes/web-1/drain", nil, nil); code != http.StatusForbidden || !strings.Contains(body, "X-CSRF-Token") {
		t.Errorf("drain without the CSRF token: %d %s, want 403", code, body)
	}
	if code, _, _ := d.do("POST", "/ui/api/nodes/web-1/drain", nil, map[string]string{"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"}); code != http.StatusForbidden {
		t.Errorf("drain from another site: %d, want 403", code)
	}
	// With both, the call reaches FleetService: there is no such node.
	if code, body, _ := d.do("POST", "/ui/api/nodes/web-1/drain", nil, map[string]string{"X-CSRF-Token": csrf}); code != http.StatusNotFound || !strings.Contains(body, "web-1") {
		t.Errorf("admin drain of an unknown node: %d %s, want 404 from the service", code, body)
	}
	for body, want := range map[string]string{
		`{"matchers":[{"name":"alertname","value":"X"}],"duration":"soon","author":"a","comment":"c"}`: "duration: soon",
		`{"matchers":[{"name":"alertname","value":"X"}],"duration":"-1h","author":"a","comment":"c"}`:  "duration: -1h",
		`{"duration":"1h","until":"never"}`: `unknown field \"until\"`,
	} {
		code, got, _ := d.do("POST", "/ui/api/silences", strings.NewReader(body), map[string]string{"X-CSRF-Token": csrf, "Content-Type": "application/json"})
		if code != http.StatusBadRequest || !strings.Contains(got, want) {
			t.Errorf("silence %s: %d %s, want 400 naming %q", body, code, got, want)
		}
	}
	audit, err = admin.ListAudit(context.Background(), &fleetv1.ListAuditRequest{Target: "web-1"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(audit.GetRecords()); n != 1 || audit.GetRecords()[0].GetMethod() != fleetv1.FleetService_DrainNode_FullMethodName || audit.GetRecords()[0].GetIdentity() != "admin" {
		t.Errorf("audit trail of web-1: %v, want the admin's one DrainNode", audit.GetRecords())
	}

	// Logging out ends the session on the server.
	if code, _, _ := d.do("POST", "/ui/logout", nil, nil); code != http.StatusSeeOther {
		t.Errorf("logout: %d, want 303", code)
	}
	if code, _, _ := d.do("GET", "/ui/api/nodes", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("GET /ui/api/nodes after the logout: %d, want 401", code)
	}

	// The read-only token reads and changes nothing.
	if code, _, _ := d.login(readTok); code != http.StatusSeeOther {
		t.Fatalf("read-only login: %d", code)
	}
	if code, _, _ := d.do("GET", "/ui/api/nodes", nil, nil); code != http.StatusOK {
		t.Errorf("read-only GET /ui/api/nodes: %d", code)
	}
	csrf = d.csrf()
	if code, body, _ := d.do("POST", "/ui/api/nodes/web-1/undrain", nil, map[string]string{"X-CSRF-Token": csrf}); code != http.StatusForbidden || !strings.Contains(body, "read-only") {
		t.Errorf("read-only undrain: %d %s, want 403 naming the role", code, body)
	}
	if strings.Contains(logs.String(), adminTok) || strings.Contains(logs.String(), readTok) {
		t.Error("a token is in the log")
	}
}

// TestDashboardOverTLS checks the dashboard behind TLS: its in-process gRPC connection speaks
// TLS to the server, and the session cookie is Secure.
func TestDashboardOverTLS(t *testing.T) {
	f := startMTLS(t)
	tc, err := credential.ClientTLS(f.ca.CertFile, "", "")
	if err != nil {
		t.Fatal(err)
	}
	d := newDashClient(t, f.cp)
	d.base = "https://" + f.cp.HTTPAddr()
	d.c.Transport = &http.Transport{TLSClientConfig: tc}
	code, _, resp := d.login(adminTok)
	if code != http.StatusSeeOther || len(resp.Cookies()) != 1 || !resp.Cookies()[0].Secure {
		t.Fatalf("admin login over TLS: %d, cookies %v; want 303 and one Secure cookie", code, resp.Cookies())
	}
	if code, body, _ := d.do("GET", "/ui/api/nodes", nil, nil); code != http.StatusOK || body != "[]\n" {
		t.Errorf("GET /ui/api/nodes over TLS: %d %s, want an empty list", code, body)
	}
}

// TestDashboardLoginBackoff: from one browser address, past 10 failed logins a bad token gets
// 429 with a Retry-After and the wait in the page, while the admin and read-only tokens still
// log in at once from the same address.
func TestDashboardLoginBackoff(t *testing.T) {
	cfg := tokenConfig(t, &lockedBuffer{})
	cfg.AuthFailuresPerMinute = 10
	clock := &fakeClock{now: time.Now()}
	cfg.Now = clock.Now
	cp := fleettest.StartControlPlane(t, cfg)
	d := newDashClient(t, cp)
	for i := range 10 {
		if code, _, _ := d.login(wrongTok); code != http.StatusUnauthorized {
			t.Fatalf("failed login %d: %d, want 401", i+1, code)
		}
	}
	code, body, resp := d.login(wrongTok)
	if code != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" || !strings.Contains(body, "retry in 1s") {
		t.Fatalf("the 11th failed login: %d, Retry-After %q, want 429 and 1:\n%s", code, resp.Header.Get("Retry-After"), body)
	}
	for _, tok := range []string{adminTok, readTok} {
		if code, _, _ := newDashClient(t, cp).login(tok); code != http.StatusSeeOther {
			t.Fatalf("login with a valid token after 11 failures from its address: %d, want 303", code)
		}
	}
}
