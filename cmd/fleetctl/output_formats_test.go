package main

import (
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
)

// TestOutputFormats: -o yaml prints the API's fields as YAML in block style,
// -o wide adds nodes list's extra columns, and a format fleetctl does not know is a usage error
// naming the four.
func TestOutputFormats(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	t.Setenv("DSPYFLEET_ADDR", cp.GRPCAddr())
	startAgent(t, cp, "fmt-node", "web", 0.5)
	fleettest.Eventually(t, 10*time.Second, "fmt-node ready", func() bool {
		return strings.Contains(runCLI(t, "nodes", "get", "fmt-node").stdout, "State:           ready\n")
	})

	res := runCLI(t, "-o", "yaml", "nodes", "list")
	var listed struct {
		Nodes []struct {
			ID    string `yaml:"id"`
			Pool  string `yaml:"pool"`
			State string `yaml:"state"`
		} `yaml:"nodes"`
	}
	if err := yaml.Unmarshal([]byte(res.stdout), &listed); err != nil || res.code != exitOK {
		t.Fatalf("-o yaml nodes list: %d %v\n%s", res.code, err, res.stdout)
	}
	if len(listed.Nodes) != 1 || listed.Nodes[0].ID != "fmt-node" || listed.Nodes[0].Pool != "web" || listed.Nodes[0].State != "NODE_STATE_READY" {
		t.Fatalf("-o yaml nodes list: %+v\n%s", listed, res.stdout)
	}
	if strings.Contains(res.stdout, "{") {
		t.Fatalf("-o yaml printed flow style:\n%s", res.stdout)
	}

	res = runCLI(t, "-o", "wide", "nodes", "list")
	if res.code != exitOK || !strings.Contains(res.stdout, "AGENT VERSION") || !strings.Contains(res.stdout, "127.0.0.1:") {
		t.Fatalf("-o wide nodes list: %+v", res)
	}
	if res := runCLI(t, "nodes", "list"); strings.Contains(res.stdout, "AGENT VERSION") {
		t.Fatalf("the table has the wide columns: %s", res.stdout)
	}
	if res := runCLI(t, "-o", "xml", "nodes", "list"); res.code != exitUsage || !strings.Contains(res.stderr, "must be table, wide, json or yaml") {
		t.Fatalf("-o xml: %+v", res)
	}
}
