#!/bin/bash
# blk-demo.sh: real I/O through vhost-user, both ends from this library.
#
#   examples/blk-demo.sh [BUILD_DIR] [--count SECTORS]
#
# Makes a temporary raw image, serves it with examples/vhost-user-blk
# (a VhostUserBackend subclass), and drives it with
# examples/vhost-user-blk-client (a VhostUserFrontend with driver rings
# in shared memory, no VM): write a pattern, flush, read back, compare,
# 8 requests in flight over 2 queues.
# Then shows what the back-end negotiated and what is in the file.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -eu -o pipefail

build=build
count=8192
while [ $# -gt 0 ]; do
  case $1 in
    --count) count=$2; shift 2 ;;
    -h|--help)
      sed -n '2,11s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) build=$1; shift ;;
  esac
done

dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT

truncate -s 16M "$dir/disk.img"
echo "== image: $dir/disk.img (16 MiB of zeros)"
echo "== back-end: vhost-user-blk --socket $dir/blk.sock --image $dir/disk.img --queues 2 --verbose"
"$build/examples/vhost-user-blk" --socket "$dir/blk.sock" --image "$dir/disk.img" --queues 2 --verbose --once \
    > "$dir/backend.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -S "$dir/blk.sock" ] && break; sleep 0.1; done
[ -S "$dir/blk.sock" ] || { cat "$dir/backend.log"; echo "the back-end did not start" >&2; exit 1; }
[ "$count" -le 32768 ] || { echo "--count: the image has 32768 sectors" >&2; exit 1; }

echo "== front-end: vhost-user-blk-client --verify --count $count --queues 2 --queue-depth 8 $dir/blk.sock"
"$build/examples/vhost-user-blk-client" --verify --count "$count" --queues 2 --queue-depth 8 "$dir/blk.sock"
wait $pid || true
pid=

echo "== what the back-end saw"
# leaving out the reset on disconnect (features back to 0, memory unmapped)
grep -E "^(listening|connected|negotiated|memory|disconnected)" "$dir/backend.log" |
  grep -vE "^(negotiated: features 0x0|memory: 0 regions)"
echo "   ($(grep -c '^request:' "$dir/backend.log") control requests:" \
     "$(grep '^request:' "$dir/backend.log" | sed 's/request: //' | sort -u | tr '\n' ' '))"

echo "== the image on the host (od): sector 1 starts with its number << 16, then offsets"
od -Ax -tx8 -N32 -j 512 "$dir/disk.img"
written=$(od -An -v -tx1 -w512 "$dir/disk.img" | grep -cv '^\( 00\)*$' || true)
echo "   sectors holding data: $written of 32768"
[ "$written" = "$count" ] || { echo "expected $count sectors written" >&2; exit 1; }
