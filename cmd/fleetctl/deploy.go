package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// deployUsage is the usage of the deploy command group.
const deployUsage = `Usage: fleetctl deploy <start|status|watch|pause|resume|abort> [flags] [args]

Commands:
  start POOL VERSION   Deploy VERSION to POOL: rolling, canary or blue_green.
  status [ID]          List deployments, or show one with its per-node progress.
  watch ID             Print a deployment on every change until it ends.
  pause ID             Start no further nodes; nodes in progress finish.
  resume ID            Continue a paused deployment.
  abort ID             Stop and undo routing changes: roll a canary back, switch a blue-green
                       deployment back, undrain nodes a rolling deploy drained.

Run "fleetctl deploy <command> -h" for a command's flags.
`

// deployStartUsage is the usage of "deploy start".
const deployStartUsage = `Usage: fleetctl deploy start POOL VERSION [flags]

Start a deployment of VERSION (handed to each agent's deploy hook) to POOL. The control plane
refuses a second deployment to a pool that has one in progress. With -o json, the
StartDeploymentResponse.

Flags:
  --strategy NAME                 rolling (default), canary or blue_green
  --batch N                       nodes started together (default 1)
  --max-unavailable N             most nodes out of routing at once (default the batch)
  --canary-nodes N                canary: nodes that get VERSION first (default 1)
  --canary-percent P,P,...        canary: traffic share per step, each in (0, 100), e.g. 10,50
  --analysis-window DURATION      canary: how long each step is judged (default 5m)
  --max-error-rate-increase F     canary: fail above the baseline's error rate + F (default 0.05)
  --max-p95-ratio F               canary: fail above F × the baseline's p95 latency (default 1.5)
  --min-requests N                canary: requests needed before a step is judged (default 20)
  --previous-version V            rollback target for nodes without a recorded deploy
  --idle-nodes ID,ID,...          blue_green: the idle set (default the pool's drained nodes)
  --keep-old DURATION             blue_green: how long the old set stays ready (default 15m)
  --drain-timeout DURATION        longest wait for a node to drain (default 5m)
  --reason TEXT                   recorded with the deployment
  --wait                          follow the deployment until it ends; exit 1 unless it succeeded

` + globalFlagsText

// deployStatusUsage is the usage of "deploy status".
const deployStatusUsage = `Usage: fleetctl deploy status [ID] [--pool POOL]

Without ID, list deployments, newest first (of POOL only, with --pool). With ID, show the
deployment, its per-node progress and its canary analyses.

` + globalFlagsText

// deployIDUsage is the usage of "deploy watch|pause|resume|abort".
const deployIDUsage = `Usage: fleetctl deploy <watch|pause|resume|abort> ID [--reason TEXT] [--etag ETAG]

watch prints the deployment on every change until it ends. pause, resume and abort change it
and print it; --reason is recorded with pause and abort. With --etag (the "Etag:" line of
"fleetctl deploy status ID"), pause, resume and abort change it only if it has not changed
since; when it has, nothing changes and the error says how to retry.

` + globalFlagsText

