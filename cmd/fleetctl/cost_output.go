package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// usd formats an amount in dollars; unknown marks a lower bound with "?".
func usd(v float64, unknown bool) string {
	s := "$" + strconv.FormatFloat(v, 'f', 4, 64)
	if unknown {
		s += "?"
	}
	return s
}

// writeReport prints a cost report as a table with a total line and the warnings.
func writeReport(w io.Writer, r *fleetv1.GetReportResponse) error {
	group := strings.ToLower(strings.TrimPrefix(r.GetGroupBy().String(), "COST_GROUP_BY_"))
	fmt.Fprintf(w, "Cost by %s, %s to %s\n\n", group, r.GetStart().AsTime().UTC().Format(time.RFC3339), r.GetEnd().AsTime().UTC().Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, strings.ToUpper(group)+"\tHOST\tTOKENS\tTOTAL\tREQUESTS\tPER REQUEST\tCACHE SAVED\tHOST HOURS")
	row := func(l *fleetv1.CostLine) {
		name := l.GetName()
		if l.GetPool() != "" {
			name += " (" + l.GetPool() + ")"
		}
		hours := strconv.FormatFloat(l.GetHostHours(), 'f', 2, 64)
		if l.GetUnpricedHostHours() > 0 {
			hours += fmt.Sprintf(" +%.2f unpriced", l.GetUnpricedHostHours())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", name, usd(l.GetHostUsd(), l.GetUnpricedHostHours() > 0),
			usd(l.GetTokenUsd(), l.GetUnpricedTokens() > 0), usd(l.GetTotalUsd(), l.GetUnknown()), l.GetRequests(),
			usd(l.GetCostPerRequestUsd(), false), usd(l.GetSavedUsd(), false), hours)
	}
	for _, l := range r.GetLines() {
		row(l)
	}
	row(r.GetTotal())
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, warn := range r.GetWarnings() {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	return nil
}

// budgetScope names what a budget covers.
func budgetScope(b *fleetv1.Budget) string {
	switch {
	case b.GetPool() != "":
		return "pool " + b.GetPool()
	case b.GetProgram() != "":
		return "program " + b.GetProgram()
	}
	return "fleet"
}

// periodName returns "daily", "weekly" or "monthly".
func periodName(p fleetv1.BudgetPeriod) string {
	return strings.ToLower(strings.TrimPrefix(p.String(), "BUDGET_PERIOD_"))
}

// budgetSummary describes a budget in one line.
func budgetSummary(b *fleetv1.Budget) string {
	s := fmt.Sprintf("%s %s for %s", usd(b.GetLimitUsd(), false), periodName(b.GetPeriod()), budgetScope(b))
	if b.GetHard() {
		s += ", hard"
		if b.GetFallbackPool() != "" {
			s += " (fallback pool " + b.GetFallbackPool() + ")"
		}
	}
	if b.GetTimeZone() != "" {
		s += ", " + b.GetTimeZone()
	}
	return s
}

// percents formats shares as percentages.
func percents(vs []float64) string {
	if len(vs) == 0 {
		return "-"
	}
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = strconv.FormatFloat(100*v, 'f', -1, 64) + "%"
	}
	return strings.Join(parts, ",")
}

