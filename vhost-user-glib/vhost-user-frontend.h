/* vhost-user-frontend.h: the VMM side of vhost-user
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(__VHOST_USER_GLIB_INSIDE__) && !defined(VHOST_USER_GLIB_COMPILATION)
#error "Only <vhost-user-glib.h> can be included directly."
#endif

#include <gio/gio.h>
#include <gio/gunixfdlist.h>

#include "vhost-user-enums.h"
#include "vhost-user-memory-table.h"
#include "vhost-user-object-registry.h"
#include "vhost-user-version-macros.h"

G_BEGIN_DECLS

#define VHOST_USER_TYPE_FRONTEND (vhost_user_frontend_get_type ())

VHOST_USER_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (VhostUserFrontend, vhost_user_frontend, VHOST_USER, FRONTEND, GObject)

VHOST_USER_AVAILABLE_IN_ALL
VhostUserFrontend *vhost_user_frontend_new                     (                     void);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_connect_to_path         (VhostUserFrontend   *self,
                                                                const char          *path,
                                                                guint                timeout_ms,
                                                                GCancellable        *cancellable,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
void               vhost_user_frontend_connect_to_path_async   (VhostUserFrontend   *self,
                                                                const char          *path,
                                                                guint                timeout_ms,
                                                                GCancellable        *cancellable,
                                                                GAsyncReadyCallback  callback,
                                                                gpointer             user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_connect_to_path_finish  (VhostUserFrontend   *self,
                                                                GAsyncResult        *result,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_listen_on_path          (VhostUserFrontend   *self,
                                                                const char          *path,
                                                                guint                timeout_ms,
                                                                GCancellable        *cancellable,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
void               vhost_user_frontend_listen_on_path_async    (VhostUserFrontend   *self,
                                                                const char          *path,
                                                                guint                timeout_ms,
                                                                GCancellable        *cancellable,
                                                                GAsyncReadyCallback  callback,
                                                                gpointer             user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_listen_on_path_finish   (VhostUserFrontend   *self,
                                                                GAsyncResult        *result,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_reconnect               (VhostUserFrontend   *self,
                                                                GCancellable        *cancellable,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
void               vhost_user_frontend_reconnect_async         (VhostUserFrontend   *self,
                                                                GCancellable        *cancellable,
                                                                GAsyncReadyCallback  callback,
                                                                gpointer             user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_reconnect_finish        (VhostUserFrontend   *self,
                                                                GAsyncResult        *result,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_take_socket             (VhostUserFrontend   *self,
                                                                GSocket             *socket,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
void               vhost_user_frontend_close                   (VhostUserFrontend   *self);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_get_connected           (VhostUserFrontend   *self);
VHOST_USER_AVAILABLE_IN_ALL
GMainContext      *vhost_user_frontend_get_main_context        (VhostUserFrontend   *self);
VHOST_USER_AVAILABLE_IN_ALL
guint              vhost_user_frontend_get_timeout             (VhostUserFrontend   *self);
VHOST_USER_AVAILABLE_IN_ALL
void               vhost_user_frontend_set_timeout             (VhostUserFrontend   *self,
                                                                guint                timeout_ms);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_get_request_acks        (VhostUserFrontend   *self);
VHOST_USER_AVAILABLE_IN_ALL
void               vhost_user_frontend_set_request_acks        (VhostUserFrontend   *self,
                                                                gboolean             request_acks);
VHOST_USER_AVAILABLE_IN_ALL
guint64            vhost_user_frontend_get_features            (VhostUserFrontend   *self);
VHOST_USER_AVAILABLE_IN_ALL
guint64            vhost_user_frontend_get_acked_features      (VhostUserFrontend   *self);
VHOST_USER_AVAILABLE_IN_ALL
guint64            vhost_user_frontend_get_protocol_features   (VhostUserFrontend   *self);
VHOST_USER_AVAILABLE_IN_ALL
guint64            vhost_user_frontend_get_acked_protocol_features (VhostUserFrontend   *self);

/* any request of the protocol */
VHOST_USER_AVAILABLE_IN_ALL
void               vhost_user_frontend_request_async           (VhostUserFrontend   *self,
                                                                VhostUserRequestType request,
                                                                GBytes              *payload,
                                                                GUnixFDList         *fd_list,
                                                                GCancellable        *cancellable,
                                                                GAsyncReadyCallback  callback,
                                                                gpointer             user_data);
