#!/usr/bin/python3
# make-seeds.py: the hand-made seed inputs of the fuzz targets
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Writes tests/fuzz/corpus/TARGET/seed-NAME for each target: well-formed
# inputs that reach deep (rings with chains, indirect tables and both
# regions; a whole back-end set-up with memory and started rings), from
# which libFuzzer mutates. The corpus also holds inputs libFuzzer found
# (merged with -merge=1); this script only rewrites the seed-* files.
#
#   tests/fuzz/make-seeds.py [TARGET...]

import os
import struct
import sys

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')
SEEDS = {}


def seed(target, name):
    def register(fn):
        SEEDS.setdefault(target, []).append((name, fn))
        return fn
    return register


# --- the rings (fuzz-ring.c) ---

PAGE = 0x1000
DESC, DRIVER, DEVICE = 0x000, 0x400, 0x600
NEXT, WRITE, INDIRECT = 1, 2, 4
AVAIL, USED = 1 << 7, 1 << 15


def ring_input(setup, num_sel, base, ops, memory, area=b''):
    head = struct.pack('<BBIHB', setup, num_sel, base, len(area), len(ops))
    low = bytearray(PAGE)
    high = bytearray(PAGE)
    for gpa, data in memory:
        target = low if gpa < PAGE else high
        target[gpa % PAGE:gpa % PAGE + len(data)] = data
    return head + bytes(ops) + area + bytes(low) + bytes(high)


def split_memory(avail, used_idx=0, used_event=None, avail_flags=0, num=8):
    descs = [
        (0, (0x800, 16, NEXT, 1)),                   # a blk request: header out,
        (1, (0x900, 512, WRITE | NEXT, 2)),          # data in,
        (2, (0xc00, 1, WRITE, 0)),                   # status in
        (3, (0xd00, 32, INDIRECT, 0)),               # an indirect table of two
        (4, (0x1200, 128, WRITE, 0)),                # one buffer in the high region
        (5, (0x1300, 64, NEXT, 5)),                  # a loop
    ]
    memory = [(DESC + 16 * i, struct.pack('<QIHH', *d)) for i, d in descs]
    memory.append((0xd00, struct.pack('<QIHH', 0x1000, 64, NEXT, 1) + struct.pack('<QIHH', 0x1100, 64, WRITE, 0)))
    ring = struct.pack('<HH', avail_flags, len(avail)) + b''.join(struct.pack('<H', h) for h in avail)
    memory.append((DRIVER, ring))
    if used_event is not None:
        memory.append((DRIVER + 4 + 2 * num, struct.pack('<H', used_event)))
    memory.append((DEVICE, struct.pack('<HH', 0, used_idx)))
    return memory


def packed_memory(wrap=True):
    a = AVAIL if wrap else USED
    descs = [
        (0x800, 16, 0, a | NEXT),
        (0x900, 512, 0, a | WRITE | NEXT),
        (0xc00, 1, 0, a | WRITE),
        (0xd00, 32, 1, a | INDIRECT),
        (0x1200, 128, 2, a | WRITE),
    ]
    memory = [(DESC + 16 * i, struct.pack('<QIHH', *d)) for i, d in enumerate(descs)]
    memory.append((0xd00, struct.pack('<QIHH', 0x1000, 64, 0, 0) + struct.pack('<QIHH', 0x1100, 64, 0, WRITE)))
    return memory


# ops (fuzz-ring.c): 0 pop all (2 bytes per element), 1 pop one (2), 2 push oldest (len),
# 3 push all (a len each), 4 push a bogus head (u16), 5 call, 6 poke (u16 offset, value),
# 7 restart, 8 new base (u32), 9 logging (how[, u16]), 10 stop skip drain, 11 drain and stop
POP_PUSH = [0, 0, 16, 8, 8, 0, 32, 3, 1, 2, 3, 5]
POP_PUSH_ONE_BY_ONE = [1, 0, 1, 2, 7, 5, 1, 4, 4, 2, 9, 5, 1, 0, 0, 4, 3, 0, 5]
LOGGED = [9, 1 | 2 | 8, 0, 0, 4, 8, 4, 16, 3, 64, 64, 64, 9, 1 | 4 | 8, 0, 2, 5]
STOPS = [1, 0, 4, 10, 0, 0, 0, 2, 1, 11, 3, 1, 11, 8, 0, 0, 0, 0, 0, 0, 0]
LOOP = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 6, 2, 4, 5, 0, 0, 0]

