#!/usr/bin/python3
# vhost-user-blk.py: a vhost-user-blk back-end in Python, with signal handlers only
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Runs under Debian's /usr/bin/python3 (python3-gi). From a build tree:
#   GI_TYPELIB_PATH=build/vhost-user-glib LD_LIBRARY_PATH=build/vhost-user-glib \
#       examples/vhost-user-blk.py --socket /tmp/blk.sock
# then point QEMU's -device vhost-user-blk-pci at the socket.

import argparse
import signal
import struct
import sys

import gi

gi.require_version("GLib", "2.0")
gi.require_version("VhostUser", "1.0")
from gi.repository import GLib, VhostUser  # noqa: E402

# --socket-mode, --socket-group, --allow-uid, --allow-gid (next to this script)
import example_access  # noqa: E402

VIRTIO_BLK_F_SEG_MAX = 2
VIRTIO_BLK_F_BLK_SIZE = 6
VIRTIO_BLK_F_FLUSH = 9
VIRTIO_BLK_F_MQ = 12
CONFIG_SIZE = 128


def blk_config(capacity_bytes, block_size, num_queues):
    """The virtio-blk config space: capacity in 512-byte sectors, seg_max,
    blk_size, num_queues; zero elsewhere."""
    config = bytearray(CONFIG_SIZE)
    struct.pack_into("<Q", config, 0, capacity_bytes // 512)
    struct.pack_into("<I", config, 12, 126)
    struct.pack_into("<I", config, 20, block_size)
    struct.pack_into("<H", config, 34, num_queues)
    return bytes(config)


def log(*args):
    print(*args, flush=True)


class Device:
    def __init__(self, args):
        self.config = blk_config(args.capacity_mb * 1024 * 1024, args.block_size, args.num_queues)
        self.args = args

    def setup(self, server, backend):
        log("connected: a front-end")
        backend.props.features |= (1 << VIRTIO_BLK_F_SEG_MAX | 1 << VIRTIO_BLK_F_BLK_SIZE
                                   | 1 << VIRTIO_BLK_F_FLUSH | 1 << VIRTIO_BLK_F_MQ)
        backend.props.num_queues = self.args.num_queues

        # every request, by name; returning False lets the default run
        for value in range(1, 45):
            nick = VhostUser.RequestType(value).value_nick
            backend.connect(nick, self.on_request, nick)

        # the config space is answered here, not by the default handler
        backend.connect("get-config", self.on_get_config)
        backend.connect("set-features", self.on_set_features)
        backend.connect("notify::acked-protocol-features", self.on_protocol_features)
        backend.connect("disconnected", self.on_disconnected)

    def on_request(self, backend, invocation, *args):
        nick = args[-1]
        log("request:", nick)
        return False

    def on_get_config(self, backend, invocation, offset, size, flags):
        if offset + size > len(self.config) or size == 0:
            invocation.return_error_literal(VhostUser.error_quark(), VhostUser.Error.INVALID_PARAM,
                                            "config range out of bounds")
        else:
            invocation.return_config(GLib.Bytes.new(self.config[offset:offset + size]))
        log(f"config: {size} bytes at {offset}")
        return True

    def on_set_features(self, backend, invocation, features):
        log(f"negotiated: features 0x{features:x}")
        return False

    def on_protocol_features(self, backend, pspec):
        acked = backend.props.acked_protocol_features
        log(f"negotiated: protocol features 0x{acked:x}")

    def on_disconnected(self, backend, error, should_reconnect):
        log(f"disconnected: {error.message}")
        if self.args.once:
            loop.quit()


parser = argparse.ArgumentParser(description="A vhost-user-blk back-end written with signal handlers.")
parser.add_argument("--socket", required=True, help="socket to listen on")
parser.add_argument("--capacity-mb", type=int, default=64, help="disk size in MiB (default 64)")
parser.add_argument("--block-size", type=int, default=512, help="logical block size (default 512)")
parser.add_argument("--num-queues", type=int, default=1, help="number of queues (default 1)")
parser.add_argument("--once", action="store_true", help="exit when the first front-end disconnects")
example_access.add_arguments(parser)
args = parser.parse_args()

device = Device(args)
loop = GLib.MainLoop()
server = VhostUser.Server.new(VhostUser.Backend.__gtype__, False)
server.connect("backend-added", device.setup)
try:
    example_access.apply(server, args)
    server.listen(args.socket)
except GLib.Error as e:
    print(f"vhost-user-blk.py: {e.message}", file=sys.stderr)
    sys.exit(1)
log(f"listening: {args.socket}")
GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
loop.run()
server.stop()
