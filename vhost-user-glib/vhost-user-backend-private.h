/* vhost-user-backend-private.h: what the back-end's files share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * VhostUserBackend is spread over four files, each calling only the ones
 * below it:
 *
 *   vhost-user-backend.c           the object: properties, life cycle, sockets
 *   vhost-user-backend-handlers.c  the spec's defaults: negotiation, rings, config
 *   vhost-user-backend-memory.c    the defaults that map: memory, log, in-flight area
 *   vhost-user-backend-channel.c   the back-end channel: requests to the front-end
 *   vhost-user-backend-shared.c    shared objects and shared memory regions
 */

#pragma once

#include "vhost-user-backend.h"
#include "vhost-user-connection-private.h"
#include "vhost-user-invocation-private.h"
#include "vhost-user-iotlb-private.h"
#include "vhost-user-memory-table-private.h"
#include "vhost-user-requester-private.h"
#include "vhost-user-responder-private.h"
#include "vhost-user-server-private.h"
#include "vhost-user-vring-private.h"

G_BEGIN_DECLS

typedef struct _VhostUserStateTransfer VhostUserStateTransfer;


typedef struct
{
  GMainContext         *context;
  gboolean              refused;   /* closed with no front-end yet: the next one is turned away */
  /* the server's: after "disconnected", once */
  VhostUserBackendClosedFunc closed_func;
  gpointer              closed_data;

  /* what this device offers */
  guint64               features;
  guint64               protocol_features;
  guint                 num_queues;
  guint                 max_queue_size;
  guint                 max_mem_slots;
  GBytes               *config;
  GBytes               *config_writable_mask;

  /* what this connection agreed */
  guint64               acked_features;
  guint64               acked_protocol_features;
  gboolean              owner;
  guint64               status;
  VhostUserMemoryTable *memory_table;
  GPtrArray            *vrings;
  /* with VIRTIO_F_ACCESS_PLATFORM acked: the IOVAs the front-end mapped,
   * shared with the rings */
  VhostUserIotlb       *iotlb;

  VhostUserConnection  *connection;
  VhostUserResponder   *responder;
  VhostUserConnection  *backend_channel;
  VhostUserRequester   *channel_requester;
  /* rings with a BACKEND_VRING_CALL on its way (not answered yet), and
   * whether they called again since: one more call then covers them all
   * (vhost-user-backend-channel.c). Rings call from their own threads. */
  GMutex                inband_lock;
  GHashTable           *inband_pending;
  guint                 timeout_ms;
  guint                 drain_timeout_ms;  /* GET_VRING_BASE's wait, 0: for ever */
  guint                 poll_window_us;    /* the socket polled after a message */
  int                   log_fd;
  /* the mapped areas (from mmap_offset on), shared with the rings,
   * which may use them from their own threads */
  GBytes               *log;
  GBytes               *inflight;
  gsize                 inflight_stride;   /* bytes per queue */
  /* the file of the area GET_INFLIGHT_FD made, which SET_INFLIGHT_FD
   * usually hands back (0, 0: none) */
  dev_t                 inflight_dev;
  ino_t                 inflight_ino;
  /* while SET_INFLIGHT_FD hands its area to the rings: whether it is
   * all holes (the rings may leave it untouched until used) */
  gboolean              inflight_zeroed;

  /* postcopy (vhost-user-backend-postcopy.c): the userfaultfd from
   * POSTCOPY_ADVISE on, and whether memory is registered as it is mapped */
  int                   postcopy_uffd;
  gboolean              postcopy_listening;

  /* the last device-state transfer (vhost-user-backend-state.c) */
  VhostUserStateTransfer *state_transfer;

  /* vhost-user-backend-shared.c: the objects exported (UUID text to an
   * owned fd, kept across connections: they are the device's), and the
   * size of each shared memory region declared, by id */
  GHashTable           *shared_objects;
  guint64              *shmem_sizes;
} VhostUserBackendPrivate;

