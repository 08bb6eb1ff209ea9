package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
	"google.golang.org/protobuf/proto"
)

func TestParseRuleFile(t *testing.T) {
	yamlRule := `name: ErrorSpike
scope: node
condition: node.dspy.error_rate > 0.2
for: 2m
repeat: 30m
severity: critical
notify: [log]
action: {kind: restart, min_healthy: 2}
params: {target_p95_ms: 1500}
`
	r, err := parseRuleFile("r.yaml", []byte(yamlRule))
	if err != nil {
		t.Fatal(err)
	}
	if r.GetScope() != fleetv1.RuleScope_RULE_SCOPE_NODE || r.GetSeverity() != fleetv1.AlertSeverity_ALERT_SEVERITY_CRITICAL ||
		r.GetFor().AsDuration().Minutes() != 2 || r.GetRepeatInterval().AsDuration().Minutes() != 30 ||
		r.GetAction().GetKind() != fleetv1.CommandKind_COMMAND_KIND_RESTART || r.GetAction().GetMinHealthy() != 2 || r.GetParams()["target_p95_ms"] != 1500 {
		t.Fatalf("parsed %v", r)
	}
	if r.GetUrgent() {
		t.Fatal("a rule without urgent parsed urgent")
	}
	if r, err := parseRuleFile("r.yaml", []byte(yamlRule+"urgent: true\n")); err != nil || !r.GetUrgent() {
		t.Fatalf("urgent: true parsed as %v, %v", r, err)
	}
	jsonRule := `{"name": "Empty", "scope": "fleet", "severity": "info", "condition": "fleet.nodes == 0", "for": "10s"}`
	if r, err := parseRuleFile("r.json", []byte(jsonRule)); err != nil || r.GetFor().AsDuration().Seconds() != 10 {
		t.Fatalf("JSON rule: %v, %v", r, err)
	}
	for _, bad := range []struct{ text, want string }{
		{"name: x\nscope: node\nseverity: info\nconditon: true\n", "conditon"},
		{"name: x\nscope: cluster\nseverity: info\n", `scope "cluster"`},
		{"name: x\nscope: node\nseverity: page\n", `severity "page"`},
		{"name: x\nscope: node\nseverity: info\naction: {kind: reboot}\n", "action.kind"},
		{"name: x\nscope: node\nseverity: info\nfor: soon\n", "soon"},
		{"name: x\nscope: node\nseverity: info\nurgent: soon\n", "soon"},
		{"", "empty"},
	} {
		if _, err := parseRuleFile("bad.yaml", []byte(bad.text)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("parseRuleFile(%q) = %v, want an error containing %q", bad.text, err, bad.want)
		}
	}
	for _, m := range []string{"a=b", "a!=b", "a=~b.*", "a!~b"} {
		sm, err := parseMatcher(m)
		if err != nil || matcherString(sm) != m {
			t.Errorf("matcher %q round trip: %v, %v", m, sm, err)
		}
	}
}

