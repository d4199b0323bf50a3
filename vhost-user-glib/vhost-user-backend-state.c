/* vhost-user-backend-state.c: the device's own state, saved and loaded
 * over a pipe for migration (SET_DEVICE_STATE_FD, CHECK_DEVICE_STATE)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <sys/stat.h>
#include <glib-unix.h>
#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>

#include "vhost-user-backend-private.h"
#include "vhost-user-error.h"
#include "vhost-user-peer-fd-private.h"
#include "vhost-user-pipe-relay-private.h"

/* The transfer's streams tell the back-end when the device closed them:
 * that is when the state is all written (save) or all read (load), and
 * CHECK_DEVICE_STATE can be answered (a save's once the relay has passed
 * the end on to the front-end too). Closing may happen in a thread (the
 * default close_async), so the news is taken to the back-end's context.
 *
 * The device's stream is over our own pipe, never the front-end's: a
 * relay thread copies between the two (see vhost-user-pipe-relay.c), so
 * that a front-end that holds its pipe's lock stalls the transfer, not
 * the thread of the device's calls, and with it the session. */

typedef VhostUserStateTransfer Transfer;

struct _VhostUserStateTransfer
{
  gatomicrefcount      ref;
  VhostUserBackend    *backend;     /* weak: cleared when the session ends */
  GMutex               lock;
  gboolean             closed;
  GError              *error;
  VhostUserInvocation *check;       /* a CHECK_DEVICE_STATE waiting for the close */
  GObject             *stream;
  VhostUserPipeRelay  *relay;
  GSource             *relay_done;  /* in the back-end's context */
  guint                direction;
  guint                phase;
};

static Transfer *
transfer_ref (Transfer *t)
{
  g_atomic_ref_count_inc (&t->ref);
  return t;
}

static void
transfer_unref (Transfer *t)
{
  if (!g_atomic_ref_count_dec (&t->ref))
    return;
  g_clear_object (&t->check);
  g_clear_pointer (&t->relay, vhost_user_pipe_relay_stop);
  g_clear_pointer (&t->relay_done, g_source_unref);
  g_clear_error (&t->error);
  g_mutex_clear (&t->lock);
  g_free (t);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Transfer, transfer_unref)

/* Guards each back-end's state_transfer pointer: a device may fail its
 * transfer from a thread of its own while the session ends. */
static GMutex transfers_lock;

static Transfer *
current_transfer (VhostUserBackend *self)
{
  Transfer *t;

  g_mutex_lock (&transfers_lock);
  t = priv_of (self)->state_transfer != NULL ? transfer_ref (priv_of (self)->state_transfer) : NULL;
  g_mutex_unlock (&transfers_lock);
  return t;
}

/* Under the lock: the device is done, and a save has reached the
 * front-end (or failed to). */
static gboolean
transfer_is_over (Transfer *t)
{
  int errsv;

  if (!t->closed)
    return FALSE;
  if (t->direction == 1 || t->relay == NULL)
    return TRUE;
  if (!vhost_user_pipe_relay_is_done (t->relay))
    return FALSE;
  if (!vhost_user_pipe_relay_propagate (t->relay, &errsv) && t->error == NULL)
    t->error = g_error_new (VHOST_USER_ERROR, errsv == EPIPE ? VHOST_USER_ERROR_SOCKET_BROKEN
                                                             : VHOST_USER_ERROR_SOCKET_ERROR,
                            "Could not pass the device's state on to the front-end: %s", g_strerror (errsv));
  return TRUE;
}

/* In the back-end's context: the device is done; a waiting check is
 * answered. */
static void
transfer_answer (Transfer *t)
{
  g_autoptr(VhostUserInvocation) check = NULL;
  g_autoptr(GError) error = NULL;

  g_mutex_lock (&t->lock);
  if (t->check != NULL && transfer_is_over (t))
    {
      check = g_steal_pointer (&t->check);
      error = t->error != NULL ? g_error_copy (t->error) : NULL;
    }
  g_mutex_unlock (&t->lock);

  if (check == NULL)
    return;
  if (error != NULL)
    vhost_user_invocation_return_error (check, error);
  else
    vhost_user_invocation_return_u64 (check, 0);
}

/* Whether a new transfer may start: the device is done with this one,
 * and so is its relay, whichever way it went (a relay the front-end holds
 * in its pipe's lock is not, and one more would only wait beside it). */
