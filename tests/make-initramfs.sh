#!/bin/sh
# make-initramfs.sh OUT KERNEL_VERSION: a busybox initramfs that loads the
# virtio-pci, virtio-blk, virtio-rng and virtio-net modules of that kernel
# and reports on the disk (vda) and the entropy source (/dev/hwrng),
# whichever is there, or runs the network tests (vutest=net, netloop).
# The guest of the QEMU tests; nothing of it is committed but this script.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -eu

out=$1
version=$2
modules=/lib/modules/$version
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

mkdir -p "$root/bin" "$root/lib"
cp /bin/busybox "$root/bin/busybox"
# in dependency order (modules.dep)
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk virtio-rng failover net_failover virtio_net; do
  f=$(find "$modules" -name "$m.ko*" | head -n 1)
  [ -n "$f" ] || { echo "no module $m in $modules" >&2; exit 1; }
  case "$f" in
    *.ko.xz) xz -dc "$f" > "$root/lib/$m.ko" ;;
    *.ko.zst) zstd -qdc "$f" > "$root/lib/$m.ko" ;;
    *) cp "$f" "$root/lib/$m.ko" ;;
  esac
done

cat > "$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk virtio-rng failover net_failover virtio_net; do
  /bin/busybox insmod /lib/$m.ko
done
# vutest=reconnect: many small synchronous writes, while the host kills
# and restarts the back-end; then every block read back past the cache
if /bin/busybox grep -q vutest=reconnect /proc/cmdline && [ -e /sys/block/vda ]; then
  n=300
  bad=0
  echo "GUEST-IO-START"
  i=0
  while [ $i -lt $n ]; do
    /bin/busybox printf 'block %06d of the reconnect test\n' $i |
      /bin/busybox dd of=/dev/vda bs=4096 seek=$((i + 16)) conv=sync,fsync 2>/dev/null || bad=$((bad + 1))
    i=$((i + 1))
  done
  echo 3 > /proc/sys/vm/drop_caches
  i=0
  while [ $i -lt $n ]; do
    got=$(/bin/busybox dd if=/dev/vda bs=4096 skip=$((i + 16)) count=1 2>/dev/null | /bin/busybox head -c 12)
    [ "$got" = "$(/bin/busybox printf 'block %06d' $i)" ] || bad=$((bad + 1))
    i=$((i + 1))
  done
  echo "GUEST-RECONNECT: $n blocks, $bad bad"
  /bin/busybox poweroff -f
fi
# vutest=migrate: rounds of O_DIRECT writes, each read back O_DIRECT, over
# the slots (4 KiB blocks from block 16 on), while the host migrates the
# guest; a round ends with a buffered read of all the slots, compared with
# an O_DIRECT one, which leaves them in the page cache: pages the device
# wrote, which reach the destination only through the back-end's dirty log.
# The host says "stop" on the console once the guest runs in the
# destination; then every slot is checked three ways (O_DIRECT, the page
# cache as it came across, the device again after dropping the cache).
if /bin/busybox grep -q vutest=migrate /proc/cmdline && [ -e /sys/block/vda ]; then
  n=32
  bad=0
  w=0
  r=0
  (read -r line; : > /stop) < /dev/console &
  echo "GUEST-IO-START"
  while :; do
    i=0
    while [ $i -lt $n ]; do
      tag=$(/bin/busybox printf 'mig %08d slot %04d' $w $i)
      echo "$tag" | /bin/busybox dd of=/dev/vda bs=4096 seek=$((i + 16)) conv=sync oflag=direct 2>/dev/null || bad=$((bad + 1))
      got=$(/bin/busybox dd if=/dev/vda bs=4096 skip=$((i + 16)) count=1 iflag=direct 2>/dev/null | /bin/busybox head -c 22)
      [ "$got" = "$tag" ] || { bad=$((bad + 1)); echo "GUEST-BAD: read '$got' after writing '$tag'"; }
      w=$((w + 1))
      i=$((i + 1))
    done
    r=$((r + 1))
    a=$(/bin/busybox dd if=/dev/vda bs=4096 skip=16 count=$n 2>/dev/null | /bin/busybox md5sum)
    b=$(/bin/busybox dd if=/dev/vda bs=4096 skip=16 count=$n iflag=direct 2>/dev/null | /bin/busybox md5sum)
    [ "$a" = "$b" ] || { bad=$((bad + 1)); echo "GUEST-BAD: round $r buffered read differs from O_DIRECT"; }
    echo "GUEST-ROUND: $r"
    [ -e /stop ] && break
  done
  # slot i last held write (r - 1) * n + i
  for how in direct cache device; do
    [ $how = device ] && echo 3 > /proc/sys/vm/drop_caches
    flag=
    [ $how = direct ] && flag=iflag=direct
    i=0
    while [ $i -lt $n ]; do
      want=$(/bin/busybox printf 'mig %08d slot %04d' $(((r - 1) * n + i)) $i)
      got=$(/bin/busybox dd if=/dev/vda bs=4096 skip=$((i + 16)) count=1 $flag 2>/dev/null | /bin/busybox head -c 22)
      if [ "$got" != "$want" ]; then
        bad=$((bad + 1))
        echo "GUEST-BAD: $how read of slot $i: '$got', not '$want'"
      fi
      i=$((i + 1))
    done
  done
  echo "GUEST-MIGRATE: $r rounds, $w writes, $bad bad"
  /bin/busybox poweroff -f
