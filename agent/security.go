package agent

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/dspyfleet/dspyfleet/internal/credential"
)

// securityFile is the security part of the agent's configuration file.
type securityFile struct {
	TokenFile *string `yaml:"token_file"`
}

// apply reads the token file the configuration file names into c.
func (f securityFile) apply(c *Config) error {
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

// dialOptions returns the transport and call credentials of a session's connection.
func (a *Agent) dialOptions() []grpc.DialOption {
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if !a.cfg.Token.IsZero() {
		opts = append(opts, grpc.WithPerRPCCredentials(credential.Bearer(a.cfg.Token, false)))
	}
	return opts
}
