#!/usr/bin/python3
# test-gi.py: the VhostUser namespace as bindings see it
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Runs under Debian's /usr/bin/python3 (the one that sees python3-gi),
# with GI_TYPELIB_PATH and LD_LIBRARY_PATH pointing at the build tree.

import errno
import os
import unittest

import gi

gi.require_version("GLib", "2.0")
gi.require_version("GObject", "2.0")
gi.require_version("VhostUser", "1.0")
from gi.repository import GLib, GObject, VhostUser  # noqa: E402


class ErrorDomain(unittest.TestCase):
    def test_quark(self):
        self.assertEqual(GLib.quark_to_string(VhostUser.error_quark()), "vhost-user-error-quark")

    def test_should_reconnect(self):
        # the reference implementation's classification
        reconnect = {
            VhostUser.Error.PARTIAL_MESSAGE,
            VhostUser.Error.SOCKET_BROKEN,
            VhostUser.Error.BACKEND_INTERNAL,
            VhostUser.Error.TIMED_OUT,  # not the reference's: the 1.0 additions come last
        }
        codes = [v for k, v in vars(VhostUser.Error).items() if k.isupper() and isinstance(v, VhostUser.Error)]
        self.assertEqual(len(codes), 16)
        self.assertEqual(int(VhostUser.Error.CLOSED), 14)
        self.assertEqual(int(VhostUser.Error.TIMED_OUT), 15)
        for code in codes:
            error = GLib.Error.new_literal(VhostUser.error_quark(), "test", int(code))
            self.assertEqual(VhostUser.error_should_reconnect(error), code in reconnect, code)

        other = GLib.Error.new_literal(GLib.quark_from_string("g-io-error-quark"), "x", 44)
        self.assertFalse(VhostUser.error_should_reconnect(other))

    def test_from_errno(self):
        self.assertEqual(VhostUser.error_from_errno(errno.EAGAIN), VhostUser.Error.SOCKET_RETRY)
        self.assertEqual(VhostUser.error_from_errno(errno.ENOBUFS), VhostUser.Error.SOCKET_RETRY)
        self.assertEqual(VhostUser.error_from_errno(errno.EPIPE), VhostUser.Error.SOCKET_BROKEN)
        self.assertEqual(VhostUser.error_from_errno(errno.ECONNRESET), VhostUser.Error.SOCKET_BROKEN)
        self.assertEqual(VhostUser.error_from_errno(errno.EACCES), VhostUser.Error.SOCKET_CONNECT)
        self.assertEqual(VhostUser.error_from_errno(errno.EBADF), VhostUser.Error.SOCKET_ERROR)


class Enums(unittest.TestCase):
    def test_request_types(self):
        self.assertEqual(int(VhostUser.RequestType.GET_FEATURES), 1)
        self.assertEqual(int(VhostUser.RequestType.GET_SHMEM_CONFIG), 44)
        self.assertEqual(VhostUser.RequestType.SET_VRING_ADDR.value_nick, "set-vring-addr")
        nicks = {VhostUser.RequestType(n).value_nick for n in range(1, 45)}
        self.assertEqual(len(nicks), 44)
        self.assertIn("set-backend-req-fd", nicks)
        self.assertEqual(GObject.type_name(VhostUser.RequestType.__gtype__), "VhostUserRequestType")

    def test_request_names(self):
        self.assertEqual(VhostUser.request_type_get_name(VhostUser.RequestType.SET_BACKEND_REQ_FD),
                         "SET_BACKEND_REQ_FD")
        self.assertIsNone(VhostUser.request_type_get_name(VhostUser.RequestType.NONE))
        self.assertEqual(
            VhostUser.backend_request_type_get_name(VhostUser.BackendRequestType.SHMEM_MAP),
            "BACKEND_SHMEM_MAP")
        self.assertEqual(VhostUser.BackendRequestType.CONFIG_CHANGE_MSG.value_nick, "config-change-msg")

    def test_protocol_features(self):
        features = VhostUser.ProtocolFeatures.MQ | VhostUser.ProtocolFeatures.REPLY_ACK
        self.assertEqual(int(features), 0b1001)
        self.assertEqual(int(VhostUser.ProtocolFeatures.SHMEM), 1 << 22)
        self.assertEqual(VhostUser.ProtocolFeatures.BACKEND_REQ.first_value_nick, "backend-req")

    def test_virtio_feature_bits(self):
        self.assertEqual(int(VhostUser.VirtioFeatureBit.PROTOCOL_FEATURES), 30)
        self.assertEqual(int(VhostUser.VirtioFeatureBit.RING_PACKED), 34)


