package controlplane_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// mountSmallDisk mounts a 2 MiB tmpfs for the test and unmounts it when the test ends; it skips
// the test where mounting is not permitted.
func mountSmallDisk(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=2m"); err != nil {
		t.Skipf("a full disk needs a small tmpfs, and mounting one is not permitted here (%v); run as root to test it", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fillDisk writes a file under dir until the filesystem is full.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill %s: %v", path, err)
			}
			return
		}
	}
}

// getBody returns the status code and body of GET url.
func getBody(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// manyPrices is a price list of n instance types, each rewrite of which needs fresh pages.
func manyPrices(n int, price float64) *fleetv1.Prices {
	p := &fleetv1.Prices{}
	for i := range n {
		p.Instances = append(p.Instances, &fleetv1.InstancePrice{
			InstanceType: fmt.Sprintf("type-%04d-%s", i, strings.Repeat("x", 40)), OnDemandHourly: price,
		})
	}
	return p
}

// TestReadyzStoreCannotWrite fills the data directory's disk: /readyz turns 503 naming the store's
// write error once a write fails (while /healthz stays 200 and the failure gauge reads 1), and
// turns 200 again after space is freed and the next write succeeds.
func TestReadyzStoreCannotWrite(t *testing.T) {
	disk := mountSmallDisk(t)
	cfg := fleettest.FastConfig(t)
	cfg.DataDir = filepath.Join(disk, "data")
	cp := fleettest.StartControlPlane(t, cfg)
	readyz, healthz, metrics := "http://"+cp.HTTPAddr()+"/readyz", "http://"+cp.HTTPAddr()+"/healthz", "http://"+cp.HTTPAddr()+"/metrics"
	fleettest.Eventually(t, 5*time.Second, "/readyz 200 on a disk with room", func() bool {
		code, _ := getBody(t, readyz)
		return code == http.StatusOK
	})
	c := costClient(t, cp)
	ctx := context.Background()
	if _, err := c.SetPrices(ctx, &fleetv1.SetPricesRequest{Prices: manyPrices(10, 1)}); err != nil {
		t.Fatalf("SetPrices with room on disk: %v", err)
	}

	filler := filepath.Join(disk, "filler")
	fillDisk(t, filler)
	// Commits may reuse pages the file already holds; growing the price list needs new ones.
	n := 10
	var body string
	fleettest.Eventually(t, 10*time.Second, "/readyz 503 on a full disk", func() bool {
		n += 200
		_, _ = c.SetPrices(ctx, &fleetv1.SetPricesRequest{Prices: manyPrices(n, 2)})
		var code int
		code, body = getBody(t, readyz)
		return code == http.StatusServiceUnavailable
	})
	if !strings.Contains(body, "store cannot write") || !strings.Contains(body, "no space left on device") {
		t.Errorf("/readyz body on a full disk = %q, want it to name the store and the error", body)
	}
	if code, _ := getBody(t, healthz); code != http.StatusOK {
		t.Errorf("/healthz on a full disk = %d, want 200 (the process is alive)", code)
	}
	if _, m := getBody(t, metrics); !strings.Contains(m, "dspyfleet_store_write_failing 1") {
		t.Errorf("/metrics on a full disk lacks dspyfleet_store_write_failing 1")
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetPrices(ctx, &fleetv1.SetPricesRequest{Prices: manyPrices(10, 3)}); err != nil {
		t.Fatalf("SetPrices after space was freed: %v", err)
	}
	if code, body := getBody(t, readyz); code != http.StatusOK {
		t.Errorf("/readyz after a successful write = %d %q, want 200", code, body)
	}
	if _, m := getBody(t, metrics); !strings.Contains(m, "dspyfleet_store_write_failing 0") {
		t.Errorf("/metrics after a successful write lacks dspyfleet_store_write_failing 0")
	}
}
