package check

import (
	"crypto/sha256"
	"encoding/base64"

	"google.golang.org/protobuf/proto"
)

// Etag is the etag of a resource message (AIP-154): a digest of its deterministic wire form
// without its own etag field, so it changes exactly when the resource does. A nil message (a
// resource that does not exist) has the etag "".
func Etag(m proto.Message) string {
	if m == nil || !m.ProtoReflect().IsValid() {
		return ""
	}
	c := proto.Clone(m).ProtoReflect()
	if fd := c.Descriptor().Fields().ByName("etag"); fd != nil {
		c.Clear(fd)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(c.Interface())
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// IfEtag is the check of a change that names the etag the caller read: nil when want is empty
// or is the etag of current, else a *ConflictError about what, with the retry hint.
func IfEtag(want string, current proto.Message, what, retry string) error {
	if want == "" {
		return nil
	}
	if have := Etag(current); have != want {
		return &ConflictError{What: what, Want: want, Have: have, Retry: retry}
	}
	return nil
}
