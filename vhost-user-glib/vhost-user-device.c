/* vhost-user-device.c: a VMM's vhost-user device, set up and kept up
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <glib-unix.h>

#include "vhost-user-device.h"
#include "vhost-user-device-private.h"
#include "vhost-user-enum-types.h"
#include "vhost-user-error.h"
#include "vhost-user-peer-fd-private.h"
#include "vhost-user-frontend-private.h"
#include "vhost-user-notify-private.h"

/**
 * VhostUserDevice:
 *
 * One vhost-user device as a VMM holds it: the state it wants the
 * back-end to have, and the choreography that gives it that state, on
 * the first start and again after every reconnect.
 *
 * A #VhostUserFrontend speaks each request; a device knows the order
 * (QEMU's, `hw/virtio/vhost.c`): features and protocol features, the
 * owner, the back-end channel, guest memory, the in-flight area before
 * any ring, then for every ring its size, base, addresses, kick and call
 * fds, then the rings enabled and the status set. It keeps what it gave:
 * memory regions, rings (a #VhostUserDriverRing, or addresses in guest
 * memory with eventfds), the in-flight area, the rings' bases.
 *
 * - vhost_user_device_start() applies everything; vhost_user_device_stop()
 *   disables the rings and collects their bases with `GET_VRING_BASE`, so
 *   that the next start goes on where they stopped.
 * - vhost_user_device_add_memory() and vhost_user_device_remove_memory()
 *   work at any time: `ADD_MEM_REG`/`REM_MEM_REG` where memory slots are
 *   negotiated, a whole new `SET_MEM_TABLE` where not.
 * - When the back-end goes away (a slave/back-end process that crashed or
 *   was restarted) the device says so with #VhostUserDevice::backend-lost;
 *   vhost_user_device_reconnect(), or #VhostUserDevice:auto-reconnect,
 *   dials again with back-off, negotiates, refuses a back-end that came
 *   back with fewer features or queues, and replays the state: the kept
 *   in-flight area before any ring starts, each split ring's base from the
 *   used index in shared memory, then a kick on every ring. Without
 *   `INFLIGHT_SHMFD` nobody can vouch for the requests the old back-end
 *   had taken: #VhostUserDevice::requests-at-risk says how many.
 *
 * Operations (start, stop, memory, enabling a ring, reconnect) run one at
 * a time, in the order they were asked for, each with an async form that
 * never blocks the main loop and a blocking form built on it. The device
 * runs in its front-end's #GMainContext.
 *
 * What a VMM still owns: the guest's memory layout (the regions), the
 * virtqueue addresses the guest's driver wrote, and interrupts: the kick
 * and call eventfds are there to give to KVM (ioeventfd, irqfd), or, for
 * a driver in this process, #VhostUserDevice:watch-calls turns calls into
 * the #VhostUserDevice::ring-call signal.
 *
 * Since: 1.0
 */

static GParamSpec *properties[N_PROPS];

#define DEFAULT_MAX_STATE_SIZE (G_GUINT64_CONSTANT (1) << 30)

static guint signals[N_SIGNALS];

/* the same, for the operations' steps (vhost-user-device-steps.c), which
 * notify and emit some of them too */
GParamSpec **const vhost_user_device_properties = properties;
const guint *const vhost_user_device_signals = signals;

G_DEFINE_FINAL_TYPE (VhostUserDevice, vhost_user_device, G_TYPE_OBJECT)

#define DEFAULT_PROTOCOL_FEATURES (VHOST_USER_PROTOCOL_FEATURE_MQ | VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK |   \
                                   VHOST_USER_PROTOCOL_FEATURE_CONFIG |                                     \
                                   VHOST_USER_PROTOCOL_FEATURE_CONFIGURE_MEM_SLOTS |                        \
                                   VHOST_USER_PROTOCOL_FEATURE_INFLIGHT_SHMFD |                             \
                                   VHOST_USER_PROTOCOL_FEATURE_LOG_SHMFD |                                  \
                                   VHOST_USER_PROTOCOL_FEATURE_DEVICE_STATE |                               \
                                   VHOST_USER_PROTOCOL_FEATURE_STATUS)

