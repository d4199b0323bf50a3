#!/bin/bash
# test-debian.sh SRCDIR: the Debian packages build from a clean clone
# (dpkg-buildpackage -us -uc -b), lintian finds no error in them, this
# machine satisfies their dependencies, and what they install works on its
# own: unpacked into an empty root (dpkg -x, nothing is installed on the
# machine), the installed vhost-user-probe asks a Python back-end that
# loads the installed typelib and library, through the installed
# vhost-user-trace, and nothing of the build tree is used.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -eu -o pipefail

src=$(cd "$1" && pwd)

skip () { echo "1..0 # SKIP $*"; exit 0; }
for tool in dpkg-buildpackage dh dh_girepository fakeroot; do
  command -v "$tool" > /dev/null ||
    skip "$tool is missing (apt-get install dpkg-dev debhelper gobject-introspection fakeroot)"
done
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import gi' 2>/dev/null || skip "no python3-gi"

tmp=$(mktemp -d /tmp/vhost-user-debian-XXXXXX)
pids=()
cleanup () {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

n=0
ok () { n=$((n + 1)); echo "ok $n - $1"; }
fail () { n=$((n + 1)); echo "not ok $n - $1"; exit 1; }

wait_socket () {
  for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.1; done
  return 1
}

echo "1..4"

# what is committed, as a clone has it (a tree without git: as it is)
if git -C "$src" rev-parse --git-dir > /dev/null 2>&1; then
  git clone -q --no-hardlinks "$src" "$tmp/src"
else
  mkdir "$tmp/src"
  (cd "$src" && tar --exclude='./build*' -cf - .) | tar -xf - -C "$tmp/src"
fi
# the unit suite ran already in this build; the package build skips it
if ! (cd "$tmp/src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -us -uc -b) \
     > "$tmp/build.log" 2>&1; then
  tail -n 40 "$tmp/build.log" | sed "s/^/# /"
  fail "dpkg-buildpackage failed"
fi
arch=$(dpkg --print-architecture)
version=$(dpkg-parsechangelog -l "$tmp/src/debian/changelog" -S Version)
debs=()
for p in libvhost-user-glib-1.0-0 libvhost-user-glib-1.0-dev gir1.2-vhostuser-1.0 vhost-user-glib-tools; do
  deb="$tmp/${p}_${version}_$arch.deb"
  [ -f "$deb" ] || fail "no package $p"
  debs+=("$deb")
done
ok "dpkg-buildpackage -us -uc -b: ${#debs[@]} packages ($(cd "$tmp" && echo *.deb | tr ' ' '\n' | grep -v dbgsym | tr '\n' ' '))"

if command -v lintian > /dev/null; then
  lintian --fail-on error "$tmp/vhost-user-glib_${version}_$arch.changes" > "$tmp/lintian.log" 2>&1 ||
    { sed "s/^/# /" "$tmp/lintian.log"; fail "lintian reports errors"; }
  grep -v "running with root privileges" "$tmp/lintian.log" | sed "s/^/# /" || true
  ok "lintian: no errors"
else
  n=$((n + 1)); echo "ok $n # SKIP lintian is not installed (apt-get install lintian)"
fi

# every dependency installed here, in a version that satisfies it, or
# one of the packages themselves
/usr/bin/python3 - "${debs[@]}" <<'PY' || fail "a dependency is not satisfied on this machine"
import re, subprocess, sys
ours = {subprocess.run(["dpkg-deb", "-f", d, "Package"], capture_output=True, text=True).stdout.strip()
        for d in sys.argv[1:]}
bad = []
for deb in sys.argv[1:]:
    depends = subprocess.run(["dpkg-deb", "-f", deb, "Depends"], capture_output=True, text=True).stdout
    for clause in filter(None, (c.strip() for c in depends.split(","))):
        def satisfied(alt):
            m = re.match(r"([^\s(]+)\s*(?:\((\S+)\s+([^)]+)\))?", alt.strip())
            name, op, ver = m.groups()
            if name.split(":")[0] in ours:
                return True
            q = subprocess.run(["dpkg-query", "-W", "-f", "${Status} ${Version}", name],
                               capture_output=True, text=True)
            if q.returncode != 0 or not q.stdout.startswith("install ok installed"):
                return False
            return op is None or subprocess.run(["dpkg", "--compare-versions", q.stdout.split()[-1],
                                                 {">=": "ge", "<=": "le", "=": "eq", ">>": "gt", "<<": "lt"}[op],
                                                 ver]).returncode == 0
        if not any(satisfied(a) for a in clause.split("|")):
            bad.append(f"{deb.rsplit('/', 1)[-1]}: {clause}")
for b in bad:
    print(f"# unsatisfied: {b}")
sys.exit(1 if bad else 0)
PY
ok "every dependency is satisfied on this machine"

root="$tmp/root"
for deb in "${debs[@]}"; do dpkg -x "$deb" "$root"; done
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
libdir="$root/usr/lib/$multiarch"
for f in usr/bin/vhost-user-probe usr/bin/vhost-user-trace usr/share/man/man1/vhost-user-trace.1.gz \
         "usr/lib/$multiarch/girepository-1.0/VhostUser-1.0.typelib" \
         "usr/lib/$multiarch/pkgconfig/vhost-user-glib-1.0.pc" \
         usr/share/devhelp/books/VhostUser-1.0/VhostUser-1.0.devhelp2; do
  [ -e "$root/$f" ] || fail "the packages do not install /$f"
done
# the programs resolve the library into the unpacked root, not elsewhere
LD_LIBRARY_PATH=$libdir ldd "$root/usr/bin/vhost-user-probe" > "$tmp/ldd.log"
grep -q "libvhost-user-glib-1.0.so.0 => $libdir/" "$tmp/ldd.log" ||
  { sed "s/^/# /" "$tmp/ldd.log"; fail "vhost-user-probe does not load the packaged library"; }

# A Python back-end on the packaged typelib and library (no build tree on
# any path), probed through the packaged trace.
env -u GI_TYPELIB_PATH GI_TYPELIB_PATH="$libdir/girepository-1.0" LD_LIBRARY_PATH="$libdir" \
  /usr/bin/python3 "$tmp/src/examples/vhost-user-rng.py" --socket "$tmp/rng.sock" --once > "$tmp/rng.log" 2>&1 &
pids+=($!)
wait_socket "$tmp/rng.sock" || { sed "s/^/# /" "$tmp/rng.log"; fail "the Python back-end did not listen"; }
LD_LIBRARY_PATH=$libdir "$root/usr/bin/vhost-user-trace" --listen "$tmp/trace.sock" --connect "$tmp/rng.sock" \
  --once --output "$tmp/trace.log" &
pids+=($!)
wait_socket "$tmp/trace.sock" || fail "the packaged vhost-user-trace did not listen"
LD_LIBRARY_PATH=$libdir "$root/usr/bin/vhost-user-probe" --json "$tmp/trace.sock" > "$tmp/probe.json" 2> "$tmp/probe.err" ||
  { sed "s/^/# /" "$tmp/probe.err" "$tmp/rng.log"; fail "the packaged vhost-user-probe failed"; }
sed "s/^/# /" "$tmp/probe.json"
/usr/bin/python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))
assert "version-1" in o["feature-names"], o
assert "protocol-features" in o["feature-names"], o
' "$tmp/probe.json" || fail "the probe's answer is not the Python back-end's offer"
for _ in $(seq 50); do grep -q "^# session 1 ended" "$tmp/trace.log" && break; sleep 0.1; done
grep -q "GET_PROTOCOL_FEATURES reply" "$tmp/trace.log" || { sed "s/^/# /" "$tmp/trace.log"; fail "the trace misses the probe's questions"; }
grep "^# session 1 ended" "$tmp/trace.log" | sed "s/^/# /"
ok "from the unpacked packages only: vhost-user-probe asks a Python back-end through vhost-user-trace"
