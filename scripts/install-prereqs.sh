#!/usr/bin/env bash
# Install what the tests, the demo and the vector scripts need on Debian.
# Idempotent; run as root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

pkgs=(keepalived frr tcpdump tshark python3-scapy iproute2 iputils-ping procps faketime nftables)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-prereqs: installing ${missing[*]}"
  apt-get update -qq
  # tshark asks whether non-root users may capture; the default (no) is right.
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
echo "install-prereqs: $(keepalived --version 2>&1 | head -1), FRR $(dpkg-query -W -f='${Version}' frr), $(tshark --version 2>/dev/null | head -1)"
