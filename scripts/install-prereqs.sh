#!/usr/bin/env bash
# Install what the tests, the demo and the vector scripts need on Debian.
# Idempotent; run as root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

# lintian, adduser (the package's Depends) and systemd (systemd-analyze
# verify; nothing is started) for the Debian package test, scripts/test-deb.sh.
# curl: integration/metrics.rs queries Prometheus's HTTP API; the Kubernetes
# lab (integration/k8s.rs, scripts/bench-k8s.sh) waits for readiness and runs
# the kubeadm guide's check script with it. nftables: integration/metrics.rs
# deafens a node with an nft rule; the chaos harness drops packets with nft.
# openssl: scripts/bench-k8s.sh makes its test PKI.
pkgs=(keepalived frr tcpdump tshark python3-scapy iproute2 iputils-ping procps faketime
      lintian adduser systemd man-db curl nftables openssl)
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
# The Prometheus server and promtool (integration/metrics.rs starts its own
# server). Without its recommends: they are exporters and services that
# nothing here uses.
if ! dpkg-query -W -f='${Status}' prometheus 2>/dev/null | grep -q "install ok installed"; then
  echo "install-prereqs: installing prometheus"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
# cargo-deb builds the .deb (scripts/build-deb.sh). Pinned: its Cargo.toml
# keys and the package layout it makes are what the test checks.
CARGO_DEB_VERSION=3.8.0
if [ "$(cargo deb --version 2>/dev/null)" != "cargo-deb $CARGO_DEB_VERSION" ]; then
  echo "install-prereqs: cargo install cargo-deb $CARGO_DEB_VERSION"
  cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked --quiet
fi

echo "install-prereqs: $(cargo deb --version), $(lintian --version)"
echo "install-prereqs: $(keepalived --version 2>&1 | head -1), FRR $(dpkg-query -W -f='${Version}' frr), $(tshark --version 2>/dev/null | head -1), $(prometheus --version 2>&1 | head -1)"
