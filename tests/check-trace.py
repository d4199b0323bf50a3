#!/usr/bin/python3
# check-trace.py FILE SESSIONS [REQUEST...]: a vhost-user-trace --json
# output is what a block session through the proxy must leave: every line
# is a JSON object; each of the SESSIONS sessions set up memory with its
# fds (SET_MEM_TABLE: one per region; ADD_MEM_REG: one), its rings' size,
# base, addresses, kick and call (with their eventfds), got every reply
# it wanted, matched and timed, nothing invalid or refused, and a summary
# that counts its requests; each REQUEST named is in every session too.
# Prints a line per session (TAP comments).
#
# SPDX-License-Identifier: LGPL-2.1-or-later
import json, sys
path, sessions, extra = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
lines = open(path).read().splitlines()
objs = []
for i, line in enumerate(lines, 1):
    try:
        objs.append(json.loads(line))
    except ValueError as e:
        sys.exit(f"line {i} is not JSON ({e}): {line[:200]}")
def fail(msg):
    sys.exit(msg)
for s in range(1, sessions + 1):
    msgs = [o for o in objs if o.get("session") == s and "request" in o]
    reqs = [m for m in msgs if not m["reply"]]
    replies = [m for m in msgs if m["reply"]]
    names = [m["request"] for m in reqs]
    if not msgs:
        fail(f"session {s}: no messages")
    mem = [m for m in reqs if m["request"] in ("SET_MEM_TABLE", "ADD_MEM_REG")]
    if not mem:
        fail(f"session {s}: neither SET_MEM_TABLE nor ADD_MEM_REG")
    for m in mem:
        want = 1 if m["request"] == "ADD_MEM_REG" else int(m["fields"].split()[0].split("=")[1])
        if m["fds"] != want or want < 1:
            fail(f"session {s}: {m['request']} carries {m['fds']} fds, its regions want {want}")
    for r in ("SET_VRING_NUM", "SET_VRING_BASE", "SET_VRING_ADDR", "SET_VRING_KICK", "SET_VRING_CALL", *extra):
        if r not in names:
            fail(f"session {s}: no {r}")
    for r in ("SET_VRING_KICK", "SET_VRING_CALL"):
        for m in reqs:
            if m["request"] == r and "no-fd" not in m["fields"] and m["fds"] != 1:
                fail(f"session {s}: {r} without its eventfd: {m}")
    # every reply was matched to its request and timed
    for m in replies:
        if "latency_us" not in m:
            fail(f"session {s}: a reply with no request before it: {m}")
    want_reply = [m for m in reqs if m["need_reply"] or m["request"].startswith("GET_")]
    if len(replies) < len(want_reply):
        fail(f"session {s}: {len(want_reply)} requests want a reply, {len(replies)} came")
    bad = [m for m in msgs if "invalid" in m or m.get("nack")]
    if bad:
        fail(f"session {s}: invalid or refused: {bad[0]}")
    summary = [o for o in objs if o.get("session") == s and o.get("event") == "summary"]
    if len(summary) != 1:
        fail(f"session {s}: {len(summary)} summaries")
    counted = sum(summary[0]["requests"]["main"].values())
    if counted != len([m for m in reqs if m["channel"] == "main"]):
        fail(f"session {s}: the summary counts {counted} requests, the trace has {len(reqs)}")
    print(f"# session {s}: {len(reqs)} requests, {len(replies)} replies; "
          f"{mem[0]['request']} with {mem[0]['fds']} fd(s); longest reply "
          f"{summary[0]['longest_reply']['request']} {summary[0]['longest_reply']['latency_us']} us")
if len([o for o in objs if o.get("event") == "summary"]) != sessions:
    fail(f"not {sessions} sessions")
