// Command healthsrv is the stand-in DSPy service of the agent/service tests. It listens on
// 127.0.0.1:$PORT (or -port), answers /healthz with 200 (500 with -unhealthy or while the
// -sick-file exists) and /info with its pid, environment and arguments, answers /predict with
// 200 (500 while the -fail-file exists; after ?sleep=DURATION), and prints what it does to
// stdout.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	port := flag.String("port", os.Getenv("PORT"), "port to listen on (default $PORT)")
	unhealthy := flag.Bool("unhealthy", false, "answer /healthz with 500")
	exitAfter := flag.Duration("exit-after", 0, "exit after this long")
	exitCode := flag.Int("exit-code", 3, "exit code for -exit-after")
	ignoreTerm := flag.Bool("ignore-term", false, "ignore SIGTERM")
	child := flag.Bool("child", false, "start a child that ignores SIGTERM and print its pid")
	sleep := flag.Bool("sleep", false, "only sleep (the child mode)")
	failFile := flag.String("fail-file", "", "answer /predict with 500 while this file exists")
	sickFile := flag.String("sick-file", "", "answer /healthz with 500 while this file exists")
	flag.Parse()

	if *ignoreTerm || *sleep {
		signal.Ignore(syscall.SIGTERM)
	}
	if *sleep {
		select {}
	}
	if *child {
		c := exec.Command(os.Args[0], "-sleep")
		if err := c.Start(); err != nil {
			fmt.Println("child:", err)
			os.Exit(1)
		}
		fmt.Printf("child pid %d\n", c.Process.Pid)
	}
	if *exitAfter > 0 {
		time.AfterFunc(*exitAfter, func() {
			fmt.Printf("exiting with %d\n", *exitCode)
			os.Exit(*exitCode)
		})
	}

	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", *port))
	if err != nil {
		fmt.Println("listen:", err)
		os.Exit(1)
	}
	fmt.Printf("healthsrv pid %d listening on %s\n", os.Getpid(), ln.Addr())
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if *unhealthy {
			http.Error(w, "model not loaded", http.StatusInternalServerError)
			return
		}
		if *sickFile != "" {
			if _, err := os.Stat(*sickFile); err == nil {
				http.Error(w, "model backend lost", http.StatusInternalServerError)
				return
			}
		}
		fmt.Fprintln(w, "ok")
	})
	http.HandleFunc("/predict", func(w http.ResponseWriter, r *http.Request) {
		if d, err := time.ParseDuration(r.URL.Query().Get("sleep")); err == nil {
			time.Sleep(d) // a slow request, to be in flight
		}
		if *failFile != "" {
			if _, err := os.Stat(*failFile); err == nil {
				http.Error(w, "model backend failing", http.StatusInternalServerError)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"answer": "42"}`)
	})
	http.HandleFunc("/info", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"pid":      os.Getpid(),
			"port":     os.Getenv("PORT"),
			"instance": os.Getenv("DSPYFLEET_INSTANCE"),
			"extra":    os.Getenv("EXTRA"),
			"args":     os.Args[1:],
		})
	})
	fmt.Println(http.Serve(ln, nil))
	os.Exit(1)
}
