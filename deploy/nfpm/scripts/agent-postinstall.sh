#!/bin/sh
# dspyfleet-agent: creates the dspyfleet system user and /var/lib/dspyfleet-agent, lets that user read
# /etc/dspyfleet, and tells systemd about the unit. Safe to run again (upgrades); it never enables
# or starts anything: `systemctl enable --now dspyfleet-agent` does.
set -e

if ! getent group dspyfleet >/dev/null; then
  groupadd --system dspyfleet
fi
if ! getent passwd dspyfleet >/dev/null; then
  useradd --system --gid dspyfleet --home-dir /var/lib/dspyfleet --no-create-home \
    --shell /usr/sbin/nologin --comment "dspyfleet daemons" dspyfleet
fi

install -d -m 0700 -o dspyfleet -g dspyfleet /var/lib/dspyfleet-agent
install -d -m 0750 -o root -g dspyfleet /etc/dspyfleet
chgrp dspyfleet /etc/dspyfleet/agent.yaml
chmod 0640 /etc/dspyfleet/agent.yaml

if [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
fi
