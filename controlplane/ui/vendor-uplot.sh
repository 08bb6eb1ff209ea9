#!/bin/sh
# Reproduces static/vendor/ from the pinned uPlot npm package. npm fetches the tarball into
# its cache once; later runs work offline from the cache (npm --offline). The tarball's
# integrity is checked against the pin before anything is copied.
#   go generate ./controlplane/ui
set -eu
version=1.6.32
integrity=sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm pack --silent --prefer-offline "uplot@$version" >/dev/null
got="sha512-$(openssl dgst -sha512 -binary "uplot-$version.tgz" | base64 -w0)"
if [ "$got" != "$integrity" ]; then
	echo "uplot-$version.tgz has integrity $got, want $integrity" >&2
	exit 1
fi
tar xzf "uplot-$version.tgz"
out="$here/static/vendor"
cp package/dist/uPlot.iife.min.js package/dist/uPlot.min.css "$out/"
cp package/LICENSE "$out/uPlot.LICENSE"
echo "uPlot $version" >"$out/VERSION"
