/* vhost-user-server-private.h: what a server needs of a back-end beyond
 * its public API
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "vhost-user-backend.h"

G_BEGIN_DECLS

gboolean vhost_user_backend_take_fd (VhostUserBackend  *self,
                                     int                fd,
                                     GError           **error);
gboolean vhost_user_backend_take_refusal (VhostUserBackend *self);

typedef void (*VhostUserBackendClosedFunc) (VhostUserBackend *backend,
                                            gpointer          user_data);

void vhost_user_backend_set_closed_func (VhostUserBackend           *self,
                                         VhostUserBackendClosedFunc  func,
                                         gpointer                    user_data);

G_END_DECLS
