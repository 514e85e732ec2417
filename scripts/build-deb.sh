#!/usr/bin/env bash
# Build the Debian package of ha-vip and check it with lintian.
#
#   scripts/build-deb.sh            # prints the path of the .deb last
#
# Steps: a release build, `ha-vip package-files` (completions, man pages
# and the packaged unit, generated from that binary: src/package.rs says
# why not build.rs), `cargo deb --no-build` (Cargo.toml,
# [package.metadata.deb]), then lintian, which must report nothing.
# Needs cargo-deb and lintian: scripts/install-prereqs.sh installs them.
set -euo pipefail
cd "$(dirname "$0")/.."

fail=0
for c in cargo cargo-deb lintian dpkg-deb; do
  if ! command -v "$c" >/dev/null 2>&1; then
    echo "build-deb.sh: MISSING PREREQUISITE '$c' (run: sudo scripts/install-prereqs.sh)" >&2
    fail=1
  fi
done
[ $fail -eq 0 ] || exit 1

target_dir=$(cargo metadata --format-version 1 --no-deps \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

echo "build-deb.sh: cargo build --release"
cargo build --release --locked --bin ha-vip

# Cargo.toml's assets name target/deb-files literally (only target/release
# is mapped to the real target directory by cargo-deb).
files=target/deb-files
rm -rf "$files"
"$target_dir/release/ha-vip" package-files "$files" >/dev/null

out="$target_dir/debian"
mkdir -p "$out"
rm -f "$out"/ha-vip_*.deb
deb=$(cargo deb --no-build --locked --output "$out" 2>&1 | tail -1)
if [ ! -f "$deb" ]; then
  echo "build-deb.sh: cargo deb did not produce a package: $deb" >&2
  exit 1
fi

echo "build-deb.sh: lintian $(lintian --version | awk '{print $2}') on $(basename "$deb")"
# Errors and warnings fail the build; info tags are printed to be read.
# Every override is in deploy/debian/lintian-overrides, with its reason.
lintian --display-info --fail-on error,warning "$deb"
echo "build-deb.sh: lintian: no error, no warning; overridden (deploy/debian/lintian-overrides says why):"
lintian --display-info --show-overrides --fail-on none "$deb" | grep '^O:' || true
echo "$deb"
