#!/bin/bash
# blk-iops.sh: reads through vhost-user-blk at queue depth 1 and deeper,
# side by side:
#
#   eventfd ping-pong        the floor (two processes, kick and call, nothing else;
#                            one round trip at a time, so queue depth 1 only)
#   vhost-user-glib          examples/vhost-user-blk (RAM disk): in the main loop,
#                            with --queue-threads (the ring in a thread of its own),
#                            and with --threaded (the connection in a worker thread)
#   qemu-storage-daemon      libvhost-user over a file in /dev/shm (page cache, no disk)
#
# All driven by examples/vhost-user-blk-client --bench, the same client
# binary for every back-end, so the difference is the back-end's. One
# queue; "us each" is the mean time from a request's kick to its answer.
#
#   bench/blk-iops.sh BUILD_DIR [SECONDS] [IO_SECTORS] [DEEP_QUEUE_DEPTH]
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -eu -o pipefail

build=$(realpath "${1:-build}")
seconds=${2:-3}
io=${3:-8}
deep=${4:-16}
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

# cell OUTPUT: "IOPS  us" from a "bench: ..." line; anything else is a failure
cell () {
  local iops us
  iops=$(sed -n 's/^bench: .*: \([0-9]*\) \(IOPS\|per second\).*/\1/p' <<<"$1")
  us=$(sed -n 's/^bench: .* \([0-9.]*\) us each.*/\1/p' <<<"$1")
  [ -n "$iops" ] && [ -n "$us" ] || { echo "no figures: $1" >&2; exit 1; }
  printf '%9s %8s' "$iops" "$us"
}

# row NAME SOCKET: the same back-end at both depths
row () {
  local shallow deeper
  shallow=$("$client" --bench "$seconds" --io-size "$io" --count 131072 "$2" | tail -n1)
  deeper=$("$client" --bench "$seconds" --io-size "$io" --count 131072 --queue-depth "$deep" "$2" | tail -n1)
  printf '%-36s %s   %s\n' "$1" "$(cell "$shallow")" "$(cell "$deeper")"
}

serve () {  # serve SOCKET [OPTIONS...]: our device, in the background
  local sock=$1; shift
  "$device" --socket "$sock" --capacity-mb 64 "$@" >/dev/null 2>&1 &
  pids+=($!)
  wait_socket "$sock"
}

echo "$((io * 512))-byte reads, one queue, ${seconds} s per cell, $(nproc) CPUs"
printf '%-36s %18s   %18s\n' "" "queue depth 1" "queue depth $deep"
printf '%-36s %9s %8s   %9s %8s\n' "" "IOPS" "us each" "IOPS" "us each"
printf '%-36s %s   %18s\n' "eventfd ping-pong (floor)" "$(cell "$("$build/bench/eventfd-pingpong" "$seconds")")" "-"

serve "$dir/ours.sock"
row "vhost-user-glib (main loop)" "$dir/ours.sock"
serve "$dir/ours-q.sock" --queue-threads
row "vhost-user-glib (--queue-threads)" "$dir/ours-q.sock"
serve "$dir/ours-t.sock" --threaded
row "vhost-user-glib (--threaded)" "$dir/ours-t.sock"

if command -v qemu-storage-daemon >/dev/null; then
  truncate -s 64M "$dir/disk.img"
  # Fill it so reads are served from page cache, not holes.
  dd if=/dev/zero of="$dir/disk.img" bs=1M count=64 conv=notrunc status=none
  qemu-storage-daemon --blockdev driver=file,node-name=f,filename="$dir/disk.img" \
      --export type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path="$dir/qsd.sock" \
      >/dev/null 2>&1 &
  pids+=($!)
  wait_socket "$dir/qsd.sock"
  row "qemu-storage-daemon $(qemu-storage-daemon --version | sed -n 's/.*version \([0-9]*\.[0-9]*\).*/\1/p')" \
      "$dir/qsd.sock"
else
  echo "qemu-storage-daemon: not installed (apt-get install qemu-system-x86)"
fi
