#!/usr/bin/env -S gjs -m
// vhost-user-rng.js: a vhost-user-rng (virtio-rng, entropy) back-end in JavaScript
//
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The same device as vhost-user-rng.py, for GJS: one queue, no config
// space, no feature of its own. The driver posts writable buffers; the
// device fills them with random bytes and hands them back. QEMU's
// -device vhost-user-rng-pci uses it. From a build tree:
//   GI_TYPELIB_PATH=build/vhost-user-glib LD_LIBRARY_PATH=build/vhost-user-glib \
//       gjs -m examples/vhost-user-rng.js --socket /tmp/rng.sock
// It takes the access flags of every example that listens, --socket-mode,
// --socket-group, --allow-uid and --allow-gid (examples/example-access.c).

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import System from 'system';
import VhostUser from 'gi://VhostUser?version=1.0';

const CHUNK = 64 * 1024;

function log(message) {
    print(message);
}

const USAGE = 'usage: vhost-user-rng.js --socket PATH [--once] [--socket-mode OCTAL] [--socket-group GROUP]\n' +
    '                         [--allow-uid USER]... [--allow-gid GROUP]...';

function usage(status) {
    printerr(USAGE);
    System.exit(status);
}

// The options, with the same help as the C and Python examples
// (examples/example-access.c and example_access.py for the last four).
function help() {
    print(`${USAGE}

A vhost-user-rng back-end: random bytes for a guest.

  --socket=PATH          Socket to listen on
  --once                 Exit when the first front-end disconnects
  --socket-mode=OCTAL    The socket file's permissions (default 0600)
  --socket-group=GROUP   The socket file's group
  --allow-uid=USER       Serve only front-ends running as this user (repeatable; with --allow-gid, either may match)
  --allow-gid=GROUP      Serve only front-ends running with this group as their effective one (repeatable)`);
    System.exit(0);
}

let socketPath = null;
let once = false;
let socketMode = null;
let socketGroup = null;
const allowUids = [];
const allowGids = [];
for (let i = 0; i < ARGV.length; i++) {
    // --flag VALUE or --flag=VALUE
    const eq = ARGV[i].startsWith('--') ? ARGV[i].indexOf('=') : -1;
    const flag = eq < 0 ? ARGV[i] : ARGV[i].slice(0, eq);
    const value = () => {
        if (eq >= 0)
            return ARGV[i].slice(eq + 1);
        if (i + 1 >= ARGV.length)
            usage(2);
        return ARGV[++i];
    };
    if (flag === '--socket')
        socketPath = value();
    else if (ARGV[i] === '--once')
        once = true;
    else if (flag === '--socket-mode')
        socketMode = value();
    else if (flag === '--socket-group')
        socketGroup = value();
    else if (flag === '--allow-uid')
        allowUids.push(value());
    else if (flag === '--allow-gid')
        allowGids.push(value());
    else if (ARGV[i] === '--help' || ARGV[i] === '-h')
        help();
    else
        usage(2);
}
if (socketPath === null)
    usage(2);

// (guint32) -1 is "no change" to chown(): never an id to match
const MAX_ID = 0xffffffff - 1;

// A user or group, by number or name (the system's, through getent:
// GLib has no getpwnam()); null if there is none.
function parseId(text, group) {
    if (/^[0-9]+$/.test(text) && Number(text) <= MAX_ID)
        return Number(text);
    let ok, out, status;
    try {
        [ok, out, , status] = GLib.spawn_sync(null, ['getent', '--', group ? 'group' : 'passwd', text], null,
            GLib.SpawnFlags.SEARCH_PATH, null);
    } catch (e) {
        throw new Error(`looking up ${group ? 'group' : 'user'} “${text}”: ${e.message}`);
    }
    if (!ok || status !== 0)
        return null;
    // name:password:id:...; getent takes a key of digits for an id (and
    // wraps it: 4294967296 is root), getpwnam() and getgrnam() never do
    const fields = new TextDecoder().decode(out).split('\n')[0].split(':');
    return fields.length > 2 && fields[0] === text && /^[0-9]+$/.test(fields[2]) ? Number(fields[2]) : null;
}

// The --allow-uid or --allow-gid list as an "au" variant, null if none
// was given (anyone, as far as this list goes).
function parseIds(texts, group) {
    const ids = texts.map(text => {
        const id = parseId(text, group);
        if (id === null)
            throw new Error(`no ${group ? 'group' : 'user'} “${text}”`);
        return id;
    });
    return ids.length > 0 ? new GLib.Variant('au', ids) : null;
}

// What the access flags asked for, before the server listens; an Error
// for a mode that is not octal permissions, a user or group that does
// not exist.
function applyAccess(server) {
    if (socketMode !== null) {
        if (!/^[0-7]+$/.test(socketMode) || parseInt(socketMode, 8) > 0o777)
            throw new Error('--socket-mode wants octal permissions, like 0660');
        server.socket_mode = parseInt(socketMode, 8);
    }
    if (socketGroup !== null) {
        const gid = parseId(socketGroup, true);
        if (gid === null)
            throw new Error(`no group “${socketGroup}”`);
        server.socket_group = gid;
    }
    const uids = parseIds(allowUids, false);
    const gids = parseIds(allowGids, true);
    server.set_allowed_uids(uids);
    server.set_allowed_gids(gids);
}

// JavaScript has no urandom of its own: the kernel's, through GIO
const urandom = Gio.File.new_for_path('/dev/urandom').read(null);

// Fill every buffer the driver made available, then call the driver once.
function onKick(vring) {
    let served = 0;
    for (;;) {
        let ok, element;
        try {
            [ok, element] = vring.pop();
        } catch (e) {
            log(`rng: queue ${vring.get_index()}: ${e.message}`);
            break;
        }
        if (!ok)
            break;
        // in chunks: the driver chooses in_len, and it may be huge
        let written = 0;
        while (written < element.in_len) {
            const chunk = urandom.read_bytes(Math.min(element.in_len - written, CHUNK), null).toArray();
            if (chunk.length === 0)
                break;
            written += element.write(written, chunk);
        }
        try {
            vring.push(element.head, written);
        } catch (e) {
            log(`rng: queue ${vring.get_index()}: ${e.message}`);
            break;
        }
        served += written;
    }
    if (served > 0) {
        vring.call();
        log(`rng: ${served} bytes`);
    }
}

const loop = new GLib.MainLoop(null, false);
const server = VhostUser.Server.new(VhostUser.Backend.$gtype, false);
server.connect('backend-added', (_server, backend) => {
    log('connected: a front-end');
    backend.num_queues = 1;
    backend.get_vring(0).set_kick_handler(onKick);
    backend.connect('disconnected', (_backend, error, _shouldReconnect) => {
        log(`disconnected: ${error.message}`);
        if (once)
            loop.quit();
    });
});
try {
    applyAccess(server);
    server.listen(socketPath);
} catch (e) {
    printerr(`vhost-user-rng.js: ${e.message}`);
    System.exit(1);
}
print(`listening: ${socketPath}`);
for (const signal of [2 /* SIGINT */, 15 /* SIGTERM */]) {
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal, () => {
        loop.quit();
        return GLib.SOURCE_REMOVE;
    });
}
loop.run();
