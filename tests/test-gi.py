#!/usr/bin/python3
# test-gi.py: the VhostUser namespace as bindings see it
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Runs under Debian's /usr/bin/python3 (the one that sees python3-gi),
# with GI_TYPELIB_PATH and LD_LIBRARY_PATH pointing at the build tree.

import errno
import mmap
import os
import re
import socket
import tempfile
import threading
import unittest

import gi

gi.require_version("GIRepository", "2.0")
gi.require_version("GLib", "2.0")
gi.require_version("GObject", "2.0")
gi.require_version("VhostUser", "1.0")
from gi.repository import GIRepository, Gio, GLib, GObject, VhostUser  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


# -- doc: python await --
class Async:
    """`await Async(obj, "negotiate", args...)`: obj.negotiate_async(args...,
    cancellable, callback) then obj.negotiate_finish(result), in the GLib
    main loop. PyGObject 3.42 has no asyncio loop on GLib; this is enough."""

    def __init__(self, obj, stem, *args, cancellable=None):
        self.obj, self.stem, self.args, self.cancellable = obj, stem, args, cancellable

    def __await__(self):
        return (yield self)


def run(coroutine):
    """Runs a coroutine of Async steps in a GLib.MainLoop; returns its value."""
    loop = GLib.MainLoop()
    outcome = {}

    def step(value=None, error=None):
        try:
            op = coroutine.throw(error) if error else coroutine.send(value)
        except StopIteration as stop:
            outcome["value"] = stop.value
            return loop.quit()
        except BaseException as e:  # noqa: B902: handed to the caller
            outcome["error"] = e
            return loop.quit()

        def done(obj, result, _data):
            try:
                value = getattr(obj, op.stem + "_finish")(result)
            except GLib.Error as e:
                return step(error=e)
            step(value)

        getattr(op.obj, op.stem + "_async")(*op.args, op.cancellable, done, None)

    GLib.idle_add(step)
    loop.run()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
# -- end --


def config_payload(offset, size):
    """GET_CONFIG's payload: u32 offset, size, flags, then size bytes."""
    return offset.to_bytes(4, "little") + size.to_bytes(4, "little") + bytes(4 + size)


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


class SharedFromPython(unittest.TestCase):
    """The back-end channel's typed calls and the front-end's registry,
    from Python: two devices share an object, one maps shared memory."""

    SHARING = int(VhostUser.ProtocolFeatures.BACKEND_REQ | VhostUser.ProtocolFeatures.REPLY_ACK
                  | VhostUser.ProtocolFeatures.BACKEND_SEND_FD | VhostUser.ProtocolFeatures.SHARED_OBJECT
                  | VhostUser.ProtocolFeatures.SHMEM)

    def pair(self, registry):
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        backend = VhostUser.Backend.new()
        backend.props.protocol_features |= self.SHARING
        frontend = VhostUser.Frontend(object_registry=registry)
        backend.take_socket(Gio.Socket.new_from_fd(a.detach()))
        frontend.take_socket(Gio.Socket.new_from_fd(b.detach()))
        self.pairs.append((backend, frontend))
        return backend, frontend

    def setUp(self):
        self.pairs = []

    def tearDown(self):
        for backend, frontend in self.pairs:
            frontend.close()
            backend.close()
        ctx = GLib.MainContext.default()
        while ctx.iteration(False):
            pass

    def test_objects_and_shmem(self):
        registry = VhostUser.ObjectRegistry.new()
        exporter, exporter_fe = self.pair(registry)
        importer, importer_fe = self.pair(registry)
        exporter.set_shmem_region(1, 0x10000)
        for fe in (exporter_fe, importer_fe):
            fe.negotiate(1 << 32, self.SHARING, None)
            fe.setup_backend_channel(None)
        self.assertIs(exporter_fe.props.object_registry, registry)

        obj = os.memfd_create("object")
        os.ftruncate(obj, 0x2000)
        uuid = "12345678-9abc-def0-0102-030405060708"
        self.assertTrue(exporter.add_shared_object(uuid, obj, None))
        self.assertTrue(registry.contains(uuid))
        fd = importer.lookup_shared_object(uuid, None)
        self.assertEqual(os.fstat(fd).st_ino, os.fstat(obj).st_ino)
        os.close(fd)
        with self.assertRaises(GLib.Error) as cm:
            importer.lookup_shared_object("00000000-0000-0000-0000-000000000000", None)
        self.assertTrue(cm.exception.matches(VhostUser.error_quark(), VhostUser.Error.FAILED))

        sizes = exporter_fe.get_shmem_config(None)
        self.assertEqual(sizes[1], 0x10000)
        self.assertTrue(exporter.shmem_map(1, 0x1000, obj, 0, 0x1000, True, None))
        fd, start, length, fd_offset, writable = exporter_fe.lookup_shmem_mapping(1, 0x1800)
        self.assertEqual((start, length, fd_offset, writable), (0x1000, 0x1000, 0, True))
        self.assertEqual(os.fstat(fd).st_ino, os.fstat(obj).st_ino)
        with self.assertRaises(GLib.Error):
            exporter.shmem_map(1, 0x1000, obj, 0, 0x1000, True, None)   # overlaps
        self.assertEqual(exporter_fe.get_n_shmem_mappings(), 1)
        os.close(obj)