fi
# vutest=iommu: the disk behind the guest's IOMMU (intel_iommu=on), so
# that every buffer is an IOVA the back-end translates: blocks written
# one by one (O_DIRECT, each flushed), then 1 MiB in one request, the
# cache dropped and everything read back; and the IOMMU's mode (DMA is
# strict, DMA-FQ lazy)
if /bin/busybox grep -q vutest=iommu /proc/cmdline && [ -e /sys/block/vda ]; then
  n=64
  bad=0
  echo "GUEST-IO-START"
  i=0
  while [ $i -lt $n ]; do
    /bin/busybox printf 'iommu block %06d\n' $i |
      /bin/busybox dd of=/dev/vda bs=4096 seek=$((i + 16)) conv=sync,fsync oflag=direct 2>/dev/null || bad=$((bad + 1))
    i=$((i + 1))
  done
  /bin/busybox dd if=/dev/zero bs=65536 count=16 2>/dev/null | /bin/busybox tr '\0' Z |
    /bin/busybox dd of=/dev/vda bs=1048576 seek=4 conv=fsync 2>/dev/null || bad=$((bad + 1))
  /bin/busybox sync
  echo 3 > /proc/sys/vm/drop_caches
  i=0
  while [ $i -lt $n ]; do
    got=$(/bin/busybox dd if=/dev/vda bs=4096 skip=$((i + 16)) count=1 2>/dev/null | /bin/busybox head -c 18)
    [ "$got" = "$(/bin/busybox printf 'iommu block %06d' $i)" ] || bad=$((bad + 1))
    i=$((i + 1))
  done
  z=$(/bin/busybox dd if=/dev/vda bs=1048576 skip=4 count=1 2>/dev/null | /bin/busybox tr -d Z | /bin/busybox wc -c)
  [ "$z" = 0 ] || bad=$((bad + 1))
  echo "GUEST-IOMMU-TYPE: $(/bin/busybox cat /sys/kernel/iommu_groups/*/type 2>/dev/null | /bin/busybox sort -u | /bin/busybox tr '\n' ' ')"
  echo "GUEST-IOMMU: $n blocks and 1 MiB, $bad bad"
  /bin/busybox poweroff -f
fi
# vutest=resize: the disk's size, then again once the host resized it
# (the device's config change, which QEMU passes on as an interrupt)
if /bin/busybox grep -qw vutest=resize /proc/cmdline && [ -e /sys/block/vda ]; then
  s0=$(/bin/busybox cat /sys/block/vda/size)
  echo "GUEST-RESIZE-READY: $s0"
  s=$s0
  i=0
  while [ "$s" = "$s0" ] && [ $i -lt 1200 ]; do
    /bin/busybox sleep 0.1
    s=$(/bin/busybox cat /sys/block/vda/size)
    i=$((i + 1))
  done
  echo "GUEST-RESIZED: $s0 $s"
  /bin/busybox poweroff -f
