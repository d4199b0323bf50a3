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

#include "vhost-user-backend-private.h"
#include "vhost-user-server-private.h"
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
 * ([method@VhostUser.Backend.take_socket], or [method@VhostUser.Backend.connect_to_path]
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
 * An fd a request carries (a ring's eventfd, the log, the in-flight
 * area, …) is borrowed by the signal's handlers for the emission: the
 * default handler takes what it keeps, and a handler that keeps one
 * beyond the emission (one that answers later included) dup()s it, as
 * the front-end's handlers do with the back-end's fds.
 *
 * A back-end and its rings are used from the back-end's main context:
 * the memory table and ring fds may be replaced by the next request, so
 * another thread must not hold on to them (take a reference to the
 * memory table in the context if it must).
 *
 * Since: 1.0
 */

/* The ring features are offered because VhostUserVring implements them;
 * and because QEMU 7.2's vhost-user-rng (and other generic vhost-user
 * devices) ack them whether offered or not. LOG_ALL because the rings log
 * every write a device makes through them (the used ring, and each
 * pushed element's device-writable buffers up to the length pushed):
 * without it QEMU refuses to migrate the guest. ACCESS_PLATFORM because
 * the rings translate through the IOTLB: QEMU refuses iommu_platform=on
 * for a device that does not offer it. */
#define DEFAULT_FEATURES (VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_VERSION_1) | \
                          VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_LOG_ALL) | \
                          VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_PROTOCOL_FEATURES) | \
                          VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_INDIRECT_DESC) | \
                          VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_EVENT_IDX) | \
                          VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_RING_PACKED) | \
                          VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_ACCESS_PLATFORM))
#define DEFAULT_PROTOCOL_FEATURES (VHOST_USER_PROTOCOL_FEATURE_MQ | \
                                   VHOST_USER_PROTOCOL_FEATURE_LOG_SHMFD | \
                                   VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK | \
                                   VHOST_USER_PROTOCOL_FEATURE_BACKEND_REQ | \
                                   VHOST_USER_PROTOCOL_FEATURE_CONFIG | \
                                   VHOST_USER_PROTOCOL_FEATURE_BACKEND_SEND_FD | \
                                   VHOST_USER_PROTOCOL_FEATURE_INFLIGHT_SHMFD | \
                                   VHOST_USER_PROTOCOL_FEATURE_RESET_DEVICE | \
                                   VHOST_USER_PROTOCOL_FEATURE_CONFIGURE_MEM_SLOTS | \
                                   VHOST_USER_PROTOCOL_FEATURE_STATUS | \
                                   VHOST_USER_PROTOCOL_FEATURE_GET_VRING_BASE_INFLIGHT | \
                                   VHOST_USER_PROTOCOL_FEATURE_GET_VRING_BASE_SKIP_DRAIN)
#define MAX_QUEUES          256   /* the ring index field is 8 bits wide */
#define MAX_QUEUE_SIZE      32768
#define DEFAULT_MEM_SLOTS   509

G_DEFINE_TYPE_WITH_PRIVATE (VhostUserBackend, vhost_user_backend, G_TYPE_OBJECT)

GParamSpec *vhost_user_backend_pspecs[N_PROPS];
gint vhost_user_backend_private_offset;

enum {
  SIGNAL_DISCONNECTED = VHOST_USER_LAST_REQUEST + 1,
  N_SIGNALS
};

/* indexed by request number, then the back-end's own signals */
static guint signals[N_SIGNALS];

static void backend_release (VhostUserBackend *self);

/* What the responder checks each request against. */
static void
get_responder_state (GObject                 *owner,
                     VhostUserResponderState *state)
{
  VhostUserBackendPrivate *priv = priv_of (VHOST_USER_BACKEND (owner));

  state->protocol_features = priv->acked_protocol_features;
  state->features_offered = priv->features;
  state->features_acked = priv->acked_features;
  state->limits.num_queues = priv->num_queues;
  state->limits.max_queue_size = priv->max_queue_size;
  state->limits.max_mem_slots = priv->max_mem_slots;
  state->limits.packed = (priv->acked_features &
                          VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_RING_PACKED)) != 0;
}