class ServerPair(unittest.TestCase):
    """A server in this process (threaded or not) and a front-end connected to it."""

    threaded = False

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.tmp.name, "s.sock")
        self.added = []
        path, setup, threaded = self.path, self.on_added, self.threaded
        # -- doc: python server --
        server = VhostUser.Server.new(VhostUser.Backend.__gtype__, threaded)
        server.connect("backend-added", setup)   # setup(server, backend)
        server.listen(path)
        # -- end --
        self.server = server
        self.frontend = VhostUser.Frontend.new()
        self.frontend.connect_to_path(self.path, 1000, None)

    def on_added(self, server, backend):
        self.added.append((backend, threading.get_ident()))
        self.setup_backend(backend)

    def setup_backend(self, backend):
        pass

    def tearDown(self):
        self.frontend.close()
        self.server.stop()
        ctx = GLib.MainContext.default()
        while ctx.iteration(False):
            pass
        self.tmp.cleanup()


class AsyncFrontend(ServerPair):
    def setup_backend(self, backend):
        backend.props.protocol_features |= int(VhostUser.ProtocolFeatures.CONFIG)
        # -- doc: python deferred --
        def on_get_config(backend, invocation, offset, size, flags):
            def answer():
                invocation.return_config(GLib.Bytes.new(bytes(range(offset, offset + size))))
                return GLib.SOURCE_REMOVE

            GLib.timeout_add(20, answer)   # the invocation keeps the request open
            return True                    # handled: the answer comes later

        backend.connect("get-config", on_get_config)
        # -- end --

    def test_await(self):
        frontend = self.frontend
        # -- doc: python await use --
        async def main():
            await Async(frontend, "negotiate", 1 << 32,
                        VhostUser.ProtocolFeatures.REPLY_ACK | VhostUser.ProtocolFeatures.CONFIG)
            reply, fds = await Async(frontend, "request", VhostUser.RequestType.GET_CONFIG,
                                     GLib.Bytes.new(config_payload(4, 8)), None)
            return bytes(reply.get_data())[12:]

        config = run(main())
        # -- end --
        self.assertEqual(config, bytes(range(4, 12)))
        self.assertTrue(self.added[0][0].props.owner)

    def test_await_error(self):
        async def main():
            # not negotiated: refused before anything is sent
            await Async(self.frontend, "request", VhostUser.RequestType.GET_CONFIG,
                        GLib.Bytes.new(config_payload(0, 4)), None)

        with self.assertRaises(GLib.Error) as cm:
            run(main())
        self.assertTrue(cm.exception.matches(VhostUser.error_quark(), VhostUser.Error.INVALID_OPERATION))


class AsyncPairs(unittest.TestCase):
    """Every _async has a _finish of the same stem taking only the result
    (and outs): what Gio._promisify and the Async helper need."""

    def test_every_async_has_its_finish(self):
        repo = GIRepository.Repository.get_default()
        checked = 0
        for i in range(repo.get_n_infos("VhostUser")):
            info = repo.get_info("VhostUser", i)
            if info.get_type() != GIRepository.InfoType.OBJECT:
                continue
            methods = {GIRepository.object_info_get_method(info, j).get_name():
                       GIRepository.object_info_get_method(info, j)
                       for j in range(GIRepository.object_info_get_n_methods(info))}
            for name in methods:
                if not name.endswith("_async"):
                    continue
                finish = methods.get(name[:-len("_async")] + "_finish")
                where = f"{info.get_name()}.{name}"
                self.assertIsNotNone(finish, where)
                args = [GIRepository.callable_info_get_arg(finish, k)
                        for k in range(GIRepository.callable_info_get_n_args(finish))]
                ins = [a.get_name() for a in args
                       if GIRepository.arg_info_get_direction(a) == GIRepository.Direction.IN]
                self.assertEqual(ins, ["result"], where)
                checked += 1
        self.assertGreater(checked, 20)