/* --- calls for a driver in this process --- */

static gboolean
call_ready (int           fd,
            GIOCondition  condition,
            gpointer      user_data)
{
  Ring *ring = user_data;

  /* an eventfd: one read takes every signal so far (and never waits: the
   * back-end may have taken the count back since the poll) */
  if (!vhost_user_eventfd_drain (fd, NULL) && errno != EAGAIN)
    {
      g_clear_pointer (&ring->call_watch, g_source_unref);
      return G_SOURCE_REMOVE;
    }
  g_signal_emit (ring->device, signals[SIGNAL_RING_CALL], ring->detail, ring->index);
  return G_SOURCE_CONTINUE;
}

static void
unwatch_call (Ring *ring)
{
  if (ring->call_watch != NULL)
    {
      g_source_destroy (ring->call_watch);
      g_clear_pointer (&ring->call_watch, g_source_unref);
    }
}

void
vhost_user_device_update_call_watches (VhostUserDevice *self)
{
  for (guint i = 0; i < self->n_rings; i++)
    {
      Ring *ring = &self->rings[i];

      unwatch_call (ring);
      if (!self->watch_calls || !ring->configured || ring_call_fd (ring) < 0)
        continue;
      ring->call_watch = g_unix_fd_source_new (ring_call_fd (ring), G_IO_IN);
      g_source_set_callback (ring->call_watch, G_SOURCE_FUNC (call_ready), ring, NULL);
      g_source_set_static_name (ring->call_watch, "vhost-user device call");
      g_source_attach (ring->call_watch, vhost_user_frontend_get_main_context (self->frontend));
    }
}

/* --- the operations' blocking forms --- */

/* The blocking forms: the async one, waited for as the front-end's own
 * blocking calls wait (vhost_user_frontend_wait()). */
typedef struct {
  VhostUserDevice       *self;
  OpKind                 kind;
  VhostUserMemoryRegion *region;
  guint                  index;
  gboolean               enabled;
  GCancellable          *cancellable;
  GObject               *stream;
} Blocking;


static void
start_blocking (gpointer             data,
                GAsyncReadyCallback  callback,
                gpointer             user_data)
{
  Blocking *b = data;

  vhost_user_device_queue_op (b->self, b->kind, b->region, b->index, b->enabled, FALSE, b->stream, b->cancellable,
                              callback, user_data);
}


gboolean
vhost_user_device_run_blocking (VhostUserDevice       *self,
                                OpKind                 kind,
                                VhostUserMemoryRegion *region,
                                guint                  index,
                                gboolean               enabled,
                                GObject               *stream,
                                GCancellable          *cancellable,
                                GError               **error)
{
  Blocking b = { self, kind, region, index, enabled, cancellable, stream };
  g_autoptr(GAsyncResult) result = NULL;

  if (self->busy)
    {
      /* the operation under way completes in the main loop, which a
       * blocking call does not run */
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                   "Another operation on the device is under way: use the async form to queue behind it");
      return FALSE;
    }
  result = vhost_user_frontend_wait (self->frontend, start_blocking, &b, error);
  if (result == NULL)
    return FALSE;
  return vhost_user_device_op_finish (self, result, kind, error);
}


/* --- the back-end going away --- */

/* The outcome was said with signals already. */
static void
auto_reconnect_done (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  vhost_user_device_op_finish (VHOST_USER_DEVICE (source), result, OP_RECONNECT, NULL);
}

static gboolean
start_auto_reconnect (gpointer user_data)
{
  VhostUserDevice *self = user_data;
  GMainContext *context;

  g_clear_pointer (&self->auto_reconnect_idle, g_source_unref);
  if (self->frontend == NULL)
    return G_SOURCE_REMOVE;
  context = vhost_user_frontend_get_main_context (self->frontend);

  /* so that the operation's steps and result run in the device's context */
  g_main_context_push_thread_default (context);
  vhost_user_device_queue_op (self, OP_RECONNECT, NULL, 0, FALSE, TRUE, NULL, self->reconnect_cancellable, auto_reconnect_done, NULL);
  g_main_context_pop_thread_default (context);
  return G_SOURCE_REMOVE;
}

