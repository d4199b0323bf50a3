/* vhost-user-signal-shape-private.h: the arguments of request signals
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib-object.h>

#include "vhost-user-invocation.h"
#include "vhost-user-message-private.h"

G_BEGIN_DECLS


/* The most arguments a shape has (SHMEM_MAP's six). */
#define VHOST_USER_SHAPE_MAX_ARGS 6

/* What decoders check the request against: the receiving role's own
 * limits. A ring index must be below num_queues: the back-end's queues,
 * or the rings the front-end set up (0: none, every index is refused). */
typedef struct {
  guint    num_queues;
  guint    max_queue_size;
  guint    max_mem_slots;
  gboolean packed;
} VhostUserShapeLimits;

GSignalCMarshaller vhost_user_shape_get_marshaller (VhostUserShape shape);
GSignalCVaMarshaller vhost_user_shape_get_va_marshaller (VhostUserShape shape);
guint    vhost_user_shape_get_param_types (VhostUserShape               shape,
                                           GType                       *types);
gboolean vhost_user_shape_decode          (VhostUserShape               shape,
                                           const VhostUserRequestInfo  *info,
                                           const VhostUserMessage      *msg,
                                           const VhostUserShapeLimits  *limits,
                                           GValue                      *values,
                                           guint                       *n_values,
                                           GError                     **error);

void     vhost_user_shape_emit            (VhostUserShape               shape,
                                           gpointer                     instance,
                                           guint                        signal_id,
                                           VhostUserInvocation         *invocation,
                                           const GValue                *values,
                                           gboolean                    *handled);
gboolean vhost_user_shape_call            (VhostUserShape               shape,
                                           GCallback                    func,
                                           gpointer                     instance,
                                           VhostUserInvocation         *invocation,
                                           const GValue                *values);

G_END_DECLS
