#!/bin/bash
# test-blk-client.sh: the example front-end (vhost-user-blk-client) writes,
# reads back and verifies sectors through two back-ends: qemu-storage-daemon
# (libvhost-user, which we did not write) and this library's example
# device; one request at a time and many, on one queue and several,
# and discard and write-zeroes. The image files are then read directly
# (od, cmp, their allocated blocks), so the checks do not rely on our own
# client's idea of what it wrote.
#
#   test-blk-client.sh CLIENT DEVICE
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -eu -o pipefail

client=$1
device=$2
. "$(dirname "$0")/test-lib.sh"
shm=$(mktemp -d /dev/shm/test-blk-client.XXXXXX)
remove+=("$shm")

# the pattern the client writes, for cmp: each 8-byte word of sector s
# at offset i is s << 16 | i, little-endian
python3 - "$dir/pattern" 16384 <<'PY'
import struct, sys
with open(sys.argv[1], "wb") as f:
    for s in range(int(sys.argv[2])):
        f.write(b"".join(struct.pack("<Q", (s << 16) | i) for i in range(0, 512, 8)))
PY

# run_client LOG ARGS...: the client, its output as TAP comments
run_client () {
  local log=$1; shift
  if timeout 60 "$client" "$@" > "$log" 2>&1; then
    quote "$log"; return 0
  fi
  quote "$log"; return 1
}

# is_pattern FILE FIRST COUNT: those sectors of FILE hold the pattern
is_pattern () {
  cmp -s -i $(($2 * 512)):$(($2 * 512)) -n $(($3 * 512)) "$dir/pattern" "$1"
}

# is_zero FILE FIRST COUNT: those sectors of FILE are zeros
is_zero () {
  cmp -s -i $(($2 * 512)):0 -n $(($3 * 512)) "$1" /dev/zero
}

blocks () { stat -c %b "$1"; }

echo "1..13"

qsd=$(command -v qemu-storage-daemon || true)
if [ -z "$qsd" ]; then
  for t in "one request at a time" "16 in flight on 2 queues" "discard and write-zeroes" "event indices"; do
    skip "qemu-storage-daemon not installed (apt-get install qemu-system-x86)"
  done