# 12 receive (header length, packet length, count offset + 1, scratch), 13 pop a batch (n),
# 14 unpop (newest if odd, else a u16 head)
NET = [12, 12, 100, 11, 3, 13, 3, 14, 1, 14, 0, 5, 0, 2, 8, 12, 12, 200, 11, 0, 12, 0, 60, 0, 0, 5,
       13, 7, 14, 1, 14, 1, 3, 0, 0, 0]

for name, ops, avail, setup in [('net', NET, [1, 4, 1, 4, 2, 1], 0),
                                ('pop-push', POP_PUSH, [0, 3, 4], 0),
                                ('one-by-one', POP_PUSH_ONE_BY_ONE, [0, 3, 4], 0),
                                ('logged', LOGGED, [0, 3, 4], 0),
                                ('stops', STOPS, [0, 3, 4], 0),
                                ('loop', LOOP, [4, 5, 0], 0),
                                ('event-idx', POP_PUSH + [5, 0, 5], [0, 3, 4], 2)]:
    seed('fuzz-split', name)(lambda ops=ops, avail=avail, setup=setup:
                             ring_input(setup, 3, 0, ops, split_memory(avail, used_event=1)))

PACKED_BASE = 0x80008000
for name, ops, setup in [('net', NET, 0), ('pop-push', POP_PUSH, 0), ('one-by-one', POP_PUSH_ONE_BY_ONE, 0),
                         ('logged', LOGGED, 0), ('stops', STOPS, 0), ('event-idx', POP_PUSH + [5, 5], 2)]:
    seed('fuzz-packed', name)(lambda ops=ops, setup=setup:
                              ring_input(setup, 7, PACKED_BASE, ops, packed_memory()))


def split_area(num, inflight, used_idx=0, last_batch_head=0):
    area = bytearray(16 + 16 * num)
    struct.pack_into('<HHHH', area, 8, 1, num, last_batch_head, used_idx)
    for head, counter, nxt in inflight:
        area[16 + 16 * head] = 1
        struct.pack_into('<H', area, 16 + 16 * head + 6, nxt)
        struct.pack_into('<Q', area, 16 + 16 * head + 8, counter)
    return bytes(area)


# split: an area left by a back-end that died with two requests out, one
# with a torn batch; then fresh areas (laid out by the first ring, and
# recovered by the second) of both layouts
seed('fuzz-inflight', 'split-died')(lambda: ring_input(
    0, 3, 0, [0, 0, 0, 0, 0, 2, 1], split_memory([0, 3, 4]), split_area(8, [(3, 2, 0), (0, 1, 3)])))
seed('fuzz-inflight', 'split-torn-batch')(lambda: ring_input(
    0, 3, 0, [0, 0, 0, 0, 0], split_memory([0, 3, 4], used_idx=2), split_area(8, [(0, 1, 3), (3, 2, 4), (4, 3, 0)])))
seed('fuzz-inflight', 'split-fresh')(lambda: ring_input(
    0, 3, 0, [0, 0, 0, 0, 0, 0, 0, 2, 9], split_memory([0, 3, 4]),
    bytes(16 + 16 * 8)))
seed('fuzz-inflight', 'packed-fresh')(lambda: ring_input(
    1, 7, PACKED_BASE, [0, 0, 0, 0, 0, 0, 0, 2, 9], packed_memory(), bytes(32 + 32 * 8)))
seed('fuzz-inflight', 'packed-pushed')(lambda: ring_input(
    1, 7, PACKED_BASE, [0, 0, 0, 0, 0, 0, 0, 2, 9, 7, 2, 3], packed_memory(), bytes(32 + 32 * 8)))


# --- memory tables (fuzz-memtable.c) ---
# ops: 0 set (n, specs), 1 add (spec), 2 remove (index[, spec]), 3 translate, 4 read and write
# spec: how (fd index in bits 0-1; 0x80: four u64; 0x40: u16 size; 0x20: u16 offset),
#       then gpa >> 4 (u16), size, user address >> 4 (u16), offset


def spec(fd, gpa, size_pages, uaddr, offset_pages):
    return struct.pack('<BHBHB', fd, gpa >> 4, size_pages - 1, uaddr >> 4, offset_pages)


def translate(how, *rest):
    return bytes([3, how] + list(rest))


