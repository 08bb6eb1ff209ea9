package fleettest

import (
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/dspyfleet/dspyfleet/internal/credential"
)

// Token returns s as a token, failing the test if it is not a valid one.
func Token(t testing.TB, s string) credential.Token {
	t.Helper()
	tok, err := credential.ParseToken([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// DialToken returns a plaintext client connection to addr that sends tok with every call,
// closed when the test ends.
func DialToken(t testing.TB, addr string, tok credential.Token) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(credential.Bearer(tok, false)))
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}