static void
on_message (VhostUserConnection *connection,
            VhostUserMessage    *msg,
            const GError        *error,
            gpointer             user_data)
{
  vhost_user_responder_dispatch (priv_of (user_data)->responder, msg, error);
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

  vhost_user_responder_set_connection (priv->responder, NULL);

  g_object_freeze_notify (G_OBJECT (self));

  if (priv->connection != NULL)
    {
      vhost_user_connection_set_handlers (priv->connection, NULL, NULL, NULL);
      vhost_user_connection_close (priv->connection, NULL);
      g_clear_object (&priv->connection);
    }
  vhost_user_backend_close_channel (self, NULL);
  vhost_user_backend_end_state_transfer (self);
  vhost_user_backend_postcopy_release (self);

  for (guint i = 0; i < priv->vrings->len; i++)
    vhost_user_vring_reset (vring_at (self, i));

  if (priv->memory_table != NULL && vhost_user_memory_table_get_n_regions (priv->memory_table) > 0)
    {
      g_autoptr(VhostUserMemoryTable) empty = vhost_user_memory_table_new_empty ();

      vhost_user_backend_set_memory_table (self, empty);
    }
  vhost_user_backend_unmap_inflight (self);
  if (priv->log_fd >= 0)
    {
      int old = priv->log_fd;

      priv->log_fd = -1;
      vhost_user_backend_update_logging (self);
      g_close (old, NULL);
    }
  vhost_user_backend_unmap_log (self);

  if (priv->owner)
    {
      priv->owner = FALSE;
      g_object_notify_by_pspec (G_OBJECT (self), vhost_user_backend_pspecs[PROP_OWNER]);
    }
  if (priv->acked_features != 0)
    {
      priv->acked_features = 0;
      g_object_notify_by_pspec (G_OBJECT (self), vhost_user_backend_pspecs[PROP_ACKED_FEATURES]);
    }
  vhost_user_backend_update_iotlb (self);
  if (priv->acked_protocol_features != 0)
    {
      priv->acked_protocol_features = 0;
      g_object_notify_by_pspec (G_OBJECT (self), vhost_user_backend_pspecs[PROP_ACKED_PROTOCOL_FEATURES]);
    }
  vhost_user_backend_update_status (self, 0);
  if (was_connected)
    g_object_notify_by_pspec (G_OBJECT (self), vhost_user_backend_pspecs[PROP_CONNECTED]);

  g_object_thaw_notify (G_OBJECT (self));
}

static void
drop_vrings (VhostUserBackend *self)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  /* a ring a device thread still holds must not call back into us */
  for (guint i = 0; i < priv->vrings->len; i++)
    {
      vhost_user_vring_set_broken_func (vring_at (self, i), NULL, NULL);
      vhost_user_vring_set_call_func (vring_at (self, i), NULL, NULL);
      vhost_user_vring_set_miss_func (vring_at (self, i), NULL, NULL);
      g_object_set_data (G_OBJECT (vring_at (self, i)), "vhost-user-backend-misses", NULL);
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
      vhost_user_vring_set_broken_func (vring, vhost_user_backend_ring_broken, self);
      vhost_user_backend_watch_misses (self, vring);
      vhost_user_vring_set_iotlb (vring, priv->iotlb);
      g_ptr_array_add (priv->vrings, vring);
    }
  vhost_user_backend_update_logging (self);
  vhost_user_backend_update_inflight (self);
  vhost_user_backend_update_inband (self);
}

/* Nothing to do, but a subclass that chains up needs something to reach. */
static void
vhost_user_backend_real_disconnected (VhostUserBackend *self,
                                      const GError     *error,
                                      gboolean          should_reconnect)
{
}

/* The rings are built once the main context is known: a ring watches its
 * kicks in the back-end's context unless it is given one of its own. */
static void
vhost_user_backend_constructed (GObject *object)
{
  VhostUserBackend *self = VHOST_USER_BACKEND (object);
  VhostUserBackendPrivate *priv = priv_of (self);

  G_OBJECT_CLASS (vhost_user_backend_parent_class)->constructed (object);

  if (priv->context == NULL)
    priv->context = g_main_context_ref_thread_default ();
  priv->responder = vhost_user_responder_new (object, VHOST_USER_CHANNEL_MAIN, priv->context, signals,
                                              get_responder_state);
  priv->channel_requester = vhost_user_requester_new (VHOST_USER_CHANNEL_BACKEND, object, priv->context);
  vhost_user_requester_set_timeout (priv->channel_requester, priv->timeout_ms);
  rebuild_vrings (self);
}

static void
vhost_user_backend_dispose (GObject *object)
{
  VhostUserBackend *self = VHOST_USER_BACKEND (object);
  VhostUserBackendPrivate *priv = priv_of (self);

  backend_release (self);
  g_clear_pointer (&priv->memory_table, vhost_user_memory_table_unref);
  drop_vrings (self);
  if (priv->responder != NULL)
    vhost_user_responder_detach (priv->responder);
  g_clear_object (&priv->channel_requester);

  G_OBJECT_CLASS (vhost_user_backend_parent_class)->dispose (object);
}

