#!/usr/bin/env bash
# Installs the Debian packages the tests need: Chromium for the page, PyTorch for the Python
# binding, and a throwaway single-node Ceph cluster (monitor,
# memstore OSD, radosgw; set up by test/servers/ceph.ts through python3-rados) is the S3 server of
# the storage tests, and setpriv (util-linux) ties every test server's life to the test run.
# Idempotent and quiet: nothing is fetched when everything is there; apt's output is shown only
# if it fails. Run as root (CI does), or with sudo available.
set -euo pipefail

packages=(
  ceph-mon ceph-osd radosgw ceph-common python3-rados uuid-runtime util-linux  # S3: radosgw
  chromium                                                                     # the web page tests
  python3 python3-venv python3-setuptools python3-wheel                        # the Python binding,
  python3-torch python3-numpy python3-matplotlib                               # tested with PyTorch
  git                                                                          # git capture tests
)

bash "$(dirname "$0")/apt-install.sh" ci-install "${packages[@]}"
