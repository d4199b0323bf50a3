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
#include "vhost-user-marshal.h"
#include "vhost-user-memory-table-private.h"
#include "vhost-user-socket-private.h"
#include "vhost-user-vring-private.h"
#include "vhost-user-peer-fd-private.h"
#include "vhost-user-notify-private.h"

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
 * A request whose signal has no handler connected (and no class handler
 * overridden with g_signal_override_class_handler()) goes to the class's
 * vfunc without an emission, which is all an emission would run: only
 * an emission hook (g_signal_add_emission_hook()) would see the
 * difference, and it sees the requests that have a handler.
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

G_DEFINE_TYPE_WITH_PRIVATE (VhostUserBackend, vhost_user_backend, G_TYPE_OBJECT)

GParamSpec *vhost_user_backend_pspecs[N_PROPS];
gint vhost_user_backend_private_offset;

enum {
  SIGNAL_DISCONNECTED = VHOST_USER_LAST_REQUEST + 1,
  N_SIGNALS
};

/* indexed by request number, then the back-end's own signals */
static guint signals[N_SIGNALS];
/* where each request's vfunc is in the class (the responder calls it
 * without an emission when nothing else listens) */
static gsize class_offsets[VHOST_USER_LAST_REQUEST + 1];

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
  if (priv_of (self)->closed_func != NULL)
    {
      VhostUserBackendClosedFunc func = priv_of (self)->closed_func;

      priv_of (self)->closed_func = NULL;
      func (self, g_steal_pointer (&priv_of (self)->closed_data));
    }
  g_object_unref (self);
}

/* Lets go of everything the connection gave us. */
static void
backend_release (VhostUserBackend *self)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  gboolean was_connected = priv->connection != NULL;
  VhostUserNotifyBatch batch;

  vhost_user_responder_set_connection (priv->responder, NULL);

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

  /* (only from here: above, waiting tasks fail and rings' drained
   * notifies and notify handlers run, code not ours; below runs ours) */
  vhost_user_notify_batch_begin (&batch, self);
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
      vhost_user_peer_fd_close (old);
    }
  vhost_user_backend_unmap_log (self);

  if (priv->owner)
    {
      priv->owner = FALSE;
      vhost_user_notify (G_OBJECT (self), vhost_user_backend_pspecs[PROP_OWNER]);
    }
  if (priv->acked_features != 0)
    {
      priv->acked_features = 0;
      vhost_user_notify (G_OBJECT (self), vhost_user_backend_pspecs[PROP_ACKED_FEATURES]);
    }
  vhost_user_backend_update_iotlb (self);
  if (priv->acked_protocol_features != 0)
    {
      priv->acked_protocol_features = 0;
      vhost_user_notify (G_OBJECT (self), vhost_user_backend_pspecs[PROP_ACKED_PROTOCOL_FEATURES]);
    }
  vhost_user_backend_update_status (self, 0);
  if (was_connected)
    vhost_user_notify (G_OBJECT (self), vhost_user_backend_pspecs[PROP_CONNECTED]);

  vhost_user_notify_batch_end (&batch);
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
                                              class_offsets, get_responder_state);
  priv->channel_requester = vhost_user_requester_new (VHOST_USER_CHANNEL_BACKEND, object, priv->context);
  vhost_user_requester_set_timeout (priv->channel_requester, priv->timeout_ms);
  vhost_user_backend_rebuild_vrings (self);
}

static void
vhost_user_backend_dispose (GObject *object)
{
  VhostUserBackend *self = VHOST_USER_BACKEND (object);
  VhostUserBackendPrivate *priv = priv_of (self);

  backend_release (self);
  g_clear_pointer (&priv->memory_table, vhost_user_memory_table_unref);
  vhost_user_backend_drop_vrings (self);
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
    g_param_spec_uint ("num-queues", NULL, NULL, 1, VHOST_USER_BACKEND_MAX_QUEUES, 1, rw);
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
    g_param_spec_uint ("max-queue-size", NULL, NULL, 1, VHOST_USER_BACKEND_MAX_QUEUE_SIZE, VHOST_USER_BACKEND_MAX_QUEUE_SIZE, rw);
  /**
   * VhostUserBackend:max-mem-slots:
   *
   * How many memory regions may be mapped at once (`GET_MAX_MEM_SLOTS`).
   *
   * Since: 1.0
   */
  vhost_user_backend_pspecs[PROP_MAX_MEM_SLOTS] =
    g_param_spec_uint ("max-mem-slots", NULL, NULL, 1, 4096, VHOST_USER_BACKEND_DEFAULT_MEM_SLOTS, rw);
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
   * @error: why the connection ended; borrowed for the emission
   *   (a handler that keeps it copies it)
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
                  NULL, NULL, _vhost_user_marshal_VOID__BOXED_BOOLEAN,
                  G_TYPE_NONE, 2, G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE, G_TYPE_BOOLEAN);
  g_signal_set_va_marshaller (signals[SIGNAL_DISCONNECTED], G_TYPE_FROM_CLASS (klass),
                              _vhost_user_marshal_VOID__BOXED_BOOLEANv);

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
  priv->max_queue_size = VHOST_USER_BACKEND_MAX_QUEUE_SIZE;
  priv->max_mem_slots = VHOST_USER_BACKEND_DEFAULT_MEM_SLOTS;
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
      vhost_user_peer_fd_close (fd);
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
  vhost_user_notify (G_OBJECT (self), vhost_user_backend_pspecs[PROP_CONNECTED]);
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

/* @func is called once, after the next "disconnected" emission, and
 * forgotten: what a server does when a back-end's front-end goes, without
 * a signal handler made and destroyed for every connection (one handler
 * connected and disconnected is some 3,500 instructions). NULL: none. */
void
vhost_user_backend_set_closed_func (VhostUserBackend           *self,
                                    VhostUserBackendClosedFunc  func,
                                    gpointer                    user_data)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  priv->closed_func = func;
  priv->closed_data = user_data;
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
