package e2e

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"google.golang.org/protobuf/proto"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// screenshots is where TestDashboard writes a PNG of each page (docs/dashboard/ in the
// repository); empty writes none:
//
//	go test ./e2e -run TestDashboard -count=1 -dashboard.screenshots=../docs/dashboard
var screenshots = flag.String("dashboard.screenshots", "", "directory TestDashboard writes page screenshots to")

// Tokens of the dashboard test.
const (
	dashAgentTok = "agent-token-0123456789abcdef"
	dashAdminTok = "admin-token-0123456789abcdef"
	dashReadTok  = "read-token-0123456789abcdef"
)

// browserPath finds Chromium or Chrome: $DSPYFLEET_BROWSER, else the usual names on PATH.
func browserPath() (string, bool) {
	if p := os.Getenv("DSPYFLEET_BROWSER"); p != "" {
		return p, true
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless_shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, true
		}
	}
	return "", false
}

// newBrowser starts a headless browser for the test and returns a tab's context.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path, ok := browserPath()
	if !ok {
		t.Skip("no browser found: install Debian's chromium (apt-get install -y chromium) or set DSPYFLEET_BROWSER; .ci/run installs it")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.WindowSize(1280, 900))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return ctx
}

// stepTimeout bounds each group of browser actions.
const stepTimeout = 30 * time.Second

// run runs browser actions, failing the test with what they were for.
func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v; the page shows:\n%s", what, err, pageText(ctx))
	}
}

// pageText is the text of the page, for failure messages.
func pageText(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return text
}

