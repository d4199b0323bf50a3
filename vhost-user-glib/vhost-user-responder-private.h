/* vhost-user-responder-private.h: the receiving half of a channel
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib-object.h>

#include "vhost-user-connection-private.h"
#include "vhost-user-signal-shape-private.h"

G_BEGIN_DECLS

/* What the owning role has negotiated and can hold, read afresh for every
 * request (a request may change it for the next). */
typedef struct {
  guint64              protocol_features;  /* acknowledged */
  guint64              features_offered;   /* for rows gated on what was offered */
  guint64              features_acked;
  VhostUserShapeLimits limits;
} VhostUserResponderState;

typedef void (*VhostUserResponderStateFunc) (GObject                 *owner,
                                             VhostUserResponderState *state);

typedef struct _VhostUserResponder VhostUserResponder;

VhostUserResponder *vhost_user_responder_new            (GObject                     *owner,
                                                         VhostUserChannel             channel,
                                                         GMainContext                *context,
                                                         const guint                 *signals,
                                                         const gsize                 *class_offsets,
                                                         VhostUserResponderStateFunc  state_func);
VhostUserResponder *vhost_user_responder_ref            (VhostUserResponder          *self);
void                vhost_user_responder_unref          (VhostUserResponder          *self);
void                vhost_user_responder_detach         (VhostUserResponder          *self);
void                vhost_user_responder_set_connection (VhostUserResponder          *self,
                                                         VhostUserConnection         *connection);
void                vhost_user_responder_dispatch       (VhostUserResponder          *self,
                                                         VhostUserMessage            *msg,
                                                         const GError                *parse_error);
gboolean            vhost_user_responder_get_busy       (VhostUserResponder          *self);
int                 vhost_user_responder_steal_fd       (VhostUserResponder          *self,
                                                         guint                        index);
void                vhost_user_responder_register_signals (GType                      type,
                                                         VhostUserChannel             channel,
                                                         const gsize                 *class_offsets,
                                                         const GCallback             *default_handlers,
                                                         guint                       *signals);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VhostUserResponder, vhost_user_responder_unref)

G_END_DECLS
