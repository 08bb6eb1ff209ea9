package check

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

const (
	// DefaultPageSize is the page size of a List call that gives none (AIP-158).
	DefaultPageSize = 100
	// MaxPageSize is the largest page a List call returns; a larger page_size is lowered to it.
	MaxPageSize = 1000
)

// Page is a validated page request: how many items, and the key after which the page starts
// ("" for the first page).
type Page struct {
	Size  int
	After string
	// filter is the digest of the request without its page fields; a token carries it so that
	// a token is refused on a call with other filters.
	filter string
}

// pageToken is what an opaque page token holds: the last key of the previous page and the
// digest of the filters it was issued for.
type pageToken struct {
	After  []byte `json:"a"` // bytes, not a string: any key survives JSON unchanged
	Filter string `json:"f"`
}

// pager is a List request (AIP-158).
type pager interface {
	proto.Message
	GetPageSize() int32
	GetPageToken() string
}

// ParsePage validates the page fields of req: the size, and that the token is one this API
// returned for a call with the same other fields.
func ParsePage(req pager) (Page, error) {
	p := Page{Size: int(req.GetPageSize())}
	switch {
	case p.Size < 0:
		return Page{}, Invalidf("page_size: %d must not be negative (0 means %d)", p.Size, DefaultPageSize)
	case p.Size == 0:
		p.Size = DefaultPageSize
	case p.Size > MaxPageSize:
		p.Size = MaxPageSize
	}
	filters := proto.Clone(req).ProtoReflect()
	for _, name := range []protoreflect.Name{"page_size", "page_token"} {
		filters.Clear(filters.Descriptor().Fields().ByName(name))
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(filters.Interface())
	if err != nil {
		return Page{}, fmt.Errorf("page filter digest: %w", err)
	}
	sum := sha256.Sum256(b)
	p.filter = base64.RawURLEncoding.EncodeToString(sum[:8])
	if req.GetPageToken() == "" {
		return p, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(req.GetPageToken())
	var tok pageToken
	if err == nil {
		err = json.Unmarshal(raw, &tok)
	}
	if err != nil || len(tok.After) == 0 {
		return Page{}, Invalidf("page_token: %q is not a next_page_token this API returned; start again without one", Truncate(req.GetPageToken()))
	}
	if tok.Filter != p.filter {
		return Page{}, Invalidf("page_token: was returned for a call with other filters; give the same filters as the first page, or start again without a token")
	}
	p.After = string(tok.After)
	return p, nil
}

// Next is the next_page_token of a page whose last key is last, when more items follow.
func (p Page) Next(last string, more bool) string {
	if !more {
		return ""
	}
	b, _ := json.Marshal(pageToken{After: []byte(last), Filter: p.filter})
	return base64.RawURLEncoding.EncodeToString(b)
}
