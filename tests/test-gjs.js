// test-gjs.js: the VhostUser namespace as a JavaScript author sees it
//
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Run by meson (suite "gi") as `gjs -m test-gjs.js` with GI_TYPELIB_PATH
// and LD_LIBRARY_PATH pointing at the build tree; GJS names the gjs to
// spawn for the tests that need a process of their own. The snippets of
// docs/python.md that show JavaScript are here, so they stay true.

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import System from 'system';
import VhostUser from 'gi://VhostUser?version=1.0';

// -- doc: promisify (docs/python.md "An async front-end") --
// Every `_async` has a `_finish` of the same stem taking only the result,
// so Gio._promisify turns it into a method returning a Promise.
Gio._promisify(VhostUser.Frontend.prototype, 'negotiate_async', 'negotiate_finish');
Gio._promisify(VhostUser.Frontend.prototype, 'request_async', 'request_finish');
Gio._promisify(VhostUser.Frontend.prototype, 'read_config_async', 'read_config_finish');
// -- end --

const tmpdir = GLib.dir_make_tmp('test-gjs-XXXXXX');
let nSockets = 0;
function socketPath() {
    return GLib.build_filenamev([tmpdir, `s${nSockets++}.sock`]);
}

function assert(cond, what) {
    if (!cond)
        throw new Error(`assertion failed: ${what}`);
}

function assertEqual(a, b, what) {
    if (a !== b)
        throw new Error(`${what}: ${a} !== ${b}`);
}

function timeout(ms) {
    return new Promise(resolve => GLib.timeout_add(GLib.PRIORITY_DEFAULT, ms, () => {
        resolve();
        return GLib.SOURCE_REMOVE;
    }));
}

// An unthreaded server in this main loop, a front-end connected to it,
// and the back-end it made, once backend-added ran.
async function pair(setup) {
    const path = socketPath();
    const server = VhostUser.Server.new(VhostUser.Backend.$gtype, false);
    let backend = null;
    server.connect('backend-added', (_server, b) => {
        backend = b;
        setup?.(b);
    });
    server.listen(path);
    const frontend = VhostUser.Frontend.new();
    // the listener's backlog takes the connection; the accept runs in
    // the loop while the front-end awaits its first reply
    frontend.connect_to_path(path, 1000, null);
    return {server, frontend, backend: () => backend};
}

function close({server, frontend}) {
    frontend.close();
    server.stop();
}

// struct { u32 offset, size, flags; u8 data[size] }: GET_CONFIG's payload
function configPayload(offset, size) {
    const buf = new Uint8Array(12 + size);
    const view = new DataView(buf.buffer);
    view.setUint32(0, offset, true);
    view.setUint32(4, size, true);
    view.setUint32(8, 0, true);
    return new GLib.Bytes(buf);
}

const tests = [];
function test(name, fn) {
    tests.push({name, fn});
}

test('a server listens and its program exits cleanly', async () => {
    // dispose ran the default main context while gjs shut down: a crash
    const path = socketPath();
    const script = GLib.build_filenamev([tmpdir, 'exit.js']);
    GLib.file_set_contents(script, `
        import VhostUser from 'gi://VhostUser?version=1.0';
        const server = VhostUser.Server.new(VhostUser.Backend.$gtype, false);
        server.listen('${path}');
        const frontend = VhostUser.Frontend.new();
        frontend.connect_to_path('${path}', 1000, null);
    `);
    const gjs = GLib.getenv('GJS') ?? 'gjs';
    const proc = Gio.Subprocess.new([gjs, '-m', script],
        Gio.SubprocessFlags.STDOUT_PIPE | Gio.SubprocessFlags.STDERR_MERGE);
    const [, out] = await new Promise((resolve, reject) => {
        proc.communicate_utf8_async(null, null, (p, res) => {
            try {
                resolve(p.communicate_utf8_finish(res));
            } catch (e) {
                reject(e);
            }
        });
    });
    assert(proc.get_if_exited(), `gjs exited normally (output: ${out})`);
    assertEqual(proc.get_exit_status(), 0, `exit status (output: ${out})`);
    assert(!out.includes('CRITICAL'), `no critical: ${out}`);
    // dispose at exit stopped the server, which removes its socket file
    assert(!GLib.file_test(path, GLib.FileTest.EXISTS), 'socket file removed');
});

