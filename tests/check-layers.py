#!/usr/bin/python3
# check-layers.py: no two files of the library call each other.
#
#   check-layers.py NM LIBRARY.a
#
# The library is built in layers (docs/architecture.md): a file calls the
# files below it and gets what it needs from the ones above as data or a
# callback. From the archive's symbol tables this finds every pair of
# objects where each calls a function the other defines, and fails on
# one, naming the functions both ways. A type's *_get_type() is exempt:
# every file of a type checks its instances against it (the type-check
# macros), which is identity, not a call into the other file's work.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
import collections
import os
import re
import subprocess
import sys

nm, archive = sys.argv[1], sys.argv[2]
LINE = re.compile(r'^(?:.*:)?(?P<obj>[^:]+\.o):\s*(?:[0-9a-f]+\s+)?(?P<kind>[A-Za-z])\s+(?P<sym>\S+)$')


def symbols(*flags):
    out = subprocess.run([nm, '-A', *flags, archive], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        m = LINE.match(line)
        if m:
            yield os.path.basename(m['obj']).removesuffix('.o'), m['kind'], m['sym']


defined = {sym: obj for obj, kind, sym in symbols('--defined-only') if kind == 'T'}
calls = collections.defaultdict(lambda: collections.defaultdict(set))
for obj, kind, sym in symbols('--undefined-only'):
    if sym in defined and defined[sym] != obj and not sym.endswith('_get_type'):
        calls[obj][defined[sym]].add(sym)

bad = 0
for a in sorted(calls):
    for b in sorted(calls[a]):
        if a < b and a in calls[b]:
            bad += 1
            print(f'not ok: {a} and {b} call each other:')
            print(f'  {a} -> {b}: {", ".join(sorted(calls[a][b]))}')
            print(f'  {b} -> {a}: {", ".join(sorted(calls[b][a]))}')
edges = sum(len(v) for v in calls.values())
print(f'{len(calls)} objects, {edges} file-to-file dependencies, {bad} pairs calling each other')
sys.exit(1 if bad else 0)
