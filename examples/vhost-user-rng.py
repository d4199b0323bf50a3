#!/usr/bin/python3
# vhost-user-rng.py: a vhost-user-rng (virtio-rng, entropy) back-end in Python
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The simplest device there is: one queue, no config space, no feature
# of its own. The driver posts writable buffers; the device fills them
# with random bytes and hands them back. QEMU's -device vhost-user-rng-pci
# uses it. From a build tree:
#   GI_TYPELIB_PATH=build/vhost-user-glib LD_LIBRARY_PATH=build/vhost-user-glib \
#       /usr/bin/python3 examples/vhost-user-rng.py --socket /tmp/rng.sock

import argparse
import os
import signal
import sys

import gi

gi.require_version("GLib", "2.0")
gi.require_version("VhostUser", "1.0")
from gi.repository import GLib, VhostUser  # noqa: E402

# --socket-mode, --socket-group, --allow-uid, --allow-gid (next to this script)
import example_access  # noqa: E402


CHUNK = 64 * 1024


def log(*args):
    print(*args, flush=True)


def on_kick(vring):
    """Fill every buffer the driver made available, then call the driver once."""
    served = 0
    while True:
        try:
            ok, element = vring.pop()
        except GLib.Error as e:
            log(f"rng: queue {vring.get_index()}: {e.message}")
            break
        if not ok:
            break
        # in chunks: the driver chooses in_len, and it may be huge
        written = 0
        while written < element.in_len:
            chunk = os.urandom(min(element.in_len - written, CHUNK))
            written += element.write(written, chunk)
        try:
            vring.push(element.head, written)
        except GLib.Error as e:
            log(f"rng: queue {vring.get_index()}: {e.message}")
            break
        served += written
    if served:
        vring.call()
        log(f"rng: {served} bytes")


def on_backend_added(server, backend):
    log("connected: a front-end")
    backend.props.num_queues = 1
    backend.get_vring(0).set_kick_handler(on_kick)
    backend.connect("disconnected", on_disconnected)


def on_disconnected(backend, error, should_reconnect):
    log(f"disconnected: {error.message}")
    if args.once:
        loop.quit()


parser = argparse.ArgumentParser(description="A vhost-user-rng back-end: random bytes for a guest.")
parser.add_argument("--socket", required=True, help="socket to listen on")
parser.add_argument("--once", action="store_true", help="exit when the first front-end disconnects")
example_access.add_arguments(parser)
args = parser.parse_args()

loop = GLib.MainLoop()
server = VhostUser.Server.new(VhostUser.Backend.__gtype__, False)
server.connect("backend-added", on_backend_added)
try:
    example_access.apply(server, args)
    server.listen(args.socket)
except GLib.Error as e:
    print(f"vhost-user-rng.py: {e.message}", file=sys.stderr)
    sys.exit(1)
log(f"listening: {args.socket}")
GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
loop.run()
