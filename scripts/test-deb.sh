#!/usr/bin/env bash
# Install, check and remove the ha-vip Debian package on this machine.
#
#   sudo scripts/test-deb.sh [PATH.deb]     # default: scripts/build-deb.sh first
#
# This installs into the machine's real root, so it refuses to run where it
# could touch something that is not its own (an installed ha-vip package,
# an /usr/bin/ha-vip or /etc/ha-vip of a manual install), and an EXIT trap
# purges the package and removes what the test made even when a check
# fails. A ha-vip user that was there before is never changed or removed:
# the test checks that the package leaves it alone too.
#
# Two rounds:
#   1. no ha-vip user before: postinst creates the user and group, purge
#      removes both (on a machine that already has the user, this round is
#      not possible and the script says so);
#   2. a ha-vip user made by hand first, as deploy/ha-vip.service's manual
#      install does: the package uses it, purge keeps it.
# Each round: dpkg -i (twice: a reinstall must be harmless), the checks,
# dpkg -r (only configuration left), dpkg -P (nothing left).
set -euo pipefail
cd "$(dirname "$0")/.."

PKG=ha-vip
# The installed binary, never another ha-vip earlier in PATH.
BIN=/usr/bin/ha-vip
failures=0
say() { echo "test-deb: $*"; }
ok() { echo "  ok: $*"; }
bad() { echo "  FAIL: $*" >&2; failures=$((failures + 1)); }
die() { echo "test-deb: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root: it installs the package with dpkg"
for c in dpkg dpkg-query getent useradd userdel; do
  command -v "$c" >/dev/null 2>&1 || die "MISSING PREREQUISITE '$c'"
done

deb=${1:-}
if [ -z "$deb" ]; then
  deb=$(bash scripts/build-deb.sh | tee /dev/stderr | tail -1)
fi
[ -f "$deb" ] || die "$deb: no such package"

# ---- refuse to touch what is not ours -----------------------------------
status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$PKG" 2>/dev/null || true)
case "$status" in
  "" | "un "*) ;;
  *) die "the package $PKG is on this machine (dpkg status '$status'): refusing to replace it; remove it first" ;;
esac
for p in /usr/bin/ha-vip /etc/ha-vip /usr/lib/systemd/system/ha-vip.service /etc/systemd/system/ha-vip.service; do
  [ -e "$p" ] && die "$p exists (a manual install?): refusing to install the package over it"
done

user_before=$(getent passwd ha-vip || true)
group_before=$(getent group ha-vip || true)
made_user=0
trees=(/etc /usr /var/lib /opt /srv)
names() {
  find "${trees[@]}" -xdev \( -name '*ha-vip*' -o -name '*ha_vip*' \) 2>/dev/null | sort
}
names_before=$(names)

cleanup() {
  local rc=$?
  set +e
  if dpkg-query -W -f='${db:Status-Abbrev}' "$PKG" 2>/dev/null | grep -qv '^un'; then
    echo "test-deb: cleanup: dpkg -P $PKG"
    dpkg -P "$PKG" >/dev/null 2>&1
  fi
  if [ "$made_user" = 1 ] && getent passwd ha-vip >/dev/null; then
    echo "test-deb: cleanup: removing the ha-vip user this test made"
    userdel ha-vip
  fi
  if [ -z "$group_before" ] && getent group ha-vip >/dev/null; then
    echo "test-deb: cleanup: removing the ha-vip group this test or the package made"
    groupdel ha-vip
  fi
  if [ -z "$user_before" ] && getent passwd ha-vip >/dev/null; then
    echo "test-deb: cleanup: removing the ha-vip user the package left"
    userdel ha-vip
  fi
  # Refused above when it existed, so it is the package's.
  [ -d /etc/ha-vip ] && rm -rf /etc/ha-vip
  exit "$rc"
}
trap cleanup EXIT