// get runs one browser action and returns its value, failing the test with what it was for.
func get[T any](t *testing.T, ctx context.Context, what string, action chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// shoot writes a screenshot of the page as name.png into -dashboard.screenshots.
func shoot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if *screenshots == "" {
		return
	}
	png := get(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.MkdirAll(*screenshots, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*screenshots, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// sendRequests reports n DSPy requests to the agent's intake.
func sendRequests(t *testing.T, intake string, n int) {
	t.Helper()
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"program":"qa","model":"openai/gpt-4o-mini","latency_ms":%d,"input_tokens":120,"output_tokens":30,"cache_hit":%t,"error":%t}`+"\n",
			200+i*37%900, i%3 == 0, i%17 == 0)
	}
	resp, err := http.Post("http://"+intake+"/v1/requests", "application/x-ndjson", strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("intake answered %s", resp.Status)
	}
}

// TestDashboard drives the web dashboard in a real headless Chromium against a real control
// plane and agents: the login, the fleet table and its filters, a plot with data points, an
// alert silenced and the silence expired, a drain and an undrain from the page that reach the
// agent, and a read-only login that can neither drain nor silence.
func TestDashboard(t *testing.T) {
	ctx := newBrowser(t)
	cfg := fleettest.FastConfig(t)
	cfg.AgentToken = fleettest.Token(t, dashAgentTok)
	cfg.AdminToken = fleettest.Token(t, dashAdminTok)
	cfg.ReadToken = fleettest.Token(t, dashReadTok)
	cp := fleettest.StartControlPlane(t, cfg)
	ag := startAgentWith(t, cp.GRPCAddr(), "web-1", func(c *agent.Config) {
		c.Token = fleettest.Token(t, dashAgentTok)
		c.Intake.Listen = "127.0.0.1:0"
		c.AdvertiseAddr = "127.0.0.1:8000"
	})
	startAgentWith(t, cp.GRPCAddr(), "web-2", func(c *agent.Config) {
		c.Token = fleettest.Token(t, dashAgentTok)
		c.Labels = map[string]string{"zone": "b"}
	})
	startAgentWith(t, cp.GRPCAddr(), "batch-1", func(c *agent.Config) {
		c.Token = fleettest.Token(t, dashAgentTok)
		c.Pool = "batch"
	})
	admin := fleetv1.NewFleetServiceClient(fleettest.DialToken(t, cp.GRPCAddr(), fleettest.Token(t, dashAdminTok)))
	fleettest.Eventually(t, 10*time.Second, "the three nodes ready", func() bool {
		for _, id := range []string{"web-1", "web-2", "batch-1"} {
			if fleettest.NodeState(admin, id) != fleetv1.NodeState_NODE_STATE_READY {
				return false
			}
		}
		return true
	})
	scaling := fleetv1.NewScalingServiceClient(fleettest.DialToken(t, cp.GRPCAddr(), fleettest.Token(t, dashAdminTok)))
	if _, err := scaling.SetPolicy(context.Background(), &fleetv1.ScalingServiceSetPolicyRequest{Pool: "web", Policy: &fleetv1.ScalingPolicy{
		Min: proto.Uint32(1), Max: 3, Targets: []*fleetv1.ScalingTarget{{Metric: "cpu_percent", Value: 70}},
	}}); err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 10*time.Second, "a scaling decision for web", func() bool {
		st, err := scaling.GetStatus(context.Background(), &fleetv1.ScalingServiceGetStatusRequest{Pool: "web"})
		return err == nil && st.GetDecision().GetReason() != ""
	})
	sendRequests(t, ag.IntakeAddr(), 200)
	fleettest.Eventually(t, 10*time.Second, "the requests in the pool's rollups", func() bool {
		st, err := admin.GetPoolStats(context.Background(), &fleetv1.GetPoolStatsRequest{Pool: "web"})
		return err == nil && st.GetPool().GetRequests() >= 200
	})
	base := "http://" + cp.HTTPAddr()

	// No session: the login page. A wrong token is refused there.
	run(t, ctx, "open the dashboard", chromedp.Navigate(base+"/ui/"), chromedp.WaitVisible(css("#token")))
	if loc := get(t, ctx, "the location", chromedp.Location()); !strings.HasSuffix(loc, "/ui/login") {
		t.Fatalf("without a session /ui/ went to %s, want the login page", loc)
	}
	shoot(t, ctx, "login")
	run(t, ctx, "log in with a wrong token",
		chromedp.SendKeys(css("#token"), "wrong-token-0123456789abcdef"), chromedp.Submit(css("#token")),
		chromedp.WaitVisible(css("#login-error")))
	if msg := get(t, ctx, "the login error", chromedp.Text(css("#login-error"))); !strings.Contains(msg, "neither") {
		t.Errorf("wrong token: login says %q", msg)
	}
	login(t, ctx, dashAdminTok)

	// Fleet: the node is listed, ready, in its pool, and the page is live.
	run(t, ctx, "the fleet table", chromedp.WaitVisible(css(`tr[data-node="web-1"]`)), chromedp.WaitVisible(css(`#live.on`)))
	state := get(t, ctx, "the node's state", chromedp.Text(css(`tr[data-node="web-1"] .state`)))
	pool := get(t, ctx, "the node's pool", chromedp.Text(css(`tr[data-node="web-1"] td:nth-child(3)`)))
	if state != "ready" || pool != "web" {
		t.Errorf("fleet table: web-1 %q in pool %q, want ready in web", state, pool)
	}
	shoot(t, ctx, "fleet")
	countRows := chromedp.Evaluate[int](`document.querySelectorAll("#nodes tbody tr").length`)
	if n := get(t, ctx, "count the rows", countRows); n != 3 {
		t.Errorf("the fleet table has %d rows, want 3", n)
	}
	run(t, ctx, "filter by label", chromedp.SendKeys(css("#filter-label"), "zone=b"))
	if n, only := get(t, ctx, "count the rows", countRows), get(t, ctx, "the row left", chromedp.Text(css("#nodes tbody tr td"))); n != 1 || only != "web-2" {
		t.Errorf("filtered by zone=b the table has %d rows, the first %q; want web-2 only", n, only)
	}
	run(t, ctx, "filter by pool", chromedp.Reload(), chromedp.WaitVisible(css(`tr[data-node="web-1"]`)),
		chromedp.SetValue(css("#filter-pool"), "batch"), chromedp.Evaluate[chromedp.Void](`document.querySelector("#filter-pool").dispatchEvent(new Event("change"))`))
	if n, only := get(t, ctx, "count the rows", countRows), get(t, ctx, "the row left", chromedp.Text(css("#nodes tbody tr td"))); n != 1 || only != "batch-1" {
		t.Errorf("filtered by pool batch the table has %d rows, the first %q; want batch-1 only", n, only)
	}
	run(t, ctx, "clear the filters", chromedp.Reload(), chromedp.WaitVisible(css(`tr[data-node="web-2"]`)))

	// Pools: the plots have the requests.
	run(t, ctx, "the pool page", chromedp.Navigate(base+"/ui/#/pools/web"),
		chromedp.WaitVisible(css(`#plot-rps .u-over`)), chromedp.WaitVisible(css(`#routing tr[data-routing-node="web-1"]`)))
	if eligible := get(t, ctx, "web-1 in routing", chromedp.Text(css(`#routing tr[data-routing-node="web-1"] td:nth-child(3)`))); eligible != "yes" {
		t.Errorf("routing table: web-1 in routing %q, want yes", eligible)
	}
	if reason := get(t, ctx, "the scaling decision", chromedp.Text(css(`#scaling`))); !strings.Contains(reason, "Current → desired") || !strings.Contains(reason, "cpu_percent") {
		t.Errorf("scaling view without the decision and its cpu_percent signal:\n%s", reason)
	}
	points := get(t, ctx, "count the plots' points", chromedp.Evaluate[int](
		`window.dashboardPlots.rps.data[1].filter(v => v > 0).length + window.dashboardPlots.latency.data[2].filter(v => v > 0).length`))
	if points < 2 {
		t.Errorf("the request-rate and p95 plots have %d points above zero, want one each at least", points)
	}
	run(t, ctx, "live updates", chromedp.WaitVisible(css(`#live.on`)))
	shoot(t, ctx, "pools")

	// Alerts: a firing alert, silenced from the page, then the silence expired.
	alerts := fleetv1.NewAlertServiceClient(fleettest.DialToken(t, cp.GRPCAddr(), fleettest.Token(t, dashAdminTok)))
	if _, err := alerts.SetRule(context.Background(), &fleetv1.SetRuleRequest{Rule: &fleetv1.AlertRule{
		Name: "BatchNodeUp", Scope: fleetv1.RuleScope_RULE_SCOPE_NODE, Condition: `node.id == "batch-1" && node.up`,
		Severity: fleetv1.AlertSeverity_ALERT_SEVERITY_WARNING, Annotations: map[string]string{"summary": "batch-1 is up"},
	}}); err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 10*time.Second, "BatchNodeUp firing", func() bool {
		resp, err := alerts.ListAlerts(context.Background(), &fleetv1.ListAlertsRequest{States: []fleetv1.AlertState{fleetv1.AlertState_ALERT_STATE_FIRING}})
		return err == nil && slices.ContainsFunc(resp.GetAlerts(), func(a *fleetv1.Alert) bool { return a.GetRule() == "BatchNodeUp" })
	})
	alertRow := css(`tr[data-alert="BatchNodeUp node/batch-1"]`)
	run(t, ctx, "the alerts page", chromedp.Navigate(base+"/ui/#/alerts"), chromedp.WaitVisible(alertRow))
	if st := get(t, ctx, "the alert's state", chromedp.Text(css(`tr[data-alert="BatchNodeUp node/batch-1"] .alert`))); st != "firing" {
		t.Errorf("BatchNodeUp on batch-1 is %q on the page, want firing", st)
	}
	run(t, ctx, "silence it from the page", chromedp.Click(css(`tr[data-alert="BatchNodeUp node/batch-1"] button.silence`)),
		chromedp.WaitVisible(css(`#silences tr[data-silence]`)), chromedp.WaitVisible(alertRow))
	sil, err := alerts.ListSilences(context.Background(), &fleetv1.ListSilencesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(sil.GetSilences()); n != 1 || len(sil.GetSilences()[0].GetMatchers()) != 2 || sil.GetSilences()[0].GetMatchers()[1].GetValue() != "batch-1" {
		t.Fatalf("silences after the page's: %v, want one for alertname=BatchNodeUp, node=batch-1", sil.GetSilences())
	}
	shoot(t, ctx, "alerts")
	run(t, ctx, "expire the silence from the page", chromedp.Click(css(`#silences button.expire`)), chromedp.WaitVisible(css(`p#silences`)))
	if sil, err = alerts.ListSilences(context.Background(), &fleetv1.ListSilencesRequest{}); err != nil || len(sil.GetSilences()) != 0 {
		t.Errorf("silences after the expiry: %v, %v; want none", sil.GetSilences(), err)
	}

	// Node detail: a drain from the page reaches the agent, which drains; then undrain.
	run(t, ctx, "open the node from the fleet table",
		chromedp.Navigate(base+"/ui/#/fleet"), chromedp.WaitVisible(css(`tr[data-node="web-1"]`)),
		chromedp.Click(css(`tr[data-node="web-1"] a`)), chromedp.WaitVisible(css(`#drain`)))
	run(t, ctx, "drain from the page", chromedp.Click(css(`#drain`)), chromedp.WaitVisible(css(`.notice.ok`)))
	fleettest.Eventually(t, 10*time.Second, "web-1 drained by its agent", func() bool {
		n := fleettest.Node(t, admin, "web-1")
		return n.GetState() == fleetv1.NodeState_NODE_STATE_DRAINED && n.GetDrained()
	})
	run(t, ctx, "the page sees the drain", chromedp.WaitVisible(css(`#node-state.drained`)), chromedp.WaitVisible(css(`#commands tr[data-command]`)))
	shoot(t, ctx, "node")
	run(t, ctx, "undrain from the page", chromedp.Click(css(`#undrain`)), chromedp.WaitVisible(css(`#node-state.ready`)))
	if s := fleettest.NodeState(admin, "web-1"); s != fleetv1.NodeState_NODE_STATE_READY {
		t.Errorf("after the undrain web-1 is %s, want ready", s)
	}

	// Read-only: sees the node, has no drain button, and the server refuses a drain the page
	// sends anyway with its CSRF token.
	run(t, ctx, "log out", chromedp.Navigate(base+"/ui/#/fleet"), chromedp.WaitVisible(css(`#logout button`)),
		chromedp.Click(css(`#logout button`)), chromedp.WaitVisible(css("#token")))
	login(t, ctx, dashReadTok)
	run(t, ctx, "the node as read-only", chromedp.Navigate(base+"/ui/#/fleet/web-1"), chromedp.WaitVisible(css(`#read-only`)))
	if n := get(t, ctx, "count drain buttons", chromedp.Evaluate[int](`document.querySelectorAll("#drain").length`)); n != 0 {
		t.Errorf("the read-only page shows %d drain buttons", n)
	}
	answer := get(t, ctx, "a forged drain", chromedp.Evaluate[string](
		`fetch("/ui/api/nodes/web-1/drain", {method: "POST", headers: {"X-CSRF-Token": state.session.csrf}}).then(r => r.status + " " + r.statusText)`,
		chromedp.EvalAwaitPromise))
	if !strings.HasPrefix(answer, "403") {
		t.Errorf("a drain with the read-only token answered %q, want 403", answer)
	}
	run(t, ctx, "the alerts as read-only", chromedp.Navigate(base+"/ui/#/alerts"), chromedp.WaitVisible(alertRow))
	if n := get(t, ctx, "count silence buttons", chromedp.Evaluate[int](`document.querySelectorAll("button.silence, #silence-form").length`)); n != 0 {
		t.Errorf("the read-only alerts page shows %d silence controls", n)
	}
	answer = get(t, ctx, "a forged silence", chromedp.Evaluate[string](
		`fetch("/ui/api/silences", {method: "POST", headers: {"X-CSRF-Token": state.session.csrf, "Content-Type": "application/json"},
			body: JSON.stringify({matchers: [{name: "alertname", value: "BatchNodeUp"}], duration: "1h", author: "x", comment: "y"})}).then(r => r.status + " " + r.statusText)`,
		chromedp.EvalAwaitPromise))
	if !strings.HasPrefix(answer, "403") {
		t.Errorf("a silence with the read-only token answered %q, want 403", answer)
	}
	if sil, err := alerts.ListSilences(context.Background(), &fleetv1.ListSilencesRequest{}); err != nil || len(sil.GetSilences()) != 0 {
		t.Errorf("silences after the read-only attempt: %v, %v; want none", sil.GetSilences(), err)
	}
	cmds, err := admin.ListCommands(context.Background(), &fleetv1.ListCommandsRequest{NodeId: "web-1"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(cmds.GetCommands()); n != 2 {
		t.Errorf("web-1 has %d commands, want the drain and the undrain of the admin only", n)
	}
	if n := fleettest.Node(t, admin, "web-1"); n.GetDrainRequested() {
		t.Error("the read-only drain reached the node")
	}
}

// login logs in with token from the login page and waits for the dashboard.
func login(t *testing.T, ctx context.Context, token string) {
	t.Helper()
	run(t, ctx, "log in",
		chromedp.WaitVisible(css("#token")), chromedp.SendKeys(css("#token"), token),
		chromedp.Submit(css("#token")), chromedp.WaitVisible(css(`#nodes`)))
}

// css is a CSS selector.
type css = chromedp.CSS
