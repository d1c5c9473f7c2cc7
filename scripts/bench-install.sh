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

bash "$(dirname "$0")/apt-install.sh" bench-install "${packages[@]}"
