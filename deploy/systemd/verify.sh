#!/usr/bin/env bash
# Verifies the systemd units with systemd-analyze, without a running systemd: the units are
# copied with ExecStart paths pointing at freshly built binaries (verify checks that each command
# exists and is executable), `systemd-analyze verify` must print nothing (it exits 0 on unknown
# keys, so any output fails), and `systemd-analyze security --offline=true` must rate each unit at
# or under its exposure threshold. Installs systemd with apt-get when systemd-analyze is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v systemd-analyze >/dev/null; then
  echo "systemd-analyze missing: installing systemd" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/dspyfleet-controlplane" ./cmd/dspyfleet-controlplane
go build -o "$tmp/dspyfleet-agent" ./cmd/dspyfleet-agent
for unit in deploy/systemd/*.service; do
  sed "s|/usr/bin/dspyfleet-|$tmp/dspyfleet-|g" "$unit" >"$tmp/$(basename "$unit")"
done

out="$(systemd-analyze verify "$tmp"/*.service 2>&1)" || { echo "$out" >&2; exit 1; }
if [ -n "$out" ]; then
  echo "systemd-analyze verify reported problems:" >&2
  echo "$out" >&2
  exit 1
fi
echo "systemd-analyze verify: ok"

# Exposure thresholds (0-100, ten times systemd's 0.0-10.0 score): the control plane is tightly
# confined; the agent keeps what its actions need (see docs/deployment.md).
for pair in dspyfleet-controlplane:20 dspyfleet-agent:60; do
  unit="${pair%%:*}.service" threshold="${pair##*:}"
  systemd-analyze security --offline=true --threshold="$threshold" "$tmp/$unit" | tail -1
done