fi
# vutest=net: eth0 at 10.0.2.2 next to the host's tap at 10.0.2.1: a
# ping, then a file from the host (port 5000) and one to it (5001), with
# their checksums for the host to compare
if /bin/busybox grep -qw vutest=net /proc/cmdline; then
  bb=/bin/busybox
  $bb mkdir -p /tmp
  $bb ip link set lo up
  $bb ip addr add 10.0.2.2/24 dev eth0
  $bb ip link set eth0 up
  echo "GUEST-NET-UP: $($bb cat /sys/class/net/eth0/address) mtu $($bb cat /sys/class/net/eth0/mtu)"
  i=0
  until $bb ping -c 1 -W 1 10.0.2.1 > /dev/null 2>&1 || [ $i -ge 30 ]; do i=$((i + 1)); done
  if $bb ping -c 3 -W 2 10.0.2.1 > /tmp/ping 2>&1; then echo "GUEST-PING: ok"; else echo "GUEST-PING: failed"; $bb cat /tmp/ping; fi
  $bb nc 10.0.2.1 5000 > /tmp/from-host
  echo "GUEST-RECEIVED: $($bb wc -c < /tmp/from-host) $($bb sha256sum /tmp/from-host | $bb cut -d' ' -f1)"
  $bb dd if=/dev/urandom of=/tmp/to-host bs=65536 count=64 2>/dev/null
  echo "GUEST-SENDING: $($bb wc -c < /tmp/to-host) $($bb sha256sum /tmp/to-host | $bb cut -d' ' -f1)"
  $bb nc 10.0.2.1 5001 < /tmp/to-host
  echo "GUEST-COUNTERS: rx $($bb cat /sys/class/net/eth0/statistics/rx_packets) tx $($bb cat /sys/class/net/eth0/statistics/tx_packets)"
  $bb poweroff -f
fi
# vutest=netloop: a device that sends every packet back: ARP requests
# out, and every one of them in again
if /bin/busybox grep -qw vutest=netloop /proc/cmdline; then
  bb=/bin/busybox
  $bb ip addr add 10.0.3.2/24 dev eth0
  $bb ip link set eth0 up
  $bb sleep 1
  rx0=$($bb cat /sys/class/net/eth0/statistics/rx_packets)
  tx0=$($bb cat /sys/class/net/eth0/statistics/tx_packets)
  $bb arping -c 6 -w 8 -I eth0 10.0.3.9 > /dev/null 2>&1
  $bb sleep 1
  rx=$(($($bb cat /sys/class/net/eth0/statistics/rx_packets) - rx0))
  tx=$(($($bb cat /sys/class/net/eth0/statistics/tx_packets) - tx0))
  echo "GUEST-LOOP: sent $tx received $rx"
  $bb poweroff -f
fi
if [ -e /sys/block/vda ]; then
  echo "GUEST: vda $(/bin/busybox cat /sys/block/vda/size) sectors"
  echo "GUEST-READ: $(/bin/busybox dd if=/dev/vda bs=512 count=1 2>/dev/null | /bin/busybox head -c 28)"
  # a pattern written to sector 8, flushed, dropped from the cache, read back
  echo "written by the guest through the ring" | /bin/busybox dd of=/dev/vda bs=512 seek=8 conv=sync,fsync 2>/dev/null
  /bin/busybox sync
  echo 3 > /proc/sys/vm/drop_caches
  echo "GUEST-WROTE: $(/bin/busybox dd if=/dev/vda bs=512 skip=8 count=1 2>/dev/null | /bin/busybox head -c 37)"
fi
if [ -e /dev/hwrng ]; then
  echo "GUEST-RNG-SOURCE: $(/bin/busybox cat /sys/class/misc/hw_random/rng_current)"
  # two reads of 64 bytes, in hex: the test wants them different and not zero
  echo "GUEST-RNG: $(/bin/busybox dd if=/dev/hwrng bs=64 count=1 2>/dev/null | /bin/busybox od -An -v -tx1 | /bin/busybox tr -d ' \n')"
  echo "GUEST-RNG2: $(/bin/busybox dd if=/dev/hwrng bs=64 count=1 2>/dev/null | /bin/busybox od -An -v -tx1 | /bin/busybox tr -d ' \n')"
fi
/bin/busybox poweroff -f
INIT
chmod +x "$root/init"

(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$out"