class Roles(unittest.TestCase):
    """A back-end written as Python handlers, and a front-end, over a socket pair."""

    def setUp(self):
        import socket
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.backend = VhostUser.Backend.new()
        self.backend.props.protocol_features |= int(VhostUser.ProtocolFeatures.CONFIG)
        self.frontend = VhostUser.Frontend.new()
        from gi.repository import Gio
        self.backend.take_socket(Gio.Socket.new_from_fd(a.detach()))
        self.frontend.take_socket(Gio.Socket.new_from_fd(b.detach()))

    def tearDown(self):
        self.frontend.close()
        self.backend.close()
        ctx = GLib.MainContext.default()
        while ctx.iteration(False):
            pass

    def test_negotiate_and_config(self):
        seen = []

        def on_get_config(backend, invocation, offset, size, flags):
            seen.append((offset, size))
            invocation.return_config(GLib.Bytes.new(bytes(range(offset, offset + size))))
            return True

        self.backend.connect("get-config", on_get_config)
        self.assertTrue(self.frontend.negotiate(1 << 32, int(VhostUser.ProtocolFeatures.CONFIG
                                                             | VhostUser.ProtocolFeatures.REPLY_ACK), None))
        self.assertEqual(self.backend.props.acked_protocol_features,
                         int(VhostUser.ProtocolFeatures.CONFIG | VhostUser.ProtocolFeatures.REPLY_ACK))
        self.assertTrue(self.backend.props.owner)
        config = self.frontend.read_config(4, 8, None)
        self.assertEqual(bytes(config.get_data()), bytes(range(4, 12)))
        self.assertEqual(seen, [(4, 8)])

    def test_error_reply(self):
        def refuse(backend, invocation, index, num):
            invocation.return_error_literal(VhostUser.error_quark(), int(VhostUser.Error.INVALID_PARAM), "no")
            return True

        self.backend.connect("set-vring-num", refuse)
        self.frontend.negotiate(1 << 32, int(VhostUser.ProtocolFeatures.REPLY_ACK), None)
        with self.assertRaises(GLib.Error) as cm:
            self.frontend.set_vring_state(VhostUser.RequestType.SET_VRING_NUM, 0, 256, None)
        self.assertEqual(cm.exception.code, int(VhostUser.Error.BACKEND_INTERNAL))


class Version(unittest.TestCase):
    def test_constants(self):
        self.assertEqual((VhostUser.MAJOR_VERSION, VhostUser.MINOR_VERSION, VhostUser.MICRO_VERSION),
                         (0, 1, 0))
        self.assertEqual(VhostUser.VERSION_S, "0.1.0")


class RingsForBindings(unittest.TestCase):
    """The ring layer's API as a binding sees it (issue 9, point 6)."""

    def test_no_ring_method_hides_gobject(self):
        gobject_methods = {name for name in dir(GObject.Object) if not name.startswith("_")}
        for klass in (VhostUser.Vring, VhostUser.DriverRing):
            own = {name for name, value in vars(klass).items() if type(value).__name__ == "FunctionInfo"}
            self.assertIn("get_size", own)
            self.assertEqual(own & gobject_methods, set(), klass)
        # notify is GObject's again; the driver is told with call()
        self.assertIs(VhostUser.Vring.notify, GObject.Object.notify)
        vring = VhostUser.Backend.new().get_vring(0)
        seen = []
        vring.connect("notify::enabled", lambda *args: seen.append(args))
        vring.notify("enabled")
        self.assertEqual(len(seen), 1)
        self.assertTrue(vring.call())

    def test_element_bytes(self):
        # copy_out takes a caller's buffer, which bindings cannot pass:
        # they read bytes instead
        self.assertFalse(hasattr(VhostUser.VringElement, "copy_out"))
        element = VhostUser.VringElement()
        self.assertEqual(element.read(0, 16).get_data(), b"")

    def test_write_gpa(self):
        low = VhostUser.MemoryRegion.new_memfd(0, 0x10000)
        high = VhostUser.MemoryRegion.new_memfd(0x10000, 0x10000)
        table = VhostUser.MemoryTable.new([low, high])
        data = GLib.Bytes.new(b"across two regions")
        self.assertTrue(table.write_gpa(0x10000 - 6, data))
        self.assertEqual(table.read_gpa(0x10000 - 6, data.get_size()).get_data(), data.get_data())
        with self.assertRaises(GLib.Error) as cm:
            table.write_gpa(0x20000 - 2, data)
        self.assertEqual(cm.exception.code, int(VhostUser.Error.INVALID_PARAM))
        # nothing was written, not even the part that fit
        self.assertEqual(table.read_gpa(0x20000 - 2, 2).get_data(), b"\0\0")

    def test_driver_clears_calls(self):
        region = VhostUser.MemoryRegion.new_memfd(0, 0x10000)
        ring = VhostUser.DriverRing.new(region, 0, 8)
        self.assertFalse(ring.clear_call())
        # the back-end's call, as an eventfd write
        os.write(ring.get_call_fd(), (1).to_bytes(8, "little"))
        self.assertTrue(ring.clear_call())
        self.assertFalse(ring.clear_call())


if __name__ == "__main__":
    unittest.main(verbosity=2)
