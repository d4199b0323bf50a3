/* vhost-user-backend.c: the device side of vhost-user
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "vhost-user-backend.h"
#include "vhost-user-connection-private.h"
#include "vhost-user-debug-private.h"
#include "vhost-user-enum-types.h"
#include "vhost-user-error.h"
#include "vhost-user-invocation-private.h"
#include "vhost-user-memory-table-private.h"
#include "vhost-user-socket-private.h"
#include "vhost-user-vring-private.h"

/**
 * VhostUserBackend:
 *
 * The device side of a vhost-user connection (the "slave" in older texts).
 *
 * A back-end serves one front-end over a connected socket
 * ([method@VhostUser.Backend.serve], or [method@VhostUser.Backend.connect_to_path]
 * to a front-end that listens, as QEMU's `server=on` chardev does) in the
 * `GMainContext` it was created in. Every request the front-end sends
 * raises one signal named after it (`get-features`, `set-vring-addr`, …)
 * with its arguments decoded and a [class@VhostUser.Invocation] to answer
 * with.
 *
 * The signals run last and stop at the first handler that returns %TRUE;
 * their class closures are the protocol's defaults, so a back-end with no
 * handler connected is already a correct peer: it negotiates features,
 * takes ownership, maps guest memory, tracks every ring's state and fds,
 * answers config reads and writes within bounds and hands out in-flight
 * areas. A device connects to the signals it cares about, or subclasses
 * and chains up. A handler that returns %TRUE owns the answer and may
 * complete the invocation later; the next request waits until it does.
 *
 * Requests whose gating feature was not negotiated, out-of-range ring
 * indices and malformed messages never reach a handler: they are answered
 * with an error (a NACK where `REPLY_ACK` allows one), or, where the
 * protocol leaves no way to say "failed", the connection is closed. When
 * the connection ends, for whatever reason, every mapping and fd is
 * released and [signal@VhostUser.Backend::disconnected] says why.
 *
 * A back-end and its rings are used from the back-end's main context:
 * the memory table and ring fds may be replaced by the next request, so
 * another thread must not hold on to them (take a reference to the
 * memory table in the context if it must).
 */

/* The ring features are offered because VhostUserVring implements them;
 * and because QEMU 7.2's vhost-user-rng (and other generic vhost-user
 * devices) ack them whether offered or not. */
#define DEFAULT_FEATURES (VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_VERSION_1) | \
                          VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_PROTOCOL_FEATURES) | \
                          VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_INDIRECT_DESC) | \
                          VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_EVENT_IDX) | \
                          VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_RING_PACKED))
#define DEFAULT_PROTOCOL_FEATURES (VHOST_USER_PROTOCOL_FEATURE_MQ | \
                                   VHOST_USER_PROTOCOL_FEATURE_LOG_SHMFD | \
                                   VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK | \
                                   VHOST_USER_PROTOCOL_FEATURE_BACKEND_REQ | \
                                   VHOST_USER_PROTOCOL_FEATURE_CONFIG | \
                                   VHOST_USER_PROTOCOL_FEATURE_BACKEND_SEND_FD | \
                                   VHOST_USER_PROTOCOL_FEATURE_INFLIGHT_SHMFD | \
                                   VHOST_USER_PROTOCOL_FEATURE_RESET_DEVICE | \
                                   VHOST_USER_PROTOCOL_FEATURE_CONFIGURE_MEM_SLOTS | \
                                   VHOST_USER_PROTOCOL_FEATURE_STATUS)
#define MAX_QUEUES          256   /* the ring index field is 8 bits wide */
#define MAX_QUEUE_SIZE      32768
#define DEFAULT_MEM_SLOTS   509
#define INFLIGHT_ALIGN      64
/* how long the front-end may take to answer on the back-end channel */
#define BACKEND_REQUEST_TIMEOUT_MS 30000

typedef struct
{
  GMainContext         *context;

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

  VhostUserConnection  *connection;
  VhostUserConnection  *backend_channel;
  GQueue                channel_pending;   /* GTask *, awaiting replies in order */
  GSource              *channel_timeout;   /* for the oldest of them */
  int                   log_fd;
  /* the mapped areas (from mmap_offset on), shared with the rings,
   * which may use them from their own threads */
  GBytes               *log;
  GBytes               *inflight;
  gsize                 inflight_stride;   /* bytes per queue */

  /* the request being emitted, whose fds handlers may take */
  VhostUserMessage     *current;
  VhostUserInvocation  *pending;
} VhostUserBackendPrivate;

G_DEFINE_TYPE_WITH_PRIVATE (VhostUserBackend, vhost_user_backend, G_TYPE_OBJECT)

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
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* The shape of a request's signal: the arguments after the invocation. */
typedef enum {
  SHAPE_NONE,
  SHAPE_U64,
  SHAPE_INDEX,
  SHAPE_INDEX_NUM,
  SHAPE_INDEX_BOOL,
  SHAPE_INDEX_FD,
  SHAPE_FD,
  SHAPE_ADDR,
  SHAPE_MEM_TABLE,
  SHAPE_REGION,
  SHAPE_REGION_DESC,
  SHAPE_LOG,
  SHAPE_IOTLB,
  SHAPE_CONFIG_GET,
  SHAPE_CONFIG_SET,
  SHAPE_BYTES,
  SHAPE_INFLIGHT_GET,
  SHAPE_INFLIGHT_SET,
  SHAPE_UUID,
  SHAPE_DEVICE_STATE,
} SignalShape;

#define CLOSURE(name) G_STRUCT_OFFSET (VhostUserBackendClass, name)

/* One row per front-end request, indexed by number; the rest of what is
 * known about a request is in the protocol's request table. */
static const struct {
  SignalShape shape;
  gsize       class_offset;
} signal_rows[] = {
  [VHOST_USER_REQUEST_GET_FEATURES] = { SHAPE_NONE, CLOSURE (get_features) },
  [VHOST_USER_REQUEST_SET_FEATURES] = { SHAPE_U64, CLOSURE (set_features) },
  [VHOST_USER_REQUEST_SET_OWNER] = { SHAPE_NONE, CLOSURE (set_owner) },
  [VHOST_USER_REQUEST_RESET_OWNER] = { SHAPE_NONE, CLOSURE (reset_owner) },
  [VHOST_USER_REQUEST_SET_MEM_TABLE] = { SHAPE_MEM_TABLE, CLOSURE (set_mem_table) },
  [VHOST_USER_REQUEST_SET_LOG_BASE] = { SHAPE_LOG, CLOSURE (set_log_base) },
  [VHOST_USER_REQUEST_SET_LOG_FD] = { SHAPE_FD, CLOSURE (set_log_fd) },
  [VHOST_USER_REQUEST_SET_VRING_NUM] = { SHAPE_INDEX_NUM, CLOSURE (set_vring_num) },
  [VHOST_USER_REQUEST_SET_VRING_ADDR] = { SHAPE_ADDR, CLOSURE (set_vring_addr) },
  [VHOST_USER_REQUEST_SET_VRING_BASE] = { SHAPE_INDEX_NUM, CLOSURE (set_vring_base) },
  [VHOST_USER_REQUEST_GET_VRING_BASE] = { SHAPE_INDEX, CLOSURE (get_vring_base) },
  [VHOST_USER_REQUEST_SET_VRING_KICK] = { SHAPE_INDEX_FD, CLOSURE (set_vring_kick) },
  [VHOST_USER_REQUEST_SET_VRING_CALL] = { SHAPE_INDEX_FD, CLOSURE (set_vring_call) },
  [VHOST_USER_REQUEST_SET_VRING_ERR] = { SHAPE_INDEX_FD, CLOSURE (set_vring_err) },
  [VHOST_USER_REQUEST_GET_PROTOCOL_FEATURES] = { SHAPE_NONE, CLOSURE (get_protocol_features) },
  [VHOST_USER_REQUEST_SET_PROTOCOL_FEATURES] = { SHAPE_U64, CLOSURE (set_protocol_features) },
  [VHOST_USER_REQUEST_GET_QUEUE_NUM] = { SHAPE_NONE, CLOSURE (get_queue_num) },
  [VHOST_USER_REQUEST_SET_VRING_ENABLE] = { SHAPE_INDEX_BOOL, CLOSURE (set_vring_enable) },
  [VHOST_USER_REQUEST_SEND_RARP] = { SHAPE_U64, CLOSURE (send_rarp) },
  [VHOST_USER_REQUEST_NET_SET_MTU] = { SHAPE_U64, CLOSURE (net_set_mtu) },
  [VHOST_USER_REQUEST_SET_BACKEND_REQ_FD] = { SHAPE_FD, CLOSURE (set_backend_req_fd) },
  [VHOST_USER_REQUEST_IOTLB_MSG] = { SHAPE_IOTLB, CLOSURE (iotlb_msg) },
  [VHOST_USER_REQUEST_SET_VRING_ENDIAN] = { SHAPE_INDEX_NUM, CLOSURE (set_vring_endian) },
  [VHOST_USER_REQUEST_GET_CONFIG] = { SHAPE_CONFIG_GET, CLOSURE (get_config) },
  [VHOST_USER_REQUEST_SET_CONFIG] = { SHAPE_CONFIG_SET, CLOSURE (set_config) },
  [VHOST_USER_REQUEST_CREATE_CRYPTO_SESSION] = { SHAPE_BYTES, CLOSURE (create_crypto_session) },
  [VHOST_USER_REQUEST_CLOSE_CRYPTO_SESSION] = { SHAPE_U64, CLOSURE (close_crypto_session) },
  [VHOST_USER_REQUEST_POSTCOPY_ADVISE] = { SHAPE_NONE, CLOSURE (postcopy_advise) },
  [VHOST_USER_REQUEST_POSTCOPY_LISTEN] = { SHAPE_NONE, CLOSURE (postcopy_listen) },
  [VHOST_USER_REQUEST_POSTCOPY_END] = { SHAPE_NONE, CLOSURE (postcopy_end) },
  [VHOST_USER_REQUEST_GET_INFLIGHT_FD] = { SHAPE_INFLIGHT_GET, CLOSURE (get_inflight_fd) },
  [VHOST_USER_REQUEST_SET_INFLIGHT_FD] = { SHAPE_INFLIGHT_SET, CLOSURE (set_inflight_fd) },
  [VHOST_USER_REQUEST_GPU_SET_SOCKET] = { SHAPE_FD, CLOSURE (gpu_set_socket) },
  [VHOST_USER_REQUEST_RESET_DEVICE] = { SHAPE_NONE, CLOSURE (reset_device) },
  [VHOST_USER_REQUEST_VRING_KICK] = { SHAPE_INDEX, CLOSURE (vring_kick) },
  [VHOST_USER_REQUEST_GET_MAX_MEM_SLOTS] = { SHAPE_NONE, CLOSURE (get_max_mem_slots) },
  [VHOST_USER_REQUEST_ADD_MEM_REG] = { SHAPE_REGION, CLOSURE (add_mem_reg) },
  [VHOST_USER_REQUEST_REM_MEM_REG] = { SHAPE_REGION_DESC, CLOSURE (rem_mem_reg) },
  [VHOST_USER_REQUEST_SET_STATUS] = { SHAPE_U64, CLOSURE (set_status) },
  [VHOST_USER_REQUEST_GET_STATUS] = { SHAPE_NONE, CLOSURE (get_status) },
  [VHOST_USER_REQUEST_GET_SHARED_OBJECT] = { SHAPE_UUID, CLOSURE (get_shared_object) },
  [VHOST_USER_REQUEST_SET_DEVICE_STATE_FD] = { SHAPE_DEVICE_STATE, CLOSURE (set_device_state_fd) },
  [VHOST_USER_REQUEST_CHECK_DEVICE_STATE] = { SHAPE_NONE, CLOSURE (check_device_state) },
  [VHOST_USER_REQUEST_GET_SHMEM_CONFIG] = { SHAPE_NONE, CLOSURE (get_shmem_config) },
};

G_STATIC_ASSERT (G_N_ELEMENTS (signal_rows) == VHOST_USER_REQUEST_GET_SHMEM_CONFIG + 1);

enum {
  SIGNAL_DISCONNECTED = G_N_ELEMENTS (signal_rows),
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void backend_release (VhostUserBackend *self);

/* Signal names are the request type's nicks. */
static const char *
request_nick (guint number)
{
  static GEnumClass *klass;

  if (klass == NULL)
    klass = g_type_class_ref (VHOST_USER_TYPE_REQUEST_TYPE);
  return g_enum_get_value (klass, number)->value_nick;
}

static VhostUserBackendPrivate *
priv_of (VhostUserBackend *self)
{
  return vhost_user_backend_get_instance_private (self);
}

static VhostUserVring *
vring_at (VhostUserBackend *self,
          guint             index)
{
  return g_ptr_array_index (priv_of (self)->vrings, index);
}

/* --- errors --- */

static void
return_invalid (VhostUserInvocation *invocation,
                VhostUserError       code,
                const char          *format,
                ...) G_GNUC_PRINTF (3, 4);

static void
return_invalid (VhostUserInvocation *invocation,
                VhostUserError       code,
                const char          *format,
                ...)
{
  g_autoptr(GError) error = NULL;
  va_list args;

  va_start (args, format);
  error = g_error_new_valist (VHOST_USER_ERROR, code, format, args);
  va_end (args);
  vhost_user_invocation_return_error (invocation, error);
}

/* An fd of the request being emitted, now the caller's; -1 if none. */
static int
steal_request_fd (VhostUserBackend *self,
                  guint             index)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  if (priv->current == NULL)
    return -1;
  return vhost_user_message_steal_fd (priv->current, index);
}

typedef struct {
  void  *map;
  gsize  len;
} Mapping;

static void
mapping_free (gpointer data)
{
  Mapping *mapping = data;

  munmap (mapping->map, mapping->len);
  g_free (mapping);
}

/* A shared mapping of @map_len bytes as GBytes of the @len bytes from
 * @offset on; the last reference unmaps it. */
static GBytes *
mapping_bytes_new (void  *map,
                   gsize  map_len,
                   gsize  offset,
                   gsize  len)
{
  Mapping *mapping = g_new (Mapping, 1);

  mapping->map = map;
  mapping->len = map_len;
  return g_bytes_new_with_free_func ((guint8 *) map + offset, len, mapping_free, mapping);
}