else
  truncate -s 8M "$dir/qsd.img"
  # discard=unmap: the file layer punches holes for discards
  "$qsd" --blockdev driver=file,node-name=f,filename="$dir/qsd.img",discard=unmap \
         --export type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path="$dir/qsd.sock",writable=on,num-queues=2 \
         > "$dir/qsd.log" 2>&1 &
  pids+=($!)
  wait_socket "$dir/qsd.sock"

  run_client "$dir/c.log" --verify --count 2048 --start 100 "$dir/qsd.sock" ||
    { quote "$dir/qsd.log"; fail "qemu-storage-daemon, one request at a time"; }
  is_pattern "$dir/qsd.img" 100 2048 || fail "qemu-storage-daemon: the image does not hold the pattern"
  # untouched sectors stay zero
  is_zero "$dir/qsd.img" 0 100 && is_zero "$dir/qsd.img" 2148 100 ||
    fail "qemu-storage-daemon: sectors around the range were written"
  ok "qemu-storage-daemon, one request at a time: the image holds the pattern"

  run_client "$dir/c.log" --verify --queue-depth 16 --queues 2 --io-size 8 --count 8192 --start 4096 \
             "$dir/qsd.sock" || fail "qemu-storage-daemon, 16 requests in flight on 2 queues"
  grep -q "2 queues of .*, queue depth 16" "$dir/c.log" || fail "qemu-storage-daemon: not 2 queues at depth 16"
  is_pattern "$dir/qsd.img" 4096 8192 || fail "qemu-storage-daemon: the image does not hold the pattern (depth 16)"
  ok "qemu-storage-daemon, 16 requests in flight on 2 queues: the image holds the pattern"

  before=$(blocks "$dir/qsd.img")
  run_client "$dir/c.log" --discard --queue-depth 4 --count 2048 --start 4096 "$dir/qsd.sock" ||
    fail "qemu-storage-daemon: discard"
  run_client "$dir/c.log" --write-zeroes --queue-depth 4 --count 1000 --start 7000 "$dir/qsd.sock" ||
    fail "qemu-storage-daemon: write-zeroes"
  is_zero "$dir/qsd.img" 4096 2048 && is_zero "$dir/qsd.img" 7000 1000 ||
    fail "qemu-storage-daemon: the image does not read zeros where the client cleared"
  is_pattern "$dir/qsd.img" 6144 856 && is_pattern "$dir/qsd.img" 8000 4288 ||
    fail "qemu-storage-daemon: the pattern around the cleared ranges was touched"
  after=$(blocks "$dir/qsd.img")
  [ "$after" -lt "$before" ] || fail "qemu-storage-daemon: the discard punched no hole ($before -> $after blocks)"
  ok "qemu-storage-daemon, discard and write-zeroes: zeros in the file, a hole ($before -> $after blocks)"

  run_client "$dir/c.log" --verify --event-idx --get-id --indirect --queue-depth 8 --io-size 8 --count 2048 \
             --start 12000 "$dir/qsd.sock" || fail "qemu-storage-daemon with event indices and indirect tables"
  grep -q "split rings with event indices" "$dir/c.log" || fail "qemu-storage-daemon: no event indices"
  id=$(sed -n 's/^id: //p' "$dir/c.log")
  [ -n "$id" ] || fail "qemu-storage-daemon: GET_ID gave nothing"
  is_pattern "$dir/qsd.img" 12000 2048 || fail "qemu-storage-daemon: the image does not hold the pattern (event idx)"
  ok "qemu-storage-daemon with event indices and indirect tables, 8 in flight: the image holds the pattern; GET_ID says '$id'"
fi

"$device" --socket "$dir/ours.sock" > "$dir/ours.log" 2>&1 &
pids+=($!)
wait_socket "$dir/ours.sock"
run_client "$dir/c.log" --verify --count 1024 "$dir/ours.sock" ||
  { quote "$dir/ours.log"; fail "client against the example device"; }
ok "the example device (RAM disk), one request at a time"

# The example device over an image file: what the client wrote is in the
# file, read by cmp and not by our code.
truncate -s 8M "$dir/ours.img"
"$device" --socket "$dir/img.sock" --image "$dir/ours.img" > "$dir/img.log" 2>&1 &
pids+=($!)
wait_socket "$dir/img.sock"
run_client "$dir/c.log" --verify --count 1000 --start 7 "$dir/img.sock" ||
  { quote "$dir/img.log"; fail "client against the example device on an image"; }
is_pattern "$dir/ours.img" 7 1000 || fail "the example device: the image does not hold the pattern"
is_zero "$dir/ours.img" 0 7 && is_zero "$dir/ours.img" 1007 100 ||
  fail "the example device: sectors around the range were written"
ok "the example device on an image file: the file holds the pattern"

# Event indices on split and packed rings, GET_ID; and a back-end that
# busy-polls under a driver that spins (kicks off both ways)
for layout in "" --packed; do
  run_client "$dir/c.log" --verify --event-idx --get-id --indirect $layout --queue-depth 8 --io-size 8 --count 2048 \
             --start 2000 "$dir/img.sock" || { quote "$dir/img.log"; fail "event indices ${layout:-split}"; }
  grep -q "rings with event indices" "$dir/c.log" || fail "the example device: no event indices"
  grep -q "^id: vhost-user-glib" "$dir/c.log" || fail "the example device: GET_ID: $(grep '^id' "$dir/c.log")"
  is_pattern "$dir/ours.img" 2000 2048 || fail "the example device: the image does not hold the pattern (event idx)"
done
ok "the example device with event indices and indirect tables on split and packed rings: the file holds the pattern; GET_ID answers"

