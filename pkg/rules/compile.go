package rules

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"text/template"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"
)

// Hidden variables the baseline macros expand to.
const (
	varMean     = "_baseline_mean"
	varZ        = "_baseline_z"
	varHourMean = "_baseline_tod_mean"
	varHourZ    = "_baseline_tod_z"
)

// templateFuncs are the helpers annotation templates may call besides text/template's own.
var templateFuncs = template.FuncMap{
	"mul100": func(x float64) float64 { return x * 100 },
}

// Compiled is a validated rule with its checked program and parsed templates.
type Compiled struct {
	Rule        Rule
	prg         cel.Program
	params      interpreter.Activation
	annotations map[string]*template.Template
}

// Options configure compilation.
type Options struct {
	// Channels are the notification channels a rule may name.
	Channels []string
}

// envs holds one CEL environment per scope, built once.
var envs = func() map[Scope]*cel.Env {
	out := make(map[Scope]*cel.Env)
	for _, s := range []Scope{ScopeNode, ScopePool, ScopeFleet} {
		env, err := newEnv(s)
		if err != nil {
			panic(fmt.Sprintf("rules: CEL environment for scope %s: %v", s, err))
		}
		out[s] = env
	}
	return out
}()

func newEnv(s Scope) (*cel.Env, error) {
	opts := []cel.EnvOption{
		ext.NativeTypes(reflect.TypeFor[Node](), reflect.TypeFor[Pool](), reflect.TypeFor[Fleet](),
			reflect.TypeFor[Host](), reflect.TypeFor[DSPy](), reflect.TypeFor[Logs](), reflect.TypeFor[Security](), ext.ParseStructTags(true)),
		cel.CrossTypeNumericComparisons(true),
		cel.ParserExpressionSizeLimit(MaxConditionBytes),
		cel.Variable("fleet", cel.ObjectType("rules.Fleet")),
		cel.Variable("params", cel.MapType(cel.StringType, cel.DoubleType)),
		cel.Variable(varMean, cel.MapType(cel.StringType, cel.DoubleType)),
		cel.Variable(varZ, cel.MapType(cel.StringType, cel.DoubleType)),
		cel.Variable(varHourMean, cel.MapType(cel.StringType, cel.DoubleType)),
		cel.Variable(varHourZ, cel.MapType(cel.StringType, cel.DoubleType)),
		cel.Macros(baselineMacro("baseline", varMean, BaselineMetrics()), baselineMacro("zscore", varZ, BaselineMetrics()),
			baselineMacro("baseline_tod", varHourMean, HourMetrics()), baselineMacro("zscore_tod", varHourZ, HourMetrics())),
	}
	if s == ScopeNode || s == ScopePool {
		opts = append(opts, cel.Variable("pool", cel.ObjectType("rules.Pool")))
	}
	if s == ScopeNode {
		opts = append(opts, cel.Variable("node", cel.ObjectType("rules.Node")))
	}
	return cel.NewEnv(opts...)
}

// baselineMacro expands fn("metric") to a lookup of the metric in the hidden map v, checking at
// compile time that metric is one of metrics.
func baselineMacro(fn, v string, metrics []string) cel.Macro {
	return cel.GlobalMacro(fn, 1, func(eh cel.MacroExprFactory, _ ast.Expr, args []ast.Expr) (ast.Expr, *common.Error) {
		arg := args[0]
		if arg.Kind() != ast.LiteralKind {
			return nil, eh.NewError(arg.ID(), fmt.Sprintf("%s takes a quoted metric name, one of %s", fn, strings.Join(metrics, ", ")))
		}
		name, ok := arg.AsLiteral().(types.String)
		if !ok || !slices.Contains(metrics, string(name)) {
			return nil, eh.NewError(arg.ID(), fmt.Sprintf("%s: unknown metric %v; one of %s", fn, arg.AsLiteral(), strings.Join(metrics, ", ")))
		}
		return eh.NewCall(operators.Index, eh.NewIdent(v), eh.NewLiteral(name)), nil
	})
}

// Compile validates r, compiles and type-checks its condition (which must be boolean) and parses
// its annotation templates. Errors wrap ErrInvalid and name the field; a condition error carries
// the compiler's message with line and column.
func Compile(r Rule, o Options) (*Compiled, error) {
	if err := r.validateFields(o.Channels); err != nil {
		return nil, err
	}
	env := envs[r.Scope]
	checked, iss := env.Compile(r.Condition)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("%w: condition: %s", ErrInvalid, iss.Err())
	}
	if !checked.OutputType().IsExactType(types.BoolType) {
		return nil, fmt.Errorf("%w: condition: ERROR: <input>:1:1: the condition is %s, not bool; compare it, e.g. (%s) > 0",
			ErrInvalid, checked.OutputType(), truncate(r.Condition))
	}
	if err := checkCost(env, checked, r); err != nil {
		return nil, err
	}
	prg, err := env.Program(checked, cel.CostLimit(MaxEvalCost), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, fmt.Errorf("%w: condition: %v", ErrInvalid, err)
	}
	params, err := interpreter.NewActivation(map[string]any{"params": paramsOf(r)})
	if err != nil {
		return nil, fmt.Errorf("%w: params: %v", ErrInvalid, err)
	}
	c := &Compiled{Rule: r, prg: prg, params: params, annotations: make(map[string]*template.Template, len(r.Annotations))}
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(r.Annotations)) {
		t, err := template.New(k).Option("missingkey=error").Funcs(templateFuncs).Parse(r.Annotations[k])
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: annotations.%s: %v", ErrInvalid, k, err))
			continue
		}
		c.annotations[k] = t
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}
