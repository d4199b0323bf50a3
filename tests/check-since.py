#!/usr/bin/python3
# check-since.py GIR: every public symbol of the GIR says since when it
# exists (a "Since:" in its doc comment), so the reference and the
# bindings can tell. Lists those that do not.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
import sys
import xml.etree.ElementTree as ET

CORE = "{http://www.gtk.org/introspection/core/1.0}"
GLIB = "{http://www.gtk.org/introspection/glib/1.0}"
KINDS = [CORE + k for k in ("class", "record", "enumeration", "bitfield", "callback", "function",
                            "method", "constructor", "property", "constant", "interface")] + [GLIB + "signal"]

root = ET.parse(sys.argv[1]).getroot()
missing = []


def walk(node, path):
    for child in node:
        name = child.get("name")
        if child.tag in KINDS:
            # a record that is only a class structure belongs to its class
            if child.get(GLIB + "is-gtype-struct-for") is None and child.get("version") is None:
                missing.append(f"{child.tag.split('}')[1]} {path}{name}")
        if child.tag in KINDS or child.tag == CORE + "namespace":
            walk(child, f"{path}{name}." if child.tag != CORE + "namespace" else f"{name}.")


walk(root, "")
for m in missing:
    print(f"# no Since: {m}")
print(f"# {len(missing)} symbols without a version")
sys.exit(1 if missing else 0)