static gboolean
transfer_is_busy (Transfer *t)
{
  gboolean busy;

  g_mutex_lock (&t->lock);
  busy = !transfer_is_over (t) || (t->relay != NULL && !vhost_user_pipe_relay_is_done (t->relay));
  g_mutex_unlock (&t->lock);
  return busy;
}

static gboolean
transfer_relay_done (int          fd,
                     GIOCondition condition,
                     gpointer     user_data)
{
  transfer_answer (user_data);
  return G_SOURCE_REMOVE;
}

static gboolean
transfer_closed_in_context (gpointer user_data)
{
  transfer_answer (user_data);
  return G_SOURCE_REMOVE;
}

static void
transfer_mark_closed (Transfer *t)
{
  GMainContext *context = NULL;

  g_mutex_lock (&t->lock);
  t->closed = TRUE;
  if (t->backend != NULL)
    context = g_main_context_ref (priv_of (t->backend)->context);
  g_mutex_unlock (&t->lock);

  if (context != NULL)
    {
      g_main_context_invoke_full (context, G_PRIORITY_DEFAULT, transfer_closed_in_context, transfer_ref (t),
                                  (GDestroyNotify) transfer_unref);
      g_main_context_unref (context);
    }
}

/* --- the streams the device gets --- */

#define STATE_TYPE_OUTPUT_STREAM (state_output_stream_get_type ())
G_DECLARE_FINAL_TYPE (StateOutputStream, state_output_stream, STATE, OUTPUT_STREAM, GFilterOutputStream)

struct _StateOutputStream
{
  GFilterOutputStream  parent_instance;
  Transfer            *transfer;
};

/* Pollable, as the pipe beneath is (and non-blocking): GIO then runs a
 * device's async writes from the context's poll. A filter stream that is
 * not pollable has them run in GTask's worker threads as blocking
 * write()s, and a front-end that never reads the pipe kept a worker
 * thread, of a pool the whole process shares, for good. */
static void state_output_stream_pollable_init (GPollableOutputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (StateOutputStream, state_output_stream, G_TYPE_FILTER_OUTPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_OUTPUT_STREAM,
                                                      state_output_stream_pollable_init))

static GPollableOutputStream *
output_base (GPollableOutputStream *stream)
{
  return G_POLLABLE_OUTPUT_STREAM (g_filter_output_stream_get_base_stream (G_FILTER_OUTPUT_STREAM (stream)));
}

static gboolean
state_output_stream_can_poll (GPollableOutputStream *stream)
{
  return g_pollable_output_stream_can_poll (output_base (stream));
}

static gboolean
state_output_stream_is_writable (GPollableOutputStream *stream)
{
  return g_pollable_output_stream_is_writable (output_base (stream));
}

static GSource *
state_output_stream_create_source (GPollableOutputStream *stream,
                                   GCancellable          *cancellable)
{
  g_autoptr(GSource) base = g_pollable_output_stream_create_source (output_base (stream), NULL);

  return g_pollable_source_new_full (stream, base, cancellable);
}

/* The pipe's reads and writes go round the base stream: its read(2) and
 * write(2) trust O_NONBLOCK, which the front-end shares (it may have kept
 * a copy of the end it passed) and can clear. */
static gssize
pipe_io_failed (gssize   n,
                GError **error)
{
  int errsv = errno;

  if (n < 0)
    g_set_error_literal (error, G_IO_ERROR, g_io_error_from_errno (errsv), g_strerror (errsv));
  return n;
}

/* Until @fd is ready for @condition, or @cancellable is cancelled. */
static gboolean
pipe_wait (int            fd,
           GIOCondition   condition,
           GCancellable  *cancellable,
           GError       **error)
{
  GPollFD fds[2] = { { fd, condition, 0 } };
  guint n_fds = g_cancellable_make_pollfd (cancellable, &fds[1]) ? 2 : 1;
  int n;

  do
    n = g_poll (fds, n_fds, -1);
  while (n < 0 && errno == EINTR);
  if (n_fds == 2)
    g_cancellable_release_fd (cancellable);
  return !g_cancellable_set_error_if_cancelled (cancellable, error);
}

static int
output_fd (gpointer stream)
{
  return g_unix_output_stream_get_fd (G_UNIX_OUTPUT_STREAM (g_filter_output_stream_get_base_stream (stream)));
}

static gssize
state_output_stream_write_nonblocking (GPollableOutputStream  *stream,
                                       const void             *buffer,
                                       gsize                   count,
                                       GError                **error)
{
  return pipe_io_failed (vhost_user_pipe_write (output_fd (stream), buffer, count), error);
}

