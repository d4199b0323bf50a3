#!/bin/bash
# test-blk-client.sh: the example front-end (vhost-user-blk-client) writes,
# reads back and verifies sectors through two back-ends it did not write:
# qemu-storage-daemon (libvhost-user) and this library's example device.
# For qemu-storage-daemon the image file is then read directly, so the
# check does not rely on our own client's idea of what it wrote.
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
  echo "socket $1 never appeared"; return 1
}

echo "1..4"

qsd=$(command -v qemu-storage-daemon || true)
if [ -z "$qsd" ]; then
  echo "ok 1 # SKIP qemu-storage-daemon not installed (apt-get install qemu-system-x86... see PEERS)"
else
  truncate -s 4M "$dir/disk.img"
  "$qsd" --blockdev driver=file,node-name=f,filename="$dir/disk.img" \
         --export type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path="$dir/qsd.sock",writable=on \
         > "$dir/qsd.log" 2>&1 &
  pids+=($!)
  wait_socket "$dir/qsd.sock"
  if ! timeout 60 "$client" --verify --count 2048 --start 100 "$dir/qsd.sock" 2>&1 | sed "s/^/# /"; then
    sed "s/^/# /" "$dir/qsd.log"; echo "not ok 1 - client against qemu-storage-daemon"; exit 1
  fi
  # Each 8-byte word of the pattern is (sector << 16 | offset), little-endian;
  # check words of two sectors in the file itself.
  for s in 100 2147; do
    got=$(od -An -tu8 -N8 -j $((s * 512 + 504)) "$dir/disk.img" | tr -d ' ')
    if [ "$got" != $((s * 65536 + 504)) ]; then
      echo "not ok 1 - sector $s in the image holds $got"; exit 1
    fi
  done
  # Untouched sectors stay zero.
  got=$(od -An -tu8 -N8 -j $((99 * 512)) "$dir/disk.img" | tr -d ' ')
  [ "$got" = 0 ] || { echo "not ok 1 - sector 99 was written ($got)"; exit 1; }
  echo "ok 1 - client against qemu-storage-daemon"
fi

"$device" --socket "$dir/ours.sock" > "$dir/ours.log" 2>&1 &
pids+=($!)
wait_socket "$dir/ours.sock"
if ! timeout 60 "$client" --verify --count 1024 "$dir/ours.sock" 2>&1 | sed "s/^/# /"; then
  sed "s/^/# /" "$dir/ours.log"; echo "not ok 2 - client against the example device"; exit 1
fi
echo "ok 2 - client against the example device"

# The example device over an image file: what the client wrote is in the
# file (mapped shared, so visible at once), read by od and not by our code.
truncate -s 8M "$dir/ours.img"
"$device" --socket "$dir/img.sock" --image "$dir/ours.img" > "$dir/img.log" 2>&1 &
pids+=($!)
wait_socket "$dir/img.sock"
if ! timeout 60 "$client" --verify --count 1000 --start 7 "$dir/img.sock" 2>&1 | sed "s/^/# /"; then
  sed "s/^/# /" "$dir/img.log"; echo "not ok 3 - client against the example device on an image"; exit 1
fi
for s in 7 1006; do
  got=$(od -An -tu8 -N8 -j $((s * 512 + 8)) "$dir/ours.img" | tr -d ' ')
  if [ "$got" != $((s * 65536 + 8)) ]; then
    echo "not ok 3 - sector $s in the image holds $got"; exit 1
  fi
done
got=$(od -An -tu8 -N8 -j $((1007 * 512)) "$dir/ours.img" | tr -d ' ')
[ "$got" = 0 ] || { echo "not ok 3 - sector 1007 was written ($got)"; exit 1; }
echo "ok 3 - client against the example device on an image file"

# Read-only: the pattern reads back, a write is refused with an I/O error
# and the file is unchanged.
sum=$(md5sum < "$dir/ours.img")
"$device" --socket "$dir/ro.sock" --image "$dir/ours.img" --read-only > "$dir/ro.log" 2>&1 &
pids+=($!)
wait_socket "$dir/ro.sock"
if timeout 60 "$client" --verify --count 8 "$dir/ro.sock" > "$dir/ro-client.log" 2>&1; then
  echo "not ok 4 - a write to a read-only image succeeded"; exit 1
fi
sed "s/^/# /" "$dir/ro-client.log"
grep -q "write of sector 0 failed (status 1)" "$dir/ro-client.log" ||
  { echo "not ok 4 - the write did not fail with VIRTIO_BLK_S_IOERR"; exit 1; }
timeout 60 "$client" --count 1000 --start 7 "$dir/ro.sock" 2>&1 | sed "s/^/# /"
[ "$(md5sum < "$dir/ours.img")" = "$sum" ] || { echo "not ok 4 - the read-only image changed"; exit 1; }
echo "ok 4 - read-only image: reads work, writes fail, file unchanged"