static void
frontend_disconnected (VhostUserFrontend *frontend,
                       GError            *reason,
                       gboolean           should_reconnect,
                       VhostUserDevice   *self)
{
  gboolean retry;
  GSource *idle;
  guint serial = self->close_serial;

  if (self->state_abort != NULL)
    g_cancellable_cancel (self->state_abort);
  self->set_up = FALSE;
  /* the rings ran on: their bases are what shared memory says now */
  if (self->state == VHOST_USER_DEVICE_STATE_RUNNING || self->replaying)
    self->bases_stale = TRUE;
  if (self->state == VHOST_USER_DEVICE_STATE_DISCONNECTED && !self->replaying)
    return;
  vhost_user_device_set_state (self, VHOST_USER_DEVICE_STATE_DISCONNECTED);
  /* our own close, or a reconnect that handles it */
  if (self->closing || self->replaying)
    return;

  retry = self->auto_reconnect && should_reconnect;
  g_signal_emit (self, signals[SIGNAL_BACKEND_LOST], 0, reason, retry);
  /* a handler that closed or disposed the device wants no reconnect */
  if (!retry || self->close_serial != serial || self->frontend == NULL || self->auto_reconnect_idle != NULL)
    return;
  /* from an idle: the disconnection may come in the middle of a blocking
   * call's wait, on a context of its own */
  idle = self->auto_reconnect_idle = g_idle_source_new ();
  g_source_ref (idle);
  g_source_set_callback (idle, start_auto_reconnect, g_object_ref (self), g_object_unref);
  g_source_set_static_name (idle, "vhost-user device auto-reconnect");
  g_source_attach (idle, vhost_user_frontend_get_main_context (self->frontend));
  g_source_unref (idle);
}

/* --- the object --- */

static void
vhost_user_device_constructed (GObject *object)
{
  VhostUserDevice *self = VHOST_USER_DEVICE (object);

  G_OBJECT_CLASS (vhost_user_device_parent_class)->constructed (object);

  g_assert (self->frontend != NULL);
  self->rings = g_new0 (Ring, self->n_rings);
  for (guint i = 0; i < self->n_rings; i++)
    {
      g_autofree char *detail = g_strdup_printf ("%u", i);

      self->rings[i].device = self;
      self->rings[i].index = i;
      self->rings[i].kick_fd = self->rings[i].call_fd = -1;
      self->rings[i].enabled = TRUE;
      self->rings[i].detail = g_quark_from_string (detail);
    }
  self->disconnected_id = g_signal_connect (self->frontend, "disconnected", G_CALLBACK (frontend_disconnected), self);
  self->state = vhost_user_frontend_get_connected (self->frontend) ? VHOST_USER_DEVICE_STATE_STOPPED :
                                                                      VHOST_USER_DEVICE_STATE_DISCONNECTED;
}

static void
vhost_user_device_dispose (GObject *object)
{
  VhostUserDevice *self = VHOST_USER_DEVICE (object);

  g_cancellable_cancel (self->reconnect_cancellable);
  if (self->auto_reconnect_idle != NULL)
    {
      g_source_destroy (self->auto_reconnect_idle);
      g_clear_pointer (&self->auto_reconnect_idle, g_source_unref);
    }
  for (guint i = 0; i < self->n_rings; i++)
    {
      unwatch_call (&self->rings[i]);
      g_clear_object (&self->rings[i].driver);
    }
  if (self->frontend != NULL)
    g_clear_signal_handler (&self->disconnected_id, self->frontend);
  g_clear_object (&self->frontend);
  g_ptr_array_set_size (self->regions, 0);

  G_OBJECT_CLASS (vhost_user_device_parent_class)->dispose (object);
}

static void
vhost_user_device_finalize (GObject *object)
{
  VhostUserDevice *self = VHOST_USER_DEVICE (object);

  for (guint i = 0; i < self->n_rings; i++)
    {
      if (self->rings[i].kick_fd >= 0)
        vhost_user_peer_fd_close (self->rings[i].kick_fd);
      if (self->rings[i].call_fd >= 0)
        vhost_user_peer_fd_close (self->rings[i].call_fd);
    }
  g_free (self->rings);
  if (self->inflight_fd >= 0)
    vhost_user_peer_fd_close (self->inflight_fd);
  g_clear_pointer (&self->inflight_contents, g_bytes_unref);
  vhost_user_device_drop_log (self);
  g_ptr_array_unref (self->regions);
  g_object_unref (self->reconnect_cancellable);

  G_OBJECT_CLASS (vhost_user_device_parent_class)->finalize (object);
}

