package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/internal/cli"
	"github.com/dspyfleet/dspyfleet/internal/credential"
)

// tlsUsage is the usage of "tls".
const tlsUsage = `Usage: fleetctl tls <ca create|cert create> [flags]

Create the certificates of a fleet with TLS and mTLS, as "nomad tls" and "consul tls" do, so no
openssl command is written by hand. Needs no control plane. Keys are written 0600 and no file
is ever overwritten. Keep the CA key off the fleet's hosts.

Commands:
  ca create                  A CA: dspyfleet-ca.pem and dspyfleet-ca-key.pem.
      --name NAME            its common name (default "dspyfleet CA")
      --days N               validity (default 1825)
  cert create --server       The control plane's certificate: dspyfleet-server.pem and
                             dspyfleet-server-key.pem, valid for localhost, 127.0.0.1 and ::1.
      --dns NAME,...         more host names agents and fleetctl dial (e.g. cp.internal)
      --ip ADDR,...          more addresses they dial
  cert create --agent NODE   NODE's agent certificate, for mTLS: a client certificate whose
                             common name is the node id the control plane registers it as:
                             dspyfleet-agent-NODE.pem and dspyfleet-agent-NODE-key.pem.
  Both cert create forms:
      --days N               validity (default 365; never past the CA's)
      --ca FILE              the CA certificate (default DIR/dspyfleet-ca.pem)
      --ca-key FILE          its key (default DIR/dspyfleet-ca-key.pem)
  Every command:
      --dir DIR              where the files are written (default: the current directory)

Then: controlplane --tls-cert dspyfleet-server.pem --tls-key dspyfleet-server-key.pem
--client-ca dspyfleet-ca.pem; agent --ca-file dspyfleet-ca.pem --cert-file
dspyfleet-agent-NODE.pem --key-file dspyfleet-agent-NODE-key.pem; fleetctl --ca-file
dspyfleet-ca.pem (or DSPYFLEET_CACERT). docs/deployment.md walks through it.

`

// parseTLS parses "fleetctl tls ..."; args follow "tls".
func parseTLS(g *globals, args []string) (command, error) {
	if len(args) < 2 || (args[0] != "ca" && args[0] != "cert") || args[1] != "create" {
		if len(args) == 0 {
			return nil, usageErrorf(tlsUsage, "tls: missing command")
		}
		return nil, usageErrorf(tlsUsage, "tls: unknown command %q (ca create, cert create)", strings.Join(args[:min(len(args), 2)], " "))
	}
	name := "tls " + args[0] + " create"
	fs := newFlagSet(name, g)
	dir := fs.String("dir", ".", "")
	caName := fs.String("name", "dspyfleet CA", "")
	daysFlag := fs.Int("days", 0, "")
	server := fs.Bool("server", false, "")
	agent := fs.String("agent", "", "")
	dns := fs.String("dns", "", "")
	ips := fs.String("ip", "", "")
	caFile := fs.String("ca", "", "")
	caKey := fs.String("ca-key", "", "")
	pos, err := parseCommand(fs, g, args[2:], tlsUsage)
	if err != nil {
		return nil, err
	}
	if len(pos) > 0 {
		return nil, usageErrorf(tlsUsage, "%s: unexpected argument %q", name, pos[0])
	}
	if *daysFlag < 0 {
		return nil, usageErrorf(tlsUsage, "%s: --days %d is negative", name, *daysFlag)
	}
	g.offline = true
	if args[0] == "ca" {
		if *server || *agent != "" || *dns != "" || *ips != "" || *caFile != "" || *caKey != "" {
			return nil, usageErrorf(tlsUsage, "%s: --server, --agent, --dns, --ip, --ca and --ca-key are for cert create", name)
		}
		return func(_ context.Context, _ grpc.ClientConnInterface, stdout io.Writer) error {
			cert, key, err := credential.CreateAuthority(*dir, *caName, time.Now(), days(*daysFlag, 1825))
			if err != nil {
				return err
			}
			return wrote(stdout, cert, key)
		}, nil
	}
	if *server == (*agent != "") {
		return nil, usageErrorf(tlsUsage, "%s: give --server or --agent NODE", name)
	}
	if *agent != "" && !check.ValidID(*agent) {
		return nil, usageErrorf(tlsUsage, "%s: --agent %q is not a valid node id (letters, digits, '.', '_' and '-', up to 63, starting with a letter or digit)", name, check.Truncate(*agent))
	}
	if *agent != "" && (*dns != "" || *ips != "") {
		return nil, usageErrorf(tlsUsage, "%s: --dns and --ip are for --server", name)
	}
	var addrs []net.IP
	for _, s := range cli.SplitList(*ips) {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, usageErrorf(tlsUsage, "%s: --ip %q is not an IP address", name, s)
		}
		addrs = append(addrs, ip)
	}
	ca := cmp.Or(*caFile, filepath.Join(*dir, credential.CAFile))
	key := cmp.Or(*caKey, filepath.Join(*dir, credential.CAKeyFile))
	return func(_ context.Context, _ grpc.ClientConnInterface, stdout io.Writer) error {
		auth, err := credential.LoadAuthority(ca, key)
		if err != nil {
			return fmt.Errorf("load the CA (create one with \"fleetctl tls ca create\"): %w", err)
		}
		var cert, ckey string
		if *server {
			cert, ckey, err = auth.IssueServer(*dir, cli.SplitList(*dns), addrs, time.Now(), days(*daysFlag, 365))
		} else {
			cert, ckey, err = auth.IssueAgent(*dir, *agent, time.Now(), days(*daysFlag, 365))
		}
		if err != nil {
			return err
		}
		return wrote(stdout, cert, ckey)
	}, nil
}

// days returns n days, or def days when n is 0.
func days(n, def int) time.Duration {
	if n == 0 {
		n = def
	}
	return time.Duration(n) * 24 * time.Hour
}

// wrote reports the certificate and key files written.
func wrote(w io.Writer, cert, key string) error {
	_, err := fmt.Fprintf(w, "wrote %s (certificate)\nwrote %s (private key, mode 0600)\n", cert, key)
	return err
}