truncate -s 8M "$dir/poll.img"
"$device" --socket "$dir/poll.sock" --image "$dir/poll.img" --queue-threads --poll-us 200 > "$dir/poll.log" 2>&1 &
pids+=($!)
wait_socket "$dir/poll.sock"
for layout in "" --packed; do
  run_client "$dir/c.log" --verify --busy-poll $layout --queue-depth 4 --io-size 8 --count 2048 "$dir/poll.sock" ||
    { quote "$dir/poll.log"; fail "busy-polling ${layout:-split}"; }
  is_pattern "$dir/poll.img" 0 2048 || fail "busy-polling: the image does not hold the pattern"
done
ok "the example device busy-polling (--poll-us) under a spinning driver, split and packed: the file holds the pattern"

# Many requests in flight on several queues, completing late and out of
# order: every write lands, every read comes back right. Served in the
# back-end's main loop, then with a thread per queue.
# mq_run NAME SOCKET IMAGE LOG [DEVICE-OPTIONS...]
mq_run () {
  local name=$1 sock=$2 img=$3 log=$4; shift 4
  truncate -s 8M "$img"
  "$device" --socket "$sock" --image "$img" --queues 4 --latency 2 --latency-jitter 2 "$@" > "$log" 2>&1 &
  local pid=$!
  pids+=($pid)
  wait_socket "$sock"
  run_client "$dir/c.log" --verify --queue-depth 32 --queues 4 --io-size 8 --count 8192 --start 4096 "$sock" ||
    { quote "$log"; fail "$name, 32 in flight on 4 queues"; }
  grep -q "4 queues of .*, queue depth 32" "$dir/c.log" || fail "$name: not 4 queues at depth 32"
  is_pattern "$img" 4096 8192 || fail "$name: the image does not hold the pattern (4 queues)"
  # The device says how many requests it held at once on each queue (when
  # the client hangs up): all four queues were used, and together they
  # held many but never more than the client's depth.
  for _ in $(seq 50); do [ "$(grep -c "stopped; up to" "$log")" -ge 4 ] && break; sleep 0.1; done
  grep "stopped; up to" "$log" | quote
  depths=$(sed -n 's/.*blk: queue \([0-3]\) stopped; up to \([0-9]*\) requests.*/\1 \2/p' "$log")
  [ "$(cut -d' ' -f1 <<<"$depths" | sort -u | wc -l)" = 4 ] || fail "$name: not every queue was used"
  local total=0 most
  while read -r _ most; do
    [ "$most" -le 32 ] || fail "$name held $most requests on one queue; the client's depth is 32"
    total=$((total + most))
  done <<<"$depths"
  [ "$total" -ge 16 ] || fail "$name never held more than $total requests at once: no queue depth"
}

mq_run "the example device" "$dir/mq.sock" "$dir/mq.img" "$dir/mq.log"
ok "the example device, 32 requests in flight on 4 queues (held at once: $(cut -d' ' -f2 <<<"$depths" | tr '\n' ' ')), completing out of order"

