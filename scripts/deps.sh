#!/usr/bin/env bash
# Installs what skiff needs to build, test and run, from Debian packages.
# Idempotent: packages already present are not touched, and apt-get update
# runs only when something is missing.
set -euo pipefail

pkgs=(
  build-essential pkg-config
  libraft-dev libuv1-dev liblmdb-dev libmsgpack-dev libyaml-dev libh2o-dev
  libjansson-dev libcurl4-openssl-dev libssl-dev libarchive-dev libcmocka-dev
  runc containernetworking-plugins nftables iproute2 openssl curl procps jq
  busybox-static docker-registry skopeo umoci
  python3-prometheus-client
)

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