/* Dirty logging is on for every ring while VHOST_F_LOG_ALL is acked. */
static void
update_logging (VhostUserBackend *self)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  gboolean log_all = (priv->acked_features & VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_LOG_ALL)) != 0;

  for (guint i = 0; i < priv->vrings->len; i++)
    vhost_user_vring_set_logging (vring_at (self, i), log_all, priv->log, priv->log_fd);
}

/* Each queue gets its own stride of the in-flight area. */
static void
update_inflight (VhostUserBackend *self)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  gsize len = priv->inflight != NULL ? g_bytes_get_size (priv->inflight) : 0;

  for (guint i = 0; i < priv->vrings->len; i++)
    {
      g_autoptr(GBytes) part = NULL;

      if (priv->inflight_stride > 0 && (i + 1) * priv->inflight_stride <= len)
        part = g_bytes_new_from_bytes (priv->inflight, i * priv->inflight_stride, priv->inflight_stride);
      vhost_user_vring_set_inflight_area (vring_at (self, i), part);
    }
}

static void inband_call (VhostUserVring *vring, gpointer user_data);
static void set_status (VhostUserBackend *self, guint64 status);

#define VIRTIO_STATUS_NEEDS_RESET 0x40

/* The driver broke a ring: where the front-end reads the device status,
 * it says the device needs a reset (virtio 1.2, 2.1.1). */
static void
ring_broken (VhostUserVring *vring,
             gpointer        user_data)
{
  VhostUserBackend *self = user_data;
  VhostUserBackendPrivate *priv = priv_of (self);

  if (priv->acked_protocol_features & VHOST_USER_PROTOCOL_FEATURE_STATUS)
    set_status (self, priv->status | VIRTIO_STATUS_NEEDS_RESET);
}

/* Without a call fd a ring calls in-band when that was negotiated. */
static void
update_inband (VhostUserBackend *self)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  gboolean inband = (priv->acked_protocol_features & VHOST_USER_PROTOCOL_FEATURE_INBAND_NOTIFICATIONS) != 0;

  for (guint i = 0; i < priv->vrings->len; i++)
    vhost_user_vring_set_call_func (vring_at (self, i), inband ? inband_call : NULL, self);
}

/* --- default handlers: the protocol's own behaviour --- */

static gboolean
real_get_features (VhostUserBackend    *self,
                   VhostUserInvocation *invocation)
{
  vhost_user_invocation_return_u64 (invocation, priv_of (self)->features);
  return TRUE;
}

static gboolean
real_set_features (VhostUserBackend    *self,
                   VhostUserInvocation *invocation,
                   guint64              features)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  if (features & ~priv->features)
    {
      return_invalid (invocation, VHOST_USER_ERROR_FEATURE_MISMATCH,
                      "Features 0x%" G_GINT64_MODIFIER "x were never offered (offered 0x%" G_GINT64_MODIFIER "x)",
                      features & ~priv->features, priv->features);
      return TRUE;
    }

  if (priv->acked_features != features)
    {
      priv->acked_features = features;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACKED_FEATURES]);
    }
  for (guint i = 0; i < priv->vrings->len; i++)
    vhost_user_vring_set_features (vring_at (self, i),
                                   (features & VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_RING_PACKED)) != 0,
                                   (features & VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_EVENT_IDX)) != 0);
  update_logging (self);

  /* without protocol features there is no SET_VRING_ENABLE: every ring
   * is enabled at once */
  if (!(features & VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_PROTOCOL_FEATURES)))
    for (guint i = 0; i < priv->vrings->len; i++)
      vhost_user_vring_set_enabled (vring_at (self, i), TRUE);

  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

static gboolean
real_set_owner (VhostUserBackend    *self,
                VhostUserInvocation *invocation)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  if (priv->owner)
    {
      return_invalid (invocation, VHOST_USER_ERROR_INVALID_OPERATION,
                      "The session already has an owner");
      return TRUE;
    }
  priv->owner = TRUE;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OWNER]);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

static void
stop_all_rings (VhostUserBackend *self)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  for (guint i = 0; i < priv->vrings->len; i++)
    {
      vhost_user_vring_set_started (vring_at (self, i), FALSE);
      vhost_user_vring_set_enabled (vring_at (self, i), FALSE);
    }
}

/* Deprecated: the spec now says to ignore it or disable the rings, and
 * never to drop the session. */
static gboolean
real_reset_owner (VhostUserBackend    *self,
                  VhostUserInvocation *invocation)
{
  stop_all_rings (self);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

static void
set_memory_table (VhostUserBackend     *self,
                  VhostUserMemoryTable *table)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  g_clear_pointer (&priv->memory_table, vhost_user_memory_table_unref);
  priv->memory_table = vhost_user_memory_table_ref (table);
  for (guint i = 0; i < priv->vrings->len; i++)
    vhost_user_vring_set_memory_table (vring_at (self, i), table);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MEMORY_TABLE]);
}

static gboolean
real_set_mem_table (VhostUserBackend     *self,
                    VhostUserInvocation  *invocation,
                    VhostUserMemoryTable *table)
{
  set_memory_table (self, table);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

static void
unmap_log (VhostUserBackend *self)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  g_clear_pointer (&priv->log, g_bytes_unref);
  update_logging (self);
}

static gboolean
real_set_log_base (VhostUserBackend    *self,
                   VhostUserInvocation *invocation,
                   guint64              size,
                   guint64              offset,
                   int                  fd)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  struct stat st;
  void *base;
  int own_fd;

  if (size == 0 || offset + size < offset || offset + size > G_MAXSIZE)
    {
      return_invalid (invocation, VHOST_USER_ERROR_INVALID_PARAM,
                      "Log area of 0x%" G_GINT64_MODIFIER "x bytes at 0x%" G_GINT64_MODIFIER "x is not usable",
                      size, offset);
      return TRUE;
    }

  /* without LOG_SHMFD there is no fd: the log is the front-end's business;
   * with it, the fd is the log */
  if (fd < 0)
    {
      if (priv->acked_protocol_features & VHOST_USER_PROTOCOL_FEATURE_LOG_SHMFD)
        return_invalid (invocation, VHOST_USER_ERROR_INCORRECT_FDS, "SET_LOG_BASE without the log's fd");
      else
        vhost_user_invocation_return_ack (invocation);
      return TRUE;
    }

  own_fd = steal_request_fd (self, 0);
  if (own_fd < 0 || fstat (own_fd, &st) != 0 ||
      (S_ISREG (st.st_mode) && (guint64) st.st_size < offset + size))
    {
      if (own_fd >= 0)
        g_close (own_fd, NULL);
      return_invalid (invocation, VHOST_USER_ERROR_INVALID_PARAM,
                      "The log fd does not hold 0x%" G_GINT64_MODIFIER "x bytes", offset + size);
      return TRUE;
    }

  base = mmap (NULL, offset + size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, own_fd, 0);
  g_close (own_fd, NULL);
  if (base == MAP_FAILED)
    {
      return_invalid (invocation, VHOST_USER_ERROR_BACKEND_INTERNAL,
                      "Could not map the log: %s", g_strerror (errno));
      return TRUE;
    }

  g_clear_pointer (&priv->log, g_bytes_unref);
  priv->log = mapping_bytes_new (base, offset + size, offset, size);
  update_logging (self);
  vhost_user_invocation_return_u64 (invocation, 0);
  return TRUE;
}

static gboolean
real_set_log_fd (VhostUserBackend    *self,
                 VhostUserInvocation *invocation,
                 int                  fd)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  int old = priv->log_fd;

  priv->log_fd = steal_request_fd (self, 0);
  /* the rings stop writing to the old fd before it is closed */
  update_logging (self);
  if (old >= 0)
    g_close (old, NULL);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

static gboolean
real_set_vring_num (VhostUserBackend    *self,
                    VhostUserInvocation *invocation,
                    guint                index,
                    guint                num)
{
  vhost_user_vring_set_size (vring_at (self, index), num);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

static gboolean
real_set_vring_addr (VhostUserBackend            *self,
                     VhostUserInvocation         *invocation,
                     guint                        index,
                     const VhostUserVringAddress *address)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  /* with an IOMMU the addresses are IOVAs, translated later */
  if (!(priv->acked_features & VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_ACCESS_PLATFORM)) &&
      priv->memory_table != NULL)
    {
      /* the whole of each part, at the ring's size (1 if not set yet):
       * split rings have 16-byte descriptors, a 6+2n available ring and a
       * 6+8n used ring (event idx included); packed rings 16-byte
       * descriptors and 4-byte event areas */
      guint64 num = MAX (vhost_user_vring_get_size (vring_at (self, index)), 1);
      gboolean packed = (priv->acked_features &
                         VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_RING_PACKED)) != 0;
      const struct { const char *name; guint64 addr; guint64 len; } parts[] = {
        { "descriptor table", address->desc_user_addr, 16 * num },
        { "available ring", address->avail_user_addr, packed ? 4 : 6 + 2 * num },
        { "used ring", address->used_user_addr, packed ? 4 : 6 + 8 * num },
      };

      for (guint i = 0; i < G_N_ELEMENTS (parts); i++)
        {
          guint64 len = parts[i].len;

          if (vhost_user_memory_table_translate_user_addr (priv->memory_table, parts[i].addr, &len) == NULL ||
              len < parts[i].len)
            {
              return_invalid (invocation, VHOST_USER_ERROR_INVALID_PARAM,
                              "Vring %u: %s at 0x%" G_GINT64_MODIFIER "x (0x%" G_GINT64_MODIFIER "x bytes)"
                              " is not in guest memory",
                              index, parts[i].name, parts[i].addr, parts[i].len);
              return TRUE;
            }
        }
    }

  vhost_user_vring_set_address (vring_at (self, index), address);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

static gboolean
real_set_vring_base (VhostUserBackend    *self,
                     VhostUserInvocation *invocation,
                     guint                index,
                     guint                base)
{
  vhost_user_vring_set_base (vring_at (self, index), base);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

/* Stops the ring and reports where it stands. Its state is kept (the spec
 * says not to reset the queue here); its fds too. */
static void
answer_vring_base (VhostUserVring *vring,
                   gpointer        user_data)
{
  VhostUserInvocation *invocation = user_data;
  VhostUserWireVringState state = { vhost_user_vring_get_index (vring), vhost_user_vring_get_base (vring) };
  g_autoptr(GBytes) payload = g_bytes_new (&state, sizeof state);

  vhost_user_invocation_return_bytes (invocation, payload, -1);
}

static gboolean
real_get_vring_base (VhostUserBackend    *self,
                     VhostUserInvocation *invocation,
                     guint                index)
{
  VhostUserVring *vring = vring_at (self, index);

  /* the spec: requests in flight complete first; the answer (and so the
   * next request of the front-end) waits for the last of them */
  vhost_user_vring_set_started (vring, FALSE);
  vhost_user_vring_when_drained (vring, answer_vring_base, g_object_ref (invocation), g_object_unref);
  return TRUE;
}

static gboolean
take_vring_fd (VhostUserBackend     *self,
               VhostUserInvocation  *invocation,
               guint                 index,
               VhostUserVringFdKind  kind)
{
  vhost_user_vring_take_fd (vring_at (self, index), kind, steal_request_fd (self, 0));
  return TRUE;
}

static gboolean
real_set_vring_kick (VhostUserBackend    *self,
                     VhostUserInvocation *invocation,
                     guint                index,
                     int                  fd)
{
  take_vring_fd (self, invocation, index, VHOST_USER_VRING_FD_KICK);
  /* the current spec: SET_VRING_KICK starts the ring */
  vhost_user_vring_set_started (vring_at (self, index), TRUE);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

static gboolean
real_set_vring_call (VhostUserBackend    *self,
                     VhostUserInvocation *invocation,
                     guint                index,
                     int                  fd)
{
  take_vring_fd (self, invocation, index, VHOST_USER_VRING_FD_CALL);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

static gboolean
real_set_vring_err (VhostUserBackend    *self,
                    VhostUserInvocation *invocation,
                    guint                index,
                    int                  fd)
{
  take_vring_fd (self, invocation, index, VHOST_USER_VRING_FD_ERR);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

static gboolean
real_get_protocol_features (VhostUserBackend    *self,
                            VhostUserInvocation *invocation)
{
  vhost_user_invocation_return_u64 (invocation, priv_of (self)->protocol_features);
  return TRUE;
}

static gboolean
real_set_protocol_features (VhostUserBackend    *self,
                            VhostUserInvocation *invocation,
                            guint64              features)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  const guint64 inband_needs = VHOST_USER_PROTOCOL_FEATURE_BACKEND_REQ | VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK;

  /* bits never offered are dropped, not refused: some front-ends ask for
   * everything they know */
  features &= priv->protocol_features;

  if ((features & VHOST_USER_PROTOCOL_FEATURE_INBAND_NOTIFICATIONS) &&
      (features & inband_needs) != inband_needs)
    {
      /* the spec: close the connection (the front-end cannot be told) */
      g_autoptr(GError) error = g_error_new_literal (VHOST_USER_ERROR, VHOST_USER_ERROR_FEATURE_MISMATCH,
                                                     "In-band notifications need the back-end channel and REPLY_ACK");

      vhost_user_invocation_return_error (invocation, error);
      if (priv->connection != NULL)
        vhost_user_connection_close (priv->connection, error);
      return TRUE;
    }

  if (priv->acked_protocol_features != features)
    {
      priv->acked_protocol_features = features;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACKED_PROTOCOL_FEATURES]);
    }
  if (priv->connection != NULL)
    vhost_user_connection_set_protocol_features (priv->connection, features);
  update_inband (self);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

static gboolean
real_get_queue_num (VhostUserBackend    *self,
                    VhostUserInvocation *invocation)
{
  vhost_user_invocation_return_u64 (invocation, priv_of (self)->num_queues);
  return TRUE;
}

static gboolean
real_set_vring_enable (VhostUserBackend    *self,
                       VhostUserInvocation *invocation,
                       guint                index,
                       gboolean             enable)
{
  vhost_user_vring_set_enabled (vring_at (self, index), enable);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

static gboolean
real_accept (VhostUserBackend    *self,
             VhostUserInvocation *invocation,
             guint64              value)
{
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

typedef struct {
  guint64 value;
  int     fd;
} ChannelResult;

static void
channel_result_free (gpointer data)
{
  ChannelResult *result = data;

  if (result->fd >= 0)
    g_close (result->fd, NULL);
  g_free (result);
}

/* Every request still waiting for a reply fails with @error. */
static void
fail_channel_pending (VhostUserBackend *self,
                      const GError     *error)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  GTask *task;

  while ((task = g_queue_pop_head (&priv->channel_pending)) != NULL)
    {
      g_task_return_error (task, g_error_copy (error));
      g_object_unref (task);
    }
}

static void
stop_channel_timeout (VhostUserBackendPrivate *priv)
{
  if (priv->channel_timeout != NULL)
    {
      g_source_destroy (priv->channel_timeout);
      g_clear_pointer (&priv->channel_timeout, g_source_unref);
    }
}

static void
close_backend_channel (VhostUserBackend *self,
                       const GError     *error)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  g_autoptr(GError) closed = NULL;

  stop_channel_timeout (priv);

  if (priv->backend_channel != NULL)
    {
      vhost_user_connection_set_handlers (priv->backend_channel, NULL, NULL, NULL);
      vhost_user_connection_close (priv->backend_channel, error);
      g_clear_object (&priv->backend_channel);
    }
  if (error == NULL)
    error = closed = g_error_new_literal (VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_BROKEN,
                                          "The back-end channel was closed");
  fail_channel_pending (self, error);
}

static void
backend_channel_closed (VhostUserConnection *connection,
                        const GError        *error,
                        gpointer             user_data)
{
  VhostUserBackend *self = user_data;
  VhostUserBackendPrivate *priv = priv_of (self);

  if (priv->backend_channel == connection)
    close_backend_channel (self, error);
}

/* A front-end that does not answer on the back-end channel: nothing
 * after the late reply could be matched, so the channel goes. */
static gboolean
channel_timed_out (gpointer user_data)
{
  VhostUserBackend *self = user_data;
  g_autoptr(GError) error = g_error_new (VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_BROKEN,
                                         "The front-end did not answer on the back-end channel within %u ms",
                                         BACKEND_REQUEST_TIMEOUT_MS);

  g_clear_pointer (&priv_of (self)->channel_timeout, g_source_unref);
  close_backend_channel (self, error);
  return G_SOURCE_REMOVE;
}

static void
restart_channel_timeout (VhostUserBackend *self)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  stop_channel_timeout (priv);
  if (g_queue_is_empty (&priv->channel_pending))
    return;
  priv->channel_timeout = g_timeout_source_new (BACKEND_REQUEST_TIMEOUT_MS);
  g_source_set_static_name (priv->channel_timeout, "VhostUserBackend channel timeout");
  g_source_set_callback (priv->channel_timeout, channel_timed_out, self, NULL);
  g_source_attach (priv->channel_timeout, priv->context);
}

/* Replies come back in the order the requests went out. */
static void
backend_channel_message (VhostUserConnection *connection,
                         VhostUserMessage    *msg,
                         const GError        *error,
                         gpointer             user_data)
{
  VhostUserBackend *self = user_data;
  VhostUserBackendPrivate *priv = priv_of (self);
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) local_error = NULL;
  ChannelResult *result;
  guint32 request;

  task = g_queue_pop_head (&priv->channel_pending);
  if (task == NULL)
    local_error = g_error_new (VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
                               "Unexpected message %u on the back-end channel", msg->header.request);
  else if (error != NULL)
    local_error = g_error_copy (error);
  else if (msg->header.request != (request = GPOINTER_TO_UINT (g_task_get_task_data (task))))
    local_error = g_error_new (VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
                               "Reply to %s on the back-end channel answers %u",
                               vhost_user_request_get_name (VHOST_USER_CHANNEL_BACKEND, request),
                               msg->header.request);
  if (local_error != NULL)
    {
      /* the channel is out of step: nothing after this can be trusted */
      if (task != NULL)
        g_task_return_error (task, g_error_copy (local_error));
      close_backend_channel (self, local_error);
      return;
    }

  result = g_new0 (ChannelResult, 1);
  result->fd = msg->n_fds > 0 ? vhost_user_message_steal_fd (msg, 0) : -1;
  vhost_user_message_get_u64 (msg, &result->value);
  restart_channel_timeout (self);
  g_task_return_pointer (task, result, channel_result_free);
}

