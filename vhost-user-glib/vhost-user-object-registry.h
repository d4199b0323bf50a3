/* vhost-user-object-registry.h: shared objects, by UUID, for front-ends
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(__VHOST_USER_GLIB_INSIDE__) && !defined(VHOST_USER_GLIB_COMPILATION)
#error "Only <vhost-user-glib.h> can be included directly."
#endif

#include <gio/gio.h>

#include "vhost-user-version-macros.h"

G_BEGIN_DECLS

#define VHOST_USER_TYPE_OBJECT_REGISTRY (vhost_user_object_registry_get_type ())

VHOST_USER_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (VhostUserObjectRegistry, vhost_user_object_registry, VHOST_USER, OBJECT_REGISTRY, GObject)

VHOST_USER_AVAILABLE_IN_ALL
VhostUserObjectRegistry *vhost_user_object_registry_new           (void);
VHOST_USER_AVAILABLE_IN_ALL
gboolean                 vhost_user_object_registry_add_fd        (VhostUserObjectRegistry  *self,
                                                                   const char               *uuid,
                                                                   int                       fd,
                                                                   GError                  **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean                 vhost_user_object_registry_remove        (VhostUserObjectRegistry  *self,
                                                                   const char               *uuid);
VHOST_USER_AVAILABLE_IN_ALL
gboolean                 vhost_user_object_registry_contains      (VhostUserObjectRegistry  *self,
                                                                   const char               *uuid);
VHOST_USER_AVAILABLE_IN_ALL
guint                    vhost_user_object_registry_get_n_objects (VhostUserObjectRegistry  *self);
VHOST_USER_AVAILABLE_IN_ALL
void                     vhost_user_object_registry_lookup_async  (VhostUserObjectRegistry  *self,
                                                                   const char               *uuid,
                                                                   GCancellable             *cancellable,
                                                                   GAsyncReadyCallback       callback,
                                                                   gpointer                  user_data);
VHOST_USER_AVAILABLE_IN_ALL
int                      vhost_user_object_registry_lookup_finish (VhostUserObjectRegistry  *self,
                                                                   GAsyncResult             *result,
                                                                   GError                  **error);

G_END_DECLS
