#!/bin/bash
# test-qemu-migration.sh BACKEND VHOST_USER_BLK SRCDIR [split|packed] [precopy|postcopy]:
# QEMU 7.2 live-migrates a Linux guest whose disk is a vhost-user-blk
# device, while the guest reads and writes that disk. BACKEND is "ours"
# (the example vhost-user-blk, VHOST_USER_BLK) or "qsd" (qemu-storage-daemon,
# the reference the test is proven against: a failure with "ours" only is
# ours); "packed" puts the device on a packed virtqueue (packed=on).
#
# Two back-end processes serve the same image file, one on the source's
# socket and one on the destination's (qemu-storage-daemon with
# locking=off on its file node, so the second may open it). The source
# QEMU boots the guest (TCG, memory-backend-memfd,share=on); the guest
# writes and reads back 4 KiB slots of the disk with O_DIRECT in rounds
# (tests/make-initramfs.sh, vutest=migrate). The destination QEMU waits
# with -incoming; the migration runs over QMP with max-bandwidth limited
# so that pre-copy needs several passes over RAM while the guest's I/O
# dirties pages through the back-end's log. Once the destination runs,
# the host says "stop" on its console; the guest finishes its round,
# checks every slot with O_DIRECT, through the page cache that came
# across, and from the device again, prints its count and powers off.
#
# Passes when: the migration completes after at least three dirty-bitmap
# syncs, at least one I/O round finished while it ran, the guest ran on
# in the destination (with the ring layout asked for) and reports no bad
# block, and the image on the host holds the last write of every slot;
# with our back-end, also when the source back-end got SET_LOG_BASE and
# the destination's ring started at the index the source's stopped at.
#
# "postcopy" also sets the postcopy-ram capability on both sides and asks
# for migrate-start-postcopy once pre-copy has made a pass: the guest
# runs in the destination while its RAM still comes across, and the
# destination back-end's faults on guest memory are served by QEMU
# through the userfaultfd the back-end gave it. Our back-end runs with
# --postcopy (no CONFIGURE_MEM_SLOTS, which the spec forbids with
# postcopy and QEMU 7.2 would ack), and the test passes only when the
# migration completes in postcopy with everything above true and the
# destination back-end went through POSTCOPY_ADVISE, LISTEN, the memory
# table answered with its own addresses, and END. With qemu-storage-daemon
# 7.2 (PAGEFAULT and CONFIGURE_MEM_SLOTS offered, both acked by QEMU)
# postcopy breaks: the destination's daemon panics ("VHOST_USER_ADD_MEM_REG
# received 0 fds"); that combination is not in the suite.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -euo pipefail

kind=$1
blk=$(readlink -f "$2")
src=$(cd "$3" && pwd)
layout=${4:-split}
mode=${5:-precopy}
usage () { echo "usage: $0 ours|qsd VHOST_USER_BLK SRCDIR [split|packed] [precopy|postcopy]" >&2; exit 2; }
case $kind in ours|qsd) ;; *) usage ;; esac
case $layout in
  split) device_opts= ;;
  packed) device_opts=,packed=on ;;
  *) usage ;;
esac
case $mode in precopy|postcopy) ;; *) usage ;; esac
backend_opts=
[ "$mode" = postcopy ] && backend_opts=--postcopy
slots=32                # as in make-initramfs.sh
# bytes/s: the guest has about 90 MiB of non-zero RAM, so about 8 s a pass
bandwidth=${VHOST_USER_MIGRATION_BANDWIDTH:-12000000}

. "$(dirname "$0")/test-guest.sh"
python=/usr/bin/python3
[ -x $python ] || skip "no /usr/bin/python3 for the QMP client"
if [ "$kind" = qsd ]; then
  qsd=$(command -v qemu-storage-daemon || true)
  [ -n "$qsd" ] || skip "qemu-storage-daemon is not installed (Debian package qemu-system-common)"
fi