static gboolean
real_set_backend_req_fd (VhostUserBackend    *self,
                         VhostUserInvocation *invocation,
                         int                  fd)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  int own_fd = steal_request_fd (self, 0);
  struct stat st;

  /* GLib's documentation leaves the fd to us when g_socket_new_from_fd()
   * fails, its code closes it: refuse what is not a socket before asking */
  if (fstat (own_fd, &st) != 0 || !S_ISSOCK (st.st_mode))
    {
      g_close (own_fd, NULL);
      return_invalid (invocation, VHOST_USER_ERROR_INVALID_PARAM, "SET_BACKEND_REQ_FD did not pass a socket");
      return TRUE;
    }
  socket = g_socket_new_from_fd (own_fd, &error);
  if (socket == NULL)
    {
      return_invalid (invocation, VHOST_USER_ERROR_INVALID_PARAM,
                      "SET_BACKEND_REQ_FD did not pass a socket: %s", error->message);
      return TRUE;
    }

  close_backend_channel (self, NULL);
  priv->backend_channel = vhost_user_connection_new (socket, VHOST_USER_CHANNEL_BACKEND, TRUE, priv->context);
  vhost_user_connection_set_protocol_features (priv->backend_channel, priv->acked_protocol_features);
  vhost_user_connection_set_handlers (priv->backend_channel, backend_channel_message,
                                      backend_channel_closed, self);
  vhost_user_connection_start (priv->backend_channel);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

static gboolean
real_unsupported (VhostUserBackend    *self,
                  VhostUserInvocation *invocation)
{
  return_invalid (invocation, VHOST_USER_ERROR_INVALID_OPERATION,
                  "%s is not implemented by this device",
                  vhost_user_invocation_get_request_name (invocation));
  return TRUE;
}

static gboolean
real_iotlb_msg (VhostUserBackend    *self,
                VhostUserInvocation *invocation,
                guint64              iova,
                guint64              size,
                guint64              user_addr,
                guint                perm,
                guint                type)
{
  return real_unsupported (self, invocation);
}

static gboolean
real_set_vring_endian (VhostUserBackend    *self,
                       VhostUserInvocation *invocation,
                       guint                index,
                       guint                big_endian)
{
  /* only legacy devices may be big-endian, and we are not one */
  if (big_endian != 0)
    return_invalid (invocation, VHOST_USER_ERROR_INVALID_PARAM, "Big-endian rings are not supported");
  else
    vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

static gboolean
config_range_ok (VhostUserBackend    *self,
                 VhostUserInvocation *invocation,
                 guint                offset,
                 guint                size)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  gsize config_len = priv->config != NULL ? g_bytes_get_size (priv->config) : 0;

  if (size == 0 || (guint64) offset + size > config_len)
    {
      return_invalid (invocation, VHOST_USER_ERROR_INVALID_PARAM,
                      "Config range %u+%u is outside the %" G_GSIZE_FORMAT "-byte config space",
                      offset, size, config_len);
      return FALSE;
    }
  return TRUE;
}

static gboolean
real_get_config (VhostUserBackend    *self,
                 VhostUserInvocation *invocation,
                 guint                offset,
                 guint                size,
                 guint                flags)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  g_autoptr(GBytes) slice = NULL;

  if (!config_range_ok (self, invocation, offset, size))
    return TRUE;
  slice = g_bytes_new_from_bytes (priv->config, offset, size);
  vhost_user_invocation_return_config (invocation, slice);
  return TRUE;
}

/* Writes land only where the writable mask has bits set; a write that
 * would change a read-only byte is refused whole. */
static gboolean
real_set_config (VhostUserBackend    *self,
                 VhostUserInvocation *invocation,
                 guint                offset,
                 guint                flags,
                 GBytes              *data)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  gsize size = g_bytes_get_size (data);
  const guint8 *src = g_bytes_get_data (data, NULL);
  const guint8 *mask = NULL;
  gsize mask_len = 0;
  g_autofree guint8 *config = NULL;
  gsize config_len;

  if (!config_range_ok (self, invocation, offset, size))
    return TRUE;

  config = g_bytes_unref_to_data (g_bytes_ref (priv->config), &config_len);
  if (priv->config_writable_mask != NULL)
    mask = g_bytes_get_data (priv->config_writable_mask, &mask_len);

  for (gsize i = 0; i < size; i++)
    {
      guint8 writable = offset + i < mask_len ? mask[offset + i] : 0;

      if ((config[offset + i] ^ src[i]) & ~writable)
        {
          return_invalid (invocation, VHOST_USER_ERROR_INVALID_PARAM,
                          "Config byte %" G_GSIZE_FORMAT " is read-only", offset + i);
          return TRUE;
        }
      config[offset + i] = src[i];
    }

  g_bytes_unref (priv->config);
  priv->config = g_bytes_new_take (g_steal_pointer (&config), config_len);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONFIG]);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

static gboolean
real_create_crypto_session (VhostUserBackend    *self,
                            VhostUserInvocation *invocation,
                            GBytes              *session)
{
  return real_unsupported (self, invocation);
}

static gboolean
real_close_crypto_session (VhostUserBackend    *self,
                           VhostUserInvocation *invocation,
                           guint64              session_id)
{
  return real_unsupported (self, invocation);
}

static void
unmap_inflight (VhostUserBackend *self)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  g_clear_pointer (&priv->inflight, g_bytes_unref);
  priv->inflight_stride = 0;
  update_inflight (self);
}

/* The per-queue stride is ours to choose; only this back-end reads the
 * area back. Room for either ring layout, 64-byte aligned. */
static gsize
inflight_queue_size (guint queue_size)
{
  gsize split = 16 + 16 * (gsize) queue_size;
  gsize packed = 32 + 32 * (gsize) queue_size;

  return (MAX (split, packed) + INFLIGHT_ALIGN - 1) & ~(gsize) (INFLIGHT_ALIGN - 1);
}

static gboolean
real_get_inflight_fd (VhostUserBackend    *self,
                      VhostUserInvocation *invocation,
                      guint                num_queues,
                      guint                queue_size)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  VhostUserWireInflight reply = { 0 };
  g_autoptr(GBytes) payload = NULL;
  gsize size;
  void *base;
  int fd;

  if (num_queues == 0 || num_queues > priv->num_queues || queue_size == 0 || queue_size > priv->max_queue_size)
    {
      return_invalid (invocation, VHOST_USER_ERROR_INVALID_PARAM,
                      "No in-flight area for %u queues of %u entries", num_queues, queue_size);
      return TRUE;
    }

  size = num_queues * inflight_queue_size (queue_size);
  fd = memfd_create ("vhost-user-inflight", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0 || ftruncate (fd, size) != 0 ||
      (base = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED)
    {
      int errsv = errno;

      if (fd >= 0)
        g_close (fd, NULL);
      return_invalid (invocation, VHOST_USER_ERROR_BACKEND_INTERNAL,
                      "Could not allocate the in-flight area: %s", g_strerror (errsv));
      return TRUE;
    }

  g_clear_pointer (&priv->inflight, g_bytes_unref);
  priv->inflight = mapping_bytes_new (base, size, 0, size);
  priv->inflight_stride = inflight_queue_size (queue_size);
  update_inflight (self);

  reply.mmap_size = size;
  reply.mmap_offset = 0;
  reply.num_queues = num_queues;
  reply.queue_size = queue_size;
  payload = g_bytes_new (&reply, sizeof reply);
  vhost_user_invocation_return_bytes (invocation, payload, fd);
  return TRUE;
}

static gboolean
real_set_inflight_fd (VhostUserBackend    *self,
                      VhostUserInvocation *invocation,
                      guint64              mmap_size,
                      guint64              mmap_offset,
                      guint                num_queues,
                      guint                queue_size,
                      int                  fd)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  struct stat st;
  void *base;
  int own_fd;

  /* the area must hold what this back-end would have laid out for it */
  if (num_queues == 0 || num_queues > priv->num_queues || queue_size == 0 ||
      queue_size > priv->max_queue_size || mmap_size < num_queues * inflight_queue_size (queue_size) ||
      mmap_offset + mmap_size < mmap_offset || mmap_offset + mmap_size > G_MAXSIZE)
    {
      return_invalid (invocation, VHOST_USER_ERROR_INVALID_PARAM,
                      "In-flight area of %u queues of %u entries, 0x%" G_GINT64_MODIFIER "x bytes, is not usable",
                      num_queues, queue_size, mmap_size);
      return TRUE;
    }

  own_fd = steal_request_fd (self, 0);
  if (fstat (own_fd, &st) != 0 || (S_ISREG (st.st_mode) && (guint64) st.st_size < mmap_offset + mmap_size))
    {
      g_close (own_fd, NULL);
      return_invalid (invocation, VHOST_USER_ERROR_INVALID_PARAM,
                      "The in-flight fd does not hold 0x%" G_GINT64_MODIFIER "x bytes", mmap_offset + mmap_size);
      return TRUE;
    }
  base = mmap (NULL, mmap_offset + mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, own_fd, 0);
  g_close (own_fd, NULL);
  if (base == MAP_FAILED)
    {
      return_invalid (invocation, VHOST_USER_ERROR_BACKEND_INTERNAL,
                      "Could not map the in-flight area: %s", g_strerror (errno));
      return TRUE;
    }

  g_clear_pointer (&priv->inflight, g_bytes_unref);
  priv->inflight = mapping_bytes_new (base, mmap_offset + mmap_size, mmap_offset, mmap_size);
  priv->inflight_stride = inflight_queue_size (queue_size);
  update_inflight (self);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

static gboolean
real_fd_unsupported (VhostUserBackend    *self,
                     VhostUserInvocation *invocation,
                     int                  fd)
{
  return real_unsupported (self, invocation);
}

static void
set_status (VhostUserBackend *self,
            guint64           status)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  if (priv->status != status)
    {
      priv->status = status;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
    }
}

/* Back to the state after negotiation: rings stopped, disabled and
 * forgotten, status 0. Ownership and the protocol session stay. */
static gboolean
real_reset_device (VhostUserBackend    *self,
                   VhostUserInvocation *invocation)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  for (guint i = 0; i < priv->vrings->len; i++)
    vhost_user_vring_reset (vring_at (self, i));
  set_status (self, 0);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

