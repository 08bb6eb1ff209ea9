package logs

import (
	"testing"
	"time"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

func window(lines, errs uint64, tmpls ...*fleetv1.LogTemplateCount) *fleetv1.LogMetrics {
	return &fleetv1.LogMetrics{Lines: lines, Errors: errs, Templates: tmpls}
}

const (
	idOK  = "00000000000000aa"
	idErr = "00000000000000bb"
)

func TestBookNewTemplatesAndAnomaly(t *testing.T) {
	b := New(Defaults())
	now := t0
	step := func(l *fleetv1.LogMetrics) {
		now = now.Add(5 * time.Second)
		b.Observe("p", "n1", l, 5*time.Second, now)
	}
	// A steady template: 10 lines per window, known to the agent from before (not new).
	for range 20 {
		step(window(10, 0, &fleetv1.LogTemplateCount{Id: idOK, Template: "served <*>", Lines: 10, New: true}))
	}
	f, ok := b.Figures("n1")
	if !ok || f.NewTemplates != 1 || f.Anomaly != 0 || f.ErrorRate != 0 {
		t.Fatalf("steady figures %+v, want one new template and no anomaly", f)
	}
	// A new error template appears at 5 lines per window (60/min), and the steady one bursts.
	step(window(105, 5,
		&fleetv1.LogTemplateCount{Id: idOK, Template: "served <*>", Lines: 100},
		&fleetv1.LogTemplateCount{Id: idErr, Template: "ERROR boom <*>", Lines: 5, Errors: 5, New: true}))
	f, _ = b.Figures("n1")
	if f.NewTemplates != 2 || f.NewErrorsPerMin != 60 || f.ErrorsPerMin != 60 {
		t.Fatalf("figures %+v, want 2 new templates and 60 new errors/min", f)
	}
	if f.Anomaly < 10 {
		t.Fatalf("anomaly %g after a tenfold burst, want at least 10", f.Anomaly)
	}
	if f.ErrorRate != 5.0/105 {
		t.Fatalf("error rate %g, want %g", f.ErrorRate, 5.0/105)
	}
	// Ten minutes on, nothing is new any more.
	now = now.Add(10 * time.Minute)
	step(window(10, 0, &fleetv1.LogTemplateCount{Id: idOK, Template: "served <*>", Lines: 10}))
	if f, _ := b.Figures("n1"); f.NewTemplates != 0 || f.NewErrorsPerMin != 0 {
		t.Fatalf("figures %+v ten minutes later, want nothing new", f)
	}
}

func TestBookTemplateKnownToControlPlaneOnlyIsNotNew(t *testing.T) {
	b := New(Defaults())
	// After a control-plane restart the agent sends templates it knows (New false): they are
	// first seen here but must not count as new.
	b.Observe("p", "n1", window(3, 3, &fleetv1.LogTemplateCount{Id: idErr, Template: "ERROR x", Lines: 3, Errors: 3}), 5*time.Second, t0)
	if f, _ := b.Figures("n1"); f.NewTemplates != 0 || f.NewErrorsPerMin != 0 {
		t.Fatalf("figures %+v, want no new template", f)
	}
}

func TestBookTopSumsPoolNodes(t *testing.T) {
	b := New(Defaults())
	b.Observe("p", "n1", window(8, 2, &fleetv1.LogTemplateCount{Id: idErr, Template: "ERROR x", Lines: 2, Errors: 2}, &fleetv1.LogTemplateCount{Id: idOK, Template: "ok", Lines: 6}), time.Minute, t0)
	b.Observe("p", "n2", window(3, 3, &fleetv1.LogTemplateCount{Id: idErr, Template: "ERROR x", Lines: 3, Errors: 3}), time.Minute, t0)
	b.Observe("q", "n3", window(9, 0, &fleetv1.LogTemplateCount{Id: idOK, Template: "ok", Lines: 9}), time.Minute, t0)
	top := b.Top("p", 10, t0)
	if len(top) != 2 || top[0].GetId() != idErr || top[0].GetErrorsPerMinute() != 5 || top[0].GetNodes() != 2 || top[1].GetLinesPerMinute() != 6 {
		t.Fatalf("top of pool p %v, want the error template (5/min on 2 nodes) then ok (6/min)", top)
	}
	if top := b.Top("", 1, t0); len(top) != 1 || top[0].GetId() != idErr {
		t.Fatalf("fleet top with limit 1: %v", top)
	}
	stats, _, ok := b.Templates("n3", t0)
	if !ok || len(stats) != 1 || stats[0].GetLines() != 9 {
		t.Fatalf("templates of n3 %v", stats)
	}
	if _, _, ok := b.Templates("nope", t0); ok {
		t.Fatal("an unknown node has templates")
	}
}

func TestBookEvicts(t *testing.T) {
	o := Defaults()
	o.MaxTemplates = 2
	b := New(o)
	for i, id := range []string{"000000000000000a", "000000000000000b", "000000000000000c"} {
		b.Observe("p", "n1", window(1, 0, &fleetv1.LogTemplateCount{Id: id, Lines: 1}), time.Minute, t0.Add(time.Duration(i)*time.Minute))
	}
	stats, _, _ := b.Templates("n1", t0)
	if len(stats) != 2 {
		t.Fatalf("%d templates kept, want 2", len(stats))
	}
	for _, s := range stats {
		if s.GetId() == "000000000000000a" {
			t.Fatal("the least recently seen template was kept")
		}
	}
}

func TestBookShortWindowGivesNoRate(t *testing.T) {
	b := New(Defaults())
	b.Observe("p", "n1", window(5, 0, &fleetv1.LogTemplateCount{Id: idOK, Lines: 5, New: true}), time.Millisecond, t0)
	stats, f, _ := b.Templates("n1", t0)
	if f.LinesPerMin != 0 || stats[0].GetBaselineLinesPerMinute() != 0 || stats[0].GetLines() != 5 {
		t.Fatalf("figures %+v, template %v: a 1ms window must count lines but give no rate", f, stats[0])
	}
}
