package command

import (
	"encoding/hex"
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

// FuzzValidate: any kind and parameters are accepted or refused with ErrInvalid; what is
// accepted names a known kind, only its parameters, and values its helpers read back.
func FuzzValidate(f *testing.F) {
	f.Add("deploy", "version", "1.2.3", "", "")
	f.Add("scale", "instances", "4", "timeout", "5m")
	f.Add("drain", "timeout", "30s", "", "")
	f.Add("cleanup", "dry_run", "true", "x", "$(rm -rf /)")
	f.Add("restart", "", "", "", "")
	f.Fuzz(func(t *testing.T, kind, k1, v1, k2, v2 string) {
		p := map[string]string{}
		if k1 != "" {
			p[k1] = v1
		}
		if k2 != "" {
			p[k2] = v2
		}
		err := Validate(Kind(kind), p)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error without ErrInvalid: %v", err)
			}
			return
		}
		spec, ok := params[Kind(kind)]
		if !ok {
			t.Fatalf("accepted unknown kind %q", kind)
		}
		for name := range p {
			if _, ok := spec[name]; !ok {
				t.Fatalf("accepted parameter %q for %s", name, kind)
			}
		}
		switch Kind(kind) {
		case Scale:
			if n, err := Instances(p); err != nil || n < 0 || n > MaxInstances {
				t.Fatalf("accepted instances %q", p[ParamInstances])
			}
		case Drain:
			if d := DrainTimeout(p, time.Minute); d <= 0 || d > MaxDrainTimeout {
				t.Fatalf("accepted drain timeout %q", p[ParamTimeout])
			}
		case Deploy:
			if ValidVersion(p[ParamVersion]) != nil {
				t.Fatalf("accepted version %q", p[ParamVersion])
			}
		}
	})
}

func TestValidID(t *testing.T) {
	for id, want := range map[string]string{
		"0123456789abcdef0123456789abcdef":  "",
		"":                                  "is empty",
		"0123456789ABCDEF0123456789abcdef":  "lower-case hex",
		"0123456789abcdef0123456789abcde":   "32 lower-case hex",
		"0123456789abcdef0123456789abcdef0": "32 lower-case hex",
		"0123456789abcdef0123456789abcdeg":  "32 lower-case hex",
	} {
		err := ValidID(id)
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("ValidID(%q) = %v, want %q", id, err, want)
		}
	}
}

// FuzzValidID: an accepted id is exactly what the control plane makes: 16 bytes in lower-case
// hex, which decodes back to the same string.
func FuzzValidID(f *testing.F) {
	for _, s := range []string{"0123456789abcdef0123456789abcdef", "", "\x00", "0123456789ABCDEF0123456789abcdef"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if ValidID(id) != nil {
			return
		}
		b, err := hex.DecodeString(id)
		if err != nil || len(b) != 16 || hex.EncodeToString(b) != id {
			t.Fatalf("accepted %q", id)
		}
	})
}
