#!/usr/bin/env bash
# Installs what the S3 tests need to start their own one-node Ceph RADOS
# Gateway (packages/adapter-s3-document/src/fixtures/ceph-rgw.sh): Debian's
# radosgw, ceph-mon and ceph-osd packages, and curl, which that script polls
# the gateway with. Installs only what is missing; uses sudo when not root.
# .ci/run and the `s3` and `installs` jobs of .github/workflows/ci.yml call it.
#
#   bash scripts/install-ceph.sh
set -euo pipefail

missing=()
for command in radosgw radosgw-admin ceph-mon ceph-osd; do
  command -v "$command" >/dev/null 2>&1 || missing+=("$command")
done
packages=()
[[ ${#missing[@]} -gt 0 ]] && packages+=(radosgw ceph-mon ceph-osd)
command -v curl >/dev/null 2>&1 || packages+=(curl)

if [[ ${#packages[@]} -gt 0 ]]; then
  echo "installing ${packages[*]} with apt-get"
  sudo=()
  [[ $EUID -ne 0 ]] && sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
fi
echo "S3: $(radosgw --version | head -1) (the tests start their own gateway)"
