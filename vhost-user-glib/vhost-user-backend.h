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
 * @handle_get_features: class closure of [signal@VhostUser.Backend::get-features]
 * @handle_set_features: class closure of [signal@VhostUser.Backend::set-features]
 * @handle_set_owner: class closure of [signal@VhostUser.Backend::set-owner]
 * @handle_reset_owner: class closure of [signal@VhostUser.Backend::reset-owner]
 * @handle_set_mem_table: class closure of [signal@VhostUser.Backend::set-mem-table]
 * @handle_set_log_base: class closure of [signal@VhostUser.Backend::set-log-base]
 * @handle_set_log_fd: class closure of [signal@VhostUser.Backend::set-log-fd]
 * @handle_set_vring_num: class closure of [signal@VhostUser.Backend::set-vring-num]
 * @handle_set_vring_addr: class closure of [signal@VhostUser.Backend::set-vring-addr]
 * @handle_set_vring_base: class closure of [signal@VhostUser.Backend::set-vring-base]
 * @handle_get_vring_base: class closure of [signal@VhostUser.Backend::get-vring-base]
 * @handle_set_vring_kick: class closure of [signal@VhostUser.Backend::set-vring-kick]
 * @handle_set_vring_call: class closure of [signal@VhostUser.Backend::set-vring-call]
 * @handle_set_vring_err: class closure of [signal@VhostUser.Backend::set-vring-err]
 * @handle_get_protocol_features: class closure of [signal@VhostUser.Backend::get-protocol-features]
 * @handle_set_protocol_features: class closure of [signal@VhostUser.Backend::set-protocol-features]
 * @handle_get_queue_num: class closure of [signal@VhostUser.Backend::get-queue-num]
 * @handle_set_vring_enable: class closure of [signal@VhostUser.Backend::set-vring-enable]
 * @handle_send_rarp: class closure of [signal@VhostUser.Backend::send-rarp]
 * @handle_net_set_mtu: class closure of [signal@VhostUser.Backend::net-set-mtu]
 * @handle_set_backend_req_fd: class closure of [signal@VhostUser.Backend::set-backend-req-fd]
 * @handle_iotlb_msg: class closure of [signal@VhostUser.Backend::iotlb-msg]
 * @handle_set_vring_endian: class closure of [signal@VhostUser.Backend::set-vring-endian]
 * @handle_get_config: class closure of [signal@VhostUser.Backend::get-config]
 * @handle_set_config: class closure of [signal@VhostUser.Backend::set-config]
 * @handle_create_crypto_session: class closure of [signal@VhostUser.Backend::create-crypto-session]
 * @handle_close_crypto_session: class closure of [signal@VhostUser.Backend::close-crypto-session]
 * @handle_postcopy_advise: class closure of [signal@VhostUser.Backend::postcopy-advise]
 * @handle_postcopy_listen: class closure of [signal@VhostUser.Backend::postcopy-listen]
 * @handle_postcopy_end: class closure of [signal@VhostUser.Backend::postcopy-end]
 * @handle_get_inflight_fd: class closure of [signal@VhostUser.Backend::get-inflight-fd]
 * @handle_set_inflight_fd: class closure of [signal@VhostUser.Backend::set-inflight-fd]
 * @handle_gpu_set_socket: class closure of [signal@VhostUser.Backend::gpu-set-socket]
 * @handle_reset_device: class closure of [signal@VhostUser.Backend::reset-device]
 * @handle_vring_kick: class closure of [signal@VhostUser.Backend::vring-kick]
 * @handle_get_max_mem_slots: class closure of [signal@VhostUser.Backend::get-max-mem-slots]
 * @handle_add_mem_reg: class closure of [signal@VhostUser.Backend::add-mem-reg]
 * @handle_rem_mem_reg: class closure of [signal@VhostUser.Backend::rem-mem-reg]
 * @handle_set_status: class closure of [signal@VhostUser.Backend::set-status]
 * @handle_get_status: class closure of [signal@VhostUser.Backend::get-status]
 * @handle_get_shared_object: class closure of [signal@VhostUser.Backend::get-shared-object]
 * @handle_set_device_state_fd: class closure of [signal@VhostUser.Backend::set-device-state-fd]
 * @handle_check_device_state: class closure of [signal@VhostUser.Backend::check-device-state]
 * @handle_get_shmem_config: class closure of [signal@VhostUser.Backend::get-shmem-config]
 * @handle_get_vring_base_skip_drain: class closure of [signal@VhostUser.Backend::get-vring-base-skip-drain]
 * @disconnected: class closure of [signal@VhostUser.Backend::disconnected]
 *
 * A device subclasses #VhostUserBackend and overrides the requests it
 * implements itself; chaining up gives the library's default. The class
 * closures of request signals are named `handle_` and the request's
 * nick, as GDBus names the handlers of its generated skeletons, so that
 * in bindings they cannot be mistaken for methods or property accessors
 * (`do_handle_get_config` in Python, `vfunc_handle_get_config` in GJS).
 *
 * Since: 1.0
 */
