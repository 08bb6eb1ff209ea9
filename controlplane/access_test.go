package controlplane

import (
	"log/slog"
	"maps"
	"slices"
	"testing"
)

// TestEveryMethodHasAnAccessRule walks every method of every service registered on the real
// gRPC server: a method without a rule in accessRules fails here, so a new RPC cannot ship
// without a decision on who may call it. A rule for a method that no longer exists fails too.
func TestEveryMethodHasAnAccessRule(t *testing.T) {
	cfg := DefaultConfig()
	cfg.GRPCListen, cfg.HTTPListen, cfg.DataDir = "127.0.0.1:0", "127.0.0.1:0", t.TempDir()
	cfg.Logger = slog.New(slog.DiscardHandler)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.grpcLn.Close()
		_ = s.httpLn.Close()
		_ = s.store.Close()
	})
	registered := map[string]bool{}
	for svc, info := range s.grpc.GetServiceInfo() {
		for _, m := range info.Methods {
			full := "/" + svc + "/" + m.Name
			registered[full] = true
			if _, ok := accessRules[full]; !ok {
				t.Errorf("%s has no rule in accessRules (controlplane/access.go): add one line saying who may call it", full)
			}
		}
	}
	for _, full := range slices.Sorted(maps.Keys(accessRules)) {
		if !registered[full] {
			t.Errorf("accessRules has a rule for %s, which no registered service has: remove it", full)
		}
	}
	if len(registered) == 0 {
		t.Fatal("no service registered")
	}
}

// TestAccessAllows pins the role table: who may call each kind of method.
func TestAccessAllows(t *testing.T) {
	roles := []role{roleAgent, roleRead, roleAdmin, roleAnyone, 0}
	want := map[access][]role{
		public:    {roleAgent, roleRead, roleAdmin, roleAnyone, 0},
		agentOnly: {roleAgent, roleAnyone},
		read:      {roleRead, roleAdmin, roleAnyone},
		dataPlane: {roleRead, roleAdmin, roleAnyone},
		write:     {roleAdmin, roleAnyone},
		0:         nil,
	}
	for a, allowed := range want {
		for _, r := range roles {
			if got := a.allows(r); got != slices.Contains(allowed, r) {
				t.Errorf("access %d allows(%s) = %v", a, r, got)
			}
		}
	}
}