test('a back-end and a front-end in JavaScript, negotiate with await', async () => {
    const p = await pair(backend => {
        // -- doc: feature masks (docs/python.md "64-bit feature masks") --
        // JavaScript's | & << >> work on 32 bits: (1 << 32) is 1, and
        // (2 ** 34) | 1 is 1. Use BigInt for masks above bit 31; a 64-bit
        // property accepts a BigInt and reads back as a Number.
        const VERSION_1 = BigInt(VhostUser.VirtioFeatureBit.VERSION_1);
        const RING_PACKED = BigInt(VhostUser.VirtioFeatureBit.RING_PACKED);
        backend.features = BigInt(backend.features) | (1n << VERSION_1) | (1n << RING_PACKED);
        // -- end --
    });
    const frontend = p.frontend;
    // -- doc: await negotiate --
    await frontend.negotiate_async((1n << 32n) | (1n << 34n),
        VhostUser.ProtocolFeatures.REPLY_ACK | VhostUser.ProtocolFeatures.CONFIG, null);
    // -- end --
    const b = p.backend();
    assert(b !== null, 'backend-added ran');
    // -- doc: test a bit --
    const acked = BigInt(frontend.acked_features);
    const hasPacked = ((acked >> 34n) & 1n) === 1n;
    // -- end --
    assert(hasPacked, 'RING_PACKED acked');
    // the front-end adds PROTOCOL_FEATURES (bit 30) when protocol features are offered
    const PROTOCOL_FEATURES = 1n << BigInt(VhostUser.VirtioFeatureBit.PROTOCOL_FEATURES);
    assertEqual(acked, (1n << 32n) | (1n << 34n) | PROTOCOL_FEATURES, 'acked features');
    assertEqual(BigInt(b.acked_features), acked, 'back-end agrees');
    assert(b.owner, 'SET_OWNER arrived');
    // the trap the docs warn about
    assertEqual(p.frontend.acked_features | 0, 1 << 30, '32-bit | keeps only the low 32 bits');
    close(p);
});

test('a deferred invocation, answered from a timeout', async () => {
    const seen = [];
    const p = await pair(backend => {
        // a watcher connected first: returning false lets the next handler run
        backend.connect('get-config', (_backend, _invocation, offset, size) => {
            seen.push([offset, size]);
            return false;
        });
        // -- doc: deferred invocation (JavaScript) --
        backend.connect('get-config', (_backend, invocation, offset, size, _flags) => {
            // keep the invocation and answer later; until then the
            // connection reads no further request
            GLib.timeout_add(GLib.PRIORITY_DEFAULT, 20, () => {
                const data = new Uint8Array(size).map((_, i) => offset + i);
                invocation.return_config(new GLib.Bytes(data));
                return GLib.SOURCE_REMOVE;
            });
            return true;  // handled: the default does not run
        });
        // -- end --

    });
    await p.frontend.negotiate_async(1n << 32n,
        VhostUser.ProtocolFeatures.REPLY_ACK | VhostUser.ProtocolFeatures.CONFIG, null);
    const config = await p.frontend.read_config_async(0, 2, null);
    assertEqual(Array.from(config.toArray()).join(','), '0,1', 'read_config');
    const [reply] = await p.frontend.request_async(VhostUser.RequestType.GET_CONFIG,
        configPayload(4, 8), null, null);
    const bytes = reply.toArray();
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    assertEqual(view.getUint32(0, true), 4, 'offset');
    assertEqual(view.getUint32(4, true), 8, 'size');
    assertEqual(Array.from(bytes.subarray(12)).join(','), '4,5,6,7,8,9,10,11', 'config');
    assertEqual(JSON.stringify(seen), '[[0,2],[4,8]]', 'the handler ran once per request');
    close(p);
});