SET_TWO = bytes([0, 2]) + spec(1, 0, 4, 0, 0) + spec(2, 0x4000, 16, 0x8000, 0)
seed('fuzz-memtable', 'set-translate')(lambda: SET_TWO + translate(1, 0, 0) + translate(1, 1, 0xff) +
                                       translate(5, 0, 0xff) + translate(3, 1, 1) + translate(7, 1, 0xff) +
                                       bytes([4, 0xf0, 0x03, 0x40, 0x00]))
seed('fuzz-memtable', 'add-remove')(lambda: bytes([1]) + spec(0, 0x2000, 1, 0x2000, 0) + bytes([1]) +
                                    spec(2, 0x8000, 8, 0x10000, 8) + translate(1, 1, 0) +
                                    bytes([2, 0]) + translate(1, 0, 0) + bytes([2, 9]) + spec(0, 0x2000, 1, 0x2000, 0) +
                                    bytes([4, 0x00, 0x08, 0x00, 0x10]))
seed('fuzz-memtable', 'overlap')(lambda: bytes([0, 2]) + spec(1, 0, 4, 0, 0) + spec(1, 0x3000, 4, 0x9000, 0) +
                                 bytes([1]) + spec(0, 0x3800, 1, 0x20000, 0) + translate(0, 0x80, 0x03))
seed('fuzz-memtable', 'overflow')(lambda: bytes([1, 0x81]) + struct.pack('<QQQQ', 2**64 - 0x1000, 0x2000, 0, 0) +
                                  bytes([1, 0x82]) + struct.pack('<QQQQ', 0, 0x1000, 2**64 - 0x800, 0) +
                                  bytes([1, 0x82]) + struct.pack('<QQQQ', 0, 0x1000, 0, 2**64 - 0x10))
seed('fuzz-memtable', 'eight-slots')(lambda: bytes([0, 8]) + b''.join(spec(i % 3, 0x1000 * i, 1, 0x4000 * i, 0) for i in range(8)) +
                                     bytes([1]) + spec(0, 0x10000, 1, 0x40000, 0) + translate(1, 7, 0) +
                                     bytes([4, 0x00, 0x00, 0x00, 0x80]))


# --- the back-end (fuzz-backend.c) ---
# fd pool: 0 memfd 64 KiB (guest memory), 1 memfd 4 KiB, 2 memfd 1 MiB,
# 3 and 4 eventfds, 5 /dev/null, 6 a socket (a back-end channel)

NEED_REPLY = 1 | (1 << 3)
UADDR = 0x7f0000000000
ACCESS_PLATFORM = 1 << 33
F = {'LOG_ALL': 26, 'INDIRECT': 28, 'EVENT_IDX': 29, 'PROTOCOL': 30, 'VERSION_1': 32, 'PACKED': 34}
PF = {'MQ': 0, 'LOG_SHMFD': 1, 'REPLY_ACK': 3, 'BACKEND_REQ': 5, 'CONFIG': 9, 'BACKEND_SEND_FD': 10,
      'INFLIGHT': 12, 'RESET_DEVICE': 13, 'INBAND': 14, 'MEM_SLOTS': 15, 'STATUS': 16,
      'VRING_BASE_INFLIGHT': 20, 'SKIP_DRAIN': 23}


def bits(table, *names):
    return sum(1 << table[n] for n in names)


def msg(request, payload=b'', fds=(), flags=NEED_REPLY):
    """A record: the control byte names the fds as a run of pool kinds."""
    n = len(fds)
    start = fds[0] if fds else 0
    assert list(fds) == [(start + i) % 7 for i in range(n)]
    return bytes([n | (start << 3)]) + struct.pack('<III', request, flags, len(payload)) + payload


def driver(memfd, offset, data):
    out = b''
    for i in range(0, len(data), 255):
        chunk = data[i:i + 255]
        out += bytes([0x40, memfd]) + struct.pack('<HB', offset + i, len(chunk)) + chunk
    return out


def u64(v):
    return struct.pack('<Q', v)


def state(index, num):
    return struct.pack('<II', index, num)


def vring_addr(index, flags=0, desc=0, avail=0x1000, used=0x2000, log=0):
    return struct.pack('<IIQQQQ', index, flags, UADDR + desc, UADDR + used, UADDR + avail, log)


def negotiate(features=(), protocol=()):
    return (msg(1, flags=1) + msg(2, u64(bits(F, 'VERSION_1', 'PROTOCOL', *features))) +
            msg(15, flags=1) +
            msg(16, u64(bits(PF, 'MQ', 'REPLY_ACK', 'LOG_SHMFD', 'INFLIGHT', 'CONFIG', 'MEM_SLOTS',
                             'STATUS', *protocol))) +
            msg(3))


