/* vhost-user-frontend.c: the VMM side of vhost-user
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "vhost-user-error.h"
#include "vhost-user-enum-types.h"
#include "vhost-user-frontend-private.h"
#include "vhost-user-socket-private.h"
#include "vhost-user-notify-private.h"

/**
 * VhostUserFrontend:
 *
 * The VMM side of a vhost-user connection (the "master" in older texts):
 * it sends requests to a back-end and reads its replies.
 *
 * Every request of the protocol can be sent with
 * [method@VhostUser.Frontend.request_async], which never blocks the
 * caller's main loop, or its blocking form; typed helpers cover the
 * common layouts ([method@VhostUser.Frontend.get_u64],
 * [method@VhostUser.Frontend.set_vring_state], …) and
 * [method@VhostUser.Frontend.negotiate] runs the opening handshake the
 * way QEMU does.
 *
 * A request whose gating feature was not negotiated fails with
 * %VHOST_USER_ERROR_INVALID_OPERATION before anything is sent. When
 * `REPLY_ACK` is negotiated every request asks for an acknowledgement
 * (unless [property@VhostUser.Frontend:request-acks] says not to).
 * Every reply is checked (same request, reply flag, size, fds); a bad one,
 * or none within [property@VhostUser.Frontend:timeout]
 * (%VHOST_USER_ERROR_TIMED_OUT), closes the connection, and every request
 * still waiting fails with it: [signal@VhostUser.Frontend::disconnected]
 * says why and whether to reconnect; [method@VhostUser.Frontend.reconnect]
 * dials again, after which the caller replays its setup. A deliberate
 * [method@VhostUser.Frontend.close] is %VHOST_USER_ERROR_CLOSED.
 *
 * Every `_async` call has a `_finish` of the same name that takes only the
 * result (and out-arguments). A cancellable may be cancelled from any
 * thread; the request then fails in the front-end's context, and its
 * reply, which cannot be unasked, is read and dropped. Blocking calls wait
 * on a private main context (see [method@VhostUser.Frontend.request]), so
 * the front-end's other sources do not run while they wait.
 *
 * ## File descriptors
 *
 * One rule for every call: an fd the application passes in is borrowed.
 * The front-end duplicates what it keeps or sends (as
 * g_unix_fd_list_append() does) and the caller still closes its own. An
 * fd the front-end hands out, as a return value or an out-argument, is the
 * caller's to close. An fd given to a signal handler is borrowed for the
 * emission; a handler that keeps it dup()s it.
 *
 * Since: 1.0
 */

enum {
  PROP_0,
  PROP_MAIN_CONTEXT,
  PROP_TIMEOUT,
  PROP_REQUEST_ACKS,
  PROP_CONNECTED,
  PROP_FEATURES,
  PROP_ACKED_FEATURES,
  PROP_PROTOCOL_FEATURES,
  PROP_ACKED_PROTOCOL_FEATURES,
  PROP_OBJECT_REGISTRY,
  N_PROPS
};