mq_run "the example device with --queue-threads" "$dir/mqt.sock" "$dir/mqt.img" "$dir/mqt.log" --queue-threads
# and the queues are served by threads of their own, named after them,
# while a front-end is connected
pid=${pids[-1]}
timeout 60 "$client" --bench 2 --queues 4 --queue-depth 8 "$dir/mqt.sock" > "$dir/bench.log" 2>&1 &
sleep 1
threads=$(cat /proc/"$pid"/task/*/comm | grep -c '^blk-queue-' || true)
wait $! || { quote "$dir/bench.log"; fail "the example device with --queue-threads: bench"; }
quote "$dir/bench.log"
[ "$threads" = 4 ] || fail "the example device with --queue-threads runs $threads queue threads, not 4"
ok "the example device with --queue-threads: 4 threads, 32 requests in flight, completing out of order"

# Discard and write-zeroes on the image (ext4 or whatever holds $TMPDIR):
# the ranges read as zeros in the file, the pattern around them stays,
# discard and write-zeroes with unmap punch holes.
before=$(blocks "$dir/mq.img")
run_client "$dir/c.log" --discard --queue-depth 4 --queues 2 --io-size 100 --count 1000 --start 5000 "$dir/mq.sock" ||
  fail "the example device: discard"
mid=$(blocks "$dir/mq.img")
run_client "$dir/c.log" --write-zeroes --unmap --queue-depth 4 --count 1000 --start 7000 "$dir/mq.sock" ||
  fail "the example device: write-zeroes with unmap"
after=$(blocks "$dir/mq.img")
run_client "$dir/c.log" --write-zeroes --queue-depth 4 --io-size 13 --count 999 --start 9000 "$dir/mq.sock" ||
  fail "the example device: write-zeroes"
for r in "5000 1000" "7000 1000" "9000 999"; do
  # shellcheck disable=SC2086
  is_zero "$dir/mq.img" $r || fail "the example device: sectors $r do not read as zeros in the file"
done
is_pattern "$dir/mq.img" 4096 904 && is_pattern "$dir/mq.img" 6000 1000 && is_pattern "$dir/mq.img" 8000 1000 &&
  is_pattern "$dir/mq.img" 9999 2289 || fail "the example device: the pattern around the cleared ranges was touched"
[ "$mid" -lt "$before" ] && [ "$after" -lt "$mid" ] ||
  fail "the example device: discard and write-zeroes --unmap punched no holes ($before, $mid, $after blocks)"
ok "the example device: discard and write-zeroes read as zeros in the file, holes punched ($before -> $mid -> $after blocks)"

# On tmpfs, which cannot zero a range in place: write-zeroes falls back
# to writing zeros.
truncate -s 4M "$shm/shm.img"
"$device" --socket "$dir/shm.sock" --image "$shm/shm.img" > "$dir/shm.log" 2>&1 &
pids+=($!)
wait_socket "$dir/shm.sock"
run_client "$dir/c.log" --verify --queue-depth 8 --count 2048 "$dir/shm.sock" &&
  run_client "$dir/c.log" --write-zeroes --queue-depth 8 --count 1000 --start 500 "$dir/shm.sock" ||
  { quote "$dir/shm.log"; fail "the example device on tmpfs: write-zeroes"; }
is_zero "$shm/shm.img" 500 1000 && is_pattern "$shm/shm.img" 0 500 && is_pattern "$shm/shm.img" 1500 548 ||
  fail "the example device on tmpfs: write-zeroes did not zero exactly its range"
ok "the example device on tmpfs: write-zeroes without unmap writes zeros"

# Read-only: the pattern reads back, a write is refused with an I/O error,
# discard is not offered, and the file is unchanged.
sum=$(md5sum < "$dir/ours.img")
"$device" --socket "$dir/ro.sock" --image "$dir/ours.img" --read-only > "$dir/ro.log" 2>&1 &
pids+=($!)
wait_socket "$dir/ro.sock"
if timeout 60 "$client" --verify --count 8 "$dir/ro.sock" > "$dir/ro-client.log" 2>&1; then
  fail "a write to a read-only image succeeded"
fi
quote "$dir/ro-client.log"
grep -q "write of sector 0 failed (status 1)" "$dir/ro-client.log" ||
  fail "the write did not fail with VIRTIO_BLK_S_IOERR"
if timeout 60 "$client" --discard --count 8 "$dir/ro.sock" > "$dir/ro-client.log" 2>&1; then
  fail "a discard on a read-only image succeeded"
fi
quote "$dir/ro-client.log"
grep -q "does not offer DISCARD" "$dir/ro-client.log" || fail "a read-only device offered DISCARD"
run_client "$dir/c.log" --count 1000 --start 7 --queue-depth 8 "$dir/ro.sock" || fail "reading a read-only image"
[ "$(md5sum < "$dir/ours.img")" = "$sum" ] || fail "the read-only image changed"
ok "read-only image: reads work, writes fail, no discard, file unchanged"
