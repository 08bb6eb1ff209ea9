package main

import (
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/dspyfleet/dspyfleet/internal/credential"
)

// maxRecvMsgSize is the largest response fleetctl accepts. Lists come in pages, but a whole
// fleet's report or stats at 10,000 nodes is one response, past grpc-go's 4 MiB default.
const maxRecvMsgSize = 256 << 20

// tokenEnv names the environment variable holding fleetctl's token when --token-file is not
// given.
const tokenEnv = "DSPYFLEET_TOKEN"

// dial returns a client connection to the control plane at g.addr. It is the one place that picks
// transport and call credentials. The connection is made lazily by the first call.
func dial(g *globals) (*grpc.ClientConn, error) {
	tok, err := g.token()
	if err != nil {
		return nil, err
	}
	useTLS := g.tls || g.caFile != ""
	transport := insecure.NewCredentials()
	if useTLS {
		tc, err := credential.ClientTLS(g.caFile, "", "")
		if err != nil {
			return nil, err
		}
		transport = credentials.NewTLS(tc)
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(transport),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxRecvMsgSize)),
	}
	if !tok.IsZero() {
		opts = append(opts, grpc.WithPerRPCCredentials(credential.Bearer(tok, useTLS)))
	}
	conn, err := grpc.NewClient(g.addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", g.addr, err)
	}
	return conn, nil
}

// token returns the token of --token-file, else of $DSPYFLEET_TOKEN, else none.
func (g *globals) token() (credential.Token, error) {
	if g.tokenFile != "" {
		tok, err := credential.ReadTokenFile(g.tokenFile)
		if err != nil {
			return credential.Token{}, fmt.Errorf("--token-file: %w", err)
		}
		return tok, nil
	}
	return credential.TokenFromEnv(tokenEnv)
}
