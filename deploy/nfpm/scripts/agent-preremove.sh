#!/bin/sh
# dspyfleet-agent: stops and disables the unit when the package is removed (deb: remove,
# rpm: 0 packages left), not on upgrade. The user, /var/lib/dspyfleet-agent and /etc/dspyfleet stay.
set -e

case "$1" in
  remove | 0)
    if [ -d /run/systemd/system ]; then
      systemctl disable --now dspyfleet-agent.service || true
    fi
    ;;
esac