def mem_table():
    return msg(5, struct.pack('<II', 1, 0) + struct.pack('<QQQQ', 0, 0x10000, UADDR, 0), fds=[0])


def split_ring_memory(packed=False):
    """Three requests in ring 0 (desc 0, avail 0x1000, used 0x2000), data at 0x8000."""
    if packed:
        a = 1 << 7
        descs = struct.pack('<QIHH', 0x8000, 16, 0, a | 1) + struct.pack('<QIHH', 0x8100, 512, 0, a | 2)
        descs += struct.pack('<QIHH', 0x9000, 32, 1, a | 4)
        table = struct.pack('<QIHH', 0x8400, 16, 0, 0) + struct.pack('<QIHH', 0x8500, 64, 0, 2)
        return driver(0, 0, descs) + driver(0, 0x9000, table)
    descs = (struct.pack('<QIHH', 0x8000, 16, 1, 1) + struct.pack('<QIHH', 0x8100, 512, 3, 2) +
             struct.pack('<QIHH', 0x8400, 1, 2, 0) + struct.pack('<QIHH', 0x9000, 32, 4, 0))
    table = struct.pack('<QIHH', 0x8500, 16, 1, 1) + struct.pack('<QIHH', 0x8600, 64, 2, 0)
    avail = struct.pack('<HHHH', 0, 2, 0, 3)
    return driver(0, 0, descs) + driver(0, 0x9000, table) + driver(0, 0x1000, avail)


def ring_setup(index=0, num=8, base=0, addr_flags=0, log=0):
    return (msg(8, state(index, num)) + msg(9, vring_addr(index, addr_flags, log=log)) +
            msg(10, state(index, base)) + msg(13, u64(index), fds=[3]) + msg(12, u64(index), fds=[4]) +
            msg(18, state(index, 1)))


seed('fuzz-backend', 'split-ring')(lambda: negotiate(('INDIRECT',)) + mem_table() + ring_setup() +
                                   split_ring_memory() + msg(11, state(0, 0)))
seed('fuzz-backend', 'packed-ring')(lambda: negotiate(('PACKED', 'EVENT_IDX', 'INDIRECT')) + mem_table() +
                                    ring_setup(base=0x80008000) + split_ring_memory(True) + msg(11, state(0, 0)))
seed('fuzz-backend', 'inflight')(lambda: negotiate(('INDIRECT',)) + mem_table() +
                                 msg(31, struct.pack('<QQHH4x', 0, 0, 2, 8)) +
                                 msg(32, struct.pack('<QQHH4x', 0x1000, 0, 2, 8), fds=[1]) +
                                 ring_setup() + split_ring_memory() + msg(11, state(0, 0)))
seed('fuzz-backend', 'dirty-log')(lambda: negotiate(('INDIRECT', 'LOG_ALL')) + mem_table() + ring_setup(addr_flags=1, log=0x2000) +
                                  msg(6, struct.pack('<QQ', 0x1000, 0), fds=[1]) + split_ring_memory() +
                                  msg(11, state(0, 0)))
seed('fuzz-backend', 'mem-slots')(lambda: negotiate() + msg(36) +
                                  msg(37, u64(0) + struct.pack('<QQQQ', 0, 0x10000, UADDR, 0), fds=[0]) +
                                  msg(37, u64(0) + struct.pack('<QQQQ', 0x100000, 0x1000, UADDR + 0x100000, 0), fds=[1]) +
                                  ring_setup() + split_ring_memory() +
                                  msg(38, u64(0) + struct.pack('<QQQQ', 0x100000, 0x1000, UADDR + 0x100000, 0)) +
                                  msg(11, state(0, 0)))
seed('fuzz-backend', 'config-status')(lambda: negotiate((), ('BACKEND_REQ', 'BACKEND_SEND_FD', 'RESET_DEVICE')) + msg(24, struct.pack('<III', 0, 16, 0) + bytes(16)) +
                                      msg(25, struct.pack('<III', 8, 8, 0) + bytes(range(8))) +
                                      msg(39, u64(0xf)) + msg(40, flags=1) + msg(17, flags=1) +
                                      msg(21, fds=[6]) + msg(34) + msg(4))
