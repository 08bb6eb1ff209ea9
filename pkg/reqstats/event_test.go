package reqstats

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEventCheck(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	good := Event{
		Time: now, Program: "qa", Module: "ChainOfThought", Model: "openai/gpt-4o-mini",
		Latency: 800 * time.Millisecond, TTFT: 120 * time.Millisecond,
		InputTokens: 900, OutputTokens: 120, Cache: CacheMiss, Status: 200,
	}
	tests := []struct {
		name   string
		edit   func(*Event)
		fields []string // nil means valid
	}{
		{"good", func(*Event) {}, nil},
		{"zero event", func(e *Event) { *e = Event{} }, nil},
		{"unknown time", func(e *Event) { e.Time = time.Time{} }, nil},
		{"past", func(e *Event) { e.Time = now.Add(-24 * time.Hour) }, nil},
		{"within skew", func(e *Event) { e.Time = now.Add(time.Minute) }, nil},
		{"beyond skew", func(e *Event) { e.Time = now.Add(time.Minute + time.Nanosecond) }, []string{"ts"}},
		{"negative latency", func(e *Event) { e.Latency = -time.Millisecond }, []string{"latency_ms"}},
		{"negative ttft", func(e *Event) { e.TTFT = -1 }, []string{"ttft_ms"}},
		{"negative input", func(e *Event) { e.InputTokens = -1 }, []string{"input_tokens"}},
		{"negative output", func(e *Event) { e.OutputTokens = -5 }, []string{"output_tokens"}},
		{"status 100", func(e *Event) { e.Status = 100 }, nil},
		{"status 599", func(e *Event) { e.Status = 599 }, nil},
		{"status 99", func(e *Event) { e.Status = 99 }, []string{"status"}},
		{"status 600", func(e *Event) { e.Status = 600 }, []string{"status"}},
		{"status negative", func(e *Event) { e.Status = -200 }, []string{"status"}},
		{"name of 128 bytes", func(e *Event) { e.Program = strings.Repeat("p", 128) }, nil},
		{"name of 129 bytes", func(e *Event) { e.Program = strings.Repeat("p", 129) }, []string{"program"}},
		{"unicode name", func(e *Event) { e.Module = "Rätsel·模块" }, nil},
		{"invalid UTF-8", func(e *Event) { e.Module = "a\xffb" }, []string{"module"}},
		{"newline", func(e *Event) { e.Model = "gpt\n4" }, []string{"model"}},
		{"NUL", func(e *Event) { e.Model = "gpt\x004" }, []string{"model"}},
		{"C1 control", func(e *Event) { e.Model = "gpt\u00854" }, []string{"model"}},
		{"everything", func(e *Event) {
			*e = Event{Time: now.Add(time.Hour), Program: "\t", Module: "\xc3", Model: strings.Repeat("m", 200),
				Latency: -1, TTFT: -1, InputTokens: -1, OutputTokens: -1, Status: 1000}
		}, []string{"ts", "program", "module", "model", "latency_ms", "ttft_ms", "input_tokens", "output_tokens", "status"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := good
			tt.edit(&e)
			errs := e.Check(now, time.Minute)
			var fields []string
			for _, fe := range errs {
				fields = append(fields, fe.Field)
				if fe.Message == "" || !strings.HasPrefix(fe.Error(), fe.Field+": ") {
					t.Errorf("FieldError %+v reads %q", fe, fe.Error())
				}
			}
			if !slices.Equal(fields, tt.fields) {
				t.Fatalf("Check named %v, want %v (%v)", fields, tt.fields, errs)
			}
		})
	}
}
