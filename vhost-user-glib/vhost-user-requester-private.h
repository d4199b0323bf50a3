/* vhost-user-requester-private.h: the sending side of one channel
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <gio/gio.h>
#include <gio/gunixfdlist.h>

#include "vhost-user-connection-private.h"
#include "vhost-user-request-table-private.h"

G_BEGIN_DECLS

/* A requester sends requests on one channel and matches their replies,
 * for either role: the front-end on the main socket, the back-end on the
 * back-end channel. It owns the requests waiting for a reply (in order:
 * the protocol answers in order), their timeout, their cancellation from
 * any thread, and their failure when the connection goes. It knows nothing
 * of features beyond what decides a reply (REPLY_ACK, the table's
 * reply_needs): gating stays with the role.
 *
 * The role keeps the connection and its handlers: it passes every message
 * of a connection that carries only replies to handle_reply(), and calls
 * fail_all() when the connection closes. Tasks are the role's (their
 * source object is @owner), so a role's _finish checks them as its own.
 *
 * One main context: the role's. Only the cancellation callback runs on
 * other threads, and it only queues work for that context. */

#define VHOST_USER_TYPE_REQUESTER (vhost_user_requester_get_type ())

G_DECLARE_FINAL_TYPE (VhostUserRequester, vhost_user_requester, VHOST_USER, REQUESTER, GObject)

/* Tells the role what a request it sent did, once it is done (answered,
 * or sent when no answer comes): the front-end's feature cache. @reply is
 * NULL when no reply was asked for. */
typedef void (*VhostUserRequesterDoneFunc) (gpointer  user_data,
                                            guint32   request,
                                            GBytes   *sent,
                                            GBytes   *reply);

/* Starts the async operation a blocking call waits for. */
typedef void (*VhostUserRequesterStartFunc) (gpointer             data,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data);

VhostUserRequester *vhost_user_requester_new          (VhostUserChannel             channel,
                                                       GObject                     *owner,
                                                       GMainContext                *context);
void     vhost_user_requester_set_done_func           (VhostUserRequester          *self,
                                                       VhostUserRequesterDoneFunc   func,
                                                       gpointer                     user_data);
void     vhost_user_requester_set_connection          (VhostUserRequester          *self,
                                                       VhostUserConnection         *connection);
/* Another connection a blocking wait must keep serving (the front-end's
 * back-end channel: see vhost_user_requester_wait()). */
void     vhost_user_requester_set_companion           (VhostUserRequester          *self,
                                                       VhostUserConnection         *connection);
void     vhost_user_requester_set_protocol_features   (VhostUserRequester          *self,
                                                       guint64                      protocol_features);
void     vhost_user_requester_set_request_acks        (VhostUserRequester          *self,
                                                       gboolean                     request_acks);
void     vhost_user_requester_set_timeout             (VhostUserRequester          *self,
                                                       guint                        timeout_ms);
guint    vhost_user_requester_get_timeout             (VhostUserRequester          *self);
guint    vhost_user_requester_get_n_pending           (VhostUserRequester          *self);

/* @fd_list is borrowed (its fds are duplicated into the message). */
void     vhost_user_requester_send_async              (VhostUserRequester          *self,
                                                       guint32                      request,
                                                       GBytes                      *payload,
                                                       GUnixFDList                 *fd_list,
                                                       GCancellable                *cancellable,
                                                       gpointer                     source_tag,
                                                       GAsyncReadyCallback          callback,
                                                       gpointer                     user_data);
/* The reply's payload (empty when none was asked for), its fds, and the
 * payload that was sent (what a parser checks the reply against). */
GBytes  *vhost_user_requester_send_finish             (VhostUserRequester          *self,
                                                       GAsyncResult                *result,
                                                       GBytes                     **out_sent,
                                                       GUnixFDList                **out_fd_list,
                                                       GError                     **error);

void     vhost_user_requester_handle_reply            (VhostUserRequester          *self,
                                                       VhostUserMessage            *msg,
                                                       const GError                *error);
void     vhost_user_requester_fail_all                (VhostUserRequester          *self,
                                                       const GError                *error);

GAsyncResult *vhost_user_requester_wait               (VhostUserRequester          *self,
                                                       VhostUserRequesterStartFunc  start,
                                                       gpointer                     data,
                                                       gboolean                     isolate,
                                                       GError                     **error);

G_END_DECLS