VHOST_USER_AVAILABLE_IN_ALL
GBytes            *vhost_user_frontend_request_finish          (VhostUserFrontend   *self,
                                                                GAsyncResult        *result,
                                                                GUnixFDList        **out_fd_list,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
GBytes            *vhost_user_frontend_request                 (VhostUserFrontend   *self,
                                                                VhostUserRequestType request,
                                                                GBytes              *payload,
                                                                GUnixFDList         *fd_list,
                                                                GCancellable        *cancellable,
                                                                GUnixFDList        **out_fd_list,
                                                                GError             **error);

/* negotiation */
VHOST_USER_AVAILABLE_IN_ALL
void               vhost_user_frontend_negotiate_async         (VhostUserFrontend   *self,
                                                                guint64              features,
                                                                guint64              protocol_features,
                                                                GCancellable        *cancellable,
                                                                GAsyncReadyCallback  callback,
                                                                gpointer             user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_negotiate_finish        (VhostUserFrontend   *self,
                                                                GAsyncResult        *result,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_negotiate               (VhostUserFrontend   *self,
                                                                guint64              features,
                                                                guint64              protocol_features,
                                                                GCancellable        *cancellable,
                                                                GError             **error);

VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_setup_backend_channel   (VhostUserFrontend   *self,
                                                                GCancellable        *cancellable,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
void               vhost_user_frontend_setup_backend_channel_async (VhostUserFrontend   *self,
                                                                    GCancellable        *cancellable,
                                                                    GAsyncReadyCallback  callback,
                                                                    gpointer             user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_setup_backend_channel_finish (VhostUserFrontend   *self,
                                                                     GAsyncResult        *result,
                                                                     GError             **error);

/* typed requests: blocking, and async with their _finish */
VHOST_USER_AVAILABLE_IN_ALL
guint64            vhost_user_frontend_get_u64                 (VhostUserFrontend   *self,
                                                                VhostUserRequestType request,
                                                                GCancellable        *cancellable,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
void               vhost_user_frontend_get_u64_async           (VhostUserFrontend   *self,
                                                                VhostUserRequestType request,
                                                                GCancellable        *cancellable,
                                                                GAsyncReadyCallback  callback,
                                                                gpointer             user_data);
VHOST_USER_AVAILABLE_IN_ALL
guint64            vhost_user_frontend_get_u64_finish          (VhostUserFrontend   *self,
                                                                GAsyncResult        *result,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_set_u64                 (VhostUserFrontend   *self,
                                                                VhostUserRequestType request,
                                                                guint64              value,
                                                                GCancellable        *cancellable,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
void               vhost_user_frontend_set_u64_async           (VhostUserFrontend   *self,
                                                                VhostUserRequestType request,
                                                                guint64              value,
                                                                GCancellable        *cancellable,
                                                                GAsyncReadyCallback  callback,
                                                                gpointer             user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_set_u64_finish          (VhostUserFrontend   *self,
                                                                GAsyncResult        *result,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_set_vring_state         (VhostUserFrontend   *self,
                                                                VhostUserRequestType request,
                                                                guint                index,
                                                                guint                num,
                                                                GCancellable        *cancellable,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
void               vhost_user_frontend_set_vring_state_async   (VhostUserFrontend   *self,
                                                                VhostUserRequestType request,
                                                                guint                index,
                                                                guint                num,
                                                                GCancellable        *cancellable,
                                                                GAsyncReadyCallback  callback,
                                                                gpointer             user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_set_vring_state_finish  (VhostUserFrontend   *self,
                                                                GAsyncResult        *result,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_set_vring_fd            (VhostUserFrontend   *self,
                                                                VhostUserRequestType request,
                                                                guint                index,
                                                                int                  fd,
                                                                GCancellable        *cancellable,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
void               vhost_user_frontend_set_vring_fd_async      (VhostUserFrontend   *self,
                                                                VhostUserRequestType request,
                                                                guint                index,
                                                                int                  fd,
                                                                GCancellable        *cancellable,
                                                                GAsyncReadyCallback  callback,
                                                                gpointer             user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_set_vring_fd_finish     (VhostUserFrontend   *self,
                                                                GAsyncResult        *result,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_set_vring_addr          (VhostUserFrontend   *self,
                                                                guint                index,
                                                                guint                flags,
                                                                guint64              desc_user_addr,
                                                                guint64              used_user_addr,
                                                                guint64              avail_user_addr,
                                                                guint64              log_guest_addr,
                                                                GCancellable        *cancellable,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
void               vhost_user_frontend_set_vring_addr_async    (VhostUserFrontend   *self,
                                                                guint                index,
                                                                guint                flags,
                                                                guint64              desc_user_addr,
                                                                guint64              used_user_addr,
                                                                guint64              avail_user_addr,
                                                                guint64              log_guest_addr,
                                                                GCancellable        *cancellable,
                                                                GAsyncReadyCallback  callback,
                                                                gpointer             user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_set_vring_addr_finish   (VhostUserFrontend   *self,
                                                                GAsyncResult        *result,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
guint              vhost_user_frontend_get_vring_base          (VhostUserFrontend   *self,
                                                                guint                index,
                                                                GCancellable        *cancellable,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
void               vhost_user_frontend_get_vring_base_async    (VhostUserFrontend   *self,
                                                                guint                index,
                                                                GCancellable        *cancellable,
                                                                GAsyncReadyCallback  callback,
                                                                gpointer             user_data);
VHOST_USER_AVAILABLE_IN_ALL
guint              vhost_user_frontend_get_vring_base_finish   (VhostUserFrontend   *self,
                                                                GAsyncResult        *result,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
GBytes            *vhost_user_frontend_read_config             (VhostUserFrontend   *self,
                                                                guint                offset,
                                                                guint                size,
                                                                GCancellable        *cancellable,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
void               vhost_user_frontend_read_config_async       (VhostUserFrontend   *self,
                                                                guint                offset,
                                                                guint                size,
                                                                GCancellable        *cancellable,
                                                                GAsyncReadyCallback  callback,
                                                                gpointer             user_data);
VHOST_USER_AVAILABLE_IN_ALL
GBytes            *vhost_user_frontend_read_config_finish      (VhostUserFrontend   *self,
                                                                GAsyncResult        *result,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_add_mem_region          (VhostUserFrontend   *self,
                                                                VhostUserMemoryRegion *region,
                                                                GCancellable        *cancellable,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
void               vhost_user_frontend_add_mem_region_async    (VhostUserFrontend   *self,
                                                                VhostUserMemoryRegion *region,
                                                                GCancellable        *cancellable,
                                                                GAsyncReadyCallback  callback,
                                                                gpointer             user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_add_mem_region_finish   (VhostUserFrontend   *self,
                                                                GAsyncResult        *result,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_set_mem_table           (VhostUserFrontend   *self,
                                                                VhostUserMemoryTable *table,
                                                                GCancellable        *cancellable,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
void               vhost_user_frontend_set_mem_table_async     (VhostUserFrontend   *self,
                                                                VhostUserMemoryTable *table,
                                                                GCancellable        *cancellable,
                                                                GAsyncReadyCallback  callback,
                                                                gpointer             user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_set_mem_table_finish    (VhostUserFrontend   *self,
                                                                GAsyncResult        *result,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_command                 (VhostUserFrontend   *self,
                                                                VhostUserRequestType request,
                                                                GCancellable        *cancellable,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
void               vhost_user_frontend_command_async           (VhostUserFrontend   *self,
                                                                VhostUserRequestType request,
                                                                GCancellable        *cancellable,
                                                                GAsyncReadyCallback  callback,
                                                                gpointer             user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_command_finish          (VhostUserFrontend   *self,
                                                                GAsyncResult        *result,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_write_config            (VhostUserFrontend   *self,
                                                                guint                offset,
                                                                guint                flags,
                                                                GBytes              *data,
                                                                GCancellable        *cancellable,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
void               vhost_user_frontend_write_config_async      (VhostUserFrontend   *self,
                                                                guint                offset,
                                                                guint                flags,
                                                                GBytes              *data,
                                                                GCancellable        *cancellable,
                                                                GAsyncReadyCallback  callback,
                                                                gpointer             user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_write_config_finish     (VhostUserFrontend   *self,
                                                                GAsyncResult        *result,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
int                vhost_user_frontend_get_inflight_fd         (VhostUserFrontend   *self,
                                                                guint                num_queues,
                                                                guint                queue_size,
                                                                guint64             *mmap_size,
                                                                guint64             *mmap_offset,
                                                                GCancellable        *cancellable,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
void               vhost_user_frontend_get_inflight_fd_async   (VhostUserFrontend   *self,
                                                                guint                num_queues,
                                                                guint                queue_size,
                                                                GCancellable        *cancellable,
                                                                GAsyncReadyCallback  callback,
                                                                gpointer             user_data);
VHOST_USER_AVAILABLE_IN_ALL
int                vhost_user_frontend_get_inflight_fd_finish  (VhostUserFrontend   *self,
                                                                GAsyncResult        *result,
                                                                guint64             *mmap_size,
                                                                guint64             *mmap_offset,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_set_inflight_fd         (VhostUserFrontend   *self,
                                                                guint64              mmap_size,
                                                                guint64              mmap_offset,
                                                                guint                num_queues,
                                                                guint                queue_size,
                                                                int                  fd,
                                                                GCancellable        *cancellable,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_rem_mem_region          (VhostUserFrontend   *self,
                                                                VhostUserMemoryRegion *region,
                                                                GCancellable        *cancellable,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
void               vhost_user_frontend_set_inflight_fd_async   (VhostUserFrontend   *self,
                                                                guint64              mmap_size,
                                                                guint64              mmap_offset,
                                                                guint                num_queues,
                                                                guint                queue_size,
                                                                int                  fd,
                                                                GCancellable        *cancellable,
                                                                GAsyncReadyCallback  callback,
                                                                gpointer             user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_set_inflight_fd_finish  (VhostUserFrontend   *self,
                                                                GAsyncResult        *result,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
void               vhost_user_frontend_rem_mem_region_async    (VhostUserFrontend   *self,
                                                                VhostUserMemoryRegion *region,
                                                                GCancellable        *cancellable,
                                                                GAsyncReadyCallback  callback,
                                                                gpointer             user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_rem_mem_region_finish   (VhostUserFrontend   *self,
                                                                GAsyncResult        *result,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_send_fd                 (VhostUserFrontend   *self,
                                                                VhostUserRequestType request,
                                                                int                  fd,
                                                                GCancellable        *cancellable,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
void               vhost_user_frontend_send_fd_async           (VhostUserFrontend   *self,
                                                                VhostUserRequestType request,
                                                                int                  fd,
                                                                GCancellable        *cancellable,
                                                                GAsyncReadyCallback  callback,
                                                                gpointer             user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_send_fd_finish          (VhostUserFrontend   *self,
                                                                GAsyncResult        *result,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_set_log_base            (VhostUserFrontend   *self,
                                                                guint64              size,
                                                                guint64              offset,
                                                                int                  fd,
                                                                GCancellable        *cancellable,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
void               vhost_user_frontend_set_log_base_async      (VhostUserFrontend   *self,
                                                                guint64              size,
                                                                guint64              offset,
                                                                int                  fd,
                                                                GCancellable        *cancellable,
                                                                GAsyncReadyCallback  callback,
                                                                gpointer             user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_set_log_base_finish     (VhostUserFrontend   *self,
                                                                GAsyncResult        *result,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_send_iotlb_msg          (VhostUserFrontend   *self,
                                                                guint64              iova,
                                                                guint64              size,
                                                                guint64              user_addr,
                                                                guint                perm,
                                                                guint                type,
                                                                GCancellable        *cancellable,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
void               vhost_user_frontend_send_iotlb_msg_async    (VhostUserFrontend   *self,
                                                                guint64              iova,
                                                                guint64              size,
                                                                guint64              user_addr,
                                                                guint                perm,
                                                                guint                type,
                                                                GCancellable        *cancellable,
                                                                GAsyncReadyCallback  callback,
                                                                gpointer             user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_send_iotlb_msg_finish   (VhostUserFrontend   *self,
                                                                GAsyncResult        *result,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
int                vhost_user_frontend_get_shared_object       (VhostUserFrontend   *self,
                                                                const char          *uuid,
                                                                GCancellable        *cancellable,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
void               vhost_user_frontend_get_shared_object_async (VhostUserFrontend   *self,
                                                                const char          *uuid,
                                                                GCancellable        *cancellable,
                                                                GAsyncReadyCallback  callback,
                                                                gpointer             user_data);
VHOST_USER_AVAILABLE_IN_ALL
int                vhost_user_frontend_get_shared_object_finish (VhostUserFrontend   *self,
                                                                 GAsyncResult        *result,
                                                                 GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_set_device_state_fd     (VhostUserFrontend   *self,
                                                                guint                direction,
                                                                guint                phase,
                                                                int                  fd,
                                                                int                 *out_fd,
                                                                GCancellable        *cancellable,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
void               vhost_user_frontend_set_device_state_fd_async (VhostUserFrontend   *self,
                                                                  guint                direction,
                                                                  guint                phase,
                                                                  int                  fd,
                                                                  GCancellable        *cancellable,
                                                                  GAsyncReadyCallback  callback,
                                                                  gpointer             user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean           vhost_user_frontend_set_device_state_fd_finish (VhostUserFrontend   *self,
                                                                   GAsyncResult        *result,
                                                                   int                 *out_fd,
                                                                   GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
guint64           *vhost_user_frontend_get_shmem_config        (VhostUserFrontend   *self,
                                                                guint               *n_sizes,
                                                                GCancellable        *cancellable,
                                                                GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
void               vhost_user_frontend_get_shmem_config_async  (VhostUserFrontend   *self,
                                                                GCancellable        *cancellable,
                                                                GAsyncReadyCallback  callback,
                                                                gpointer             user_data);
VHOST_USER_AVAILABLE_IN_ALL
guint64           *vhost_user_frontend_get_shmem_config_finish (VhostUserFrontend   *self,
                                                                GAsyncResult        *result,
                                                                guint               *n_sizes,
                                                                GError             **error);

VHOST_USER_AVAILABLE_IN_ALL
VhostUserObjectRegistry *vhost_user_frontend_get_object_registry (VhostUserFrontend       *self);
VHOST_USER_AVAILABLE_IN_ALL
void               vhost_user_frontend_set_object_registry     (VhostUserFrontend       *self,
                                                                VhostUserObjectRegistry *registry);
VHOST_USER_AVAILABLE_IN_ALL
int                vhost_user_frontend_get_host_notifier       (VhostUserFrontend   *self,
                                                                guint                index,
                                                                guint64             *offset,
                                                                guint64             *size);
VHOST_USER_AVAILABLE_IN_ALL
int                vhost_user_frontend_lookup_shmem_mapping    (VhostUserFrontend   *self,
                                                                guint                shmid,
                                                                guint64              shm_offset,
                                                                guint64             *start,
                                                                guint64             *len,
                                                                guint64             *fd_offset,
                                                                gboolean            *writable);
VHOST_USER_AVAILABLE_IN_ALL
guint              vhost_user_frontend_get_n_shmem_mappings    (VhostUserFrontend   *self);

G_END_DECLS
