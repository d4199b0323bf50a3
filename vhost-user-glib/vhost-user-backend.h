/* vhost-user-backend.h: the device side of vhost-user
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(__VHOST_USER_GLIB_INSIDE__) && !defined(VHOST_USER_GLIB_COMPILATION)
#error "Only <vhost-user-glib.h> can be included directly."
#endif

#include <gio/gio.h>

#include "vhost-user-enums.h"
#include "vhost-user-invocation.h"
#include "vhost-user-memory-table.h"
#include "vhost-user-version-macros.h"
#include "vhost-user-vring.h"

G_BEGIN_DECLS

#define VHOST_USER_TYPE_BACKEND (vhost_user_backend_get_type ())

VHOST_USER_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (VhostUserBackend, vhost_user_backend, VHOST_USER, BACKEND, GObject)

/**
 * VhostUserBackendClass:
 * @parent_class: the parent class
 * @get_features: class closure of [signal@VhostUser.Backend::get-features]
 * @set_features: class closure of [signal@VhostUser.Backend::set-features]
 * @set_owner: class closure of [signal@VhostUser.Backend::set-owner]
 * @reset_owner: class closure of [signal@VhostUser.Backend::reset-owner]
 * @set_mem_table: class closure of [signal@VhostUser.Backend::set-mem-table]
 * @set_log_base: class closure of [signal@VhostUser.Backend::set-log-base]
 * @set_log_fd: class closure of [signal@VhostUser.Backend::set-log-fd]
 * @set_vring_num: class closure of [signal@VhostUser.Backend::set-vring-num]
 * @set_vring_addr: class closure of [signal@VhostUser.Backend::set-vring-addr]
 * @set_vring_base: class closure of [signal@VhostUser.Backend::set-vring-base]
 * @get_vring_base: class closure of [signal@VhostUser.Backend::get-vring-base]
 * @set_vring_kick: class closure of [signal@VhostUser.Backend::set-vring-kick]
 * @set_vring_call: class closure of [signal@VhostUser.Backend::set-vring-call]
 * @set_vring_err: class closure of [signal@VhostUser.Backend::set-vring-err]
 * @get_protocol_features: class closure of [signal@VhostUser.Backend::get-protocol-features]
 * @set_protocol_features: class closure of [signal@VhostUser.Backend::set-protocol-features]
 * @get_queue_num: class closure of [signal@VhostUser.Backend::get-queue-num]
 * @set_vring_enable: class closure of [signal@VhostUser.Backend::set-vring-enable]
 * @send_rarp: class closure of [signal@VhostUser.Backend::send-rarp]
 * @net_set_mtu: class closure of [signal@VhostUser.Backend::net-set-mtu]
 * @set_backend_req_fd: class closure of [signal@VhostUser.Backend::set-backend-req-fd]
 * @iotlb_msg: class closure of [signal@VhostUser.Backend::iotlb-msg]
 * @set_vring_endian: class closure of [signal@VhostUser.Backend::set-vring-endian]
 * @get_config: class closure of [signal@VhostUser.Backend::get-config]
 * @set_config: class closure of [signal@VhostUser.Backend::set-config]
 * @create_crypto_session: class closure of [signal@VhostUser.Backend::create-crypto-session]
 * @close_crypto_session: class closure of [signal@VhostUser.Backend::close-crypto-session]
 * @postcopy_advise: class closure of [signal@VhostUser.Backend::postcopy-advise]
 * @postcopy_listen: class closure of [signal@VhostUser.Backend::postcopy-listen]
 * @postcopy_end: class closure of [signal@VhostUser.Backend::postcopy-end]
 * @get_inflight_fd: class closure of [signal@VhostUser.Backend::get-inflight-fd]
 * @set_inflight_fd: class closure of [signal@VhostUser.Backend::set-inflight-fd]
 * @gpu_set_socket: class closure of [signal@VhostUser.Backend::gpu-set-socket]
 * @reset_device: class closure of [signal@VhostUser.Backend::reset-device]
 * @vring_kick: class closure of [signal@VhostUser.Backend::vring-kick]
 * @get_max_mem_slots: class closure of [signal@VhostUser.Backend::get-max-mem-slots]
 * @add_mem_reg: class closure of [signal@VhostUser.Backend::add-mem-reg]
 * @rem_mem_reg: class closure of [signal@VhostUser.Backend::rem-mem-reg]
 * @set_status: class closure of [signal@VhostUser.Backend::set-status]
 * @get_status: class closure of [signal@VhostUser.Backend::get-status]
 * @get_shared_object: class closure of [signal@VhostUser.Backend::get-shared-object]
 * @set_device_state_fd: class closure of [signal@VhostUser.Backend::set-device-state-fd]
 * @check_device_state: class closure of [signal@VhostUser.Backend::check-device-state]
 * @get_shmem_config: class closure of [signal@VhostUser.Backend::get-shmem-config]
 * @disconnected: class closure of [signal@VhostUser.Backend::disconnected]
 *
 * A device subclasses #VhostUserBackend and overrides the requests it
 * implements itself; chaining up gives the library's default.
 */
