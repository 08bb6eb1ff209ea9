package agent

import (
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/dspyfleet/dspyfleet/internal/credential"
)

// readToken reads c.TokenFile, when set, into c.Token.
func readToken(c *Config) error {
	if c.TokenFile == "" {
		return nil
	}
	tok, err := credential.ReadTokenFile(c.TokenFile)
	if err != nil {
		return fmt.Errorf("--token-file: %w", err)
	}
	c.Token = tok
	return nil
}

// usesTLS reports whether the agent connects over TLS.
func usesTLS(c Config) bool {
	return c.TLS || c.CAFile != "" || c.CertFile != "" || c.KeyFile != ""
}

// cleartextToken reports whether the agent would send its token without TLS to a server that
// is not on this host.
func cleartextToken(c Config) bool {
	if c.Token.IsZero() || usesTLS(c) {
		return false
	}
	host, _, err := net.SplitHostPort(c.Server)
	if err != nil {
		host = c.Server
	}
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

// dialOptions returns the transport and call credentials of a session's connection. The CA
// file is read for every session, so a rotated CA is picked up at the next reconnect.
func dialOptions(c Config) ([]grpc.DialOption, error) {
	useTLS := usesTLS(c)
	transport := insecure.NewCredentials()
	if useTLS {
		tc, err := credential.ClientTLS(c.CAFile, c.CertFile, c.KeyFile)
		if err != nil {
			return nil, err
		}
		transport = credentials.NewTLS(tc)
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(transport)}
	if !c.Token.IsZero() {
		opts = append(opts, grpc.WithPerRPCCredentials(credential.Bearer(c.Token, useTLS)))
	}
	return opts, nil
}

// CheckCredentials reads the token file and the TLS files c names and reports each that New
// would refuse, without connecting.
func CheckCredentials(c Config) error {
	if err := readToken(&c); err != nil {
		return err
	}
	_, err := dialOptions(c)
	return err
}
