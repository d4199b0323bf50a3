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
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "vhost-user-backend-private.h"
#include "vhost-user-lock-private.h"
#include "vhost-user-debug-private.h"
#include "vhost-user-error.h"
#include "vhost-user-peer-fd-private.h"

/* Lets go of the channel; requests still waiting for a reply fail with
 * @error (or a plain "closed"). */
void
vhost_user_backend_close_channel (VhostUserBackend *self,
                                  const GError     *error)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  g_autoptr(GError) closed = NULL;

  if (priv->backend_channel != NULL)
    {
      vhost_user_connection_set_handlers (priv->backend_channel, NULL, NULL, NULL);
      vhost_user_connection_close (priv->backend_channel, error);
      g_clear_object (&priv->backend_channel);
    }
  if (priv->channel_requester == NULL)
    return;
  vhost_user_requester_set_connection (priv->channel_requester, NULL);
  /* (every close of a connection comes here: a reason is made only for
   * requests that wait for one) */
  if (vhost_user_requester_get_n_pending (priv->channel_requester) == 0)
    return;
  if (error == NULL)
    error = closed = g_error_new_literal (VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_BROKEN,
                                          "The back-end channel was closed");
  vhost_user_requester_fail_all (priv->channel_requester, error);
}

static void
backend_channel_closed (VhostUserConnection *connection,
                        const GError        *error,
                        gpointer             user_data)
{
  VhostUserBackend *self = user_data;

  if (priv_of (self)->backend_channel == connection)
    vhost_user_backend_close_channel (self, error);
}

/* Only replies come this way: the requester matches them in order (and
 * closes the channel on one it cannot match). */
static void
backend_channel_message (VhostUserConnection *connection,
                         VhostUserMessage    *msg,
                         const GError        *error,
                         gpointer             user_data)
{
  vhost_user_requester_handle_reply (priv_of (user_data)->channel_requester, msg, error);
}

/* An int option of @fd's socket, -1 if it cannot be read. */
static int
socket_option (int fd,
               int option)
{
  int value;
  socklen_t len = sizeof value;

  if (getsockopt (fd, SOL_SOCKET, option, &value, &len) != 0 || len != sizeof value)
    return -1;
  return value;
}

/**
 * VhostUserBackend::set-backend-req-fd:
 * @self: the back-end
 * @invocation: the request, to answer
 * @fd: the back-end channel's socket; borrowed for the emission
 *   (a handler that keeps it dup()s it)
 *
 * The front-end sets up the back-end channel (the old "slave channel"). Default: open the
 * channel on it; anything but a UNIX stream socket is refused with
 * %VHOST_USER_ERROR_INVALID_PARAM.
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
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
  int domain, type;
  struct stat st;

  /* GLib's documentation leaves the fd to us when g_socket_new_from_fd()
   * fails, its code closes it: refuse what is not a socket before asking */
  if (fstat (own_fd, &st) != 0 || !S_ISSOCK (st.st_mode))
    {
      vhost_user_peer_fd_close (own_fd);
      vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_PARAM, "SET_BACKEND_REQ_FD did not pass a socket");
      return TRUE;
    }
  /* The spec's channel is a UNIX stream socket, and only that is safe to
   * share: the front-end keeps a copy, and the options of a TCP socket
   * are its to set (SO_LINGER makes our close() wait as long as it says,
   * non-blocking or not); a datagram socket has no stream to frame
   * messages in. */
  domain = socket_option (own_fd, SO_DOMAIN);
  type = socket_option (own_fd, SO_TYPE);
  if (domain != AF_UNIX || type != SOCK_STREAM)
    {
      vhost_user_peer_fd_close (own_fd);
      vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_PARAM,
                                           "SET_BACKEND_REQ_FD did not pass a UNIX stream socket "
                                           "(family %d, type %d)", domain, type);
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
  vhost_user_requester_set_protocol_features (priv->channel_requester, priv->acked_protocol_features);
  vhost_user_requester_set_connection (priv->channel_requester, priv->backend_channel);
  vhost_user_connection_start (priv->backend_channel);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

typedef struct {
  VhostUserBackend *backend;
  guint             index;
  gboolean          started;  /* the request owns it from then on */
} InbandCall;

/* A ring's entry in inband_pending: its call is to be sent (and covers
 * whatever the ring calls for until then), or sent and not answered yet,
 * or that and the ring called again since. */
enum {
  INBAND_QUEUED = 1,
  INBAND_SENT,
  INBAND_AGAIN,
};

static void
inband_call_free (gpointer data)
{
  InbandCall *call = data;

  g_object_unref (call->backend);
  g_free (call);
}

static void send_inband_call (InbandCall *call);