seed('fuzz-backend', 'inband-skip-drain')(lambda: negotiate(('INDIRECT',), ('INBAND', 'SKIP_DRAIN', 'BACKEND_REQ')) +
                                          msg(21, fds=[6]) + mem_table() +
                                          msg(8, state(0, 8)) + msg(9, vring_addr(0)) + msg(10, state(0, 0)) +
                                          msg(12, u64(0x100)) + msg(18, state(0, 1)) + split_ring_memory() +
                                          msg(35, state(0, 0)) + msg(45, state(0, 0)))
seed('fuzz-backend', 'hostile')(lambda: negotiate() + msg(5, struct.pack('<II', 2, 0) +
                                                          struct.pack('<QQQQ', 0, 0x10000, UADDR, 0xf000) +
                                                          struct.pack('<QQQQ', 0x8000, 0x1000, UADDR, 0), fds=[0, 1]) +
                                msg(8, state(7, 1000)) + msg(12, u64(0), fds=[5]) + msg(13, u64(1), fds=[2, 3, 4]) +
                                bytes([0]) + struct.pack('<III', 5, 1, 0xffff))


# behind an IOMMU: the ring and buffer addresses are IOVAs, mapped by
# IOTLB_MSG updates (iova, size, uaddr, perm, type); one page is left
# unmapped, so that a walk misses (a BACKEND_IOTLB_MSG on the channel), and
# a range is invalidated under the running ring
IOTLB_UPDATE, IOTLB_INVALIDATE, RW = 2, 3, 3
def iotlb(kind, iova, size, uaddr=0, perm=RW):
    return msg(22, struct.pack('<QQQBB6x', iova, size, uaddr, perm, kind))
def iova_ring_setup(index=0, num=8):
    addr = struct.pack('<IIQQQQ', index, 0, 0, 0x2000, 0x1000, 0)
    return (msg(8, state(index, num)) + msg(9, addr) + msg(10, state(index, 0)) +
            msg(13, u64(index), fds=[3]) + msg(12, u64(index), fds=[4]) + msg(18, state(index, 1)))
F['ACCESS_PLATFORM'] = 33
seed('fuzz-backend', 'iotlb')(lambda: negotiate(('INDIRECT', 'ACCESS_PLATFORM'), ('BACKEND_REQ',)) +
                              msg(21, fds=[6]) + mem_table() +
                              iotlb(IOTLB_UPDATE, 0, 0x9000, UADDR) +
                              iotlb(IOTLB_UPDATE, 0xa000, 0x6000, UADDR + 0xa000, 1) +
                              iova_ring_setup() + split_ring_memory() +
                              iotlb(IOTLB_INVALIDATE, 0x8000, 0x1000) +
                              iotlb(IOTLB_UPDATE, 0x8000, 0x2000, UADDR + 0x8000) +
                              msg(11, state(0, 0)) + iotlb(IOTLB_INVALIDATE, 0, 2**64 - 1))
seed('fuzz-backend', 'iotlb-hostile')(lambda: negotiate(('ACCESS_PLATFORM',), ('BACKEND_REQ',)) + mem_table() +
                                      iotlb(IOTLB_UPDATE, 2**64 - 0x1000, 0x2000, UADDR) +
                                      iotlb(IOTLB_UPDATE, 0, 0x10000, UADDR + 0x8000) +
                                      iotlb(IOTLB_UPDATE, 0x1000, 0, UADDR) +
                                      iotlb(7, 0, 0x1000, UADDR) + iotlb(IOTLB_UPDATE, 0, 0x1000, UADDR, 0) +
                                      iova_ring_setup() + split_ring_memory() + msg(11, state(0, 0)))

# --- the codec (fuzz-codec.c) ---
# data[0]: bit 0 the back-end channel, bit 1 a reply expected, bits 2-5
# the fd count; then the message. Every request the back-end seeds send,
# once per (request, fds, size), and the back-end channel's own.


def backend_records(data):
    pos = 0
    while pos < len(data):
        control = data[pos]
        if control & 0x40:                      # the driver writes memory
            pos += 5 + data[pos + 4]
            continue
        header = data[pos + 1:pos + 13]
        if len(header) < 12:
            return
        size = struct.unpack_from('<I', header, 8)[0]
        yield control & 7, data[pos + 1:pos + 13 + size]
        pos += 13 + size


