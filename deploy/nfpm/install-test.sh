#!/usr/bin/env bash
# Installs and removes the packages in dist/ (deploy/package.sh builds them) in a throwaway copy of
# this machine: an overlay of / in a private mount namespace, entered with chroot, so the install
# scripts really run (dpkg and rpm) and nothing reaches the host. Needs root, unshare and overlayfs.
# Checks: the dspyfleet user exists, the data directories and config have their owners and modes,
# the installed binaries accept the installed default configs, removal leaves data and settings.
set -euo pipefail
cd "$(dirname "$0")/../.."

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/upper" "$work/work" "$work/root"
cp dist/*.deb dist/*.rpm "$work/upper/" 2>/dev/null || true
ls dist/dspyfleet-agent_*.deb dist/dspyfleet-controlplane_*.deb dist/dspyfleet-agent-*.rpm dist/dspyfleet-controlplane-*.rpm >/dev/null

unshare --mount --propagation private bash -euo pipefail -c '
  work="$1"
  mount -t overlay overlay -o "lowerdir=/,upperdir=$work/upper,workdir=$work/work" "$work/root"
  mount --bind /dev "$work/root/dev"
  mount -t proc proc "$work/root/proc"
  mount -t tmpfs tmpfs "$work/root/run"
  chroot "$work/root" /bin/bash -euo pipefail -c "
    check() { # path owner:group mode
      got=\$(stat -c %U:%G:%a \"\$1\")
      [ \"\$got\" = \"\$2:\$3\" ] || { echo \"\$1 is \$got, want \$2:\$3\" >&2; exit 1; }
    }
    echo \"-- dpkg -i\"
    dpkg -i /dspyfleet-controlplane_*.deb /dspyfleet-agent_*.deb >/dev/null
    getent passwd dspyfleet | grep -q nologin
    check /var/lib/dspyfleet dspyfleet:dspyfleet 750
    check /var/lib/dspyfleet-agent dspyfleet:dspyfleet 700
    check /etc/dspyfleet root:dspyfleet 750
    check /etc/dspyfleet/controlplane.yaml root:dspyfleet 640
    check /etc/dspyfleet/agent.yaml root:dspyfleet 640
    setpriv --reuid dspyfleet --regid dspyfleet --init-groups dspyfleet-controlplane validate --config /etc/dspyfleet/controlplane.yaml
    setpriv --reuid dspyfleet --regid dspyfleet --init-groups dspyfleet-agent validate --config /etc/dspyfleet/agent.yaml
    fleetctl --help >/dev/null
    echo \"-- dpkg -i again (upgrade path: scripts run twice)\"
    dpkg -i /dspyfleet-agent_*.deb >/dev/null
    echo \"-- dpkg -r\"
    dpkg -r dspyfleet-agent dspyfleet-controlplane >/dev/null
    [ ! -e /usr/bin/dspyfleet-agent ] && [ -d /var/lib/dspyfleet-agent ] && [ -e /etc/dspyfleet/agent.yaml ]
    echo \"-- rpm -i\"
    rpm -i --nodeps /dspyfleet-agent-*.rpm /dspyfleet-controlplane-*.rpm
    check /etc/dspyfleet/agent.yaml root:dspyfleet 640
    dspyfleet-agent validate --config /etc/dspyfleet/agent.yaml
    rpm -e dspyfleet-agent dspyfleet-controlplane
    [ ! -e /usr/bin/dspyfleet-controlplane ]
    echo \"-- packages install and remove cleanly\"
  "
' _ "$work"
