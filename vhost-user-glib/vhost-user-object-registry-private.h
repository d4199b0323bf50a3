/* vhost-user-object-registry-private.h: what front-ends tell a registry
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "vhost-user-object-registry.h"

G_BEGIN_DECLS

/* A back-end exported @uuid (BACKEND_SHARED_OBJECT_ADD): lookups ask it
 * through @exporter, its front-end, which the registry does not keep
 * alive. */
gboolean vhost_user_object_registry_add_exporter    (VhostUserObjectRegistry  *self,
                                                     const char               *uuid,
                                                     GObject                  *exporter,
                                                     GError                  **error);
gboolean vhost_user_object_registry_remove_exporter (VhostUserObjectRegistry  *self,
                                                     const char               *uuid,
                                                     GObject                  *exporter,
                                                     GError                  **error);
/* @exporter's back-end is gone, and its objects with it. */
void     vhost_user_object_registry_forget_exporter (VhostUserObjectRegistry  *self,
                                                     GObject                  *exporter);

G_END_DECLS