struct _VhostUserBackendClass
{
  GObjectClass parent_class;

  gboolean (*handle_get_features)   (VhostUserBackend *self, VhostUserInvocation *invocation);
  gboolean (*handle_set_features)   (VhostUserBackend *self, VhostUserInvocation *invocation, guint64 features);
  gboolean (*handle_set_owner)      (VhostUserBackend *self, VhostUserInvocation *invocation);
  gboolean (*handle_reset_owner)    (VhostUserBackend *self, VhostUserInvocation *invocation);
  gboolean (*handle_set_mem_table)  (VhostUserBackend *self, VhostUserInvocation *invocation, VhostUserMemoryTable *table);
  gboolean (*handle_set_log_base)   (VhostUserBackend *self, VhostUserInvocation *invocation, guint64 size, guint64 offset, int fd);
  gboolean (*handle_set_log_fd)     (VhostUserBackend *self, VhostUserInvocation *invocation, int fd);
  gboolean (*handle_set_vring_num)  (VhostUserBackend *self, VhostUserInvocation *invocation, guint index, guint num);
  gboolean (*handle_set_vring_addr) (VhostUserBackend *self, VhostUserInvocation *invocation, guint index, const VhostUserVringAddress *address);
  gboolean (*handle_set_vring_base) (VhostUserBackend *self, VhostUserInvocation *invocation, guint index, guint base);
  gboolean (*handle_get_vring_base) (VhostUserBackend *self, VhostUserInvocation *invocation, guint index);
  gboolean (*handle_set_vring_kick) (VhostUserBackend *self, VhostUserInvocation *invocation, guint index, int fd);
  gboolean (*handle_set_vring_call) (VhostUserBackend *self, VhostUserInvocation *invocation, guint index, int fd);
  gboolean (*handle_set_vring_err)  (VhostUserBackend *self, VhostUserInvocation *invocation, guint index, int fd);
  gboolean (*handle_get_protocol_features) (VhostUserBackend *self, VhostUserInvocation *invocation);
  gboolean (*handle_set_protocol_features) (VhostUserBackend *self, VhostUserInvocation *invocation, guint64 features);
  gboolean (*handle_get_queue_num)  (VhostUserBackend *self, VhostUserInvocation *invocation);
  gboolean (*handle_set_vring_enable) (VhostUserBackend *self, VhostUserInvocation *invocation, guint index, gboolean enable);
  gboolean (*handle_send_rarp)      (VhostUserBackend *self, VhostUserInvocation *invocation, guint64 mac);
  gboolean (*handle_net_set_mtu)    (VhostUserBackend *self, VhostUserInvocation *invocation, guint64 mtu);
  gboolean (*handle_set_backend_req_fd) (VhostUserBackend *self, VhostUserInvocation *invocation, int fd);
  gboolean (*handle_iotlb_msg)      (VhostUserBackend *self, VhostUserInvocation *invocation, guint64 iova, guint64 size, guint64 user_addr, guint perm, guint type);
  gboolean (*handle_set_vring_endian) (VhostUserBackend *self, VhostUserInvocation *invocation, guint index, guint big_endian);
  gboolean (*handle_get_config)     (VhostUserBackend *self, VhostUserInvocation *invocation, guint offset, guint size, guint flags);
  gboolean (*handle_set_config)     (VhostUserBackend *self, VhostUserInvocation *invocation, guint offset, guint flags, GBytes *data);
  gboolean (*handle_create_crypto_session) (VhostUserBackend *self, VhostUserInvocation *invocation, GBytes *session);
  gboolean (*handle_close_crypto_session) (VhostUserBackend *self, VhostUserInvocation *invocation, guint64 session_id);
  gboolean (*handle_postcopy_advise) (VhostUserBackend *self, VhostUserInvocation *invocation);
  gboolean (*handle_postcopy_listen) (VhostUserBackend *self, VhostUserInvocation *invocation);
  gboolean (*handle_postcopy_end)   (VhostUserBackend *self, VhostUserInvocation *invocation);
  gboolean (*handle_get_inflight_fd) (VhostUserBackend *self, VhostUserInvocation *invocation, guint num_queues, guint queue_size);
  gboolean (*handle_set_inflight_fd) (VhostUserBackend *self, VhostUserInvocation *invocation, guint64 mmap_size, guint64 mmap_offset, guint num_queues, guint queue_size, int fd);
  gboolean (*handle_gpu_set_socket) (VhostUserBackend *self, VhostUserInvocation *invocation, int fd);
  gboolean (*handle_reset_device)   (VhostUserBackend *self, VhostUserInvocation *invocation);
  gboolean (*handle_vring_kick)     (VhostUserBackend *self, VhostUserInvocation *invocation, guint index);
  gboolean (*handle_get_max_mem_slots) (VhostUserBackend *self, VhostUserInvocation *invocation);
  gboolean (*handle_add_mem_reg)    (VhostUserBackend *self, VhostUserInvocation *invocation, VhostUserMemoryRegion *region);
  gboolean (*handle_rem_mem_reg)    (VhostUserBackend *self, VhostUserInvocation *invocation, guint64 guest_phys_addr, guint64 size, guint64 user_addr);
  gboolean (*handle_set_status)     (VhostUserBackend *self, VhostUserInvocation *invocation, guint64 status);
  gboolean (*handle_get_status)     (VhostUserBackend *self, VhostUserInvocation *invocation);
  gboolean (*handle_get_shared_object) (VhostUserBackend *self, VhostUserInvocation *invocation, const char *uuid);
  gboolean (*handle_set_device_state_fd) (VhostUserBackend *self, VhostUserInvocation *invocation, guint direction, guint phase, int fd);
  gboolean (*handle_check_device_state) (VhostUserBackend *self, VhostUserInvocation *invocation);
  gboolean (*handle_get_shmem_config) (VhostUserBackend *self, VhostUserInvocation *invocation);
  gboolean (*handle_get_vring_base_skip_drain) (VhostUserBackend *self, VhostUserInvocation *invocation, guint index);

