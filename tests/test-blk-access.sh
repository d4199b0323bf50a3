#!/bin/bash
# test-blk-access.sh: who may connect to the example device: the socket
# file's mode (0600 unless --socket-mode) and group (--socket-group), and
# the SO_PEERCRED allow-lists (--allow-uid, --allow-gid), through the
# example front-end.
#
#   test-blk-access.sh CLIENT DEVICE
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -eu -o pipefail

client=$1
device=$2
dir=$(mktemp -d)
pids=()
cleanup () {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

wait_socket () {
  for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.1; done
  echo "# socket $1 never appeared"; return 1
}

n=0
ok () { n=$((n + 1)); echo "ok $n - $1"; }
fail () { n=$((n + 1)); echo "not ok $n - $1"; exit 1; }

uid=$(id -u)
gid=$(id -g)
other=$((uid + 1000))
# a group for the socket other than our primary one, which a new file
# gets anyway (as test-access.sh); our own only if there is no other
if [ "$uid" -eq 0 ]; then
  file_gid=$(getent group | awk -F: -v g="$gid" '$3 != g { print $3; exit }')
else
  file_gid=$(id -G | tr ' ' '\n' | grep -vxF "$gid" | head -n 1 || true)
fi
file_gid=${file_gid:-$gid}

# serve NAME ARGS...: the device on $dir/NAME.sock, in the background
serve () {
  local name=$1; shift
  "$device" --socket "$dir/$name.sock" --capacity-mb 4 "$@" > "$dir/$name.log" 2>&1 &
  pids+=($!)
  wait_socket "$dir/$name.sock"
}

# connects NAME: the client gets through a short verify
connects () {
  timeout 30 "$client" --verify --count 64 "$dir/$1.sock" > "$dir/$1.client.log" 2>&1
}

echo "1..6"

serve default
[ "$(stat -c %a "$dir/default.sock")" = 600 ] && ok "the socket is 0600 by default" || fail "default mode"

serve shared --socket-mode 0660 --socket-group "$file_gid"
[ "$(stat -c '%a %g' "$dir/shared.sock")" = "660 $file_gid" ] && ok "--socket-mode and --socket-group" ||
  fail "mode and group: $(stat -c '%a %g' "$dir/shared.sock"), not 660 $file_gid"

serve refused --allow-uid "$other"
if connects refused; then fail "a front-end of another uid was served"; fi
ok "--allow-uid: a front-end not listed is refused"

serve uid --allow-uid "$other" --allow-uid "$uid"
connects uid && ok "--allow-uid: a front-end listed is served" || fail "listed uid refused"

serve gid --allow-uid "$other" --allow-gid "$gid"
connects gid && ok "--allow-gid: a front-end of a listed group is served" || fail "listed gid refused"

if "$device" --socket "$dir/bad.sock" --socket-mode 999 > /dev/null 2>&1; then fail "--socket-mode 999 accepted"; fi
ok "--socket-mode wants octal permissions"