static void
inband_call_done (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  InbandCall *call = user_data;
  VhostUserBackendPrivate *priv = priv_of (call->backend);
  gboolean again;

  /* an error (no channel, no answer in time) ends this call as an answer
   * does: the next one is tried afresh */
  vhost_user_backend_send_backend_request_finish (call->backend, result, NULL, NULL);

  vhost_user_mutex_lock (&priv->inband_lock);
  again = GPOINTER_TO_UINT (g_hash_table_lookup (priv->inband_pending, GUINT_TO_POINTER (call->index))) == INBAND_AGAIN;
  if (again)
    g_hash_table_insert (priv->inband_pending, GUINT_TO_POINTER (call->index), GUINT_TO_POINTER (INBAND_SENT));
  else
    g_hash_table_remove (priv->inband_pending, GUINT_TO_POINTER (call->index));
  vhost_user_mutex_unlock (&priv->inband_lock);

  /* the front-end may have looked at the used ring before what the ring
   * called for since was in it: one more call covers all of it */
  if (again)
    send_inband_call (call);
  else
    inband_call_free (call);
}

static void
send_inband_call (InbandCall *call)
{
  GMainContext *context = priv_of (call->backend)->context;
  VhostUserWireVringState state = { call->index, 0 };
  g_autoptr(GBytes) payload = g_bytes_new (&state, sizeof state);

  /* the answer comes back here, whichever context is the thread's own */
  g_main_context_push_thread_default (context);
  vhost_user_backend_send_backend_request_async (call->backend, VHOST_USER_BACKEND_REQUEST_VRING_CALL,
                                                 payload, -1, NULL, inband_call_done, call);
  g_main_context_pop_thread_default (context);
}

static gboolean
start_inband_call (gpointer data)
{
  InbandCall *call = data;
  VhostUserBackendPrivate *priv = priv_of (call->backend);

  /* what the ring calls for from now on may come after the front-end
   * looked: it will need a call of its own */
  vhost_user_mutex_lock (&priv->inband_lock);
  g_hash_table_insert (priv->inband_pending, GUINT_TO_POINTER (call->index), GUINT_TO_POINTER (INBAND_SENT));
  vhost_user_mutex_unlock (&priv->inband_lock);
  call->started = TRUE;
  send_inband_call (call);
  return G_SOURCE_REMOVE;
}

static void
inband_call_unstarted (gpointer data)
{
  InbandCall *call = data;

  if (!call->started)
    inband_call_free (call);
}

/* A ring without a call fd notifies: BACKEND_VRING_CALL, sent from the
 * back-end's context whichever thread the ring runs in. Simulations use
 * this, not fast paths: it may allocate. One call per ring is on its way
 * at a time (in-band notifications go with REPLY_ACK, so until the
 * front-end answers it); calls meanwhile are merged into one more, sent
 * after the answer, as an eventfd adds up. A device that calls per
 * request, faster than the front-end answers (or a front-end that never
 * answers), would otherwise queue a message and a pending reply per call
 * without bound. Started at the default priority, not an idle's: a call
 * fd would be written at once, and an idle waits as long as other rings
 * keep the context busy. */
