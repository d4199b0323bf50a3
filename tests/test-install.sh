#!/bin/bash
# test-install.sh: install into a temporary prefix, then build and run a
# program against it the way a user would, through pkg-config.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -eu

build_root=$1
source_root=$2
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT

meson install -C "$build_root" --destdir "$dest" --no-rebuild --quiet >/dev/null

prefix=$(meson introspect "$build_root" --buildoptions |
         /usr/bin/python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
root=$dest$prefix
pcdir=$(dirname "$(find "$root" -name vhost-user-glib-1.0.pc | head -n1)")
[ -n "$pcdir" ] || { echo "no vhost-user-glib-1.0.pc installed"; exit 1; }
incdir=$root/include/vhost-user-glib-1.0

# only public headers
for h in vhost-user-glib.h vhost-user-enums.h vhost-user-error.h vhost-user-enum-types.h \
         vhost-user-version.h vhost-user-version-macros.h; do
  [ -f "$incdir/$h" ] || { echo "missing installed header $h"; exit 1; }
done
if find "$root" -name '*-private.h' | grep -q .; then
  echo "private headers installed:"; find "$root" -name '*-private.h'; exit 1
fi
[ -f "$root/share/gir-1.0/VhostUser-1.0.gir" ] || echo "# note: no GIR installed (introspection off)"

# only our own symbols are exported
libdir=$(dirname "$(find "$root" -name 'libvhost-user-glib-1.0.so' | head -n1)")
bad=$(nm -D --defined-only "$libdir/libvhost-user-glib-1.0.so" | awk '$2 ~ /[TDBR]/ {print $3}' | grep -v '^vhost_user_' || true)
if [ -n "$bad" ]; then echo "symbols exported outside vhost_user_: $bad"; exit 1; fi

cat > "$dest/user.c" <<'C'
#include <vhost-user-glib.h>
#include <stdio.h>

#if !VHOST_USER_CHECK_VERSION (0, 1, 0)
#error "version macros"
#endif

int
main (void)
{
  GError *error = g_error_new_literal (VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_BROKEN, "gone");
  GEnumClass *klass = g_type_class_ref (VHOST_USER_TYPE_REQUEST_TYPE);
  int ok = vhost_user_error_should_reconnect (error) &&
           g_strcmp0 (g_enum_get_value (klass, VHOST_USER_REQUEST_SET_VRING_ADDR)->value_nick, "set-vring-addr") == 0 &&
           g_strcmp0 (vhost_user_request_type_get_name (VHOST_USER_REQUEST_GET_FEATURES), "GET_FEATURES") == 0;

  printf ("vhost-user-glib %s: %s\n", VHOST_USER_VERSION_S, ok ? "ok" : "wrong");
  g_type_class_unref (klass);
  g_error_free (error);
  return ok ? 0 : 1;
}
C

# the .pc names the real prefix; point a copy at the destdir (a global
# --define-variable would move glib's paths too)
mkdir "$dest/pc"
sed "s|^prefix=.*|prefix=$root|" "$pcdir/vhost-user-glib-1.0.pc" > "$dest/pc/vhost-user-glib-1.0.pc"
export PKG_CONFIG_PATH=$dest/pc
flags=$(pkg-config --cflags --libs vhost-user-glib-1.0)
# shellcheck disable=SC2086
cc -Wall -Werror -o "$dest/user" "$dest/user.c" $flags
if [ -n "${ASAN_RUNTIME:-}" ]; then
  LD_PRELOAD=$ASAN_RUNTIME ASAN_OPTIONS=detect_leaks=0 LD_LIBRARY_PATH=$libdir "$dest/user"
else
  LD_LIBRARY_PATH=$libdir "$dest/user"
fi