static gboolean
real_vring_kick (VhostUserBackend    *self,
                 VhostUserInvocation *invocation,
                 guint                index)
{
  VhostUserVring *vring = vring_at (self, index);

  /* starting the ring looks at it once; a started one is looked at now */
  if (vhost_user_vring_get_started (vring))
    vhost_user_vring_kick (vring);
  else
    vhost_user_vring_set_started (vring, TRUE);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

static gboolean
real_get_max_mem_slots (VhostUserBackend    *self,
                        VhostUserInvocation *invocation)
{
  vhost_user_invocation_return_u64 (invocation, priv_of (self)->max_mem_slots);
  return TRUE;
}

static gboolean
real_add_mem_reg (VhostUserBackend      *self,
                  VhostUserInvocation   *invocation,
                  VhostUserMemoryRegion *region)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  g_autoptr(VhostUserMemoryTable) table = NULL;
  g_autoptr(GError) error = NULL;

  table = vhost_user_memory_table_add (priv->memory_table, region, priv->max_mem_slots, &error);
  if (table == NULL)
    {
      vhost_user_invocation_return_error (invocation, error);
      return TRUE;
    }
  set_memory_table (self, table);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

static gboolean
real_rem_mem_reg (VhostUserBackend    *self,
                  VhostUserInvocation *invocation,
                  guint64              guest_phys_addr,
                  guint64              size,
                  guint64              user_addr)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  g_autoptr(VhostUserMemoryTable) table = NULL;
  g_autoptr(GError) error = NULL;

  table = vhost_user_memory_table_remove (priv->memory_table, guest_phys_addr, size, user_addr, &error);
  if (table == NULL)
    {
      vhost_user_invocation_return_error (invocation, error);
      return TRUE;
    }
  set_memory_table (self, table);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

static gboolean
real_set_status (VhostUserBackend    *self,
                 VhostUserInvocation *invocation,
                 guint64              status)
{
  set_status (self, status);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

static gboolean
real_get_status (VhostUserBackend    *self,
                 VhostUserInvocation *invocation)
{
  vhost_user_invocation_return_u64 (invocation, priv_of (self)->status);
  return TRUE;
}

static gboolean
real_get_shared_object (VhostUserBackend    *self,
                        VhostUserInvocation *invocation,
                        const char          *uuid)
{
  return_invalid (invocation, VHOST_USER_ERROR_INVALID_PARAM, "No shared object %s", uuid);
  return TRUE;
}

static gboolean
real_set_device_state_fd (VhostUserBackend    *self,
                          VhostUserInvocation *invocation,
                          guint                direction,
                          guint                phase,
                          int                  fd)
{
  return real_unsupported (self, invocation);
}

static gboolean
real_get_shmem_config (VhostUserBackend    *self,
                       VhostUserInvocation *invocation)
{
  /* no shared memory regions: all sizes 0 */
  VhostUserWireShmemConfig config = { 0 };
  g_autoptr(GBytes) payload = g_bytes_new (&config, sizeof config);

  vhost_user_invocation_return_bytes (invocation, payload, -1);
  return TRUE;
}

/* --- receiving requests --- */

static gboolean
gate_open (VhostUserBackend           *self,
           const VhostUserRequestInfo *info,
           GError                    **error)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  guint64 virtio = info->gate_flags & VHOST_USER_GATE_VIRTIO_OFFERED ? priv->features : priv->acked_features;

  if ((info->gate_protocol & priv->acked_protocol_features) != info->gate_protocol ||
      (info->gate_virtio & virtio) != info->gate_virtio)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                   "%s needs a feature that was not negotiated", info->name);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_index (VhostUserBackend  *self,
             guint              index,
             const char        *name,
             GError           **error)
{
  if (index >= priv_of (self)->num_queues)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "%s for queue %u, the device has %u", name, index, priv_of (self)->num_queues);
      return FALSE;
    }
  return TRUE;
}

static char *
uuid_to_string (const guint8 u[16])
{
  return g_strdup_printf ("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                          u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7],
                          u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

static VhostUserMemoryRegion *
map_region (const VhostUserWireXenMemoryRegion  *r,
            int                                  fd,
            GError                             **error)
{
  return vhost_user_memory_region_new_map (r->guest_phys_addr, r->memory_size, r->userspace_addr,
                                           r->mmap_offset, fd, error);
}

/* Decodes @msg into the signal's arguments (values[2..]), checking what
 * the handlers may rely on: ring indices in range, sizes sane, memory
 * mapped. Returns the number of values filled. */
static gboolean
decode_args (VhostUserBackend  *self,
             VhostUserMessage  *msg,
             SignalShape        shape,
             GValue            *values,
             guint             *n_values,
             GError           **error)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  const char *name = vhost_user_request_get_name (VHOST_USER_CHANNEL_MAIN, msg->header.request);
  guint n = 2;

#define ARG(type) (g_value_init (&values[n], (type)), &values[n++])

  switch (shape)
    {
    case SHAPE_NONE:
      break;

    case SHAPE_U64:
      {
        guint64 u64 = 0;

        vhost_user_message_get_u64 (msg, &u64);
        g_value_set_uint64 (ARG (G_TYPE_UINT64), u64);
      }
      break;

    case SHAPE_INDEX:
    case SHAPE_INDEX_NUM:
    case SHAPE_INDEX_BOOL:
      {
        guint32 index = 0, num = 0;

        vhost_user_message_get_vring_state (msg, &index, &num);
        if (!check_index (self, index, name, error))
          return FALSE;
        if (msg->header.request == VHOST_USER_REQUEST_SET_VRING_NUM)
          {
            gboolean packed = (priv->acked_features &
                               VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_RING_PACKED)) != 0;

            /* split rings need a power of two; packed ones any size */
            if (num == 0 || num > priv->max_queue_size || (!packed && (num & (num - 1)) != 0))
              {
                g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                             "Queue %u: size %u is not %s up to %u", index, num,
                             packed ? "between 1 and" : "a power of two", priv->max_queue_size);
                return FALSE;
              }
          }
        if (shape == SHAPE_INDEX_BOOL && num > 1)
          {
            g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                         "%s: %u is neither 0 nor 1", name, num);
            return FALSE;
          }
        g_value_set_uint (ARG (G_TYPE_UINT), index);
        if (shape == SHAPE_INDEX_NUM)
          g_value_set_uint (ARG (G_TYPE_UINT), num);
        else if (shape == SHAPE_INDEX_BOOL)
          g_value_set_boolean (ARG (G_TYPE_BOOLEAN), num == 1);
      }
      break;

    case SHAPE_INDEX_FD:
      {
        guint index = 0;
        gboolean no_fd = TRUE;

        vhost_user_message_get_vring_fd (msg, &index, &no_fd);
        if (!check_index (self, index, name, error))
          return FALSE;
        g_value_set_uint (ARG (G_TYPE_UINT), index);
        g_value_set_int (ARG (G_TYPE_INT), no_fd ? -1 : msg->fds[0]);
      }
      break;

    case SHAPE_FD:
      g_value_set_int (ARG (G_TYPE_INT), msg->n_fds > 0 ? msg->fds[0] : -1);
      break;

    case SHAPE_ADDR:
      {
        VhostUserWireVringAddr wire = { 0 };
        VhostUserVringAddress address;

        vhost_user_message_get_vring_addr (msg, &wire);
        if (!check_index (self, wire.index, name, error))
          return FALSE;
        if ((wire.desc_user_addr & 15) || (wire.avail_user_addr & 1) || (wire.used_user_addr & 3))
          {
            g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                         "Queue %u: ring addresses are not aligned", wire.index);
            return FALSE;
          }
        address.flags = wire.flags;
        address.desc_user_addr = wire.desc_user_addr;
        address.used_user_addr = wire.used_user_addr;
        address.avail_user_addr = wire.avail_user_addr;
        address.log_guest_addr = wire.log_guest_addr;
        g_value_set_uint (ARG (G_TYPE_UINT), wire.index);
        g_value_set_boxed (ARG (VHOST_USER_TYPE_VRING_ADDRESS), &address);
      }
      break;

    case SHAPE_MEM_TABLE:
      {
        guint n_regions = vhost_user_message_get_mem_table_n_regions (msg);
        VhostUserMemoryRegion *regions[VHOST_USER_MAX_MEM_TABLE_REGIONS];
        VhostUserMemoryTable *table;
        guint mapped = 0;

        if (n_regions > priv->max_mem_slots)
          {
            g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                         "%u memory regions, the device has %u slots", n_regions, priv->max_mem_slots);
            return FALSE;
          }
        for (; mapped < n_regions; mapped++)
          {
            VhostUserWireXenMemoryRegion r;

            vhost_user_message_get_mem_table_region (msg, mapped, &r);
            regions[mapped] = map_region (&r, msg->fds[mapped], error);
            if (regions[mapped] == NULL)
              break;
          }
        table = mapped == n_regions ? vhost_user_memory_table_new (regions, n_regions, error) : NULL;
        for (guint i = 0; i < mapped; i++)
          vhost_user_memory_region_unref (regions[i]);
        if (table == NULL)
          return FALSE;
        g_value_take_boxed (ARG (VHOST_USER_TYPE_MEMORY_TABLE), table);
      }
      break;

    case SHAPE_REGION:
      {
        VhostUserWireXenMemoryRegion r;
        VhostUserMemoryRegion *region;

        vhost_user_message_get_single_region (msg, &r);
        region = map_region (&r, msg->fds[0], error);
        if (region == NULL)
          return FALSE;
        g_value_take_boxed (ARG (VHOST_USER_TYPE_MEMORY_REGION), region);
      }
      break;

    case SHAPE_REGION_DESC:
      {
        VhostUserWireXenMemoryRegion r;

        vhost_user_message_get_single_region (msg, &r);
        g_value_set_uint64 (ARG (G_TYPE_UINT64), r.guest_phys_addr);
        g_value_set_uint64 (ARG (G_TYPE_UINT64), r.memory_size);
        g_value_set_uint64 (ARG (G_TYPE_UINT64), r.userspace_addr);
      }
      break;

    case SHAPE_LOG:
      {
        VhostUserWireLog log = { 0 };

        vhost_user_message_get_log (msg, &log);
        g_value_set_uint64 (ARG (G_TYPE_UINT64), log.mmap_size);
        g_value_set_uint64 (ARG (G_TYPE_UINT64), log.mmap_offset);
        g_value_set_int (ARG (G_TYPE_INT), msg->n_fds > 0 ? msg->fds[0] : -1);
      }
      break;

    case SHAPE_IOTLB:
      {
        VhostUserWireIotlb iotlb = { 0 };

        vhost_user_message_get_iotlb (msg, &iotlb);
        g_value_set_uint64 (ARG (G_TYPE_UINT64), iotlb.iova);
        g_value_set_uint64 (ARG (G_TYPE_UINT64), iotlb.size);
        g_value_set_uint64 (ARG (G_TYPE_UINT64), iotlb.uaddr);
        g_value_set_uint (ARG (G_TYPE_UINT), iotlb.perm);
        g_value_set_uint (ARG (G_TYPE_UINT), iotlb.type);
      }
      break;

    case SHAPE_CONFIG_GET:
    case SHAPE_CONFIG_SET:
      {
        guint32 offset = 0, flags = 0, size = 0;
        const guint8 *data = NULL;

        vhost_user_message_get_config (msg, &offset, &flags, &data, &size);
        g_value_set_uint (ARG (G_TYPE_UINT), offset);
        if (shape == SHAPE_CONFIG_GET)
          {
            g_value_set_uint (ARG (G_TYPE_UINT), size);
            g_value_set_uint (ARG (G_TYPE_UINT), flags);
          }
        else
          {
            g_value_set_uint (ARG (G_TYPE_UINT), flags);
            g_value_take_boxed (ARG (G_TYPE_BYTES), g_bytes_new (data, size));
          }
      }
      break;

    case SHAPE_BYTES:
      g_value_take_boxed (ARG (G_TYPE_BYTES), g_bytes_new (msg->payload, msg->header.size));
      break;

    case SHAPE_INFLIGHT_GET:
    case SHAPE_INFLIGHT_SET:
      {
        VhostUserWireInflight inflight = { 0 };

        vhost_user_message_get_inflight (msg, &inflight);
        if (shape == SHAPE_INFLIGHT_SET)
          {
            g_value_set_uint64 (ARG (G_TYPE_UINT64), inflight.mmap_size);
            g_value_set_uint64 (ARG (G_TYPE_UINT64), inflight.mmap_offset);
          }
        g_value_set_uint (ARG (G_TYPE_UINT), inflight.num_queues);
        g_value_set_uint (ARG (G_TYPE_UINT), inflight.queue_size);
        if (shape == SHAPE_INFLIGHT_SET)
          g_value_set_int (ARG (G_TYPE_INT), msg->fds[0]);
      }
      break;

    case SHAPE_UUID:
      {
        guint8 uuid[16] = { 0 };

        vhost_user_message_get_uuid (msg, uuid);
        g_value_take_string (ARG (G_TYPE_STRING), uuid_to_string (uuid));
      }
      break;

    case SHAPE_DEVICE_STATE:
      {
        guint32 direction = 0, phase = 0;

        vhost_user_message_get_device_state (msg, &direction, &phase);
        g_value_set_uint (ARG (G_TYPE_UINT), direction);
        g_value_set_uint (ARG (G_TYPE_UINT), phase);
        g_value_set_int (ARG (G_TYPE_INT), msg->fds[0]);
      }
      break;

    default:
      g_assert_not_reached ();
    }
#undef ARG

  *n_values = n;
  return TRUE;
}

static void
invocation_done (VhostUserInvocation *invocation,
                 VhostUserMessage    *reply,
                 const GError        *error,
                 gpointer             user_data)
{
  VhostUserBackend *self = user_data;
  VhostUserBackendPrivate *priv = priv_of (self);
  const VhostUserRequestInfo *info = vhost_user_invocation_get_info (invocation);

  /* a request of a connection that is gone: its answer has nowhere to go
   * (the only request in flight on a connection is the pending one) */
  if (priv->pending != invocation)
    return;
  priv->pending = NULL;

  if (priv->connection == NULL || vhost_user_connection_is_closed (priv->connection))
    return;

  if (error != NULL)
    VHOST_USER_NOTE (TRACE, "[back-end] %s failed: %s", info->name, error->message);

  if (reply != NULL)
    {
      g_autoptr(GError) send_error = NULL;

      /* a failure there closes the connection, which reports it */
      vhost_user_connection_send (priv->connection, reply, &send_error);
    }
  else if (error != NULL && vhost_user_invocation_get_reply_kind (invocation) == VHOST_USER_REPLY_ALWAYS)
    {
      /* the front-end waits for an answer the protocol cannot give */
      g_autoptr(GError) fatal = g_error_copy (error);

      g_prefix_error (&fatal, "Cannot answer %s: ", info->name);
      vhost_user_connection_close (priv->connection, fatal);
      return;
    }

  if (priv->connection != NULL)
    vhost_user_connection_set_receiving (priv->connection, TRUE);
}

