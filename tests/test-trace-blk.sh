#!/bin/bash
# test-trace-blk.sh: block I/O through vhost-user-trace. The example
# front-end (vhost-user-blk-client --verify) writes and reads back a
# pattern through the proxy, to this library's example device and to
# qemu-storage-daemon (libvhost-user, which we did not write); the data
# must verify, every JSON line must parse, and the trace must hold the
# session's setup: the memory with its fd, each ring's size, base,
# addresses, kick and call fds, every request answered. Then the device
# is killed and restarted under the reconnecting client, through a proxy
# that serves one front-end after another: both sessions are traced.
#
#   test-trace-blk.sh TRACE CLIENT DEVICE
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -eu -o pipefail

trace=$1
client=$2
device=$3
. "$(dirname "$0")/test-lib.sh"

# check_trace FILE SESSIONS: see check-trace.py
check_trace () { /usr/bin/python3 "$(dirname "$0")/check-trace.py" "$@"; }

# proxied NAME BACK_SOCKET CLIENT-OPTIONS...: the client through a --once
# proxy to BACK_SOCKET, the JSON trace in $dir/NAME.json
proxied () {
  local name=$1 back=$2; shift 2
  rm -f "$dir/front.sock"
  "$trace" --listen "$dir/front.sock" --connect "$back" --once --json --output "$dir/$name.json" \
      2> "$dir/$name.trace-err" &
  local tp=$!
  pids+=($tp)
  wait_socket "$dir/front.sock"
  if ! timeout 60 "$client" --verify "$@" "$dir/front.sock" > "$dir/$name.client" 2>&1; then
    quote "$dir/$name.client" "$dir/$name.trace-err"
    return 1
  fi
  quote "$dir/$name.client"
  # --once: the proxy ends with the session
  timeout 10 tail --pid=$tp -f /dev/null || { echo "# the proxy did not exit after the session"; return 1; }
  wait $tp || { echo "# the proxy exited with $?"; return 1; }
}

echo "1..4"

"$device" --socket "$dir/blk.sock" --queues 2 > "$dir/device.log" 2>&1 &
pids+=($!)
wait_socket "$dir/blk.sock"
proxied ours "$dir/blk.sock" --count 2048 --queue-depth 8 --queues 2 ||
  fail "the example device through the proxy: the client failed"
grep -q "^verified: 2048 sectors" "$dir/ours.client" || fail "the example device through the proxy: not verified"
check_trace "$dir/ours.json" 1 || fail "the example device: the trace"
ok "the example device through the proxy: the data verifies, the JSON trace holds the whole setup"

# text and --hexdump, one session
rm -f "$dir/front.sock"
"$trace" --listen "$dir/front.sock" --connect "$dir/blk.sock" --once --hexdump > "$dir/text.log" 2>&1 &
tp=$!
pids+=($tp)
wait_socket "$dir/front.sock"
timeout 60 "$client" --verify --count 64 "$dir/front.sock" > "$dir/text.client" 2>&1 ||
  { quote "$dir/text.client"; fail "text trace: the client failed"; }
wait $tp || fail "text trace: the proxy failed"
head -n 8 "$dir/text.log" | quote
# GET_FEATURES: request 1, flags 0x1, no payload, as the bytes show it
grep -qE '^[0-9:.]+ #1 F->B main +GET_FEATURES \(1\) flags=0x1 size=0 fds=0$' "$dir/text.log" ||
  fail "text trace: no GET_FEATURES line"
grep -qE '^    0000  01 00 00 00 01 00 00 00  00 00 00 00 ' "$dir/text.log" ||
  fail "text trace: no hexdump of GET_FEATURES"
grep -qE ' B->F main +GET_FEATURES reply \(1\) flags=0x5 size=8 fds=0 u64=0x[0-9a-f]+ \[[0-9.]+ ms\]$' "$dir/text.log" ||
  fail "text trace: no timed GET_FEATURES reply"
grep -qE ' F->B main +(ADD_MEM_REG|SET_MEM_TABLE) .* fds=1 ' "$dir/text.log" || fail "text trace: no memory with its fd"
grep -q "^# session 1 ended (the front-end hung up)" "$dir/text.log" || fail "text trace: no summary"
grep -q "^#   requests: .*SET_VRING_ADDR 1" "$dir/text.log" || fail "text trace: the summary counts no SET_VRING_ADDR"
ok "text trace with --hexdump: decoded lines, the bytes, reply times, the summary"

qsd=$(command -v qemu-storage-daemon || true)
if [ -z "$qsd" ]; then
  skip "qemu-storage-daemon not installed (apt-get install qemu-system-x86)"