test('errors match by domain and code', async () => {
    const p = await pair(backend => {
        backend.connect('set-vring-num', (_backend, invocation, _index, _num) => {
            invocation.return_error_literal(VhostUser.error_quark(), VhostUser.Error.INVALID_PARAM, 'no');
            return true;
        });
    });
    await p.frontend.negotiate_async(1n << 32n, VhostUser.ProtocolFeatures.REPLY_ACK, null);
    const payload = new Uint8Array(8);
    new DataView(payload.buffer).setUint32(4, 256, true);
    const frontend = p.frontend;
    let refused = null;
    // -- doc: error matching (JavaScript) --
    try {
        await frontend.request_async(VhostUser.RequestType.SET_VRING_NUM,
            new GLib.Bytes(payload), null, null);
    } catch (e) {
        // the back-end answered with a failure status
        if (!e.matches(VhostUser.Error, VhostUser.Error.BACKEND_INTERNAL))
            throw e;
        refused = e;
    }
    // -- end --
    assert(refused !== null, 'refused');
    assert(refused instanceof VhostUser.Error, 'an instance of the domain');
    assert(VhostUser.error_should_reconnect(refused), 'the back-end failed: worth reconnecting');
    close(p);

    try {
        VhostUser.Frontend.new().connect_to_path(GLib.build_filenamev([tmpdir, 'nobody']), 0, null);
        throw new Error('connected to nothing');
    } catch (e) {
        assert(e.matches(VhostUser.error_quark(), VhostUser.Error.SOCKET_CONNECT), `${e}`);
        assertEqual(e.domain, VhostUser.error_quark(), 'domain');
    }
});

test('a threaded server refuses to listen in GJS, with a catchable error', () => {
    // worker threads would call JavaScript outside the main thread
    const server = VhostUser.Server.new(VhostUser.Backend.$gtype, true);
    const path = socketPath();
    try {
        server.listen(path);
        throw new Error('listened');
    } catch (e) {
        assert(e.matches(VhostUser.Error, VhostUser.Error.INVALID_OPERATION), `${e}`);
    }
    assert(!GLib.file_test(path, GLib.FileTest.EXISTS), 'no socket file left');
});

test('an idle of the default context does not run when a server is dropped', () => {
    let ran = false;
    const id = GLib.idle_add(GLib.PRIORITY_DEFAULT, () => {
        ran = true;
        return GLib.SOURCE_REMOVE;
    });
    const server = VhostUser.Server.new(VhostUser.Backend.$gtype, false);
    server.listen(socketPath());
    server.stop();
    server.run_dispose();
    assert(!ran, 'stop and dispose dispatched nothing');
    GLib.source_remove(id);
});

// A tiny TAP runner: each test in turn, in the main loop.
const loop = new GLib.MainLoop(null, false);
let failed = 0;
print(`1..${tests.length}`);
(async () => {
    for (const [i, {name, fn}] of tests.entries()) {
        try {
            // eslint-disable-next-line no-await-in-loop
            await Promise.race([fn(), timeout(20000).then(() => {
                throw new Error('timed out');
            })]);
            print(`ok ${i + 1} - ${name}`);
        } catch (e) {
            failed++;
            print(`not ok ${i + 1} - ${name}`);
            for (const line of `${e}\n${e.stack ?? ''}`.split('\n'))
                print(`# ${line}`);
        }
    }
})().finally(() => loop.quit());
loop.run();

GLib.spawn_command_line_sync(`rm -rf ${tmpdir}`);
System.exit(failed ? 1 : 0);