static void
dispatch_request (VhostUserBackend *self,
                  VhostUserMessage *msg,
                  const GError     *parse_error)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  const VhostUserRequestInfo *info;
  g_autoptr(VhostUserInvocation) invocation = NULL;
  g_autoptr(GError) error = NULL;
  GValue values[8] = { G_VALUE_INIT };
  GValue result = G_VALUE_INIT;
  guint n_values = 0;
  gboolean reply_ack = (priv->acked_protocol_features & VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK) != 0;

  info = vhost_user_request_info_lookup (VHOST_USER_CHANNEL_MAIN, msg->header.request);
  if (info == NULL || vhost_user_message_is_reply (msg))
    {
      /* unknown requests (or a reply here): nobody can tell what answer
       * the peer waits for; a NACK if it asked for one */
      VHOST_USER_NOTE (TRACE, "[back-end] ignoring %s %u: %s",
                       vhost_user_message_is_reply (msg) ? "reply" : "request",
                       msg->header.request, parse_error ? parse_error->message : "unknown request");
      if (reply_ack && vhost_user_message_needs_reply (msg) && !vhost_user_message_is_reply (msg))
        {
          VhostUserMessage nack = VHOST_USER_MESSAGE_INIT;

          vhost_user_message_init_reply (&nack, msg);
          vhost_user_message_set_u64 (&nack, 1);
          vhost_user_connection_send (priv->connection, &nack, NULL);
        }
      return;
    }

  /* the connection stops reading until this request is answered */
  vhost_user_connection_set_receiving (priv->connection, FALSE);
  invocation = vhost_user_invocation_new (VHOST_USER_CHANNEL_MAIN, msg, priv->acked_protocol_features, priv->context,
                                          invocation_done, g_object_ref (self), g_object_unref);
  priv->pending = invocation;

  if (parse_error != NULL)
    {
      vhost_user_invocation_return_error (invocation, parse_error);
      return;
    }

  if (!gate_open (self, info, &error))
    {
      vhost_user_invocation_return_error (invocation, error);
      return;
    }

  g_value_init (&values[0], G_TYPE_FROM_INSTANCE (self));
  g_value_set_object (&values[0], self);
  g_value_init (&values[1], VHOST_USER_TYPE_INVOCATION);
  g_value_set_object (&values[1], invocation);

  if (!decode_args (self, msg, signal_rows[info->number].shape, values, &n_values, &error))
    {
      for (guint i = 0; i < G_N_ELEMENTS (values); i++)
        if (G_IS_VALUE (&values[i]))
          g_value_unset (&values[i]);
      vhost_user_invocation_return_error (invocation, error);
      return;
    }

  g_value_init (&result, G_TYPE_BOOLEAN);
  priv->current = msg;
  g_signal_emitv (values, signals[info->number], 0, &result);
  priv->current = NULL;

  if (!g_value_get_boolean (&result) && !vhost_user_invocation_get_completed (invocation))
    vhost_user_invocation_return_error_literal (invocation, VHOST_USER_ERROR, VHOST_USER_ERROR_HANDLER_FAILED,
                                                "No handler took the request");

  for (guint i = 0; i < n_values; i++)
    g_value_unset (&values[i]);
}

static void
on_message (VhostUserConnection *connection,
            VhostUserMessage    *msg,
            const GError        *error,
            gpointer             user_data)
{
  dispatch_request (VHOST_USER_BACKEND (user_data), msg, error);
}

static void
on_closed (VhostUserConnection *connection,
           const GError        *error,
           gpointer             user_data)
{
  VhostUserBackend *self = user_data;
  g_autoptr(GError) reason = NULL;

  reason = error != NULL ? g_error_copy (error)
                         : g_error_new_literal (VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_BROKEN,
                                                "The connection was closed");
  g_object_ref (self);
  backend_release (self);
  g_signal_emit (self, signals[SIGNAL_DISCONNECTED], 0, reason,
                 vhost_user_error_should_reconnect (reason));
  g_object_unref (self);
}

/* Lets go of everything the connection gave us. */
static void
backend_release (VhostUserBackend *self)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  gboolean was_connected = priv->connection != NULL;

  priv->pending = NULL;

  g_object_freeze_notify (G_OBJECT (self));

  if (priv->connection != NULL)
    {
      vhost_user_connection_set_handlers (priv->connection, NULL, NULL, NULL);
      vhost_user_connection_close (priv->connection, NULL);
      g_clear_object (&priv->connection);
    }
  close_backend_channel (self, NULL);

  for (guint i = 0; i < priv->vrings->len; i++)
    vhost_user_vring_reset (vring_at (self, i));

  if (priv->memory_table != NULL && vhost_user_memory_table_get_n_regions (priv->memory_table) > 0)
    {
      g_autoptr(VhostUserMemoryTable) empty = vhost_user_memory_table_new_empty ();

      set_memory_table (self, empty);
    }
  unmap_inflight (self);
  if (priv->log_fd >= 0)
    {
      int old = priv->log_fd;

      priv->log_fd = -1;
      update_logging (self);
      g_close (old, NULL);
    }
  unmap_log (self);

  if (priv->owner)
    {
      priv->owner = FALSE;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OWNER]);
    }
  if (priv->acked_features != 0)
    {
      priv->acked_features = 0;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACKED_FEATURES]);
    }
  if (priv->acked_protocol_features != 0)
    {
      priv->acked_protocol_features = 0;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACKED_PROTOCOL_FEATURES]);
    }
  set_status (self, 0);
  if (was_connected)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTED]);

  g_object_thaw_notify (G_OBJECT (self));
}

typedef struct {
  VhostUserBackend *backend;
  guint             index;
} InbandCall;

static void
inband_call_free (gpointer data)
{
  InbandCall *call = data;

  g_object_unref (call->backend);
  g_free (call);
}

static gboolean
send_inband_call (gpointer data)
{
  InbandCall *call = data;
  VhostUserWireVringState state = { call->index, 0 };
  g_autoptr(GBytes) payload = g_bytes_new (&state, sizeof state);

  /* the answer, if one is asked for, only paces the channel */
  vhost_user_backend_send_backend_request_async (call->backend, VHOST_USER_BACKEND_REQUEST_VRING_CALL,
                                                 payload, -1, NULL, NULL, NULL);
  return G_SOURCE_REMOVE;
}

/* A ring without a call fd notifies: BACKEND_VRING_CALL, sent from the
 * back-end's context whichever thread the ring runs in. Simulations use
 * this, not fast paths: it may allocate. */
static void
inband_call (VhostUserVring *vring,
             gpointer        user_data)
{
  VhostUserBackend *self = user_data;
  InbandCall *call = g_new (InbandCall, 1);
  GSource *source;

  call->backend = g_object_ref (self);
  call->index = vhost_user_vring_get_index (vring);
  /* always later, never from here: this runs under the ring's lock */
  source = g_idle_source_new ();
  g_source_set_static_name (source, "VhostUserBackend in-band call");
  g_source_set_callback (source, send_inband_call, call, inband_call_free);
  g_source_attach (source, priv_of (self)->context);
  g_source_unref (source);
}

/* --- object --- */

static void
drop_vrings (VhostUserBackend *self)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  /* a ring a device thread still holds must not call back into us */
  for (guint i = 0; i < priv->vrings->len; i++)
    {
      vhost_user_vring_set_broken_func (vring_at (self, i), NULL, NULL);
      vhost_user_vring_set_call_func (vring_at (self, i), NULL, NULL);
    }
  g_ptr_array_set_size (priv->vrings, 0);
}

static void
rebuild_vrings (VhostUserBackend *self)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  drop_vrings (self);
  for (guint i = 0; i < priv->num_queues; i++)
    {
      VhostUserVring *vring = vhost_user_vring_new (i, priv->context);

      vhost_user_vring_set_memory_table (vring, priv->memory_table);
      vhost_user_vring_set_broken_func (vring, ring_broken, self);
      g_ptr_array_add (priv->vrings, vring);
    }
  update_logging (self);
  update_inflight (self);
  update_inband (self);
}

static void
vhost_user_backend_dispose (GObject *object)
{
  VhostUserBackend *self = VHOST_USER_BACKEND (object);
  VhostUserBackendPrivate *priv = priv_of (self);

  backend_release (self);
  g_clear_pointer (&priv->memory_table, vhost_user_memory_table_unref);
  drop_vrings (self);

  G_OBJECT_CLASS (vhost_user_backend_parent_class)->dispose (object);
}

static void
vhost_user_backend_finalize (GObject *object)
{
  VhostUserBackendPrivate *priv = priv_of (VHOST_USER_BACKEND (object));

  g_clear_pointer (&priv->config, g_bytes_unref);
  g_clear_pointer (&priv->config_writable_mask, g_bytes_unref);
  g_clear_pointer (&priv->vrings, g_ptr_array_unref);
  g_clear_pointer (&priv->context, g_main_context_unref);

  G_OBJECT_CLASS (vhost_user_backend_parent_class)->finalize (object);
}

