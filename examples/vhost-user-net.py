#!/usr/bin/python3
# vhost-user-net.py: a vhost-user-net (virtio-net) back-end in Python, in loopback
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# One queue pair: receive queue 0, transmit queue 1. Every packet the
# driver transmits comes back on its receive queue, spread over merged
# receive buffers when it needs more than one (VhostUser.Vring.receive()
# fills in num_buffers). A full receive queue leaves the transmit queue
# where it is until the driver posts buffers (VhostUser.Vring.unpop()).
# examples/vhost-user-net.c is the same device in C, with a tap and a sink.
# From a build tree:
#   GI_TYPELIB_PATH=build/vhost-user-glib LD_LIBRARY_PATH=build/vhost-user-glib \
#       /usr/bin/python3 examples/vhost-user-net.py --socket /tmp/net.sock

import argparse
import signal
import sys

import gi

gi.require_version("GLib", "2.0")
gi.require_version("VhostUser", "1.0")
from gi.repository import GLib, VhostUser  # noqa: E402

# --socket-mode, --socket-group, --allow-uid, --allow-gid (next to this script)
import example_access  # noqa: E402

# virtio-net feature bits (virtio 1.2, 5.1.3)
NET_F_MAC = 5
NET_F_MRG_RXBUF = 15
NET_F_STATUS = 16
VERSION_1 = 32

MAC = bytes([0x52, 0x54, 0x00, 0x12, 0x34, 0x57])


def log(*args):
    print(*args, flush=True)


class Pair:
    def __init__(self, backend):
        self.backend = backend
        self.rx = backend.get_vring(0)
        self.tx = backend.get_vring(1)
        # requests a packet may take: popped into, never read back here
        self.scratch = [VhostUser.VringElement() for _ in range(8)]
        self.waiting = False
        self.packets = self.bytes = self.drops = 0
        self.rx.set_kick_handler(self.on_rx_kick)
        self.tx.set_kick_handler(self.on_tx_kick)

    def header_layout(self):
        acked = self.backend.get_acked_features()
        merged = bool(acked & (1 << NET_F_MRG_RXBUF))
        # num_buffers is in the header with either (virtio 1.2, 5.1.6)
        hdr_len = 12 if merged or acked & (1 << VERSION_1) else 10
        return hdr_len, merged

    def on_tx_kick(self, vring):
        hdr_len, merged = self.header_layout()
        received = False
        while not self.waiting:
            try:
                ok, element = self.tx.pop()
            except GLib.Error as e:
                log(f"net: transmit queue: {e.message}")
                break
            if not ok:
                break
            if element.out_len < hdr_len:
                # shorter than its header: no packet
                self.drops += 1
                self.tx.push(element.head, 0)
                continue
            frame = element.read(0, element.out_len).get_data()
            header = bytearray(frame[:hdr_len])
            if hdr_len == 12:
                header[10:12] = (1).to_bytes(2, "little")
            try:
                ok, _ = self.rx.receive(self.scratch, bytes(header), 10 if merged else -1, frame[hdr_len:])
            except GLib.Error as e:
                log(f"net: receive queue: {e.message}")
                self.drops += 1
                ok = True
            if not ok:
                # the receive queue is full: this one waits on the ring
                self.tx.unpop(element.head)
                self.waiting = True
                break
            self.tx.push(element.head, 0)
            self.packets += 1
            self.bytes += element.out_len - hdr_len
            received = True
        self.tx.call()
        if received:
            self.rx.call()

    def on_rx_kick(self, vring):
        if self.waiting:
            self.waiting = False
            self.on_tx_kick(self.tx)


def on_backend_added(server, backend):
    log("connected: a front-end")
    backend.props.features |= (1 << NET_F_MAC) | (1 << NET_F_MRG_RXBUF) | (1 << NET_F_STATUS)
    backend.props.protocol_features |= VhostUser.ProtocolFeatures.CONFIG
    # mac, status (link up)
    backend.set_config(GLib.Bytes.new(MAC + bytes([1, 0])))
    backend.props.num_queues = 2
    pair = Pair(backend)
    pairs.append(pair)
    backend.connect("disconnected", on_disconnected, pair)


def on_disconnected(backend, error, should_reconnect, pair):
    log(f"disconnected: {error.message}")
    log(f"net: queue 0: rx {pair.packets} packets {pair.bytes} bytes 0 drops, "
        f"tx {pair.packets} packets {pair.bytes} bytes {pair.drops} drops")
    if args.once:
        loop.quit()


parser = argparse.ArgumentParser(description="A vhost-user-net back-end in loopback: every packet back to the guest.")
parser.add_argument("--socket", required=True, help="socket to listen on")
parser.add_argument("--once", action="store_true", help="exit when the first front-end disconnects")
example_access.add_arguments(parser)
args = parser.parse_args()

pairs = []
loop = GLib.MainLoop()
server = VhostUser.Server.new(VhostUser.Backend.__gtype__, False)
server.connect("backend-added", on_backend_added)
try:
    example_access.apply(server, args)
    server.listen(args.socket)
except GLib.Error as e:
    print(f"vhost-user-net.py: {e.message}", file=sys.stderr)
    sys.exit(1)
log(f"listening: {args.socket} (1 queue pair, loopback)")
GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
loop.run()
