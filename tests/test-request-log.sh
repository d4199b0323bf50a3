#!/bin/bash
# test-request-log.sh PROBE -- BACK-END...: an example that logs every
# request by name (vhost-user-blk --verbose, vhost-user-blk-handlers)
# logs the ones it has no handler for too. The back-end calls a request's
# vfunc without an emission when nothing is connected to its signal, so
# a log made with emission hooks would see only the handled ones.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -eu -o pipefail

probe=$1
[ "${2:-}" = -- ] || { echo "usage: $0 PROBE -- BACK-END..." >&2; exit 2; }
shift 2
. "$(dirname "$0")/test-lib.sh"

echo "1..2"
"$@" --socket "$dir/b.sock" > "$dir/b.log" 2>&1 &
pids+=($!)
wait_socket "$dir/b.sock" || { quote "$dir/b.log"; fail "the back-end listens"; }
if timeout 30 "$probe" "$dir/b.sock" > "$dir/probe.log" 2>&1; then
  ok "vhost-user-probe was answered"
else
  quote "$dir/probe.log" "$dir/b.log"
  fail "vhost-user-probe was answered"
fi
sleep 0.2
# asked by the probe, answered by the library's defaults
missing=
for request in get-features get-protocol-features set-protocol-features get-queue-num get-config; do
  grep -qx "request: $request" "$dir/b.log" || missing="$missing $request"
done
if [ -z "$missing" ]; then
  ok "every request logged"
else
  quote "$dir/b.log"
  fail "every request logged (missing:$missing)"
fi
