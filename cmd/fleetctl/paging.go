package main

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// listPageSize is the page size fleetctl asks for: the API's maximum (AIP-158).
const listPageSize = 1000

// pagedRequest is a List request with AIP-158 page fields.
type pagedRequest interface {
	proto.Message
	GetPageSize() int32
	GetPageToken() string
}

// pagedResponse is a List response with a next page token.
type pagedResponse interface {
	proto.Message
	GetNextPageToken() string
}

// listAll is how fleetctl lists: it calls list page by page from the first until the last page,
// or until it has limit items (0: no limit) of the response's listed field (its first repeated
// field), and returns the pages merged into one response: every repeated field holds the items
// of every page in order, the other fields are the first page's, and there is no next page
// token.
func listAll[Req pagedRequest, Resp pagedResponse](ctx context.Context, req Req, limit int, list func(context.Context, Req, ...grpc.CallOption) (Resp, error)) (Resp, error) {
	req = proto.CloneOf(req)
	r := req.ProtoReflect()
	sizeField, tokenField := r.Descriptor().Fields().ByName("page_size"), r.Descriptor().Fields().ByName("page_token")
	var all Resp
	var listed protoreflect.FieldDescriptor
	have := 0
	for {
		size := listPageSize
		if limit > 0 {
			size = min(limit-have, listPageSize)
		}
		r.Set(sizeField, protoreflect.ValueOfInt32(int32(size)))
		resp, err := list(ctx, req)
		if err != nil {
			return all, err
		}
		if listed == nil {
			all, listed = resp, firstRepeated(resp.ProtoReflect().Descriptor())
		} else {
			appendRepeated(all.ProtoReflect(), resp.ProtoReflect())
		}
		if listed != nil {
			have = all.ProtoReflect().Get(listed).List().Len()
		}
		next := resp.GetNextPageToken()
		if next == "" || (limit > 0 && have >= limit) {
			a := all.ProtoReflect()
			a.Clear(a.Descriptor().Fields().ByName("next_page_token"))
			return all, nil
		}
		r.Set(tokenField, protoreflect.ValueOfString(next))
	}
}

// firstRepeated is the listed field of a List response: its repeated field with the lowest
// number.
func firstRepeated(md protoreflect.MessageDescriptor) protoreflect.FieldDescriptor {
	var first protoreflect.FieldDescriptor
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.IsList() && (first == nil || fd.Number() < first.Number()) {
			first = fd
		}
	}
	return first
}

// appendRepeated appends the items of every repeated field of page to those of all.
func appendRepeated(all, page protoreflect.Message) {
	fields := page.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if !fd.IsList() {
			continue
		}
		from, to := page.Get(fd).List(), all.Mutable(fd).List()
		for j := range from.Len() {
			to.Append(from.Get(j))
		}
	}
}
