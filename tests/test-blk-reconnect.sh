#!/bin/bash
# test-blk-reconnect.sh: the back-end is killed (SIGKILL) while requests
# are in flight, and comes back; the front-end reconnects and nothing is
# lost.
#
# The example device serves an image with --latency and --latency-jitter,
# so requests complete late and out of order: at any moment some requests
# below the used index are still in flight, and only the in-flight area
# (INFLIGHT_SHMFD) tells a restarted back-end about them. The example
# client writes a pattern with --queue-depth 16 and --reconnect; the
# device is killed in the middle and started again on the same socket and
# image; the client reconnects, replays the setup with the in-flight area
# it kept, and must see every request complete and read the whole pattern
# back. Then the image itself is compared with the pattern, byte for byte.
# Once on one queue served in the back-end's main loop, once on two
# queues served by a thread each; both over split and over packed rings.
#
#   test-blk-reconnect.sh CLIENT DEVICE
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -eu -o pipefail

client=$1
device=$2
. "$(dirname "$0")/test-lib.sh"

sectors=4096
io=8
# 512 writes, 16 at a time, 10 to 90 ms each: about 3 s of writing, then
# as long reading back
latency=(--latency 50 --latency-jitter 40)

# The pattern the client writes, for cmp: each 8-byte word of sector s at
# offset i is s << 16 | i, little-endian; the rest of the image stays zero.
python3 - "$dir/expected.img" "$sectors" <<'PY'
import struct, sys
path, sectors = sys.argv[1], int(sys.argv[2])
with open(path, "wb") as f:
    for s in range(sectors):
        f.write(b"".join(struct.pack("<Q", (s << 16) | i) for i in range(0, 512, 8)))
    f.truncate(8 * 1024 * 1024)
PY

# run NAME [DEVICE-OPTIONS...] [-- CLIENT-OPTIONS...]
run () {
  local name=$1; shift
  local dev_opts=() cli_opts=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do dev_opts+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  cli_opts=("$@")

  rm -f "$dir/disk.img" "$dir/blk.sock"
  truncate -s 8M "$dir/disk.img"
  "$device" --socket "$dir/blk.sock" --image "$dir/disk.img" "${latency[@]}" "${dev_opts[@]}" \
      > "$dir/device1.log" 2>&1 &
  local dev=$!
  pids+=($dev)
  wait_socket "$dir/blk.sock"

  timeout 120 "$client" --verify --reconnect --queue-depth 16 --count $sectors --io-size $io --timeout 10 \
      "${cli_opts[@]}" "$dir/blk.sock" > "$dir/client.log" 2>&1 &
  local cli=$!
  pids+=($cli)

  # well into the writes, with 16 in flight
  sleep 1
  if ! kill -0 $cli 2>/dev/null; then
    quote "$dir/client.log"
    echo "not ok - $name: the client was done before the back-end could be killed"; return 1
  fi
  kill -9 $dev
  wait $dev 2>/dev/null || true
  sleep 0.3
  "$device" --socket "$dir/blk.sock" --image "$dir/disk.img" "${latency[@]}" "${dev_opts[@]}" \
      > "$dir/device2.log" 2>&1 &
  pids+=($!)

  local status=0
  wait $cli || status=$?
  quote "$dir/client.log"
  if [ $status -ne 0 ]; then
    echo "# the restarted back-end:"; grep -vE "^(request|negotiated|memory)" "$dir/device2.log" | sed "s/^/#   /" || true
    echo "not ok - $name: the client failed after the back-end was killed (exit $status)"; return 1
  fi
  local n
  n=$(sed -n 's/^disconnected: \([0-9]*\) requests in flight.*/\1/p' "$dir/client.log")
  if [ -z "$n" ] || [ "$n" -eq 0 ]; then
    echo "not ok - $name: the back-end was not killed with requests in flight"; return 1
  fi
  grep -q "^reconnected: setup replayed with the in-flight area" "$dir/client.log" ||
    { echo "not ok - $name: the client did not replay the setup with the in-flight area"; return 1; }
  grep -q "^verified: $sectors sectors.*1 reconnect" "$dir/client.log" ||
    { echo "not ok - $name: the client did not verify every sector after one reconnect"; return 1; }
  if ! cmp "$dir/expected.img" "$dir/disk.img" > "$dir/cmp.log" 2>&1; then
    quote "$dir/cmp.log"
    echo "not ok - $name: the image differs from the pattern"; return 1
  fi
  echo "ok - $name: killed with $n requests in flight; every write is on disk"
}

echo "1..4"
run "one queue, in the back-end's main loop" || exit 1
# two rings, each in its own thread of the back-end, both resubmitted
run "two queues, a thread each" --queues 2 --queue-threads -- --queues 2 || exit 1
# the same over packed rings: the packed in-flight record and its rollback
run "one packed queue" -- --packed || exit 1
run "two packed queues, a thread each" --queues 2 --queue-threads -- --queues 2 --packed || exit 1