void
vhost_user_backend_inband_call (VhostUserVring *vring,
                                gpointer        user_data)
{
  VhostUserBackend *self = user_data;
  VhostUserBackendPrivate *priv = priv_of (self);
  guint index = vhost_user_vring_get_index (vring);
  guint state;
  InbandCall *call;
  GSource *source;

  vhost_user_mutex_lock (&priv->inband_lock);
  if (priv->inband_pending == NULL)
    priv->inband_pending = g_hash_table_new (NULL, NULL);
  state = GPOINTER_TO_UINT (g_hash_table_lookup (priv->inband_pending, GUINT_TO_POINTER (index)));
  if (state == 0 || state == INBAND_SENT)
    g_hash_table_insert (priv->inband_pending, GUINT_TO_POINTER (index),
                         GUINT_TO_POINTER (state == 0 ? INBAND_QUEUED : INBAND_AGAIN));
  vhost_user_mutex_unlock (&priv->inband_lock);
  if (state != 0)
    return;

  call = g_new (InbandCall, 1);
  call->backend = g_object_ref (self);
  call->index = index;
  call->started = FALSE;
  /* always later, never from here: this runs under the ring's lock */
  source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_static_name (source, "VhostUserBackend in-band call");
  g_source_set_callback (source, start_inband_call, call, inband_call_unstarted);
  g_source_attach (source, priv->context);
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
 * @cancellable: (nullable): a #GCancellable, which may be cancelled from
 *   any thread
 * @callback: called when the front-end answered (or will not)
 * @user_data: data for @callback
 *
 * Sends a request on the back-end channel (the old "slave channel") set
 * up by `SET_BACKEND_REQ_FD`. When `REPLY_ACK` was negotiated the request
 * asks for an acknowledgement and completes when it arrives; otherwise it
 * completes once sent. Requests go out in call order and their replies
 * are matched in that order, within [property@VhostUser.Backend:timeout].
 * Call it from the back-end's main context.
 *
 * The request needs `BACKEND_REQ` and its own gating feature negotiated,
 * and an fd needs `BACKEND_SEND_FD`: otherwise it fails with
 * %VHOST_USER_ERROR_INVALID_OPERATION before anything is sent.
 *
 * Since: 1.0
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
  g_autoptr(GUnixFDList) fd_list = NULL;
  GError *error = NULL;

  g_return_if_fail (VHOST_USER_IS_BACKEND (self));

  priv = priv_of (self);
  info = vhost_user_request_info_lookup (VHOST_USER_CHANNEL_BACKEND, request);
  if (info == NULL)
    g_set_error (&error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                 "%u is not a back-end channel request", request);
  else if (priv->backend_channel == NULL)
    g_set_error (&error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                 "%s: the front-end set up no back-end channel", info->name);
  else if (vhost_user_request_info_check_gate (info, VHOST_USER_CHANNEL_BACKEND, priv->acked_protocol_features,
                                               priv->features, priv->acked_features, fd >= 0 ? 1 : 0, &error) &&
           fd >= 0)
    {
      /* the caller's fd is borrowed: the list (and the message) hold copies */
      fd_list = g_unix_fd_list_new ();
      g_unix_fd_list_append (fd_list, fd, &error);
    }

  if (error != NULL)
    {
      g_task_report_error (self, callback, user_data, vhost_user_backend_send_backend_request_async, error);
      return;
    }
  vhost_user_requester_send_async (priv->channel_requester, request, payload, fd_list, cancellable,
                                   vhost_user_backend_send_backend_request_async, callback, user_data);
}

/**
 * vhost_user_backend_send_backend_request_finish:
 * @self: a back-end
 * @result: the result passed to the callback
 * @out_fd: (out) (optional): an fd the front-end passed back (for
 *   `SHARED_OBJECT_LOOKUP`), or -1; the caller owns it
 * @error: return location for a #GError
 *
 * Finishes vhost_user_backend_send_backend_request_async(). A non-zero
 * acknowledgement is an error (%VHOST_USER_ERROR_FAILED); the reply of
 * `SHARED_OBJECT_LOOKUP` comes back as the return value.
 *
 * Returns: the reply's u64 (0 for an acknowledgement or no reply), or
 *   %G_MAXUINT64 with @error set
 *
 * Since: 1.0
 */
guint64
vhost_user_backend_send_backend_request_finish (VhostUserBackend  *self,
                                                GAsyncResult      *result,
                                                int               *out_fd,
                                                GError           **error)
{
  g_autoptr(GUnixFDList) fd_list = NULL;
  g_autoptr(GBytes) reply = NULL;
  guint64 value = 0;

  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), G_MAXUINT64);
  g_return_val_if_fail (g_async_result_is_tagged (result, vhost_user_backend_send_backend_request_async),
                        G_MAXUINT64);

  if (out_fd != NULL)
    *out_fd = -1;
  reply = vhost_user_requester_send_finish (priv_of (self)->channel_requester, result, NULL, &fd_list, error);
  if (reply == NULL)
    return G_MAXUINT64;
  /* an acknowledgement was checked by the requester; what is left is the
   * u64 of a reply that always comes (SHARED_OBJECT_LOOKUP's) */
  if (g_bytes_get_size (reply) == sizeof value)
    memcpy (&value, g_bytes_get_data (reply, NULL), sizeof value);
  if (out_fd != NULL && fd_list != NULL && g_unix_fd_list_get_length (fd_list) > 0)
    *out_fd = g_unix_fd_list_get (fd_list, 0, NULL);
  return value;
}

typedef struct {
  VhostUserBackend            *self;
  VhostUserBackendRequestType  request;
  GBytes                      *payload;
  int                          fd;
  GCancellable                *cancellable;
} RequestArgs;

static void
start_request (gpointer             data,
               GAsyncReadyCallback  callback,
               gpointer             user_data)
{
  RequestArgs *args = data;

  vhost_user_backend_send_backend_request_async (args->self, args->request, args->payload, args->fd,
                                                 args->cancellable, callback, user_data);
}