enum {
  SIGNAL_DISCONNECTED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (VhostUserFrontend, vhost_user_frontend, G_TYPE_OBJECT)

static void
set_u64_property (VhostUserFrontend *self,
                  guint64           *field,
                  guint64            value,
                  guint              prop)
{
  if (*field != value)
    {
      *field = value;
      vhost_user_notify (G_OBJECT (self), properties[prop]);
    }
}

/* The connection is gone: every request still waiting fails with why. */
static void
on_closed (VhostUserConnection *connection,
           const GError        *error,
           gpointer             user_data)
{
  VhostUserFrontend *self = user_data;
  g_autoptr(GError) reason = NULL;

  g_object_ref (self);
  reason = error != NULL ? g_error_copy (error)
                         : g_error_new_literal (VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_BROKEN,
                                                "The connection was closed");

  g_clear_object (&self->connection);
  vhost_user_requester_set_connection (self->requester, NULL);
  vhost_user_frontend_close_backend_channel (self);
  vhost_user_frontend_forget_shared (self);
  vhost_user_requester_fail_all (self->requester, reason);

  /* (handlers start their async work in the front-end's context, even
   * when the connection closed during a blocking call's private wait) */
  g_main_context_push_thread_default (self->context);
  g_object_freeze_notify (G_OBJECT (self));
  set_u64_property (self, &self->features, 0, PROP_FEATURES);
  set_u64_property (self, &self->acked_features, 0, PROP_ACKED_FEATURES);
  self->features_set = FALSE;
  set_u64_property (self, &self->protocol_features, 0, PROP_PROTOCOL_FEATURES);
  set_u64_property (self, &self->acked_protocol_features, 0, PROP_ACKED_PROTOCOL_FEATURES);
  vhost_user_requester_set_protocol_features (self->requester, 0);
  self->n_rings = 0;
  vhost_user_notify (G_OBJECT (self), properties[PROP_CONNECTED]);
  g_object_thaw_notify (G_OBJECT (self));

  g_signal_emit (self, signals[SIGNAL_DISCONNECTED], 0, reason, vhost_user_error_should_reconnect (reason));
  g_main_context_pop_thread_default (self->context);
  g_object_unref (self);
}

/* A request about one ring sets that ring up: the back-end may then
 * name it in its own requests (in-band calls and errors). */
static void
track_ring (VhostUserFrontend *self,
            guint32            request,
            GBytes            *sent)
{
  const VhostUserRequestInfo *info = vhost_user_request_info_lookup (VHOST_USER_CHANNEL_MAIN, request);
  gsize size = 0;
  const guint8 *data = sent != NULL ? g_bytes_get_data (sent, &size) : NULL;
  guint32 index;

  if (info == NULL || size < 4 ||
      (info->request.kind != VHOST_USER_PAYLOAD_VRING_STATE && info->request.kind != VHOST_USER_PAYLOAD_VRING_ADDR &&
       info->request.kind != VHOST_USER_PAYLOAD_VRING_FD))
    return;
  memcpy (&index, data, 4);
  /* the fd layout keeps its flags above the index's 8 bits */
  if (info->request.kind == VHOST_USER_PAYLOAD_VRING_FD)
    index &= 0xff;
  if (index < G_MAXUINT && index + 1 > self->n_rings)
    self->n_rings = index + 1;
}

/* What a successful request changes in what we know of the back-end. */
void
vhost_user_frontend_track_state (gpointer  user_data,
                                 guint32   request,
                                 GBytes   *sent,
                                 GBytes   *reply)
{
  VhostUserFrontend *self = user_data;
  guint64 value = 0;

  track_ring (self, request, sent);
  vhost_user_frontend_track_channel (self, request, reply);
  switch (request)
    {
    case VHOST_USER_REQUEST_GET_FEATURES:
      if (reply != NULL && g_bytes_get_size (reply) == 8)
        memcpy (&value, g_bytes_get_data (reply, NULL), 8);
      set_u64_property (self, &self->features, value, PROP_FEATURES);
      break;
    case VHOST_USER_REQUEST_SET_FEATURES:
      memcpy (&value, g_bytes_get_data (sent, NULL), 8);
      set_u64_property (self, &self->acked_features, value, PROP_ACKED_FEATURES);
      self->features_set = TRUE;
      break;
    case VHOST_USER_REQUEST_GET_PROTOCOL_FEATURES:
      if (reply != NULL && g_bytes_get_size (reply) == 8)
        memcpy (&value, g_bytes_get_data (reply, NULL), 8);
      set_u64_property (self, &self->protocol_features, value, PROP_PROTOCOL_FEATURES);
      break;
    case VHOST_USER_REQUEST_SET_PROTOCOL_FEATURES:
      memcpy (&value, g_bytes_get_data (sent, NULL), 8);
      set_u64_property (self, &self->acked_protocol_features, value, PROP_ACKED_PROTOCOL_FEATURES);
      vhost_user_requester_set_protocol_features (self->requester, value);
      if (self->connection != NULL)
        vhost_user_connection_set_protocol_features (self->connection, value);
      break;
    default:
      break;
    }
}

/* Everything the back-end sends on the main socket is a reply. */
static void
on_message (VhostUserConnection *connection,
            VhostUserMessage    *msg,
            const GError        *error,
            gpointer             user_data)
{
  VhostUserFrontend *self = user_data;

  vhost_user_requester_handle_reply (self->requester, msg, error);
}

/* --- connection --- */

/**
 * vhost_user_frontend_take_socket:
 * @self: a front-end
 * @socket: a UNIX stream socket connected to a back-end
 * @error: return location for a #GError
 *
 * Talks to the back-end on @socket.
 *
 * Returns: %TRUE on success, %FALSE if already connected
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_take_socket (VhostUserFrontend  *self,
                                 GSocket            *socket,
                                 GError            **error)
{
  g_return_val_if_fail (VHOST_USER_IS_FRONTEND (self), FALSE);
  g_return_val_if_fail (G_IS_SOCKET (socket), FALSE);

  if (self->connection != NULL)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION, "Already connected");
      return FALSE;
    }
  self->connection = vhost_user_connection_new (socket, VHOST_USER_CHANNEL_MAIN, TRUE, self->context);
  vhost_user_connection_set_handlers (self->connection, on_message, on_closed, self);
  vhost_user_requester_set_connection (self->requester, self->connection);
  vhost_user_connection_start (self->connection);
  vhost_user_notify (G_OBJECT (self), properties[PROP_CONNECTED]);
  return TRUE;
}

/* The blocking part of listen_on_path: one back-end, then the socket
 * file goes. */
static GSocket *
accept_one (const char    *path,
            guint          timeout_ms,
            GCancellable  *cancellable,
            GError       **error)
{
  g_autoptr(GSocket) listener = NULL;
  GSocket *socket;

  listener = vhost_user_socket_listen (path, 0, error);
  if (listener == NULL)
    return NULL;
  g_socket_set_blocking (listener, TRUE);
  g_socket_set_timeout (listener, (timeout_ms + 999) / 1000);
  socket = g_socket_accept (listener, cancellable, error);
  g_socket_close (listener, NULL);
  g_unlink (path);
  if (socket == NULL && error != NULL && *error != NULL && g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    {
      g_clear_error (error);
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_CONNECT,
                   "No back-end connected to %s within %u ms", path, timeout_ms);
    }
  return socket;
}

/**
 * vhost_user_frontend_connect_to_path:
 * @self: a front-end
 * @path: the socket a back-end listens on
 * @timeout_ms: how long to wait for it to appear; 0 for one attempt
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Connects to a back-end (qemu-storage-daemon's `--export
 * type=vhost-user-blk`, DPDK's `net_vhost`, …). Blocks while connecting;
 * vhost_user_frontend_connect_to_path_async() does not. The path is kept
 * for vhost_user_frontend_reconnect().
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_connect_to_path (VhostUserFrontend  *self,
                                     const char         *path,
                                     guint               timeout_ms,
                                     GCancellable       *cancellable,
                                     GError            **error)
{
  g_autoptr(GSocket) socket = NULL;

  g_return_val_if_fail (VHOST_USER_IS_FRONTEND (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  if (self->path != path)
    {
      g_free (self->path);
      self->path = g_strdup (path);
    }
  socket = vhost_user_socket_connect (path, timeout_ms, cancellable, error);
  return socket != NULL && vhost_user_frontend_take_socket (self, socket, error);
}

/**
 * vhost_user_frontend_listen_on_path:
 * @self: a front-end
 * @path: where to create the socket (mode 0600; a stale socket file is
 *   replaced)
 * @timeout_ms: how long to wait for a back-end; 0 for ever
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Waits for a back-end to connect, as QEMU does with `-chardev
 * socket,server=on` (the back-end then runs with its `--connect` option,
 * or vhost_user_backend_connect_to_path()). Blocks until one does
 * (vhost_user_frontend_listen_on_path_async() does not); the socket file
 * is removed once it has.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_listen_on_path (VhostUserFrontend  *self,
                                    const char         *path,
                                    guint               timeout_ms,
                                    GCancellable       *cancellable,
                                    GError            **error)
{
  g_autoptr(GSocket) socket = NULL;

  g_return_val_if_fail (VHOST_USER_IS_FRONTEND (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  socket = accept_one (path, timeout_ms, cancellable, error);
  return socket != NULL && vhost_user_frontend_take_socket (self, socket, error);
}

/**
 * vhost_user_frontend_reconnect:
 * @self: a front-end
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Dials the last path again after a disconnect, waiting up to
 * [property@VhostUser.Frontend:timeout] for the back-end to come back.
 * The session starts from nothing: negotiate and replay the setup.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_reconnect (VhostUserFrontend  *self,
                               GCancellable       *cancellable,
                               GError            **error)
{
  g_return_val_if_fail (VHOST_USER_IS_FRONTEND (self), FALSE);

  if (self->path == NULL)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION, "Never connected to a path");
      return FALSE;
    }
  if (self->connection != NULL)
    return TRUE;
  return vhost_user_frontend_connect_to_path (self, self->path, self->timeout_ms, cancellable, error);
}

/* --- the async forms: the socket is made in a worker thread (connecting
 * retries until the timeout, accepting blocks), then taken in the
 * caller's context --- */

typedef struct {
  char    *path;
  guint    timeout_ms;
  gboolean listen;
} Dial;

static void
dial_free (gpointer data)
{
  Dial *dial = data;

  g_free (dial->path);
  g_free (dial);
}

static void
dial_in_thread (GTask        *task,
                gpointer      source_object,
                gpointer      task_data,
                GCancellable *cancellable)
{
  Dial *dial = task_data;
  GError *error = NULL;
  GSocket *socket;

  socket = dial->listen ? accept_one (dial->path, dial->timeout_ms, cancellable, &error)
                        : vhost_user_socket_connect (dial->path, dial->timeout_ms, cancellable, &error);
  if (socket == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, socket, g_object_unref);
}

static void
dialled (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  VhostUserFrontend *self = VHOST_USER_FRONTEND (source);
  g_autoptr(GTask) task = user_data;
  g_autoptr(GSocket) socket = NULL;
  GError *error = NULL;

  socket = g_task_propagate_pointer (G_TASK (result), &error);
  if (socket == NULL || !vhost_user_frontend_take_socket (self, socket, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
dial_async (VhostUserFrontend   *self,
            const char          *path,
            guint                timeout_ms,
            gboolean             listen,
            GCancellable        *cancellable,
            gpointer             source_tag,
            GAsyncReadyCallback  callback,
            gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  g_autoptr(GTask) worker = g_task_new (self, cancellable, dialled, task);
  Dial *dial = g_new0 (Dial, 1);

  g_task_set_source_tag (task, source_tag);
  dial->path = g_strdup (path);
  dial->timeout_ms = timeout_ms;
  dial->listen = listen;
  g_task_set_task_data (worker, dial, dial_free);
  g_task_run_in_thread (worker, dial_in_thread);
}

static gboolean
dial_finish (VhostUserFrontend  *self,
             GAsyncResult       *result,
             gpointer            source_tag,
             GError            **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, source_tag), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * vhost_user_frontend_connect_to_path_async:
 * @self: a front-end
 * @path: the socket a back-end listens on
 * @timeout_ms: how long to wait for it to appear; 0 for one attempt
 * @cancellable: (nullable): a #GCancellable
 * @callback: called once connected (or not)
 * @user_data: data for @callback
 *
 * The async form of vhost_user_frontend_connect_to_path(); finish with
 * vhost_user_frontend_connect_to_path_finish(). Call it from the thread
 * that runs the front-end's context.
 *
 * Since: 1.0
 */
void
vhost_user_frontend_connect_to_path_async (VhostUserFrontend   *self,
                                           const char          *path,
                                           guint                timeout_ms,
                                           GCancellable        *cancellable,
                                           GAsyncReadyCallback  callback,
                                           gpointer             user_data)
{
  g_return_if_fail (VHOST_USER_IS_FRONTEND (self));
  g_return_if_fail (path != NULL);

  if (self->path != path)
    {
      g_free (self->path);
      self->path = g_strdup (path);
    }
  dial_async (self, path, timeout_ms, FALSE, cancellable, vhost_user_frontend_connect_to_path_async,
              callback, user_data);
}

/**
 * vhost_user_frontend_connect_to_path_finish:
 * @self: a front-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_frontend_connect_to_path_async().
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_connect_to_path_finish (VhostUserFrontend  *self,
                                            GAsyncResult       *result,
                                            GError            **error)
{
  return dial_finish (self, result, vhost_user_frontend_connect_to_path_async, error);
}

/**
 * vhost_user_frontend_listen_on_path_async:
 * @self: a front-end
 * @path: where to create the socket (mode 0600)
 * @timeout_ms: how long to wait for a back-end; 0 for ever
 * @cancellable: (nullable): a #GCancellable
 * @callback: called once a back-end connected (or none did)
 * @user_data: data for @callback
 *
 * The async form of vhost_user_frontend_listen_on_path(); finish with
 * vhost_user_frontend_listen_on_path_finish().
 *
 * Since: 1.0
 */
void
vhost_user_frontend_listen_on_path_async (VhostUserFrontend   *self,
                                          const char          *path,
                                          guint                timeout_ms,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data)
{
  g_return_if_fail (VHOST_USER_IS_FRONTEND (self));
  g_return_if_fail (path != NULL);

  dial_async (self, path, timeout_ms, TRUE, cancellable, vhost_user_frontend_listen_on_path_async,
              callback, user_data);
}

/**
 * vhost_user_frontend_listen_on_path_finish:
 * @self: a front-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_frontend_listen_on_path_async().
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_listen_on_path_finish (VhostUserFrontend  *self,
                                           GAsyncResult       *result,
                                           GError            **error)
{
  return dial_finish (self, result, vhost_user_frontend_listen_on_path_async, error);
}

/**
 * vhost_user_frontend_reconnect_async:
 * @self: a front-end
 * @cancellable: (nullable): a #GCancellable
 * @callback: called once connected again (or not)
 * @user_data: data for @callback
 *
 * The async form of vhost_user_frontend_reconnect(); finish with
 * vhost_user_frontend_reconnect_finish().
 *
 * Since: 1.0
 */
void
vhost_user_frontend_reconnect_async (VhostUserFrontend   *self,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_return_if_fail (VHOST_USER_IS_FRONTEND (self));

  if (self->path == NULL)
    g_task_report_new_error (self, callback, user_data, vhost_user_frontend_reconnect_async, VHOST_USER_ERROR,
                             VHOST_USER_ERROR_INVALID_OPERATION, "Never connected to a path");
  else if (self->connection != NULL)
    {
      g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

      g_task_set_source_tag (task, vhost_user_frontend_reconnect_async);
      g_task_return_boolean (task, TRUE);
    }
  else
    dial_async (self, self->path, self->timeout_ms, FALSE, cancellable, vhost_user_frontend_reconnect_async,
                callback, user_data);
}

/**
 * vhost_user_frontend_reconnect_finish:
 * @self: a front-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_frontend_reconnect_async().
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_reconnect_finish (VhostUserFrontend  *self,
                                      GAsyncResult       *result,
                                      GError            **error)
{
  return dial_finish (self, result, vhost_user_frontend_reconnect_async, error);
}

/**
 * vhost_user_frontend_close:
 * @self: a front-end
 *
 * Closes the connection; requests still waiting fail and
 * [signal@VhostUser.Frontend::disconnected] is emitted, both with
 * %VHOST_USER_ERROR_CLOSED (which does not ask for a reconnection).
 *
 * Since: 1.0
 */
void
vhost_user_frontend_close (VhostUserFrontend *self)
{
  g_autoptr(GError) error = NULL;

  g_return_if_fail (VHOST_USER_IS_FRONTEND (self));

  if (self->connection == NULL)
    return;
  error = g_error_new_literal (VHOST_USER_ERROR, VHOST_USER_ERROR_CLOSED, "Closed by the front-end");
  vhost_user_connection_close (self->connection, error);
}


/**
 * vhost_user_frontend_get_object_registry:
 * @self: a front-end
 *
 * Gets [property@VhostUser.Frontend:object-registry].
 *
 * Returns: (transfer none): the registry of shared objects
 *
 * Since: 1.0
 */
VhostUserObjectRegistry *
vhost_user_frontend_get_object_registry (VhostUserFrontend *self)
{
  g_return_val_if_fail (VHOST_USER_IS_FRONTEND (self), NULL);
  return self->objects;
}

/**
 * vhost_user_frontend_set_object_registry:
 * @self: a front-end
 * @registry: (nullable): the registry to use, or %NULL for a new one
 *
 * Sets [property@VhostUser.Frontend:object-registry]. The objects the
 * back-end exported into the old registry leave it.
 *
 * Since: 1.0
 */
void
vhost_user_frontend_set_object_registry (VhostUserFrontend       *self,
                                         VhostUserObjectRegistry *registry)
{
  g_return_if_fail (VHOST_USER_IS_FRONTEND (self));
  g_return_if_fail (registry == NULL || VHOST_USER_IS_OBJECT_REGISTRY (registry));

  if (registry != NULL && registry == self->objects)
    return;
  if (self->objects != NULL)
    vhost_user_object_registry_forget_exporter (self->objects, G_OBJECT (self));
  g_clear_object (&self->objects);
  self->objects = registry != NULL ? g_object_ref (registry) : vhost_user_object_registry_new ();
  vhost_user_notify (G_OBJECT (self), properties[PROP_OBJECT_REGISTRY]);
}

/* --- object --- */

static void
vhost_user_frontend_constructed (GObject *object)
{
  VhostUserFrontend *self = VHOST_USER_FRONTEND (object);

  G_OBJECT_CLASS (vhost_user_frontend_parent_class)->constructed (object);

  if (self->context == NULL)
    self->context = g_main_context_ref_thread_default ();
  self->requester = vhost_user_requester_new (VHOST_USER_CHANNEL_MAIN, object, self->context);
  vhost_user_requester_set_timeout (self->requester, self->timeout_ms);
  vhost_user_requester_set_request_acks (self->requester, self->request_acks);
  vhost_user_requester_set_done_func (self->requester, vhost_user_frontend_track_state, self);
  vhost_user_frontend_init_channel (self);
}

static void
vhost_user_frontend_dispose (GObject *object)
{
  VhostUserFrontend *self = VHOST_USER_FRONTEND (object);

  if (self->connection != NULL)
    {
      vhost_user_connection_set_handlers (self->connection, NULL, NULL, NULL);
      vhost_user_connection_close (self->connection, NULL);
      g_clear_object (&self->connection);
    }
  vhost_user_frontend_close_backend_channel (self);
  if (self->requester != NULL)
    {
      /* requests hold the front-end: none can be waiting here but those of
       * an explicit g_object_run_dispose() */
      vhost_user_requester_set_done_func (self->requester, NULL, NULL);
      vhost_user_requester_set_connection (self->requester, NULL);
      g_clear_object (&self->requester);
    }

  G_OBJECT_CLASS (vhost_user_frontend_parent_class)->dispose (object);
}

static void
vhost_user_frontend_finalize (GObject *object)
{
  VhostUserFrontend *self = VHOST_USER_FRONTEND (object);

  g_free (self->path);
  vhost_user_frontend_finalize_channel (self);
  g_clear_pointer (&self->context, g_main_context_unref);

  G_OBJECT_CLASS (vhost_user_frontend_parent_class)->finalize (object);
}

static void
vhost_user_frontend_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  VhostUserFrontend *self = VHOST_USER_FRONTEND (object);

  switch (prop_id)
    {
    case PROP_MAIN_CONTEXT:
      g_value_set_boxed (value, self->context);
      break;
    case PROP_TIMEOUT:
      g_value_set_uint (value, self->timeout_ms);
      break;
    case PROP_REQUEST_ACKS:
      g_value_set_boolean (value, self->request_acks);
      break;
    case PROP_CONNECTED:
      g_value_set_boolean (value, self->connection != NULL);
      break;
    case PROP_FEATURES:
      g_value_set_uint64 (value, self->features);
      break;
    case PROP_ACKED_FEATURES:
      g_value_set_uint64 (value, self->acked_features);
      break;
    case PROP_PROTOCOL_FEATURES:
      g_value_set_uint64 (value, self->protocol_features);
      break;
    case PROP_ACKED_PROTOCOL_FEATURES:
      g_value_set_uint64 (value, self->acked_protocol_features);
      break;
    case PROP_OBJECT_REGISTRY:
      g_value_set_object (value, self->objects);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vhost_user_frontend_set_property (GObject      *object,
                                  guint         prop_id,
                                  const GValue *value,
                                  GParamSpec   *pspec)
{
  VhostUserFrontend *self = VHOST_USER_FRONTEND (object);

  switch (prop_id)
    {
    case PROP_MAIN_CONTEXT:
      self->context = g_value_dup_boxed (value);
      break;
    case PROP_TIMEOUT:
      vhost_user_frontend_set_timeout (self, g_value_get_uint (value));
      break;
    case PROP_REQUEST_ACKS:
      vhost_user_frontend_set_request_acks (self, g_value_get_boolean (value));
      break;
    case PROP_OBJECT_REGISTRY:
      vhost_user_frontend_set_object_registry (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vhost_user_frontend_class_init (VhostUserFrontendClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->constructed = vhost_user_frontend_constructed;
  object_class->dispose = vhost_user_frontend_dispose;
  object_class->finalize = vhost_user_frontend_finalize;
  object_class->get_property = vhost_user_frontend_get_property;
  object_class->set_property = vhost_user_frontend_set_property;

  /**
   * VhostUserFrontend:main-context:
   *
   * The context the socket is watched in and callbacks run in; the
   * thread-default context at construction if unset.
   *
   * Since: 1.0
   */
  properties[PROP_MAIN_CONTEXT] =
    g_param_spec_boxed ("main-context", NULL, NULL, G_TYPE_MAIN_CONTEXT,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * VhostUserFrontend:timeout:
   *
   * How long a request may wait for its reply, in milliseconds (0: for
   * ever). A late reply closes the connection: the ones after it could
   * not be matched.
   *
   * Since: 1.0
   */
  properties[PROP_TIMEOUT] =
    g_param_spec_uint ("timeout", NULL, NULL, 0, G_MAXUINT, 30000,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * VhostUserFrontend:request-acks:
   *
   * Whether requests ask for an acknowledgement (`NEED_REPLY`) once
   * `REPLY_ACK` is negotiated. %FALSE sends them as crosvm does, which
   * negotiates `REPLY_ACK` for the back-end channel's sake only: no round
   * trip per request, and a refusal is heard only as the back-end hanging
   * up.
   *
   * Since: 1.0
   */
  properties[PROP_REQUEST_ACKS] =
    g_param_spec_boolean ("request-acks", NULL, NULL, TRUE,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * VhostUserFrontend:connected:
   *
   * Whether a back-end is connected.
   *
   * Since: 1.0
   */
  properties[PROP_CONNECTED] = g_param_spec_boolean ("connected", NULL, NULL, FALSE, ro);
  /**
   * VhostUserFrontend:features:
   *
   * The virtio features the back-end offered (`GET_FEATURES`).
   *
   * Since: 1.0
   */
  properties[PROP_FEATURES] = g_param_spec_uint64 ("features", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  /**
   * VhostUserFrontend:acked-features:
   *
   * The virtio features acknowledged (`SET_FEATURES`).
   *
   * Since: 1.0
   */
  properties[PROP_ACKED_FEATURES] = g_param_spec_uint64 ("acked-features", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  /**
   * VhostUserFrontend:protocol-features:
   *
   * The protocol features the back-end offered.
   *
   * Since: 1.0
   */
  properties[PROP_PROTOCOL_FEATURES] =
    g_param_spec_uint64 ("protocol-features", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  /**
   * VhostUserFrontend:acked-protocol-features:
   *
   * The protocol features in use (`SET_PROTOCOL_FEATURES`).
   *
   * Since: 1.0
   */
  properties[PROP_ACKED_PROTOCOL_FEATURES] =
    g_param_spec_uint64 ("acked-protocol-features", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  /**
   * VhostUserFrontend:object-registry:
   *
   * The shared objects this front-end's back-end exports and imports
   * (`BACKEND_SHARED_OBJECT_ADD`, `_REMOVE`, `_LOOKUP`): a registry of its
   * own unless one is set; set the same registry on the front-ends of
   * devices that share objects. Setting %NULL gives it a new, empty one.
   *
   * Since: 1.0
   */
  properties[PROP_OBJECT_REGISTRY] =
    g_param_spec_object ("object-registry", NULL, NULL, VHOST_USER_TYPE_OBJECT_REGISTRY,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * VhostUserFrontend::disconnected:
   * @self: the front-end
   * @error: why the connection ended
   * @should_reconnect: what vhost_user_error_should_reconnect() says of @error
   *
   * The connection ended; every request that was waiting has failed.
   *
   * Since: 1.0
   */
  signals[SIGNAL_DISCONNECTED] =
    g_signal_new ("disconnected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_ERROR, G_TYPE_BOOLEAN);

  vhost_user_frontend_class_init_channel (G_TYPE_FROM_CLASS (klass));
}

static void
vhost_user_frontend_init (VhostUserFrontend *self)
{
}

/**
 * vhost_user_frontend_new:
 *
 * A front-end in the thread-default main context, not yet connected.
 *
 * Returns: (transfer full): a new front-end
 *
 * Since: 1.0
 */
VhostUserFrontend *
vhost_user_frontend_new (void)
{
  return g_object_new (VHOST_USER_TYPE_FRONTEND, NULL);
}

/**
 * vhost_user_frontend_get_connected:
 * @self: a front-end
 *
 * Gets whether a back-end is connected.
 *
 * Returns: %TRUE if connected
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_get_connected (VhostUserFrontend *self)
{
  g_return_val_if_fail (VHOST_USER_IS_FRONTEND (self), FALSE);
  return self->connection != NULL;
}

/**
 * vhost_user_frontend_get_main_context:
 * @self: a front-end
 *
 * Gets the context the front-end runs in.
 *
 * Returns: (transfer none): the context
 *
 * Since: 1.0
 */
GMainContext *
vhost_user_frontend_get_main_context (VhostUserFrontend *self)
{
  g_return_val_if_fail (VHOST_USER_IS_FRONTEND (self), NULL);
  return self->context;
}

/**
 * vhost_user_frontend_get_timeout:
 * @self: a front-end
 *
 * Gets [property@VhostUser.Frontend:timeout].
 *
 * Returns: the timeout in milliseconds
 *
 * Since: 1.0
 */
guint
vhost_user_frontend_get_timeout (VhostUserFrontend *self)
{
  g_return_val_if_fail (VHOST_USER_IS_FRONTEND (self), 0);
  return self->timeout_ms;
}

/**
 * vhost_user_frontend_set_timeout:
 * @self: a front-end
 * @timeout_ms: the timeout in milliseconds, 0 for none
 *
 * Sets [property@VhostUser.Frontend:timeout]; requests sent from now on
 * use it.
 *
 * Since: 1.0
 */
void
vhost_user_frontend_set_timeout (VhostUserFrontend *self,
                                 guint              timeout_ms)
{
  g_return_if_fail (VHOST_USER_IS_FRONTEND (self));

  if (self->timeout_ms == timeout_ms)
    return;
  self->timeout_ms = timeout_ms;
  if (self->requester != NULL)
    vhost_user_requester_set_timeout (self->requester, timeout_ms);
  vhost_user_notify (G_OBJECT (self), properties[PROP_TIMEOUT]);
}

/**
 * vhost_user_frontend_get_request_acks:
 * @self: a front-end
 *
 * Gets [property@VhostUser.Frontend:request-acks].
 *
 * Returns: whether requests ask for an acknowledgement under `REPLY_ACK`
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_get_request_acks (VhostUserFrontend *self)
{
  g_return_val_if_fail (VHOST_USER_IS_FRONTEND (self), TRUE);
  return self->request_acks;
}

/**
 * vhost_user_frontend_set_request_acks:
 * @self: a front-end
 * @request_acks: whether requests ask for an acknowledgement
 *
 * Sets [property@VhostUser.Frontend:request-acks]; requests sent from now
 * on follow it.
 *
 * Since: 1.0
 */
void
vhost_user_frontend_set_request_acks (VhostUserFrontend *self,
                                      gboolean           request_acks)
{
  g_return_if_fail (VHOST_USER_IS_FRONTEND (self));

  request_acks = !!request_acks;
  if (self->request_acks == request_acks)
    return;
  self->request_acks = request_acks;
  if (self->requester != NULL)
    vhost_user_requester_set_request_acks (self->requester, request_acks);
  vhost_user_notify (G_OBJECT (self), properties[PROP_REQUEST_ACKS]);
}

/**
 * vhost_user_frontend_get_features:
 * @self: a front-end
 *
 * Gets the virtio features the back-end offered.
 *
 * Returns: the features, 0 before `GET_FEATURES`
 *
 * Since: 1.0
 */
guint64
vhost_user_frontend_get_features (VhostUserFrontend *self)
{
  g_return_val_if_fail (VHOST_USER_IS_FRONTEND (self), 0);
  return self->features;
}

/**
 * vhost_user_frontend_get_acked_features:
 * @self: a front-end
 *
 * Gets the virtio features acknowledged.
 *
 * Returns: the features
 *
 * Since: 1.0
 */
guint64
vhost_user_frontend_get_acked_features (VhostUserFrontend *self)
{
  g_return_val_if_fail (VHOST_USER_IS_FRONTEND (self), 0);
  return self->acked_features;
}

/**
 * vhost_user_frontend_get_protocol_features:
 * @self: a front-end
 *
 * Gets the protocol features the back-end offered.
 *
 * Returns: the features, 0 before `GET_PROTOCOL_FEATURES`
 *
 * Since: 1.0
 */
guint64
vhost_user_frontend_get_protocol_features (VhostUserFrontend *self)
{
  g_return_val_if_fail (VHOST_USER_IS_FRONTEND (self), 0);
  return self->protocol_features;
}

/**
 * vhost_user_frontend_get_acked_protocol_features:
 * @self: a front-end
 *
 * Gets the protocol features in use.
 *
 * Returns: the features
 *
 * Since: 1.0
 */
guint64
vhost_user_frontend_get_acked_protocol_features (VhostUserFrontend *self)
{
  g_return_val_if_fail (VHOST_USER_IS_FRONTEND (self), 0);
  return self->acked_protocol_features;
}