func TestAlertsCommandsAgainstControlPlane(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	t.Setenv("DSPYFLEET_ADDR", cp.GRPCAddr())
	ctx := context.Background()
	fleetctl := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(ctx, args, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	bad := write("bad.yaml", "name: Bad\nscope: node\nseverity: info\ncondition: node.host.cpu + 1.0\n")
	if code, _, errOut := fleetctl("alerts", "rule", "set", bad); code != exitError || !strings.Contains(errOut, "InvalidArgument") || !strings.Contains(errOut, "not bool") {
		t.Fatalf("rule set of a non-boolean condition: %d %q", code, errOut)
	}
	good := write("empty.yaml", "name: Empty\nscope: fleet\nseverity: warning\ncondition: fleet.nodes == 0\nnotify: [log]\n"+
		"annotations: {summary: 'no nodes'}\n")
	if code, out, errOut := fleetctl("alerts", "test", good); code != exitOK || !strings.Contains(out, "fleet") || !strings.Contains(out, "true") {
		t.Fatalf("alerts test FILE: %d %q %q", code, out, errOut)
	}
	if code, out, errOut := fleetctl("alerts", "rule", "set", good); code != exitOK || !strings.Contains(out, "rule Empty stored") {
		t.Fatalf("rule set: %d %q %q", code, out, errOut)
	}
	if code, out, _ := fleetctl("alerts", "rules"); code != exitOK || !strings.Contains(out, "Empty") || !strings.Contains(out, "DiskCleanup") || !strings.Contains(out, "cleanup") {
		t.Fatalf("alerts rules: %d %q", code, out)
	}
	fleettest.Eventually(t, 5*time.Second, "alert Empty firing in alerts list", func() bool {
		code, out, _ := fleetctl("alerts", "list", "--state", "firing")
		return code == exitOK && strings.Contains(out, "Empty") && strings.Contains(out, "no nodes")
	})
	code, out, errOut := fleetctl("alerts", "silence", "create", "--match", "alertname=Empty", "--author", "ops", "--comment", "expected", "--duration", "1h")
	if code != exitOK || !strings.HasPrefix(out, "silence ") {
		t.Fatalf("silence create: %d %q %q", code, out, errOut)
	}
	id := strings.Fields(out)[1]
	if code, out, _ := fleetctl("alerts", "silence", "list"); code != exitOK || !strings.Contains(out, id) || !strings.Contains(out, "alertname=Empty") {
		t.Fatalf("silence list: %d %q", code, out)
	}
	if code, _, errOut := fleetctl("alerts", "silence", "create", "--match", "nolabel", "--author", "ops"); code != exitUsage || !strings.Contains(errOut, "matcher") {
		t.Fatalf("bad matcher: %d %q", code, errOut)
	}
	if code, _, _ := fleetctl("alerts", "silence", "delete", id); code != exitOK {
		t.Fatalf("silence delete: %d", code)
	}
	if code, out, _ := fleetctl("alerts", "events"); code != exitOK || !strings.Contains(out, "firing") {
		t.Fatalf("alerts events: %d %q", code, out)
	}
	if code, _, _ := fleetctl("alerts", "rule", "delete", "Empty"); code != exitOK {
		t.Fatalf("rule delete: %d", code)
	}
	if code, _, errOut := fleetctl("alerts", "rule", "delete", "Empty"); code != exitNotFound || !strings.Contains(errOut, "NotFound") {
		t.Fatalf("second rule delete: %d %q", code, errOut)
	}
	if code, out, _ := fleetctl("help", "alerts", "rule", "set"); code != exitOK || !strings.Contains(out, "zscore") {
		t.Fatalf("help alerts rule set: %d %q", code, out)
	}
}

// FuzzParseRuleFile checks that no rule file makes the parser panic and that what it accepts
// reads the same every time. (A rule without scope or severity is accepted
// for a masked update, --fields; the control plane refuses it as a whole rule.)
func FuzzParseRuleFile(f *testing.F) {
	f.Add("name: x\nscope: node\nseverity: info\ncondition: node.up\nfor: 1m\naction: {kind: restart}\n")
	f.Add(`{"name": "y", "scope": "fleet", "severity": "critical", "params": {"a": 1.5}}`)
	f.Add("name: [\n")
	f.Add("name: z\nscope: node\nseverity: critical\ncondition: node.up\naction: {kind: restart}\nurgent: true\n")
	f.Add("name: z\nurgent: yes\n")
	f.Fuzz(func(t *testing.T, text string) {
		r, err := parseRuleFile("fuzz.yaml", []byte(text))
		if err != nil {
			return
		}
		again, err := parseRuleFile("fuzz.yaml", []byte(text))
		if err != nil || !proto.Equal(again, r) {
			t.Fatalf("accepted %q as %v, then as %v, %v", text, r, again, err)
		}
	})
}

// TestWriteRulesMarksUrgent: the rules table says which rules' actions run outside
// maintenance windows.
func TestWriteRulesMarksUrgent(t *testing.T) {
	restart := &fleetv1.HealingAction{Kind: fleetv1.CommandKind_COMMAND_KIND_RESTART}
	var b bytes.Buffer
	if err := writeRules(&b, []*fleetv1.AlertRule{{Name: "Now", Action: restart, Urgent: true}, {Name: "Later", Action: restart}}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	if !strings.Contains(lines[1], "restart (urgent)") || strings.Contains(lines[2], "urgent") || !strings.Contains(lines[2], "restart") {
		t.Fatalf("rules table:\n%s", b.String())
	}
}
