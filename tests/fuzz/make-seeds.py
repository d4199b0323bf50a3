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

for name, ops, avail, setup in [('pop-push', POP_PUSH, [0, 3, 4], 0),
                                ('one-by-one', POP_PUSH_ONE_BY_ONE, [0, 3, 4], 0),
                                ('logged', LOGGED, [0, 3, 4], 0),
                                ('stops', STOPS, [0, 3, 4], 0),
                                ('loop', LOOP, [4, 5, 0], 0),
                                ('event-idx', POP_PUSH + [5, 0, 5], [0, 3, 4], 2)]:
    seed('fuzz-split', name)(lambda ops=ops, avail=avail, setup=setup:
                             ring_input(setup, 3, 0, ops, split_memory(avail, used_event=1)))

PACKED_BASE = 0x80008000
for name, ops, setup in [('pop-push', POP_PUSH, 0), ('one-by-one', POP_PUSH_ONE_BY_ONE, 0),
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


def main():
    targets = sys.argv[1:] or sorted(SEEDS)
    for target in targets:
        directory = os.path.join(CORPUS, target)
        os.makedirs(directory, exist_ok=True)
        for name, fn in SEEDS[target]:
            # the targets read past the end as zeros: the shorter, the
            # better libFuzzer mutates what matters
            with open(os.path.join(directory, 'seed-' + name), 'wb') as f:
                f.write(fn().rstrip(b'\0'))


if __name__ == '__main__':
    main()
