package credential

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// CertReloader serves a certificate and key from PEM files and re-reads them when either file
// changes (modification time or size), so a renewed certificate is used for new connections
// without a restart; connections already open keep theirs. A pair that fails to load (a renewal
// half written) leaves the previous certificate in use and is tried again on the next handshake.
type CertReloader struct {
	certFile, keyFile string

	mu        sync.Mutex
	cert      *tls.Certificate
	certStamp stamp
	keyStamp  stamp
	// OnReload, when set, is told of every reload: nil for success, else why the previous
	// certificate stays in use.
	OnReload func(err error)
}

// stamp identifies a version of a file.
type stamp struct {
	mod  time.Time
	size int64
}

func stampOf(path string) (stamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{}, err
	}
	return stamp{fi.ModTime(), fi.Size()}, nil
}

// NewCertReloader loads the pair once, failing if it does not load.
func NewCertReloader(certFile, keyFile string) (*CertReloader, error) {
	r := &CertReloader{certFile: certFile, keyFile: keyFile}
	if _, err := r.current(); err != nil {
		return nil, err
	}
	return r, nil
}

// current returns the certificate, re-reading the files if they changed.
func (r *CertReloader) current() (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cs, cerr := stampOf(r.certFile)
	ks, kerr := stampOf(r.keyFile)
	if err := errors.Join(cerr, kerr); err != nil {
		return r.keep(err)
	}
	if r.cert != nil && cs == r.certStamp && ks == r.keyStamp {
		return r.cert, nil
	}
	pair, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return r.keep(fmt.Errorf("certificate %s and key %s: %w", r.certFile, r.keyFile, err))
	}
	first := r.cert == nil
	r.cert, r.certStamp, r.keyStamp = &pair, cs, ks
	if !first && r.OnReload != nil {
		r.OnReload(nil)
	}
	return r.cert, nil
}

// keep reports err and returns the certificate loaded before, if there is one.
func (r *CertReloader) keep(err error) (*tls.Certificate, error) {
	if r.cert == nil {
		return nil, err
	}
	if r.OnReload != nil {
		r.OnReload(err)
	}
	return r.cert, nil
}

// GetCertificate implements tls.Config.GetCertificate.
func (r *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.current()
}

// GetClientCertificate implements tls.Config.GetClientCertificate.
func (r *CertReloader) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return r.current()
}

// LoadCertPool reads the PEM certificates in path.
func LoadCertPool(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

// ClientTLS returns the TLS configuration of a client: servers are verified against the CAs in
// caFile (the system's CAs when empty), and when certFile and keyFile are given that pair is
// presented as the client certificate, re-read when the files change.
func ClientTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := LoadCertPool(caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca-file: %w", err)
		}
		cfg.RootCAs = pool
	}
	switch {
	case certFile != "" && keyFile != "":
		r, err := NewCertReloader(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("--cert-file, --key-file: %w", err)
		}
		cfg.GetClientCertificate = r.GetClientCertificate
	case certFile != "" || keyFile != "":
		return nil, errors.New("--cert-file and --key-file go together: give both or neither")
	}
	return cfg, nil
}
