#!/bin/bash
# test-chaos.sh: either side of a connection killed, over and over.
#
# 1. The example back-end is killed (SIGKILL) 100 times in a row under one
#    run of the reconnecting example client, each time with requests in
#    flight (--latency and --latency-jitter keep them there, completing out
#    of order), and started again on the same socket and image. The client
#    replays the setup with the in-flight area it kept after each kill; it
#    must verify every sector, and the image must hold the pattern, byte
#    for byte. The client is the survivor here: after the last reconnect
#    it must hold as many fds and memfd mappings as after its first
#    connection.
# 2. The example client is killed (SIGKILL) 100 times a few milliseconds
#    after it starts, so that it dies anywhere in its setup (negotiation,
#    memory table, rings), against one back-end process that serves them
#    all. The survivor must be left as it was: the same number of fds, no
#    guest memory (memfd) still mapped, still serving, not crashed.
#
#   test-chaos.sh CLIENT DEVICE
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -eu -o pipefail

client=$1
device=$2
. "$(dirname "$0")/test-lib.sh"
kill_signal=KILL

kills=100

# The device as a user runs it: meson's MALLOC_PERTURB_ fills every
# allocation, which makes each connection slower than a real one, and
# the kills below land where they would in practice.
device_env=(env -u MALLOC_PERTURB_)

# wait_line FILE PATTERN COUNT: until FILE has COUNT lines matching PATTERN
# (5 s at most)
wait_line () {
  for _ in $(seq 500); do
    [ "$(grep -c -- "$2" "$1" 2>/dev/null)" -ge "$3" ] && return 0
    sleep 0.01
  done
  return 1
}


# A process's open fds, and its mappings of memfds (guest memory,
# in-flight areas).
fd_count () { ls "/proc/$1/fd" | wc -l; }
memfd_count () { grep -c "memfd:" "/proc/$1/maps" || true; }
# sample PID: both, into $fds and $memfds (the fds and mappings
# themselves into $dir/PID.fds), of a process that runs on: stopped
# meanwhile, so that it neither exits nor changes under the count.
sample () {
  kill -STOP "$1" 2>/dev/null || return 1
  # until it is stopped (one that is done is a zombie, and has no fds)
  for _ in $(seq 100); do
    case $(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null) in
      T|t) break ;;
      Z|X|"") return 1 ;;
    esac
    sleep 0.01
  done
  fds=$(fd_count "$1")
  memfds=$(memfd_count "$1")
  { ls -l "/proc/$1/fd"; grep "memfd:" "/proc/$1/maps" || true; } > "$dir/$1.fds" 2>&1
  kill -CONT "$1"
}

echo "1..2"

# ---------------------------------------------------------------------------
# 1. The back-end killed 100 times under one client.

sectors=32768
io=1
# 2 x 32768 requests, 16 at a time, 1 to 9 ms each: a good 20 s of I/O,
# of which the kills below take less than half
latency=(--latency 5 --latency-jitter 4)

# The pattern the client writes (as in test-blk-reconnect.sh): each 8-byte
# word of sector s at offset i is s << 16 | i, little-endian.
python3 - "$dir/expected.img" "$sectors" <<'PY'
import struct, sys
path, sectors = sys.argv[1], int(sys.argv[2])
offsets = range(0, 512, 8)
with open(path, "wb") as f:
    for s in range(sectors):
        f.write(struct.pack("<64Q", *((s << 16) | i for i in offsets)))
PY

start_device () {
  "${device_env[@]}" "$device" --socket "$dir/blk.sock" --image "$dir/disk.img" "${latency[@]}" \
      > "$dir/device.$1.log" 2>&1 &
  dev=$!
  pids+=($dev)
  # the socket file of the one before is still there: wait for this one
  wait_line "$dir/device.$1.log" "^listening:" 1 ||
    { quote "$dir/device.$1.log"; echo "not ok 1 - back-end $1 did not start"; exit 1; }
}

truncate -s $((sectors * 512)) "$dir/disk.img"
start_device 0
# stdbuf: the client's lines are read while it runs
stdbuf -oL timeout 170 "$client" --verify --reconnect --queue-depth 16 --count $sectors --io-size $io \
    --timeout 10 "$dir/blk.sock" > "$dir/client.log" 2>&1 &
cli=$!
pids+=($cli)

# The client as it is once connected: a child of timeout (stdbuf execs
# it), looked at before the first kill.
client_pid=
for _ in $(seq 50); do client_pid=$(pgrep -P $cli || true); [ -n "$client_pid" ] && break; sleep 0.1; done
if [ -z "$client_pid" ] || ! wait_line "$dir/client.log" "^connected:" 1 || ! sample "$client_pid"; then
  quote "$dir/client.log"
  echo "not ok 1 - the client did not connect"; exit 1
fi
client_fds=$fds
client_memfds=$memfds
cp "$dir/$client_pid.fds" "$dir/client.first.fds"

