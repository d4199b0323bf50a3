#!/bin/bash
# test-net-dpdk.sh: DPDK 22.11's testpmd, a virtio-net driver we did not
# write (virtio_user), drives the example net device (vhost-user-net).
#
# - loopback: testpmd forwards what it receives (--forward-mode=io) after
#   sending a first burst (--tx-first); our device sends every packet back,
#   so they circulate: what testpmd received must be what it sent, less
#   the burst still on its way, and our counts must agree with its own.
# - sink: testpmd transmits as fast as it can (txonly) and our device
#   must count every packet testpmd says it sent.
# Over split and packed rings, with and without merged receive buffers, one
# and two queue pairs, in the main loop and in queue threads; and the
# Python example (VHOST_USER_NET_PY, through the typelib) in loopback.
#
#   test-net-dpdk.sh NET-DEVICE [quick]
#
# quick (sanitizer builds): two cases instead of all.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -eu -o pipefail

net=$1
quick=${2:-}
testpmd=$(command -v dpdk-testpmd || true)
if [ -z "$testpmd" ]; then
  echo "1..0 # SKIP dpdk-testpmd is not installed (Debian 12: apt-get install dpdk-dev)"
  exit 0
fi

dir=$(mktemp -d)
pids=()
cleanup () {
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir" "/var/run/dpdk/vun$$"* 2>/dev/null || true
}
trap cleanup EXIT

n=0
ok () { n=$((n + 1)); echo "ok $n - $1"; }
fail () { n=$((n + 1)); echo "not ok $n - $1"; exit 1; }
show () { sed "s/^/# /" "$1"; }

wait_for () {  # FILE PATTERN SECONDS
  local i
  for i in $(seq $(($3 * 10))); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# our_total LOG rx|tx: packets over all queue pairs, from the last line
# printed for each
our_total () {
  awk -v dir="$2" '/^net: queue [0-9]+:/ {
      q = $3; sub(":", "", q)
      for (i = 1; i <= NF; i++) if ($i == dir) v[q] = $(i + 1)
    }
    END { t = 0; for (q in v) t += v[q]; print t }' "$1"
}

# testpmd_total LOG RX|TX: the accumulated figure over all ports
testpmd_total () {
  awk -v key="$2-packets:" '/Accumulated forward statistics/ { acc = 1 }
    acc && $1 == key { print $2; exit }' "$1"
}

# run_case NAME OUR-ARGS VDEV-ARGS FORWARD-MODE QUEUES
run_case () {
  local name=$1 ours=$2 vdev=$3 fwd=$4 queues=$5
  local sock=$dir/$name.sock log=$dir/$name.log tplog=$dir/$name.testpmd.log
  local ours_pid tp_pid tp_rx tp_tx our_rx our_tx first=

  [ "$fwd" = io ] && first=--tx-first

  if [ "$ours" = python ]; then
    /usr/bin/python3 "$VHOST_USER_NET_PY" --socket "$sock" --once > "$log" 2>&1 &
  else
    # shellcheck disable=SC2086
    "$net" --socket "$sock" --once --queues "$queues" $ours > "$log" 2>&1 &
  fi
  ours_pid=$!
  pids+=("$ours_pid")
  wait_for "$log" "^listening" 10 || { show "$log"; fail "$name: the device did not start"; }

  # one lcore each for testpmd's main and forwarding threads, the other
  # way round from the CPUs the device is likely on; no hugepages here
  # shellcheck disable=SC2086
  env -u MALLOC_CHECK_ -u MALLOC_PERTURB_ "$testpmd" --no-huge -m 512 --no-pci --iova-mode=va --file-prefix="vun$$$name" --lcores '0@1,1@0' \
    --vdev "virtio_user0,path=$sock,queues=$queues$vdev" -- \
    --forward-mode="$fwd" $first --auto-start --total-num-mbufs=32768 --stats-period 1 \
    --rxq="$queues" --txq="$queues" > "$tplog" 2>&1 &
  tp_pid=$!
  pids+=("$tp_pid")
  # EAL start-up takes seconds on a busy machine, and the link a second
  # more: count from the first packets testpmd reports, then let it run
  if ! wait_for "$tplog" "[RT]x-pps: *[1-9]" 120; then
    show "$tplog"; show "$log"; fail "$name: testpmd never started forwarding"
  fi
  sleep 3
  kill -INT "$tp_pid"
  timeout 60 tail --pid="$tp_pid" -f /dev/null || true
  # --once: the device exits when testpmd goes
  if ! timeout 20 tail --pid="$ours_pid" -f /dev/null; then
    kill -INT "$ours_pid" || true
    sleep 1
  fi

  tp_rx=$(testpmd_total "$tplog" RX)
  tp_tx=$(testpmd_total "$tplog" TX)
  our_rx=$(our_total "$log" rx)
  our_tx=$(our_total "$log" tx)
  echo "# $name: testpmd sent ${tp_tx:-?}, received ${tp_rx:-?}; the device took $our_tx, gave back $our_rx"
  grep "^net: queue" "$log" | tail -n "$queues" | sed "s/^/# /"
  if [ -z "$tp_rx" ] || [ -z "$tp_tx" ]; then
    show "$tplog"; fail "$name: testpmd printed no statistics"
  fi
  if grep -qiE "error|sanitizer|runtime error" "$log"; then
    show "$log"; fail "$name: the device reported an error"
  fi
  case $fwd in
    io)
      # in flight at the stop: at most a burst of 32 per queue, each way
      [ "$tp_rx" -gt 10000 ] && [ $((tp_rx + 64 * queues)) -ge "$tp_tx" ] &&
        [ "$our_rx" -eq "$our_tx" ] && [ "$our_rx" -ge "$tp_rx" ] && [ "$our_tx" -le "$tp_tx" ] ||
        { show "$log"; fail "$name: packets did not circulate"; }
      ;;
    txonly)
      [ "$tp_tx" -gt 10000 ] && [ "$our_tx" -le "$tp_tx" ] && [ $((our_tx * 100)) -ge $((tp_tx * 99)) ] ||
        { show "$log"; fail "$name: the device did not take what testpmd sent"; }
      ;;
  esac
  ok "$name"
}

if [ "$quick" = quick ]; then
  echo "1..2"
  run_case loopback-packed-mrg "--loopback" ",packed_vq=1" io 1
  run_case sink-2q-threads "--sink --queue-threads" "" txonly 2
  exit 0
fi

python=
[ -n "${VHOST_USER_NET_PY:-}" ] && [ -n "${GI_TYPELIB_PATH:-}" ] && /usr/bin/python3 -c "import gi" 2>/dev/null &&
  python=1
echo "1..$((7 + ${python:-0}))"
run_case loopback-split-mrg "--loopback" "" io 1
run_case loopback-packed "--loopback" ",packed_vq=1,mrg_rxbuf=0" io 1
run_case loopback-split-2q-threads "--loopback --queue-threads" ",mrg_rxbuf=0" io 2
run_case loopback-packed-2q-mrg "--loopback" ",packed_vq=1" io 2
run_case loopback-split-poll "--loopback --queue-threads --poll-us 50" "" io 1
run_case sink-split "--sink" "" txonly 1
run_case sink-packed-2q-threads "--sink --queue-threads" ",packed_vq=1" txonly 2
[ -n "$python" ] && run_case python-loopback python "" io 1
exit 0
