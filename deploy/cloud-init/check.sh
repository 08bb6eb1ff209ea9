#!/usr/bin/env bash
# Checks the cloud-init templates: `cloud-init schema` validates each against cloud-init's own
# schema (cloud-init is installed with apt-get when missing), unknown top-level keys are refused,
# and the agent settings each writes are checked by `agent validate`, the parser the agent runs.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v cloud-init >/dev/null; then
  echo "cloud-init missing: installing it for its schema validator" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cloud-init >/dev/null
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/agent" ./cmd/dspyfleet-agent
for f in deploy/cloud-init/*.yaml; do
  cloud-init schema --config-file "$f"
  # cloud-init 22.4's schema lets unknown top-level keys pass; refuse them here with its own list
  # of module keys, then take the content written to /etc/dspyfleet/agent.yaml. The system Python
  # has cloud-init's modules and PyYAML.
  /usr/bin/python3 - "$f" >"$tmp/agent.yaml" <<'PY'
import sys, yaml
from cloudinit.config.schema import get_schema
schema = get_schema()
known = set()
for ref in schema["allOf"]:
    known |= set(schema["$defs"][ref["$ref"].split("/")[-1]].get("properties", {}))
doc = yaml.safe_load(open(sys.argv[1]))
unknown = sorted(set(doc) - known)
if unknown:
    sys.exit(f"{sys.argv[1]}: unknown cloud-config keys {unknown}")
files = [w for w in doc["write_files"] if w["path"] == "/etc/dspyfleet/agent.yaml"]
if len(files) != 1:
    sys.exit(f"{sys.argv[1]}: want one write_files entry for /etc/dspyfleet/agent.yaml, got {len(files)}")
sys.stdout.write(files[0]["content"])
PY
  "$tmp/agent" validate --config "$tmp/agent.yaml"
done
