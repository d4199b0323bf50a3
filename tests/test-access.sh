#!/bin/bash
# test-access.sh: who may connect to an example back-end that listens:
# the socket file's mode (0600 unless --socket-mode) and group
# (--socket-group), and the SO_PEERCRED allow-lists (--allow-uid,
# --allow-gid), by number and by name.
#
#   test-access.sh FRONT-END... -- BACK-END...
#
# FRONT-END is run with the socket's path after it, and must exit 0 when
# it was served: vhost-user-probe (any device answers its queries), or
# the blk client doing I/O through vhost-user-blk. BACK-END runs the
# back-end: the program and what it needs besides --socket and the flags
# under test, which follow it (vhost-user-net --sink; /usr/bin/python3
# vhost-user-rng.py; gjs -m vhost-user-rng.js).
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -eu -o pipefail

frontend=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do frontend+=("$1"); shift; done
[ $# -gt 1 ] || { echo "usage: $0 FRONT-END... -- BACK-END..." >&2; exit 2; }
shift
command=("$@")
. "$(dirname "$0")/test-lib.sh"

uid=$(id -u)
gid=$(id -g)
user=$(id -un)
group=$(id -gn)
# not ours, nor root's (a root front-end is not special to the server)
other=$((uid + 1000))
# a group to give the socket that is not our primary one (which a new
# file gets anyway, so it would show nothing): any, as root; else one of
# ours, if we have another
if [ "$uid" -eq 0 ]; then
  file_group=$(getent group | awk -F: -v g="$gid" '$3 != g { print $1; exit }')
else
  file_group=$(id -Gn | tr ' ' '\n' | grep -vxF "$group" | head -n 1 || true)
fi
file_gid=${file_group:+$(getent group "$file_group" | cut -d: -f3)}

# serve NAME ARGS...: the program on $dir/NAME.sock, in the background
serve () {
  local name=$1; shift
  "${command[@]}" --socket "$dir/$name.sock" "$@" > "$dir/$name.log" 2>&1 &
  pids+=($!)
  wait_socket "$dir/$name.sock" || { quote "$dir/$name.log"; return 1; }
}

# connects NAME [COMMAND...]: a front-end (run through COMMAND, as
# another user) gets the back-end's answers; a refused one sees the
# connection closed before its first reply
connects () {
  local name=$1; shift
  timeout 30 "$@" "${frontend[@]}" "$dir/$name.sock" > "$dir/$name.frontend.log" 2>&1
}

echo "1..9"

serve default
[ "$(stat -c '%a %u' "$dir/default.sock")" = "600 $uid" ] && ok "the socket is 0600 by default" ||
  fail "default mode: $(stat -c '%a %u' "$dir/default.sock")"

if [ -z "$file_group" ]; then
  skip "--socket-mode and --socket-group: no group but our own to give the socket"
  skip "--socket-group by name: no group but our own to give the socket"
else
  serve shared --socket-mode 0660 --socket-group "$file_gid"
  [ "$(stat -c '%a %g' "$dir/shared.sock")" = "660 $file_gid" ] && ok "--socket-mode and --socket-group" ||
    fail "mode and group: $(stat -c '%a %g' "$dir/shared.sock"), not 660 $file_gid"

  serve named --socket-mode 640 --socket-group "$file_group"
  [ "$(stat -c '%a %g' "$dir/named.sock")" = "640 $file_gid" ] && ok "--socket-group by name" ||
    fail "mode and group by name: $(stat -c '%a %g' "$dir/named.sock"), not 640 $file_gid"
fi

serve refused --allow-uid "$other"
if connects refused; then fail "a front-end of a uid not listed was served"; fi
ok "--allow-uid: a front-end not listed is refused"

serve uid --allow-uid "$other" --allow-uid "$user"
connects uid && ok "--allow-uid: a front-end listed (by name) is served" ||
  fail "listed uid refused: $(cat "$dir/uid.frontend.log")"

serve gid --allow-uid "$other" --allow-gid "$gid"
connects gid && ok "--allow-gid: a front-end of a listed group is served" ||
  fail "listed gid refused: $(cat "$dir/gid.frontend.log")"

# The front-ends above all ran as us: only root can be another user, and
# show that the credentials, not the file's mode, are what refuses it.
if [ "$uid" -ne 0 ] || ! command -v setpriv > /dev/null; then
  skip "a front-end of another uid needs root and setpriv"
  skip "a front-end of another uid, listed, needs root and setpriv"
else
  chmod 0711 "$dir"
  as_other=(setpriv --reuid "$other" --regid "$other" --clear-groups)
  serve stranger --socket-mode 0666 --allow-uid "$uid"
  if connects stranger "${as_other[@]}"; then fail "a front-end running as uid $other was served"; fi
  ok "--allow-uid: a front-end running as another uid is refused, the socket open to it"
  serve guest --socket-mode 0666 --allow-uid "$other"
  connects guest "${as_other[@]}" && ok "--allow-uid: a front-end running as another uid, listed, is served" ||
    fail "uid $other listed but refused: $(cat "$dir/guest.frontend.log")"
fi

# (4294967296 is no group's name, and no id: not root's group, 2^32 wrapped)
for bad in "--socket-mode 999" "--socket-group no-such-group-here" "--allow-uid no-such-user-here" \
           "--allow-gid no-such-group-here" "--allow-gid 4294967296"; do
  # shellcheck disable=SC2086 # the flag and its value are words
  "${command[@]}" --socket "$dir/bad.sock" $bad > "$dir/bad.log" 2>&1 &
  p=$!
  pids+=("$p")
  for _ in $(seq 100); do kill -0 $p 2>/dev/null || break; sleep 0.1; done
  status=0
  kill -0 $p 2>/dev/null || wait $p || status=$?
  if [ $status -eq 0 ] || [ -e "$dir/bad.sock" ] || ! grep -qE "octal|no (user|group)" "$dir/bad.log"; then
    quote "$dir/bad.log"
    fail "$bad: accepted (exit $status)"
  fi
done
ok "octal permissions, users and groups that exist are wanted, before the socket is made"