// parseDeploy parses "fleetctl deploy <command>"; args follow "deploy".
func parseDeploy(g *globals, args []string) (command, error) {
	fs := newFlagSet("deploy", g)
	if err := fs.Parse(args); err != nil {
		return nil, &usageError{usage: deployUsage, err: err}
	}
	args = fs.Args()
	if len(args) == 0 {
		return nil, usageErrorf(deployUsage, "deploy: missing command")
	}
	switch args[0] {
	case "start":
		return parseDeployStart(g, args[1:])
	case "status":
		fs := newFlagSet("deploy status", g)
		pool := fs.String("pool", "", "")
		pos, err := parseCommand(fs, g, args[1:], deployStatusUsage)
		if err != nil {
			return nil, err
		}
		if len(pos) > 1 {
			return nil, usageErrorf(deployStatusUsage, "deploy status: unexpected argument %q", pos[1])
		}
		return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
			ctx, cancel := withTimeout(ctx, g.timeout)
			defer cancel()
			mc := fleetv1.NewMaintenanceServiceClient(conn)
			if len(pos) == 1 {
				resp, err := mc.GetDeployment(ctx, &fleetv1.GetDeploymentRequest{Id: pos[0]})
				if err != nil {
					return err
				}
				return writeDeploymentOut(stdout, g, resp.GetDeployment())
			}
			resp, err := listAll(ctx, &fleetv1.ListDeploymentsRequest{Pool: *pool}, 0, mc.ListDeployments)
			if err != nil {
				return err
			}
			if g.output.structured() {
				return g.output.write(stdout, jsonIndented, resp)
			}
			return writeDeploymentList(stdout, resp.GetDeployments(), time.Now())
		}, nil
	case "watch", "pause", "resume", "abort":
		verb := args[0]
		fs := newFlagSet("deploy "+verb, g)
		reason := fs.String("reason", "", "")
		etag := fs.String("etag", "", "")
		pos, err := parseCommand(fs, g, args[1:], deployIDUsage)
		if err != nil {
			return nil, err
		}
		id, err := onlyArg(pos, deployIDUsage, "deploy "+verb, "deployment id")
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
			mc := fleetv1.NewMaintenanceServiceClient(conn)
			if verb == "watch" {
				return watchDeployment(ctx, mc, id, g, stdout)
			}
			ctx, cancel := withTimeout(ctx, g.timeout)
			defer cancel()
			var d *fleetv1.Deployment
			switch verb {
			case "pause":
				resp, err := mc.PauseDeployment(ctx, &fleetv1.PauseDeploymentRequest{Id: id, Reason: *reason, Etag: *etag})
				if err != nil {
					return err
				}
				d = resp.GetDeployment()
			case "resume":
				resp, err := mc.ResumeDeployment(ctx, &fleetv1.ResumeDeploymentRequest{Id: id, Etag: *etag})
				if err != nil {
					return err
				}
				d = resp.GetDeployment()
			default:
				resp, err := mc.AbortDeployment(ctx, &fleetv1.AbortDeploymentRequest{Id: id, Reason: *reason, Etag: *etag})
				if err != nil {
					return err
				}
				d = resp.GetDeployment()
			}
			return writeDeploymentOut(stdout, g, d)
		}, nil
	}
	return nil, usageErrorf(deployUsage, "deploy: unknown command %q", args[0])
}

// parseDeployStart parses "deploy start".
func parseDeployStart(g *globals, args []string) (command, error) {
	spec, wait, err := parseDeploySpec(g, args)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
		mc := fleetv1.NewMaintenanceServiceClient(conn)
		sctx, cancel := withTimeout(ctx, g.timeout)
		resp, err := mc.StartDeployment(sctx, &fleetv1.StartDeploymentRequest{Spec: spec})
		cancel()
		if err != nil {
			return err
		}
		if !wait {
			return writeDeploymentOut(stdout, g, resp.GetDeployment())
		}
		return watchDeployment(ctx, mc, resp.GetDeployment().GetId(), g, stdout)
	}, nil
}