static void
vhost_user_device_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  VhostUserDevice *self = VHOST_USER_DEVICE (object);

  switch (prop_id)
    {
    case PROP_FRONTEND:
      g_value_set_object (value, self->frontend);
      break;
    case PROP_N_RINGS:
      g_value_set_uint (value, self->n_rings);
      break;
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case PROP_FEATURES:
      g_value_set_uint64 (value, self->features);
      break;
    case PROP_PROTOCOL_FEATURES:
      g_value_set_uint64 (value, self->protocol_features);
      break;
    case PROP_ACKED_FEATURES:
      g_value_set_uint64 (value, self->acked_features);
      break;
    case PROP_ACKED_PROTOCOL_FEATURES:
      g_value_set_uint64 (value, self->acked_protocol_features);
      break;
    case PROP_AUTO_RECONNECT:
      g_value_set_boolean (value, self->auto_reconnect);
      break;
    case PROP_RECONNECT_ATTEMPTS:
      g_value_set_uint (value, self->reconnect_attempts);
      break;
    case PROP_RECONNECT_DELAY_MAX:
      g_value_set_uint (value, self->reconnect_delay_max);
      break;
    case PROP_WATCH_CALLS:
      g_value_set_boolean (value, self->watch_calls);
      break;
    case PROP_DRAIN_ON_STOP:
      g_value_set_boolean (value, self->drain_on_stop);
      break;
    case PROP_MAX_STATE_SIZE:
      g_value_set_uint64 (value, self->max_state_size);
      break;
    case PROP_LOGGING:
      g_value_set_boolean (value, self->logging);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vhost_user_device_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  VhostUserDevice *self = VHOST_USER_DEVICE (object);

  switch (prop_id)
    {
    case PROP_FRONTEND:
      self->frontend = g_value_dup_object (value);
      break;
    case PROP_N_RINGS:
      self->n_rings = g_value_get_uint (value);
      break;
    case PROP_FEATURES:
      vhost_user_device_set_features (self, g_value_get_uint64 (value));
      break;
    case PROP_PROTOCOL_FEATURES:
      vhost_user_device_set_protocol_features (self, g_value_get_uint64 (value));
      break;
    case PROP_AUTO_RECONNECT:
      if (self->auto_reconnect != g_value_get_boolean (value))
        {
          self->auto_reconnect = g_value_get_boolean (value);
          vhost_user_notify (object, pspec);
        }
      break;
    case PROP_RECONNECT_ATTEMPTS:
      if (self->reconnect_attempts != g_value_get_uint (value))
        {
          self->reconnect_attempts = g_value_get_uint (value);
          vhost_user_notify (object, pspec);
        }
      break;
    case PROP_RECONNECT_DELAY_MAX:
      if (self->reconnect_delay_max != g_value_get_uint (value))
        {
          self->reconnect_delay_max = g_value_get_uint (value);
          vhost_user_notify (object, pspec);
        }
      break;
    case PROP_DRAIN_ON_STOP:
      if (self->drain_on_stop != g_value_get_boolean (value))
        {
          self->drain_on_stop = g_value_get_boolean (value);
          vhost_user_notify (object, pspec);
        }
      break;
    case PROP_WATCH_CALLS:
      if (self->watch_calls != g_value_get_boolean (value))
        {
          self->watch_calls = g_value_get_boolean (value);
          vhost_user_device_update_call_watches (self);
          vhost_user_notify (object, pspec);
        }
      break;
    case PROP_MAX_STATE_SIZE:
      if (self->max_state_size != g_value_get_uint64 (value))
        {
          self->max_state_size = g_value_get_uint64 (value);
          vhost_user_notify (object, pspec);
        }
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vhost_user_device_class_init (VhostUserDeviceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;
  GParamFlags construct = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->constructed = vhost_user_device_constructed;
  object_class->dispose = vhost_user_device_dispose;
  object_class->finalize = vhost_user_device_finalize;
  object_class->get_property = vhost_user_device_get_property;
  object_class->set_property = vhost_user_device_set_property;

  /**
   * VhostUserDevice:frontend:
   *
   * The front-end the device speaks through; the device runs in its
   * #GMainContext.
   *
   * Since: 1.0
   */
  properties[PROP_FRONTEND] = g_param_spec_object ("frontend", NULL, NULL, VHOST_USER_TYPE_FRONTEND, construct);

  /**
   * VhostUserDevice:n-rings:
   *
   * How many virtqueues the device has (the in-flight area is laid out
   * for all of them).
   *
   * Since: 1.0
   */
  properties[PROP_N_RINGS] = g_param_spec_uint ("n-rings", NULL, NULL, 0, 0x8000, 1, construct);

  /**
   * VhostUserDevice:state:
   *
   * Where the device stands.
   *
   * Since: 1.0
   */
  properties[PROP_STATE] = g_param_spec_enum ("state", NULL, NULL, VHOST_USER_TYPE_DEVICE_STATE,
                                              VHOST_USER_DEVICE_STATE_DISCONNECTED, ro);

  /**
   * VhostUserDevice:features:
   *
   * The virtio features the device wants (the back-end acks those it
   * offers). `VIRTIO_F_RING_PACKED` is added when a ring is a packed
   * #VhostUserDriverRing; `VHOST_USER_F_PROTOCOL_FEATURES` whenever the
   * back-end offers it.
   *
   * Since: 1.0
   */
  properties[PROP_FEATURES] = g_param_spec_uint64 ("features", NULL, NULL, 0, G_MAXUINT64, 0, rw);

  /**
   * VhostUserDevice:protocol-features:
   *
   * The vhost-user protocol features the device wants: by default
   * `MQ`, `REPLY_ACK`, `CONFIG`, `CONFIGURE_MEM_SLOTS`, `INFLIGHT_SHMFD`,
   * `STATUS`, and for a migration `LOG_SHMFD` and `DEVICE_STATE`;
   * `GET_VRING_BASE_INFLIGHT` is added while
   * #VhostUserDevice:drain-on-stop is %FALSE. Add `BACKEND_REQ` (and connect to the front-end's
   * signals) for the back-end channel; leave out `INFLIGHT_SHMFD` to
   * reconnect without an in-flight area.
   *
   * Since: 1.0
   */
  properties[PROP_PROTOCOL_FEATURES] = g_param_spec_uint64 ("protocol-features", NULL, NULL, 0, G_MAXUINT64,
                                                            DEFAULT_PROTOCOL_FEATURES, rw);

  /**
   * VhostUserDevice:acked-features:
   *
   * The virtio features agreed on the first start; every reconnect must
   * agree on the same.
   *
   * Since: 1.0
   */
  properties[PROP_ACKED_FEATURES] = g_param_spec_uint64 ("acked-features", NULL, NULL, 0, G_MAXUINT64, 0, ro);

  /**
   * VhostUserDevice:acked-protocol-features:
   *
   * The protocol features agreed on the first start.
   *
   * Since: 1.0
   */
  properties[PROP_ACKED_PROTOCOL_FEATURES] = g_param_spec_uint64 ("acked-protocol-features", NULL, NULL, 0,
                                                                  G_MAXUINT64, 0, ro);

  /**
   * VhostUserDevice:auto-reconnect:
   *
   * Whether a back-end that went away for a reason worth a retry
   * (vhost_user_error_should_reconnect()) is dialled again and given the
   * device's state, as vhost_user_device_reconnect() would.
   *
   * Since: 1.0
   */
  properties[PROP_AUTO_RECONNECT] = g_param_spec_boolean ("auto-reconnect", NULL, NULL, FALSE, rw);

  /**
   * VhostUserDevice:reconnect-attempts:
   *
   * How many times a reconnect dials before it gives up; 0 for no limit
   * (cancel it instead).
   *
   * Since: 1.0
   */
  properties[PROP_RECONNECT_ATTEMPTS] = g_param_spec_uint ("reconnect-attempts", NULL, NULL, 0, G_MAXUINT, 0, rw);

  /**
   * VhostUserDevice:reconnect-delay-max:
   *
   * The longest wait between two attempts, in milliseconds; the wait
   * starts at 10 ms and doubles.
   *
   * Since: 1.0
   */
  properties[PROP_RECONNECT_DELAY_MAX] = g_param_spec_uint ("reconnect-delay-max", NULL, NULL, 1, G_MAXUINT, 1000,
                                                            rw);

  /**
   * VhostUserDevice:watch-calls:
   *
   * Whether the device waits on its rings' call eventfds in its main
   * context and emits #VhostUserDevice::ring-call, for a driver in this
   * process. Leave it off when the fds go to KVM (irqfd) or the driver
   * polls them itself.
   *
   * Since: 1.0
   */
  properties[PROP_WATCH_CALLS] = g_param_spec_boolean ("watch-calls", NULL, NULL, FALSE, rw);

  /**
   * VhostUserDevice:drain-on-stop:
   *
   * Whether vhost_user_device_stop() lets the back-end finish the
   * requests it took (`GET_VRING_BASE`, the default) or stops the rings
   * at once, leaving them in the in-flight area: a migration's source
   * that moves the in-flight area (vhost_user_device_dup_inflight()) to
   * the destination, where they are done, once. Set it before the first
   * start: the device then also asks for `GET_VRING_BASE_INFLIGHT`
   * (`GET_VRING_BASE` records instead of draining, with `INFLIGHT_SHMFD`),
   * or uses `GET_VRING_BASE_SKIP_DRAIN` if the device's protocol features
   * ask for it and the back-end offers it. A back-end that offers neither
   * makes such a stop fail before anything is sent.
   *
   * Since: 1.0
   */
  properties[PROP_DRAIN_ON_STOP] = g_param_spec_boolean ("drain-on-stop", NULL, NULL, TRUE, rw);

  /**
   * VhostUserDevice:logging:
   *
   * Whether the back-end logs its writes to guest memory (dirty logging
   * for a migration): see vhost_user_device_set_logging().
   *
   * Since: 1.0
   */
  properties[PROP_LOGGING] = g_param_spec_boolean ("logging", NULL, NULL, FALSE, ro);

  /**
   * VhostUserDevice:max-state-size:
   *
   * The most bytes vhost_user_device_save_state_async() takes from the
   * back-end: one that writes more fails the save
   * (%VHOST_USER_ERROR_OVERSIZED_MESSAGE) rather than fill the
   * destination (memory, often) without end. 1 GiB by default; 0 for no
   * limit.
   *
   * Since: 1.0
   */
  properties[PROP_MAX_STATE_SIZE] =
    g_param_spec_uint64 ("max-state-size", NULL, NULL, 0, G_MAXUINT64, DEFAULT_MAX_STATE_SIZE, rw);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * VhostUserDevice::backend-lost:
   * @self: the device
   * @reason: why
   * @reconnecting: whether the device is dialling again
   *   (#VhostUserDevice:auto-reconnect)
   *
   * The back-end went away, or a reconnect gave up on it (then with
   * @reconnecting %FALSE and the reason it gave up: a back-end that came
   * back with fewer features or queues, too many attempts). The device
   * is then disconnected with nothing half-applied.
   *
   * Since: 1.0
   */
  signals[SIGNAL_BACKEND_LOST] =
    g_signal_new ("backend-lost", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_ERROR, G_TYPE_BOOLEAN);

  /**
   * VhostUserDevice::reconnecting:
   * @self: the device
   * @attempt: the attempt about to be made, from 1
   *
   * A reconnect dials the back-end's socket.
   *
   * Since: 1.0
   */
  signals[SIGNAL_RECONNECTING] =
    g_signal_new ("reconnecting", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_UINT);

  /**
   * VhostUserDevice::reconnected:
   * @self: the device
   *
   * A reconnect is done: the back-end has the device's state again, and
   * if the device was running its rings run and were kicked.
   *
   * Since: 1.0
   */
  signals[SIGNAL_RECONNECTED] =
    g_signal_new ("reconnected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);

  /**
   * VhostUserDevice::requests-at-risk:
   * @self: the device
   * @ring: the ring
   * @first: where they start: on a split ring the available index (the
   *   heads are in the available ring from there on), on a packed ring
   *   the descriptor position
   * @count: how many requests the driver had made available that the
   *   old back-end never marked used; -1 when it cannot be told (a
   *   packed ring given by addresses)
   *
   * The back-end came back without an in-flight area (it does not offer
   * `INFLIGHT_SHMFD`, or the device does not want it): the new one starts
   * from the used index, so each of these requests may be done again, or,
   * if the old one had completed later ones first, lost. Emitted during a
   * reconnect, before the rings start.
   *
   * Since: 1.0
   */
  signals[SIGNAL_REQUESTS_AT_RISK] =
    g_signal_new ("requests-at-risk", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 3, G_TYPE_UINT, G_TYPE_UINT, G_TYPE_INT);

  /**
   * VhostUserDevice::ring-call:
   * @self: the device
   * @ring: the ring the back-end signalled
   *
   * With #VhostUserDevice:watch-calls, the back-end signalled a ring's
   * call eventfd (the signal's detail is the ring's index: connect to
   * `ring-call::0` for ring 0 only). Nothing is allocated per call.
   *
   * Since: 1.0
   */
  signals[SIGNAL_RING_CALL] =
    g_signal_new ("ring-call", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_UINT);
}

static void
vhost_user_device_init (VhostUserDevice *self)
{
  self->regions = g_ptr_array_new_with_free_func ((GDestroyNotify) vhost_user_memory_region_unref);
  self->protocol_features = DEFAULT_PROTOCOL_FEATURES;
  self->reconnect_delay_max = 1000;
  self->reconnect_cancellable = g_cancellable_new ();
  self->inflight_fd = -1;
  self->log_fd = -1;
  self->drain_on_stop = TRUE;
  self->max_state_size = DEFAULT_MAX_STATE_SIZE;
  g_queue_init (&self->ops);
}

/**
 * vhost_user_device_new:
 * @frontend: the front-end to speak through, connected or not yet
 * @n_rings: how many virtqueues the device has
 *
 * Makes a device with no memory and no rings configured yet.
 *
 * Returns: (transfer full): a new #VhostUserDevice
 *
 * Since: 1.0
 */
VhostUserDevice *
vhost_user_device_new (VhostUserFrontend *frontend,
                       guint              n_rings)
{
  g_return_val_if_fail (VHOST_USER_IS_FRONTEND (frontend), NULL);

  return g_object_new (VHOST_USER_TYPE_DEVICE, "frontend", frontend, "n-rings", n_rings, NULL);
}

/**
 * vhost_user_device_get_frontend:
 * @self: a device
 *
 * Gets the front-end the device speaks through.
 *
 * Returns: (transfer none): the device's front-end
 *
 * Since: 1.0
 */
VhostUserFrontend *
vhost_user_device_get_frontend (VhostUserDevice *self)
{
  g_return_val_if_fail (VHOST_USER_IS_DEVICE (self), NULL);
  return self->frontend;
}

/**
 * vhost_user_device_get_n_rings:
 * @self: a device
 *
 * Gets how many virtqueues the device has.
 *
 * Returns: how many virtqueues the device has
 *
 * Since: 1.0
 */
guint
vhost_user_device_get_n_rings (VhostUserDevice *self)
{
  g_return_val_if_fail (VHOST_USER_IS_DEVICE (self), 0);
  return self->n_rings;
}

/**
 * vhost_user_device_get_state:
 * @self: a device
 *
 * Gets #VhostUserDevice:state.
 *
 * Returns: where the device stands
 *
 * Since: 1.0
 */
VhostUserDeviceState
vhost_user_device_get_state (VhostUserDevice *self)
{
  g_return_val_if_fail (VHOST_USER_IS_DEVICE (self), VHOST_USER_DEVICE_STATE_DISCONNECTED);
  return self->state;
}

/**
 * vhost_user_device_set_features:
 * @self: a device
 * @features: the virtio features wanted
 *
 * Sets #VhostUserDevice:features, for the next negotiation.
 *
 * Since: 1.0
 */
void
vhost_user_device_set_features (VhostUserDevice *self,
                                guint64          features)
{
  g_return_if_fail (VHOST_USER_IS_DEVICE (self));

  if (self->features == features)
    return;
  self->features = features;
  vhost_user_notify (G_OBJECT (self), properties[PROP_FEATURES]);
}

/**
 * vhost_user_device_get_features:
 * @self: a device
 *
 * Gets #VhostUserDevice:features.
 *
 * Returns: the virtio features the device wants
 *
 * Since: 1.0
 */
guint64
vhost_user_device_get_features (VhostUserDevice *self)
{
  g_return_val_if_fail (VHOST_USER_IS_DEVICE (self), 0);
  return self->features;
}

/**
 * vhost_user_device_set_protocol_features:
 * @self: a device
 * @protocol_features: the protocol features wanted
 *
 * Sets #VhostUserDevice:protocol-features, for the next negotiation.
 *
 * Since: 1.0
 */
void
vhost_user_device_set_protocol_features (VhostUserDevice *self,
                                         guint64          protocol_features)
{
  g_return_if_fail (VHOST_USER_IS_DEVICE (self));

  if (self->protocol_features == protocol_features)
    return;
  self->protocol_features = protocol_features;
  vhost_user_notify (G_OBJECT (self), properties[PROP_PROTOCOL_FEATURES]);
}

/**
 * vhost_user_device_get_protocol_features:
 * @self: a device
 *
 * Gets #VhostUserDevice:protocol-features.
 *
 * Returns: the protocol features the device wants
 *
 * Since: 1.0
 */
guint64
vhost_user_device_get_protocol_features (VhostUserDevice *self)
{
  g_return_val_if_fail (VHOST_USER_IS_DEVICE (self), 0);
  return self->protocol_features;
}

/**
 * vhost_user_device_get_acked_features:
 * @self: a device
 *
 * Gets #VhostUserDevice:acked-features.
 *
 * Returns: the virtio features agreed on the first start (0 before)
 *
 * Since: 1.0
 */
guint64
vhost_user_device_get_acked_features (VhostUserDevice *self)
{
  g_return_val_if_fail (VHOST_USER_IS_DEVICE (self), 0);
  return self->acked_features;
}

/**
 * vhost_user_device_get_acked_protocol_features:
 * @self: a device
 *
 * Gets #VhostUserDevice:acked-protocol-features.
 *
 * Returns: the protocol features agreed on the first start (0 before)
 *
 * Since: 1.0
 */
guint64
vhost_user_device_get_acked_protocol_features (VhostUserDevice *self)
{
  g_return_val_if_fail (VHOST_USER_IS_DEVICE (self), 0);
  return self->acked_protocol_features;
}

/**
 * vhost_user_device_close:
 * @self: a device
 *
 * Lets the back-end go: cancels an automatic reconnect and closes the
 * front-end's connection. The device keeps its state: a later
 * vhost_user_device_reconnect() gives it again.
 *
 * A reconnect under way holds a reference to the device: with
 * #VhostUserDevice:auto-reconnect on, close the device before dropping
 * the last reference of your own.
 *
 * Since: 1.0
 */
void
vhost_user_device_close (VhostUserDevice *self)
{
  g_return_if_fail (VHOST_USER_IS_DEVICE (self));

  self->close_serial++;
  if (self->state_abort != NULL)
    g_cancellable_cancel (self->state_abort);
  if (self->auto_reconnect_idle != NULL)
    {
      g_source_destroy (self->auto_reconnect_idle);
      g_clear_pointer (&self->auto_reconnect_idle, g_source_unref);
    }
  g_cancellable_cancel (self->reconnect_cancellable);
  g_object_unref (self->reconnect_cancellable);
  self->reconnect_cancellable = g_cancellable_new ();
  self->closing = TRUE;
  vhost_user_frontend_close (self->frontend);
  self->closing = FALSE;
  self->set_up = FALSE;
  vhost_user_device_set_state (self, VHOST_USER_DEVICE_STATE_DISCONNECTED);
}
