package api

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// walk pages through keys with pageOf, size a page, and returns the keys listed in order.
func walk(t *testing.T, keys []string, size int32, newestFirst bool) []string {
	t.Helper()
	var out []string
	req := &fleetv1.ListRulesRequest{PageSize: size}
	for range len(keys) + 2 {
		page, err := parsePage(req, 0, check.DefaultPageSize)
		if err != nil {
			t.Fatal(err)
		}
		got, next := pageOf(page, keys, func(k string) string { return k }, newestFirst)
		out = append(out, got...)
		if next == "" {
			return out
		}
		req = &fleetv1.ListRulesRequest{PageSize: size, PageToken: next}
	}
	t.Fatalf("the walk over %d keys did not end", len(keys))
	return nil
}

func TestPageOf(t *testing.T) {
	for _, tt := range []struct {
		name        string
		keys        []string
		size        int32
		newestFirst bool
		want        []string
	}{
		{"empty", nil, 2, false, nil},
		{"one page", []string{"b", "a"}, 5, false, []string{"a", "b"}},
		{"pages ascending", []string{"c", "a", "e", "b", "d"}, 2, false, []string{"a", "b", "c", "d", "e"}},
		{"pages newest first", []string{"c", "a", "e", "b", "d"}, 2, true, []string{"e", "d", "c", "b", "a"}},
		{"exact pages", []string{"a", "b", "c", "d"}, 2, false, []string{"a", "b", "c", "d"}},
	} {
		if got := walk(t, tt.keys, tt.size, tt.newestFirst); !slices.Equal(got, tt.want) {
			t.Errorf("%s: walked %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestPageAt(t *testing.T) {
	ranking := []string{"a", "b", "c", "d", "e"}
	var out []string
	req := &fleetv1.ListTopTemplatesRequest{PageSize: 2}
	for range 5 {
		page, err := parsePage(req, 0, 20)
		if err != nil {
			t.Fatal(err)
		}
		offset, err := rankOffset(page)
		if err != nil {
			t.Fatal(err)
		}
		got, next := pageAt(page, offset, ranking)
		out = append(out, got...)
		if next == "" {
			break
		}
		req = &fleetv1.ListTopTemplatesRequest{PageSize: 2, PageToken: next}
	}
	if !slices.Equal(out, ranking) {
		t.Fatalf("walked %v, want %v", out, ranking)
	}
	for _, after := range []string{"x", "0", "-3", "99999999999"} {
		if _, err := rankOffset(check.Page{After: after}); !errors.Is(err, check.ErrInvalidArgument) || !strings.HasPrefix(err.Error(), "invalid argument: page_token:") {
			t.Errorf("rankOffset(%q) = %v, want invalid page_token", after, err)
		}
	}
}

func TestParsePageLimit(t *testing.T) {
	for _, tt := range []struct {
		size       int32
		limit, def int
		want       int
	}{
		{0, 0, 50, 50}, {0, 30, 50, 30}, {0, 5000, 50, check.MaxPageSize}, {7, 30, 50, 7}, {5000, 0, 50, check.MaxPageSize},
	} {
		page, err := parsePage(&fleetv1.ListRulesRequest{PageSize: tt.size}, tt.limit, tt.def)
		if err != nil || page.Size != tt.want {
			t.Errorf("parsePage(size %d, limit %d, default %d) = %d, %v; want %d", tt.size, tt.limit, tt.def, page.Size, err, tt.want)
		}
	}
}

// FuzzPageOf: whatever the keys and page size, a walk lists every distinct key exactly once,
// in order.
func FuzzPageOf(f *testing.F) {
	f.Add("c,a,b", int32(1), false)
	f.Add("a,a2,b,,z", int32(3), true)
	f.Add("", int32(0), false)
	f.Fuzz(func(t *testing.T, list string, size int32, newestFirst bool) {
		if size < 0 || size > 50 {
			return
		}
		seen := map[string]bool{}
		var keys []string
		for k := range strings.SplitSeq(list, ",") {
			if k != "" && !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
		want := slices.Sorted(slices.Values(keys))
		if newestFirst {
			slices.Reverse(want)
		}
		if got := walk(t, keys, size, newestFirst); !slices.Equal(got, want) {
			t.Fatalf("walked %q, want %q", got, want)
		}
	})
}
