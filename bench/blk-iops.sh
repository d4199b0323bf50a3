#!/bin/bash
# blk-iops.sh: queue-depth-1 reads through vhost-user-blk, side by side:
#
#   eventfd ping-pong      the floor (two processes, kick and call, nothing else)
#   vhost-user-glib        examples/vhost-user-blk (RAM disk), main-loop and --threaded
#   qemu-storage-daemon    libvhost-user over a file in /dev/shm (page cache, no disk)
#
# All driven by examples/vhost-user-blk-client --bench, the same client
# binary for every back-end, so the difference is the back-end's.
#
#   bench/blk-iops.sh BUILD_DIR [SECONDS] [IO_SECTORS]
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -eu -o pipefail

build=$(realpath "${1:-build}")
seconds=${2:-3}
io=${3:-8}
client=$build/examples/vhost-user-blk-client
device=$build/examples/vhost-user-blk
dir=$(mktemp -d /dev/shm/blk-iops.XXXXXX)
pids=()
cleanup () {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

wait_socket () {
  for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.1; done
  echo "socket $1 never appeared" >&2; return 1
}

row () {
  # name, then a "bench: ..." line; anything else is a failure
  local figures
  figures=$(sed -n 's/^bench: //p' <<<"$2")
  [ -n "$figures" ] || { echo "$1: no figures: $2" >&2; exit 1; }
  printf '%-34s %s\n' "$1" "$figures"
}

echo "queue depth 1, $((io * 512))-byte reads, ${seconds} s each, $(nproc) CPUs"
row "eventfd ping-pong (floor)" "$("$build/bench/eventfd-pingpong" "$seconds")"

"$device" --socket "$dir/ours.sock" --capacity-mb 64 >/dev/null 2>&1 &
pids+=($!)
wait_socket "$dir/ours.sock"
row "vhost-user-glib (main loop)" "$("$client" --bench "$seconds" --io-size "$io" --count 131072 "$dir/ours.sock" | tail -n1)"

"$device" --socket "$dir/ours-t.sock" --capacity-mb 64 --threaded >/dev/null 2>&1 &
pids+=($!)
wait_socket "$dir/ours-t.sock"
row "vhost-user-glib (--threaded)" "$("$client" --bench "$seconds" --io-size "$io" --count 131072 "$dir/ours-t.sock" | tail -n1)"

if command -v qemu-storage-daemon >/dev/null; then
  truncate -s 64M "$dir/disk.img"
  # Fill it so reads are served from page cache, not holes.
  dd if=/dev/zero of="$dir/disk.img" bs=1M count=64 conv=notrunc status=none
  qemu-storage-daemon --blockdev driver=file,node-name=f,filename="$dir/disk.img" \
      --export type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path="$dir/qsd.sock" \
      >/dev/null 2>&1 &
  pids+=($!)
  wait_socket "$dir/qsd.sock"
  row "qemu-storage-daemon 7.2" "$("$client" --bench "$seconds" --io-size "$io" --count 131072 "$dir/qsd.sock" | tail -n1)"
else
  row "qemu-storage-daemon" "not installed (apt-get install qemu-system-x86)"
fi