/**
 * vhost_user_backend_send_backend_request:
 * @self: a back-end
 * @request: what to ask the front-end
 * @payload: (nullable): the request's payload
 * @fd: a file descriptor to pass with it, or -1; borrowed: a duplicate is
 *   sent and the caller still owns @fd
 * @cancellable: (nullable): a #GCancellable, which may be cancelled from
 *   any thread
 * @out_fd: (out) (optional): an fd the front-end passed back, or -1
 * @error: return location for a #GError
 *
 * The blocking form of vhost_user_backend_send_backend_request_async(),
 * for the thread that runs the back-end's context. It waits on a private
 * main context that holds only the back-end channel's socket and timer,
 * so neither further front-end requests nor the back-end's other sources
 * run meanwhile (unless the front-end is in this very process, which the
 * wait would deadlock: then it runs the back-end's context).
 *
 * A front-end that does not answer within
 * [property@VhostUser.Backend:timeout] fails the call with
 * %VHOST_USER_ERROR_TIMED_OUT and closes the back-end channel (later
 * replies could not be matched). A cancellation fails the call with
 * %G_IO_ERROR_CANCELLED; the reply, when it comes, is dropped.
 *
 * Returns: the reply's u64, or %G_MAXUINT64 with @error set
 *
 * Since: 1.0
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
  RequestArgs args = { self, request, payload, fd, cancellable };
  g_autoptr(GAsyncResult) result = NULL;
  VhostUserConnection *channel;
  gboolean isolate;

  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), G_MAXUINT64);

  if (out_fd != NULL)
    *out_fd = -1;
  /* isolated: the back-end's other sources, the main socket's included,
   * wait until the front-end answered (unless it is in this process) */
  channel = priv_of (self)->backend_channel;
  isolate = channel == NULL || !vhost_user_connection_peer_is_this_process (channel);
  result = vhost_user_requester_wait (priv_of (self)->channel_requester, start_request, &args, isolate, error);
  if (result == NULL)
    return G_MAXUINT64;
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
 *
 * Since: 1.0
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
 *
 * Since: 1.0
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
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_notify_config_change (VhostUserBackend  *self,
                                         GCancellable      *cancellable,
                                         GError           **error)
{
  return vhost_user_backend_send_backend_request (self, VHOST_USER_BACKEND_REQUEST_CONFIG_CHANGE_MSG,
                                                  NULL, -1, cancellable, NULL, error) != G_MAXUINT64;
}

/* --- IOTLB misses --- */

static void
store_result (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static GBytes *
iotlb_payload (guint64   iova,
               guint     perm,
               guint     type,
               GError  **error)
{
  /* the size is the front-end's to choose: it maps what it has */
  VhostUserWireIotlb msg = { iova, 0, 0, perm, type, { 0 } };

  if (perm < VHOST_USER_IOTLB_PERM_RO || perm > VHOST_USER_IOTLB_PERM_RW)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "IOTLB %s with permission %u (not read, write or both)",
                   type == VHOST_USER_IOTLB_MISS ? "miss" : "access failure", perm);
      return NULL;
    }
  return g_bytes_new (&msg, sizeof msg);
}

static GBytes *
iotlb_miss_payload (guint64   iova,
                    guint     perm,
                    GError  **error)
{
  return iotlb_payload (iova, perm, VHOST_USER_IOTLB_MISS, error);
}

/**
 * vhost_user_backend_send_iotlb_miss_async:
 * @self: a back-end
 * @iova: the I/O virtual address the device could not translate
 * @perm: the access it needs: 1 read, 2 write, 3 both
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when the front-end answered (or will not)
 * @user_data: data for @callback
 *
 * Asks the front-end, as the guest's IOMMU, for the mapping of @iova
 * (`BACKEND_IOTLB_MSG` of type miss); it answers with an `IOTLB_MSG`
 * update on the main socket, which
 * [signal@VhostUser.Backend::iotlb-msg] receives. Needs
 * `VIRTIO_F_ACCESS_PLATFORM` and the back-end channel. The rings send
 * their misses themselves: this is for a device that reads guest memory
 * by other means. With `REPLY_ACK` a front-end that cannot map @iova
 * fails the call.
 *
 * Since: 1.0
 */
void
vhost_user_backend_send_iotlb_miss_async (VhostUserBackend    *self,
                                          guint64              iova,
                                          guint                perm,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data)
{
  g_autoptr(GBytes) payload = NULL;
  GError *error = NULL;

  g_return_if_fail (VHOST_USER_IS_BACKEND (self));

  payload = iotlb_miss_payload (iova, perm, &error);
  if (payload == NULL)
    {
      g_task_report_error (self, callback, user_data, vhost_user_backend_send_backend_request_async, error);
      return;
    }
  vhost_user_backend_send_backend_request_async (self, VHOST_USER_BACKEND_REQUEST_IOTLB_MSG, payload, -1,
                                                 cancellable, callback, user_data);
}

