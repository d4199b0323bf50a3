/* vhost-user-connection-private.h: framed messages over a UNIX socket
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <gio/gio.h>

#include "vhost-user-message-private.h"

G_BEGIN_DECLS

#define VHOST_USER_TYPE_CONNECTION (vhost_user_connection_get_type ())

G_DECLARE_FINAL_TYPE (VhostUserConnection, vhost_user_connection, VHOST_USER, CONNECTION, GObject)

/* Called in the connection's context for every whole message read. @msg
 * belongs to the connection: steal the fds you keep, everything else is
 * closed when this returns. When @error is set the message failed
 * validation (its fds are already closed) but framing is intact: the
 * owner decides between a NACK and hanging up. */
typedef void (*VhostUserConnectionMessageFunc) (VhostUserConnection *connection,
                                                VhostUserMessage    *msg,
                                                const GError        *error,
                                                gpointer             user_data);

/* Called once, in the connection's context, when the connection closes.
 * @error says why; %NULL when vhost_user_connection_close() was called
 * without a reason. */
typedef void (*VhostUserConnectionClosedFunc)  (VhostUserConnection *connection,
                                                const GError        *error,
                                                gpointer             user_data);

VhostUserConnection *vhost_user_connection_new       (GSocket                       *socket,
                                                      VhostUserChannel               channel,
                                                      gboolean                       receives_replies,
                                                      GMainContext                  *context);
VhostUserConnection *vhost_user_connection_new_for_fd (int                           fd,
                                                      VhostUserChannel               channel,
                                                      gboolean                       receives_replies,
                                                      GMainContext                  *context);
void          vhost_user_connection_set_handlers     (VhostUserConnection           *self,
                                                      VhostUserConnectionMessageFunc message_func,
                                                      VhostUserConnectionClosedFunc  closed_func,
                                                      gpointer                       user_data);
void          vhost_user_connection_start            (VhostUserConnection           *self);
gboolean      vhost_user_connection_send             (VhostUserConnection           *self,
                                                      VhostUserMessage              *msg,
                                                      GError                       **error);
void          vhost_user_connection_set_dispatch_context (VhostUserConnection      *self,
                                                      GMainContext                  *context);
void          vhost_user_connection_set_receiving    (VhostUserConnection           *self,
                                                      gboolean                       receiving);
void          vhost_user_connection_set_poll_window  (VhostUserConnection           *self,
                                                      guint                          window_us);
void          vhost_user_connection_set_protocol_features (VhostUserConnection      *self,
                                                      guint64                        protocol_features);
void          vhost_user_connection_close            (VhostUserConnection           *self,
                                                      const GError                  *reason);
gboolean      vhost_user_connection_is_closed        (VhostUserConnection           *self);
gsize         vhost_user_connection_get_send_queue_length (VhostUserConnection      *self);
GSocket      *vhost_user_connection_get_socket       (VhostUserConnection           *self);
GMainContext *vhost_user_connection_get_context      (VhostUserConnection           *self);
VhostUserChannel vhost_user_connection_get_channel   (VhostUserConnection           *self);
gboolean      vhost_user_connection_peer_is_this_process (VhostUserConnection       *self);

G_END_DECLS
