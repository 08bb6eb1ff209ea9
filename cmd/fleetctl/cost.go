package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// parseCost parses "fleetctl cost <command>"; args follow "cost".
func parseCost(g *globals, args []string) (command, error) {
	fs := newFlagSet("cost", g)
	if err := fs.Parse(args); err != nil {
		return nil, &usageError{usage: costUsage, err: err}
	}
	args = fs.Args()
	if len(args) == 0 {
		return nil, usageErrorf(costUsage, "cost: missing command")
	}
	switch args[0] {
	case "report":
		return parseCostReport(g, args[1:])
	case "budgets":
		return parseNoArgs(g, args[1:], "cost budgets", costBudgetsUsage, func(ctx context.Context, c fleetv1.CostServiceClient, stdout io.Writer) error {
			resp, err := listAll(ctx, &fleetv1.ListBudgetsRequest{}, 0, c.ListBudgets)
			if err != nil || g.output.structured() {
				return structuredOr(err, g.output, stdout, resp)
			}
			return writeBudgets(stdout, resp, time.Now())
		})
	case "budget":
		if len(args) > 1 && args[1] == "set" {
			return parseBudgetSet(g, args[2:])
		}
		if len(args) > 1 && args[1] == "delete" {
			return parseBudgetDelete(g, args[2:])
		}
		return nil, usageErrorf(costUsage, "cost budget: want set or delete")
	case "prices":
		if len(args) > 1 && args[1] == "set" {
			return parsePricesSet(g, args[2:])
		}
		return parseNoArgs(g, args[1:], "cost prices", costPricesUsage, func(ctx context.Context, c fleetv1.CostServiceClient, stdout io.Writer) error {
			resp, err := c.GetPrices(ctx, &fleetv1.GetPricesRequest{})
			if err != nil || g.output.structured() {
				return structuredOr(err, g.output, stdout, resp)
			}
			return writePrices(stdout, resp.GetPrices())
		})
	case "recs":
		return parseRecs(g, args[1:])
	}
	return nil, usageErrorf(costUsage, "cost: unknown command %q", args[0])
}

// costCommand makes a command that calls the cost service with the global timeout.
func costCommand(g *globals, f func(context.Context, fleetv1.CostServiceClient, io.Writer) error) command {
	return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
		ctx, cancel := withTimeout(ctx, g.timeout)
		defer cancel()
		return f(ctx, fleetv1.NewCostServiceClient(conn), stdout)
	}
}

// structuredOr returns err, or prints resp as f says (json or yaml).
func structuredOr(err error, f outputFormat, stdout io.Writer, resp proto.Message) error {
	if err != nil {
		return err
	}
	return f.write(stdout, jsonIndented, resp)
}

// parseNoArgs parses a command that takes only the global flags.
func parseNoArgs(g *globals, args []string, name, usage string, f func(context.Context, fleetv1.CostServiceClient, io.Writer) error) (command, error) {
	pos, err := parseCommand(newFlagSet(name, g), g, args, usage)
	if err != nil {
		return nil, err
	}
	if len(pos) > 0 {
		return nil, usageErrorf(usage, "%s: unexpected argument %q", name, pos[0])
	}
	return costCommand(g, f), nil
}

var groupNames = map[string]fleetv1.CostGroupBy{
	"pool": fleetv1.CostGroupBy_COST_GROUP_BY_POOL, "node": fleetv1.CostGroupBy_COST_GROUP_BY_NODE,
	"model": fleetv1.CostGroupBy_COST_GROUP_BY_MODEL, "program": fleetv1.CostGroupBy_COST_GROUP_BY_PROGRAM,
	"capacity_type": fleetv1.CostGroupBy_COST_GROUP_BY_CAPACITY_TYPE,
}