struct _VhostUserBackendClass
{
  GObjectClass parent_class;

  gboolean (*get_features)          (VhostUserBackend *self, VhostUserInvocation *invocation);
  gboolean (*set_features)          (VhostUserBackend *self, VhostUserInvocation *invocation, guint64 features);
  gboolean (*set_owner)             (VhostUserBackend *self, VhostUserInvocation *invocation);
  gboolean (*reset_owner)           (VhostUserBackend *self, VhostUserInvocation *invocation);
  gboolean (*set_mem_table)         (VhostUserBackend *self, VhostUserInvocation *invocation, VhostUserMemoryTable *table);
  gboolean (*set_log_base)          (VhostUserBackend *self, VhostUserInvocation *invocation, guint64 size, guint64 offset, int fd);
  gboolean (*set_log_fd)            (VhostUserBackend *self, VhostUserInvocation *invocation, int fd);
  gboolean (*set_vring_num)         (VhostUserBackend *self, VhostUserInvocation *invocation, guint index, guint num);
  gboolean (*set_vring_addr)        (VhostUserBackend *self, VhostUserInvocation *invocation, guint index, const VhostUserVringAddress *address);
  gboolean (*set_vring_base)        (VhostUserBackend *self, VhostUserInvocation *invocation, guint index, guint base);
  gboolean (*get_vring_base)        (VhostUserBackend *self, VhostUserInvocation *invocation, guint index);
  gboolean (*set_vring_kick)        (VhostUserBackend *self, VhostUserInvocation *invocation, guint index, int fd);
  gboolean (*set_vring_call)        (VhostUserBackend *self, VhostUserInvocation *invocation, guint index, int fd);
  gboolean (*set_vring_err)         (VhostUserBackend *self, VhostUserInvocation *invocation, guint index, int fd);
  gboolean (*get_protocol_features) (VhostUserBackend *self, VhostUserInvocation *invocation);
  gboolean (*set_protocol_features) (VhostUserBackend *self, VhostUserInvocation *invocation, guint64 features);
  gboolean (*get_queue_num)         (VhostUserBackend *self, VhostUserInvocation *invocation);
  gboolean (*set_vring_enable)      (VhostUserBackend *self, VhostUserInvocation *invocation, guint index, gboolean enable);
  gboolean (*send_rarp)             (VhostUserBackend *self, VhostUserInvocation *invocation, guint64 mac);
  gboolean (*net_set_mtu)           (VhostUserBackend *self, VhostUserInvocation *invocation, guint64 mtu);
  gboolean (*set_backend_req_fd)    (VhostUserBackend *self, VhostUserInvocation *invocation, int fd);
  gboolean (*iotlb_msg)             (VhostUserBackend *self, VhostUserInvocation *invocation, guint64 iova, guint64 size, guint64 user_addr, guint perm, guint type);
  gboolean (*set_vring_endian)      (VhostUserBackend *self, VhostUserInvocation *invocation, guint index, guint big_endian);
  gboolean (*get_config)            (VhostUserBackend *self, VhostUserInvocation *invocation, guint offset, guint size, guint flags);
  gboolean (*set_config)            (VhostUserBackend *self, VhostUserInvocation *invocation, guint offset, guint flags, GBytes *data);
  gboolean (*create_crypto_session) (VhostUserBackend *self, VhostUserInvocation *invocation, GBytes *session);
  gboolean (*close_crypto_session)  (VhostUserBackend *self, VhostUserInvocation *invocation, guint64 session_id);
  gboolean (*postcopy_advise)       (VhostUserBackend *self, VhostUserInvocation *invocation);
  gboolean (*postcopy_listen)       (VhostUserBackend *self, VhostUserInvocation *invocation);
  gboolean (*postcopy_end)          (VhostUserBackend *self, VhostUserInvocation *invocation);
  gboolean (*get_inflight_fd)       (VhostUserBackend *self, VhostUserInvocation *invocation, guint num_queues, guint queue_size);
  gboolean (*set_inflight_fd)       (VhostUserBackend *self, VhostUserInvocation *invocation, guint64 mmap_size, guint64 mmap_offset, guint num_queues, guint queue_size, int fd);
  gboolean (*gpu_set_socket)        (VhostUserBackend *self, VhostUserInvocation *invocation, int fd);
  gboolean (*reset_device)          (VhostUserBackend *self, VhostUserInvocation *invocation);
  gboolean (*vring_kick)            (VhostUserBackend *self, VhostUserInvocation *invocation, guint index);
  gboolean (*get_max_mem_slots)     (VhostUserBackend *self, VhostUserInvocation *invocation);
  gboolean (*add_mem_reg)           (VhostUserBackend *self, VhostUserInvocation *invocation, VhostUserMemoryRegion *region);
  gboolean (*rem_mem_reg)           (VhostUserBackend *self, VhostUserInvocation *invocation, guint64 guest_phys_addr, guint64 size, guint64 user_addr);
  gboolean (*set_status)            (VhostUserBackend *self, VhostUserInvocation *invocation, guint64 status);
  gboolean (*get_status)            (VhostUserBackend *self, VhostUserInvocation *invocation);
  gboolean (*get_shared_object)     (VhostUserBackend *self, VhostUserInvocation *invocation, const char *uuid);
  gboolean (*set_device_state_fd)   (VhostUserBackend *self, VhostUserInvocation *invocation, guint direction, guint phase, int fd);
  gboolean (*check_device_state)    (VhostUserBackend *self, VhostUserInvocation *invocation);
  gboolean (*get_shmem_config)      (VhostUserBackend *self, VhostUserInvocation *invocation);

