package controlplane

import (
	"github.com/dspyfleet/dspyfleet/controlplane/auth"
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
			if _, ok := auth.AccessRules[full]; !ok {
				t.Errorf("%s has no rule in accessRules (controlplane/access.go): add one line saying who may call it", full)
			}
		}
	}
	for _, full := range slices.Sorted(maps.Keys(auth.AccessRules)) {
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
	roles := []auth.Role{auth.RoleAgent, auth.RoleRead, auth.RoleAdmin, auth.RoleAnyone, 0}
	want := map[auth.Access][]auth.Role{
		auth.Public:    {auth.RoleAgent, auth.RoleRead, auth.RoleAdmin, auth.RoleAnyone, 0},
		auth.AgentOnly: {auth.RoleAgent, auth.RoleAnyone},
		auth.Read:      {auth.RoleRead, auth.RoleAdmin, auth.RoleAnyone},
		auth.DataPlane: {auth.RoleRead, auth.RoleAdmin, auth.RoleAnyone},
		auth.Write:     {auth.RoleAdmin, auth.RoleAnyone},
		0:              nil,
	}
	for a, allowed := range want {
		for _, r := range roles {
			if got := a.Allows(r); got != slices.Contains(allowed, r) {
				t.Errorf("access %d allows(%s) = %v", a, r, got)
			}
		}
	}
}