// parseSince parses a look-back like "7d", "36h" or "90m".
func parseSince(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil || n <= 0 || n > 400 {
			return 0, fmt.Errorf("--since %q: want a number of days in (0, 400], e.g. 7d", s)
		}
		return time.Duration(n * 24 * float64(time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("--since %q: want a positive duration such as 24h or 7d", s)
	}
	return d, nil
}

// costReportArgs are the parsed arguments of "cost report".
type costReportArgs struct {
	by    fleetv1.CostGroupBy
	since time.Duration
	pool  string
}

// parseCostReportArgs parses the arguments of "cost report".
func parseCostReportArgs(g *globals, args []string) (costReportArgs, error) {
	fs := newFlagSet("cost report", g)
	by := fs.String("by", "pool", "")
	since := fs.String("since", "7d", "")
	pool := fs.String("pool", "", "")
	pos, err := parseCommand(fs, g, args, costReportUsage)
	if err != nil {
		return costReportArgs{}, err
	}
	if len(pos) > 0 {
		return costReportArgs{}, usageErrorf(costReportUsage, "cost report: unexpected argument %q", pos[0])
	}
	group, ok := groupNames[*by]
	if !ok {
		return costReportArgs{}, usageErrorf(costReportUsage, "cost report: --by %q: want pool, node, model, program or capacity_type", *by)
	}
	d, err := parseSince(*since)
	if err != nil {
		return costReportArgs{}, usageErrorf(costReportUsage, "cost report: %v", err)
	}
	return costReportArgs{by: group, since: d, pool: *pool}, nil
}

func parseCostReport(g *globals, args []string) (command, error) {
	a, err := parseCostReportArgs(g, args)
	if err != nil {
		return nil, err
	}
	return costCommand(g, func(ctx context.Context, c fleetv1.CostServiceClient, stdout io.Writer) error {
		now := time.Now()
		resp, err := c.GetReport(ctx, &fleetv1.GetReportRequest{Start: timestamppb.New(now.Add(-a.since)), End: timestamppb.New(now), GroupBy: a.by, Pool: a.pool})
		if err != nil || g.output.structured() {
			return structuredOr(err, g.output, stdout, resp)
		}
		return writeReport(stdout, resp)
	}), nil
}

var periodNames = map[string]fleetv1.BudgetPeriod{
	"daily": fleetv1.BudgetPeriod_BUDGET_PERIOD_DAILY, "weekly": fleetv1.BudgetPeriod_BUDGET_PERIOD_WEEKLY, "monthly": fleetv1.BudgetPeriod_BUDGET_PERIOD_MONTHLY,
}

// budgetFlags maps the flags of "cost budget set" to the Budget fields they set: with --update,
// the flags given are the update mask.
var budgetFlags = map[string]string{
	"period": "period", "limit": "limit_usd", "pool": "pool", "program": "program", "thresholds": "thresholds",
	"hard": "hard", "fallback-pool": "fallback_pool", "time-zone": "time_zone",
}

// parseBudgetSetArgs parses "cost budget set" into its request. The control plane checks the
// budget; this only parses. With --update, only the fields of the flags given change.
func parseBudgetSetArgs(g *globals, args []string) (*fleetv1.SetBudgetRequest, error) {
	fs := newFlagSet("cost budget set", g)
	b := &fleetv1.Budget{}
	req := &fleetv1.SetBudgetRequest{Budget: b}
	period := fs.String("period", "", "")
	fs.Float64Var(&b.LimitUsd, "limit", 0, "")
	fs.StringVar(&b.Pool, "pool", "", "")
	fs.StringVar(&b.Program, "program", "", "")
	thresholds := fs.String("thresholds", "", "")
	fs.BoolVar(&b.Hard, "hard", false, "")
	fs.StringVar(&b.FallbackPool, "fallback-pool", "", "")
	fs.StringVar(&b.TimeZone, "time-zone", "", "")
	fs.StringVar(&req.Etag, "etag", "", "")
	update := fs.Bool("update", false, "")
	pos, err := parseCommand(fs, g, args, costBudgetSetUsage)
	if err != nil {
		return nil, err
	}
	if len(pos) != 1 {
		return nil, usageErrorf(costBudgetSetUsage, "cost budget set: want one budget NAME, got %d arguments", len(pos))
	}
	b.Name = pos[0]
	if *update {
		req.UpdateMask = &fieldmaskpb.FieldMask{}
		fs.Visit(func(f *flag.Flag) {
			if field, ok := budgetFlags[f.Name]; ok {
				req.UpdateMask.Paths = append(req.UpdateMask.Paths, field)
			}
		})
		slices.Sort(req.UpdateMask.Paths)
		if len(req.UpdateMask.Paths) == 0 {
			return nil, usageErrorf(costBudgetSetUsage, "cost budget set: --update: give the flags of the fields to change")
		}
	}
	if p, ok := periodNames[*period]; ok {
		b.Period = p
	} else if !*update || *period != "" {
		return nil, usageErrorf(costBudgetSetUsage, "cost budget set: --period %q: want daily, weekly or monthly", *period)
	}
	if *thresholds != "" {
		for _, s := range strings.Split(*thresholds, ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(s, "%")), 64)
			if err != nil {
				return nil, usageErrorf(costBudgetSetUsage, "cost budget set: --thresholds %q: %q is not a number", *thresholds, s)
			}
			if strings.HasSuffix(s, "%") {
				v /= 100
			}
			b.Thresholds = append(b.Thresholds, v)
		}
	}
	return req, nil
}

func parseBudgetSet(g *globals, args []string) (command, error) {
	req, err := parseBudgetSetArgs(g, args)
	if err != nil {
		return nil, err
	}
	return costCommand(g, func(ctx context.Context, c fleetv1.CostServiceClient, stdout io.Writer) error {
		resp, err := c.SetBudget(ctx, req)
		if err != nil || g.output.structured() {
			return structuredOr(err, g.output, stdout, resp)
		}
		_, err = fmt.Fprintf(stdout, "budget %s set: %s (etag %s)\n", resp.GetBudget().GetName(), budgetSummary(resp.GetBudget()), resp.GetBudget().GetEtag())
		return err
	}), nil
}

