# test-lib.sh: what the shell tests share; sourced, after `set -eu -o
# pipefail`, as . "$(dirname "$0")/test-lib.sh"
#
#   $dir            a scratch directory, removed at exit with whatever the
#                   script adds to the array `remove`
#   pids            processes the script started (pids+=($!)), sent
#                   $kill_signal (TERM unless the script sets another) at
#                   exit, and waited for
#   ok, fail, skip  a TAP check passed, failed (the script exits), skipped
#   wait_socket     until a socket file appears (10 s)
#   quote FILE...   the files as TAP comments
#
# SPDX-License-Identifier: LGPL-2.1-or-later

dir=$(mktemp -d)
remove=()
pids=()
kill_signal=TERM

cleanup () {
  for p in "${pids[@]}"; do kill "-$kill_signal" "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir" "${remove[@]}"
}
trap cleanup EXIT

n=0
ok () { n=$((n + 1)); echo "ok $n - $1"; }
fail () { n=$((n + 1)); echo "not ok $n - $1"; exit 1; }
skip () { n=$((n + 1)); echo "ok $n # SKIP $1"; }

quote () { sed "s/^/# /" "$@"; }

wait_socket () {
  for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.1; done
  echo "# socket $1 never appeared"; return 1
}