def codec_seeds():
    seen = {}
    for name, fn in SEEDS['fuzz-backend']:
        for n_fds, message in backend_records(fn()):
            request, _, size = struct.unpack_from('<III', message)
            seen.setdefault((request, n_fds, size), bytes([n_fds << 2]) + message)
    for request, payload, n_fds in [(1, struct.pack('<QQQBB6x', 0x9000, 0x1000, 0, 1, 1), 0),   # IOTLB miss
                                    (2, b'', 0),                                                # config changed
                                    (3, struct.pack('<QQQ', 0, 0, 0x1000), 1),                  # host notifier
                                    (4, u64(1), 0), (5, u64(0), 0)]:                            # call, error
        seen[('backend', request)] = bytes([1 | (n_fds << 2)]) + struct.pack('<III', request, 1 | 8, len(payload)) + payload
    for i, (key, data) in enumerate(sorted(seen.items(), key=lambda kv: str(kv[0]))):
        seed('fuzz-codec', f'{key[0]}-{i}' if key[0] == 'backend' else f'{key[0]}-{key[1]}-{key[2]}')(
            lambda data=data: data)


codec_seeds()

# --- the front-end (fuzz-frontend.c) ---
# records: an operation (0-12, arguments after), raw bytes (0x80), a reply to
# the last request read (0xc0: flags byte, 0 for the right ones; u8 length;
# payload), a back-end channel request (0xe0: request, flags, u8 length,
# payload); the low 3 bits of the last three: fds attached (memfd, eventfd,
# /dev/null)

def reply(payload=b'', flags=0, fds=0):
    return bytes([0xc0 | fds, flags, len(payload)]) + payload


def ack(value=0):
    return reply(u64(value))


def raw(data, fds=0):
    return bytes([0x80 | fds]) + struct.pack('<H', len(data)) + data


def channel(request, payload=b'', need_reply=True, fds=0):
    return bytes([0xe0 | fds, request, 1 if need_reply else 0, len(payload)]) + payload


def op(n, *args):
    return bytes([n]) + b''.join(args)


OFFERED = bits(F, 'VERSION_1', 'PROTOCOL', 'EVENT_IDX', 'INDIRECT', 'PACKED', 'LOG_ALL')
OFFERED_PROTOCOL = bits(PF, 'MQ', 'LOG_SHMFD', 'REPLY_ACK', 'BACKEND_REQ', 'CONFIG', 'BACKEND_SEND_FD', 'INFLIGHT',
                        'RESET_DEVICE', 'MEM_SLOTS', 'STATUS', 'VRING_BASE_INFLIGHT', 'SKIP_DRAIN', 'INBAND') | (1 << 11) | (1 << 18) | (1 << 22)
FE_NEGOTIATE = (op(0, u64(bits(F, 'VERSION_1', 'PROTOCOL', 'EVENT_IDX')), u64(OFFERED_PROTOCOL)) +
                reply(u64(OFFERED)) + reply(u64(OFFERED_PROTOCOL)) + ack() + ack())

seed('fuzz-frontend', 'negotiate')(lambda: FE_NEGOTIATE)
seed('fuzz-frontend', 'requests')(lambda: FE_NEGOTIATE +
                                  op(2, b'\0') + reply(state(0, 7)) +
                                  op(3, b'\0', b'\x10') + reply(struct.pack('<III', 0, 16, 0) + bytes(range(16))) +
                                  op(4, b'\2', struct.pack('<H', 8)) + reply(struct.pack('<QQHH4x', 0x1000, 0, 2, 8), fds=1) +
                                  op(6) + raw(struct.pack('<III', 44, 5, 8 + 8 * 256) + struct.pack('<II', 2, 0) + u64(0x1000) + u64(0x2000) + bytes(8 * 254)) +
                                  op(5) + reply(u64(0), fds=1) +
                                  op(10, b'\0', b'\0', struct.pack('<H', 8)) + ack() +
                                  op(11, b'\0') + ack() + op(12, b'\0', b'\4', b'abcd') + ack() +
                                  op(1, bytes([17, 0])) + reply(u64(2)) +
                                  op(1, bytes([40, 0])) + reply(u64(0xf)))
seed('fuzz-frontend', 'memory')(lambda: FE_NEGOTIATE + op(8) + ack() + op(9) + ack() + op(1, bytes([36, 0])) + reply(u64(8)))
seed('fuzz-frontend', 'backend-channel')(lambda: FE_NEGOTIATE + op(7) + ack() +
                                         channel(2) + channel(4, u64(0)) + channel(5, u64(1)) +
                                         channel(6, bytes(16)) + channel(8, bytes(16), fds=1) +
                                         channel(3, struct.pack('<QQQ', 0, 0x1000, 0), fds=1) +
                                         channel(9, struct.pack('<B7xQQQQ', 0, 0, 0, 0x1000, 0), fds=1) +
                                         channel(1, struct.pack('<QQQBB6x', 0, 0x1000, 0, 3, 2)) +
                                         channel(77, b'', need_reply=False))
