package credential

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// File names of what "fleetctl tls" writes, in the directory it is given.
const (
	CAFile        = "dspyfleet-ca.pem"
	CAKeyFile     = "dspyfleet-ca-key.pem"
	ServerFile    = "dspyfleet-server.pem"
	ServerKeyFile = "dspyfleet-server-key.pem"
)

// AgentFiles returns the certificate and key file names of node's agent certificate.
func AgentFiles(node string) (cert, key string) {
	return "dspyfleet-agent-" + node + ".pem", "dspyfleet-agent-" + node + "-key.pem"
}

// Authority is a certificate authority that issues the control plane's server certificate and
// the agents' client certificates (mTLS: the control plane takes a client certificate's common
// name as its node id).
type Authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// CreateAuthority creates a CA named name, valid from now for validity, and writes its
// certificate (0644) and key (0600) into dir as CAFile and CAKeyFile. It refuses to overwrite
// either file.
func CreateAuthority(dir, name string, now time.Time, validity time.Duration) (certPath, keyPath string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	sn, err := serialNumber()
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn, Subject: pkix.Name{CommonName: name},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(validity),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	return writePair(dir, CAFile, CAKeyFile, der, key)
}

// LoadAuthority reads a CA certificate and its key, as CreateAuthority writes them.
func LoadAuthority(certPath, keyPath string) (*Authority, error) {
	der, err := readPEM(certPath, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certPath, err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("%s: the certificate is not a CA's", certPath)
	}
	kder, err := readPEM(keyPath, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(kder)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyPath, err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%s is not the key of the CA certificate %s", keyPath, certPath)
	}
	return &Authority{cert: cert, key: key}, nil
}

// IssueServer writes the control plane's certificate and key into dir as ServerFile and
// ServerKeyFile: valid for localhost, 127.0.0.1 and ::1 and for every name in dns and address
// in ips (the names agents and fleetctl dial).
func (a *Authority) IssueServer(dir string, dns []string, ips []net.IP, now time.Time, validity time.Duration) (certPath, keyPath string, err error) {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "dspyfleet control plane"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    append([]string{"localhost"}, dns...),
		IPAddresses: append([]net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, ips...),
	}
	return a.issue(dir, ServerFile, ServerKeyFile, tmpl, now, validity)
}

// IssueAgent writes node's agent certificate and key into dir as AgentFiles(node): a client
// certificate whose common name is the node id.
func (a *Authority) IssueAgent(dir, node string, now time.Time, validity time.Duration) (certPath, keyPath string, err error) {
	cert, key := AgentFiles(node)
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: node},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	return a.issue(dir, cert, key, tmpl, now, validity)
}

func (a *Authority) issue(dir, certName, keyName string, tmpl *x509.Certificate, now time.Time, validity time.Duration) (string, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	if tmpl.SerialNumber, err = serialNumber(); err != nil {
		return "", "", err
	}
	tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Minute), now.Add(validity)
	if tmpl.NotAfter.After(a.cert.NotAfter) {
		return "", "", fmt.Errorf("the certificate would outlive its CA (valid until %s): ask for less than %s",
			a.cert.NotAfter.UTC().Format(time.DateOnly), a.cert.NotAfter.Sub(now).Truncate(time.Hour))
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		return "", "", err
	}
	return writePair(dir, certName, keyName, der, key)
}

// writePair writes a certificate (0644) and its key (0600) into dir, refusing to overwrite
// either: a CA or a key replaced by mistake cannot be recovered.
func writePair(dir, certName, keyName string, der []byte, key *ecdsa.PrivateKey) (string, string, error) {
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	certPath, keyPath := filepath.Join(dir, certName), filepath.Join(dir, keyName)
	for _, p := range []string{certPath, keyPath} {
		if _, err := os.Lstat(p); err == nil {
			return "", "", fmt.Errorf("%s exists: move it away or pick another directory; it is never overwritten", p)
		}
	}
	if err := writeNew(keyPath, "PRIVATE KEY", kder, 0o600); err != nil {
		return "", "", err
	}
	if err := writeNew(certPath, "CERTIFICATE", der, 0o644); err != nil {
		return "", "", errors.Join(err, os.Remove(keyPath))
	}
	return certPath, keyPath, nil
}

// writeNew creates path with mode, failing if it exists, and writes one PEM block to it.
func writeNew(path, typ string, der []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if err := pem.Encode(f, &pem.Block{Type: typ, Bytes: der}); err != nil {
		return errors.Join(err, f.Close(), os.Remove(path))
	}
	if err := f.Close(); err != nil {
		return errors.Join(err, os.Remove(path))
	}
	return nil
}

// readPEM returns the first PEM block of path, which must be of type typ.
func readPEM(path, typ string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b, _ := pem.Decode(raw)
	if b == nil || b.Type != typ {
		return nil, fmt.Errorf("%s: no PEM %s block", path, typ)
	}
	return b.Bytes, nil
}

// serialNumber returns a random 128-bit certificate serial number.
func serialNumber() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
}
