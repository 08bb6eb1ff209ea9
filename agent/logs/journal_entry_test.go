package logs

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dspyfleet/dspyfleet/pkg/logtemplate"
)

func TestParseEntry(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       Entry
		wantErr    bool
	}{
		{"string message", `{"__CURSOR":"s=1;i=2","MESSAGE":"request 12 failed","PRIORITY":"3","SYSLOG_IDENTIFIER":"dspy","_PID":"40"}`,
			Entry{Message: "request 12 failed", Priority: 3, Identifier: "dspy", PID: "40", Cursor: "s=1;i=2"}, false},
		{"byte array message", `{"__CURSOR":"c","MESSAGE":[104,105,255]}`,
			Entry{Message: "hi\xff", Priority: -1, Cursor: "c"}, false},
		{"repeated field takes the first", `{"__CURSOR":"c","MESSAGE":["one","two"],"PRIORITY":["4","6"]}`,
			Entry{Message: "one", Priority: 4, Cursor: "c"}, false},
		{"null message (too long for journalctl)", `{"__CURSOR":"c","MESSAGE":null}`,
			Entry{Priority: -1, Cursor: "c"}, false},
		{"priority out of range", `{"__CURSOR":"c","MESSAGE":"x","PRIORITY":"9"}`,
			Entry{Message: "x", Priority: -1, Cursor: "c"}, false},
		{"no cursor", `{"MESSAGE":"x"}`, Entry{}, true},
		{"not json", `MESSAGE=x`, Entry{}, true},
		{"array of non-bytes", `{"__CURSOR":"c","MESSAGE":[1000]}`, Entry{}, true},
		{"object message", `{"__CURSOR":"c","MESSAGE":{"a":1}}`, Entry{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseEntry([]byte(tc.line))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseEntryCutsLongMessages(t *testing.T) {
	long := strings.Repeat("é", logtemplate.MaxLineBytes)
	e, err := ParseEntry([]byte(`{"__CURSOR":"c","MESSAGE":"` + long + `"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !e.Cut || len(e.Message) > logtemplate.MaxLineBytes || !utf8.ValidString(e.Message) {
		t.Fatalf("cut %v, %d bytes", e.Cut, len(e.Message))
	}
}

func TestEntryLevelAndSyslogLine(t *testing.T) {
	for _, tc := range []struct {
		e    Entry
		lvl  logtemplate.Level
		line string
	}{
		{Entry{Message: "boom", Priority: 2, Identifier: "sshd", PID: "7"}, logtemplate.LevelError, "sshd[7]: boom"},
		{Entry{Message: "careful", Priority: 4, Identifier: "sudo"}, logtemplate.LevelWarn, "sudo: careful"},
		{Entry{Message: "ok", Priority: 6}, logtemplate.LevelInfo, "ok"},
		{Entry{Message: "trace", Priority: 7}, logtemplate.LevelDebug, "trace"},
		{Entry{Message: "ERROR from the line", Priority: -1}, logtemplate.LevelError, "ERROR from the line"},
	} {
		if got := tc.e.Level(); got != tc.lvl {
			t.Errorf("%+v: level %v, want %v", tc.e, got, tc.lvl)
		}
		if got := tc.e.SyslogLine(); got != tc.line {
			t.Errorf("%+v: line %q, want %q", tc.e, got, tc.line)
		}
	}
}

func FuzzParseEntry(f *testing.F) {
	f.Add([]byte(`{"__CURSOR":"s=1;i=2","MESSAGE":"request 12 failed","PRIORITY":"3"}`))
	f.Add([]byte(`{"__CURSOR":"c","MESSAGE":[104,105,255]}`))
	f.Add([]byte(`{"__CURSOR":"c","MESSAGE":[[1,2],"x"],"_PID":null}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := ParseEntry(line)
		if err != nil {
			return
		}
		if e.Cursor == "" {
			t.Fatal("an entry without a cursor was accepted")
		}
		if len(e.Message) > logtemplate.MaxLineBytes {
			t.Fatalf("message of %d bytes not cut", len(e.Message))
		}
		if e.Priority < -1 || e.Priority > 7 {
			t.Fatalf("priority %d", e.Priority)
		}
	})
}
