#!/bin/bash
# test-qemu-reconnect.sh VHOST_USER_BLK SRCDIR [packed]: QEMU 7.2 and a Linux
# guest keep their disk across a back-end that is killed and started again;
# with "packed", over a packed virtqueue (packed=on).
#
# The guest writes blocks one at a time (each flushed), then reads every
# one back past its cache. Meanwhile the host kills our vhost-user-blk
# back-end with SIGKILL while it holds a request (--latency keeps each
# request in flight for a while), and starts a new one on the same socket
# and image. QEMU reconnects (reconnect=1), hands the in-flight area back
# (SET_INFLIGHT_FD) and restarts the ring from what it saw used; the new
# back-end resubmits what its predecessor had popped and not completed.
# Passes when the guest reads back every block, the image on the host
# holds them, and at least one kill found a request in flight (retried
# up to ten times: a kill can land between two requests). Each kill waits
# a random part of a second first: right after a block reaches the image
# the guest is about to start its next processes, and a kill timed off
# that would miss its requests more often than chance.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -euo pipefail

blk=$(readlink -f "$1")
src=$(cd "$2" && pwd)
layout=${3:-split}
case $layout in
  split) device_opts= ;;
  packed) device_opts=,packed=on ;;
  *) echo "usage: $0 VHOST_USER_BLK SRCDIR [packed]" >&2; exit 2 ;;
esac
blocks=300

. "$(dirname "$0")/test-guest.sh"

tmp=$(mktemp -d /tmp/vhost-user-reconnect-XXXXXX)
backend=
qemu_pid=
cleanup () {
  [ -n "$backend" ] && kill -9 "$backend" 2>/dev/null
  [ -n "$qemu_pid" ] && kill -9 "$qemu_pid" 2>/dev/null
  wait 2>/dev/null
  if [ "${keep:-0}" = 1 ]; then
    for f in "$tmp"/*.log; do echo "# --- $f"; sed 's/^/# /' "$f"; done
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
keep=1

fail () { echo "not ok 1 - $*"; exit 1; }

sh "$src/tests/make-initramfs.sh" "$tmp/initrd.gz" "$version"
truncate -s 64M "$tmp/disk.img"

runs=0
start_backend () {
  runs=$((runs + 1))
  VHOST_USER_DEBUG=vring "$blk" --socket "$tmp/blk.sock" --image "$tmp/disk.img" \
    --latency 60 > "$tmp/backend-$runs.log" 2>&1 &
  backend=$!
  for _ in $(seq 100); do [ -S "$tmp/blk.sock" ] && return 0; sleep 0.1; done
  fail "the back-end did not listen"
}

# blocks the guest has written so far, as the image holds them
written () { grep -ao 'block [0-9]\{6\} of the reconnect test' "$tmp/disk.img" | wc -l; }
written_at_least () { [ "$(written)" -ge "$1" ]; }

wait_for () {  # wait_for SECONDS COMMAND...: until COMMAND succeeds
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    kill -0 "$qemu_pid" 2>/dev/null || return 1
    sleep 0.2
  done
}

rm -f "$tmp/blk.sock"
start_backend
"$qemu" -accel tcg -m 256 -nodefaults -no-user-config -display none -no-reboot \
  -object memory-backend-memfd,id=mem,size=256M,share=on -machine q35,memory-backend=mem \
  -chardev "socket,id=c0,path=$tmp/blk.sock,reconnect=1" -device "vhost-user-blk-pci,chardev=c0,id=blk0$device_opts" \
  -bios /usr/share/qemu/qboot.rom -kernel "$kernel" -initrd "$tmp/initrd.gz" \
  -append "console=ttyS0 panic=-1 vutest=reconnect" -serial "file:$tmp/serial.log" > "$tmp/qemu.log" 2>&1 &
qemu_pid=$!

wait_for 120 grep -qs GUEST-IO-START "$tmp/serial.log" || fail "the guest did not start writing"

resubmitted=0
for kill_round in $(seq 10); do
  target=$((kill_round * 25))
  wait_for 120 written_at_least "$target" || fail "the guest stopped writing at $(written) blocks"
  sleep "0.$((RANDOM % 10))"
  kill -9 "$backend"
  wait "$backend" 2>/dev/null || true
  echo "# kill $kill_round: back-end killed after $(written) blocks"
  start_backend
  # QEMU retries every second; the ring starts when it is back
  wait_for 60 grep -q "vring 0 started" "$tmp/backend-$runs.log" || fail "QEMU did not reconnect"
  if grep -q "requests were in flight; resubmitting" "$tmp/backend-$runs.log"; then
    grep -h "resubmitting" "$tmp/backend-$runs.log" | sed 's/^/# /'
    resubmitted=$((resubmitted + 1))
    break
  fi
done

# the ring had the layout asked for (VIRTIO_F_RING_PACKED is bit 34)
feat=$(grep -ao 'acknowledged features 0x[0-9a-f]*' "$tmp/backend-$runs.log" | tail -n 1 | sed 's/.* //' || true)
[ -n "$feat" ] || fail "the restarted back-end saw no features"
want=0; [ "$layout" = packed ] && want=1
[ $(( (feat >> 34) & 1 )) = $want ] || fail "the ring is not $layout: features $feat"

# the guest finishes, reads back, powers off
deadline=$((SECONDS + 240))
while kill -0 "$qemu_pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
kill -0 "$qemu_pid" 2>/dev/null && fail "the guest did not finish"
qemu_pid=

line=$(grep -a "GUEST-RECONNECT:" "$tmp/serial.log" | tr -d '\r' || true)
echo "# guest: $line"
[ "$line" = "GUEST-RECONNECT: $blocks blocks, 0 bad" ] || fail "the guest read back: ${line:-nothing}"
[ "$resubmitted" -gt 0 ] || fail "no kill found a request in flight"

# and the image on the host, block by block
for i in $(seq 0 $((blocks - 1))); do
  got=$(dd if="$tmp/disk.img" bs=4096 skip=$((i + 16)) count=1 2>/dev/null | head -c 12)
  [ "$got" = "$(printf 'block %06d' "$i")" ] || fail "block $i on the host holds '$got'"
done

keep=0
echo "1..1"
echo "ok 1 - $blocks blocks written across $((runs - 1)) back-end kills ($layout ring); all read back by the guest and on disk"
