#!/usr/bin/env bash
# Runs docs/deployment.md's "From one host to a fleet" walkthrough on one machine, with a Linux
# network namespace per host: a control plane host (10.77.0.1) with an Alertmanager, and two agent
# hosts (10.77.0.11, 10.77.0.12) on a bridge, mTLS and tokens made as the guide makes them, and
# only the flags it documents. It then kills one agent with SIGKILL and waits for the shipped
# NodeDown alert at the Alertmanager. Needs root, iproute2 and Debian's prometheus-alertmanager;
# CI (.ci/run) runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "walkthrough.sh creates network namespaces: run it as root" >&2; exit 1; }
am_bin=/usr/bin/prometheus-alertmanager
[ -x "$am_bin" ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus-alertmanager >/dev/null; }

tag="dsf$$"
work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for ns in cp a1 a2; do ip netns del "$tag-$ns" 2>/dev/null || true; done
  ip link del "$tag-br" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "walkthrough: $*" >&2
  for f in "$work"/*.log; do echo "--- $f" >&2; tail -20 "$f" >&2; done
  exit 1
}

echo "== binaries"
go build -o "$work/controlplane" ./cmd/dspyfleet-controlplane
go build -o "$work/agent" ./cmd/dspyfleet-agent
go build -o "$work/fleetctl" ./cmd/fleetctl
fleetctl="$work/fleetctl"

echo "== hosts: network namespaces on a bridge"
ip link add "$tag-br" type bridge
ip addr add 10.77.0.254/24 dev "$tag-br"
ip link set "$tag-br" up
i=0
for host in cp:1 a1:11 a2:12; do
  ns="$tag-${host%%:*}"
  ip netns add "$ns"
  ip link add "$tag-v$i" type veth peer name "$tag-p$i"
  ip link set "$tag-p$i" netns "$ns"
  ip link set "$tag-v$i" master "$tag-br" up
  ip -n "$ns" addr add "10.77.0.${host##*:}/24" dev "$tag-p$i"
  ip -n "$ns" link set "$tag-p$i" up
  ip -n "$ns" link set lo up
  i=$((i + 1))
done
in_ns() { local ns="$tag-$1"; shift; ip netns exec "$ns" "$@"; }

echo "== certificates and tokens (the guide's steps 1 and 2)"
mkdir -p "$work/pki"
(cd "$work/pki" && umask 077 &&
  "$fleetctl" tls ca create >/dev/null &&
  "$fleetctl" tls cert create --server --ip 10.77.0.1 >/dev/null &&
  "$fleetctl" tls cert create --agent a1 >/dev/null &&
  "$fleetctl" tls cert create --agent a2 >/dev/null &&
  for t in agent admin; do head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$t.token"; done)
for f in "$work"/pki/*-key.pem "$work"/pki/*.token; do
  [ "$(stat -c %a "$f")" = 600 ] || fail "$f is not 0600"
done

echo "== Alertmanager on the control plane host"
printf 'route: {receiver: none, group_wait: 1s, group_interval: 1s}\nreceivers: [{name: none}]\n' >"$work/am.yml"
ip netns exec "$tag-cp" "$am_bin" --config.file="$work/am.yml" --storage.path="$work/am" \
  --web.listen-address=10.77.0.1:9093 --cluster.listen-address= --log.level=warn >"$work/am.log" 2>&1 &
pids+=($!)

echo "== control plane (step 3)"
ip netns exec "$tag-cp" "$work/controlplane" --grpc-listen 10.77.0.1:7070 --http-listen 10.77.0.1:7071 --data-dir "$work/cp" \
  --tls-cert "$work/pki/dspyfleet-server.pem" --tls-key "$work/pki/dspyfleet-server-key.pem" \
  --client-ca "$work/pki/dspyfleet-ca.pem" \
  --agent-token-file "$work/pki/agent.token" --admin-token-file "$work/pki/admin.token" \
  --alertmanager-url http://10.77.0.1:9093 >"$work/cp.log" 2>&1 &
pids+=($!)

echo "== agents on their hosts (step 4)"
for a in a1 a2; do
  ip netns exec "$tag-$a" "$work/agent" --server 10.77.0.1:7070 --node-id "$a" --pool web --state-dir "$work/$a" \
    --interval 1s --ca-file "$work/pki/dspyfleet-ca.pem" --token-file "$work/pki/agent.token" \
    --cert-file "$work/pki/dspyfleet-agent-$a.pem" --key-file "$work/pki/dspyfleet-agent-$a-key.pem" >"$work/$a.log" 2>&1 &
  pids+=($!)
  eval "pid_$a=$!"
done

echo "== the operator's view from the control plane host (step 5)"
export DSPYFLEET_ADDR=10.77.0.1:7070 DSPYFLEET_CACERT="$work/pki/dspyfleet-ca.pem"
ready=""
for _ in $(seq 300); do
  if out="$(in_ns cp "$fleetctl" --token-file "$work/pki/admin.token" nodes list --state ready 2>/dev/null)" &&
    grep -q '^a1 ' <<<"$out" && grep -q '^a2 ' <<<"$out"; then
    ready=1
    break
  fi
  sleep 0.1
done
[ -n "$ready" ] || fail "a1 and a2 not both ready over mTLS"
echo "$out"

echo "== kill -9 the agent on a2: NodeDown reaches the Alertmanager"
# shellcheck disable=SC2154
disown "$pid_a2"
kill -9 "$pid_a2"
for _ in $(seq 600); do
  if in_ns cp curl -fsS "http://10.77.0.1:9093/api/v2/alerts?filter=alertname%3D%22NodeDown%22" 2>/dev/null | grep -q '"node":"a2"'; then
    echo "NodeDown for a2 is active at the Alertmanager"
    grep -m1 'msg="alert rules notify"' "$work/cp.log" | sed -E 's/.*msg="alert rules notify"/startup: alert rules notify/' | cut -c1-160
    exit 0
  fi
  sleep 0.1
done
fail "no NodeDown alert for a2 at the Alertmanager within 60 s"
