/* vhost-user-device.h: a VMM's vhost-user device, set up and kept up
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(__VHOST_USER_GLIB_INSIDE__) && !defined(VHOST_USER_GLIB_COMPILATION)
#error "Only <vhost-user-glib.h> can be included directly."
#endif

#include <gio/gio.h>

#include "vhost-user-driver-ring.h"
#include "vhost-user-enums.h"
#include "vhost-user-frontend.h"
#include "vhost-user-memory-table.h"
#include "vhost-user-version-macros.h"

G_BEGIN_DECLS

#define VHOST_USER_TYPE_DEVICE (vhost_user_device_get_type ())

VHOST_USER_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (VhostUserDevice, vhost_user_device, VHOST_USER, DEVICE, GObject)

VHOST_USER_AVAILABLE_IN_ALL
VhostUserDevice      *vhost_user_device_new                     (VhostUserFrontend    *frontend,
                                                                 guint                 n_rings);
VHOST_USER_AVAILABLE_IN_ALL
VhostUserFrontend    *vhost_user_device_get_frontend            (VhostUserDevice      *self);
VHOST_USER_AVAILABLE_IN_ALL
guint                 vhost_user_device_get_n_rings             (VhostUserDevice      *self);
VHOST_USER_AVAILABLE_IN_ALL
VhostUserDeviceState  vhost_user_device_get_state               (VhostUserDevice      *self);

/* what the device wants, and what it got */
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_device_set_features            (VhostUserDevice      *self,
                                                                 guint64               features);
VHOST_USER_AVAILABLE_IN_ALL
guint64               vhost_user_device_get_features            (VhostUserDevice      *self);
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_device_set_protocol_features   (VhostUserDevice      *self,
                                                                 guint64               protocol_features);
VHOST_USER_AVAILABLE_IN_ALL
guint64               vhost_user_device_get_protocol_features   (VhostUserDevice      *self);
VHOST_USER_AVAILABLE_IN_ALL
guint64               vhost_user_device_get_acked_features      (VhostUserDevice      *self);
VHOST_USER_AVAILABLE_IN_ALL
guint64               vhost_user_device_get_acked_protocol_features (VhostUserDevice  *self);

