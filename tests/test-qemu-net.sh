#!/bin/bash
# test-qemu-net.sh VHOST_USER_NET SRCDIR [packed]: QEMU 7.2 and a Linux
# guest's virtio-net driver over the example net device.
#
# 1. --tap: the device joins a tap interface at 10.0.2.1; the guest, at
#    10.0.2.2, pings it, then takes 4 MiB from a TCP server on the host
#    and sends 4 MiB back; both sides' checksums must agree. With the
#    offloads the tap and the guest negotiate, TCP runs in segments of up
#    to 64 KiB, checksums left to the receiver: merged receive buffers and
#    the virtio-net header, both ways.
# 2. --loopback: the guest's ARP requests all come back to it.
#
# QEMU 7.2's vhost-user net device needs MSI-X off here (vectors=0; see
# PEERS.md). The tap needs root.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -euo pipefail

net=$(readlink -f "$1")
src=$(cd "$2" && pwd)
layout=${3:-split}
case $layout in
  split) device_opts= ;;
  packed) device_opts=,packed=on ;;
  *) echo "usage: $0 VHOST_USER_NET SRCDIR [packed]" >&2; exit 2 ;;
esac

. "$(dirname "$0")/test-guest.sh"
[ "$(id -u)" = 0 ] && [ -c /dev/net/tun ] || skip "A tap interface needs root and /dev/net/tun"

tmp=$(mktemp -d /tmp/vhost-user-net-XXXXXX)
tap=vutap$$
pids=()
cleanup () {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip link del "$tap" 2>/dev/null || true
  if [ "${keep:-0}" = 1 ]; then
    for f in "$tmp"/*.log; do echo "# --- $f"; sed 's/^/# /' "$f"; done
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
keep=1

n=0
echo "1..2"
ok () { n=$((n + 1)); echo "ok $n - $*"; }
fail () { n=$((n + 1)); echo "not ok $n - $*"; exit 1; }

wait_for () {  # wait_for SECONDS COMMAND...
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}

sh "$src/tests/make-initramfs.sh" "$tmp/initrd.gz" "$version"

# boot NAME DEVICE-ARGS GUEST-TEST: the device, then QEMU on its socket
boot () {
  local name=$1 args=$2 test=$3
  rm -f "$tmp/$name.sock"
  # shellcheck disable=SC2086
  "$net" --socket "$tmp/$name.sock" --once --verbose $args > "$tmp/$name-device.log" 2>&1 &
  device=$!
  pids+=("$device")
  wait_for 10 test -S "$tmp/$name.sock" || fail "$name: the device did not listen"
  "$qemu" -accel tcg -m 256 -nodefaults -no-user-config -display none -no-reboot \
    -object memory-backend-memfd,id=mem,size=256M,share=on -machine q35,memory-backend=mem \
    -chardev "socket,id=c0,path=$tmp/$name.sock" -netdev vhost-user,id=n0,chardev=c0 \
    -device "virtio-net-pci,netdev=n0,vectors=0,mac=52:54:00:12:34:56$device_opts" \
    -bios /usr/share/qemu/qboot.rom -kernel "$kernel" -initrd "$tmp/initrd.gz" \
    -append "console=ttyS0 panic=-1 vutest=$test" -serial "file:$tmp/$name-serial.log" > "$tmp/$name-qemu.log" 2>&1 &
  qemu_pid=$!
  pids+=("$qemu_pid")
}

finish () {  # finish NAME: the guest powers off, the device exits after it
  local deadline=$((SECONDS + 240))
  while kill -0 "$qemu_pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
  kill -0 "$qemu_pid" 2>/dev/null && fail "$1: the guest did not finish"
  wait_for 10 sh -c "! kill -0 $device 2>/dev/null" || kill -INT "$device"
  sleep 0.5
  grep "^net: queue" "$tmp/$1-device.log" | tail -n 1 | sed 's/^/# device: /'
}

guest () { grep -a "^$2:" "$tmp/$1-serial.log" | tr -d '\r' | tail -n 1 | sed "s/^$2: //"; }

# --- 1. over a tap ---

# 4 MiB for the guest, and a server that sends it (5000) and takes 4 MiB
# back (5001, read to the byte count, then closed)
dd if=/dev/urandom of="$tmp/to-guest" bs=65536 count=64 2>/dev/null
/usr/bin/python3 - "$tmp" > "$tmp/server.log" 2>&1 <<'PY' &
import hashlib, socket, sys
tmp = sys.argv[1]
def listener(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("10.0.2.1", port))
    s.listen(1)
    return s
import time
# the tap gets its address once the device made it
for _ in range(600):
    try:
        out, back = listener(5000), listener(5001)
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("10.0.2.1 never appeared")
print("listening", flush=True)
c, _ = out.accept()
c.sendall(open(tmp + "/to-guest", "rb").read())
c.close()
c, _ = back.accept()
data = b""
while len(data) < 4 * 1024 * 1024:
    chunk = c.recv(1 << 20)
    if not chunk:
        break
    data += chunk
c.close()
print("received", len(data), hashlib.sha256(data).hexdigest(), flush=True)
PY
pids+=("$!")

boot tap "--tap $tap" net
wait_for 10 ip link show "$tap" > /dev/null 2>&1 || fail "tap: the device made no tap $tap"
ip addr add 10.0.2.1/24 dev "$tap"
ip link set "$tap" up
finish tap

up=$(guest tap GUEST-NET-UP)
echo "# guest: eth0 $up"
[ "$(guest tap GUEST-PING)" = ok ] || fail "tap: the guest could not ping the host"
sent=$(sha256sum "$tmp/to-guest" | cut -d' ' -f1)
got=$(guest tap GUEST-RECEIVED)
echo "# host sent 4194304 $sent; guest received $got"
[ "$got" = "4194304 $sent" ] || fail "tap: the guest received something else"
guest_sent=$(guest tap GUEST-SENDING)
host_got=$(sed -n 's/^received //p' "$tmp/server.log")
echo "# guest sent $guest_sent; host received $host_got"
[ -n "$guest_sent" ] && [ "$host_got" = "$guest_sent" ] || fail "tap: the host received something else"
echo "# guest counters: $(guest tap GUEST-COUNTERS)"
grep -m1 "features" "$tmp/tap-device.log" | sed 's/^/# device: /'
ok "tap ($layout ring): ping, and 4 MiB each way over TCP with matching checksums"

# --- 2. loopback ---

boot loop --loopback netloop
finish loop
line=$(guest loop GUEST-LOOP)
echo "# guest: $line"
set -- $line
[ "${2:-0}" -ge 6 ] && [ "${4:-0}" -ge "${2:-0}" ] || fail "loopback: the guest did not get its packets back: $line"
ok "loopback ($layout ring): every packet the guest sent came back"
keep=${KEEP:-0}
