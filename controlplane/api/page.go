package api

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
)

// The one paging helper of every List RPC (AIP-158). A list is paged by key: parsePage reads
// the request's page fields, and a page is the items after the token's key in key order
// (pageOf for lists the control plane holds in memory, the store's cursor from startKey for
// lists it keeps in the store), so an item present for the whole walk is listed exactly once
// whatever is added or removed meanwhile. A ranking, whose order changes with its counts, pages
// by position (pageAt) and says so in its proto comment.

// listRequest is a List request with AIP-158 page fields.
type listRequest interface {
	proto.Message
	GetPageSize() int32
	GetPageToken() string
}

// parsePage validates req's page fields. limit is the request's older limit field: when set
// and page_size is 0, it is the page's size (at most check.MaxPageSize); def is the size when
// neither is set.
func parsePage(req listRequest, limit, def int) (check.Page, error) {
	page, err := check.ParsePage(req)
	if err != nil {
		return page, err
	}
	if req.GetPageSize() == 0 {
		page.Size = min(cmp.Or(limit, def), check.MaxPageSize)
	}
	return page, nil
}

// pageOf returns the page of items whose keys follow the page's start, in key order
// (descending with newestFirst), and the next page's token. key must be unique per item.
func pageOf[T any](page check.Page, items []T, key func(T) string, newestFirst bool) ([]T, string) {
	dir := 1
	if newestFirst {
		dir = -1
	}
	type keyed struct {
		key  string
		item T
	}
	ks := make([]keyed, 0, len(items))
	for _, it := range items {
		k := key(it)
		if page.After != "" && dir*strings.Compare(k, page.After) <= 0 {
			continue
		}
		ks = append(ks, keyed{k, it})
	}
	slices.SortStableFunc(ks, func(a, b keyed) int { return dir * strings.Compare(a.key, b.key) })
	more := len(ks) > page.Size
	ks = ks[:min(len(ks), page.Size)]
	out := make([]T, len(ks))
	for i, e := range ks {
		out[i] = e.item
	}
	if len(ks) == 0 {
		return out, ""
	}
	return out, page.Next(ks[len(ks)-1].key, more)
}

// startKey is the store key a stored list's page starts after; nil for the first page.
func startKey(page check.Page) []byte {
	if page.After == "" {
		return nil
	}
	return []byte(page.After)
}

// maxRankOffset bounds the position a ranking's page token may hold.
const maxRankOffset = 1 << 20

// rankOffset is the position in a ranking where the page starts.
func rankOffset(page check.Page) (int, error) {
	if page.After == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(page.After)
	if err != nil || n < 1 || n > maxRankOffset {
		return 0, check.Invalidf("page_token: holds no position in the ranking; start again without one")
	}
	return n, nil
}

// pageAt returns the page of a ranking that starts at offset (items hold the ranking from its
// top, at least offset+page.Size+1 of it when more follow), and the next page's token.
func pageAt[T any](page check.Page, offset int, items []T) ([]T, string) {
	if offset >= len(items) {
		return nil, ""
	}
	end := min(len(items), offset+page.Size)
	return items[offset:end], page.Next(strconv.Itoa(end), end < len(items))
}

// timeKey is a key that orders by t, then by id: a fixed-width UTC time, then the id.
func timeKey(t time.Time, id string) string {
	return t.UTC().Format("20060102T150405.000000000") + "/" + id
}