/**
 * vhost_user_backend_send_iotlb_miss_finish:
 * @self: a back-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_backend_send_iotlb_miss_async().
 *
 * Returns: %TRUE if the front-end was asked (and, with `REPLY_ACK`,
 *   acknowledged)
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_send_iotlb_miss_finish (VhostUserBackend  *self,
                                           GAsyncResult      *result,
                                           GError           **error)
{
  return vhost_user_backend_send_backend_request_finish (self, result, NULL, error) != G_MAXUINT64;
}

/**
 * vhost_user_backend_send_iotlb_miss:
 * @self: a back-end
 * @iova: the I/O virtual address the device could not translate
 * @perm: the access it needs: 1 read, 2 write, 3 both
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of vhost_user_backend_send_iotlb_miss_async(), for
 * the thread that runs the back-end's context. Unlike
 * vhost_user_backend_send_backend_request() it waits running that
 * context: a front-end like QEMU sends its update on the main socket and
 * waits for the answer before it acknowledges the miss, so the back-end
 * must go on reading the main socket meanwhile (the update has been
 * applied when this returns).
 *
 * Returns: %TRUE if the front-end was asked (and acknowledged)
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_send_iotlb_miss (VhostUserBackend  *self,
                                    guint64            iova,
                                    guint              perm,
                                    GCancellable      *cancellable,
                                    GError           **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  GMainContext *context;

  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), FALSE);

  context = priv_of (self)->context;
  vhost_user_backend_send_iotlb_miss_async (self, iova, perm, cancellable, store_result, &result);
  while (result == NULL)
    g_main_context_iteration (context, TRUE);
  return vhost_user_backend_send_iotlb_miss_finish (self, result, error);
}

/**
 * vhost_user_backend_send_iotlb_access_fail_async:
 * @self: a back-end
 * @iova: the I/O virtual address the device could not access
 * @perm: the access it was denied: 1 read, 2 write, 3 both
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when the front-end answered
 * @user_data: data for @callback
 *
 * Reports to the front-end, as the guest's IOMMU, that the device was
 * denied an access at @iova (`BACKEND_IOTLB_MSG` of type access-fail),
 * for it to raise the IOMMU's fault. Needs `VIRTIO_F_ACCESS_PLATFORM` and
 * the back-end channel.
 *
 * Since: 1.0
 */
void
vhost_user_backend_send_iotlb_access_fail_async (VhostUserBackend    *self,
                                                 guint64              iova,
                                                 guint                perm,
                                                 GCancellable        *cancellable,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data)
{
  g_autoptr(GBytes) payload = NULL;
  GError *error = NULL;

  g_return_if_fail (VHOST_USER_IS_BACKEND (self));

  payload = iotlb_payload (iova, perm, VHOST_USER_IOTLB_ACCESS_FAIL, &error);
  vhost_user_backend_send_typed_async (self, VHOST_USER_BACKEND_REQUEST_IOTLB_MSG, payload, -1, error,
                                       cancellable, callback, user_data);
}

/**
 * vhost_user_backend_send_iotlb_access_fail_finish:
 * @self: a back-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_backend_send_iotlb_access_fail_async().
 *
 * Returns: %TRUE if the front-end was told (and, with `REPLY_ACK`,
 *   acknowledged)
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_send_iotlb_access_fail_finish (VhostUserBackend  *self,
                                                  GAsyncResult      *result,
                                                  GError           **error)
{
  return vhost_user_backend_send_backend_request_finish (self, result, NULL, error) != G_MAXUINT64;
}

/**
 * vhost_user_backend_send_iotlb_access_fail:
 * @self: a back-end
 * @iova: the I/O virtual address the device could not access
 * @perm: the access it was denied: 1 read, 2 write, 3 both
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of vhost_user_backend_send_iotlb_access_fail_async(),
 * as vhost_user_backend_send_backend_request() blocks.
 *
 * Returns: %TRUE if the front-end was told
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_send_iotlb_access_fail (VhostUserBackend  *self,
                                           guint64            iova,
                                           guint              perm,
                                           GCancellable      *cancellable,
                                           GError           **error)
{
  g_autoptr(GBytes) payload = NULL;
  GError *local = NULL;

  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), FALSE);

  payload = iotlb_payload (iova, perm, VHOST_USER_IOTLB_ACCESS_FAIL, &local);
  return vhost_user_backend_send_typed (self, VHOST_USER_BACKEND_REQUEST_IOTLB_MSG, payload, -1, local,
                                        cancellable, NULL, error) != G_MAXUINT64;
}

typedef struct {
  VhostUserBackend *backend;
  VhostUserVring   *vring;
  guint64           iova;
} RingMiss;

static void
ring_miss_answered (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  RingMiss *miss = user_data;
  g_autoptr(GError) error = NULL;

  if (!vhost_user_backend_send_iotlb_miss_finish (miss->backend, result, &error))
    {
      g_autofree char *why = g_strdup_printf ("the IOTLB miss could not be served: %s", error->message);

      vhost_user_vring_iotlb_failed (miss->vring, miss->iova, 1, why);
    }
  g_object_unref (miss->backend);
  g_object_unref (miss->vring);
  g_free (miss);
}

/* One per ring, in the back-end's context, woken from the ring's thread
 * (which allocates nothing for it and never touches the back-end). */