static void
state_output_stream_pollable_init (GPollableOutputStreamInterface *iface)
{
  iface->can_poll = state_output_stream_can_poll;
  iface->is_writable = state_output_stream_is_writable;
  iface->create_source = state_output_stream_create_source;
  iface->write_nonblocking = state_output_stream_write_nonblocking;
}

static gboolean
state_output_stream_close (GOutputStream  *stream,
                           GCancellable   *cancellable,
                           GError        **error)
{
  StateOutputStream *self = STATE_OUTPUT_STREAM (stream);
  gboolean ok = G_OUTPUT_STREAM_CLASS (state_output_stream_parent_class)->close_fn (stream, cancellable, error);

  transfer_mark_closed (self->transfer);
  return ok;
}

static gssize
state_output_stream_write (GOutputStream  *stream,
                           const void     *buffer,
                           gsize           count,
                           GCancellable   *cancellable,
                           GError        **error)
{
  int fd = output_fd (stream);

  for (;;)
    {
      gssize n = vhost_user_pipe_write (fd, buffer, count);

      if (n >= 0 || errno != EAGAIN)
        return pipe_io_failed (n, error);
      if (!pipe_wait (fd, G_IO_OUT, cancellable, error))
        return -1;
    }
}

static void
state_output_stream_finalize (GObject *object)
{
  transfer_unref (STATE_OUTPUT_STREAM (object)->transfer);
  G_OBJECT_CLASS (state_output_stream_parent_class)->finalize (object);
}

static void
state_output_stream_class_init (StateOutputStreamClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = state_output_stream_finalize;
  G_OUTPUT_STREAM_CLASS (klass)->write_fn = state_output_stream_write;
  G_OUTPUT_STREAM_CLASS (klass)->close_fn = state_output_stream_close;
}

static void
state_output_stream_init (StateOutputStream *self)
{
}

#define STATE_TYPE_INPUT_STREAM (state_input_stream_get_type ())
G_DECLARE_FINAL_TYPE (StateInputStream, state_input_stream, STATE, INPUT_STREAM, GFilterInputStream)

struct _StateInputStream
{
  GFilterInputStream  parent_instance;
  Transfer           *transfer;
};

static void state_input_stream_pollable_init (GPollableInputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (StateInputStream, state_input_stream, G_TYPE_FILTER_INPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                      state_input_stream_pollable_init))

static int
input_fd (gpointer stream)
{
  return g_unix_input_stream_get_fd (G_UNIX_INPUT_STREAM (g_filter_input_stream_get_base_stream (stream)));
}

static GPollableInputStream *
input_base (GPollableInputStream *stream)
{
  return G_POLLABLE_INPUT_STREAM (g_filter_input_stream_get_base_stream (G_FILTER_INPUT_STREAM (stream)));
}

static gboolean
state_input_stream_can_poll (GPollableInputStream *stream)
{
  return g_pollable_input_stream_can_poll (input_base (stream));
}

static gboolean
state_input_stream_is_readable (GPollableInputStream *stream)
{
  return g_pollable_input_stream_is_readable (input_base (stream));
}

static GSource *
state_input_stream_create_source (GPollableInputStream *stream,
                                  GCancellable         *cancellable)
{
  g_autoptr(GSource) base = g_pollable_input_stream_create_source (input_base (stream), NULL);

  return g_pollable_source_new_full (stream, base, cancellable);
}

/* The end of the pipe is the end of the state only while the session
 * lasts: a front-end that gives up on a load closes its end too, then
 * hangs up. An end read once the session is over is an error. (One read
 * before we see the hang-up cannot be told from a whole state: the
 * device then has ::disconnected before any CHECK_DEVICE_STATE.) */
static gssize
end_of_state (StateInputStream  *self,
              gssize             n,
              gsize              count,
              GError           **error)
{
  gboolean gone;

  int errsv = 0;

  if (n != 0 || count == 0)
    return n;
  g_mutex_lock (&self->transfer->lock);
  gone = self->transfer->backend == NULL;
  if (!gone && self->transfer->relay != NULL)
    vhost_user_pipe_relay_propagate (self->transfer->relay, &errsv);
  g_mutex_unlock (&self->transfer->lock);
  if (errsv != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "Could not read the device's state from the front-end: %s", g_strerror (errsv));
      return -1;
    }
  if (!gone)
    return 0;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                       "The front-end went before the end of the device's state");
  return -1;
}

