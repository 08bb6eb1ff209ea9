package check_test

import (
	"errors"
	"testing"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestPageTokenRoundTrip: a token Next issued comes back as the page's start key, only on a
// request with the same filters; sizes default and are capped.
func TestPageTokenRoundTrip(t *testing.T) {
	first, err := check.ParsePage(&fleetv1.ListNodesRequest{Pool: "web", PageSize: 5000})
	if err != nil || first.Size != check.MaxPageSize || first.After != "" {
		t.Fatalf("first page = %+v, %v; want size %d from the start", first, err, check.MaxPageSize)
	}
	if first.Next("node-9", false) != "" {
		t.Fatal("the last page has a next token")
	}
	tok := first.Next("node-9", true)
	next, err := check.ParsePage(&fleetv1.ListNodesRequest{Pool: "web", PageToken: tok})
	if err != nil || next.After != "node-9" || next.Size != check.DefaultPageSize {
		t.Fatalf("next page = %+v, %v; want after node-9, size %d", next, err, check.DefaultPageSize)
	}
	if _, err := check.ParsePage(&fleetv1.ListNodesRequest{Pool: "gpu", PageToken: tok}); !errors.Is(err, check.ErrInvalidArgument) {
		t.Fatalf("token on other filters: %v, want invalid argument", err)
	}
}

// FuzzParsePage: no page token, however made up, panics or yields an empty start key, and a
// token issued for a key always gives that key back.
func FuzzParsePage(f *testing.F) {
	f.Add("", "node-1", int32(10))
	f.Add("eyJhIjoibiIsImYiOiJ4In0", "", int32(-1))
	f.Add("!!!", "x", int32(2000))
	f.Fuzz(func(t *testing.T, token, key string, size int32) {
		p, err := check.ParsePage(&fleetv1.ListNodesRequest{PageToken: token, PageSize: size})
		if err != nil {
			if !errors.Is(err, check.ErrInvalidArgument) {
				t.Fatalf("error %v is not an invalid argument", err)
			}
			return
		}
		if p.Size < 1 || p.Size > check.MaxPageSize || (token != "" && p.After == "") {
			t.Fatalf("page %+v from token %q size %d", p, token, size)
		}
		if key == "" {
			return
		}
		again, err := check.ParsePage(&fleetv1.ListNodesRequest{PageToken: p.Next(key, true)})
		if err != nil || again.After != key {
			t.Fatalf("issued token for %q gave %+v, %v", key, again, err)
		}
	})
}
