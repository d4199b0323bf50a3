#!/bin/bash
# test-trace-qemu.sh TRACE VHOST_USER_BLK SRCDIR: QEMU 7.2 and a Linux
# guest, with vhost-user-trace between QEMU and the disk's back-end:
# qemu-storage-daemon where it is installed (two programs we did not
# write, talking through ours), else this library's example device.
#
# One short boot: the guest reads its disk, writes a pattern, flushes,
# drops its cache, reads it back and powers off. Passes when the guest
# read back what it wrote, the image on the host holds it, and the JSON
# trace holds QEMU's whole setup (the memory with its fds, every ring's
# setup) and the GET_VRING_BASE of its shutdown, every line valid JSON.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -euo pipefail

trace=$(readlink -f "$1")
blk=$(readlink -f "$2")
src=$(cd "$3" && pwd)

. "$(dirname "$0")/test-guest.sh"

tmp=$(mktemp -d /tmp/vhost-user-trace-qemu-XXXXXX)
pids=()
cleanup () {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null
  if [ "${keep:-0}" = 1 ]; then
    for f in "$tmp"/*.log; do echo "# --- $f"; sed 's/^/# /' "$f"; done
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
keep=1

fail () { echo "not ok 1 - $*"; exit 1; }

wait_socket () {
  for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.1; done
  fail "socket $1 never appeared"
}

sh "$src/tests/make-initramfs.sh" "$tmp/initrd.gz" "$version"
truncate -s 64M "$tmp/disk.img"
printf 'the image the host made' | dd of="$tmp/disk.img" conv=notrunc 2>/dev/null

qsd=$(command -v qemu-storage-daemon || true)
if [ -n "$qsd" ]; then
  name=qemu-storage-daemon
  "$qsd" --blockdev driver=file,node-name=f,filename="$tmp/disk.img" \
         --export type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path="$tmp/blk.sock",writable=on \
         > "$tmp/backend.log" 2>&1 &
else
  name="the example device (qemu-storage-daemon is not installed)"
  "$blk" --socket "$tmp/blk.sock" --image "$tmp/disk.img" > "$tmp/backend.log" 2>&1 &
fi
pids+=($!)
wait_socket "$tmp/blk.sock"

"$trace" --listen "$tmp/trace.sock" --connect "$tmp/blk.sock" --once --json --output "$tmp/trace.json" \
    > "$tmp/trace.log" 2>&1 &
tp=$!
pids+=($tp)
wait_socket "$tmp/trace.sock"

timeout 240 "$qemu" -accel tcg -m 256 -nodefaults -no-user-config -display none -no-reboot \
  -object memory-backend-memfd,id=mem,size=256M,share=on -machine q35,memory-backend=mem \
  -chardev "socket,id=c0,path=$tmp/trace.sock" -device vhost-user-blk-pci,chardev=c0,id=blk0 \
  -bios /usr/share/qemu/qboot.rom -kernel "$kernel" -initrd "$tmp/initrd.gz" \
  -append "console=ttyS0 panic=-1" -serial "file:$tmp/serial.log" > "$tmp/qemu.log" 2>&1 ||
  fail "QEMU failed or the guest did not power off"

# --once: QEMU's session was the only one
for _ in $(seq 100); do kill -0 $tp 2>/dev/null || break; sleep 0.1; done
wait $tp || fail "the proxy did not end with QEMU's session"

grep -a "^GUEST" "$tmp/serial.log" | tr -d '\r' | sed 's/^/# /'
grep -aq "GUEST-READ: the image the host made" "$tmp/serial.log" || fail "the guest did not read the image"
grep -aq "GUEST-WROTE: written by the guest through the ring" "$tmp/serial.log" ||
  fail "the guest did not read back what it wrote"
[ "$(dd if="$tmp/disk.img" bs=512 skip=8 count=1 2>/dev/null | head -c 37)" = "written by the guest through the ring" ] ||
  fail "the image on the host does not hold what the guest wrote"

/usr/bin/python3 "$src/tests/check-trace.py" "$tmp/trace.json" 1 GET_VRING_BASE || fail "the trace"
grep '"request": "GET_VRING_BASE"' "$tmp/trace.json" | grep '"reply": true' > /dev/null ||
  fail "GET_VRING_BASE at the guest's shutdown got no reply"

keep=0
echo "1..1"
echo "ok 1 - QEMU and a Linux guest through vhost-user-trace to $name: the guest's data verifies, the trace holds the setup and GET_VRING_BASE"
