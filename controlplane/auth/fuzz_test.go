package auth

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"
)

// FuzzBearerToken: any authorization header gives a non-empty token or an error, never a token
// that still carries the scheme.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  x", "Basic abc", "Bearer", "", "Bearer \x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", header))
		tok, given, err := bearerToken(ctx)
		if err != nil {
			return
		}
		if !given || tok == "" || !strings.EqualFold(header[:7], "bearer ") || header[7:] != tok {
			t.Fatalf("header %q gave token %q (given %v)", header, tok, given)
		}
	})
}
