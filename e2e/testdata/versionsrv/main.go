// Command versionsrv is the stand-in DSPy server of the deployment tests. "versionsrv serve
// -port P -version-file F" answers every request with the version in F: 200 and the version,
// or 500 when the version starts with "bad" (a broken release); /healthz always answers 200.
// "versionsrv set [-sleep D] F VERSION" is the deploy hook: it writes VERSION to F.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: versionsrv serve|set ...")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "set":
		fs := flag.NewFlagSet("set", flag.ExitOnError)
		sleep := fs.Duration("sleep", 0, "wait this long first, like a real deploy")
		_ = fs.Parse(os.Args[2:])
		if fs.NArg() != 2 {
			fmt.Fprintln(os.Stderr, "usage: versionsrv set [-sleep D] FILE VERSION")
			os.Exit(2)
		}
		time.Sleep(*sleep)
		file, version := fs.Arg(0), fs.Arg(1)
		tmp := filepath.Join(filepath.Dir(file), ".version.tmp")
		if err := os.WriteFile(tmp, []byte(version), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := os.Rename(tmp, file); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("deployed", version)
	case "serve":
		fs := flag.NewFlagSet("serve", flag.ExitOnError)
		port := fs.String("port", "0", "port on 127.0.0.1")
		file := fs.String("version-file", "", "file holding the version served")
		_ = fs.Parse(os.Args[2:])
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", *port))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("listening", ln.Addr())
		mux := http.NewServeMux()
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
		mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
			raw, err := os.ReadFile(*file)
			v := strings.TrimSpace(string(raw))
			if err != nil || strings.HasPrefix(v, "bad") {
				http.Error(w, "broken release "+v, http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"version": %q}`, v)
		})
		fmt.Println(http.Serve(ln, mux))
		os.Exit(1)
	default:
		fmt.Fprintln(os.Stderr, "usage: versionsrv serve|set ...")
		os.Exit(2)
	}
}
