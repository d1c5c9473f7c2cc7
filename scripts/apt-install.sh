#!/usr/bin/env bash
# Installs the Debian packages given after a name (used in messages) that are not installed yet:
#   bash scripts/apt-install.sh ci-install chromium git ...
# Idempotent and quiet: nothing is fetched when everything is there; apt's output is shown only
# if it fails. Run as root, or with sudo available. Shared by ci-install.sh and bench-install.sh.
set -euo pipefail

name="$1"
shift

missing=()
for package in "$@"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
[ "${#missing[@]}" -eq 0 ] && exit 0

as_root=()
[ "$(id -u)" -ne 0 ] && as_root=(sudo)

echo "$name: installing ${missing[*]}" >&2
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! { "${as_root[@]}" apt-get update -qq && "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "$name: apt-get failed (above)" >&2
  exit 1
fi
