#!/usr/bin/env bash
# Run every cargo-fuzz target for a bounded time.
#
#   scripts/fuzz-short.sh            # CI: FUZZ_SECONDS (default 20) per target
#   FUZZ_SECONDS=600 scripts/fuzz-short.sh   # by hand, longer
#
# Targets: advert_parse (wire), config_load (config files),
# import_keepalived (keepalived.conf importer). Seeds come from
# fuzz/seeds/TARGET and are copied to a scratch corpus, so the repository
# is never written. A crash fails the run; its input is kept under
# fuzz/artifacts/TARGET/ and must become a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER=${FUZZ_SECONDS:-20}
TARGETS=(advert_parse config_load import_keepalived)

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz from crates.io"
  cargo install --locked cargo-fuzz >/dev/null
fi
# cargo-fuzz needs nightly rustc flags (-Zsanitizer). Use a nightly
# toolchain when the machine has one, else the stable compiler with
# RUSTC_BOOTSTRAP=1, which accepts the same flags.
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  FUZZ=(cargo +nightly fuzz)
else
  export RUSTC_BOOTSTRAP=1
  FUZZ=(cargo fuzz)
fi

scratch=$(mktemp -d /tmp/ha-vip-fuzz.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
for t in "${TARGETS[@]}"; do
  corpus="$scratch/$t"
  mkdir -p "$corpus"
  cp fuzz/seeds/"$t"/* "$corpus"/ 2>/dev/null || true
  echo "fuzz: $t for ${SECONDS_PER}s"
  set +e
  "${FUZZ[@]}" run "$t" "$corpus" -- -max_total_time="$SECONDS_PER" -rss_limit_mb=2048 2>&1 \
    | grep -E "^(#[0-9]+ +DONE|Done|==[0-9]+==|SUMMARY|artifact_prefix|Test unit written|error)"
  status=${PIPESTATUS[0]}
  set -e
  # cargo fuzz exits non-zero on a crash (or a build failure).
  if [ "$status" -ne 0 ]; then
    echo "fuzz: $t FOUND A CRASH: see fuzz/artifacts/$t/ and add it as a regression test" >&2
    exit 1
  fi
done
echo "fuzz: ${#TARGETS[@]} targets ran clean for ${SECONDS_PER}s each"