func parseBudgetDelete(g *globals, args []string) (command, error) {
	fs := newFlagSet("cost budget delete", g)
	etag := fs.String("etag", "", "")
	pos, err := parseCommand(fs, g, args, costBudgetDeleteUsage)
	if err != nil {
		return nil, err
	}
	if len(pos) != 1 {
		return nil, usageErrorf(costBudgetDeleteUsage, "cost budget delete: want one budget NAME, got %d arguments", len(pos))
	}
	return costCommand(g, func(ctx context.Context, c fleetv1.CostServiceClient, stdout io.Writer) error {
		if _, err := c.DeleteBudget(ctx, &fleetv1.DeleteBudgetRequest{Name: pos[0], Etag: *etag}); err != nil {
			return err
		}
		_, err := fmt.Fprintf(stdout, "budget %s deleted\n", pos[0])
		return err
	}), nil
}

// parsePricesSet reads the price table file when the command line is parsed, so a bad file is
// a usage error before any call.
func parsePricesSet(g *globals, args []string) (command, error) {
	fs := newFlagSet("cost prices set", g)
	etag := fs.String("etag", "", "")
	pos, err := parseCommand(fs, g, args, costPricesSetUsage)
	if err != nil {
		return nil, err
	}
	if len(pos) != 1 {
		return nil, usageErrorf(costPricesSetUsage, "cost prices set: want one FILE, got %d arguments", len(pos))
	}
	var raw []byte
	if pos[0] == "-" {
		raw, err = io.ReadAll(os.Stdin)
	} else {
		raw, err = os.ReadFile(pos[0])
	}
	if err != nil {
		return nil, fmt.Errorf("cost prices set: %w", err)
	}
	prices := &fleetv1.Prices{}
	if err := protojson.Unmarshal(raw, prices); err != nil {
		return nil, fmt.Errorf("cost prices set: %s is not a price table: %w", pos[0], err)
	}
	return costCommand(g, func(ctx context.Context, c fleetv1.CostServiceClient, stdout io.Writer) error {
		resp, err := c.SetPrices(ctx, &fleetv1.SetPricesRequest{Prices: prices, Etag: cmp.Or(*etag, prices.GetEtag())})
		if err != nil || g.output.structured() {
			return structuredOr(err, g.output, stdout, resp)
		}
		_, err = fmt.Fprintf(stdout, "price table set: %d instance types, %d models (etag %s)\n", len(resp.GetPrices().GetInstances()), len(resp.GetPrices().GetModels()), resp.GetPrices().GetEtag())
		return err
	}), nil
}

// parseRecs parses "cost recs [--all]" and "cost recs dismiss|done ID".
func parseRecs(g *globals, args []string) (command, error) {
	fs := newFlagSet("cost recs", g)
	all := fs.Bool("all", false, "")
	etag := fs.String("etag", "", "")
	pos, err := parseCommand(fs, g, args, costRecsUsage)
	if err != nil {
		return nil, err
	}
	if len(pos) == 0 {
		return costCommand(g, func(ctx context.Context, c fleetv1.CostServiceClient, stdout io.Writer) error {
			resp, err := listAll(ctx, &fleetv1.ListRecommendationsRequest{IncludeClosed: *all}, 0, c.ListRecommendations)
			if err == nil {
				slices.SortStableFunc(resp.Recommendations, func(x, y *fleetv1.Recommendation) int {
					return cmp.Compare(y.GetMonthlySavingsUsd(), x.GetMonthlySavingsUsd())
				})
			}
			if err != nil || g.output.structured() {
				return structuredOr(err, g.output, stdout, resp)
			}
			return writeRecs(stdout, resp)
		}), nil
	}
	states := map[string]fleetv1.RecommendationState{
		"dismiss": fleetv1.RecommendationState_RECOMMENDATION_STATE_DISMISSED,
		"done":    fleetv1.RecommendationState_RECOMMENDATION_STATE_DONE,
		"reopen":  fleetv1.RecommendationState_RECOMMENDATION_STATE_OPEN,
	}
	state, ok := states[pos[0]]
	if !ok || len(pos) != 2 {
		return nil, usageErrorf(costRecsUsage, "cost recs: want no argument, or dismiss|done ID")
	}
	return costCommand(g, func(ctx context.Context, c fleetv1.CostServiceClient, stdout io.Writer) error {
		resp, err := c.UpdateRecommendation(ctx, &fleetv1.UpdateRecommendationRequest{Id: pos[1], State: state, Etag: *etag})
		if err != nil || g.output.structured() {
			return structuredOr(err, g.output, stdout, resp)
		}
		_, err = fmt.Fprintf(stdout, "recommendation %s: %s\n", pos[1], recState(resp.GetRecommendation().GetState()))
		return err
	}), nil
}