static void
vhost_user_backend_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  VhostUserBackend *self = VHOST_USER_BACKEND (object);
  VhostUserBackendPrivate *priv = priv_of (self);

  switch (prop_id)
    {
    case PROP_MAIN_CONTEXT:
      g_value_set_boxed (value, priv->context);
      break;
    case PROP_FEATURES:
      g_value_set_uint64 (value, priv->features);
      break;
    case PROP_PROTOCOL_FEATURES:
      g_value_set_uint64 (value, priv->protocol_features);
      break;
    case PROP_NUM_QUEUES:
      g_value_set_uint (value, priv->num_queues);
      break;
    case PROP_MAX_QUEUE_SIZE:
      g_value_set_uint (value, priv->max_queue_size);
      break;
    case PROP_MAX_MEM_SLOTS:
      g_value_set_uint (value, priv->max_mem_slots);
      break;
    case PROP_CONFIG:
      g_value_set_boxed (value, priv->config);
      break;
    case PROP_CONFIG_WRITABLE_MASK:
      g_value_set_boxed (value, priv->config_writable_mask);
      break;
    case PROP_ACKED_FEATURES:
      g_value_set_uint64 (value, priv->acked_features);
      break;
    case PROP_ACKED_PROTOCOL_FEATURES:
      g_value_set_uint64 (value, priv->acked_protocol_features);
      break;
    case PROP_OWNER:
      g_value_set_boolean (value, priv->owner);
      break;
    case PROP_STATUS:
      g_value_set_uint64 (value, priv->status);
      break;
    case PROP_MEMORY_TABLE:
      g_value_set_boxed (value, priv->memory_table);
      break;
    case PROP_CONNECTED:
      g_value_set_boolean (value, priv->connection != NULL);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vhost_user_backend_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  VhostUserBackend *self = VHOST_USER_BACKEND (object);
  VhostUserBackendPrivate *priv = priv_of (self);

  switch (prop_id)
    {
    case PROP_MAIN_CONTEXT:
      priv->context = g_value_dup_boxed (value);
      if (priv->context == NULL)
        priv->context = g_main_context_ref_thread_default ();
      break;
    case PROP_FEATURES:
      vhost_user_backend_set_features (self, g_value_get_uint64 (value));
      break;
    case PROP_PROTOCOL_FEATURES:
      vhost_user_backend_set_protocol_features (self, g_value_get_uint64 (value));
      break;
    case PROP_NUM_QUEUES:
      vhost_user_backend_set_num_queues (self, g_value_get_uint (value));
      break;
    case PROP_MAX_QUEUE_SIZE:
      vhost_user_backend_set_max_queue_size (self, g_value_get_uint (value));
      break;
    case PROP_MAX_MEM_SLOTS:
      vhost_user_backend_set_max_mem_slots (self, g_value_get_uint (value));
      break;
    case PROP_CONFIG:
      vhost_user_backend_set_config (self, g_value_get_boxed (value));
      break;
    case PROP_CONFIG_WRITABLE_MASK:
      vhost_user_backend_set_config_writable_mask (self, g_value_get_boxed (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

/* The GTypes of a shape's arguments, after the invocation. */
static guint
shape_param_types (SignalShape  shape,
                   GType       *types)
{
  GType *t = types;

  switch (shape)
    {
    case SHAPE_NONE:
      break;
    case SHAPE_U64:
      *t++ = G_TYPE_UINT64;
      break;
    case SHAPE_INDEX:
      *t++ = G_TYPE_UINT;
      break;
    case SHAPE_INDEX_NUM:
      *t++ = G_TYPE_UINT; *t++ = G_TYPE_UINT;
      break;
    case SHAPE_INDEX_BOOL:
      *t++ = G_TYPE_UINT; *t++ = G_TYPE_BOOLEAN;
      break;
    case SHAPE_INDEX_FD:
      *t++ = G_TYPE_UINT; *t++ = G_TYPE_INT;
      break;
    case SHAPE_FD:
      *t++ = G_TYPE_INT;
      break;
    case SHAPE_ADDR:
      *t++ = G_TYPE_UINT; *t++ = VHOST_USER_TYPE_VRING_ADDRESS | G_SIGNAL_TYPE_STATIC_SCOPE;
      break;
    case SHAPE_MEM_TABLE:
      *t++ = VHOST_USER_TYPE_MEMORY_TABLE;
      break;
    case SHAPE_REGION:
      *t++ = VHOST_USER_TYPE_MEMORY_REGION;
      break;
    case SHAPE_REGION_DESC:
      *t++ = G_TYPE_UINT64; *t++ = G_TYPE_UINT64; *t++ = G_TYPE_UINT64;
      break;
    case SHAPE_LOG:
      *t++ = G_TYPE_UINT64; *t++ = G_TYPE_UINT64; *t++ = G_TYPE_INT;
      break;
    case SHAPE_IOTLB:
      *t++ = G_TYPE_UINT64; *t++ = G_TYPE_UINT64; *t++ = G_TYPE_UINT64; *t++ = G_TYPE_UINT; *t++ = G_TYPE_UINT;
      break;
    case SHAPE_CONFIG_GET:
      *t++ = G_TYPE_UINT; *t++ = G_TYPE_UINT; *t++ = G_TYPE_UINT;
      break;
    case SHAPE_CONFIG_SET:
      *t++ = G_TYPE_UINT; *t++ = G_TYPE_UINT; *t++ = G_TYPE_BYTES;
      break;
    case SHAPE_BYTES:
      *t++ = G_TYPE_BYTES;
      break;
    case SHAPE_INFLIGHT_GET:
      *t++ = G_TYPE_UINT; *t++ = G_TYPE_UINT;
      break;
    case SHAPE_INFLIGHT_SET:
      *t++ = G_TYPE_UINT64; *t++ = G_TYPE_UINT64; *t++ = G_TYPE_UINT; *t++ = G_TYPE_UINT; *t++ = G_TYPE_INT;
      break;
    case SHAPE_UUID:
      *t++ = G_TYPE_STRING;
      break;
    case SHAPE_DEVICE_STATE:
      *t++ = G_TYPE_UINT; *t++ = G_TYPE_UINT; *t++ = G_TYPE_INT;
      break;
    default:
      g_assert_not_reached ();
    }
  return t - types;
}

static void
vhost_user_backend_class_init (VhostUserBackendClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;
  GType invocation_type = VHOST_USER_TYPE_INVOCATION;

  object_class->dispose = vhost_user_backend_dispose;
  object_class->finalize = vhost_user_backend_finalize;
  object_class->get_property = vhost_user_backend_get_property;
  object_class->set_property = vhost_user_backend_set_property;

  klass->get_features = real_get_features;
  klass->set_features = real_set_features;
  klass->set_owner = real_set_owner;
  klass->reset_owner = real_reset_owner;
  klass->set_mem_table = real_set_mem_table;
  klass->set_log_base = real_set_log_base;
  klass->set_log_fd = real_set_log_fd;
  klass->set_vring_num = real_set_vring_num;
  klass->set_vring_addr = real_set_vring_addr;
  klass->set_vring_base = real_set_vring_base;
  klass->get_vring_base = real_get_vring_base;
  klass->set_vring_kick = real_set_vring_kick;
  klass->set_vring_call = real_set_vring_call;
  klass->set_vring_err = real_set_vring_err;
  klass->get_protocol_features = real_get_protocol_features;
  klass->set_protocol_features = real_set_protocol_features;
  klass->get_queue_num = real_get_queue_num;
  klass->set_vring_enable = real_set_vring_enable;
  klass->send_rarp = real_accept;
  klass->net_set_mtu = real_accept;
  klass->set_backend_req_fd = real_set_backend_req_fd;
  klass->iotlb_msg = real_iotlb_msg;
  klass->set_vring_endian = real_set_vring_endian;
  klass->get_config = real_get_config;
  klass->set_config = real_set_config;
  klass->create_crypto_session = real_create_crypto_session;
  klass->close_crypto_session = real_close_crypto_session;
  klass->postcopy_advise = real_unsupported;
  klass->postcopy_listen = real_unsupported;
  klass->postcopy_end = real_unsupported;
  klass->get_inflight_fd = real_get_inflight_fd;
  klass->set_inflight_fd = real_set_inflight_fd;
  klass->gpu_set_socket = real_fd_unsupported;
  klass->reset_device = real_reset_device;
  klass->vring_kick = real_vring_kick;
  klass->get_max_mem_slots = real_get_max_mem_slots;
  klass->add_mem_reg = real_add_mem_reg;
  klass->rem_mem_reg = real_rem_mem_reg;
  klass->set_status = real_set_status;
  klass->get_status = real_get_status;
  klass->get_shared_object = real_get_shared_object;
  klass->set_device_state_fd = real_set_device_state_fd;
  klass->check_device_state = real_unsupported;
  klass->get_shmem_config = real_get_shmem_config;

  /**
   * VhostUserBackend:main-context:
   *
   * The context the back-end's socket is watched in and its signals are
   * emitted in; the thread-default context at construction if unset.
   */
  properties[PROP_MAIN_CONTEXT] =
    g_param_spec_boxed ("main-context", NULL, NULL, G_TYPE_MAIN_CONTEXT,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * VhostUserBackend:features:
   *
   * The virtio features offered to the front-end (`GET_FEATURES`). By
   * default `VIRTIO_F_VERSION_1`, `VHOST_USER_F_PROTOCOL_FEATURES` and the
   * ring features [class@VhostUser.Vring] implements,
   * `VIRTIO_RING_F_INDIRECT_DESC`, `VIRTIO_RING_F_EVENT_IDX` and
   * `VIRTIO_F_RING_PACKED` (a front-end uses packed rings only if it
   * acks that bit); a device
   * adds its own bits (and removes the ring features if it walks the
   * rings itself without them).
   */
  properties[PROP_FEATURES] =
    g_param_spec_uint64 ("features", NULL, NULL, 0, G_MAXUINT64, DEFAULT_FEATURES, rw);
  /**
   * VhostUserBackend:protocol-features:
   *
   * The protocol features offered (`GET_PROTOCOL_FEATURES`), a mask of
   * #VhostUserProtocolFeatures: by default those the library implements
   * in full.
   */
  properties[PROP_PROTOCOL_FEATURES] =
    g_param_spec_uint64 ("protocol-features", NULL, NULL, 0, G_MAXUINT64, DEFAULT_PROTOCOL_FEATURES,
                         rw);
  /**
   * VhostUserBackend:num-queues:
   *
   * How many queues the device has (`GET_QUEUE_NUM`); at most 256.
   */
  properties[PROP_NUM_QUEUES] =
    g_param_spec_uint ("num-queues", NULL, NULL, 1, MAX_QUEUES, 1, rw);
  /**
   * VhostUserBackend:max-queue-size:
   *
   * The largest ring size `SET_VRING_NUM` may set.
   */
  properties[PROP_MAX_QUEUE_SIZE] =
    g_param_spec_uint ("max-queue-size", NULL, NULL, 1, MAX_QUEUE_SIZE, 1024, rw);
  /**
   * VhostUserBackend:max-mem-slots:
   *
   * How many memory regions may be mapped at once (`GET_MAX_MEM_SLOTS`).
   */
  properties[PROP_MAX_MEM_SLOTS] =
    g_param_spec_uint ("max-mem-slots", NULL, NULL, 1, 4096, DEFAULT_MEM_SLOTS, rw);
  /**
   * VhostUserBackend:config:
   *
   * The device's config space, as `GET_CONFIG` reads it; `SET_CONFIG`
   * writes change it (and notify).
   */
  properties[PROP_CONFIG] = g_param_spec_boxed ("config", NULL, NULL, G_TYPE_BYTES, rw);
  /**
   * VhostUserBackend:config-writable-mask:
   *
   * Which bits of the config space `SET_CONFIG` may change, byte for
   * byte; bytes past its end are read-only. Unset: nothing is writable.
   */
  properties[PROP_CONFIG_WRITABLE_MASK] =
    g_param_spec_boxed ("config-writable-mask", NULL, NULL, G_TYPE_BYTES, rw);
  /**
   * VhostUserBackend:acked-features:
   *
   * The virtio features the front-end acknowledged.
   */
  properties[PROP_ACKED_FEATURES] =
    g_param_spec_uint64 ("acked-features", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  /**
   * VhostUserBackend:acked-protocol-features:
   *
   * The protocol features in use: those the front-end asked for that were
   * offered.
   */
  properties[PROP_ACKED_PROTOCOL_FEATURES] =
    g_param_spec_uint64 ("acked-protocol-features", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  /**
   * VhostUserBackend:owner:
   *
   * Whether a front-end took ownership (`SET_OWNER`).
   */
  properties[PROP_OWNER] = g_param_spec_boolean ("owner", NULL, NULL, FALSE, ro);
  /**
   * VhostUserBackend:status:
   *
   * The virtio device status byte (`SET_STATUS`).
   */
  properties[PROP_STATUS] = g_param_spec_uint64 ("status", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  /**
   * VhostUserBackend:memory-table:
   *
   * The guest memory currently mapped.
   */
  properties[PROP_MEMORY_TABLE] =
    g_param_spec_boxed ("memory-table", NULL, NULL, VHOST_USER_TYPE_MEMORY_TABLE, ro);
  /**
   * VhostUserBackend:connected:
   *
   * Whether a front-end is connected.
   */
  properties[PROP_CONNECTED] = g_param_spec_boolean ("connected", NULL, NULL, FALSE, ro);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * VhostUserBackend::get-features:
   * @self: the back-end
   * @invocation: the request, to answer
   *
   * The front-end asks which virtio features the device offers. Default:
   * [property@VhostUser.Backend:features].
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::set-features:
   * @self: the back-end
   * @invocation: the request, to answer
   * @features: the virtio features acknowledged
   *
   * The front-end acknowledges the virtio features in use. Default: refuse bits never offered
   * (%VHOST_USER_ERROR_FEATURE_MISMATCH), else record them in
   * [property@VhostUser.Backend:acked-features]; without `VHOST_USER_F_PROTOCOL_FEATURES`
   * every ring is enabled at once.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::set-owner:
   * @self: the back-end
   * @invocation: the request, to answer
   *
   * The front-end takes ownership: the session starts. Default: a second `SET_OWNER` is
   * refused.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::reset-owner:
   * @self: the back-end
   * @invocation: the request, to answer
   *
   * Deprecated. Default: stop and disable every ring, keep the session.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::set-mem-table:
   * @self: the back-end
   * @invocation: the request, to answer
   * @table: the new guest memory, already mapped
   *
   * The front-end replaces the guest memory table; the regions are mapped and checked (bounds,
   * overlaps, the fds' sizes) before the signal. Default: make @table the back-end's
   * [property@VhostUser.Backend:memory-table].
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::set-log-base:
   * @self: the back-end
   * @invocation: the request, to answer
   * @size: the size of the dirty log
   * @offset: where the log starts in @fd
   * @fd: the log's fd, valid during the emission
   *
   * The front-end passes the dirty-page log. Default: map it.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::set-log-fd:
   * @self: the back-end
   * @invocation: the request, to answer
   * @fd: an eventfd, valid during the emission
   *
   * The front-end passes an eventfd to signal after logging. Default: keep it.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::set-vring-num:
   * @self: the back-end
   * @invocation: the request, to answer
   * @index: the queue
   * @num: the ring size, checked against [property@VhostUser.Backend:max-queue-size]
   *
   * The front-end sets a ring's size. Default: record it.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::set-vring-addr:
   * @self: the back-end
   * @invocation: the request, to answer
   * @index: the queue
   * @address: where the ring lives
   *
   * The front-end says where a ring lives. Default: check the addresses are in guest memory,
   * record them.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::set-vring-base:
   * @self: the back-end
   * @invocation: the request, to answer
   * @index: the queue
   * @base: the next available index (packed rings: with wrap counters)
   *
   * The front-end sets where a ring resumes. Default: record it.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::get-vring-base:
   * @self: the back-end
   * @invocation: the request, to answer
   * @index: the queue
   *
   * The front-end stops a ring and asks where it stands. Default: stop it (its state and fds
   * are kept) and reply with its base.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::set-vring-kick:
   * @self: the back-end
   * @invocation: the request, to answer
   * @index: the queue
   * @fd: the kick eventfd, or -1 to poll; valid during the emission
   *
   * The front-end passes a ring's kick eventfd. Default: keep it (closing any earlier one) and
   * start the ring.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::set-vring-call:
   * @self: the back-end
   * @invocation: the request, to answer
   * @index: the queue
   * @fd: the call eventfd, or -1; valid during the emission
   *
   * The front-end passes a ring's call eventfd. Default: keep it.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::set-vring-err:
   * @self: the back-end
   * @invocation: the request, to answer
   * @index: the queue
   * @fd: the error eventfd, or -1; valid during the emission
   *
   * The front-end passes a ring's error eventfd. Default: keep it.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::get-protocol-features:
   * @self: the back-end
   * @invocation: the request, to answer
   *
   * The front-end asks which protocol features the device offers. Default:
   * [property@VhostUser.Backend:protocol-features].
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::set-protocol-features:
   * @self: the back-end
   * @invocation: the request, to answer
   * @features: the protocol features the front-end wants
   *
   * The front-end chooses protocol features. Default: keep those offered, drop the rest.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::get-queue-num:
   * @self: the back-end
   * @invocation: the request, to answer
   *
   * The front-end asks how many queues there are. Default: [property@VhostUser.Backend:num-
   * queues].
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::set-vring-enable:
   * @self: the back-end
   * @invocation: the request, to answer
   * @index: the queue
   * @enable: whether to enable it
   *
   * The front-end enables or disables a ring. Default: record it.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::send-rarp:
   * @self: the back-end
   * @invocation: the request, to answer
   * @mac: the guest's MAC address in the first 6 bytes
   *
   * A net device should announce the guest's MAC address. Default: accept and do nothing.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::net-set-mtu:
   * @self: the back-end
   * @invocation: the request, to answer
   * @mtu: the MTU
   *
   * A net device is told its MTU. Default: accept.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::set-backend-req-fd:
   * @self: the back-end
   * @invocation: the request, to answer
   * @fd: the back-end channel's socket; valid during the emission
   *
   * The front-end sets up the back-end channel (the old "slave channel"). Default: open the
   * channel on it.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::iotlb-msg:
   * @self: the back-end
   * @invocation: the request, to answer
   * @iova: the I/O virtual address
   * @size: the range's size
   * @user_addr: the front-end address it maps to
   * @perm: the access allowed (1 read, 2 write, 3 both)
   * @type: 2 update, 3 invalidate
   *
   * The front-end updates the IOTLB. Default: refuse (no IOMMU support).
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::set-vring-endian:
   * @self: the back-end
   * @invocation: the request, to answer
   * @index: the queue
   * @big_endian: 1 for a big-endian legacy ring
   *
   * The front-end sets a legacy ring's endianness. Default: accept little-endian only.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::get-config:
   * @self: the back-end
   * @invocation: the request, to answer
   * @offset: where to start reading
   * @size: how many bytes
   * @flags: the request's flags
   *
   * The front-end reads the config space. Default: reply from
   * [property@VhostUser.Backend:config], refusing ranges outside it.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::set-config:
   * @self: the back-end
   * @invocation: the request, to answer
   * @offset: where to start writing
   * @flags: 0 for a driver write, 1 during migration
   * @data: the bytes
   *
   * The front-end writes the config space. Default: apply the write where
   * [property@VhostUser.Backend:config-writable-mask] allows it, refuse it otherwise.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::create-crypto-session:
   * @self: the back-end
   * @invocation: the request, to answer
   * @session: the session parameters as sent
   *
   * The front-end creates a crypto session. Default: refuse.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::close-crypto-session:
   * @self: the back-end
   * @invocation: the request, to answer
   * @session_id: the session
   *
   * The front-end closes a crypto session. Default: refuse.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::postcopy-advise:
   * @self: the back-end
   * @invocation: the request, to answer
   *
   * Postcopy migration is coming. Default: refuse.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::postcopy-listen:
   * @self: the back-end
   * @invocation: the request, to answer
   *
   * Postcopy migration starts. Default: refuse.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::postcopy-end:
   * @self: the back-end
   * @invocation: the request, to answer
   *
   * Postcopy migration ended. Default: refuse.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::get-inflight-fd:
   * @self: the back-end
   * @invocation: the request, to answer
   * @num_queues: how many queues to track
   * @queue_size: their size
   *
   * The front-end asks for an area to track in-flight descriptors in. Default: allocate a
   * zeroed memfd and return it.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::set-inflight-fd:
   * @self: the back-end
   * @invocation: the request, to answer
   * @mmap_size: the area's size
   * @mmap_offset: where it starts in @fd
   * @num_queues: how many queues it tracks
   * @queue_size: their size
   * @fd: the area, valid during the emission
   *
   * The front-end hands back the in-flight area after a reconnect. Default: map it.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::gpu-set-socket:
   * @self: the back-end
   * @invocation: the request, to answer
   * @fd: the vhost-user-gpu socket, valid during the emission
   *
   * A vhost-user-gpu front-end passes its socket. Default: refuse.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::reset-device:
   * @self: the back-end
   * @invocation: the request, to answer
   *
   * The front-end resets the device. Default: every ring back to its initial state, status 0;
   * ownership and the protocol session stay.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::vring-kick:
   * @self: the back-end
   * @invocation: the request, to answer
   * @index: the queue
   *
   * An in-band kick. Default: start the ring.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::get-max-mem-slots:
   * @self: the back-end
   * @invocation: the request, to answer
   *
   * The front-end asks how many memory regions may be mapped. Default:
   * [property@VhostUser.Backend:max-mem-slots].
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::add-mem-reg:
   * @self: the back-end
   * @invocation: the request, to answer
   * @region: the new region, already mapped
   *
   * The front-end adds a memory region. Default: add it to the table, refusing overlaps and
   * slots beyond the maximum.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::rem-mem-reg:
   * @self: the back-end
   * @invocation: the request, to answer
   * @guest_phys_addr: the region's guest-physical address
   * @size: its size
   * @user_addr: its front-end address
   *
   * The front-end removes a memory region. Default: remove the matching region, refuse if none
   * matches.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::set-status:
   * @self: the back-end
   * @invocation: the request, to answer
   * @status: the virtio device status
   *
   * The front-end sets the device status. Default: record it in
   * [property@VhostUser.Backend:status].
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::get-status:
   * @self: the back-end
   * @invocation: the request, to answer
   *
   * The front-end reads the device status. Default: [property@VhostUser.Backend:status].
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::get-shared-object:
   * @self: the back-end
   * @invocation: the request, to answer
   * @uuid: the object's UUID
   *
   * The front-end looks up a shared object. Default: not found.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::set-device-state-fd:
   * @self: the back-end
   * @invocation: the request, to answer
   * @direction: 0 save, 1 load
   * @phase: 0 stopped
   * @fd: the pipe end, valid during the emission
   *
   * The front-end starts a device-state transfer. Default: refuse.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::check-device-state:
   * @self: the back-end
   * @invocation: the request, to answer
   *
   * The front-end asks whether the state transfer succeeded. Default: refuse.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /**
   * VhostUserBackend::get-shmem-config:
   * @self: the back-end
   * @invocation: the request, to answer
   *
   * The front-end asks for the device's shared memory regions. Default: none.
   *
   * Returns: %TRUE if the handler answers @invocation (now or later)
   */
  /* One signal per request, from the tables. */
  for (guint number = 1; number < G_N_ELEMENTS (signal_rows); number++)
    {
      GType types[8];
      guint n;

      types[0] = invocation_type;
      n = 1 + shape_param_types (signal_rows[number].shape, types + 1);
      signals[number] =
        g_signal_newv (request_nick (number),
                       G_TYPE_FROM_CLASS (klass),
                       G_SIGNAL_RUN_LAST,
                       g_signal_type_cclosure_new (G_TYPE_FROM_CLASS (klass), signal_rows[number].class_offset),
                       g_signal_accumulator_true_handled, NULL,
                       NULL,
                       G_TYPE_BOOLEAN, n, types);
    }

  /**
   * VhostUserBackend::disconnected:
   * @self: the back-end
   * @error: why the connection ended
   * @should_reconnect: what vhost_user_error_should_reconnect() says of @error
   *
   * The connection ended: the front-end hung up, sent something the
   * connection cannot go on from, or [method@VhostUser.Backend.close]
   * was called. Every mapping and fd of the session is already released.
   */
  signals[SIGNAL_DISCONNECTED] =
    g_signal_new ("disconnected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  G_STRUCT_OFFSET (VhostUserBackendClass, disconnected),
                  NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_ERROR, G_TYPE_BOOLEAN);
}

static void
vhost_user_backend_init (VhostUserBackend *self)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  /* defaults here, not as construct properties, so that a subclass's
   * init can change the offer and keep it */
  priv->vrings = g_ptr_array_new_with_free_func (g_object_unref);
  g_queue_init (&priv->channel_pending);
  priv->memory_table = vhost_user_memory_table_new_empty ();
  priv->log_fd = -1;
  priv->features = DEFAULT_FEATURES;
  priv->protocol_features = DEFAULT_PROTOCOL_FEATURES;
  priv->num_queues = 1;
  priv->max_queue_size = 1024;
  priv->max_mem_slots = DEFAULT_MEM_SLOTS;
  rebuild_vrings (self);
}

/**
 * vhost_user_backend_new:
 *
 * A back-end with the default offer (see the properties), in the
 * thread-default main context.
 *
 * Returns: (transfer full): a new back-end
 */
VhostUserBackend *
vhost_user_backend_new (void)
{
  return g_object_new (VHOST_USER_TYPE_BACKEND, NULL);
}

/**
 * vhost_user_backend_serve:
 * @self: a back-end
 * @socket: a connected UNIX stream socket to a front-end
 * @error: return location for a #GError
 *
 * Starts answering the front-end on @socket, from the next iteration of
 * the back-end's main context on.
 *
 * Returns: %TRUE on success, %FALSE if already connected
 */
gboolean
vhost_user_backend_serve (VhostUserBackend  *self,
                          GSocket           *socket,
                          GError           **error)
{
  VhostUserBackendPrivate *priv;

  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), FALSE);
  g_return_val_if_fail (G_IS_SOCKET (socket), FALSE);

  priv = priv_of (self);
  if (priv->connection != NULL)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                   "The back-end is already connected");
      return FALSE;
    }

  priv->connection = vhost_user_connection_new (socket, VHOST_USER_CHANNEL_MAIN, FALSE, priv->context);
  vhost_user_connection_set_handlers (priv->connection, on_message, on_closed, self);
  vhost_user_connection_start (priv->connection);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTED]);
  return TRUE;
}

/**
 * vhost_user_backend_connect_to_path:
 * @self: a back-end
 * @path: the socket a front-end listens on
 * @timeout_ms: how long to wait for it to appear; 0 for one attempt
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Connects to a front-end that listens (QEMU's `-chardev
 * socket,server=on`), then serves it as vhost_user_backend_serve() does.
 * Blocks while connecting. (Not `connect`: bindings would hide
 * `GObject.connect` behind it.)
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_backend_connect_to_path (VhostUserBackend  *self,
                                    const char        *path,
                                    guint              timeout_ms,
                                    GCancellable      *cancellable,
                                    GError           **error)
{
  g_autoptr(GSocket) socket = NULL;

  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  socket = vhost_user_socket_connect (path, timeout_ms, cancellable, error);
  if (socket == NULL)
    return FALSE;
  return vhost_user_backend_serve (self, socket, error);
}

/**
 * vhost_user_backend_close:
 * @self: a back-end
 *
 * Closes the connection; [signal@VhostUser.Backend::disconnected] is
 * emitted. (Not `disconnect`, which bindings use for signal handlers.)
 */
void
vhost_user_backend_close (VhostUserBackend *self)
{
  VhostUserBackendPrivate *priv;

  g_return_if_fail (VHOST_USER_IS_BACKEND (self));

  priv = priv_of (self);
  if (priv->connection != NULL)
    {
      g_autoptr(GError) error = g_error_new_literal (VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_BROKEN,
                                                     "Disconnected by the back-end");

      vhost_user_connection_close (priv->connection, error);
    }
}

/**
 * vhost_user_backend_get_connected:
 * @self: a back-end
 *
 * Gets whether a front-end is connected.
 *
 * Returns: whether a front-end is connected
 */
gboolean
vhost_user_backend_get_connected (VhostUserBackend *self)
{
  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), FALSE);
  return priv_of (self)->connection != NULL;
}