else
  truncate -s 8M "$dir/qsd.img"
  "$qsd" --blockdev driver=file,node-name=f,filename="$dir/qsd.img" \
         --export type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path="$dir/qsd.sock",writable=on,num-queues=2 \
         > "$dir/qsd.log" 2>&1 &
  pids+=($!)
  wait_socket "$dir/qsd.sock"
  proxied qsd "$dir/qsd.sock" --count 2048 --start 100 --queue-depth 8 --queues 2 ||
    { quote "$dir/qsd.log"; fail "qemu-storage-daemon through the proxy: the client failed"; }
  grep -q "^verified: 2048 sectors" "$dir/qsd.client" || fail "qemu-storage-daemon through the proxy: not verified"
  # read from the file, not through our code
  /usr/bin/python3 - "$dir/qsd.img" <<'PY' || fail "qemu-storage-daemon: the image does not hold the pattern"
import struct, sys
data = open(sys.argv[1], "rb").read()
for s in range(100, 2148):
    want = b"".join(struct.pack("<Q", (s << 16) | i) for i in range(0, 512, 8))
    if data[s * 512:(s + 1) * 512] != want:
        sys.exit(f"sector {s} differs")
PY
  check_trace "$dir/qsd.json" 1 || fail "qemu-storage-daemon: the trace"
  ok "qemu-storage-daemon through the proxy: the image holds the pattern, the JSON trace holds the whole setup"
fi

# The reconnect: a proxy without --once, the device killed with requests
# in flight and started again; the client reconnects through the proxy,
# which serves it as a second session.
truncate -s 8M "$dir/disk.img"
rm -f "$dir/front.sock" "$dir/r.sock"
"$device" --socket "$dir/r.sock" --image "$dir/disk.img" --latency 50 --latency-jitter 40 > "$dir/r1.log" 2>&1 &
dev=$!
pids+=($dev)
wait_socket "$dir/r.sock"
"$trace" --listen "$dir/front.sock" --connect "$dir/r.sock" --json --output "$dir/reconnect.json" \
    2> "$dir/reconnect.trace-err" &
tp=$!
pids+=($tp)
wait_socket "$dir/front.sock"
fds_idle=$(ls /proc/$tp/fd | wc -l)
timeout 120 "$client" --verify --reconnect --queue-depth 16 --count 2048 --io-size 8 --timeout 10 \
    "$dir/front.sock" > "$dir/reconnect.client" 2>&1 &
cli=$!
pids+=($cli)
sleep 1
kill -0 $cli 2>/dev/null || { quote "$dir/reconnect.client"; fail "reconnect: the client was done too soon"; }
kill -9 $dev
wait $dev 2>/dev/null || true
sleep 0.3
"$device" --socket "$dir/r.sock" --image "$dir/disk.img" --latency 50 --latency-jitter 40 > "$dir/r2.log" 2>&1 &
pids+=($!)
status=0
wait $cli || status=$?
quote "$dir/reconnect.client"
[ $status -eq 0 ] || { quote "$dir/reconnect.trace-err"; fail "reconnect: the client failed (exit $status)"; }
grep -q "^verified: 2048 sectors.*1 reconnect" "$dir/reconnect.client" ||
  fail "reconnect: the client did not verify after one reconnect"
# between sessions the proxy holds what it held before the first: every
# fd that went through it (memory, eventfds, the in-flight area) is closed
# (the proxy closes them when it sees the hang-up: give a loaded machine time)
for _ in $(seq 50); do
  fds_after=$(ls /proc/$tp/fd | wc -l)
  [ "$fds_after" = "$fds_idle" ] && break
  sleep 0.1
done
[ "$fds_after" = "$fds_idle" ] || { ls -l /proc/$tp/fd | quote; fail "reconnect: the proxy holds $fds_after fds, $fds_idle before"; }
# the proxy serves on: stop it, which ends nothing more than the summary
kill -TERM $tp
wait $tp || fail "reconnect: the proxy did not exit cleanly on SIGTERM"
check_trace "$dir/reconnect.json" 2 || fail "reconnect: the trace"
grep -q '"session": 1, "event": "summary", "reason": "the back-end hung up"' "$dir/reconnect.json" ||
  fail "reconnect: the first session did not end with the back-end"
# the second session got the in-flight area the first one set up
# (not grep -q at the end of the pipe: under pipefail the first grep's
# SIGPIPE, when -q stops reading early, would fail a match)
grep '"session": 2,' "$dir/reconnect.json" | grep '"request": "SET_INFLIGHT_FD", "number": 32, "reply": false' > /dev/null ||
  { grep '"session": 2,' "$dir/reconnect.json" | grep -o '"request": "[A-Z_]*", "number": [0-9]*, "reply": false' |
      sed "s/^/# /"; fail "reconnect: the second session did not hand the in-flight area back"; }
[ ! -e "$dir/front.sock" ] || fail "reconnect: the proxy left its socket behind"
ok "a back-end killed and restarted under a reconnecting client: two sessions traced, the data verifies, no fd kept ($fds_idle before and after)"