enum {
  PROP_0,
  PROP_MAIN_CONTEXT,
  PROP_FEATURES,
  PROP_PROTOCOL_FEATURES,
  PROP_NUM_QUEUES,
  PROP_MAX_QUEUE_SIZE,
  PROP_MAX_MEM_SLOTS,
  PROP_CONFIG,
  PROP_CONFIG_WRITABLE_MASK,
  PROP_ACKED_FEATURES,
  PROP_ACKED_PROTOCOL_FEATURES,
  PROP_OWNER,
  PROP_STATUS,
  PROP_MEMORY_TABLE,
  PROP_CONNECTED,
  PROP_TIMEOUT,
  PROP_DRAIN_TIMEOUT,
  PROP_POLL_WINDOW,
  N_PROPS
};

/* Data, not functions, so that the files below vhost-user-backend.c
 * never call up into it. */
extern GParamSpec *vhost_user_backend_pspecs[N_PROPS];
extern gint        vhost_user_backend_private_offset;

static inline VhostUserBackendPrivate *
priv_of (VhostUserBackend *self)
{
  return G_STRUCT_MEMBER_P (self, vhost_user_backend_private_offset);
}

static inline VhostUserVring *
vring_at (VhostUserBackend *self,
          guint             index)
{
  return g_ptr_array_index (priv_of (self)->vrings, index);
}

/* An fd of the request being emitted, now the caller's; -1 if none. */
static inline int
steal_request_fd (VhostUserBackend *self,
                  guint             index)
{
  return vhost_user_responder_steal_fd (priv_of (self)->responder, index);
}

/* the ring index field is 8 bits wide */
#define VHOST_USER_BACKEND_MAX_QUEUES         256
#define VHOST_USER_BACKEND_MAX_QUEUE_SIZE     32768
#define VHOST_USER_BACKEND_DEFAULT_MEM_SLOTS  509

/* vhost-user-backend-properties.c */
void     vhost_user_backend_get_property      (GObject               *object,
                                               guint                  prop_id,
                                               GValue                *value,
                                               GParamSpec            *pspec);
void     vhost_user_backend_set_property      (GObject               *object,
                                               guint                  prop_id,
                                               const GValue          *value,
                                               GParamSpec            *pspec);
void     vhost_user_backend_drop_vrings       (VhostUserBackend      *self);
void     vhost_user_backend_rebuild_vrings    (VhostUserBackend      *self);

/* vhost-user-backend-handlers.c */
void     vhost_user_backend_install_handlers  (VhostUserBackendClass *klass,
                                               gsize                 *class_offsets);
void     vhost_user_backend_ring_broken       (VhostUserVring        *vring,
                                               gpointer               user_data);
void     vhost_user_backend_update_inband     (VhostUserBackend      *self);
void     vhost_user_backend_update_status     (VhostUserBackend      *self,
                                               guint64                status);
void     vhost_user_backend_update_iotlb      (VhostUserBackend      *self);

/* vhost-user-backend-state.c */
void     vhost_user_backend_class_init_state  (GType                  type);
void     vhost_user_backend_end_state_transfer (VhostUserBackend     *self);
gboolean vhost_user_backend_real_set_device_state_fd (VhostUserBackend    *self,
                                                     VhostUserInvocation *invocation,
                                                     guint                direction,
                                                     guint                phase,
                                                     int                  fd);
gboolean vhost_user_backend_real_check_device_state (VhostUserBackend    *self,
                                                     VhostUserInvocation *invocation);

/* vhost-user-backend-postcopy.c */
gboolean vhost_user_backend_postcopy_supported (void);

void     vhost_user_backend_postcopy_release  (VhostUserBackend      *self);
gboolean vhost_user_backend_real_postcopy_advise (VhostUserBackend   *self,
                                               VhostUserInvocation   *invocation);
gboolean vhost_user_backend_real_postcopy_listen (VhostUserBackend   *self,
                                               VhostUserInvocation   *invocation);
gboolean vhost_user_backend_real_postcopy_end (VhostUserBackend      *self,
                                               VhostUserInvocation   *invocation);
