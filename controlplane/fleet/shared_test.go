package fleet

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestSharedCopyHasEveryField sets every field of a Node and checks that the shared copy the
// flush stores equals the deep snapshot, so a field added to Node later cannot be dropped from
// the store silently.
func TestSharedCopyHasEveryField(t *testing.T) {
	n := &fleetv1.Node{}
	m := n.ProtoReflect()
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		switch {
		case fd.IsMap():
			m.Mutable(fd).Map().Set(protoreflect.ValueOfString("k").MapKey(), protoreflect.ValueOfString("v"))
		case fd.Kind() == protoreflect.MessageKind:
			sub := m.NewField(fd).Message()
			for j := range sub.Descriptor().Fields().Len() {
				if sf := sub.Descriptor().Fields().Get(j); sf.Kind() != protoreflect.MessageKind && !sf.IsList() && !sf.IsMap() {
					sub.Set(sf, nonZero(sf))
					break
				}
			}
			m.Set(fd, protoreflect.ValueOfMessage(sub))
		default:
			m.Set(fd, nonZero(fd))
		}
	}
	e := &entry{node: n, received: 7, lastSeen: time.Unix(1700000000, 0)}
	got, want := e.sharedLocked(), e.snapshotLocked()
	if !proto.Equal(got, want) {
		t.Errorf("shared copy\n%v\ndiffers from the snapshot\n%v", got, want)
	}
}

// nonZero is a value other than the default for a scalar field.
func nonZero(fd protoreflect.FieldDescriptor) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString("x")
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(true)
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(1.5)
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(1.5)
	case protoreflect.EnumKind:
		return protoreflect.ValueOfEnum(1)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(3)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(3)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(3)
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(3)
	}
	return protoreflect.ValueOfBytes([]byte("x"))
}
