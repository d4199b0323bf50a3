#!/bin/bash
# test-qemu-resize.sh VHOST_USER_BLK SRCDIR: QEMU 7.2 answers our
# BACKEND_CONFIG_CHANGE_MSG. A Linux guest boots on the example blk device
# over a 64 MiB image; the host grows the image to 128 MiB and sends the
# device SIGHUP; the device puts the new capacity in its config space and
# tells QEMU on the back-end channel; QEMU reads the config again and
# interrupts the guest, whose driver must see 262144 sectors.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -euo pipefail

blk=$(readlink -f "$1")
src=$(cd "$2" && pwd)

. "$(dirname "$0")/test-guest.sh"

tmp=$(mktemp -d /tmp/vhost-user-resize-XXXXXX)
pids=()
cleanup () {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "${keep:-0}" = 1 ]; then
    for f in "$tmp"/*.log; do echo "# --- $f"; sed 's/^/# /' "$f"; done
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
keep=1
echo "1..1"
fail () { echo "not ok 1 - $*"; exit 1; }

wait_for () {  # wait_for SECONDS COMMAND...
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}

sh "$src/tests/make-initramfs.sh" "$tmp/initrd.gz" "$version"
truncate -s 64M "$tmp/disk.img"
"$blk" --socket "$tmp/blk.sock" --image "$tmp/disk.img" --verbose > "$tmp/device.log" 2>&1 &
device=$!
pids+=("$device")
wait_for 10 test -S "$tmp/blk.sock" || fail "the device did not listen"
"$qemu" -accel tcg -m 256 -nodefaults -no-user-config -display none -no-reboot \
  -object memory-backend-memfd,id=mem,size=256M,share=on -machine q35,memory-backend=mem \
  -chardev "socket,id=c0,path=$tmp/blk.sock" -device vhost-user-blk-pci,chardev=c0 \
  -bios /usr/share/qemu/qboot.rom -kernel "$kernel" -initrd "$tmp/initrd.gz" \
  -append "console=ttyS0 panic=-1 vutest=resize" -serial "file:$tmp/serial.log" > "$tmp/qemu.log" 2>&1 &
qemu_pid=$!
pids+=("$qemu_pid")

wait_for 120 grep -qs "GUEST-RESIZE-READY" "$tmp/serial.log" || fail "the guest did not see its disk"
truncate -s 128M "$tmp/disk.img"
kill -HUP "$device"

deadline=$((SECONDS + 120))
while kill -0 "$qemu_pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.3; done
kill -0 "$qemu_pid" 2>/dev/null && fail "the guest did not finish"
line=$(grep -a "GUEST-RESIZED:" "$tmp/serial.log" | tr -d '\r' || true)
echo "# guest: $line"
grep -E "capacity|told" "$tmp/device.log" | sed 's/^/# device: /'
[ "$line" = "GUEST-RESIZED: 131072 262144" ] || fail "the guest saw: ${line:-nothing}"
grep -q "the front-end was told the config changed" "$tmp/device.log" || fail "the device did not hear QEMU's answer"
keep=0
echo "ok 1 - the image grown to 128 MiB under a running guest: QEMU took the config change, the guest sees 262144 sectors"