static gssize
state_input_stream_read_nonblocking (GPollableInputStream  *stream,
                                     void                  *buffer,
                                     gsize                  count,
                                     GError               **error)
{
  gssize n = pipe_io_failed (vhost_user_pipe_read (input_fd (stream), buffer, count), error);

  return end_of_state (STATE_INPUT_STREAM (stream), n, count, error);
}

static void
state_input_stream_pollable_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = state_input_stream_can_poll;
  iface->is_readable = state_input_stream_is_readable;
  iface->create_source = state_input_stream_create_source;
  iface->read_nonblocking = state_input_stream_read_nonblocking;
}

static gssize
state_input_stream_read (GInputStream  *stream,
                         void          *buffer,
                         gsize          count,
                         GCancellable  *cancellable,
                         GError       **error)
{
  int fd = input_fd (stream);
  gssize n;

  while ((n = vhost_user_pipe_read (fd, buffer, count)) < 0 && errno == EAGAIN)
    if (!pipe_wait (fd, G_IO_IN, cancellable, error))
      return end_of_state (STATE_INPUT_STREAM (stream), -1, count, error);
  return end_of_state (STATE_INPUT_STREAM (stream), pipe_io_failed (n, error), count, error);
}

static gboolean
state_input_stream_close (GInputStream  *stream,
                          GCancellable  *cancellable,
                          GError       **error)
{
  StateInputStream *self = STATE_INPUT_STREAM (stream);
  gboolean ok = G_INPUT_STREAM_CLASS (state_input_stream_parent_class)->close_fn (stream, cancellable, error);

  transfer_mark_closed (self->transfer);
  return ok;
}

static void
state_input_stream_finalize (GObject *object)
{
  transfer_unref (STATE_INPUT_STREAM (object)->transfer);
  G_OBJECT_CLASS (state_input_stream_parent_class)->finalize (object);
}

static void
state_input_stream_class_init (StateInputStreamClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = state_input_stream_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = state_input_stream_read;
  G_INPUT_STREAM_CLASS (klass)->close_fn = state_input_stream_close;
}

static void
state_input_stream_init (StateInputStream *self)
{
}

/* --- the signals --- */

enum {
  SIGNAL_SAVE_STATE,
  SIGNAL_LOAD_STATE,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

void
vhost_user_backend_class_init_state (GType type)
{
  /**
   * VhostUserBackend::save-state:
   * @self: the back-end
   * @stream: where the device writes its state
   * @phase: the migration phase; 0 (the rings are stopped) is the only
   *   one the protocol defines
   *
   * The front-end migrates the device and asks for its state
   * (`SET_DEVICE_STATE_FD`, direction save). Write it to @stream, now or
   * later, synchronously or not, then close @stream: the close says the
   * state is complete, and `CHECK_DEVICE_STATE` is answered then. Call
   * vhost_user_backend_fail_state_transfer() first if it cannot be
   * saved. Emitted once the request is answered, so the front-end
   * already reads the pipe.
   *
   * The library offers `VHOST_USER_PROTOCOL_FEATURE_DEVICE_STATE` only if
   * the device puts it in [property@VhostUser.Backend:protocol-features]:
   * a device that handles this signal and
   * [signal@VhostUser.Backend::load-state] should.
   *
   * Returns: %TRUE if the handler took the stream (a handler that
   *   returns nothing, as a binding's may, did not: the transfer fails)
   *
   * Since: 1.0
   */
  signals[SIGNAL_SAVE_STATE] =
    g_signal_new ("save-state", type, G_SIGNAL_RUN_LAST, 0, g_signal_accumulator_true_handled, NULL, NULL,
                  G_TYPE_BOOLEAN, 2, G_TYPE_OUTPUT_STREAM, G_TYPE_UINT);

  /**
   * VhostUserBackend::load-state:
   * @self: the back-end
   * @stream: the state another instance of the device saved
   * @phase: the migration phase (0: the rings are stopped)
   *
   * The front-end gives the device the state it saved elsewhere
   * (`SET_DEVICE_STATE_FD`, direction load). Read @stream to its end,
   * apply the state, and close @stream (calling
   * vhost_user_backend_fail_state_transfer() first if it does not fit
   * this device): `CHECK_DEVICE_STATE` is answered at the close.
   *
   * The end of @stream is the end of the state only if
   * `CHECK_DEVICE_STATE` follows: a front-end that gives up on the load
   * closes its end of the pipe too, then hangs up. A read that reaches
   * the end after the hang-up fails with %G_IO_ERROR_CONNECTION_CLOSED;
   * one that reaches it first cannot tell. So a device that outlives the
   * session should undo what the load applied if
   * [signal@VhostUser.Backend::disconnected] comes before
   * [signal@VhostUser.Backend::check-device-state].
   *
   * Returns: %TRUE if the handler took the stream
   *
   * Since: 1.0
   */
  signals[SIGNAL_LOAD_STATE] =
    g_signal_new ("load-state", type, G_SIGNAL_RUN_LAST, 0, g_signal_accumulator_true_handled, NULL, NULL,
                  G_TYPE_BOOLEAN, 2, G_TYPE_INPUT_STREAM, G_TYPE_UINT);
}

/* After the reply: the device gets its stream. */
static gboolean
emit_transfer (gpointer user_data)
{
  Transfer *t = user_data;
  g_autoptr(VhostUserBackend) backend = NULL;
  g_autoptr(GObject) stream = NULL;
  gboolean handled = FALSE;

  g_mutex_lock (&t->lock);
  backend = t->backend != NULL ? g_object_ref (t->backend) : NULL;
  stream = t->stream != NULL ? g_object_ref (t->stream) : NULL;
  g_mutex_unlock (&t->lock);
  if (backend == NULL || stream == NULL)
    return G_SOURCE_REMOVE;

  g_signal_emit (backend, signals[t->direction == 0 ? SIGNAL_SAVE_STATE : SIGNAL_LOAD_STATE], 0, stream, t->phase,
                 &handled);
  if (!handled)
    {
      g_autoptr(GError) error = g_error_new (VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                                             "This device does not %s its state",
                                             t->direction == 0 ? "save" : "load");

      vhost_user_backend_fail_state_transfer (backend, error);
      if (t->direction == 0)
        g_output_stream_close (G_OUTPUT_STREAM (stream), NULL, NULL);
      else
        g_input_stream_close (G_INPUT_STREAM (stream), NULL, NULL);
    }
  return G_SOURCE_REMOVE;
}

/* The session ends: a device still writing finds its stream's pipe
 * broken, and its close no longer reaches us. */
void
vhost_user_backend_end_state_transfer (VhostUserBackend *self)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  Transfer *t;
  g_autoptr(GObject) stream = NULL;
  g_autoptr(VhostUserInvocation) check = NULL;
  g_autoptr(VhostUserPipeRelay) relay = NULL;
  g_autoptr(GSource) relay_done = NULL;

