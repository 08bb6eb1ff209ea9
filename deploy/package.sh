#!/usr/bin/env bash
# Builds the .deb and .rpm packages of the control plane and the agent into dist/ with nfpm (pinned
# in tools/go.mod), then lists what each holds. VERSION (default 0.0.0~dev) and GOARCH (default
# the host's) choose the version and architecture.
set -euo pipefail
cd "$(dirname "$0")/.."

export VERSION="${VERSION:-0.0.0~dev}"
export GOARCH="${GOARCH:-$(go env GOARCH)}"
export ARCH="$GOARCH"
BUILD=dist/build
rm -rf "$BUILD" dist/*.deb dist/*.rpm
mkdir -p "$BUILD"
# grpcnotrace leaves out gRPC's golang.org/x/net/trace debug pages, which the daemons do not
# serve, to keep the agent within its 20 MiB resident budget (BENCHMARKS.md section 6).
tags=grpcnotrace
ldflags="-s -w -X github.com/dspyfleet/dspyfleet/internal/version.Version=$VERSION"
CGO_ENABLED=0 GOOS=linux go build -trimpath -tags "$tags" -ldflags "$ldflags" -o "$BUILD/dspyfleet-controlplane" ./cmd/dspyfleet-controlplane
CGO_ENABLED=0 GOOS=linux go build -trimpath -tags "$tags" -ldflags "$ldflags" -o "$BUILD/dspyfleet-agent" ./cmd/dspyfleet-agent
CGO_ENABLED=0 GOOS=linux go build -trimpath -tags "$tags" -ldflags "$ldflags" -o "$BUILD/fleetctl" ./cmd/fleetctl
for bin in "$BUILD/dspyfleet-controlplane --version" "$BUILD/dspyfleet-agent --version" "$BUILD/fleetctl version"; do
  out="$($bin)"
  case "$out" in
    *" $VERSION (revision "*) echo "$out" ;;
    *) echo "$bin printed \"$out\"; want version $VERSION" >&2; exit 1 ;;
  esac
done

for script in deploy/nfpm/scripts/*.sh; do
  sh -n "$script"
done
for pkg in controlplane agent; do
  for packager in deb rpm; do
    go tool -modfile=tools/go.mod nfpm package --config "deploy/nfpm/$pkg.yaml" --packager "$packager" --target dist/
  done
done

for deb in dist/*.deb; do
  echo "== $deb"
  dpkg-deb --info "$deb" | sed -n '/Package:/,$p'
  dpkg-deb --contents "$deb"
done
if ! command -v rpm >/dev/null; then
  echo "rpm missing: installing it to list the .rpm packages" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rpm >/dev/null
fi
for rpm in dist/*.rpm; do
  echo "== $rpm"
  rpm -qip "$rpm" | sed -n '1,/^Description/p'
  rpm -qlpv "$rpm"
  rpm -qp --scripts "$rpm" | grep -E '^(postinstall|preuninstall) scriptlet'
done