  void     (*disconnected)          (VhostUserBackend *self, const GError *error, gboolean should_reconnect);

  /*< private >*/
  gpointer padding[16];
};

VHOST_USER_AVAILABLE_IN_ALL
VhostUserBackend     *vhost_user_backend_new                       (void);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_backend_take_socket               (VhostUserBackend  *self,
                                                                    GSocket           *socket,
                                                                    GError           **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_backend_connect_to_path           (VhostUserBackend  *self,
                                                                    const char        *path,
                                                                    guint              timeout_ms,
                                                                    GCancellable      *cancellable,
                                                                    GError           **error);
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_backend_connect_to_path_async     (VhostUserBackend    *self,
                                                                    const char          *path,
                                                                    guint                timeout_ms,
                                                                    GCancellable        *cancellable,
                                                                    GAsyncReadyCallback  callback,
                                                                    gpointer             user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_backend_connect_to_path_finish    (VhostUserBackend    *self,
                                                                    GAsyncResult        *result,
                                                                    GError             **error);
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_backend_close                     (VhostUserBackend  *self);
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_backend_log_write                 (VhostUserBackend  *self,
                                                                    guint64            guest_phys_addr,
                                                                    guint64            len);
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_backend_fail_state_transfer       (VhostUserBackend  *self,
                                                                    const GError      *error);
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
guint                 vhost_user_backend_get_timeout               (VhostUserBackend  *self);
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_backend_set_timeout               (VhostUserBackend  *self,
                                                                    guint              timeout_ms);
VHOST_USER_AVAILABLE_IN_ALL
guint                 vhost_user_backend_get_drain_timeout         (VhostUserBackend  *self);
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_backend_set_drain_timeout         (VhostUserBackend  *self,
                                                                    guint              timeout_ms);
VHOST_USER_AVAILABLE_IN_ALL
guint                 vhost_user_backend_get_poll_window           (VhostUserBackend  *self);
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_backend_set_poll_window           (VhostUserBackend  *self,
                                                                    guint              window_us);
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
                                                                      int                         *out_fd,
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
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_backend_send_iotlb_miss_async       (VhostUserBackend            *self,
                                                                      guint64                      iova,
                                                                      guint                        perm,
                                                                      GCancellable                *cancellable,
                                                                      GAsyncReadyCallback          callback,
                                                                      gpointer                     user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_backend_send_iotlb_miss_finish      (VhostUserBackend            *self,
                                                                      GAsyncResult                *result,
                                                                      GError                     **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_backend_send_iotlb_miss             (VhostUserBackend            *self,
                                                                      guint64                      iova,
                                                                      guint                        perm,
                                                                      GCancellable                *cancellable,
                                                                      GError                     **error);

VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_backend_send_iotlb_access_fail_async (VhostUserBackend          *self,
                                                                       guint64                    iova,
                                                                       guint                      perm,
                                                                       GCancellable              *cancellable,
                                                                       GAsyncReadyCallback        callback,
                                                                       gpointer                   user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_backend_send_iotlb_access_fail_finish (VhostUserBackend         *self,
                                                                        GAsyncResult             *result,
                                                                        GError                  **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_backend_send_iotlb_access_fail      (VhostUserBackend            *self,
                                                                      guint64                      iova,
                                                                      guint                        perm,
                                                                      GCancellable                *cancellable,
                                                                      GError                     **error);
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_backend_set_host_notifier_async     (VhostUserBackend            *self,
                                                                      guint                        index,
                                                                      int                          fd,
                                                                      guint64                      offset,
                                                                      guint64                      size,
                                                                      GCancellable                *cancellable,
                                                                      GAsyncReadyCallback          callback,
                                                                      gpointer                     user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_backend_set_host_notifier_finish    (VhostUserBackend            *self,
                                                                      GAsyncResult                *result,
                                                                      GError                     **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_backend_set_host_notifier           (VhostUserBackend            *self,
                                                                      guint                        index,
                                                                      int                          fd,
                                                                      guint64                      offset,
                                                                      guint64                      size,
                                                                      GCancellable                *cancellable,
                                                                      GError                     **error);
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_backend_send_vring_err_async        (VhostUserBackend            *self,
                                                                      guint                        index,
                                                                      GCancellable                *cancellable,
                                                                      GAsyncReadyCallback          callback,
                                                                      gpointer                     user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_backend_send_vring_err_finish       (VhostUserBackend            *self,
                                                                      GAsyncResult                *result,
                                                                      GError                     **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_backend_send_vring_err              (VhostUserBackend            *self,
                                                                      guint                        index,
                                                                      GCancellable                *cancellable,
                                                                      GError                     **error);
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_backend_send_vring_call_async       (VhostUserBackend            *self,
                                                                      guint                        index,
                                                                      GCancellable                *cancellable,
                                                                      GAsyncReadyCallback          callback,
                                                                      gpointer                     user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_backend_send_vring_call_finish      (VhostUserBackend            *self,
                                                                      GAsyncResult                *result,
                                                                      GError                     **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_backend_send_vring_call             (VhostUserBackend            *self,
                                                                      guint                        index,
                                                                      GCancellable                *cancellable,
                                                                      GError                     **error);

VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_backend_add_shared_object_async     (VhostUserBackend            *self,
                                                                      const char                  *uuid,
                                                                      int                          fd,
                                                                      GCancellable                *cancellable,
                                                                      GAsyncReadyCallback          callback,
                                                                      gpointer                     user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_backend_add_shared_object_finish    (VhostUserBackend            *self,
                                                                      GAsyncResult                *result,
                                                                      GError                     **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_backend_add_shared_object           (VhostUserBackend            *self,
                                                                      const char                  *uuid,
                                                                      int                          fd,
                                                                      GCancellable                *cancellable,
                                                                      GError                     **error);
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_backend_remove_shared_object_async  (VhostUserBackend            *self,
                                                                      const char                  *uuid,
                                                                      GCancellable                *cancellable,
                                                                      GAsyncReadyCallback          callback,
                                                                      gpointer                     user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_backend_remove_shared_object_finish (VhostUserBackend            *self,
                                                                      GAsyncResult                *result,
                                                                      GError                     **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_backend_remove_shared_object        (VhostUserBackend            *self,
                                                                      const char                  *uuid,
                                                                      GCancellable                *cancellable,
                                                                      GError                     **error);
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_backend_lookup_shared_object_async  (VhostUserBackend            *self,
                                                                      const char                  *uuid,
                                                                      GCancellable                *cancellable,
                                                                      GAsyncReadyCallback          callback,
                                                                      gpointer                     user_data);
VHOST_USER_AVAILABLE_IN_ALL
int                   vhost_user_backend_lookup_shared_object_finish (VhostUserBackend            *self,
                                                                      GAsyncResult                *result,
                                                                      GError                     **error);
VHOST_USER_AVAILABLE_IN_ALL
int                   vhost_user_backend_lookup_shared_object        (VhostUserBackend            *self,
                                                                      const char                  *uuid,
                                                                      GCancellable                *cancellable,
                                                                      GError                     **error);

VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_backend_set_shmem_region            (VhostUserBackend            *self,
                                                                      guint                        shmid,
                                                                      guint64                      size,
                                                                      GError                     **error);
VHOST_USER_AVAILABLE_IN_ALL
guint64               vhost_user_backend_get_shmem_region            (VhostUserBackend            *self,
                                                                      guint                        shmid);
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_backend_shmem_map_async             (VhostUserBackend            *self,
                                                                      guint                        shmid,
                                                                      guint64                      shm_offset,
                                                                      int                          fd,
                                                                      guint64                      fd_offset,
                                                                      guint64                      len,
                                                                      gboolean                     writable,
                                                                      GCancellable                *cancellable,
                                                                      GAsyncReadyCallback          callback,
                                                                      gpointer                     user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_backend_shmem_map_finish            (VhostUserBackend            *self,
                                                                      GAsyncResult                *result,
                                                                      GError                     **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_backend_shmem_map                   (VhostUserBackend            *self,
                                                                      guint                        shmid,
                                                                      guint64                      shm_offset,
                                                                      int                          fd,
                                                                      guint64                      fd_offset,
                                                                      guint64                      len,
                                                                      gboolean                     writable,
                                                                      GCancellable                *cancellable,
                                                                      GError                     **error);
VHOST_USER_AVAILABLE_IN_ALL
void                  vhost_user_backend_shmem_unmap_async           (VhostUserBackend            *self,
                                                                      guint                        shmid,
                                                                      guint64                      shm_offset,
                                                                      guint64                      len,
                                                                      GCancellable                *cancellable,
                                                                      GAsyncReadyCallback          callback,
                                                                      gpointer                     user_data);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_backend_shmem_unmap_finish          (VhostUserBackend            *self,
                                                                      GAsyncResult                *result,
                                                                      GError                     **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean              vhost_user_backend_shmem_unmap                 (VhostUserBackend            *self,
                                                                      guint                        shmid,
                                                                      guint64                      shm_offset,
                                                                      guint64                      len,
                                                                      GCancellable                *cancellable,
                                                                      GError                     **error);

G_END_DECLS