typedef struct {
  GSource           source;
  VhostUserBackend *backend;   /* not references: the back-end destroys */
  VhostUserVring   *vring;     /* the source before it lets go of the ring */
} MissSource;

static gboolean
miss_source_dispatch (GSource     *source,
                      GSourceFunc  callback,
                      gpointer     user_data)
{
  MissSource *ms = (MissSource *) source;
  RingMiss *miss;
  guint64 iova;
  guint perm;

  g_source_set_ready_time (source, -1);
  if (!vhost_user_vring_take_miss (ms->vring, &iova, &perm))
    return G_SOURCE_CONTINUE;
  miss = g_new (RingMiss, 1);
  miss->backend = g_object_ref (ms->backend);
  miss->vring = g_object_ref (ms->vring);
  miss->iova = iova;
  vhost_user_backend_send_iotlb_miss_async (ms->backend, iova, perm, NULL, ring_miss_answered, miss);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs miss_source_funcs = { NULL, NULL, miss_source_dispatch, NULL, NULL, NULL };

/* Under the ring's lock, in any thread: a pop missed. */
static void
ring_missed (VhostUserVring *vring,
             gpointer        user_data)
{
  g_source_set_ready_time (user_data, 0);
}

static void
miss_source_destroy (gpointer data)
{
  g_source_destroy (data);
  g_source_unref (data);
}

/* The ring's misses are sent from the back-end's context; the source
 * goes with the ring's "vhost-user-backend-misses" data, after the miss
 * function (drop_vrings() clears both). */
void
vhost_user_backend_watch_misses (VhostUserBackend *self,
                                 VhostUserVring   *vring)
{
  GSource *source = g_source_new (&miss_source_funcs, sizeof (MissSource));
  MissSource *ms = (MissSource *) source;

  ms->backend = self;
  ms->vring = vring;
  g_source_set_static_name (source, "VhostUserBackend IOTLB miss");
  g_source_set_ready_time (source, -1);
  g_source_attach (source, priv_of (self)->context);
  g_object_set_data_full (G_OBJECT (vring), "vhost-user-backend-misses", source, miss_source_destroy);
  vhost_user_vring_set_miss_func (vring, ring_missed, source);
}

/* --- the typed requests --- */

/* Sends a typed request whose payload was built (or refused: @error,
 * taken, is reported through the callback as the generic call would). */
void
vhost_user_backend_send_typed_async (VhostUserBackend            *self,
                                     VhostUserBackendRequestType  request,
                                     GBytes                      *payload,
                                     int                          fd,
                                     GError                      *error,
                                     GCancellable                *cancellable,
                                     GAsyncReadyCallback          callback,
                                     gpointer                     user_data)
{
  if (error != NULL)
    {
      g_task_report_error (self, callback, user_data, vhost_user_backend_send_backend_request_async, error);
      return;
    }
  vhost_user_backend_send_backend_request_async (self, request, payload, fd, cancellable, callback, user_data);
}

/* The blocking form: @error_in (taken) fails it before anything is sent. */
guint64
vhost_user_backend_send_typed (VhostUserBackend             *self,
                               VhostUserBackendRequestType   request,
                               GBytes                       *payload,
                               int                           fd,
                               GError                       *error_in,
                               GCancellable                 *cancellable,
                               int                          *out_fd,
                               GError                      **error)
{
  if (out_fd != NULL)
    *out_fd = -1;
  if (error_in != NULL)
    {
      g_propagate_error (error, error_in);
      return G_MAXUINT64;
    }
  return vhost_user_backend_send_backend_request (self, request, payload, fd, cancellable, out_fd, error);
}

static GBytes *
host_notifier_payload (VhostUserBackend  *self,
                       guint              index,
                       int                fd,
                       guint64            offset,
                       guint64            size,
                       GError           **error)
{
  VhostUserWireVringArea area = { index, size, offset };
  gsize page = sysconf (_SC_PAGESIZE);

  if (index >= priv_of (self)->vrings->len)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "Host notifier for queue %u: the device has %u", index, priv_of (self)->vrings->len);
      return NULL;
    }
  if (fd < 0)
    {
      /* withdrawn: only the index counts */
      area.u64 |= VHOST_USER_VRING_NOFD_MASK;
      area.size = area.offset = 0;
    }
  else if (size == 0 || size % page != 0 || offset % page != 0 || offset + size < offset)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "Host notifier area of 0x%" G_GINT64_MODIFIER "x bytes at 0x%" G_GINT64_MODIFIER "x: not whole "
                   "pages", size, offset);
      return NULL;
    }
  return g_bytes_new (&area, sizeof area);
}