class ThreadedServer(ServerPair):
    """PyGObject takes the GIL around each handler: Python handlers run in
    the server's worker threads (one at a time)."""

    threaded = True

    def setup_backend(self, backend):
        self.handler_threads = []

        def on_get_config(backend, invocation, offset, size, flags):
            self.handler_threads.append(threading.get_ident())
            invocation.return_config(GLib.Bytes.new(bytes(size)))
            return True

        backend.props.protocol_features |= int(VhostUser.ProtocolFeatures.CONFIG)
        backend.connect("get-config", on_get_config)

    def test_handlers_in_worker(self):
        self.assertTrue(self.frontend.negotiate(1 << 32, int(VhostUser.ProtocolFeatures.CONFIG), None))
        reply, fds = self.frontend.request(VhostUser.RequestType.GET_CONFIG,
                                           GLib.Bytes.new(config_payload(0, 4)), None, None)
        self.assertEqual(len(reply.get_data()), 12 + 4)
        self.assertEqual(len(self.added), 1)
        worker = self.added[0][1]
        self.assertNotEqual(worker, threading.get_ident())
        self.assertEqual(self.handler_threads, [worker])


class ErrorMatching(unittest.TestCase):
    def test_matches(self):
        # -- doc: python error matching --
        frontend = VhostUser.Frontend.new()
        try:
            frontend.connect_to_path("/nonexistent/vhost.sock", 0, None)
        except GLib.Error as e:
            if not e.matches(VhostUser.error_quark(), VhostUser.Error.SOCKET_CONNECT):
                raise
            retry = VhostUser.error_should_reconnect(e)
            error = e
        # -- end --
        self.assertFalse(retry)
        self.assertEqual(error.domain, "vhost-user-error-quark")
        self.assertEqual(error.code, int(VhostUser.Error.SOCKET_CONNECT))

    def test_domain_in_gir(self):
        # g-ir-scanner ties the enum to its quark (glib:error-domain)
        info = GIRepository.Repository.get_default().find_by_name("VhostUser", "Error")
        self.assertEqual(GIRepository.enum_info_get_error_domain(info), "vhost-user-error-quark")


class FdOwnership(unittest.TestCase):
    """An fd given to a signal handler is borrowed for the emission, in both
    roles, and every such argument says so where bindings read it."""

    def test_signal_fds_are_borrowed(self):
        import xml.etree.ElementTree as ET

        ns = {"c": "http://www.gtk.org/introspection/core/1.0",
              "glib": "http://www.gtk.org/introspection/glib/1.0"}
        gir = None
        for d in os.environ.get("GI_TYPELIB_PATH", "").split(os.pathsep):
            if os.path.exists(os.path.join(d, "VhostUser-1.0.gir")):
                gir = os.path.join(d, "VhostUser-1.0.gir")
        if gir is None:
            self.skipTest("VhostUser-1.0.gir is not beside the typelib")
        checked, wrong = 0, []
        for cls in ET.parse(gir).getroot().iter("{%s}class" % ns["c"]):
            for signal in cls.findall("glib:signal", ns):
                for param in signal.iterfind("c:parameters/c:parameter", ns):
                    type_ = param.find("c:type", ns)
                    if param.get("name") != "fd" or type_ is None or type_.get("name") != "gint":
                        continue
                    checked += 1
                    doc = " ".join((param.findtext("c:doc", "", ns)).split())
                    if "borrowed for the emission" not in doc:
                        wrong.append("%s::%s: %s" % (cls.get("name"), signal.get("name"), doc))
        self.assertGreater(checked, 10)
        self.assertEqual(wrong, [])