# the front-end as the guest's IOMMU: updates and invalidations it sends
# (one the back-end refuses), and the back-end's misses and access failure
# answered each way in turn
FE_IOMMU = (op(0, u64(bits(F, 'VERSION_1', 'PROTOCOL') | ACCESS_PLATFORM), u64(OFFERED_PROTOCOL)) +
            reply(u64(OFFERED | ACCESS_PLATFORM)) + reply(u64(OFFERED_PROTOCOL)) + ack() + ack() + op(7) + ack())


def iotlb_miss(iova, perm=3, kind=1):
    return channel(1, struct.pack('<QQQBB6x', iova, 0, 0, perm, kind))


seed('fuzz-frontend', 'iommu')(lambda: FE_IOMMU +
                               op(0x68, u64(0x1000), u64(0x1000), u64(0x7000), b'\3', b'\2') + reply(u64(0)) +
                               op(0x68, u64(0), u64(2**64 - 1), u64(0), b'\0', b'\3') + reply(u64(1)) +
                               iotlb_miss(0x2010) + op(0x69, b'\1') + iotlb_miss(0x3000, perm=2) + reply(u64(0)) +
                               op(0x69, b'\2') + iotlb_miss(0x4000) + reply(u64(0)) +
                               op(0x69, b'\3') + iotlb_miss(0x5000, perm=1) + iotlb_miss(0x6000, kind=4))
seed('fuzz-frontend', 'lies')(lambda: FE_NEGOTIATE + op(2, b'\1') + reply(state(3, 7)) + op(2, b'\0') + reply(b'\1') +
                              op(3, b'\0', b'\x10') + reply(struct.pack('<III', 0, 200, 0) + bytes(16)) +
                              op(4, b'\2', struct.pack('<H', 8)) + reply(struct.pack('<QQHH4x', 0x100000, 0, 2, 8)) +
                              op(1, bytes([1, 0])) + reply(u64(1), flags=0x1) + bytes([0x80, 12, 0]) + struct.pack('<III', 1, 5, 0xffffff))



# --- the IOTLB (fuzz-iotlb.c) ---

def page(n):
    return bytes([0, n])


def near_top(n):
    return bytes([3]) + struct.pack('<H', n)


def any_u64(v):
    return bytes([2]) + struct.pack('<Q', v)


def io_update(iova, size, uaddr, perm=3):
    return bytes([0]) + iova + size + uaddr + bytes([perm])


def io_invalidate(iova, size, flush=False):
    return bytes([2]) + iova + size + bytes([0 if flush else 1])


def io_translate(iova, length, perm=3):
    return bytes([3]) + iova + length + bytes([perm - 1])


def io_fence(kind, pick=0):
    return bytes([7 | (kind << 3), pick])


# pages 1-2 and 4 mapped, looked up inside, across the end, outside, with
# too little permission; one overlap refused, the same mapping again taken
seed('fuzz-iotlb', 'map-lookup')(lambda: bytes([8]) + io_update(page(1), page(2), page(0x40)) +
                                 io_update(page(4), page(1), page(0x80), perm=1) +
                                 io_update(page(2), page(1), page(0x50)) + io_update(page(1), page(2), page(0x40)) +
                                 io_translate(page(1), page(1)) + io_translate(page(2), page(4)) +
                                 io_translate(page(3), page(1)) + io_translate(page(4), page(1), perm=2) +
                                 bytes([5]) + page(4))
# a table of two, filled past its size: one mapping makes room each time
seed('fuzz-iotlb', 'evict')(lambda: bytes([1]) + b''.join(io_update(page(i), page(1), page(0x10 + i))
                                                          for i in range(1, 6)) + io_translate(page(5), page(1)))
# QEMU's whole-space flush, a range that ends at 2^64, one that wraps
seed('fuzz-iotlb', 'top')(lambda: bytes([4]) + io_update(near_top(0xfff), any_u64(0x1000), page(1)) +
                          io_update(near_top(0), any_u64(2), page(2)) + io_translate(near_top(0), any_u64(2**64 - 1)) +
                          io_invalidate(page(0), page(0), flush=True) + io_translate(near_top(0), page(1)))