gboolean vhost_user_backend_real_set_mem_table (VhostUserBackend     *self,
                                               VhostUserInvocation   *invocation,
                                               VhostUserMemoryTable  *table);

/* vhost-user-backend-memory.c */
void     vhost_user_backend_update_logging    (VhostUserBackend      *self);
void     vhost_user_backend_update_inflight   (VhostUserBackend      *self);
gboolean vhost_user_backend_check_memory_change (VhostUserBackend  *self,
                                                 GError           **error);
void     vhost_user_backend_set_memory_table  (VhostUserBackend      *self,
                                               VhostUserMemoryTable  *table);
void     vhost_user_backend_unmap_log         (VhostUserBackend      *self);
void     vhost_user_backend_unmap_inflight    (VhostUserBackend      *self);
gboolean vhost_user_backend_real_set_log_base (VhostUserBackend      *self,
                                               VhostUserInvocation   *invocation,
                                               guint64                size,
                                               guint64                offset,
                                               int                    fd);
gboolean vhost_user_backend_real_set_log_fd   (VhostUserBackend      *self,
                                               VhostUserInvocation   *invocation,
                                               int                    fd);
gboolean vhost_user_backend_real_get_inflight_fd (VhostUserBackend   *self,
                                               VhostUserInvocation   *invocation,
                                               guint                  num_queues,
                                               guint                  queue_size);
gboolean vhost_user_backend_real_set_inflight_fd (VhostUserBackend   *self,
                                               VhostUserInvocation   *invocation,
                                               guint64                mmap_size,
                                               guint64                mmap_offset,
                                               guint                  num_queues,
                                               guint                  queue_size,
                                               int                    fd);
gboolean vhost_user_backend_real_add_mem_reg  (VhostUserBackend      *self,
                                               VhostUserInvocation   *invocation,
                                               VhostUserMemoryRegion *region);
gboolean vhost_user_backend_real_rem_mem_reg  (VhostUserBackend      *self,
                                               VhostUserInvocation   *invocation,
                                               guint64                guest_phys_addr,
                                               guint64                size,
                                               guint64                user_addr);

/* vhost-user-backend-shared.c */
void     vhost_user_backend_init_shared       (VhostUserBackend      *self);
void     vhost_user_backend_finalize_shared   (VhostUserBackend      *self);
gboolean vhost_user_backend_real_get_shared_object (VhostUserBackend *self,
                                               VhostUserInvocation   *invocation,
                                               const char            *uuid);
gboolean vhost_user_backend_real_get_shmem_config (VhostUserBackend  *self,
                                               VhostUserInvocation   *invocation);

/* vhost-user-backend-channel.c */
void     vhost_user_backend_close_channel     (VhostUserBackend      *self,
                                               const GError          *error);
void     vhost_user_backend_inband_call       (VhostUserVring        *vring,
                                               gpointer               user_data);
void     vhost_user_backend_watch_misses      (VhostUserBackend      *self,
                                               VhostUserVring        *vring);
gboolean vhost_user_backend_real_set_backend_req_fd (VhostUserBackend *self,
                                               VhostUserInvocation   *invocation,
                                               int                    fd);
void     vhost_user_backend_ring_err_inband   (VhostUserBackend      *self,
                                               VhostUserVring        *vring);
void     vhost_user_backend_send_typed_async  (VhostUserBackend            *self,
                                               VhostUserBackendRequestType  request,
                                               GBytes                      *payload,
                                               int                          fd,
                                               GError                      *error,
                                               GCancellable                *cancellable,
                                               GAsyncReadyCallback          callback,
                                               gpointer                     user_data);
guint64  vhost_user_backend_send_typed        (VhostUserBackend            *self,
                                               VhostUserBackendRequestType  request,
                                               GBytes                      *payload,
                                               int                          fd,
                                               GError                      *error_in,
                                               GCancellable                *cancellable,
                                               int                         *out_fd,
                                               GError                     **error);

G_END_DECLS
