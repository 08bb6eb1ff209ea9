package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is the kernel's USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
const clockTicks = 100

// sample is a process's CPU time and memory at one moment.
type sample struct {
	at  time.Time
	cpu time.Duration // user + system
	rss int64         // VmRSS, bytes
	hwm int64         // VmHWM (peak RSS), bytes
}

// readUsage reads /proc/<pid>/stat and /proc/<pid>/status.
func readUsage(pid int) (sample, error) {
	u := sample{at: time.Now()}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	rest := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	utime, _ := strconv.ParseInt(rest[11], 10, 64)
	stime, _ := strconv.ParseInt(rest[12], 10, 64)
	u.cpu = time.Duration(utime+stime) * time.Second / clockTicks
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		switch key {
		case "VmRSS":
			u.rss = kb << 10
		case "VmHWM":
			u.hwm = kb << 10
		}
	}
	return u, sc.Err()
}

// cores is the CPU used between a and b, in cores.
func cores(a, b sample) float64 {
	return (b.cpu - a.cpu).Seconds() / b.at.Sub(a.at).Seconds()
}

// binaries builds the control plane and the agent as deploy/package.sh does (grpcnotrace,
// stripped) into dir (a new temporary one when dir is empty) unless they are already there.
func binaries(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	dir, err := os.MkdirTemp("", "dspyfleet-bench-")
	if err != nil {
		return "", err
	}
	out, err := exec.Command("go", "build", "-trimpath", "-tags", "grpcnotrace", "-ldflags", "-s -w", "-o", dir+"/", "./cmd/dspyfleet-controlplane", "./cmd/dspyfleet-agent").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build (run the harness from the module root): %v\n%s", err, out)
	}
	return dir, nil
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// daemon is a child process.
type daemon struct {
	cmd  *exec.Cmd
	done chan error
}

// start runs bin with args and the environment plus env, its output to log.
func start(bin string, args, env []string, log io.Writer) (*daemon, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d := &daemon{cmd: cmd, done: make(chan error, 1)}
	go func() { d.done <- cmd.Wait() }()
	return d, nil
}

func (d *daemon) pid() int { return d.cmd.Process.Pid }

// stop sends SIGTERM and waits up to 15 s before killing.
func (d *daemon) stop() {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

// controlPlane is a control plane process.
type controlPlane struct {
	*daemon
	grpc, http, dir string
}

// startControlPlane starts the control plane binary from bin on free loopback ports with a
// fresh data directory, extra flags and extra environment, and waits until it is ready.
func startControlPlane(ctx context.Context, bin string, extra, env []string, log io.Writer) (*controlPlane, error) {
	grpcAddr, err := freePort()
	if err != nil {
		return nil, err
	}
	httpAddr, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "dspyfleet-bench-data-")
	if err != nil {
		return nil, err
	}
	args := append([]string{"--grpc-listen", grpcAddr, "--http-listen", httpAddr, "--data-dir", dir, "--log-level", "warn"}, extra...)
	d, err := start(filepath.Join(bin, "dspyfleet-controlplane"), args, env, log)
	if err != nil {
		return nil, err
	}
	cp := &controlPlane{daemon: d, grpc: grpcAddr, http: httpAddr, dir: dir}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cp, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			cp.close()
			return nil, fmt.Errorf("control plane not ready at %s: %v", httpAddr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// close stops the control plane and removes its data.
func (cp *controlPlane) close() {
	cp.stop()
	_ = os.RemoveAll(cp.dir)
}

// metric returns the sum of the samples of a Prometheus metric whose line starts with prefix.
func (cp *controlPlane) metric(prefix string) (float64, error) {
	resp, err := http.Get("http://" + cp.http + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum, sc.Err()
}

// machine prints the machine and its load.
func machine(w io.Writer) error {
	model := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := "unknown"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && k == "MemTotal" {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
	}
	_, err := fmt.Fprintf(w, "date %s; %d cores (nproc), %s, RAM %s, %s/%s, %s; load average %s\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.NumCPU(), model, mem, runtime.GOOS, runtime.GOARCH, runtime.Version(), loadAvg())
	return err
}

// loadAvg returns the 1, 5 and 15 minute load averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:3], " ")
}

// mib formats bytes as MiB.
func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// createFile creates or truncates a file.
func createFile(path string) (*os.File, error) { return os.Create(path) }

// writeUsage lets the agents settle for 10 s, samples their CPU time, waits for d (or ctx), then
// writes header() (read then, so it can give the load average at the end) and one table row per
// agent, named by names: its share of a core over d, its RSS
// at the end and its peak RSS.
func writeUsage(ctx context.Context, w io.Writer, header func() string, agents []*daemon, names []string, d time.Duration) error {
	time.Sleep(10 * time.Second)
	before := make([]sample, len(agents))
	for i, a := range agents {
		var err error
		if before[i], err = readUsage(a.pid()); err != nil {
			return err
		}
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
	}
	fmt.Fprint(w, header())
	for i, a := range agents {
		after, err := readUsage(a.pid())
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "| %s | %.2f %% | %s | %s |\n", names[i], 100*cores(before[i], after), mib(after.rss), mib(after.hwm))
	}
	return nil
}