# invalidations answered in order: fences made, held, released out of
# order, one cancelled as at a disconnect
seed('fuzz-iotlb', 'fences')(lambda: bytes([4]) + io_fence(0) + io_fence(0) + io_fence(1, 0) + io_fence(0) +
                             io_fence(2, 1) + io_fence(2, 0) + io_fence(3) + io_fence(0) + io_fence(2, 0) +
                             io_fence(2, 0) + io_update(page(1), page(1), page(2)) + bytes([6]))
# the owner goes while eight fences are held (as many as a release
# completes at once): the last release completes them and frees the table
seed('fuzz-iotlb', 'fences-outlive')(lambda: bytes([4]) + b''.join(io_fence(0) for _ in range(8)) + bytes([6 | 8]) +
                                     b''.join(io_fence(2, k) for k in range(1, 8)) + io_fence(2, 0))

# --- the driver ring under a hostile back-end (fuzz-driver-ring.c) ---

def dr_setup(packed=False, event_idx=False, size_sel=3):
    return bytes([(1 if packed else 0) | (2 if event_idx else 0) | (size_sel << 2)])


def dr_add(n_out, n_in, indirect=False, table=0):
    data = bytes([2 if indirect else 0, n_out, n_in]) + (bytes([table]) if indirect else b'')
    for k in range(n_out + n_in):
        data += struct.pack('<HH', 0x100 * k, 16)
    return data


def dr_used_split(head, length, jump=None):
    return bytes([4, head]) + struct.pack('<H', length) + (bytes([0, jump]) if jump is not None else bytes([1]))


def dr_used_packed(head, length, slot, wrap=1):
    return bytes([4, head]) + struct.pack('<H', length) + bytes([slot, wrap])


COLLECT, KICK, RESTART, RECORD_ON, REOPEN = bytes([3]), bytes([6]), bytes([7]), bytes([8]), bytes([9])

seed('fuzz-driver-ring', 'split')(lambda: dr_setup() + dr_add(1, 1) + KICK + dr_used_split(0, 4) + COLLECT +
                                  RESTART + dr_add(2, 1) + dr_used_split(1, 8) + COLLECT + COLLECT)
seed('fuzz-driver-ring', 'split-event-idx')(lambda: dr_setup(event_idx=True) + dr_add(1, 1) + dr_add(1, 1) + KICK +
                                            COLLECT + dr_used_split(1, 16) + COLLECT + dr_used_split(0, 16, 9) +
                                            COLLECT + RESTART)
seed('fuzz-driver-ring', 'packed')(lambda: dr_setup(packed=True) + dr_add(1, 1) + dr_add(2, 1) + KICK +
                                   dr_used_packed(0, 4, 0) + COLLECT + dr_used_packed(1, 4, 2) + COLLECT + RESTART)
seed('fuzz-driver-ring', 'indirect')(lambda: dr_setup() + dr_add(1, 2, indirect=True, table=1) +
                                     dr_used_split(0, 8) + COLLECT + dr_add(1, 1, indirect=True) + COLLECT)
seed('fuzz-driver-ring', 'record')(lambda: dr_setup(event_idx=True) + RECORD_ON + dr_add(1, 1) + dr_add(1, 2) +
                                   dr_used_split(0, 4) + COLLECT + REOPEN + dr_used_split(1, 4) + COLLECT +
                                   dr_add(1, 1) + COLLECT)
seed('fuzz-driver-ring', 'packed-record')(lambda: dr_setup(packed=True) + RECORD_ON + dr_add(2, 1) + dr_add(1, 1) +
                                          dr_used_packed(0, 4, 0) + COLLECT + REOPEN + dr_used_packed(1, 4, 3) +
                                          COLLECT)

RINGS = ('fuzz-split', 'fuzz-packed', 'fuzz-inflight')


def main():
    targets = sys.argv[1:] or sorted(SEEDS)
    for target in targets:
        directory = os.path.join(CORPUS, target)
        os.makedirs(directory, exist_ok=True)
        for name, fn in SEEDS[target]:
            data = fn()
            # the ring targets read past the end as zeros: the shorter, the
            # better libFuzzer mutates what matters
            if target in RINGS:
                data = data.rstrip(b'\0')
            with open(os.path.join(directory, 'seed-' + name), 'wb') as f:
                f.write(data)


if __name__ == '__main__':
    main()
