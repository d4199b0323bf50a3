/* vhost-user-server.h: a listening socket with one back-end per front-end
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(__VHOST_USER_GLIB_INSIDE__) && !defined(VHOST_USER_GLIB_COMPILATION)
#error "Only <vhost-user-glib.h> can be included directly."
#endif

#include <gio/gio.h>

#include "vhost-user-backend.h"
#include "vhost-user-version-macros.h"

G_BEGIN_DECLS

#define VHOST_USER_TYPE_SERVER (vhost_user_server_get_type ())

VHOST_USER_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (VhostUserServer, vhost_user_server, VHOST_USER, SERVER, GObject)

VHOST_USER_AVAILABLE_IN_ALL
VhostUserServer *vhost_user_server_new                (GType             backend_type,
                                                       gboolean          threaded);
VHOST_USER_AVAILABLE_IN_ALL
gboolean         vhost_user_server_listen             (VhostUserServer  *self,
                                                       const char       *path,
                                                       GError          **error);
VHOST_USER_AVAILABLE_IN_ALL
void             vhost_user_server_stop               (VhostUserServer  *self);
VHOST_USER_AVAILABLE_IN_ALL
const char      *vhost_user_server_get_path           (VhostUserServer  *self);
VHOST_USER_AVAILABLE_IN_ALL
guint            vhost_user_server_get_n_connections  (VhostUserServer  *self);
VHOST_USER_AVAILABLE_IN_ALL
gboolean         vhost_user_server_get_threaded       (VhostUserServer  *self);
VHOST_USER_AVAILABLE_IN_ALL
int              vhost_user_server_get_max_threads    (VhostUserServer  *self);
VHOST_USER_AVAILABLE_IN_ALL
void             vhost_user_server_set_max_threads    (VhostUserServer  *self,
                                                       int               max_threads);
VHOST_USER_AVAILABLE_IN_ALL
void             vhost_user_server_set_allowed_uids   (VhostUserServer  *self,
                                                       GVariant         *uids);
VHOST_USER_AVAILABLE_IN_ALL
void             vhost_user_server_set_allowed_gids   (VhostUserServer  *self,
                                                       GVariant         *gids);

G_END_DECLS
