/* vhost-user-invocation.h: one received request awaiting its reply
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(__VHOST_USER_GLIB_INSIDE__) && !defined(VHOST_USER_GLIB_COMPILATION)
#error "Only <vhost-user-glib.h> can be included directly."
#endif

#include <glib-object.h>

#include "vhost-user-version-macros.h"

G_BEGIN_DECLS

#define VHOST_USER_TYPE_INVOCATION (vhost_user_invocation_get_type ())

VHOST_USER_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (VhostUserInvocation, vhost_user_invocation, VHOST_USER, INVOCATION, GObject)

VHOST_USER_AVAILABLE_IN_ALL
guint        vhost_user_invocation_get_request       (VhostUserInvocation *self);
VHOST_USER_AVAILABLE_IN_ALL
const char  *vhost_user_invocation_get_request_name  (VhostUserInvocation *self);
VHOST_USER_AVAILABLE_IN_ALL
gboolean     vhost_user_invocation_get_reply_expected (VhostUserInvocation *self);
VHOST_USER_AVAILABLE_IN_ALL
gboolean     vhost_user_invocation_get_completed     (VhostUserInvocation *self);

VHOST_USER_AVAILABLE_IN_ALL
void         vhost_user_invocation_return_ack        (VhostUserInvocation *self);
VHOST_USER_AVAILABLE_IN_ALL
void         vhost_user_invocation_return_u64        (VhostUserInvocation *self,
                                                      guint64              value);
VHOST_USER_AVAILABLE_IN_ALL
void         vhost_user_invocation_return_fd         (VhostUserInvocation *self,
                                                      guint64              value,
                                                      int                  fd);
VHOST_USER_AVAILABLE_IN_ALL
void         vhost_user_invocation_return_bytes      (VhostUserInvocation *self,
                                                      GBytes              *payload,
                                                      int                  fd);
VHOST_USER_AVAILABLE_IN_ALL
void         vhost_user_invocation_return_config     (VhostUserInvocation *self,
                                                      GBytes              *data);
VHOST_USER_AVAILABLE_IN_ALL
void         vhost_user_invocation_return_error      (VhostUserInvocation *self,
                                                      const GError        *error);
VHOST_USER_AVAILABLE_IN_ALL
void         vhost_user_invocation_return_error_literal (VhostUserInvocation *self,
                                                      GQuark               domain,
                                                      gint                 code,
                                                      const char          *message);

G_END_DECLS
