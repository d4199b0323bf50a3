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

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import System from 'system';
import VhostUser from 'gi://VhostUser?version=1.0';

const CHUNK = 64 * 1024;

function log(message) {
    print(message);
}

function usage(status) {
    printerr('usage: vhost-user-rng.js --socket PATH [--once]');
    System.exit(status);
}

let socketPath = null;
let once = false;
for (let i = 0; i < ARGV.length; i++) {
    if (ARGV[i] === '--socket' && i + 1 < ARGV.length)
        socketPath = ARGV[++i];
    else if (ARGV[i] === '--once')
        once = true;
    else if (ARGV[i] === '--help' || ARGV[i] === '-h')
        usage(0);
    else
        usage(2);
}
if (socketPath === null)
    usage(2);

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