// parseDeploySpec parses the arguments of "deploy start" into the spec and --wait.
func parseDeploySpec(g *globals, args []string) (*fleetv1.DeploymentSpec, bool, error) {
	fs := newFlagSet("deploy start", g)
	strategy := fs.String("strategy", "rolling", "")
	batch := fs.Int("batch", 0, "")
	maxUnavailable := fs.Uint("max-unavailable", 0, "")
	canaryNodes := fs.Uint("canary-nodes", 0, "")
	percents := fs.String("canary-percent", "", "")
	window := fs.Duration("analysis-window", 0, "")
	errInc := fs.String("max-error-rate-increase", "", "")
	p95 := fs.String("max-p95-ratio", "", "")
	minReq := fs.String("min-requests", "", "")
	prev := fs.String("previous-version", "", "")
	idle := fs.String("idle-nodes", "", "")
	keepOld := fs.Duration("keep-old", 0, "")
	drain := fs.Duration("drain-timeout", 0, "")
	reason := fs.String("reason", "", "")
	wait := fs.Bool("wait", false, "")
	pos, err := parseCommand(fs, g, args, deployStartUsage)
	if err != nil {
		return nil, false, err
	}
	if len(pos) != 2 {
		return nil, false, usageErrorf(deployStartUsage, "deploy start: want POOL and VERSION, got %d arguments", len(pos))
	}
	spec := &fleetv1.DeploymentSpec{Pool: pos[0], Version: pos[1], MaxUnavailable: uint32(*maxUnavailable), CanaryNodes: uint32(*canaryNodes),
		PreviousVersion: *prev, Reason: *reason}
	switch *strategy {
	case "rolling":
		spec.Strategy = fleetv1.DeploymentStrategy_DEPLOYMENT_STRATEGY_ROLLING
	case "canary":
		spec.Strategy = fleetv1.DeploymentStrategy_DEPLOYMENT_STRATEGY_CANARY
	case "blue_green", "blue-green":
		spec.Strategy = fleetv1.DeploymentStrategy_DEPLOYMENT_STRATEGY_BLUE_GREEN
	default:
		return nil, false, usageErrorf(deployStartUsage, "deploy start: --strategy %q is not rolling, canary or blue_green", *strategy)
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "batch" {
			b := uint32(max(*batch, 0))
			spec.BatchSize = &b
		}
	})
	if *batch < 0 {
		return nil, false, usageErrorf(deployStartUsage, "deploy start: --batch %d must be at least 1", *batch)
	}
	if *percents != "" {
		for p := range strings.SplitSeq(*percents, ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
			if err != nil {
				return nil, false, usageErrorf(deployStartUsage, "deploy start: --canary-percent: %q is not a number", p)
			}
			spec.CanaryPercent = append(spec.CanaryPercent, v)
		}
	}
	for _, f := range []struct {
		name string
		raw  string
		dst  **float64
	}{{"max-error-rate-increase", *errInc, &spec.MaxErrorRateIncrease}, {"max-p95-ratio", *p95, &spec.MaxP95Ratio}} {
		if f.raw == "" {
			continue
		}
		v, err := strconv.ParseFloat(f.raw, 64)
		if err != nil {
			return nil, false, usageErrorf(deployStartUsage, "deploy start: --%s: %q is not a number", f.name, f.raw)
		}
		*f.dst = &v
	}
	if *minReq != "" {
		v, err := strconv.ParseUint(*minReq, 10, 32)
		if err != nil {
			return nil, false, usageErrorf(deployStartUsage, "deploy start: --min-requests: %q is not a whole number", *minReq)
		}
		n := uint32(v)
		spec.MinRequests = &n
	}
	if *idle != "" {
		spec.IdleNodes = strings.Split(*idle, ",")
	}
	for _, d := range []struct {
		v   time.Duration
		dst **durationpb.Duration
	}{{*window, &spec.AnalysisWindow}, {*keepOld, &spec.KeepOld}, {*drain, &spec.DrainTimeout}} {
		if d.v != 0 {
			*d.dst = durationpb.New(d.v)
		}
	}
	return spec, *wait, nil
}

// errDeploymentEnded is returned by watch when the deployment ended other than succeeded.
var errDeploymentEnded = errors.New("deployment did not succeed")

// watchDeployment prints the deployment on every change until it ends.
func watchDeployment(ctx context.Context, mc fleetv1.MaintenanceServiceClient, id string, g *globals, stdout io.Writer) error {
	stream, err := mc.WatchDeployment(ctx, &fleetv1.WatchDeploymentRequest{Id: id})
	if err != nil {
		return err
	}
	var last *fleetv1.Deployment
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		last = resp.GetDeployment()
		if g.output.structured() {
			if err := g.output.write(stdout, jsonCompact, resp); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(stdout, "%s  %s  %s  %s\n", time.Now().Format(time.TimeOnly), deploymentState(last), last.GetPhase(), progress(last))
	}
	if last.GetState() != fleetv1.DeploymentState_DEPLOYMENT_STATE_SUCCEEDED {
		return fmt.Errorf("%w: %s %s: %s", errDeploymentEnded, id, deploymentState(last), last.GetReason())
	}
	return nil
}

