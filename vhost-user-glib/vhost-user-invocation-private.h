/* vhost-user-invocation-private.h: how a role creates and finishes invocations
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "vhost-user-error.h"
#include "vhost-user-invocation.h"
#include "vhost-user-message-private.h"

G_BEGIN_DECLS

/* Called once, in the invocation's context, when it is completed (or
 * dropped uncompleted). @reply is the message to send, or NULL when the
 * spec wants none; @error is the failure, if it failed. When both are NULL
 * there is nothing to do but go on; when @reply is NULL and @error set on
 * a request that always gets a reply, the only honest answer left is to
 * hang up. */
typedef void (*VhostUserInvocationDoneFunc) (VhostUserInvocation *invocation,
                                             VhostUserMessage    *reply,
                                             const GError        *error,
                                             gpointer             user_data);

/* Given the peer's next message after a reply sent with
 * vhost_user_invocation_return_and_await() (@parse_error set if the
 * message did not parse as its request); FALSE with @error set hangs up. */
typedef gboolean (*VhostUserFollowUpFunc) (const VhostUserMessage *msg,
                                           const GError           *parse_error,
                                           gpointer                user_data,
                                           GError                **error);

VhostUserInvocation    *vhost_user_invocation_new        (VhostUserChannel             channel,
                                                          const VhostUserMessage      *request,
                                                          guint64                      protocol_features,
                                                          GMainContext                *context,
                                                          VhostUserInvocation         *spare,
                                                          VhostUserInvocationDoneFunc  done_func,
                                                          gpointer                     user_data,
                                                          GDestroyNotify               notify);
gboolean                vhost_user_invocation_recycle    (VhostUserInvocation         *self);
void                    vhost_user_invocation_return_bytes_take_fd (VhostUserInvocation *self,
                                                                    GBytes              *payload,
                                                                    int                  fd);
const VhostUserMessage *vhost_user_invocation_get_message (VhostUserInvocation         *self);
const VhostUserRequestInfo *vhost_user_invocation_get_info (VhostUserInvocation        *self);
VhostUserReplyKind      vhost_user_invocation_get_reply_kind (VhostUserInvocation     *self);
void                    vhost_user_invocation_return_and_await (VhostUserInvocation   *self,
                                                          GBytes                      *payload,
                                                          VhostUserFollowUpFunc        func,
                                                          gpointer                     user_data,
                                                          GDestroyNotify               notify);
gboolean                vhost_user_invocation_take_follow_up (VhostUserInvocation     *self,
                                                          VhostUserFollowUpFunc       *func,
                                                          gpointer                    *user_data,
                                                          GDestroyNotify              *notify,
                                                          guint32                     *ack_request);
void                    vhost_user_invocation_return_errorf (VhostUserInvocation      *self,
                                                          VhostUserError               code,
                                                          const char                  *format,
                                                          ...) G_GNUC_PRINTF (3, 4);

G_END_DECLS
