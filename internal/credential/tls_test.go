package credential_test

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/internal/credential"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
)

// TestCertReloaderKeepsWorkingCertificate: a renewal that does not load leaves the previous
// certificate in use and is reported; a good one replaces it.
func TestCertReloaderKeepsWorkingCertificate(t *testing.T) {
	ca := fleettest.NewCA(t, "ca")
	dir := t.TempDir()
	certFile, keyFile := ca.Issue(t, dir, "s", "first")
	r, err := credential.NewCertReloader(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	var reloads []error
	r.OnReload = func(err error) { reloads = append(reloads, err) }
	first, _ := r.GetCertificate(nil)

	bump := func(d time.Duration) {
		t.Helper()
		at := time.Now().Add(d)
		for _, p := range []string{certFile, keyFile} {
			if err := os.Chtimes(p, at, at); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.WriteFile(keyFile, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	bump(time.Minute)
	got, err := r.GetCertificate(nil)
	if err != nil || got != first || len(reloads) != 1 || reloads[0] == nil {
		t.Fatalf("broken renewal: cert changed=%v err=%v reloads=%v", got != first, err, reloads)
	}
	ca.Issue(t, dir, "s", "second")
	bump(2 * time.Minute)
	got, err = r.GetCertificate(nil)
	if err != nil || got == first || got.Leaf.Subject.CommonName != "second" || !errors.Is(reloads[len(reloads)-1], nil) {
		t.Fatalf("good renewal not picked up: err=%v reloads=%v", err, reloads)
	}
	if _, err := credential.NewCertReloader(certFile+".missing", keyFile); err == nil {
		t.Fatal("missing file: no error")
	}
	if _, err := credential.ClientTLS("", certFile, ""); err == nil {
		t.Fatal("cert without key: no error")
	}
}