/* rings */
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_device_set_ring                (VhostUserDevice      *self,
                                                                 guint                 index,
                                                                 VhostUserDriverRing  *ring,
                                                                 GError              **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_device_set_ring_addresses      (VhostUserDevice      *self,
                                                                 guint                 index,
                                                                 guint                 size,
                                                                 guint64               desc_user_addr,
                                                                 guint64               avail_user_addr,
                                                                 guint64               used_user_addr,
                                                                 GError              **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_device_set_ring_fds            (VhostUserDevice      *self,
                                                                 guint                 index,
                                                                 int                   kick_fd,
                                                                 int                   call_fd,
                                                                 GError              **error);
VHOST_USER_AVAILABLE_IN_ALL
int                   vhost_user_device_get_ring_kick_fd        (VhostUserDevice      *self,
                                                                 guint                 index);
VHOST_USER_AVAILABLE_IN_ALL
int                   vhost_user_device_get_ring_call_fd        (VhostUserDevice      *self,
                                                                 guint                 index);
VHOST_USER_AVAILABLE_IN_ALL
guint                 vhost_user_device_get_ring_base           (VhostUserDevice      *self,
                                                                 guint                 index);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_device_get_ring_enabled        (VhostUserDevice      *self,
                                                                 guint                 index);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_device_kick                    (VhostUserDevice      *self,
                                                                 guint                 index,
                                                                 GError              **error);

/* operations: each queued behind the one before */
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_device_start                   (VhostUserDevice      *self,
                                                                 GCancellable         *cancellable,
                                                                 GError              **error);
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_device_start_async             (VhostUserDevice      *self,
                                                                 GCancellable         *cancellable,
                                                                 GAsyncReadyCallback   callback,
                                                                 gpointer              user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_device_start_finish            (VhostUserDevice      *self,
                                                                 GAsyncResult         *result,
                                                                 GError              **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_device_stop                    (VhostUserDevice      *self,
                                                                 GCancellable         *cancellable,
                                                                 GError              **error);
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_device_stop_async              (VhostUserDevice      *self,
                                                                 GCancellable         *cancellable,
                                                                 GAsyncReadyCallback   callback,
                                                                 gpointer              user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_device_stop_finish             (VhostUserDevice      *self,
                                                                 GAsyncResult         *result,
                                                                 GError              **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_device_add_memory              (VhostUserDevice      *self,
                                                                 VhostUserMemoryRegion *region,
                                                                 GCancellable         *cancellable,
                                                                 GError              **error);
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_device_add_memory_async        (VhostUserDevice      *self,
                                                                 VhostUserMemoryRegion *region,
                                                                 GCancellable         *cancellable,
                                                                 GAsyncReadyCallback   callback,
                                                                 gpointer              user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_device_add_memory_finish       (VhostUserDevice      *self,
                                                                 GAsyncResult         *result,
                                                                 GError              **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_device_remove_memory           (VhostUserDevice      *self,
                                                                 VhostUserMemoryRegion *region,
                                                                 GCancellable         *cancellable,
                                                                 GError              **error);
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_device_remove_memory_async     (VhostUserDevice      *self,
                                                                 VhostUserMemoryRegion *region,
                                                                 GCancellable         *cancellable,
                                                                 GAsyncReadyCallback   callback,
                                                                 gpointer              user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_device_remove_memory_finish    (VhostUserDevice      *self,
                                                                 GAsyncResult         *result,
                                                                 GError              **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_device_set_ring_enabled        (VhostUserDevice      *self,
                                                                 guint                 index,
                                                                 gboolean              enabled,
                                                                 GCancellable         *cancellable,
                                                                 GError              **error);
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_device_set_ring_enabled_async  (VhostUserDevice      *self,
                                                                 guint                 index,
                                                                 gboolean              enabled,
                                                                 GCancellable         *cancellable,
                                                                 GAsyncReadyCallback   callback,
                                                                 gpointer              user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_device_set_ring_enabled_finish (VhostUserDevice      *self,
                                                                 GAsyncResult         *result,
                                                                 GError              **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_device_reconnect               (VhostUserDevice      *self,
                                                                 GCancellable         *cancellable,
                                                                 GError              **error);
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_device_reconnect_async         (VhostUserDevice      *self,
                                                                 GCancellable         *cancellable,
                                                                 GAsyncReadyCallback   callback,
                                                                 gpointer              user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_device_reconnect_finish        (VhostUserDevice      *self,
                                                                 GAsyncResult         *result,
                                                                 GError              **error);

VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_device_set_ring_base           (VhostUserDevice      *self,
                                                                 guint                 index,
                                                                 guint                 base,
                                                                 GError              **error);

/* migration: the back-end's own device state */
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_device_save_state              (VhostUserDevice      *self,
                                                                 GOutputStream        *destination,
                                                                 GCancellable         *cancellable,
                                                                 GError              **error);
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_device_save_state_async        (VhostUserDevice      *self,
                                                                 GOutputStream        *destination,
                                                                 GCancellable         *cancellable,
                                                                 GAsyncReadyCallback   callback,
                                                                 gpointer              user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_device_save_state_finish       (VhostUserDevice      *self,
                                                                 GAsyncResult         *result,
                                                                 GError              **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_device_load_state              (VhostUserDevice      *self,
                                                                 GInputStream         *source,
                                                                 GCancellable         *cancellable,
                                                                 GError              **error);
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_device_load_state_async        (VhostUserDevice      *self,
                                                                 GInputStream         *source,
                                                                 GCancellable         *cancellable,
                                                                 GAsyncReadyCallback   callback,
                                                                 gpointer              user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_device_load_state_finish       (VhostUserDevice      *self,
                                                                 GAsyncResult         *result,
                                                                 GError              **error);

/* migration: requests in flight */
VHOST_USER_AVAILABLE_IN_ALL
GBytes               *vhost_user_device_dup_inflight            (VhostUserDevice      *self);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_device_set_inflight            (VhostUserDevice      *self,
                                                                 GBytes               *contents,
                                                                 GError              **error);

/* migration: dirty logging */
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_device_set_logging             (VhostUserDevice      *self,
                                                                 gboolean              logging,
                                                                 GCancellable         *cancellable,
                                                                 GError              **error);
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_device_set_logging_async       (VhostUserDevice      *self,
                                                                 gboolean              logging,
                                                                 GCancellable         *cancellable,
                                                                 GAsyncReadyCallback   callback,
                                                                 gpointer              user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_device_set_logging_finish      (VhostUserDevice      *self,
                                                                 GAsyncResult         *result,
                                                                 GError              **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_device_get_logging             (VhostUserDevice      *self);
VHOST_USER_AVAILABLE_IN_ALL
GBytes               *vhost_user_device_take_dirty_log          (VhostUserDevice      *self);

VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_device_close                   (VhostUserDevice      *self);

G_END_DECLS
