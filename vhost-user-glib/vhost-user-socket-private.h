/* vhost-user-socket-private.h: listening, connecting, socket pairs
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* the mode a listening socket file gets unless the caller says otherwise */
#define VHOST_USER_SOCKET_DEFAULT_MODE 0600

GSocket  *vhost_user_socket_listen  (const char    *path,
                                     guint          mode,
                                     GError       **error);
GSocket  *vhost_user_socket_listen_full (const char *path,
                                     guint          mode,
                                     gint64         gid,
                                     GError       **error);
GSocket  *vhost_user_socket_connect (const char    *path,
                                     guint          timeout_ms,
                                     GCancellable  *cancellable,
                                     GError       **error);
gboolean  vhost_user_socket_pair    (GSocket      **first,
                                     GSocket      **second,
                                     GError       **error);

G_END_DECLS
