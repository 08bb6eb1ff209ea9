package check

import (
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// ApplyMask copies the fields mask names from src into dst, for a partial update (AIP-134): a
// path names a field of the message, or with dots a field of a message field within it
// ("outlier_detection.error_rate"); a named field unset in src is cleared in dst. field names
// the request's mask in errors. dst and src are of one message type.
func ApplyMask(dst, src proto.Message, mask *fieldmaskpb.FieldMask, field string) error {
	for i, path := range mask.GetPaths() {
		if _, err := fieldmaskpb.New(dst, path); err != nil {
			return Invalidf("%s.paths[%d]: %q is not a field of %s", field, i, Truncate(path), dst.ProtoReflect().Descriptor().Name())
		}
	}
	for _, path := range mask.GetPaths() {
		d, s := dst.ProtoReflect(), src.ProtoReflect()
		names := strings.Split(path, ".")
		for _, n := range names[:len(names)-1] {
			fd := d.Descriptor().Fields().ByName(protoreflect.Name(n))
			d, s = d.Mutable(fd).Message(), s.Get(fd).Message()
		}
		fd := d.Descriptor().Fields().ByName(protoreflect.Name(names[len(names)-1]))
		if s.Has(fd) {
			d.Set(fd, s.Get(fd))
		} else {
			d.Clear(fd)
		}
	}
	return nil
}