/**
 * vhost_user_backend_get_main_context:
 * @self: a back-end
 *
 * Gets the context the back-end runs in.
 *
 * Returns: (transfer none): the context the back-end runs in
 */
GMainContext *
vhost_user_backend_get_main_context (VhostUserBackend *self)
{
  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), NULL);
  return priv_of (self)->context;
}

#define OFFER_ACCESSORS(type, name, prop)                                        \
  type                                                                           \
  vhost_user_backend_get_##name (VhostUserBackend *self)                         \
  {                                                                              \
    g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), 0);                      \
    return priv_of (self)->name;                                                 \
  }

/**
 * vhost_user_backend_get_features:
 * @self: a back-end
 *
 * Gets the virtio features offered.
 *
 * Returns: the virtio features offered
 */
OFFER_ACCESSORS (guint64, features, PROP_FEATURES)

/**
 * vhost_user_backend_get_protocol_features:
 * @self: a back-end
 *
 * Gets the protocol features offered.
 *
 * Returns: the protocol features offered
 */
OFFER_ACCESSORS (guint64, protocol_features, PROP_PROTOCOL_FEATURES)

/**
 * vhost_user_backend_get_num_queues:
 * @self: a back-end
 *
 * Gets the number of queues.
 *
 * Returns: the number of queues
 */
OFFER_ACCESSORS (guint, num_queues, PROP_NUM_QUEUES)

/**
 * vhost_user_backend_get_max_queue_size:
 * @self: a back-end
 *
 * Gets the largest ring size accepted.
 *
 * Returns: the largest ring size accepted
 */
OFFER_ACCESSORS (guint, max_queue_size, PROP_MAX_QUEUE_SIZE)

/**
 * vhost_user_backend_get_max_mem_slots:
 * @self: a back-end
 *
 * Gets how many memory regions may be mapped.
 *
 * Returns: how many memory regions may be mapped
 */
OFFER_ACCESSORS (guint, max_mem_slots, PROP_MAX_MEM_SLOTS)

/**
 * vhost_user_backend_get_acked_features:
 * @self: a back-end
 *
 * Gets the virtio features the front-end acknowledged.
 *
 * Returns: the virtio features the front-end acknowledged
 */
OFFER_ACCESSORS (guint64, acked_features, PROP_ACKED_FEATURES)

/**
 * vhost_user_backend_get_acked_protocol_features:
 * @self: a back-end
 *
 * Gets the protocol features in use.
 *
 * Returns: the protocol features in use
 */
OFFER_ACCESSORS (guint64, acked_protocol_features, PROP_ACKED_PROTOCOL_FEATURES)

/**
 * vhost_user_backend_get_owner:
 * @self: a back-end
 *
 * Gets whether a front-end took ownership.
 *
 * Returns: whether a front-end took ownership
 */
OFFER_ACCESSORS (gboolean, owner, PROP_OWNER)

/**
 * vhost_user_backend_get_status:
 * @self: a back-end
 *
 * Gets the virtio device status.
 *
 * Returns: the virtio device status
 */
OFFER_ACCESSORS (guint64, status, PROP_STATUS)

#undef OFFER_ACCESSORS

#define OFFER_SETTER(type, name, prop, check)                                    \
  void                                                                           \
  vhost_user_backend_set_##name (VhostUserBackend *self,                         \
                                 type              value)                        \
  {                                                                              \
    VhostUserBackendPrivate *priv;                                               \
                                                                                 \
    g_return_if_fail (VHOST_USER_IS_BACKEND (self));                             \
    g_return_if_fail (check);                                                    \
    priv = priv_of (self);                                                       \
    if (priv->name == value)                                                     \
      return;                                                                    \
    priv->name = value;                                                          \
    g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);                \
  }

/**
 * vhost_user_backend_set_features:
 * @self: a back-end
 * @features: the virtio features to offer
 *
 * Sets [property@VhostUser.Backend:features].
 */
OFFER_SETTER (guint64, features, PROP_FEATURES, TRUE)

/**
 * vhost_user_backend_set_protocol_features:
 * @self: a back-end
 * @features: the protocol features to offer
 *
 * Sets [property@VhostUser.Backend:protocol-features].
 */
OFFER_SETTER (guint64, protocol_features, PROP_PROTOCOL_FEATURES, TRUE)

/**
 * vhost_user_backend_set_max_queue_size:
 * @self: a back-end
 * @max_queue_size: the largest ring size to accept, at most 32768
 *
 * Sets [property@VhostUser.Backend:max-queue-size].
 */
OFFER_SETTER (guint, max_queue_size, PROP_MAX_QUEUE_SIZE, value > 0 && value <= MAX_QUEUE_SIZE)

/**
 * vhost_user_backend_set_max_mem_slots:
 * @self: a back-end
 * @max_mem_slots: how many memory regions may be mapped
 *
 * Sets [property@VhostUser.Backend:max-mem-slots].
 */
OFFER_SETTER (guint, max_mem_slots, PROP_MAX_MEM_SLOTS, value > 0)

#undef OFFER_SETTER

/**
 * vhost_user_backend_set_num_queues:
 * @self: a back-end
 * @num_queues: the number of queues, 1 to 256
 *
 * Sets [property@VhostUser.Backend:num-queues]; only while no front-end
 * is connected.
 */
void
vhost_user_backend_set_num_queues (VhostUserBackend *self,
                                   guint             num_queues)
{
  VhostUserBackendPrivate *priv;

  g_return_if_fail (VHOST_USER_IS_BACKEND (self));
  g_return_if_fail (num_queues > 0 && num_queues <= MAX_QUEUES);

  priv = priv_of (self);
  g_return_if_fail (priv->connection == NULL);
  if (priv->num_queues == num_queues)
    return;
  priv->num_queues = num_queues;
  rebuild_vrings (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NUM_QUEUES]);
}

