#!/usr/bin/env bash
# Installs what the build, the driver and the tests need on a fresh Debian machine of this kind.
# Idempotent and quiet when everything is present.
set -euo pipefail
need=()
command -v mvn >/dev/null || need+=(maven)
command -v java >/dev/null || need+=(openjdk-17-jdk-headless)
command -v losetup >/dev/null || need+=(mount)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
command -v unshare >/dev/null || need+=(util-linux)
command -v node >/dev/null || need+=(nodejs npm)
command -v findmnt >/dev/null || need+=(util-linux)
if (( ${#need[@]} )); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing ${need[*]}; install them as root" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