  g_mutex_lock (&transfers_lock);
  t = g_steal_pointer (&priv->state_transfer);
  g_mutex_unlock (&transfers_lock);
  if (t == NULL)
    return;
  g_mutex_lock (&t->lock);
  t->backend = NULL;
  stream = g_steal_pointer (&t->stream);
  check = g_steal_pointer (&t->check);
  relay = g_steal_pointer (&t->relay);
  relay_done = g_steal_pointer (&t->relay_done);
  g_mutex_unlock (&t->lock);
  /* out of the lock: dropping the stream may close it, which takes it */
  g_clear_object (&stream);
  if (relay_done != NULL)
    g_source_destroy (relay_done);
  transfer_unref (t);
}

/**
 * vhost_user_backend_fail_state_transfer:
 * @self: a back-end
 * @error: why the device's state could not be saved or loaded
 *
 * Marks the device-state transfer under way as failed: the
 * `CHECK_DEVICE_STATE` that follows reports @error to the front-end.
 * Call it before closing the stream of
 * [signal@VhostUser.Backend::save-state] or
 * [signal@VhostUser.Backend::load-state]. The first error is kept.
 *
 * Since: 1.0
 */
void
vhost_user_backend_fail_state_transfer (VhostUserBackend *self,
                                        const GError     *error)
{
  g_autoptr(Transfer) t = NULL;

  g_return_if_fail (VHOST_USER_IS_BACKEND (self));
  g_return_if_fail (error != NULL);

  t = current_transfer (self);
  if (t == NULL)
    return;
  g_mutex_lock (&t->lock);
  if (t->error == NULL)
    t->error = g_error_copy (error);
  g_mutex_unlock (&t->lock);
}

/* SET_DEVICE_STATE_FD: the front-end's pipe end is checked and wrapped;
 * the reply says we use it (no fd of ours), then the device is told. */