func writeDeploymentOut(w io.Writer, g *globals, d *fleetv1.Deployment) error {
	if g.output.structured() {
		return g.output.write(w, jsonIndented, d)
	}
	return writeDeployment(w, d, time.Now())
}

// deploymentState is a state's short name.
func deploymentState(d *fleetv1.Deployment) string {
	return strings.ToLower(strings.TrimPrefix(d.GetState().String(), "DEPLOYMENT_STATE_"))
}

// progress counts the nodes that finished.
func progress(d *fleetv1.Deployment) string {
	done := 0
	for _, n := range d.GetNodes() {
		switch n.GetPhase() {
		case "done", "ready", "retired", "rolled_back":
			done++
		}
	}
	return fmt.Sprintf("%d/%d nodes", done, len(d.GetNodes()))
}

// writeDeploymentList prints deployments as a table.
func writeDeploymentList(w io.Writer, list []*fleetv1.Deployment, now time.Time) error {
	if len(list) == 0 {
		fmt.Fprintln(w, "no deployments; start one with: fleetctl deploy start POOL VERSION")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "ID\tPOOL\tVERSION\tSTRATEGY\tSTATE\tPHASE\tPROGRESS\tCREATED")
	for _, d := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.GetId(), d.GetSpec().GetPool(), d.GetSpec().GetVersion(),
			strings.ToLower(strings.TrimPrefix(d.GetSpec().GetStrategy().String(), "DEPLOYMENT_STRATEGY_")),
			deploymentState(d), d.GetPhase(), progress(d), stamp(d.GetCreated(), now))
	}
	return tw.Flush()
}

// writeDeployment prints one deployment with its nodes and analyses.
func writeDeployment(w io.Writer, d *fleetv1.Deployment, now time.Time) error {
	s := d.GetSpec()
	fmt.Fprintf(w, "Deployment %s: %s to pool %s, %s\n", d.GetId(), s.GetVersion(), s.GetPool(),
		strings.ToLower(strings.TrimPrefix(s.GetStrategy().String(), "DEPLOYMENT_STRATEGY_")))
	fmt.Fprintf(w, "  State:    %s, %s (%s)\n", deploymentState(d), d.GetPhase(), progress(d))
	if d.GetReason() != "" {
		fmt.Fprintf(w, "  Reason:   %s\n", d.GetReason())
	}
	fmt.Fprintf(w, "  Created:  %s by %s\n", stamp(d.GetCreated(), now), d.GetRequestedBy())
	if d.GetFinished() != nil {
		fmt.Fprintf(w, "  Finished: %s\n", stamp(d.GetFinished(), now))
	}
	if d.GetEtag() != "" {
		fmt.Fprintf(w, "  Etag:     %s\n", d.GetEtag())
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tPHASE\tPREVIOUS\tDETAIL")
	for _, n := range d.GetNodes() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", n.GetNodeId(), n.GetRole(), n.GetPhase(), orDash(n.GetPreviousVersion()), oneLine(n.GetDetail()))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, a := range d.GetAnalyses() {
		verdict := "failed"
		if a.GetPassed() {
			verdict = "passed"
		}
		fmt.Fprintf(w, "\nCanary step %d (%g%%) %s: canary %d requests, %d errors, p95 %.1fms; baseline %d requests, %d errors, p95 %.1fms\n  %s\n",
			a.GetStep(), a.GetPercent(), verdict, a.GetCanaryRequests(), a.GetCanaryErrors(), a.GetCanaryP95Ms(),
			a.GetBaselineRequests(), a.GetBaselineErrors(), a.GetBaselineP95Ms(), a.GetReason())
	}
	return nil
}