/**
 * vhost_user_backend_set_host_notifier_async:
 * @self: a back-end
 * @index: the queue
 * @fd: what the guest may map to kick @index directly (a page of a
 *   device's doorbells), or -1 to withdraw the queue's notifier;
 *   borrowed: a duplicate is sent and the caller still owns @fd
 * @offset: where the area starts in @fd, a multiple of the page size
 * @size: its size, whole pages (the host's page size: QEMU maps one)
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when the front-end answered
 * @user_data: data for @callback
 *
 * Offers the front-end a notification area for @index
 * (`BACKEND_VRING_HOST_NOTIFIER_MSG`): writes the guest makes there reach
 * the device without a kick eventfd. Needs `HOST_NOTIFIER` and
 * `BACKEND_SEND_FD`. A front-end of this library records it
 * (vhost_user_frontend_get_host_notifier()).
 *
 * Since: 1.0
 */
void
vhost_user_backend_set_host_notifier_async (VhostUserBackend    *self,
                                            guint                index,
                                            int                  fd,
                                            guint64              offset,
                                            guint64              size,
                                            GCancellable        *cancellable,
                                            GAsyncReadyCallback  callback,
                                            gpointer             user_data)
{
  g_autoptr(GBytes) payload = NULL;
  GError *error = NULL;

  g_return_if_fail (VHOST_USER_IS_BACKEND (self));

  payload = host_notifier_payload (self, index, fd, offset, size, &error);
  vhost_user_backend_send_typed_async (self, VHOST_USER_BACKEND_REQUEST_VRING_HOST_NOTIFIER_MSG, payload, fd, error,
                                       cancellable, callback, user_data);
}

/**
 * vhost_user_backend_set_host_notifier_finish:
 * @self: a back-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_backend_set_host_notifier_async().
 *
 * Returns: %TRUE if the front-end took the area (or, without
 *   `REPLY_ACK`, was told)
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_set_host_notifier_finish (VhostUserBackend  *self,
                                             GAsyncResult      *result,
                                             GError           **error)
{
  return vhost_user_backend_send_backend_request_finish (self, result, NULL, error) != G_MAXUINT64;
}

/**
 * vhost_user_backend_set_host_notifier:
 * @self: a back-end
 * @index: the queue
 * @fd: the area's fd, or -1 to withdraw it; borrowed
 * @offset: where the area starts in @fd
 * @size: its size, whole pages
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of vhost_user_backend_set_host_notifier_async(), as
 * vhost_user_backend_send_backend_request() blocks.
 *
 * Returns: %TRUE if the front-end took the area
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_set_host_notifier (VhostUserBackend  *self,
                                      guint              index,
                                      int                fd,
                                      guint64            offset,
                                      guint64            size,
                                      GCancellable      *cancellable,
                                      GError           **error)
{
  g_autoptr(GBytes) payload = NULL;
  GError *local = NULL;

  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), FALSE);

  payload = host_notifier_payload (self, index, fd, offset, size, &local);
  return vhost_user_backend_send_typed (self, VHOST_USER_BACKEND_REQUEST_VRING_HOST_NOTIFIER_MSG, payload, fd, local,
                                        cancellable, NULL, error) != G_MAXUINT64;
}

static GBytes *
ring_payload (VhostUserBackend  *self,
              guint              index,
              GError           **error)
{
  VhostUserWireVringState state = { index, 0 };

  if (index >= priv_of (self)->vrings->len)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "Queue %u: the device has %u", index, priv_of (self)->vrings->len);
      return NULL;
    }
  return g_bytes_new (&state, sizeof state);
}

/**
 * vhost_user_backend_send_vring_err_async:
 * @self: a back-end
 * @index: the queue
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when the front-end answered
 * @user_data: data for @callback
 *
 * Tells the front-end in band that @index failed (`BACKEND_VRING_ERR`),
 * for a ring the front-end gave no error eventfd. Needs
 * `INBAND_NOTIFICATIONS`. The library sends it by itself when the driver
 * breaks a ring that has no error eventfd; this is for a device that
 * fails a queue for reasons of its own.
 *
 * Since: 1.0
 */
