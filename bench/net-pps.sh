#!/bin/bash
# net-pps.sh: packets per second into a vhost-user-net back-end, side by
# side, all driven by the same DPDK 22.11 testpmd (virtio_user, txonly,
# one queue, --no-huge):
#
#   DPDK net_vhost           the anchor: DPDK's own back-end (a second testpmd
#                            in rxonly, polling on the other CPU)
#   vhost-user-glib          examples/vhost-user-net --sink: in the main loop,
#                            with --queue-threads, and with busy-polling
#                            (--queue-threads --poll-us 50)
#
# at 64-byte and 1500-byte packets. A figure is the median of testpmd's
# per-second Tx-pps (packets the back-end took off the ring; a full ring
# refuses the rest) over SECONDS after the first packets; "ratio" is to
# net_vhost at the same size. The machine has two CPUs: testpmd's
# forwarding core spins on one, the back-end gets the other.
#
#   bench/net-pps.sh BUILD_DIR [SECONDS]
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -eu -o pipefail

build=$(realpath "${1:-build}")
seconds=${2:-5}
net=$build/examples/vhost-user-net
testpmd=$(command -v dpdk-testpmd || true)
[ -n "$testpmd" ] || { echo "net-pps: dpdk-testpmd is not installed (apt-get install dpdk-dev)"; exit 77; }
dir=$(mktemp -d)
pids=()
cleanup () {
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir" /var/run/dpdk/npps$$* 2>/dev/null || true
}
trap cleanup EXIT

wait_for () {  # FILE PATTERN SECONDS
  for _ in $(seq $(($3 * 10))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}

# the driver: txonly into SOCK at SIZE bytes; prints the median Tx-pps
drive () {
  local sock=$1 size=$2 log=$dir/driver.log pid
  "$testpmd" --no-huge -m 512 --no-pci --iova-mode=va --file-prefix="npps$$drv" --lcores '0@1,1@0' \
    --vdev "virtio_user0,path=$sock,queues=1" -- \
    --forward-mode=txonly --txpkts="$size" --auto-start --total-num-mbufs=32768 --stats-period 1 \
    > "$log" 2>&1 &
  pid=$!
  pids+=("$pid")
  wait_for "$log" "Tx-pps: *[1-9]" 120 || { echo "net-pps: testpmd did not start: $(tail -n 5 "$log")" >&2; return 1; }
  sleep $((seconds + 1))
  kill -INT "$pid"
  timeout 30 tail --pid="$pid" -f /dev/null || true
  # the per-second figures after the first that moved, the last one cut
  # short by the stop left out
  grep -o "Tx-pps: *[0-9]*" "$log" | awk '{print $2}' | awk 'f || $1 > 0 {f = 1; print}' |
    head -n "$((seconds + 1))" | tail -n "$seconds" | sort -n |
    awk '{v[NR] = $1} END {if (NR == 0) print 0; else print v[int((NR + 1) / 2)]}'
}

# DPDK's own back-end, polling in a second testpmd
run_dpdk () {
  local size=$1 sock=$dir/dpdk.sock log=$dir/vhost.log pid pps
  rm -f "$sock"
  "$testpmd" --no-huge -m 512 --no-pci --iova-mode=va --file-prefix="npps$$vh" -l 0,1 \
    --vdev "net_vhost0,iface=$sock,queues=1" -- \
    --forward-mode=rxonly --auto-start --total-num-mbufs=32768 --stats-period 1 > "$log" 2>&1 &
  pid=$!
  pids+=("$pid")
  wait_for "$log" "Port statistics" 120 || { echo "net-pps: net_vhost did not start" >&2; return 1; }
  pps=$(drive "$sock" "$size")
  kill -INT "$pid"
  timeout 30 tail --pid="$pid" -f /dev/null || true
  echo "$pps"
}

run_ours () {
  local size=$1; shift
  local sock=$dir/ours.sock pid pps
  rm -f "$sock"
  "$net" --socket "$sock" --sink --once "$@" > "$dir/ours.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  wait_for "$dir/ours.log" "^listening" 10 || { echo "net-pps: vhost-user-net did not start" >&2; return 1; }
  pps=$(drive "$sock" "$size")
  timeout 10 tail --pid="$pid" -f /dev/null || kill -INT "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "$pps"
}

# the device's own CPU time per packet it took, in ns (from its rusage:
# the figure that does not depend on what else the machine runs)
cpu_per_packet () {
  awk '/^net: cpu/ {cpu = $3} /^net: queue/ {for (i = 1; i <= NF; i++) if ($i == "tx") p = $(i + 1)}
       END {if (p > 0) printf "%6.0f", cpu * 1e9 / p; else printf "     -"}' "$dir/ours.log"
}

mpps () { awk -v p="$1" 'BEGIN {printf "%7.2f", p / 1e6}'; }
ratio () { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%5.2f", a / b; else printf "    -"}'; }

echo "net-pps: DPDK testpmd virtio_user txonly -> back-end, one queue, median of ${seconds} s"
printf '%-40s %6s %8s %6s %10s\n' "back-end" "bytes" "Mpps" "ratio" "CPU ns/pkt"
for size in 64 1500; do
  anchor=$(run_dpdk "$size")
  printf '%-40s %6s %8s %6s\n' "DPDK net_vhost (rxonly)" "$size" "$(mpps "$anchor")" "1.00"
  for variant in "main loop" "queue threads" "queue threads, busy-poll 50 us"; do
    case $variant in
      "main loop") pps=$(run_ours "$size") ;;
      "queue threads") pps=$(run_ours "$size" --queue-threads) ;;
      *) pps=$(run_ours "$size" --queue-threads --poll-us 50) ;;
    esac
    printf '%-40s %6s %8s %6s %10s\n' "vhost-user-glib, $variant" "$size" "$(mpps "$pps")" "$(ratio "$pps" "$anchor")" \
      "$(cpu_per_packet)"
  done
done
