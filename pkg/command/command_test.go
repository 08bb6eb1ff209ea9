package command

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		kind   Kind
		params map[string]string
		field  string // "" means valid
	}{
		{Drain, nil, ""},
		{Drain, map[string]string{"timeout": "5m"}, ""},
		{Drain, map[string]string{"timeout": "soon"}, "params.timeout"},
		{Drain, map[string]string{"timeout": "-1s"}, "params.timeout"},
		{Drain, map[string]string{"timeout": "48h"}, "params.timeout"},
		{Undrain, nil, ""},
		{Undrain, map[string]string{"x": "1"}, "params.x"},
		{Restart, nil, ""},
		{Restart, map[string]string{"command": "rm -rf /"}, "params.command"},
		{Cleanup, map[string]string{"dry_run": "true"}, ""},
		{Cleanup, map[string]string{"dry_run": "maybe"}, "params.dry_run"},
		{Backup, nil, ""},
		{Deploy, map[string]string{"version": "1.2.3"}, ""},
		{Deploy, map[string]string{"version": "v2+build.5"}, ""},
		{Deploy, nil, "params.version is required"},
		{Deploy, map[string]string{"version": ""}, "params.version"},
		{Deploy, map[string]string{"version": "$(reboot)"}, "params.version"},
		{Deploy, map[string]string{"version": "../etc"}, "params.version"},
		{Deploy, map[string]string{"version": "-rf"}, "params.version"},
		{Scale, map[string]string{"instances": "0"}, ""},
		{Scale, map[string]string{"instances": "3"}, ""},
		{Scale, map[string]string{"instances": "-1"}, "params.instances"},
		{Scale, map[string]string{"instances": "many"}, "params.instances"},
		{Scale, map[string]string{"instances": "5000"}, "params.instances"},
		{Scale, nil, "params.instances is required"},
		{Custom, map[string]string{"action": "rotate-keys"}, ""},
		{Custom, nil, "params.action is required"},
		{Custom, map[string]string{"action": "rm -rf /"}, "params.action"},
		{Custom, map[string]string{"action": "../x"}, "params.action"},
		{Custom, map[string]string{"action": "Upper"}, "params.action"},
		{"reboot", nil, "kind"},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind)+"/"+tt.field, func(t *testing.T) {
			err := Validate(tt.kind, tt.params)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("got %v, want an ErrInvalid naming %s", err, tt.field)
			}
		})
	}
}

func TestAccessors(t *testing.T) {
	if d := DrainTimeout(map[string]string{"timeout": "30s"}, time.Minute); d != 30*time.Second {
		t.Fatalf("DrainTimeout = %s", d)
	}
	if d := DrainTimeout(nil, time.Minute); d != time.Minute {
		t.Fatalf("DrainTimeout default = %s", d)
	}
	if !DryRun(map[string]string{"dry_run": "true"}) || DryRun(nil) {
		t.Fatal("DryRun")
	}
	if n, err := Instances(map[string]string{"instances": "4"}); n != 4 || err != nil {
		t.Fatalf("Instances = %d, %v", n, err)
	}
}

// FuzzValidVersion: an accepted version is never a shell word, an option or a path.
func FuzzValidVersion(f *testing.F) {
	for _, s := range []string{"1.2.3", "v2+build.5", "", "-rf", "a b", "$(x)", "../x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if ValidVersion(v) != nil {
			return
		}
		if strings.ContainsAny(v, " \t\n/$`;|&<>\\'\"") || strings.HasPrefix(v, "-") || strings.HasPrefix(v, ".") || len(v) > 128 {
			t.Fatalf("accepted %q", v)
		}
	})
}
