#!/usr/bin/env bash
# Installs the Debian packages `npm run bench` compares against, on top of what
# scripts/ci-install.sh installs for the tests (the S3 cases start the same Ceph radosgw):
# rclone and awscli (`aws s3 cp`) for the S3 cases, restic for the sub-file dedup case, and
# coreutils, tar and gzip (cp, the tar.gz per checkpoint of the original product), openssl
# (the hashing floor). Benchmarks only: CI runs the tests, not this.
# Idempotent and quiet: nothing is fetched when everything is there; apt's output is shown only
# if it fails. Run as root, or with sudo available.
set -euo pipefail

packages=(
  rclone awscli                 # S3 baselines: rclone copyto, aws s3 cp
  restic                        # content-defined chunking, for the sub-file dedup case
  coreutils tar gzip openssl    # cp, tar.gz per checkpoint, openssl dgst -sha256
  util-linux                    # setpriv: the benchmark's radosgw dies with the benchmark
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
[ "${#missing[@]}" -eq 0 ] && exit 0

as_root=()
[ "$(id -u)" -ne 0 ] && as_root=(sudo)

echo "bench-install: installing ${missing[*]}" >&2
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! { "${as_root[@]}" apt-get update -qq && "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "bench-install: apt-get failed (above)" >&2
  exit 1
fi