/* Replaces a GBytes property's value, notifying when it changed. */
static void
set_bytes_property (VhostUserBackend  *self,
                    GBytes           **field,
                    GBytes            *value,
                    guint              prop)
{
  if (*field == value)
    return;
  g_clear_pointer (field, g_bytes_unref);
  *field = value != NULL ? g_bytes_ref (value) : NULL;
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

/**
 * vhost_user_backend_get_config:
 * @self: a back-end
 *
 * Gets the config space.
 *
 * Returns: (transfer none) (nullable): the config space
 */
GBytes *
vhost_user_backend_get_config (VhostUserBackend *self)
{
  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), NULL);
  return priv_of (self)->config;
}

/**
 * vhost_user_backend_set_config:
 * @self: a back-end
 * @config: (nullable): the config space
 *
 * Sets [property@VhostUser.Backend:config]. A device whose config changes
 * while a front-end is connected should also tell it (the back-end
 * channel's `CONFIG_CHANGE_MSG`).
 */
void
vhost_user_backend_set_config (VhostUserBackend *self,
                               GBytes           *config)
{
  g_return_if_fail (VHOST_USER_IS_BACKEND (self));

  set_bytes_property (self, &priv_of (self)->config, config, PROP_CONFIG);
}

/**
 * vhost_user_backend_get_config_writable_mask:
 * @self: a back-end
 *
 * Gets the writable mask of the config space.
 *
 * Returns: (transfer none) (nullable): the writable mask of the config space
 */
GBytes *
vhost_user_backend_get_config_writable_mask (VhostUserBackend *self)
{
  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), NULL);
  return priv_of (self)->config_writable_mask;
}

/**
 * vhost_user_backend_set_config_writable_mask:
 * @self: a back-end
 * @mask: (nullable): which config bits `SET_CONFIG` may change
 *
 * Sets [property@VhostUser.Backend:config-writable-mask].
 */
void
vhost_user_backend_set_config_writable_mask (VhostUserBackend *self,
                                             GBytes           *mask)
{
  g_return_if_fail (VHOST_USER_IS_BACKEND (self));

  set_bytes_property (self, &priv_of (self)->config_writable_mask, mask, PROP_CONFIG_WRITABLE_MASK);
}

/**
 * vhost_user_backend_get_memory_table:
 * @self: a back-end
 *
 * Gets the guest memory currently mapped (possibly.
 *
 * Returns: (transfer none): the guest memory currently mapped (possibly
 *   no regions)
 */
VhostUserMemoryTable *
vhost_user_backend_get_memory_table (VhostUserBackend *self)
{
  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), NULL);
  return priv_of (self)->memory_table;
}

/**
 * vhost_user_backend_get_vring:
 * @self: a back-end
 * @index: a queue index, below [property@VhostUser.Backend:num-queues]
 *
 * Gets the queue's ring.
 *
 * Returns: (transfer none): the queue's ring
 */
VhostUserVring *
vhost_user_backend_get_vring (VhostUserBackend *self,
                              guint             index)
{
  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), NULL);
  g_return_val_if_fail (index < priv_of (self)->vrings->len, NULL);
  return vring_at (self, index);
}

/* --- the back-end channel: requests to the front-end --- */

/**
 * vhost_user_backend_send_backend_request_async:
 * @self: a back-end
 * @request: what to ask the front-end
 * @payload: (nullable): the request's payload, laid out as the
 *   specification says (checked against the request's layout)
 * @fd: a file descriptor to pass with it, or -1; the back-end takes it
 * @cancellable: (nullable): a #GCancellable, checked before sending
 * @callback: called when the front-end answered (or will not)
 * @user_data: data for @callback
 *
 * Sends a request on the back-end channel (the old "slave channel") set
 * up by `SET_BACKEND_REQ_FD`. When `REPLY_ACK` was negotiated the request
 * asks for an acknowledgement and completes when it arrives; otherwise it
 * completes once sent. Requests go out in call order and their replies
 * are matched in that order. Call it from the back-end's main context.
 *
 * The request needs `BACKEND_REQ` and its own gating feature negotiated,
 * and an fd needs `BACKEND_SEND_FD`: otherwise it fails with
 * %VHOST_USER_ERROR_INVALID_OPERATION before anything is sent.
 */
void
vhost_user_backend_send_backend_request_async (VhostUserBackend            *self,
                                               VhostUserBackendRequestType  request,
                                               GBytes                      *payload,
                                               int                          fd,
                                               GCancellable                *cancellable,
                                               GAsyncReadyCallback          callback,
                                               gpointer                     user_data)
{
  VhostUserBackendPrivate *priv;
  const VhostUserRequestInfo *info;
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  gboolean reply_ack, expects_reply;
  VhostUserReplyKind reply_kind;
  gsize size = payload != NULL ? g_bytes_get_size (payload) : 0;

  g_return_if_fail (VHOST_USER_IS_BACKEND (self));

  priv = priv_of (self);
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, vhost_user_backend_send_backend_request_async);
  g_task_set_task_data (task, GUINT_TO_POINTER (request), NULL);

  info = vhost_user_request_info_lookup (VHOST_USER_CHANNEL_BACKEND, request);
  if (info == NULL)
    g_set_error (&error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                 "%u is not a back-end channel request", request);
  else if (priv->backend_channel == NULL)
    g_set_error (&error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                 "%s: the front-end set up no back-end channel", info->name);
  else if ((info->gate_protocol & priv->acked_protocol_features) != info->gate_protocol ||
           (info->gate_virtio & priv->acked_features) != info->gate_virtio)
    g_set_error (&error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                 "%s needs a feature that was not negotiated", info->name);
  else if (fd >= 0 && !(priv->acked_protocol_features & VHOST_USER_PROTOCOL_FEATURE_BACKEND_SEND_FD))
    g_set_error (&error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                 "%s: passing fds needs BACKEND_SEND_FD", info->name);
  else if (size > VHOST_USER_MAX_PAYLOAD)
    g_set_error (&error, VHOST_USER_ERROR, VHOST_USER_ERROR_OVERSIZED_MESSAGE,
                 "%s: a %" G_GSIZE_FORMAT "-byte payload is too large", info->name, size);
  else
    g_cancellable_set_error_if_cancelled (cancellable, &error);

  if (error != NULL)
    {
      if (fd >= 0)
        g_close (fd, NULL);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  reply_ack = (priv->acked_protocol_features & VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK) != 0;
  reply_kind = vhost_user_request_info_get_reply (info, priv->acked_protocol_features);
  expects_reply = reply_kind == VHOST_USER_REPLY_ALWAYS || (reply_kind == VHOST_USER_REPLY_ACK && reply_ack);
  vhost_user_message_init (&msg, request, reply_ack && reply_kind == VHOST_USER_REPLY_ACK ?
                                          VHOST_USER_FLAG_NEED_REPLY : 0);
  if (size > 0)
    vhost_user_message_set_payload (&msg, g_bytes_get_data (payload, NULL), size);
  if (fd >= 0)
    vhost_user_message_add_fd (&msg, fd);

  if (!vhost_user_message_validate (&msg, VHOST_USER_CHANNEL_BACKEND, priv->acked_protocol_features, &error) ||
      !vhost_user_connection_send (priv->backend_channel, &msg, &error))
    {
      vhost_user_message_clear (&msg);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (expects_reply)
    {
      g_queue_push_tail (&priv->channel_pending, g_steal_pointer (&task));
      if (priv->channel_timeout == NULL)
        restart_channel_timeout (self);
    }
  else
    {
      ChannelResult *result = g_new0 (ChannelResult, 1);

      result->fd = -1;
      g_task_return_pointer (task, result, channel_result_free);
    }
}

/**
 * vhost_user_backend_send_backend_request_finish:
 * @self: a back-end
 * @result: the result passed to the callback
 * @fd: (out) (optional): an fd the front-end passed back (for
 *   `SHARED_OBJECT_LOOKUP`), or -1; the caller owns it
 * @error: return location for a #GError
 *
 * Finishes vhost_user_backend_send_backend_request_async(). A non-zero
 * acknowledgement is an error (%VHOST_USER_ERROR_FAILED); the reply of
 * `SHARED_OBJECT_LOOKUP` comes back as the return value.
 *
 * Returns: the reply's u64 (0 for an acknowledgement or no reply), or
 *   %G_MAXUINT64 with @error set
 */
guint64
vhost_user_backend_send_backend_request_finish (VhostUserBackend  *self,
                                                GAsyncResult      *result,
                                                int               *fd,
                                                GError           **error)
{
  ChannelResult *channel_result;
  VhostUserBackendRequestType request;
  const VhostUserRequestInfo *info;
  guint64 value;

  g_return_val_if_fail (g_task_is_valid (result, self), G_MAXUINT64);

  if (fd != NULL)
    *fd = -1;
  request = GPOINTER_TO_UINT (g_task_get_task_data (G_TASK (result)));
  channel_result = g_task_propagate_pointer (G_TASK (result), error);
  if (channel_result == NULL)
    return G_MAXUINT64;

  info = vhost_user_request_info_lookup (VHOST_USER_CHANNEL_BACKEND, request);
  value = channel_result->value;
  if (info->reply == VHOST_USER_REPLY_ACK && value != 0)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED,
                   "The front-end refused %s (status %" G_GUINT64_FORMAT ")", info->name, value);
      channel_result_free (channel_result);
      return G_MAXUINT64;
    }
  if (fd != NULL)
    {
      *fd = channel_result->fd;
      channel_result->fd = -1;
    }
  channel_result_free (channel_result);
  return value;
}

static void
sync_done (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

/* Its dispatch is all it is for: the loop that waits looks again. */
static gboolean
woken (GCancellable *cancellable,
       gpointer      user_data)
{
  return G_SOURCE_REMOVE;
}

/**
 * vhost_user_backend_send_backend_request:
 * @self: a back-end
 * @request: what to ask the front-end
 * @payload: (nullable): the request's payload
 * @fd: a file descriptor to pass with it, or -1; the back-end takes it
 * @cancellable: (nullable): a #GCancellable, checked before sending
 * @out_fd: (out) (optional): an fd the front-end passed back, or -1
 * @error: return location for a #GError
 *
 * The blocking form of vhost_user_backend_send_backend_request_async(),
 * for the thread that runs the back-end's context: it runs the context
 * until the answer is in, without reading further front-end requests
 * meanwhile. A front-end that does not answer within 30 seconds, or a
 * cancellation while waiting, closes the back-end channel (later replies
 * could not be matched).
 *
 * Returns: the reply's u64, or %G_MAXUINT64 with @error set
 */
guint64
vhost_user_backend_send_backend_request (VhostUserBackend            *self,
                                         VhostUserBackendRequestType  request,
                                         GBytes                      *payload,
                                         int                          fd,
                                         GCancellable                *cancellable,
                                         int                         *out_fd,
                                         GError                     **error)
{
  VhostUserBackendPrivate *priv;
  g_autoptr(GAsyncResult) result = NULL;
  GSource *wake = NULL;
  gboolean paused = FALSE;

  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), G_MAXUINT64);

  priv = priv_of (self);
  if (!g_main_context_acquire (priv->context))
    {
      if (fd >= 0)
        g_close (fd, NULL);
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                   "Blocking back-end requests must come from the back-end's own context");
      return G_MAXUINT64;
    }

  g_main_context_push_thread_default (priv->context);
  if (priv->connection != NULL)
    {
      vhost_user_connection_set_receiving (priv->connection, FALSE);
      paused = TRUE;
    }
  vhost_user_backend_send_backend_request_async (self, request, payload, fd, cancellable, sync_done, &result);
  if (cancellable != NULL)
    {
      /* wakes the loop below when cancelled from another thread */
      wake = g_cancellable_source_new (cancellable);
      g_source_set_callback (wake, (GSourceFunc) (void (*) (void)) woken, NULL, NULL);
      g_source_attach (wake, priv->context);
    }
  while (result == NULL)
    {
      /* a reply cannot be unasked: giving up means giving up the channel */
      if (g_cancellable_is_cancelled (cancellable) && priv->backend_channel != NULL)
        {
          g_autoptr(GError) cancelled = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                             "Operation was cancelled");

          close_backend_channel (self, cancelled);
        }
      g_main_context_iteration (priv->context, TRUE);
    }
  if (wake != NULL)
    {
      g_source_destroy (wake);
      g_source_unref (wake);
    }
  if (paused && priv->connection != NULL && priv->pending == NULL)
    vhost_user_connection_set_receiving (priv->connection, TRUE);
  g_main_context_pop_thread_default (priv->context);
  g_main_context_release (priv->context);

  return vhost_user_backend_send_backend_request_finish (self, result, out_fd, error);
}

/**
 * vhost_user_backend_notify_config_change_async:
 * @self: a back-end
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when the front-end acknowledged
 * @user_data: data for @callback
 *
 * Tells the front-end the config space changed (`CONFIG_CHANGE_MSG`); it
 * reads it again with `GET_CONFIG`. Update
 * [property@VhostUser.Backend:config] first.
 */
void
vhost_user_backend_notify_config_change_async (VhostUserBackend    *self,
                                               GCancellable        *cancellable,
                                               GAsyncReadyCallback  callback,
                                               gpointer             user_data)
{
  vhost_user_backend_send_backend_request_async (self, VHOST_USER_BACKEND_REQUEST_CONFIG_CHANGE_MSG,
                                                 NULL, -1, cancellable, callback, user_data);
}

/**
 * vhost_user_backend_notify_config_change_finish:
 * @self: a back-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_backend_notify_config_change_async().
 *
 * Returns: %TRUE if the front-end was told (and acknowledged, with
 *   `REPLY_ACK`)
 */
gboolean
vhost_user_backend_notify_config_change_finish (VhostUserBackend  *self,
                                                GAsyncResult      *result,
                                                GError           **error)
{
  return vhost_user_backend_send_backend_request_finish (self, result, NULL, error) != G_MAXUINT64;
}

/**
 * vhost_user_backend_notify_config_change:
 * @self: a back-end
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of vhost_user_backend_notify_config_change_async().
 *
 * Returns: %TRUE if the front-end was told
 */
gboolean
vhost_user_backend_notify_config_change (VhostUserBackend  *self,
                                         GCancellable      *cancellable,
                                         GError           **error)
{
  return vhost_user_backend_send_backend_request (self, VHOST_USER_BACKEND_REQUEST_CONFIG_CHANGE_MSG,
                                                  NULL, -1, cancellable, NULL, error) != G_MAXUINT64;
}
