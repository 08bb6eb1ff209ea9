#!/usr/bin/env bash
# Checks that the client installs with pip from the repository (pip install ./contrib/python) and
# that the installed package is the one in the tree. Offline: Debian's python3 with its pip,
# setuptools and wheel (installed with apt-get when missing) builds it without build isolation.
set -euo pipefail
cd "$(dirname "$0")"

py=/usr/bin/python3
if ! "$py" -c 'import setuptools, wheel, pip' 2>/dev/null; then
  echo "pip, setuptools or wheel missing for $py: installing them with apt-get" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip python3-setuptools python3-wheel >/dev/null
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp" build ./*.egg-info' EXIT
PIP_ROOT_USER_ACTION=ignore "$py" -m pip install -q --no-build-isolation --no-deps --target "$tmp/site" .
want="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' dspyfleet/__init__.py)"
got="$(cd "$tmp" && PYTHONPATH="$tmp/site" "$py" -c 'import dspyfleet; print(dspyfleet.__version__)')"
meta="$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)"
if [[ "$got" != "$want" || "$meta" != "$want" ]]; then
  echo "installed dspyfleet $got, pyproject.toml says $meta, the tree has $want" >&2
  exit 1
fi
echo "pip install ./contrib/python: dspyfleet $got installed"
