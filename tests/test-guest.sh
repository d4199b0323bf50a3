# test-guest.sh: what the tests that boot a Linux guest under QEMU share;
# sourced after `set -eu -o pipefail`, as . "$(dirname "$0")/test-guest.sh"
#
#   skip TEXT   the whole test skipped (TAP "1..0 # SKIP"), its logs not
#               shown (keep=0)
#   $qemu       qemu-system-x86_64
#   $kernel     the guest's kernel, Debian's cloud flavour (the newest
#   $version    installed), and its version, for make-initramfs.sh
#
# Without QEMU, that kernel, busybox (the guest's userland) or qboot (its
# firmware) the test is skipped, saying which package to install.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

skip () { keep=0; echo "1..0 # SKIP $*"; exit 0; }

qemu=$(command -v qemu-system-x86_64 || true)
[ -n "$qemu" ] || skip "qemu-system-x86_64 is not installed (Debian package qemu-system-x86)"
kernel=$(ls /boot/vmlinuz-*-cloud-amd64 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$kernel" ] && [ -x /bin/busybox ] && [ -e /usr/share/qemu/qboot.rom ] ||
  skip "No guest: needs linux-image-cloud-amd64, busybox-static and qemu-system-data"
version=${kernel#/boot/vmlinuz-}
