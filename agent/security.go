package agent

import (
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/dspyfleet/dspyfleet/internal/credential"
)

// securityFile is the security part of the agent's configuration file.
type securityFile struct {
	TokenFile *string `yaml:"token_file"`
	TLS       *bool   `yaml:"tls"`
	CAFile    *string `yaml:"ca_file"`
	CertFile  *string `yaml:"cert_file"`
	KeyFile   *string `yaml:"key_file"`
}

// apply sets c's TLS settings and reads the token file the configuration file names into c.
func (f securityFile) apply(c *Config) error {
	set(&c.TLS, f.TLS)
	set(&c.CAFile, f.CAFile)
	set(&c.CertFile, f.CertFile)
	set(&c.KeyFile, f.KeyFile)
	if f.TokenFile == nil {
		return nil
	}
	tok, err := credential.ReadTokenFile(*f.TokenFile)
	if err != nil {
		return err
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