# ---- one round ----------------------------------------------------------
# $1: "created" (the package makes the user) or "existing" (it was there).
round() {
  local kind=$1 before_user
  before_user=$(getent passwd ha-vip || true)
  say "round '$kind': dpkg -i $(basename "$deb")"
  dpkg -i "$deb"
  [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$PKG")" = "ii " ] && ok "installed (dpkg status ii)" || bad "not installed"
  say "dpkg -i again (a reinstall runs the maintainer scripts again)"
  dpkg -i "$deb" >/dev/null && ok "reinstall" || bad "reinstall failed"

  local v
  v=$("$BIN" --version)
  echo "  ha-vip --version: $v"
  local commit=unknown
  if git rev-parse --show-toplevel >/dev/null 2>&1; then
    commit=$(git rev-parse --short=12 HEAD)
  fi
  case "$v" in
    "ha-vip $(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1) (commit $commit)" | "ha-vip $(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1) (commit $commit-dirty)") ok "--version names the version and commit $commit" ;;
    *) bad "--version: expected the version and commit $commit, got '$v'" ;;
  esac

  local pw uid shell comment
  pw=$(getent passwd ha-vip || true)
  if [ -z "$pw" ]; then
    bad "no ha-vip user after install"
  else
    uid=$(echo "$pw" | cut -d: -f3)
    shell=$(echo "$pw" | cut -d: -f7)
    comment=$(echo "$pw" | cut -d: -f5)
    if [ "$kind" = created ]; then
      [ "$uid" -lt 1000 ] && ok "ha-vip is a system user (uid $uid)" || bad "ha-vip uid $uid is not a system uid"
      [ "$shell" = /usr/sbin/nologin ] && ok "shell $shell" || bad "shell $shell"
      getent group ha-vip >/dev/null && ok "group ha-vip" || bad "no group ha-vip"
      case "$comment" in *"created by the ha-vip package"*) ok "comment marks it as the package's: '$comment'" ;; *) bad "comment '$comment'" ;; esac
    else
      [ "$pw" = "$before_user" ] && ok "the existing ha-vip user is unchanged" || bad "ha-vip user changed: '$before_user' -> '$pw'"
    fi
  fi

  for ex in /usr/share/doc/ha-vip/examples/*/; do
    "$BIN" check --config "$ex" >/dev/null && ok "ha-vip check $ex" || bad "ha-vip check $ex: $("$BIN" check --config "$ex" 2>&1 | tail -2)"
  done
  "$BIN" check --config /etc/ha-vip >/dev/null && ok "ha-vip check /etc/ha-vip (the shipped conffile, no routers yet)" || bad "ha-vip check /etc/ha-vip"

  local unit=/usr/lib/systemd/system/ha-vip.service
  grep -qx 'ExecStart=/usr/bin/ha-vip run --config /etc/ha-vip' "$unit" && ok "unit runs /usr/bin/ha-vip" || bad "unit ExecStart: $(grep ExecStart= "$unit")"
  grep -qx 'User=ha-vip' "$unit" && grep -qx 'AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW' "$unit" \
    && grep -qx 'CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW' "$unit" \
    && ok "unit: User=ha-vip, CAP_NET_ADMIN and CAP_NET_RAW only" || bad "unit user or capabilities"
  if [ -e /etc/systemd/system/multi-user.target.wants/ha-vip.service ]; then
    bad "the unit was enabled on install"
  else
    ok "the unit is not enabled on install"
  fi
  if command -v systemd-analyze >/dev/null 2>&1; then
    if out=$(systemd-analyze verify "$unit" 2>&1); then
      ok "systemd-analyze verify $unit ($(systemd-analyze --version | head -1)): no complaint"
    else
      bad "systemd-analyze verify: $out"
    fi
  else
    say "systemd-analyze is not on this machine: the unit was NOT verified by systemd"
  fi

  for f in /usr/share/bash-completion/completions/ha-vip /usr/share/zsh/vendor-completions/_ha-vip \
           /usr/share/fish/vendor_completions.d/ha-vip.fish /usr/share/man/man1/ha-vip.1.gz \
           /usr/share/man/man1/ha-vip-run.1.gz /usr/share/doc/ha-vip/copyright; do
    [ -s "$f" ] && ok "$f" || bad "$f missing"
  done
  bash -c 'source /usr/share/bash-completion/completions/ha-vip && complete -p ha-vip' >/dev/null 2>&1 \
    && ok "bash loads the completion (complete -p ha-vip)" || bad "bash completion does not load"
  if command -v man >/dev/null 2>&1; then
    man --warnings -l /usr/share/man/man1/ha-vip-run.1.gz 2>&1 >/dev/null | grep -q . \
      && bad "man warns about ha-vip-run.1" || ok "man -l ha-vip-run.1: no groff warning"
  fi
  [ -s /var/lib/dpkg/info/ha-vip.md5sums ] && ok "dpkg recorded md5sums" || bad "no /var/lib/dpkg/info/ha-vip.md5sums"
  dpkg --verify "$PKG" && ok "dpkg --verify" || bad "dpkg --verify: files differ"

  local files conffiles
  files=$(dpkg-query -L "$PKG")
  conffiles=$(dpkg-query -W -f='${Conffiles}\n' "$PKG" | awk 'NF {print $1}')
  [ "$conffiles" = /etc/ha-vip/ha-vip.toml ] && ok "conffiles: $conffiles" || bad "conffiles: '$conffiles'"

  say "dpkg -r $PKG"
  dpkg -r "$PKG"
  [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$PKG")" = "rc " ] && ok "removed, configuration kept (dpkg status rc)" || bad "status after -r"
  local left=()
  while read -r p; do
    [ -n "$p" ] || continue
    if echo "$conffiles" | grep -qx "$p"; then
      [ -e "$p" ] || bad "conffile $p removed by dpkg -r"
    elif [ -f "$p" ] || [ -L "$p" ]; then
      left+=("$p")
    elif [ -d "$p" ] && [[ "$p" == *ha-vip* ]] && [[ "$p" != /etc/ha-vip* ]]; then
      left+=("$p/")
    fi
  done <<<"$files"
  [ ${#left[@]} -eq 0 ] && ok "no file of the package left but /etc/ha-vip/ha-vip.toml" || bad "left after dpkg -r: ${left[*]}"
  [ -f /etc/ha-vip/ha-vip.toml ] && ok "/etc/ha-vip/ha-vip.toml kept" || bad "/etc/ha-vip/ha-vip.toml gone after -r"
  getent passwd ha-vip >/dev/null && ok "the ha-vip user stays until purge" || bad "the ha-vip user is gone after -r"

  say "dpkg -P $PKG"
  dpkg -P "$PKG"
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$PKG" 2>/dev/null || true)
  case "$status" in "" | "un "*) ok "purged (dpkg knows no $PKG)" ;; *) bad "status after -P: '$status'" ;; esac
  left=()
  while read -r p; do
    [ -n "$p" ] || continue
    if [ -f "$p" ] || [ -L "$p" ]; then left+=("$p"); fi
    if [ -d "$p" ] && [[ "$p" == *ha-vip* ]]; then left+=("$p/"); fi
  done <<<"$files"
  [ ${#left[@]} -eq 0 ] && ok "no file of the package left" || bad "left after dpkg -P: ${left[*]}"
  local now
  now=$(names)
  if [ "$now" = "$names_before" ]; then
    ok "no path named *ha-vip* under ${trees[*]} that was not there before"
  else
    bad "new paths after purge: $(comm -13 <(echo "$names_before") <(echo "$now") | tr '\n' ' ')"
  fi
  if [ "$kind" = created ]; then
    getent passwd ha-vip >/dev/null && bad "the ha-vip user is still there after purge" || ok "the ha-vip user is gone"
    getent group ha-vip >/dev/null && bad "the ha-vip group is still there after purge" || ok "the ha-vip group is gone"
    if [ -n "${uid:-}" ]; then
      local owned
      owned=$(find "${trees[@]}" /run -xdev -uid "$uid" 2>/dev/null | head -5)
      [ -z "$owned" ] && ok "no file owned by the removed uid $uid" || bad "files owned by uid $uid: $owned"
    fi
  else
    [ "$(getent passwd ha-vip || true)" = "$before_user" ] && ok "the existing ha-vip user is still there, unchanged" || bad "the existing ha-vip user was changed or removed"
  fi
}

if [ -z "$user_before" ] && [ -z "$group_before" ]; then
  round created
else
  say "this machine already has a ha-vip user or group ('$user_before' '$group_before'):"
  say "round 'created' NOT run (it would need them gone); round 'existing' runs with them"
fi

if [ -z "$user_before" ]; then
  say "making a ha-vip user by hand, as deploy/ha-vip.service's manual install does"
  made_user=1
  if [ -n "$group_before" ]; then
    useradd --system --no-create-home --shell /usr/sbin/nologin -g ha-vip --comment "made by scripts/test-deb.sh" ha-vip
  else
    useradd --system --no-create-home --shell /usr/sbin/nologin -U --comment "made by scripts/test-deb.sh" ha-vip
  fi
fi
round existing
if [ "$made_user" = 1 ]; then
  userdel ha-vip
  made_user=0
  [ -z "$group_before" ] && getent group ha-vip >/dev/null && groupdel ha-vip
fi

[ "$(getent passwd ha-vip || true)" = "$user_before" ] && ok "the ha-vip user is as before the test" || bad "the ha-vip user differs from before the test"
[ "$(getent group ha-vip || true)" = "$group_before" ] && ok "the ha-vip group is as before the test" || bad "the ha-vip group differs from before the test"

if [ "$failures" -ne 0 ]; then
  say "$failures check(s) FAILED"
  exit 1
fi
say "all checks passed"