tmp=$(mktemp -d /tmp/vhost-user-migration-XXXXXX)
pids=()
cleanup () {
  local i
  # the newest first: QEMU goes before its back-end, so it has no disconnect to report
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -9 "${pids[i]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  # VHOST_USER_MIGRATION_LOGS=DIR keeps every log of the run there
  [ -n "${VHOST_USER_MIGRATION_LOGS:-}" ] && cp "$tmp"/*.log "$VHOST_USER_MIGRATION_LOGS"/ 2>/dev/null
  if [ "${keep:-0}" = 1 ]; then
    for f in "$tmp"/*.log; do echo "# --- $f"; tail -n 200 "$f" | sed 's/^/# /'; done
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
keep=1

fail () { echo "not ok 1 - $*"; exit 1; }
note () { echo "# $*"; }

# qmp SOCKET JSON...: runs each command, prints each return value (one
# JSON line) and, on an error, its description with exit status 1
cat > "$tmp/qmp.py" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile('rw')
def reply():
    while True:
        m = json.loads(f.readline())
        if 'event' not in m:
            return m
reply()
for i, cmd in enumerate(['{"execute":"qmp_capabilities"}'] + sys.argv[2:]):
    f.write(cmd + '\n')
    f.flush()
    m = reply()
    if 'error' in m:
        print(m['error'].get('desc', m['error']))
        sys.exit(1)
    if i > 0:
        print(json.dumps(m['return']))
PY
qmp () { $python "$tmp/qmp.py" "$@"; }
# field JSON NAME: a number or word of a query-migrate reply, nested or not
field () { $python -c 'import json,sys
d = json.loads(sys.argv[1])
for k in sys.argv[2].split("."):
    d = d.get(k, {}) if isinstance(d, dict) else {}
print(d if d != {} else "")' "$1" "$2"; }

sh "$src/tests/make-initramfs.sh" "$tmp/initrd.gz" "$version"
truncate -s 64M "$tmp/disk.img"

start_backend () {  # start_backend NAME: serves the image on NAME.sock
  local sock=$tmp/$1.sock
  if [ "$kind" = qsd ]; then
    "$qsd" --blockdev "driver=file,node-name=f0,filename=$tmp/disk.img,locking=off" \
      --export "type=vhost-user-blk,id=e0,node-name=f0,addr.type=unix,addr.path=$sock,writable=on" \
      > "$tmp/backend-$1.log" 2>&1 &
  else
    VHOST_USER_DEBUG=trace,vring "$blk" --socket "$sock" --image "$tmp/disk.img" $backend_opts \
      > "$tmp/backend-$1.log" 2>&1 &
  fi
  pids+=($!)
  for _ in $(seq 100); do [ -S "$sock" ] && return 0; sleep 0.1; done
  fail "the back-end $1 did not listen"
}

start_qemu () {  # start_qemu NAME [ARGS]: a guest on NAME.sock, console NAME-serial.{in,out}
  local name=$1; shift
  mkfifo "$tmp/$name-serial.in" "$tmp/$name-serial.out"
  "$qemu" -accel tcg -m 256 -nodefaults -no-user-config -display none -no-reboot \
    -object memory-backend-memfd,id=mem,size=256M,share=on -machine q35,memory-backend=mem \
    -chardev "socket,id=c0,path=$tmp/$name.sock" -device "vhost-user-blk-pci,chardev=c0,id=blk0$device_opts" \
    -bios /usr/share/qemu/qboot.rom -kernel "$kernel" -initrd "$tmp/initrd.gz" \
    -append "console=ttyS0 panic=-1 vutest=migrate" \
    -chardev "pipe,id=ser,path=$tmp/$name-serial" -serial chardev:ser \
    -qmp "unix:$tmp/$name.qmp,server=on,wait=off" "$@" > "$tmp/qemu-$name.log" 2>&1 &
  pids+=($!)
  eval "${name}_pid=$!"
  # QEMU holds both fifos open read-write: this reader sees the end when it exits
  cat "$tmp/$name-serial.out" > "$tmp/serial-$name.log" &
  pids+=($!)
  for _ in $(seq 100); do [ -S "$tmp/$name.qmp" ] && return 0; sleep 0.1; done
  fail "QEMU ($name) did not start: $(cat "$tmp/qemu-$name.log")"
}

wait_for () {  # wait_for SECONDS COMMAND...: until COMMAND succeeds
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}
alive () { kill -0 "$1" 2>/dev/null; }
rounds_in () { grep -ao 'GUEST-ROUND: [0-9]*' "$tmp/serial-$1.log" | tail -n 1 | sed 's/.* //'; }
round_at_least () { local r; r=$(rounds_in "$1"); [ "${r:-0}" -ge "$2" ]; }

has () {  # has JSON PATH FEATURE: the feature list at PATH names FEATURE
  $python -c 'import json,sys
d = json.loads(sys.argv[1])
for k in sys.argv[2].split("."):
    d = d.get(k, {})
sys.exit(0 if any(f.startswith(sys.argv[3] + ":") for f in d) else 1)' "$@"
}
# check_device NAME: the guest drives the ring layout asked for
# (VIRTIO_F_RING_PACKED), and the back-end offers VHOST_F_LOG_ALL
check_device () {
  local vs packed=0 want=0
  vs=$(qmp "$tmp/$1.qmp" '{"execute":"x-query-virtio-status","arguments":{"path":"/machine/peripheral/blk0/virtio-backend"}}') ||
    fail "x-query-virtio-status ($1): $vs"
  has "$vs" guest-features.transports VIRTIO_F_RING_PACKED && packed=1
  [ "$layout" = packed ] && want=1
  if [ $packed != $want ]; then
    # libvhost-user (qemu-storage-daemon 7.2) has no packed ring
    if [ "$kind" = qsd ] && ! has "$vs" vhost-dev.features.transports VIRTIO_F_RING_PACKED; then
      skip "qemu-storage-daemon does not offer VIRTIO_F_RING_PACKED"
    fi
    fail "the ring is not $layout ($1): $vs"
  fi
  has "$vs" vhost-dev.features.dev-features VHOST_F_LOG_ALL ||
    fail "the back-end ($1) does not offer VHOST_F_LOG_ALL: $vs"
}

t0=$SECONDS
start_backend src
start_backend dst
start_qemu src
wait_for 120 round_at_least src 1 || fail "the guest did not start its I/O rounds"
note "guest booted and ran a round in $((SECONDS - t0)) s"
check_device src

start_qemu dst -incoming "unix:$tmp/mig.sock"
# the QMP socket comes first; the incoming one once the device is realized
wait_for 60 test -S "$tmp/mig.sock" || fail "the destination never listened for the migration: $(cat "$tmp/qemu-dst.log")"
caps='[{"capability":"events","state":true}]'
if [ "$mode" = postcopy ]; then
  caps='[{"capability":"events","state":true},{"capability":"postcopy-ram","state":true}]'
  if ! out=$(qmp "$tmp/dst.qmp" "{\"execute\":\"migrate-set-capabilities\",\"arguments\":{\"capabilities\":$caps}}"); then
    note "destination refused postcopy-ram: $out"
  fi
fi
out=$(qmp "$tmp/src.qmp" \
  "{\"execute\":\"migrate-set-capabilities\",\"arguments\":{\"capabilities\":$caps}}" \
  "{\"execute\":\"migrate-set-parameters\",\"arguments\":{\"max-bandwidth\":$bandwidth}}") ||
  { [ "$mode" = postcopy ] && note "source refused postcopy-ram: $out"; fail "migration setup: $out"; }

round0=$(rounds_in src)
tm=$SECONDS
out=$(qmp "$tmp/src.qmp" "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"unix:$tmp/mig.sock\"}}") ||
  fail "migrate: $out"

postcopy_asked=
status=
while :; do
  info=$(qmp "$tmp/src.qmp" '{"execute":"query-migrate"}') || fail "query-migrate: $info"
  status=$(field "$info" status)
  case $status in completed|failed|cancelled|postcopy-paused) break ;; esac
  # postcopy once the first pass is under way: it would be over (and the
  # migration done in pre-copy) before a later ask
  if [ "$mode" = postcopy ] && [ -z "$postcopy_asked" ] && [ "$(field "$info" ram.transferred)" -ge 16000000 ] 2>/dev/null; then
    postcopy_asked=1
    if out=$(qmp "$tmp/src.qmp" '{"execute":"migrate-start-postcopy"}'); then
      note "migrate-start-postcopy accepted (status was $status)"
    else
      note "migrate-start-postcopy refused: $out"
    fi
  fi
  [ $((SECONDS - tm)) -lt 300 ] || fail "the migration did not end in 300 s: $info"
  alive "$src_pid" || fail "the source QEMU died: $(tail -n 5 "$tmp/qemu-src.log")"
  sleep 0.5
done
note "migration $status in $((SECONDS - tm)) s: $info"
for f in src dst; do
  grep -a . "$tmp/qemu-$f.log" | sed "s/^/# qemu ($f): /" | head -n 20 || true
done

# postcopy refused: the guest must run on, intact, where it was
where=dst
if [ "$status" != completed ]; then
  [ "$mode" = postcopy ] && [ "$kind" != ours ] || fail "the migration ended $status: $(field "$info" error-desc)"
  note "postcopy migration ended $status: $(field "$info" error-desc)"
  alive "$src_pid" || fail "the source QEMU died after the failed migration"
  s=$(qmp "$tmp/src.qmp" '{"execute":"query-status"}')
  [ "$(field "$s" status)" = running ] || qmp "$tmp/src.qmp" '{"execute":"cont"}' > /dev/null ||
    fail "the source does not run after the failed migration: $s"
  where=src
  if [ "$kind" = ours ] && grep -aq 'recv main: SET_LOG_BASE' "$tmp/backend-src.log"; then
    # the source stopped logging (VHOST_F_LOG_ALL, bit 26, off again) and went on
    feat=$(grep -ao 'recv main: SET_FEATURES .* u64=0x[0-9a-f]*' "$tmp/backend-src.log" | tail -n 1 | sed 's/.*u64=//')
    [ $(( (feat >> 26) & 1 )) = 0 ] || fail "the source back-end still logs after the failed migration: features $feat"
    note "the source back-end logged, then stopped logging (features $feat) and served on"
  fi
else
  syncs=$(field "$info" ram.dirty-sync-count)
  if [ "$mode" = postcopy ]; then
    # pre-copy stops at the switch to postcopy: what it copied counts
    [ "$(field "$info" ram.postcopy-bytes)" -gt 0 ] || fail "the migration completed without postcopy"
  else
    [ "$syncs" -ge 3 ] || fail "only $syncs dirty-bitmap syncs: raise the RAM or lower the bandwidth"
  fi
  round1=$(rounds_in src)
  # (postcopy switches over after one pre-copy pass, and a loaded machine
  # may finish the migration before the guest finishes a round: what it
  # does in the destination while its RAM still arrives is checked below)
  [ "$round1" -gt "$round0" ] || [ "$mode" = postcopy ] ||
    fail "no I/O round finished during the migration (round $round0 before, $round1 after)"
  note "the guest finished rounds $((round0 + 1))-$round1 while migrating ($syncs dirty syncs, $(field "$info" ram.transferred) bytes)"
  s=$(qmp "$tmp/dst.qmp" '{"execute":"query-status"}')
  [ "$(field "$s" status)" = running ] || fail "the destination does not run: $s"
fi
eval "pid=\$${where}_pid"
check_device "$where"

if [ "$kind" = ours ] && [ "$where" = dst ]; then
  # the source back-end was given a log; the ring went on in the
  # destination back-end from where the source one stopped it
  grep -aq 'recv main: SET_LOG_BASE' "$tmp/backend-src.log" ||
    fail "the source back-end never got SET_LOG_BASE"
  base_src=$(grep -ao 'GET_VRING_BASE reply .* num=[0-9]*' "$tmp/backend-src.log" | tail -n 1 | sed 's/.*num=//')
  base_dst=$(grep -ao 'recv main: SET_VRING_BASE .* num=[0-9]*' "$tmp/backend-dst.log" | tail -n 1 | sed 's/.*num=//')
  [ -n "$base_src" ] && [ "$base_src" = "$base_dst" ] ||
    fail "the source back-end stopped its ring at '$base_src', the destination's started at '$base_dst'"
  note "ring base $base_src moved from the source back-end to the destination's"
  if [ "$mode" = postcopy ]; then
    for r in POSTCOPY_ADVISE POSTCOPY_LISTEN POSTCOPY_END; do
      grep -aq "recv main: $r" "$tmp/backend-dst.log" || fail "the destination back-end never got $r"
    done
    # the table while listening is answered with the back-end's addresses
    grep -aq 'send main: SET_MEM_TABLE reply' "$tmp/backend-dst.log" ||
      fail "the destination back-end did not answer its memory table with its own addresses"
    note "the destination back-end served postcopy: ADVISE, LISTEN, its table answered, END"
  fi
fi

echo stop > "$tmp/$where-serial.in"
deadline=$((SECONDS + 120))
while alive "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
alive "$pid" && fail "the guest did not finish in the $where"

grep -a 'GUEST-BAD' "$tmp/serial-$where.log" | head -n 20 | sed 's/^/# /' || true
line=$(grep -a "GUEST-MIGRATE:" "$tmp/serial-$where.log" | tr -d '\r' || true)
note "guest: $line"
[[ $line =~ ^GUEST-MIGRATE:\ ([0-9]+)\ rounds,\ ([0-9]+)\ writes,\ 0\ bad$ ]] ||
  fail "the guest found: ${line:-nothing}"
rounds=${BASH_REMATCH[1]}
writes=${BASH_REMATCH[2]}
[ "$writes" = $((rounds * slots)) ] || fail "$writes writes in $rounds rounds"
if [ "$where" = dst ]; then
  [ "$rounds" -gt "$round1" ] || fail "the guest did no round in the destination"
fi

# and the image on the host: every slot holds its last write
for i in $(seq 0 $((slots - 1))); do
  want=$(printf 'mig %08d slot %04d' $(((rounds - 1) * slots + i)) "$i")
  got=$(dd if="$tmp/disk.img" bs=4096 skip=$((i + 16)) count=1 2>/dev/null | head -c 22)
  [ "$got" = "$want" ] || fail "slot $i on the host holds '$got', not '$want'"
done

keep=${VHOST_USER_KEEP_LOGS:-0}
echo "1..1"
if [ "$where" = dst ]; then
  echo "ok 1 - $kind, $layout ring: migrated in $syncs passes while the guest did I/O; $rounds rounds ($writes O_DIRECT writes) verified by the guest in the destination and on disk ($((SECONDS - t0)) s)"
else
  echo "ok 1 - $kind, $layout ring: postcopy refused ($status), the guest ran on in the source; $rounds rounds verified ($((SECONDS - t0)) s)"
fi