t0=$SECONDS
for k in $(seq $kills); do
  # after the client's setup (its first: --reconnect replays a setup, it
  # does not retry one), or the replay that follows kill k - 1, let
  # requests flow for 10 to 60 ms, then kill
  if ! wait_line "$dir/client.log" "^connected:" 1 || ! wait_line "$dir/client.log" "^reconnected:" $((k - 1)); then
    quote "$dir/client.log"
    echo "not ok 1 - the client did not reconnect after kill $((k - 1))"; exit 1
  fi
  sleep "0.0$((RANDOM % 50 + 10))"
  if ! kill -0 $cli 2>/dev/null; then
    quote "$dir/client.log"
    echo "not ok 1 - the client was done before kill $k of $kills"; exit 1
  fi
  kill -9 $dev
  wait $dev 2>/dev/null || true
  start_device $k
done
kill_time=$((SECONDS - t0))

# The client again, once it has replayed the setup for the last time and
# runs on (the kills take less than half of its I/O): whatever each
# reconnect left behind is there now, a hundred times over.
if ! wait_line "$dir/client.log" "^reconnected:" $kills || ! sample "$client_pid"; then
  quote "$dir/client.log"
  echo "not ok 1 - the client was gone before it could be looked at after its last reconnect"; exit 1
fi
if [ "$fds" -ne "$client_fds" ] || [ "$memfds" -ne "$client_memfds" ]; then
  echo "# after its first connection:"; quote "$dir/client.first.fds"
  echo "# after $kills reconnects:"; quote "$dir/$client_pid.fds"
  echo "not ok 1 - the client holds $fds fds and $memfds memfd mappings after $kills reconnects," \
       "$client_fds and $client_memfds after its first connection"; exit 1
fi

status=0
wait $cli || status=$?
if [ $status -ne 0 ]; then
  quote "$dir/client.log"
  echo "# the last back-end:"; grep -vE "^(negotiated|memory)" "$dir/device.$kills.log" | quote || true
  echo "not ok 1 - the client failed after $kills kills of the back-end (exit $status)"; exit 1
fi
disconnects=$(grep -c "^disconnected:" "$dir/client.log" || true)
in_flight=$(grep -cE "^disconnected: [1-9][0-9]* requests in flight" "$dir/client.log" || true)
replays=$(grep -c "^reconnected: setup replayed with the in-flight area" "$dir/client.log" || true)
if [ "$disconnects" -ne $kills ] || [ "$replays" -ne $kills ]; then
  quote "$dir/client.log"
  echo "not ok 1 - $kills kills, but the client saw $disconnects disconnects and replayed the setup" \
       "with the in-flight area $replays times"; exit 1
fi
if [ "$in_flight" -lt $((kills / 2)) ]; then
  quote "$dir/client.log"
  echo "not ok 1 - only $in_flight of $kills kills found requests in flight"; exit 1
fi
if ! grep -q "^verified: $sectors sectors.*, $kills reconnects$" "$dir/client.log"; then
  quote "$dir/client.log"
  echo "not ok 1 - the client did not verify every sector after $kills reconnects"; exit 1
fi
if ! cmp "$dir/expected.img" "$dir/disk.img" > "$dir/cmp.log" 2>&1; then
  quote "$dir/cmp.log"
  echo "not ok 1 - the image differs from the pattern after $kills kills"; exit 1
fi
echo "ok 1 - the back-end killed $kills times ($in_flight with requests in flight, the kills in" \
     "${kill_time} s, all in $SECONDS s): every sector verified, every write on disk, the client" \
     "still at $client_fds fds and $client_memfds memfd mappings"
kill $dev
wait $dev || true

# ---------------------------------------------------------------------------
# 2. The front-end killed mid-setup 100 times against one back-end.

rm -f "$dir/blk.sock"
truncate -s 8M "$dir/disk2.img"
# --verbose: every request it gets, to tell where each client died
"${device_env[@]}" "$device" --socket "$dir/blk.sock" --image "$dir/disk2.img" --latency 2 --queues 2 --queue-threads --verbose \
    > "$dir/survivor.log" 2>&1 &
dev=$!
pids+=($dev)
wait_line "$dir/survivor.log" "^listening:" 1 ||
  { quote "$dir/survivor.log"; echo "not ok 2 - the back-end did not start"; exit 1; }

fds_before=$(fd_count $dev)

# The phase of the setup a request belongs to.
phase () {
  case $1 in
    connect) echo connect ;;
    get-features|set-features|get-protocol-features|set-protocol-features|set-owner|get-queue-num) echo negotiation ;;
    add-mem-reg|rem-mem-reg|set-mem-table|get-max-mem-slots) echo memory ;;
    set-vring-*|get-vring-*|get-inflight-fd|set-inflight-fd) echo rings ;;
    *) echo running ;;
  esac
}