void
vhost_user_backend_send_vring_err_async (VhostUserBackend    *self,
                                         guint                index,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data)
{
  g_autoptr(GBytes) payload = NULL;
  GError *error = NULL;

  g_return_if_fail (VHOST_USER_IS_BACKEND (self));

  payload = ring_payload (self, index, &error);
  vhost_user_backend_send_typed_async (self, VHOST_USER_BACKEND_REQUEST_VRING_ERR, payload, -1, error,
                                       cancellable, callback, user_data);
}

/**
 * vhost_user_backend_send_vring_err_finish:
 * @self: a back-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_backend_send_vring_err_async().
 *
 * Returns: %TRUE if the front-end acknowledged
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_send_vring_err_finish (VhostUserBackend  *self,
                                          GAsyncResult      *result,
                                          GError           **error)
{
  return vhost_user_backend_send_backend_request_finish (self, result, NULL, error) != G_MAXUINT64;
}

/**
 * vhost_user_backend_send_vring_err:
 * @self: a back-end
 * @index: the queue
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of vhost_user_backend_send_vring_err_async().
 *
 * Returns: %TRUE if the front-end acknowledged
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_send_vring_err (VhostUserBackend  *self,
                                   guint              index,
                                   GCancellable      *cancellable,
                                   GError           **error)
{
  g_autoptr(GBytes) payload = NULL;
  GError *local = NULL;

  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), FALSE);

  payload = ring_payload (self, index, &local);
  return vhost_user_backend_send_typed (self, VHOST_USER_BACKEND_REQUEST_VRING_ERR, payload, -1, local,
                                        cancellable, NULL, error) != G_MAXUINT64;
}

/**
 * vhost_user_backend_send_vring_call_async:
 * @self: a back-end
 * @index: the queue
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when the front-end answered
 * @user_data: data for @callback
 *
 * Notifies the front-end in band that @index used buffers
 * (`BACKEND_VRING_CALL`). Needs `INBAND_NOTIFICATIONS`. A ring without a
 * call eventfd sends it by itself when it calls
 * (vhost_user_vring_call()); this form is for a device that paces its
 * own notifications and wants to know when the front-end had one.
 *
 * Since: 1.0
 */
void
vhost_user_backend_send_vring_call_async (VhostUserBackend    *self,
                                          guint                index,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data)
{
  g_autoptr(GBytes) payload = NULL;
  GError *error = NULL;

  g_return_if_fail (VHOST_USER_IS_BACKEND (self));

  payload = ring_payload (self, index, &error);
  vhost_user_backend_send_typed_async (self, VHOST_USER_BACKEND_REQUEST_VRING_CALL, payload, -1, error,
                                       cancellable, callback, user_data);
}

/**
 * vhost_user_backend_send_vring_call_finish:
 * @self: a back-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_backend_send_vring_call_async().
 *
 * Returns: %TRUE if the front-end acknowledged
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_send_vring_call_finish (VhostUserBackend  *self,
                                           GAsyncResult      *result,
                                           GError           **error)
{
  return vhost_user_backend_send_backend_request_finish (self, result, NULL, error) != G_MAXUINT64;
}

/**
 * vhost_user_backend_send_vring_call:
 * @self: a back-end
 * @index: the queue
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of vhost_user_backend_send_vring_call_async().
 *
 * Returns: %TRUE if the front-end acknowledged
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_send_vring_call (VhostUserBackend  *self,
                                    guint              index,
                                    GCancellable      *cancellable,
                                    GError           **error)
{
  g_autoptr(GBytes) payload = NULL;
  GError *local = NULL;

  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), FALSE);

  payload = ring_payload (self, index, &local);
  return vhost_user_backend_send_typed (self, VHOST_USER_BACKEND_REQUEST_VRING_CALL, payload, -1, local,
                                        cancellable, NULL, error) != G_MAXUINT64;
}

/* The driver broke @vring, or its device kept requests past
 * drain-timeout, and the front-end gave it no error eventfd to hear it
 * on: tell it in band where that was negotiated. The answer only says
 * the front-end heard. */
void
vhost_user_backend_ring_err_inband (VhostUserBackend *self,
                                    VhostUserVring   *vring)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  if (vhost_user_vring_get_err_fd (vring) >= 0 || priv->backend_channel == NULL ||
      !(priv->acked_protocol_features & VHOST_USER_PROTOCOL_FEATURE_INBAND_NOTIFICATIONS))
    return;
  vhost_user_backend_send_vring_err_async (self, vhost_user_vring_get_index (vring), NULL, NULL, NULL);
}
