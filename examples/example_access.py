# example_access.py: who may connect to a Python example's socket
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# examples/example-access.c for the Python examples: the flags every
# example that listens takes, --socket-mode, --socket-group, --allow-uid
# and --allow-gid, with the same help, the same meaning and the same
# errors, and their translation into VhostUser.Server's socket-mode,
# socket-group, allowed-uids and allowed-gids. The examples import it
# from their own directory, which Python puts first on sys.path when it
# runs a script by its path (python3 examples/vhost-user-rng.py, or the
# script itself through its #! line).

import grp
import pwd
import re

import gi

gi.require_version("GLib", "2.0")
from gi.repository import GLib  # noqa: E402

# (guint32) -1 is "no change" to chown(): never an id to match
MAX_ID = 0xFFFFFFFF - 1


def add_arguments(parser):
    """Adds the four flags to an argparse parser."""
    parser.add_argument("--socket-mode", metavar="OCTAL", help="The socket file's permissions (default 0600)")
    parser.add_argument("--socket-group", metavar="GROUP", help="The socket file's group")
    parser.add_argument("--allow-uid", metavar="USER", action="append", default=[],
                        help="Serve only front-ends running as this user (repeatable; with --allow-gid, "
                             "either may match)")
    parser.add_argument("--allow-gid", metavar="GROUP", action="append", default=[],
                        help="Serve only front-ends running with this group as their effective one (repeatable)")


def _bad_value(message):
    return GLib.Error.new_literal(GLib.option_error_quark(), message, GLib.OptionError.BAD_VALUE)


def _parse_id(text, group):
    """A user or group, by number or name; None if there is none."""
    # digits only, as g_ascii_string_to_unsigned() takes them: no sign,
    # no blanks, no 0x (int() would take all three)
    if re.fullmatch(r"[0-9]+", text) and int(text) <= MAX_ID:
        return int(text)
    try:
        return grp.getgrnam(text).gr_gid if group else pwd.getpwnam(text).pw_uid
    except (KeyError, ValueError):
        return None


def _parse_ids(texts, group):
    """The --allow-uid or --allow-gid list as an "au" variant, None if
    none was given (anyone, as far as this list goes)."""
    ids = []
    for text in texts:
        id_ = _parse_id(text, group)
        if id_ is None:
            raise _bad_value(f"no {'group' if group else 'user'} “{text}”")
        ids.append(id_)
    return GLib.Variant("au", ids) if ids else None


def apply(server, args):
    """Gives the server, before it listens, what the flags in args (from
    a parser given add_arguments()) asked for. Without them it keeps the
    server's defaults: a socket file of mode 0600 in the process's group,
    and anyone who can open it served.

    Raises GLib.Error (G_OPTION_ERROR_BAD_VALUE) if a value makes no
    sense: a mode that is not octal permissions, a user or group that
    does not exist."""
    if args.socket_mode is not None:
        if not re.fullmatch(r"[0-7]+", args.socket_mode) or int(args.socket_mode, 8) > 0o777:
            raise _bad_value("--socket-mode wants octal permissions, like 0660")
        server.props.socket_mode = int(args.socket_mode, 8)
    if args.socket_group is not None:
        gid = _parse_id(args.socket_group, True)
        if gid is None:
            raise _bad_value(f"no group “{args.socket_group}”")
        server.props.socket_group = gid
    uids = _parse_ids(args.allow_uid, False)
    gids = _parse_ids(args.allow_gid, True)
    server.set_allowed_uids(uids)
    server.set_allowed_gids(gids)
