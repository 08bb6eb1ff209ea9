package controlplane

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"
)

// FuzzApplyFile: any configuration file content is applied or refused with an error; it never
// panics, and an accepted file that validates gives settings Validate accepts.
func FuzzApplyFile(f *testing.F) {
	f.Add([]byte("grpc_listen: 127.0.0.1:7070\nnode_ttl: 15s\nmax_recv_bytes: 1048576\n"))
	f.Add([]byte("max_nodes: 10\nmax_labels: 2\nagent_rate: 0.5\naudit_retention: 2h\ninsecure: true\n"))
	f.Add([]byte("grpc_listen: [1, 2]\n"))
	f.Add([]byte("node_tll: 5s\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if strings.Contains(string(data), "_file") || strings.Contains(string(data), "tls_") || strings.Contains(string(data), "client_ca") {
			return // keys naming files would read the disk
		}
		c := DefaultConfig()
		if err := applyFile(data, "fuzz.yaml", &c); err != nil {
			return
		}
		if c.Validate() == nil && (c.MaxNodes < 1 || c.MaxLabels < 1 || c.AgentRate < 0 || c.MaxRecvBytes < 1024) {
			t.Fatalf("Validate accepted %+v", c)
		}
	})
}

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