# The whole setup takes the client a few milliseconds, a few milliseconds
# after it starts: a delay drawn from all of 0-30 ms would mostly kill it
# running. So the delay is drawn from 0 to a bound that shrinks when a
# client got through its setup and grows when one died before it
# connected, and the kills gather around the setup.
bound=30000
t0=$SECONDS
finished=0
declare -A died=()
# in turn: split rings, with the in-flight area (a memfd of the client's),
# packed rings, two queues
variants=("" "--reconnect" "--packed --reconnect" "--queues 2 --reconnect")
# Clients until $kills of them died mid-setup (a ratio of a fixed number
# of kills depended on how loaded the machine was), ten times as many at
# most.
k=0
mid_setup=0
while [ $mid_setup -lt $kills ] && [ $k -lt $((kills * 10)) ]; do
  k=$((k + 1))
  before=$(grep -c "^connected: a front-end" "$dir/survivor.log" || true)
  # shellcheck disable=SC2086 # the variant is words
  "$client" --verify --queue-depth 16 --count 4096 --io-size 8 ${variants[k % 4]} "$dir/blk.sock" \
      > "$dir/victim.log" 2>&1 &
  victim=$!
  delay=$(( (RANDOM * 32768 + RANDOM) % (bound + 1) ))
  sleep "$(printf 0.%06d $delay)"
  kill -9 $victim 2>/dev/null || true
  status=0
  wait $victim 2>/dev/null || status=$?
  if [ $status -eq 0 ]; then
    finished=$((finished + 1))
  elif [ $status -ne 137 ]; then
    # anything but a kill or a clean run: the back-end let it down
    quote "$dir/victim.log"
    echo "not ok 2 - client $k failed before it was killed (exit $status)"; exit 1
  fi
  if ! kill -0 $dev 2>/dev/null; then
    quote "$dir/survivor.log"
    echo "not ok 2 - the back-end died at client $k"; exit 1
  fi
  # how far it got: the back-end's last line of it, once it saw it go
  for _ in $(seq 100); do
    [ "$(grep -c "^disconnected:" "$dir/survivor.log")" -eq \
      "$(grep -c "^connected: a front-end" "$dir/survivor.log")" ] && break
    sleep 0.01
  done
  last=$(awk '/^connected: a front-end/ { last = "connect" } /^request: / { last = $2 } END { print last }' \
             "$dir/survivor.log")
  if [ "$(grep -c "^connected: a front-end" "$dir/survivor.log" || true)" -eq "$before" ]; then
    where=unconnected
    bound=$((bound * 5 / 4 > 30000 ? 30000 : bound * 5 / 4))
  else
    where=$(phase "$last")
    [ "$where" = running ] && bound=$((bound * 4 / 5 < 1000 ? 1000 : bound * 4 / 5))
  fi
  died[$where]=$((${died[$where]:-0} + 1))
  case $where in negotiation|memory|rings) mid_setup=$((mid_setup + 1)) ;; esac
done
clients=$k
kill_time=$((SECONDS - t0))

# Each hang-up is seen by the back-end's main loop: a few seconds at most.
for _ in $(seq 100); do
  fds=$(fd_count $dev)
  memfds=$(memfd_count $dev)
  connected=$(grep -c "^connected: a front-end" "$dir/survivor.log" || true)
  gone=$(grep -c "^disconnected:" "$dir/survivor.log" || true)
  [ "$fds" -eq "$fds_before" ] && [ "$memfds" -eq 0 ] && [ "$gone" -eq "$connected" ] && break
  sleep 0.1
done
echo "# of $clients clients killed: ${died[unconnected]:-0} before connecting, ${died[connect]:-0} connected with" \
     "no request, ${died[negotiation]:-0} in negotiation, ${died[memory]:-0} in the memory table," \
     "${died[rings]:-0} in ring setup, ${died[running]:-0} running ($finished finished first)"

if [ "$fds" -ne "$fds_before" ]; then
  ls -l "/proc/$dev/fd" | quote
  echo "not ok 2 - the back-end has $fds fds after $clients killed clients, $fds_before before"; exit 1
fi
if [ "$memfds" -ne 0 ]; then
  grep "memfd:" "/proc/$dev/maps" | quote
  echo "not ok 2 - the back-end still maps $memfds memfd areas after $clients killed clients"; exit 1
fi
if [ "$gone" -ne "$connected" ]; then
  echo "not ok 2 - $connected clients connected, the back-end saw $gone of them go"; exit 1
fi
# a test whose kills all miss the setup tests little
if [ "$mid_setup" -lt $kills ]; then
  echo "not ok 2 - only $mid_setup of $clients clients were killed in the middle of their setup"; exit 1
fi

if ! timeout 60 "$client" --verify --count 4096 --io-size 8 --queue-depth 16 "$dir/blk.sock" \
     > "$dir/final.log" 2>&1; then
  quote "$dir/final.log"
  echo "not ok 2 - the back-end does not serve a client after $clients killed ones"; exit 1
fi
# a clean exit on SIGTERM, and nothing on stderr but what it says of
# front-ends that went away
kill -TERM $dev
status=0
wait $dev || status=$?
if [ $status -ne 0 ] || grep -qE "CRITICAL|WARNING|ERROR|Sanitizer|runtime error" "$dir/survivor.log"; then
  quote "$dir/survivor.log"
  echo "not ok 2 - the back-end did not survive $clients killed clients cleanly (exit $status)"; exit 1
fi
echo "ok 2 - $clients clients killed, $mid_setup of them mid-setup (in ${kill_time} s): the back-end is back to $fds_before fds," \
     "no memfd mapped, still serving"
