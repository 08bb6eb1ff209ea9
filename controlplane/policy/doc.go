// Package policy owns the fleet policy document: one YAML document of sections (routing,
// scaling, budgets, prices) with numbered revisions in the store, validation of a whole document
// before any section changes, diffs, export and rollback. Each section applies its part through
// the subsystem that holds it (router, scaling, cost).
package policy