  void     (*disconnected)          (VhostUserBackend *self, const GError *error, gboolean should_reconnect);

  /*< private >*/
  gpointer padding[16];
};

VHOST_USER_AVAILABLE_IN_ALL
VhostUserBackend     *vhost_user_backend_new                       (void);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_backend_serve                     (VhostUserBackend  *self,
                                                                    GSocket           *socket,
                                                                    GError           **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_backend_connect_to_path           (VhostUserBackend  *self,
                                                                    const char        *path,
                                                                    guint              timeout_ms,
                                                                    GCancellable      *cancellable,
                                                                    GError           **error);
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_backend_close                     (VhostUserBackend  *self);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_backend_get_connected             (VhostUserBackend  *self);
VHOST_USER_AVAILABLE_IN_ALL
GMainContext         *vhost_user_backend_get_main_context          (VhostUserBackend  *self);

VHOST_USER_AVAILABLE_IN_ALL
guint64               vhost_user_backend_get_features              (VhostUserBackend  *self);
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_backend_set_features              (VhostUserBackend  *self,
                                                                    guint64            features);
VHOST_USER_AVAILABLE_IN_ALL
guint64               vhost_user_backend_get_protocol_features     (VhostUserBackend  *self);
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_backend_set_protocol_features     (VhostUserBackend  *self,
                                                                    guint64            features);
VHOST_USER_AVAILABLE_IN_ALL
guint                 vhost_user_backend_get_num_queues            (VhostUserBackend  *self);
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_backend_set_num_queues            (VhostUserBackend  *self,
                                                                    guint              num_queues);
VHOST_USER_AVAILABLE_IN_ALL
guint                 vhost_user_backend_get_max_queue_size        (VhostUserBackend  *self);
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_backend_set_max_queue_size        (VhostUserBackend  *self,
                                                                    guint              max_queue_size);
VHOST_USER_AVAILABLE_IN_ALL
guint                 vhost_user_backend_get_max_mem_slots         (VhostUserBackend  *self);
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_backend_set_max_mem_slots         (VhostUserBackend  *self,
                                                                    guint              max_mem_slots);
VHOST_USER_AVAILABLE_IN_ALL
GBytes               *vhost_user_backend_get_config                (VhostUserBackend  *self);
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_backend_set_config                (VhostUserBackend  *self,
                                                                    GBytes            *config);
VHOST_USER_AVAILABLE_IN_ALL
GBytes               *vhost_user_backend_get_config_writable_mask  (VhostUserBackend  *self);
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_backend_set_config_writable_mask  (VhostUserBackend  *self,
                                                                    GBytes            *mask);

VHOST_USER_AVAILABLE_IN_ALL
guint64               vhost_user_backend_get_acked_features        (VhostUserBackend  *self);
VHOST_USER_AVAILABLE_IN_ALL
guint64               vhost_user_backend_get_acked_protocol_features (VhostUserBackend *self);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_backend_get_owner                 (VhostUserBackend  *self);
VHOST_USER_AVAILABLE_IN_ALL
guint64               vhost_user_backend_get_status                (VhostUserBackend  *self);
VHOST_USER_AVAILABLE_IN_ALL
VhostUserMemoryTable *vhost_user_backend_get_memory_table          (VhostUserBackend  *self);
VHOST_USER_AVAILABLE_IN_ALL
VhostUserVring       *vhost_user_backend_get_vring                 (VhostUserBackend  *self,
                                                                    guint              index);


VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_backend_send_backend_request_async  (VhostUserBackend            *self,
                                                                      VhostUserBackendRequestType  request,
                                                                      GBytes                      *payload,
                                                                      int                          fd,
                                                                      GCancellable                *cancellable,
                                                                      GAsyncReadyCallback          callback,
                                                                      gpointer                     user_data);
VHOST_USER_AVAILABLE_IN_ALL
guint64               vhost_user_backend_send_backend_request_finish (VhostUserBackend            *self,
                                                                      GAsyncResult                *result,
                                                                      int                         *fd,
                                                                      GError                     **error);
VHOST_USER_AVAILABLE_IN_ALL
guint64               vhost_user_backend_send_backend_request        (VhostUserBackend            *self,
                                                                      VhostUserBackendRequestType  request,
                                                                      GBytes                      *payload,
                                                                      int                          fd,
                                                                      GCancellable                *cancellable,
                                                                      int                         *out_fd,
                                                                      GError                     **error);
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_backend_notify_config_change_async  (VhostUserBackend            *self,
                                                                      GCancellable                *cancellable,
                                                                      GAsyncReadyCallback          callback,
                                                                      gpointer                     user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_backend_notify_config_change_finish (VhostUserBackend            *self,
                                                                      GAsyncResult                *result,
                                                                      GError                     **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_backend_notify_config_change        (VhostUserBackend            *self,
                                                                      GCancellable                *cancellable,
                                                                      GError                     **error);

G_END_DECLS