// writeBudgets prints the budgets and the recent events.
func writeBudgets(w io.Writer, r *fleetv1.ListBudgetsResponse, now time.Time) error {
	if len(r.GetBudgets()) == 0 {
		_, err := fmt.Fprintln(w, `No budgets. Add one with "fleetctl cost budget set".`)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "BUDGET\tPERIOD\tSCOPE\tLIMIT\tSPENT\tUSED\tRATE/H\tFORECAST\tFIRED\tRESETS\tETAG")
	for _, s := range r.GetBudgets() {
		b := s.GetBudget()
		scope := budgetScope(b)
		if b.GetHard() {
			scope += " (hard)"
		}
		resets := "-"
		if s.GetPeriodEnd() != nil {
			resets = "in " + age(s.GetPeriodEnd().AsTime().Sub(now))
		}
		fired := percents(s.GetFiredThresholds())
		if s.GetForecastFired() {
			fired += " +forecast"
		}
		spent := usd(s.GetSpendUsd(), s.GetUnknown())
		if held := s.GetCommittedUsd() - s.GetSpendUsd(); held > 0 {
			spent += " +" + usd(held, false) + " held"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.1f%%\t%s\t%s\t%s\t%s\t%s\n", b.GetName(), periodName(b.GetPeriod()), scope, usd(b.GetLimitUsd(), false),
			spent, 100*s.GetUsed(), usd(s.GetRunRateUsdPerHour(), false), usd(s.GetForecastUsd(), false), fired, resets, orDash(b.GetEtag()))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.GetEvents()) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nRecent alerts:")
	for _, e := range r.GetEvents() {
		what := fmt.Sprintf("crossed %s", percents([]float64{e.GetThreshold()}))
		if e.GetKind() == "forecast" {
			what = fmt.Sprintf("forecast %s over the limit", usd(e.GetForecastUsd(), false))
		}
		fmt.Fprintf(w, "  %s  %s %s: %s of %s spent\n", e.GetTime().AsTime().UTC().Format(time.RFC3339), e.GetBudget(), what,
			usd(e.GetSpendUsd(), false), usd(e.GetLimitUsd(), false))
	}
	return nil
}

// writePrices prints the price table.
func writePrices(w io.Writer, p *fleetv1.Prices) error {
	if len(p.GetInstances())+len(p.GetModels()) == 0 {
		_, err := fmt.Fprintln(w, `The price table is empty. Set it with "fleetctl cost prices set FILE".`)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	if len(p.GetInstances()) > 0 {
		fmt.Fprintln(tw, "INSTANCE TYPE\tON-DEMAND $/H\tSPOT $/H\tRESERVED $/H\tVCPUS\tMEMORY GIB")
		for _, ip := range p.GetInstances() {
			fmt.Fprintf(tw, "%s\t%g\t%s\t%s\t%g\t%g\n", ip.GetInstanceType(), ip.GetOnDemandHourly(), orNone(ip.GetSpotHourly()), orNone(ip.GetReservedHourly()), ip.GetVcpus(), ip.GetMemoryGib())
		}
		fmt.Fprintln(tw)
	}
	if len(p.GetModels()) > 0 {
		fmt.Fprintln(tw, "MODEL\tINPUT $/MTOK\tOUTPUT $/MTOK\tCACHED INPUT $/MTOK\tALTERNATIVE")
		for _, m := range p.GetModels() {
			fmt.Fprintf(tw, "%s\t%g\t%g\t%s\t%s\n", m.GetModel(), m.GetInputPerMtok(), m.GetOutputPerMtok(), orNone(m.GetCachedInputPerMtok()), orDash(m.GetAlternative()))
		}
	}
	if p.GetEtag() != "" {
		fmt.Fprintf(tw, "\nEtag: %s\n", p.GetEtag())
	}
	return tw.Flush()
}

// orNone formats an optional price: "-" for 0 (not offered or not set).
func orNone(v float64) string {
	if v == 0 {
		return "-"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// recState returns "open", "dismissed" or "done".
func recState(s fleetv1.RecommendationState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "RECOMMENDATION_STATE_"))
}

// writeRecs prints the recommendations with their evidence.
func writeRecs(w io.Writer, r *fleetv1.ListRecommendationsResponse) error {
	if len(r.GetRecommendations()) == 0 {
		_, err := fmt.Fprintln(w, "No open recommendations.")
		return err
	}
	for _, rec := range r.GetRecommendations() {
		fmt.Fprintf(w, "%s  %s/month  %s", rec.GetId(), usd(rec.GetMonthlySavingsUsd(), false), rec.GetSummary())
		if st := rec.GetState(); st != fleetv1.RecommendationState_RECOMMENDATION_STATE_OPEN {
			fmt.Fprintf(w, " [%s]", recState(st))
		}
		fmt.Fprintln(w)
		for _, e := range rec.GetEvidence() {
			fmt.Fprintf(w, "    - %s\n", e)
		}
	}
	_, err := fmt.Fprintf(w, "\nOpen recommendations save an estimated %s a month.\n", usd(r.GetMonthlySavingsUsd(), false))
	return err
}