static void
vhost_user_backend_finalize (GObject *object)
{
  VhostUserBackendPrivate *priv = priv_of (VHOST_USER_BACKEND (object));

  g_clear_pointer (&priv->config, g_bytes_unref);
  g_clear_pointer (&priv->config_writable_mask, g_bytes_unref);
  g_clear_pointer (&priv->vrings, g_ptr_array_unref);
  g_clear_pointer (&priv->responder, vhost_user_responder_unref);
  g_clear_pointer (&priv->context, g_main_context_unref);
  g_clear_pointer (&priv->inband_pending, g_hash_table_unref);
  g_mutex_clear (&priv->inband_lock);
  vhost_user_backend_finalize_shared (VHOST_USER_BACKEND (object));

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
    case PROP_TIMEOUT:
      g_value_set_uint (value, priv->timeout_ms);
      break;
    case PROP_DRAIN_TIMEOUT:
      g_value_set_uint (value, priv->drain_timeout_ms);
      break;
    case PROP_POLL_WINDOW:
      g_value_set_uint (value, priv->poll_window_us);
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
    case PROP_TIMEOUT:
      vhost_user_backend_set_timeout (self, g_value_get_uint (value));
      break;
    case PROP_DRAIN_TIMEOUT:
      vhost_user_backend_set_drain_timeout (self, g_value_get_uint (value));
      break;
    case PROP_POLL_WINDOW:
      vhost_user_backend_set_poll_window (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
install_properties (GObjectClass *object_class)
{
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  /**
   * VhostUserBackend:main-context:
   *
   * The context the back-end's socket is watched in and its signals are
   * emitted in; the thread-default context at construction if unset.
   *
   * Since: 1.0
   */
  vhost_user_backend_pspecs[PROP_MAIN_CONTEXT] =
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
   * acks that bit), and `VHOST_F_LOG_ALL`: the rings log, for a live
   * migration, every write made through them (the used ring, and the
   * device-writable buffers of each element pushed, up to the length
   * pushed). And `VIRTIO_F_ACCESS_PLATFORM` (the device sits behind the
   * guest's IOMMU): acknowledged, it makes every address the driver gives
   * an I/O virtual address, which the rings translate through the IOTLB
   * the front-end keeps ([signal@VhostUser.Backend::iotlb-msg]), asking
   * it on the back-end channel for what they miss. A device adds its own
   * bits, removes the ring features if it walks the rings itself without
   * them, removes `VHOST_F_LOG_ALL` if it writes guest memory any other
   * way, unless it logs those writes with
   * vhost_user_backend_log_write(), and removes
   * `VIRTIO_F_ACCESS_PLATFORM` if it reads guest memory other than
   * through its rings, or takes `BACKEND_REQ` out of
   * [property@VhostUser.Backend:protocol-features].
   *
   * Since: 1.0
   */
  vhost_user_backend_pspecs[PROP_FEATURES] =
    g_param_spec_uint64 ("features", NULL, NULL, 0, G_MAXUINT64, DEFAULT_FEATURES, rw);
  /**
   * VhostUserBackend:protocol-features:
   *
   * The protocol features offered (`GET_PROTOCOL_FEATURES`), a mask of
   * #VhostUserProtocolFeatures: by default those the library implements
   * in full, except `PAGEFAULT` (postcopy migration). A device adds that
   * one itself, where the kernel lets the process use userfaultfd on
   * shared memory (root, or `vm.unprivileged_userfaultfd=1`), knowing
   * that postcopy trusts the front-end: it gets a userfaultfd over this
   * process's memory, and a front-end that never delivers a page stops
   * whatever thread touches it, for good.
   *
   * Since: 1.0
   */
  vhost_user_backend_pspecs[PROP_PROTOCOL_FEATURES] =
    g_param_spec_uint64 ("protocol-features", NULL, NULL, 0, G_MAXUINT64, DEFAULT_PROTOCOL_FEATURES,
                         rw);
  /**
   * VhostUserBackend:num-queues:
   *
   * How many queues the device has (`GET_QUEUE_NUM`); at most 256.
   *
   * Since: 1.0
   */
  vhost_user_backend_pspecs[PROP_NUM_QUEUES] =
    g_param_spec_uint ("num-queues", NULL, NULL, 1, MAX_QUEUES, 1, rw);
  /**
   * VhostUserBackend:max-queue-size:
   *
   * The largest ring size `SET_VRING_NUM` may set. The default is the
   * protocol's maximum, 32768 (crosvm sets every ring that large); a ring
   * costs memory by the size it is set to, never by this bound.
   *
   * Since: 1.0
   */
  vhost_user_backend_pspecs[PROP_MAX_QUEUE_SIZE] =
    g_param_spec_uint ("max-queue-size", NULL, NULL, 1, MAX_QUEUE_SIZE, MAX_QUEUE_SIZE, rw);
  /**
   * VhostUserBackend:max-mem-slots:
   *
   * How many memory regions may be mapped at once (`GET_MAX_MEM_SLOTS`).
   *
   * Since: 1.0
   */
  vhost_user_backend_pspecs[PROP_MAX_MEM_SLOTS] =
    g_param_spec_uint ("max-mem-slots", NULL, NULL, 1, 4096, DEFAULT_MEM_SLOTS, rw);
  /**
   * VhostUserBackend:config:
   *
   * The device's config space, as `GET_CONFIG` reads it; `SET_CONFIG`
   * writes change it (and notify).
   *
   * Since: 1.0
   */
  vhost_user_backend_pspecs[PROP_CONFIG] = g_param_spec_boxed ("config", NULL, NULL, G_TYPE_BYTES, rw);
  /**
   * VhostUserBackend:config-writable-mask:
   *
   * Which bits of the config space `SET_CONFIG` may change, byte for
   * byte; bytes past its end are read-only. Unset: nothing is writable.
   *
   * Since: 1.0
   */
  vhost_user_backend_pspecs[PROP_CONFIG_WRITABLE_MASK] =
    g_param_spec_boxed ("config-writable-mask", NULL, NULL, G_TYPE_BYTES, rw);
  /**
   * VhostUserBackend:acked-features:
   *
   * The virtio features the front-end acknowledged.
   *
   * Since: 1.0
   */
  vhost_user_backend_pspecs[PROP_ACKED_FEATURES] =
    g_param_spec_uint64 ("acked-features", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  /**
   * VhostUserBackend:acked-protocol-features:
   *
   * The protocol features in use: those the front-end asked for that were
   * offered.
   *
   * Since: 1.0
   */
  vhost_user_backend_pspecs[PROP_ACKED_PROTOCOL_FEATURES] =
    g_param_spec_uint64 ("acked-protocol-features", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  /**
   * VhostUserBackend:owner:
   *
   * Whether a front-end took ownership (`SET_OWNER`).
   *
   * Since: 1.0
   */
  vhost_user_backend_pspecs[PROP_OWNER] = g_param_spec_boolean ("owner", NULL, NULL, FALSE, ro);
  /**
   * VhostUserBackend:status:
   *
   * The virtio device status byte (`SET_STATUS`).
   *
   * Since: 1.0
   */
  vhost_user_backend_pspecs[PROP_STATUS] = g_param_spec_uint64 ("status", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  /**
   * VhostUserBackend:memory-table:
   *
   * The guest memory currently mapped.
   *
   * Since: 1.0
   */
  vhost_user_backend_pspecs[PROP_MEMORY_TABLE] =
    g_param_spec_boxed ("memory-table", NULL, NULL, VHOST_USER_TYPE_MEMORY_TABLE, ro);
  /**
   * VhostUserBackend:connected:
   *
   * Whether a front-end is connected.
   *
   * Since: 1.0
   */
  vhost_user_backend_pspecs[PROP_CONNECTED] = g_param_spec_boolean ("connected", NULL, NULL, FALSE, ro);

  /**
   * VhostUserBackend:timeout:
   *
   * How long, in milliseconds, the front-end may take to answer a request
   * on the back-end channel (0: for ever). A request that times out fails
   * with %VHOST_USER_ERROR_TIMED_OUT and the channel is closed, since no
   * later reply could be matched.
   *
   * Since: 1.0
   */
  vhost_user_backend_pspecs[PROP_TIMEOUT] =
    g_param_spec_uint ("timeout", NULL, NULL, 0, G_MAXUINT, 30000, rw);
  /**
   * VhostUserBackend:drain-timeout:
   *
   * How long, in milliseconds, `GET_VRING_BASE` waits for the device to
   * complete the requests it holds before it answers anyway (0: for
   * ever). The front-end cannot send its next request until then, so a
   * device that never completes one would hang the front-end's stop.
   * Past the bound a warning is logged, the front-end is told on the
   * ring's error eventfd (or with an in-band `VRING_ERR`), the requests
   * still held count as taken (they stay in the in-flight area, for a
   * successor to resubmit) and their late pushes are dropped, as with
   * `GET_VRING_BASE_SKIP_DRAIN`. A wait already running keeps its bound.
   *
   * Since: 1.0
   */
  vhost_user_backend_pspecs[PROP_DRAIN_TIMEOUT] =
    g_param_spec_uint ("drain-timeout", NULL, NULL, 0, G_MAXUINT, 30000, rw);
  /**
   * VhostUserBackend:poll-window:
   *
   * For how long, in microseconds, the back-end's context keeps looking
   * for the front-end's next request after one arrived, instead of
   * sleeping on the socket (0, the default: it sleeps at once). A device
   * setup or a migration is a burst of requests, each answered before the
   * next is sent: polling saves each the wake-up of a sleeping thread, at
   * the price of up to this much CPU time after the last one. Other
   * sources of the context run as usual meanwhile.
   *
   * Since: 1.0
   */
  vhost_user_backend_pspecs[PROP_POLL_WINDOW] =
    g_param_spec_uint ("poll-window", NULL, NULL, 0, G_USEC_PER_SEC, 0, rw);
  g_object_class_install_properties (object_class, N_PROPS, vhost_user_backend_pspecs);
}

static void
vhost_user_backend_class_init (VhostUserBackendClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  gsize class_offsets[VHOST_USER_LAST_REQUEST + 1] = { 0 };

  object_class->constructed = vhost_user_backend_constructed;
  object_class->dispose = vhost_user_backend_dispose;
  object_class->finalize = vhost_user_backend_finalize;
  object_class->get_property = vhost_user_backend_get_property;
  object_class->set_property = vhost_user_backend_set_property;
  klass->disconnected = vhost_user_backend_real_disconnected;

  vhost_user_backend_install_handlers (klass, class_offsets);
  install_properties (object_class);

  /* One signal per request, from the request table; each signal's
   * documentation is beside its default handler. */
  vhost_user_backend_private_offset = VhostUserBackend_private_offset;
  vhost_user_responder_register_signals (G_TYPE_FROM_CLASS (klass), VHOST_USER_CHANNEL_MAIN,
                                         class_offsets, NULL, signals);

  /**
   * VhostUserBackend::disconnected:
   * @self: the back-end
   * @error: why the connection ended
   * @should_reconnect: what vhost_user_error_should_reconnect() says of @error
   *
   * The connection ended: the front-end hung up, sent something the
   * connection cannot go on from, or [method@VhostUser.Backend.close]
   * was called. Every mapping and fd of the session is already released.
   *
   * Since: 1.0
   */
  signals[SIGNAL_DISCONNECTED] =
    g_signal_new ("disconnected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  G_STRUCT_OFFSET (VhostUserBackendClass, disconnected),
                  NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_ERROR, G_TYPE_BOOLEAN);

  vhost_user_backend_class_init_state (G_TYPE_FROM_CLASS (klass));
}

static void
vhost_user_backend_init (VhostUserBackend *self)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  /* defaults here, not as construct properties, so that a subclass's
   * init can change the offer and keep it */
  priv->vrings = g_ptr_array_new_with_free_func (g_object_unref);
  priv->timeout_ms = 30000;
  priv->drain_timeout_ms = 30000;
  priv->memory_table = vhost_user_memory_table_new_empty ();
  priv->log_fd = -1;
  priv->postcopy_uffd = -1;
  priv->features = DEFAULT_FEATURES;
  /* not PAGEFAULT: postcopy trusts the front-end (see the property) */
  priv->protocol_features = DEFAULT_PROTOCOL_FEATURES;
  priv->num_queues = 1;
  priv->max_queue_size = MAX_QUEUE_SIZE;
  priv->max_mem_slots = DEFAULT_MEM_SLOTS;
  g_mutex_init (&priv->inband_lock);
  vhost_user_backend_init_shared (self);
}

/**
 * vhost_user_backend_new:
 *
 * A back-end with the default offer (see the properties), in the
 * thread-default main context.
 *
 * Returns: (transfer full): a new back-end
 *
 * Since: 1.0
 */
VhostUserBackend *
vhost_user_backend_new (void)
{
  return g_object_new (VHOST_USER_TYPE_BACKEND, NULL);
}

static void serve (VhostUserBackend    *self,
                   VhostUserConnection *connection);

/**
 * vhost_user_backend_take_socket:
 * @self: a back-end
 * @socket: a connected UNIX stream socket to a front-end
 * @error: return location for a #GError
 *
 * Starts answering the front-end on @socket, from the next iteration of
 * the back-end's main context on. This is how an accepted connection is
 * served ([class@VhostUser.Server] does it for each one); the back-end
 * keeps a reference to @socket and closes it when the session ends.
 * [method@VhostUser.Frontend.take_socket] is its front-end counterpart.
 *
 * Returns: %TRUE on success, %FALSE if already connected
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_take_socket (VhostUserBackend  *self,
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
  serve (self, vhost_user_connection_new (socket, VHOST_USER_CHANNEL_MAIN, FALSE, priv->context));
  return TRUE;
}

/* vhost_user_backend_take_socket() for a server's accepted, non-blocking
 * @fd, owned from now on whatever happens. */
gboolean
vhost_user_backend_take_fd (VhostUserBackend  *self,
                            int                fd,
                            GError           **error)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  if (priv->connection != NULL)
    {
      g_close (fd, NULL);
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                   "The back-end is already connected");
      return FALSE;
    }
  serve (self, vhost_user_connection_new_for_fd (fd, VHOST_USER_CHANNEL_MAIN, FALSE, priv->context));
  return TRUE;
}

static void
serve (VhostUserBackend    *self,
       VhostUserConnection *connection)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  priv->refused = FALSE;
  priv->connection = connection;
  vhost_user_connection_set_handlers (priv->connection, on_message, on_closed, self);
  vhost_user_connection_set_poll_window (priv->connection, priv->poll_window_us);
  vhost_user_responder_set_connection (priv->responder, priv->connection);
  vhost_user_connection_start (priv->connection);
  g_object_notify_by_pspec (G_OBJECT (self), vhost_user_backend_pspecs[PROP_CONNECTED]);
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
 * socket,server=on`), then serves it as vhost_user_backend_take_socket() does.
 * Blocks while connecting. (Not `connect`: bindings would hide
 * `GObject.connect` behind it.)
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
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
  return vhost_user_backend_take_socket (self, socket, error);
}

typedef struct {
  char  *path;
  guint  timeout_ms;
} ConnectData;

static void
connect_data_free (gpointer data)
{
  ConnectData *connect = data;

  g_free (connect->path);
  g_free (connect);
}

/* The retrying connect blocks, so it runs in a thread of GTask's pool;
 * the socket is taken in the back-end's own context. */
static void
connect_in_thread (GTask        *task,
                   gpointer      source_object,
                   gpointer      task_data,
                   GCancellable *cancellable)
{
  ConnectData *connect = task_data;
  GError *error = NULL;
  GSocket *socket = vhost_user_socket_connect (connect->path, connect->timeout_ms, cancellable, &error);

  if (socket == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, socket, g_object_unref);
}

static void
connected (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GSocket) socket = NULL;
  GError *error = NULL;

  socket = g_task_propagate_pointer (G_TASK (result), &error);
  /* a back-end disposed while connecting serves nobody any more */
  if (socket != NULL && priv_of (VHOST_USER_BACKEND (source))->channel_requester == NULL)
    error = g_error_new_literal (VHOST_USER_ERROR, VHOST_USER_ERROR_CLOSED,
                                 "The back-end was disposed while connecting");
  if (error != NULL || !vhost_user_backend_take_socket (VHOST_USER_BACKEND (source), socket, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

/**
 * vhost_user_backend_connect_to_path_async:
 * @self: a back-end
 * @path: the socket a front-end listens on
 * @timeout_ms: how long to wait for it to appear; 0 for one attempt
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when connected, or when connecting failed
 * @user_data: data for @callback
 *
 * Connects to a front-end that listens without blocking the back-end's
 * context, then serves it as [method@VhostUser.Backend.take_socket] does.
 * @callback runs in the thread-default context of the caller.
 *
 * Since: 1.0
 */
void
vhost_user_backend_connect_to_path_async (VhostUserBackend    *self,
                                          const char          *path,
                                          guint                timeout_ms,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data)
{
  GMainContext *context;
  g_autoptr(GTask) task = NULL;
  g_autoptr(GTask) dial = NULL;
  ConnectData *connect;

  g_return_if_fail (VHOST_USER_IS_BACKEND (self));
  g_return_if_fail (path != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, vhost_user_backend_connect_to_path_async);
  /* the dial applies the cancellation; once the socket is taken, the
   * back-end serves, and _finish must say so even if cancelled since */
  g_task_set_check_cancellable (task, FALSE);
  connect = g_new0 (ConnectData, 1);
  connect->path = g_strdup (path);
  connect->timeout_ms = timeout_ms;
  /* the dial's callback runs where the back-end lives */
  context = priv_of (self)->context;
  g_main_context_push_thread_default (context);
  dial = g_task_new (self, cancellable, connected, g_steal_pointer (&task));
  g_main_context_pop_thread_default (context);
  g_task_set_task_data (dial, connect, connect_data_free);
  g_task_run_in_thread (dial, connect_in_thread);
}

/**
 * vhost_user_backend_connect_to_path_finish:
 * @self: a back-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_backend_connect_to_path_async(): on success the
 * back-end serves the front-end already (whether or not anybody calls
 * this).
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_connect_to_path_finish (VhostUserBackend  *self,
                                           GAsyncResult      *result,
                                           GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, vhost_user_backend_connect_to_path_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * vhost_user_backend_close:
 * @self: a back-end
 *
 * Closes the connection; [signal@VhostUser.Backend::disconnected] is
 * emitted with %VHOST_USER_ERROR_CLOSED, which is not a reason to
 * reconnect. (Not `disconnect`, which bindings use for signal handlers.)
 *
 * Since: 1.0
 */
void
vhost_user_backend_close (VhostUserBackend *self)
{
  VhostUserBackendPrivate *priv;
  g_autoptr(GError) error = NULL;

  g_return_if_fail (VHOST_USER_IS_BACKEND (self));

  priv = priv_of (self);
  if (priv->connection == NULL)
    {
      /* (from VhostUserServer::backend-added: the server turns the
       * front-end away) */
      priv->refused = TRUE;
      return;
    }
  /* a deliberate close is not a reason to reconnect */
  error = g_error_new_literal (VHOST_USER_ERROR, VHOST_USER_ERROR_CLOSED, "Closed by the back-end");
  vhost_user_connection_close (priv->connection, error);
}

/* Whether vhost_user_backend_close() was called with no front-end yet
 * (a server's backend-added handler refusing it); clears it. */
gboolean
vhost_user_backend_take_refusal (VhostUserBackend *self)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  gboolean refused = priv->refused;

  priv->refused = FALSE;
  return refused;
}

/**
 * vhost_user_backend_get_connected:
 * @self: a back-end
 *
 * Gets whether a front-end is connected.
 *
 * Returns: whether a front-end is connected
 *
 * Since: 1.0
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
 *
 * Since: 1.0
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
 *
 * Since: 1.0
 */
OFFER_ACCESSORS (guint64, features, PROP_FEATURES)

/**
 * vhost_user_backend_get_protocol_features:
 * @self: a back-end
 *
 * Gets the protocol features offered.
 *
 * Returns: the protocol features offered
 *
 * Since: 1.0
 */
OFFER_ACCESSORS (guint64, protocol_features, PROP_PROTOCOL_FEATURES)

/**
 * vhost_user_backend_get_num_queues:
 * @self: a back-end
 *
 * Gets the number of queues.
 *
 * Returns: the number of queues
 *
 * Since: 1.0
 */
OFFER_ACCESSORS (guint, num_queues, PROP_NUM_QUEUES)

/**
 * vhost_user_backend_get_max_queue_size:
 * @self: a back-end
 *
 * Gets the largest ring size accepted.
 *
 * Returns: the largest ring size accepted
 *
 * Since: 1.0
 */
OFFER_ACCESSORS (guint, max_queue_size, PROP_MAX_QUEUE_SIZE)

/**
 * vhost_user_backend_get_max_mem_slots:
 * @self: a back-end
 *
 * Gets how many memory regions may be mapped.
 *
 * Returns: how many memory regions may be mapped
 *
 * Since: 1.0
 */
OFFER_ACCESSORS (guint, max_mem_slots, PROP_MAX_MEM_SLOTS)

/**
 * vhost_user_backend_get_acked_features:
 * @self: a back-end
 *
 * Gets the virtio features the front-end acknowledged.
 *
 * Returns: the virtio features the front-end acknowledged
 *
 * Since: 1.0
 */
OFFER_ACCESSORS (guint64, acked_features, PROP_ACKED_FEATURES)

/**
 * vhost_user_backend_get_acked_protocol_features:
 * @self: a back-end
 *
 * Gets the protocol features in use.
 *
 * Returns: the protocol features in use
 *
 * Since: 1.0
 */
OFFER_ACCESSORS (guint64, acked_protocol_features, PROP_ACKED_PROTOCOL_FEATURES)

/**
 * vhost_user_backend_get_owner:
 * @self: a back-end
 *
 * Gets whether a front-end took ownership.
 *
 * Returns: whether a front-end took ownership
 *
 * Since: 1.0
 */
OFFER_ACCESSORS (gboolean, owner, PROP_OWNER)

/**
 * vhost_user_backend_get_status:
 * @self: a back-end
 *
 * Gets the virtio device status.
 *
 * Returns: the virtio device status
 *
 * Since: 1.0
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
    g_object_notify_by_pspec (G_OBJECT (self), vhost_user_backend_pspecs[prop]);                \
  }

/**
 * vhost_user_backend_set_features:
 * @self: a back-end
 * @features: the virtio features to offer
 *
 * Sets [property@VhostUser.Backend:features].
 *
 * Since: 1.0
 */
OFFER_SETTER (guint64, features, PROP_FEATURES, TRUE)

/**
 * vhost_user_backend_set_protocol_features:
 * @self: a back-end
 * @features: the protocol features to offer
 *
 * Sets [property@VhostUser.Backend:protocol-features].
 *
 * Since: 1.0
 */
OFFER_SETTER (guint64, protocol_features, PROP_PROTOCOL_FEATURES, TRUE)

/**
 * vhost_user_backend_set_max_queue_size:
 * @self: a back-end
 * @max_queue_size: the largest ring size to accept, at most 32768
 *
 * Sets [property@VhostUser.Backend:max-queue-size].
 *
 * Since: 1.0
 */
OFFER_SETTER (guint, max_queue_size, PROP_MAX_QUEUE_SIZE, value > 0 && value <= MAX_QUEUE_SIZE)

/**
 * vhost_user_backend_set_max_mem_slots:
 * @self: a back-end
 * @max_mem_slots: how many memory regions may be mapped
 *
 * Sets [property@VhostUser.Backend:max-mem-slots].
 *
 * Since: 1.0
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
 *
 * Since: 1.0
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
  /* before construction the rings wait for the main context */
  if (priv->responder != NULL)
    rebuild_vrings (self);
  g_object_notify_by_pspec (G_OBJECT (self), vhost_user_backend_pspecs[PROP_NUM_QUEUES]);
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
  g_object_notify_by_pspec (G_OBJECT (self), vhost_user_backend_pspecs[prop]);
}

/**
 * vhost_user_backend_get_config:
 * @self: a back-end
 *
 * Gets the config space.
 *
 * Returns: (transfer none) (nullable): the config space
 *
 * Since: 1.0
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
 *
 * Since: 1.0
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
 *
 * Since: 1.0
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
 *
 * Since: 1.0
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
 *
 * Since: 1.0
 */
VhostUserMemoryTable *
vhost_user_backend_get_memory_table (VhostUserBackend *self)
{
  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), NULL);
  return priv_of (self)->memory_table;
}

/**
 * vhost_user_backend_get_timeout:
 * @self: a back-end
 *
 * Gets [property@VhostUser.Backend:timeout].
 *
 * Returns: the back-end channel's timeout in milliseconds, 0 for none
 *
 * Since: 1.0
 */
guint
vhost_user_backend_get_timeout (VhostUserBackend *self)
{
  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), 0);
  return priv_of (self)->timeout_ms;
}

/**
 * vhost_user_backend_set_timeout:
 * @self: a back-end
 * @timeout_ms: milliseconds, 0 for none
 *
 * Sets [property@VhostUser.Backend:timeout]; requests already sent keep
 * the deadline they had.
 *
 * Since: 1.0
 */
void
vhost_user_backend_set_timeout (VhostUserBackend *self,
                                guint             timeout_ms)
{
  VhostUserBackendPrivate *priv;

  g_return_if_fail (VHOST_USER_IS_BACKEND (self));

  priv = priv_of (self);
  if (priv->timeout_ms == timeout_ms)
    return;
  priv->timeout_ms = timeout_ms;
  if (priv->channel_requester != NULL)
    vhost_user_requester_set_timeout (priv->channel_requester, timeout_ms);
  g_object_notify_by_pspec (G_OBJECT (self), vhost_user_backend_pspecs[PROP_TIMEOUT]);
}

/**
 * vhost_user_backend_get_drain_timeout:
 * @self: a back-end
 *
 * Gets [property@VhostUser.Backend:drain-timeout].
 *
 * Returns: how long `GET_VRING_BASE` waits for the device, in
 *   milliseconds, 0 for ever
 *
 * Since: 1.0
 */
guint
vhost_user_backend_get_drain_timeout (VhostUserBackend *self)
{
  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), 0);
  return priv_of (self)->drain_timeout_ms;
}

/**
 * vhost_user_backend_set_drain_timeout:
 * @self: a back-end
 * @timeout_ms: milliseconds, 0 for ever
 *
 * Sets [property@VhostUser.Backend:drain-timeout].
 *
 * Since: 1.0
 */
void
vhost_user_backend_set_drain_timeout (VhostUserBackend *self,
                                      guint             timeout_ms)
{
  VhostUserBackendPrivate *priv;

  g_return_if_fail (VHOST_USER_IS_BACKEND (self));

  priv = priv_of (self);
  if (priv->drain_timeout_ms == timeout_ms)
    return;
  priv->drain_timeout_ms = timeout_ms;
  g_object_notify_by_pspec (G_OBJECT (self), vhost_user_backend_pspecs[PROP_DRAIN_TIMEOUT]);
}

/**
 * vhost_user_backend_get_poll_window:
 * @self: a back-end
 *
 * Gets [property@VhostUser.Backend:poll-window].
 *
 * Returns: how long the socket is polled after a request, in
 *   microseconds, 0 for not at all
 *
 * Since: 1.0
 */
guint
vhost_user_backend_get_poll_window (VhostUserBackend *self)
{
  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), 0);
  return priv_of (self)->poll_window_us;
}

/**
 * vhost_user_backend_set_poll_window:
 * @self: a back-end
 * @window_us: microseconds, at most one second; 0 to sleep at once
 *
 * Sets [property@VhostUser.Backend:poll-window], for the connection of
 * now and those to come.
 *
 * Since: 1.0
 */
void
vhost_user_backend_set_poll_window (VhostUserBackend *self,
                                    guint             window_us)
{
  VhostUserBackendPrivate *priv;

  g_return_if_fail (VHOST_USER_IS_BACKEND (self));
  g_return_if_fail (window_us <= G_USEC_PER_SEC);

  priv = priv_of (self);
  if (priv->poll_window_us == window_us)
    return;
  priv->poll_window_us = window_us;
  if (priv->connection != NULL)
    vhost_user_connection_set_poll_window (priv->connection, window_us);
  g_object_notify_by_pspec (G_OBJECT (self), vhost_user_backend_pspecs[PROP_POLL_WINDOW]);
}

/**
 * vhost_user_backend_get_vring:
 * @self: a back-end
 * @index: a queue index, below [property@VhostUser.Backend:num-queues]
 *
 * Gets the queue's ring.
 *
 * Returns: (transfer none): the queue's ring
 *
 * Since: 1.0
 */
VhostUserVring *
vhost_user_backend_get_vring (VhostUserBackend *self,
                              guint             index)
{
  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), NULL);
  g_return_val_if_fail (index < priv_of (self)->vrings->len, NULL);
  return vring_at (self, index);
}
