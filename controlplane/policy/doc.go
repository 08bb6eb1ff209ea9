// Package policy owns the fleet policy document: one YAML document of sections (routing,
// scaling, budgets, prices) with numbered revisions in the store, validation of a whole document
// before any section changes, diffs, export and rollback. Each section applies its part through
// the subsystem that holds it (router, scaling, cost).
//
// The document is the one writer of every policy: the per-resource RPCs (RoutingService and
// ScalingService SetPolicy, CostService SetBudget, DeleteBudget and SetPrices) forward to Edit
// and Replace, so every change is a revision and no two code paths write a policy's bucket key.
// Etags (AIP-154) are digests of exported values: Export's for the document, EntryEtag's for a
// pool's policy; a change naming a stale one fails with a check.ConflictError.
package policy
