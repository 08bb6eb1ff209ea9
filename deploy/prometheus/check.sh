#!/usr/bin/env bash
# Checks what dspyfleet gives Prometheus and Grafana: the rules under deploy/prometheus with
# `promtool check rules` and their unit tests with `promtool test rules`; the /metrics of a real
# control plane and of a real agent with `promtool check metrics` (base units, naming); and the
# Grafana dashboard under deploy/grafana: valid JSON, every panel queried, and every metric it
# or the rules name exported by the control plane (scraped, or declared in its code) or
# recorded by the rules. promtool comes
# from Debian's prometheus package, installed with apt-get when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v promtool >/dev/null; then
  echo "promtool missing: installing Debian's prometheus package for it" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null
fi
promtool --version | head -1

(cd deploy/prometheus && promtool check rules dspyfleet.rules.yml && promtool test rules dspyfleet.rules.test.yml)

tmp="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
go build -o "$tmp/controlplane" ./cmd/dspyfleet-controlplane
go build -o "$tmp/agent" ./cmd/dspyfleet-agent
go build -o "$tmp/fleetctl" ./cmd/fleetctl

# wait_for FILE PATTERN: the first line of FILE matching PATTERN, within 60 s.
wait_for() {
  for _ in $(seq 600); do
    if line="$(grep -m1 -E "$2" "$1")"; then
      echo "$line"
      return 0
    fi
    sleep 0.1
  done
  echo "timed out waiting for /$2/ in $1:" >&2
  cat "$1" >&2
  return 1
}

"$tmp/controlplane" --dev --grpc-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --data-dir "$tmp/cp" --dev-intake-listen "" >"$tmp/cp.log" 2>&1 &
pids+=($!)
serving="$(wait_for "$tmp/cp.log" 'msg="control plane serving"')"
grpc="$(sed -E 's/.* grpc=([^ ]+).*/\1/' <<<"$serving")"
http="$(sed -E 's/.* http=([^ ]+).*/\1/' <<<"$serving")"
"$tmp/agent" --server "$grpc" --node-id promcheck --state-dir "$tmp/agent-state" --intake-listen 127.0.0.1:0 \
  --interval 200ms --hourly-price 0.5 --metrics-listen 127.0.0.1:0 >"$tmp/agent.log" 2>&1 &
pids+=($!)
agentm="$(wait_for "$tmp/agent.log" 'msg="agent metrics listening"' | sed -E 's/.* addr=([^ ]+).*/\1/')"
intake="$(wait_for "$tmp/agent.log" 'msg="request intake listening"' | sed -E 's/.*addrs=tcp:([^ ,]+).*/\1/')"
wait_for "$tmp/agent.log" 'msg="connected to control plane"' >/dev/null
# Traffic, a price and a budget, so every series family the control plane exports is present.
printf '%s\n' '{"program": "qa", "model": "m", "latency_ms": 120, "input_tokens": 100, "output_tokens": 20, "cache_hit": false}' \
  '{"program": "qa", "model": "m", "latency_ms": 3, "cache_hit": true}' \
  '{"program": "qa", "model": "m", "latency_ms": 900, "error": true}' |
  curl -fsS -o /dev/null --data-binary @- "http://$intake/v1/requests"
"$tmp/fleetctl" --addr "$grpc" cost budget set promcheck --period daily --limit 10 >/dev/null
for _ in $(seq 100); do
  curl -fsS "http://$http/metrics" >"$tmp/cp.metrics"
  grep -q '^dspyfleet_dspy_request_duration_seconds_count{pool="default"} 3' "$tmp/cp.metrics" &&
    grep -q '^dspyfleet_budget_used_ratio' "$tmp/cp.metrics" && break
  sleep 0.1
done

curl -fsS "http://$agentm/metrics" >"$tmp/agent.metrics"
echo "promtool check metrics: the control plane's /metrics ($(grep -c '^dspyfleet_' "$tmp/cp.metrics") dspyfleet series)"
promtool check metrics <"$tmp/cp.metrics"
echo "promtool check metrics: the agent's /metrics ($(grep -c '^dspyfleet_' "$tmp/agent.metrics") dspyfleet series)"
promtool check metrics <"$tmp/agent.metrics"

python3 - "$tmp/cp.metrics" deploy/grafana/dspyfleet.json deploy/prometheus/dspyfleet.rules.yml <<'PY'
import json, re, sys
metrics, dashboard, rules = sys.argv[1:4]
exported = set()
for line in open(metrics):
    m = re.match(r"# TYPE (\S+) (\S+)", line)
    if m:
        exported.add(m.group(1))
recorded = set(re.findall(r"record: (\S+)", open(rules).read()))
# A vector with no sample yet (a counter of errors that never happened) has no TYPE line: the
# names the control plane's code declares count too.
import glob
for path in glob.glob("controlplane/**/*.go", recursive=True):
    if not path.endswith("_test.go"):
        exported |= set(re.findall(r'"(dspyfleet_[a-z0-9_]+)"', open(path).read()))
d = json.load(open(dashboard))
for key in ("title", "uid", "schemaVersion", "panels"):
    if key not in d:
        sys.exit(f"{dashboard}: no {key}")
problems, exprs = [], []
for p in d["panels"]:
    targets = [t.get("expr", "") for t in p.get("targets", [])]
    if not p.get("title") or not p.get("type") or not targets or not all(targets):
        problems.append(f"panel {p.get('id')}: needs a title, a type and a query in every target")
    exprs += targets
exprs += re.findall(r"expr: (.+)", open(rules).read())
for e in exprs:
    for name in set(re.findall(r"\b(dspyfleet(?::[a-z0-9_]+)+|dspyfleet_[a-z0-9_]+)", e)):
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if name not in exported and base not in exported and name not in recorded:
            problems.append(f"{name} (in {e!r}) is neither exported by the control plane nor recorded by the rules")
if problems:
    sys.exit("\n".join(problems))
print(f"{dashboard}: {len(d['panels'])} panels; every metric of the dashboard and the rules is exported or recorded")
PY