gboolean
vhost_user_backend_real_set_device_state_fd (VhostUserBackend    *self,
                                             VhostUserInvocation *invocation,
                                             guint                direction,
                                             guint                phase,
                                             int                  fd)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  struct stat st;
  GSource *idle;
  Transfer *t;
  VhostUserPipeRelay *relay;
  g_autoptr(GError) error = NULL;
  int own;

  if (direction > 1 || phase != 0)
    {
      vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_PARAM,
                                           "Device-state transfer direction %u, phase %u: the protocol knows "
                                           "directions 0 (save) and 1 (load), and phase 0 (stopped)",
                                           direction, phase);
      return TRUE;
    }
  if (fstat (fd, &st) < 0 || !S_ISFIFO (st.st_mode))
    {
      vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INCORRECT_FDS,
                                           "The device-state fd is not a pipe");
      return TRUE;
    }
  if (priv->state_transfer != NULL && transfer_is_busy (priv->state_transfer))
    {
      vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_OPERATION,
                                           "A device-state transfer is already under way");
      return TRUE;
    }
  own = steal_request_fd (self, 0);
  if (own < 0)
    {
      vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INCORRECT_FDS,
                                           "SET_DEVICE_STATE_FD without its fd");
      return TRUE;
    }
  /* (the relay reads or writes the front-end's pipe, in its thread; the
   * device's stream is our end of the relay's own pipe: see
   * StateOutputStream, a device's blocking calls still block, in poll(),
   * which its cancellable reaches) */
  relay = vhost_user_pipe_relay_new (own, direction == 0, &own, &error);
  if (relay == NULL)
    {
      vhost_user_invocation_return_error (invocation, error);
      return TRUE;
    }

  vhost_user_backend_end_state_transfer (self);
  t = g_new0 (Transfer, 1);
  g_atomic_ref_count_init (&t->ref);
  g_mutex_init (&t->lock);
  t->backend = self;
  t->direction = direction;
  t->phase = phase;
  t->relay = relay;
  t->relay_done = g_unix_fd_source_new (vhost_user_pipe_relay_get_done_fd (relay), G_IO_IN);
  g_source_set_callback (t->relay_done, G_SOURCE_FUNC (transfer_relay_done), transfer_ref (t),
                         (GDestroyNotify) transfer_unref);
  g_source_set_static_name (t->relay_done, "vhost-user device state relay");
  g_source_attach (t->relay_done, priv->context);
  if (direction == 0)
    {
      StateOutputStream *out = g_object_new (STATE_TYPE_OUTPUT_STREAM,
                                             "base-stream", g_unix_output_stream_new (own, TRUE),
                                             "close-base-stream", TRUE, NULL);

      g_object_unref (g_filter_output_stream_get_base_stream (G_FILTER_OUTPUT_STREAM (out)));
      out->transfer = transfer_ref (t);
      t->stream = G_OBJECT (out);
    }
  else
    {
      StateInputStream *in = g_object_new (STATE_TYPE_INPUT_STREAM,
                                           "base-stream", g_unix_input_stream_new (own, TRUE),
                                           "close-base-stream", TRUE, NULL);

      g_object_unref (g_filter_input_stream_get_base_stream (G_FILTER_INPUT_STREAM (in)));
      in->transfer = transfer_ref (t);
      t->stream = G_OBJECT (in);
    }
  g_mutex_lock (&transfers_lock);
  priv->state_transfer = t;
  g_mutex_unlock (&transfers_lock);

  /* from an idle: the reply goes first, or a device that writes more
   * than the pipe holds would wait for a reader still waiting for it.
   * The idle's reference is taken before the reply: one that cannot be
   * sent (the front-end gone) ends the session at once, and with it the
   * back-end's reference, the last one; the idle then finds the session
   * over and emits nothing. */
  idle = g_idle_source_new ();
  g_source_set_callback (idle, emit_transfer, transfer_ref (t), (GDestroyNotify) transfer_unref);
  g_source_set_static_name (idle, "vhost-user device state");
  g_source_attach (idle, priv->context);
  g_source_unref (idle);
  /* bit 8: no fd of ours, the front-end's pipe is used */
  vhost_user_invocation_return_u64 (invocation, 0x100);
  return TRUE;
}

/* CHECK_DEVICE_STATE: answered when the device closed its stream. */
gboolean
vhost_user_backend_real_check_device_state (VhostUserBackend    *self,
                                            VhostUserInvocation *invocation)
{
  g_autoptr(Transfer) t = current_transfer (self);

  if (t == NULL)
    {
      vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_OPERATION,
                                           "No device-state transfer to check");
      return TRUE;
    }
  g_mutex_lock (&t->lock);
  g_set_object (&t->check, invocation);
  g_mutex_unlock (&t->lock);
  transfer_answer (t);
  return TRUE;
}