class DriverRingMemfd(unittest.TestCase):
    """A Python front-end drives a Python back-end's ring through memfd memory."""

    def test_rng(self):
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        backend = VhostUser.Backend.new()
        backend.props.num_queues = 1

        # -- doc: python device ring --
        def on_kick(vring):
            while True:
                ok, element = vring.pop()
                if not ok:
                    break
                written = element.write(0, b"\x5a" * element.in_len)
                vring.push(element.head, written)
            vring.call()     # tell the driver: its call eventfd

        backend.get_vring(0).set_kick_handler(on_kick)
        # -- end --
        backend.take_socket(Gio.Socket.new_from_fd(a.detach()))
        frontend = VhostUser.Frontend.new()
        frontend.take_socket(Gio.Socket.new_from_fd(b.detach()))
        frontend.negotiate(1 << 32, VhostUser.ProtocolFeatures.REPLY_ACK
                           | VhostUser.ProtocolFeatures.CONFIGURE_MEM_SLOTS, None)
        try:
            # -- doc: python driver ring --
            region = VhostUser.MemoryRegion.new_memfd(0, 1 << 20)   # guest address 0, 1 MiB
            ring = VhostUser.DriverRing.new(region, 0, 64)          # the ring at offset 0
            memory = mmap.mmap(region.get_fd(), region.get_size())  # our view of it

            frontend.add_mem_region(region, None)
            frontend.set_vring_state(VhostUser.RequestType.SET_VRING_NUM, 0, 64, None)
            frontend.set_vring_state(VhostUser.RequestType.SET_VRING_BASE, 0, 0, None)
            frontend.set_vring_addr(0, 0, ring.get_desc_addr(), ring.get_used_addr(),
                                    ring.get_avail_addr(), 0, None)
            frontend.set_vring_fd(VhostUser.RequestType.SET_VRING_CALL, 0, ring.get_call_fd(), None)
            frontend.set_vring_fd(VhostUser.RequestType.SET_VRING_KICK, 0, ring.get_kick_fd(), None)
            frontend.set_vring_state(VhostUser.RequestType.SET_VRING_ENABLE, 0, 1, None)

            # one device-writable buffer of 16 bytes at offset 64 KiB
            ok, head = ring.add([], [], [0x10000], [16])
            ring.kick()
            ctx = GLib.MainContext.default()
            while True:
                ok, used_head, length = ring.get_used()
                if ok:
                    break
                ctx.iteration(True)
            data = memory[0x10000:0x10000 + length]
            # -- end --
            self.assertEqual((used_head, length), (head, 16))
            self.assertEqual(data, b"\x5a" * 16)
            memory.close()
        finally:
            frontend.close()
            backend.close()
            ctx = GLib.MainContext.default()
            while ctx.iteration(False):
                pass


class DeviceFromPython(unittest.TestCase):
    """A Python VMM: a VhostUser.Device starts a Python back-end's ring,
    hears its calls through ring-call::0, and stops it with the base kept."""

    def test_device(self):
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        backend = VhostUser.Backend.new()
        backend.props.num_queues = 1

        def on_kick(vring):
            while True:
                ok, element = vring.pop()
                if not ok:
                    break
                vring.push(element.head, element.write(0, b"\x33" * element.in_len))
            vring.call()

        backend.get_vring(0).set_kick_handler(on_kick)
        backend.take_socket(Gio.Socket.new_from_fd(a.detach()))
        frontend = VhostUser.Frontend.new()
        frontend.take_socket(Gio.Socket.new_from_fd(b.detach()))
        ctx = GLib.MainContext.default()
        try:
            # -- doc: python device --
            region = VhostUser.MemoryRegion.new_memfd(0, 1 << 20)
            ring = VhostUser.DriverRing.new(region, 0, 64)
            device = VhostUser.Device.new(frontend, 1)
            device.props.features = 1 << 32                  # VIRTIO_F_VERSION_1
            device.props.watch_calls = True
            calls = []
            device.connect("ring-call::0", lambda dev, index: calls.append(index))
            device.set_ring(0, ring)
            device.add_memory(region, None)
            device.start(None)            # features, memory, ring 0: QEMU's order
            # -- end --
            self.assertEqual(device.props.state, VhostUser.DeviceState.RUNNING)
            self.assertTrue(device.props.acked_features & (1 << 32))

            ok, head = ring.add([], [], [0x10000], [8])
            ring.kick()
            while not calls:
                ctx.iteration(True)
            ok, used_head, length = ring.get_used()
            self.assertEqual((ok, used_head, length), (True, head, 8))
            self.assertEqual(calls[0], 0)

            device.stop(None)
            self.assertEqual(device.props.state, VhostUser.DeviceState.STOPPED)
            self.assertEqual(device.get_ring_base(0), 1)
        finally:
            frontend.close()
            backend.close()
            while ctx.iteration(False):
                pass


class DocSnippets(unittest.TestCase):
    """Every code block of docs/python.md is run by this file, test-gjs.js, or
    an example test-rng runs."""

    def test_docs_are_tested(self):
        with open(os.path.join(HERE, "..", "docs", "python.md")) as f:
            doc = f.read()
        sources = ""
        for name in ("test-gi.py", "test-gjs.js", os.path.join("..", "examples", "vhost-user-rng.js")):
            with open(os.path.join(HERE, name)) as f:
                sources += f.read()

        def squash(text):
            return re.sub(r"\s+", " ", text).strip()

        sources = squash(sources)
        blocks = re.findall(r"```(python|js)\n(.*?)```", doc, re.S)
        self.assertGreater(len(blocks), 5)
        for lang, block in blocks:
            self.assertIn(squash(block), sources, f"a {lang} block of docs/python.md no test runs")


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
