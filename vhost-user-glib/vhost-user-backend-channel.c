/* vhost-user-backend-channel.c: the back-end channel, from the back-end
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The socket the front-end hands over with SET_BACKEND_REQ_FD, on which
 * the back-end sends requests of its own (config changes, in-band calls,
 * shared objects) and reads their replies.
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <glib/gstdio.h>

#include "vhost-user-backend-private.h"
#include "vhost-user-debug-private.h"
#include "vhost-user-error.h"

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

void
vhost_user_backend_close_channel (VhostUserBackend *self,
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
    vhost_user_backend_close_channel (self, error);
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
  vhost_user_backend_close_channel (self, error);
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
      vhost_user_backend_close_channel (self, local_error);
      return;
    }

  result = g_new0 (ChannelResult, 1);
  result->fd = msg->n_fds > 0 ? vhost_user_message_steal_fd (msg, 0) : -1;
  vhost_user_message_get_u64 (msg, &result->value);
  restart_channel_timeout (self);
  g_task_return_pointer (task, result, channel_result_free);
}

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
gboolean
vhost_user_backend_real_set_backend_req_fd (VhostUserBackend    *self,
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
      vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_PARAM, "SET_BACKEND_REQ_FD did not pass a socket");
      return TRUE;
    }
  socket = g_socket_new_from_fd (own_fd, &error);
  if (socket == NULL)
    {
      vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_PARAM,
                                           "SET_BACKEND_REQ_FD did not pass a socket: %s", error->message);
      return TRUE;
    }

  vhost_user_backend_close_channel (self, NULL);
  priv->backend_channel = vhost_user_connection_new (socket, VHOST_USER_CHANNEL_BACKEND, TRUE, priv->context);
  vhost_user_connection_set_protocol_features (priv->backend_channel, priv->acked_protocol_features);
  vhost_user_connection_set_handlers (priv->backend_channel, backend_channel_message,
                                      backend_channel_closed, self);
  vhost_user_connection_start (priv->backend_channel);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
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
void
vhost_user_backend_inband_call (VhostUserVring *vring,
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

/* --- requests to the front-end --- */

/**
 * vhost_user_backend_send_backend_request_async:
 * @self: a back-end
 * @request: what to ask the front-end
 * @payload: (nullable): the request's payload, laid out as the
 *   specification says (checked against the request's layout)
 * @fd: a file descriptor to pass with it, or -1; borrowed: a duplicate is
 *   sent and the caller still owns @fd
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
  /* the caller's fd is borrowed: the message carries (and closes) a copy */
  if (fd >= 0)
    {
      int copy = fcntl (fd, F_DUPFD_CLOEXEC, 3);

      if (copy < 0)
        {
          int errsv = errno;

          g_task_return_new_error (task, VHOST_USER_ERROR, vhost_user_error_from_errno (errsv),
                                   "%s: cannot duplicate fd %d: %s", info->name, fd, g_strerror (errsv));
          return;
        }
      vhost_user_message_add_fd (&msg, copy);
    }

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
 * @fd: a file descriptor to pass with it, or -1; borrowed: a duplicate is
 *   sent and the caller still owns @fd
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

          vhost_user_backend_close_channel (self, cancelled);
        }
      g_main_context_iteration (priv->context, TRUE);
    }
  if (wake != NULL)
    {
      g_source_destroy (wake);
      g_source_unref (wake);
    }
  if (paused && priv->connection != NULL &&
      !vhost_user_responder_get_busy (priv->responder))
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
