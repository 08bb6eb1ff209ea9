package main

import (
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// dial returns a client connection to the control plane at g.addr. It is the one place that picks
// transport and call credentials, so TLS and admin token flags only change this function. The
// connection is made lazily by the first call.
func dial(g *globals) (*grpc.ClientConn, error) {
	conn, err := grpc.NewClient(g.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", g.addr, err)
	}
	return conn, nil
}
