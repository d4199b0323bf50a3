/* vhost-user-state-copy-private.h: a device's state between its pipe and a stream
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

void     vhost_user_state_copy_async  (int                  fd,
                                       GObject             *stream,
                                       guint                idle_timeout_ms,
                                       guint64              max_bytes,
                                       GCancellable        *cancellable,
                                       GCancellable        *abort,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data);
gboolean vhost_user_state_copy_finish (GAsyncResult        *result,
                                       gboolean            *closed_early,
                                       GError             **error);

G_END_DECLS
