/* vhost-user-frontend-requests.c: any request, and the typed requests of
 * the simple layouts (u64, rings, commands, a lone fd)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>

#include "vhost-user-error.h"
#include "vhost-user-frontend-private.h"

/* Gating is the front-end's; everything after it is the requester's. */
static void
request_async_tagged (VhostUserFrontend    *self,
                      VhostUserRequestType  request,
                      GBytes               *payload,
                      GUnixFDList          *fd_list,
                      GCancellable         *cancellable,
                      gpointer              source_tag,
                      GAsyncReadyCallback   callback,
                      gpointer              user_data)
{
  const VhostUserRequestInfo *info = vhost_user_request_info_lookup (VHOST_USER_CHANNEL_MAIN, request);
  GError *error = NULL;

  if (info != NULL && self->connection != NULL &&
      !vhost_user_request_info_check_gate (info, VHOST_USER_CHANNEL_MAIN, self->acked_protocol_features,
                                           self->features, self->acked_features, 0, &error))
    {
      g_task_report_error (self, callback, user_data, source_tag, error);
      return;
    }
  vhost_user_requester_send_async (self->requester, request, payload, fd_list, cancellable, source_tag,
                                   callback, user_data);
}

/**
 * vhost_user_frontend_request_async:
 * @self: a front-end
 * @request: the request
 * @payload: (nullable): its payload, laid out as the specification says
 * @fd_list: (nullable): file descriptors to pass with it; borrowed: the
 *   front-end sends duplicates, the caller still closes its own
 * @cancellable: (nullable): a #GCancellable, which may be cancelled from
 *   any thread
 * @callback: called with the reply (or at once for requests that get none)
 * @user_data: data for @callback
 *
 * Sends any request of the protocol. The payload and fds are checked
 * against the request's layout, and its gating feature against what was
 * negotiated, before anything is sent. When `REPLY_ACK` was negotiated,
 * requests that may be acknowledged ask for it. Requests go out in call
 * order; a cancelled request cannot be unsent, so its reply is still read,
 * and dropped. No reply within [property@VhostUser.Frontend:timeout] is
 * %VHOST_USER_ERROR_TIMED_OUT, and closes the connection.
 *
 * Since: 1.0
 */
void
vhost_user_frontend_request_async (VhostUserFrontend    *self,
                                   VhostUserRequestType  request,
                                   GBytes               *payload,
                                   GUnixFDList          *fd_list,
                                   GCancellable         *cancellable,
                                   GAsyncReadyCallback   callback,
                                   gpointer              user_data)
{
  g_return_if_fail (VHOST_USER_IS_FRONTEND (self));

  request_async_tagged (self, request, payload, fd_list, cancellable, vhost_user_frontend_request_async,
                        callback, user_data);
}

/**
 * vhost_user_frontend_request_finish:
 * @self: a front-end
 * @result: the result passed to the callback
 * @out_fd_list: (out) (optional) (nullable) (transfer full): fds the reply
 *   carried, if any; the caller's
 * @error: return location for a #GError
 *
 * Finishes vhost_user_frontend_request_async(). A non-zero
 * acknowledgement is %VHOST_USER_ERROR_BACKEND_INTERNAL.
 *
 * Returns: (transfer full): the reply's payload (empty if the request got
 *   no reply), or %NULL with @error set
 *
 * Since: 1.0
 */
GBytes *
vhost_user_frontend_request_finish (VhostUserFrontend  *self,
                                    GAsyncResult       *result,
                                    GUnixFDList       **out_fd_list,
                                    GError            **error)
{
  g_return_val_if_fail (VHOST_USER_IS_FRONTEND (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return vhost_user_requester_send_finish (self->requester, result, NULL, out_fd_list, error);
}

/* Isolated, but for a peer in this process (see
 * vhost_user_frontend_request()). */
GAsyncResult *
vhost_user_frontend_wait (VhostUserFrontend           *self,
                          VhostUserRequesterStartFunc  start,
                          gpointer                     data,
                          GError                     **error)
{
  gboolean isolate = self->connection == NULL || !vhost_user_connection_peer_is_this_process (self->connection);

  return vhost_user_requester_wait (self->requester, start, data, isolate, error);
}

typedef struct {
  VhostUserFrontend    *self;
  VhostUserRequestType  request;
  GBytes               *payload;
  GUnixFDList          *fd_list;
  GCancellable         *cancellable;
} RequestArgs;

static void
start_request (gpointer             data,
               GAsyncReadyCallback  callback,
               gpointer             user_data)
{
  RequestArgs *args = data;

  vhost_user_frontend_request_async (args->self, args->request, args->payload, args->fd_list,
                                     args->cancellable, callback, user_data);
}

/**
 * vhost_user_frontend_request:
 * @self: a front-end
 * @request: the request
 * @payload: (nullable): its payload
 * @fd_list: (nullable): file descriptors to pass with it; borrowed (the
 *   front-end sends duplicates)
 * @cancellable: (nullable): a #GCancellable, which may be cancelled from
 *   any thread
 * @out_fd_list: (out) (optional) (nullable) (transfer full): fds the reply carried
 * @error: return location for a #GError
 *
 * The blocking form of vhost_user_frontend_request_async(), bounded by
 * [property@VhostUser.Frontend:timeout]. Call it from the thread that owns
 * the front-end's context (or when nobody does).
 *
 * While it waits it runs a private main context that holds only the
 * front-end's own sockets and timer, as GDBus's blocking calls do: the
 * other sources of the front-end's context (the application's idles and
 * timeouts, ring watches) do not run inside the call. Requests the
 * back-end sends on its channel meanwhile are answered.
 *
 * The one exception is a back-end in this very process (the socket's
 * credentials say so: the test suites, a demo or a simulation with both
 * ends in one loop). It may be served by the very context the wait would
 * take away, so there the call runs the front-end's context instead of
 * deadlocking until [property@VhostUser.Frontend:timeout].
 *
 * Returns: (transfer full): the reply's payload, or %NULL with @error set
 *
 * Since: 1.0
 */
GBytes *
vhost_user_frontend_request (VhostUserFrontend     *self,
                             VhostUserRequestType   request,
                             GBytes                *payload,
                             GUnixFDList           *fd_list,
                             GCancellable          *cancellable,
                             GUnixFDList          **out_fd_list,
                             GError               **error)
{
  RequestArgs args = { self, request, payload, fd_list, cancellable };
  g_autoptr(GAsyncResult) result = NULL;

  g_return_val_if_fail (VHOST_USER_IS_FRONTEND (self), NULL);

  if (out_fd_list != NULL)
    *out_fd_list = NULL;
  result = vhost_user_frontend_wait (self, start_request, &args, error);
  if (result == NULL)
    return NULL;
  return vhost_user_frontend_request_finish (self, result, out_fd_list, error);
}

/* --- the typed requests' plumbing --- */

void
vhost_user_built_clear (VhostUserBuilt *b)
{
  g_clear_pointer (&b->payload, g_bytes_unref);
  g_clear_object (&b->fd_list);
}

gboolean
vhost_user_frontend_check_layout (VhostUserRequestType   request,
                                  VhostUserPayloadKind   request_kind,
                                  VhostUserPayloadKind   reply_kind,
                                  GError               **error)
{
  const VhostUserRequestInfo *info = vhost_user_request_info_lookup (VHOST_USER_CHANNEL_MAIN, request);

  if (info == NULL || info->request.kind != request_kind ||
      (reply_kind != VHOST_USER_PAYLOAD_NONE &&
       (info->reply != VHOST_USER_REPLY_ALWAYS || info->reply_payload.kind != reply_kind)) ||
      (reply_kind == VHOST_USER_PAYLOAD_NONE && info->reply == VHOST_USER_REPLY_ALWAYS))
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "%s does not have that layout", info != NULL ? info->name : "That request");
      return FALSE;
    }
  return TRUE;
}

/* @fds are borrowed: the list holds duplicates. */
gboolean
vhost_user_frontend_build (VhostUserBuilt *b,
                           gconstpointer    data,
                           gsize            size,
                           const int       *fds,
                           guint            n_fds,
                           GError         **error)
{
  b->payload = g_bytes_new (data, size);
  if (n_fds > 0)
    {
      b->fd_list = g_unix_fd_list_new ();
      for (guint i = 0; i < n_fds; i++)
        if (g_unix_fd_list_append (b->fd_list, fds[i], error) < 0)
          return FALSE;
    }
  return TRUE;
}

/* Sends what a builder made, or reports its error, asynchronously. */
void
vhost_user_frontend_send_built (VhostUserFrontend    *self,
                                VhostUserRequestType  request,
                                VhostUserBuilt       *b,
                                gboolean              ok,
                                GError               *error,
                                gpointer              source_tag,
                                GCancellable         *cancellable,
                                GAsyncReadyCallback   callback,
                                gpointer              user_data)
{
  g_return_if_fail (VHOST_USER_IS_FRONTEND (self));

  if (!ok)
    {
      g_task_report_error (self, callback, user_data, source_tag, error);
      return;
    }
  request_async_tagged (self, request, b->payload, b->fd_list, cancellable, source_tag, callback, user_data);
}

/* The blocking forms: a builder's result, sent and waited for. */
GBytes *
vhost_user_frontend_call_built (VhostUserFrontend     *self,
                                VhostUserRequestType   request,
                                VhostUserBuilt        *b,
                                gboolean               ok,
                                GCancellable          *cancellable,
                                GError               **error)
{
  g_return_val_if_fail (VHOST_USER_IS_FRONTEND (self), NULL);

  if (!ok)
    return NULL;
  return vhost_user_frontend_request (self, request, b->payload, b->fd_list, cancellable, NULL, error);
}

/* A typed _finish: the result must come from its own _async. */
GBytes *
vhost_user_frontend_finish_built (VhostUserFrontend  *self,
                                  GAsyncResult       *result,
                                  gpointer            source_tag,
                                  GBytes            **out_sent,
                                  GUnixFDList       **out_fd_list,
                                  GError            **error)
{
  g_return_val_if_fail (VHOST_USER_IS_FRONTEND (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, source_tag), NULL);

  return vhost_user_requester_send_finish (self->requester, result, out_sent, out_fd_list, error);
}

gboolean
vhost_user_frontend_finish_done (VhostUserFrontend  *self,
                                 GAsyncResult       *result,
                                 gpointer            source_tag,
                                 GError            **error)
{
  g_autoptr(GBytes) reply = vhost_user_frontend_finish_built (self, result, source_tag, NULL, NULL, error);

  return reply != NULL;
}

guint64
vhost_user_frontend_parse_u64 (GBytes  *reply,
                               GError **error)
{
  guint64 value;

  if (reply == NULL)
    return G_MAXUINT64;
  if (g_bytes_get_size (reply) != sizeof value)
    {
      g_set_error_literal (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE, "The reply is not a u64");
      return G_MAXUINT64;
    }
  memcpy (&value, g_bytes_get_data (reply, NULL), sizeof value);
  return value;
}

/* With XEN_MMAP negotiated regions carry two more fields (zero here). */
gboolean
vhost_user_frontend_xen_layout (VhostUserFrontend *self)
{
  return (self->acked_protocol_features & VHOST_USER_PROTOCOL_FEATURE_XEN_MMAP) != 0;
}

/* --- typed requests: u64, rings, commands, a lone fd --- */

static gboolean
build_u64 (VhostUserBuilt *b,
           VhostUserRequestType   request,
           guint64                value,
           GError               **error)
{
  return vhost_user_frontend_check_layout (request, VHOST_USER_PAYLOAD_U64, VHOST_USER_PAYLOAD_NONE, error) &&
         vhost_user_frontend_build (b, &value, sizeof value, NULL, 0, error);
}

static gboolean
build_vring_state (VhostUserBuilt *b,
                   VhostUserRequestType   request,
                   guint                  index,
                   guint                  num,
                   GError               **error)
{
  VhostUserWireVringState state = { index, num };

  if (request == VHOST_USER_REQUEST_GET_VRING_BASE)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "GET_VRING_BASE has an answer: use vhost_user_frontend_get_vring_base()");
      return FALSE;
    }
  return vhost_user_frontend_check_layout (request, VHOST_USER_PAYLOAD_VRING_STATE, VHOST_USER_PAYLOAD_NONE, error) &&
         vhost_user_frontend_build (b, &state, sizeof state, NULL, 0, error);
}

static gboolean
build_vring_fd (VhostUserBuilt *b,
                VhostUserRequestType   request,
                guint                  index,
                int                    fd,
                GError               **error)
{
  guint64 u64 = (index & VHOST_USER_VRING_INDEX_MASK) | (fd < 0 ? VHOST_USER_VRING_NOFD_MASK : 0);

  if (!vhost_user_frontend_check_layout (request, VHOST_USER_PAYLOAD_VRING_FD, VHOST_USER_PAYLOAD_NONE, error))
    return FALSE;
  if (index > VHOST_USER_VRING_INDEX_MASK)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "Queue %u does not fit the index field", index);
      return FALSE;
    }
  return vhost_user_frontend_build (b, &u64, sizeof u64, &fd, fd >= 0 ? 1 : 0, error);
}

static gboolean
build_vring_addr (VhostUserBuilt *b,
                  guint     index,
                  guint     flags,
                  guint64   desc_user_addr,
                  guint64   used_user_addr,
                  guint64   avail_user_addr,
                  guint64   log_guest_addr,
                  GError  **error)
{
  VhostUserWireVringAddr addr = { index, flags, desc_user_addr, used_user_addr, avail_user_addr, log_guest_addr };

  return vhost_user_frontend_build (b, &addr, sizeof addr, NULL, 0, error);
}

/* The reply names the ring: it must be the one asked about. A split
 * ring's base is its 16-bit available index, and where the features this
 * connection acknowledged say the rings are split (no RING_PACKED), a
 * wider one is the back-end's error, which passed on would be cut to 16
 * bits, or sent back by SET_VRING_BASE, somewhere down the line. A packed
 * ring's base fills all 32 bits (two 15-bit positions, two wrap
 * counters): nothing to check without the ring's size. Without a
 * SET_FEATURES of ours (a connection negotiated before it was handed to
 * us) the layout is unknown, and the base goes on as it came. */
static guint
parse_vring_base (VhostUserFrontend  *self,
                  GBytes             *reply,
                  GBytes             *sent,
                  GError            **error)
{
  VhostUserWireVringState state, asked;

  if (reply == NULL)
    return G_MAXUINT;
  memcpy (&state, g_bytes_get_data (reply, NULL), sizeof state);
  memcpy (&asked, g_bytes_get_data (sent, NULL), sizeof asked);
  if (state.index != asked.index)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
                   "GET_VRING_BASE for queue %u answered for queue %u", asked.index, state.index);
      return G_MAXUINT;
    }
  if (self->features_set && state.num > G_MAXUINT16 &&
      !(self->acked_features & VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_RING_PACKED)))
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
                   "GET_VRING_BASE for split queue %u answered 0x%x, wider than its 16-bit index",
                   state.index, state.num);
      return G_MAXUINT;
    }
  return state.num;
}

/**
 * vhost_user_frontend_get_u64:
 * @self: a front-end
 * @request: a request with no payload whose reply is a u64
 *   (`GET_FEATURES`, `GET_PROTOCOL_FEATURES`, `GET_QUEUE_NUM`,
 *   `GET_MAX_MEM_SLOTS`, `GET_STATUS`, `POSTCOPY_END`, `CHECK_DEVICE_STATE`)
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Sends @request and waits for its u64 answer.
 *
 * Returns: the answer, or %G_MAXUINT64 with @error set (a back-end may
 *   answer %G_MAXUINT64 too: tell a failure by @error)
 *
 * Since: 1.0
 */
guint64
vhost_user_frontend_get_u64 (VhostUserFrontend     *self,
                             VhostUserRequestType   request,
                             GCancellable          *cancellable,
                             GError               **error)
{
  g_autoptr(GBytes) reply = NULL;

  if (!vhost_user_frontend_check_layout (request, VHOST_USER_PAYLOAD_NONE, VHOST_USER_PAYLOAD_U64, error))
    return G_MAXUINT64;
  reply = vhost_user_frontend_request (self, request, NULL, NULL, cancellable, NULL, error);
  return vhost_user_frontend_parse_u64 (reply, error);
}

/**
 * vhost_user_frontend_get_u64_async:
 * @self: a front-end
 * @request: a request with no payload whose reply is a u64
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the answer
 * @user_data: data for @callback
 *
 * The async form of vhost_user_frontend_get_u64().
 *
 * Since: 1.0
 */
void
vhost_user_frontend_get_u64_async (VhostUserFrontend    *self,
                                   VhostUserRequestType  request,
                                   GCancellable         *cancellable,
                                   GAsyncReadyCallback   callback,
                                   gpointer              user_data)
{
  g_auto(VhostUserBuilt) b = { 0 };
  GError *error = NULL;
  gboolean ok = vhost_user_frontend_check_layout (request, VHOST_USER_PAYLOAD_NONE, VHOST_USER_PAYLOAD_U64, &error);

  vhost_user_frontend_send_built (self, request, &b, ok, error, vhost_user_frontend_get_u64_async, cancellable, callback, user_data);
}

/**
 * vhost_user_frontend_get_u64_finish:
 * @self: a front-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_frontend_get_u64_async().
 *
 * Returns: the answer, or %G_MAXUINT64 with @error set (a back-end may
 *   answer %G_MAXUINT64 too: tell a failure by @error)
 *
 * Since: 1.0
 */
guint64
vhost_user_frontend_get_u64_finish (VhostUserFrontend  *self,
                                    GAsyncResult       *result,
                                    GError            **error)
{
  g_autoptr(GBytes) reply = NULL;

  reply = vhost_user_frontend_finish_built (self, result, vhost_user_frontend_get_u64_async, NULL, NULL, error);
  return vhost_user_frontend_parse_u64 (reply, error);
}

/**
 * vhost_user_frontend_set_u64:
 * @self: a front-end
 * @request: a request whose payload is a u64 (`SET_FEATURES`,
 *   `SET_PROTOCOL_FEATURES`, `SET_STATUS`, `NET_SET_MTU`, `SEND_RARP`,
 *   `CLOSE_CRYPTO_SESSION`)
 * @value: the value
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Sends @request; with `REPLY_ACK` waits for its acknowledgement.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_set_u64 (VhostUserFrontend     *self,
                             VhostUserRequestType   request,
                             guint64                value,
                             GCancellable          *cancellable,
                             GError               **error)
{
  g_auto(VhostUserBuilt) b = { 0 };
  g_autoptr(GBytes) reply = NULL;

  reply = vhost_user_frontend_call_built (self, request, &b, build_u64 (&b, request, value, error), cancellable, error);
  return reply != NULL;
}

/**
 * vhost_user_frontend_set_u64_async:
 * @self: a front-end
 * @request: a request whose payload is a u64
 * @value: the value
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * The async form of vhost_user_frontend_set_u64(); finish with
 * vhost_user_frontend_set_u64_finish().
 *
 * Since: 1.0
 */
void
vhost_user_frontend_set_u64_async (VhostUserFrontend    *self,
                                   VhostUserRequestType  request,
                                   guint64               value,
                                   GCancellable         *cancellable,
                                   GAsyncReadyCallback   callback,
                                   gpointer              user_data)
{
  g_auto(VhostUserBuilt) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_u64 (&b, request, value, &error);

  vhost_user_frontend_send_built (self, request, &b, ok, error, vhost_user_frontend_set_u64_async, cancellable, callback, user_data);
}

/**
 * vhost_user_frontend_set_u64_finish:
 * @self: a front-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_frontend_set_u64_async().
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_set_u64_finish (VhostUserFrontend  *self,
                                  GAsyncResult       *result,
                                  GError            **error)
{
  return vhost_user_frontend_finish_done (self, result, vhost_user_frontend_set_u64_async, error);
}

/**
 * vhost_user_frontend_set_vring_state:
 * @self: a front-end
 * @request: a request whose payload is a ring index and a number
 *   (`SET_VRING_NUM`, `SET_VRING_BASE`, `SET_VRING_ENABLE`,
 *   `SET_VRING_ENDIAN`, `VRING_KICK`)
 * @index: the queue
 * @num: the number
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Sends @request; with `REPLY_ACK` waits for its acknowledgement.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_set_vring_state (VhostUserFrontend     *self,
                                     VhostUserRequestType   request,
                                     guint                  index,
                                     guint                  num,
                                     GCancellable          *cancellable,
                                     GError               **error)
{
  g_auto(VhostUserBuilt) b = { 0 };
  g_autoptr(GBytes) reply = NULL;

  reply = vhost_user_frontend_call_built (self, request, &b, build_vring_state (&b, request, index, num, error), cancellable, error);
  return reply != NULL;
}

/**
 * vhost_user_frontend_set_vring_state_async:
 * @self: a front-end
 * @request: a request whose payload is a ring index and a number
 * @index: the queue
 * @num: the number
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * The async form of vhost_user_frontend_set_vring_state(); finish with
 * vhost_user_frontend_set_vring_state_finish().
 *
 * Since: 1.0
 */
void
vhost_user_frontend_set_vring_state_async (VhostUserFrontend    *self,
                                           VhostUserRequestType  request,
                                           guint                 index,
                                           guint                 num,
                                           GCancellable         *cancellable,
                                           GAsyncReadyCallback   callback,
                                           gpointer              user_data)
{
  g_auto(VhostUserBuilt) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_vring_state (&b, request, index, num, &error);

  vhost_user_frontend_send_built (self, request, &b, ok, error, vhost_user_frontend_set_vring_state_async, cancellable,
              callback, user_data);
}

/**
 * vhost_user_frontend_set_vring_state_finish:
 * @self: a front-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_frontend_set_vring_state_async().
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_set_vring_state_finish (VhostUserFrontend  *self,
                                          GAsyncResult       *result,
                                          GError            **error)
{
  return vhost_user_frontend_finish_done (self, result, vhost_user_frontend_set_vring_state_async, error);
}

/**
 * vhost_user_frontend_set_vring_fd:
 * @self: a front-end
 * @request: `SET_VRING_KICK`, `SET_VRING_CALL` or `SET_VRING_ERR`
 * @index: the queue
 * @fd: the eventfd, or -1 for none (the no-fd flag); borrowed: the
 *   front-end sends a duplicate, the caller still closes its own
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Passes a ring's eventfd.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_set_vring_fd (VhostUserFrontend     *self,
                                  VhostUserRequestType   request,
                                  guint                  index,
                                  int                    fd,
                                  GCancellable          *cancellable,
                                  GError               **error)
{
  g_auto(VhostUserBuilt) b = { 0 };
  g_autoptr(GBytes) reply = NULL;

  reply = vhost_user_frontend_call_built (self, request, &b, build_vring_fd (&b, request, index, fd, error), cancellable, error);
  return reply != NULL;
}

/**
 * vhost_user_frontend_set_vring_fd_async:
 * @self: a front-end
 * @request: `SET_VRING_KICK`, `SET_VRING_CALL` or `SET_VRING_ERR`
 * @index: the queue
 * @fd: the eventfd, or -1 for none; borrowed (the front-end sends a
 *   duplicate)
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * The async form of vhost_user_frontend_set_vring_fd(); finish with
 * vhost_user_frontend_set_vring_fd_finish().
 *
 * Since: 1.0
 */
void
vhost_user_frontend_set_vring_fd_async (VhostUserFrontend    *self,
                                        VhostUserRequestType  request,
                                        guint                 index,
                                        int                   fd,
                                        GCancellable         *cancellable,
                                        GAsyncReadyCallback   callback,
                                        gpointer              user_data)
{
  g_auto(VhostUserBuilt) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_vring_fd (&b, request, index, fd, &error);

  vhost_user_frontend_send_built (self, request, &b, ok, error, vhost_user_frontend_set_vring_fd_async, cancellable,
              callback, user_data);
}

/**
 * vhost_user_frontend_set_vring_fd_finish:
 * @self: a front-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_frontend_set_vring_fd_async().
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_set_vring_fd_finish (VhostUserFrontend  *self,
                                       GAsyncResult       *result,
                                       GError            **error)
{
  return vhost_user_frontend_finish_done (self, result, vhost_user_frontend_set_vring_fd_async, error);
}

/**
 * vhost_user_frontend_set_vring_addr:
 * @self: a front-end
 * @index: the queue
 * @flags: bit 0 to log used-ring writes
 * @desc_user_addr: the descriptor table, in this process's address space
 * @used_user_addr: the used ring
 * @avail_user_addr: the available ring
 * @log_guest_addr: the guest-physical address used-ring writes are logged at
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Says where a ring lives (`SET_VRING_ADDR`).
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_set_vring_addr (VhostUserFrontend  *self,
                                    guint               index,
                                    guint               flags,
                                    guint64             desc_user_addr,
                                    guint64             used_user_addr,
                                    guint64             avail_user_addr,
                                    guint64             log_guest_addr,
                                    GCancellable       *cancellable,
                                    GError            **error)
{
  g_auto(VhostUserBuilt) b = { 0 };
  g_autoptr(GBytes) reply = NULL;
  gboolean ok = build_vring_addr (&b, index, flags, desc_user_addr, used_user_addr, avail_user_addr,
                                  log_guest_addr, error);

  reply = vhost_user_frontend_call_built (self, VHOST_USER_REQUEST_SET_VRING_ADDR, &b, ok, cancellable, error);
  return reply != NULL;
}

/**
 * vhost_user_frontend_set_vring_addr_async:
 * @self: a front-end
 * @index: the queue
 * @flags: bit 0 to log used-ring writes
 * @desc_user_addr: the descriptor table
 * @used_user_addr: the used ring
 * @avail_user_addr: the available ring
 * @log_guest_addr: where used-ring writes are logged
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * The async form of vhost_user_frontend_set_vring_addr(); finish with
 * vhost_user_frontend_set_vring_addr_finish().
 *
 * Since: 1.0
 */
void
vhost_user_frontend_set_vring_addr_async (VhostUserFrontend   *self,
                                          guint                index,
                                          guint                flags,
                                          guint64              desc_user_addr,
                                          guint64              used_user_addr,
                                          guint64              avail_user_addr,
                                          guint64              log_guest_addr,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data)
{
  g_auto(VhostUserBuilt) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_vring_addr (&b, index, flags, desc_user_addr, used_user_addr, avail_user_addr,
                                  log_guest_addr, &error);

  vhost_user_frontend_send_built (self, VHOST_USER_REQUEST_SET_VRING_ADDR, &b, ok, error, vhost_user_frontend_set_vring_addr_async,
              cancellable, callback, user_data);
}

/**
 * vhost_user_frontend_set_vring_addr_finish:
 * @self: a front-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_frontend_set_vring_addr_async().
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_set_vring_addr_finish (VhostUserFrontend  *self,
                                         GAsyncResult       *result,
                                         GError            **error)
{
  return vhost_user_frontend_finish_done (self, result, vhost_user_frontend_set_vring_addr_async, error);
}

/**
 * vhost_user_frontend_get_vring_base:
 * @self: a front-end
 * @index: the queue
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Stops a ring (`GET_VRING_BASE`) and returns where it stands.
 *
 * Once this front-end sent `SET_FEATURES` without `VIRTIO_F_RING_PACKED`,
 * the rings are split and an answer above 0xffff (a split ring's index
 * is 16 bits) is %VHOST_USER_ERROR_INVALID_MESSAGE. A packed ring's base
 * (bits 0-14 the next available position, bit 15 its wrap counter, bits
 * 16-30 the next used position, bit 31 its wrap counter) comes as the
 * back-end sent it: only the ring's size, which this front-end does not
 * keep, bounds the positions ([class@VhostUser.Device] checks them).
 * Before any `SET_FEATURES` of this front-end nothing is checked; the
 * reply as sent is vhost_user_frontend_request()'s too.
 *
 * Returns: the ring's base, or %G_MAXUINT with @error set (a packed ring's
 *   base may be %G_MAXUINT too: tell a failure by @error)
 *
 * Since: 1.0
 */
guint
vhost_user_frontend_get_vring_base (VhostUserFrontend  *self,
                                    guint               index,
                                    GCancellable       *cancellable,
                                    GError            **error)
{
  VhostUserWireVringState state = { index, 0 };
  g_autoptr(GBytes) payload = g_bytes_new (&state, sizeof state);
  g_autoptr(GBytes) reply = NULL;

  reply = vhost_user_frontend_request (self, VHOST_USER_REQUEST_GET_VRING_BASE, payload, NULL,
                                       cancellable, NULL, error);
  return parse_vring_base (self, reply, payload, error);
}

/**
 * vhost_user_frontend_get_vring_base_async:
 * @self: a front-end
 * @index: the queue
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the answer
 * @user_data: data for @callback
 *
 * The async form of vhost_user_frontend_get_vring_base().
 *
 * Since: 1.0
 */
void
vhost_user_frontend_get_vring_base_async (VhostUserFrontend   *self,
                                          guint                index,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data)
{
  VhostUserWireVringState state = { index, 0 };
  g_auto(VhostUserBuilt) b = { g_bytes_new (&state, sizeof state), NULL };

  vhost_user_frontend_send_built (self, VHOST_USER_REQUEST_GET_VRING_BASE, &b, TRUE, NULL,
                                  vhost_user_frontend_get_vring_base_async, cancellable, callback, user_data);
}

/**
 * vhost_user_frontend_get_vring_base_finish:
 * @self: a front-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_frontend_get_vring_base_async().
 *
 * Returns: the ring's base, or %G_MAXUINT with @error set (a packed ring's
 *   base may be %G_MAXUINT too: tell a failure by @error)
 *
 * Since: 1.0
 */
guint
vhost_user_frontend_get_vring_base_finish (VhostUserFrontend  *self,
                                           GAsyncResult       *result,
                                           GError            **error)
{
  g_autoptr(GBytes) sent = NULL;
  g_autoptr(GBytes) reply = NULL;

  reply = vhost_user_frontend_finish_built (self, result, vhost_user_frontend_get_vring_base_async, &sent, NULL,
                                            error);
  return parse_vring_base (self, reply, sent, error);
}


static gboolean
build_command (VhostUserBuilt *b,
               VhostUserRequestType   request,
               GError               **error)
{
  return vhost_user_frontend_check_layout (request, VHOST_USER_PAYLOAD_NONE, VHOST_USER_PAYLOAD_NONE, error) &&
         vhost_user_frontend_build (b, NULL, 0, NULL, 0, error);
}

/**
 * vhost_user_frontend_command:
 * @self: a front-end
 * @request: a request with neither payload nor answer (`SET_OWNER`,
 *   `RESET_OWNER`, `RESET_DEVICE`, `POSTCOPY_LISTEN`)
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Sends @request; with `REPLY_ACK` waits for its acknowledgement.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_command (VhostUserFrontend     *self,
                             VhostUserRequestType   request,
                             GCancellable          *cancellable,
                             GError               **error)
{
  g_auto(VhostUserBuilt) b = { 0 };
  g_autoptr(GBytes) reply = NULL;

  reply = vhost_user_frontend_call_built (self, request, &b, build_command (&b, request, error), cancellable, error);
  return reply != NULL;
}

/**
 * vhost_user_frontend_command_async:
 * @self: a front-end
 * @request: a request with neither payload nor answer
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * The async form of vhost_user_frontend_command(); finish with
 * vhost_user_frontend_command_finish().
 *
 * Since: 1.0
 */
void
vhost_user_frontend_command_async (VhostUserFrontend    *self,
                                   VhostUserRequestType  request,
                                   GCancellable         *cancellable,
                                   GAsyncReadyCallback   callback,
                                   gpointer              user_data)
{
  g_auto(VhostUserBuilt) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_command (&b, request, &error);

  vhost_user_frontend_send_built (self, request, &b, ok, error, vhost_user_frontend_command_async, cancellable, callback, user_data);
}

/**
 * vhost_user_frontend_command_finish:
 * @self: a front-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_frontend_command_async().
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_command_finish (VhostUserFrontend  *self,
                                  GAsyncResult       *result,
                                  GError            **error)
{
  return vhost_user_frontend_finish_done (self, result, vhost_user_frontend_command_async, error);
}

static gboolean
build_fd_only (VhostUserBuilt *b,
               VhostUserRequestType   request,
               int                    fd,
               GError               **error)
{
  const VhostUserRequestInfo *info = vhost_user_request_info_lookup (VHOST_USER_CHANNEL_MAIN, request);

  if (info == NULL || info->request.kind != VHOST_USER_PAYLOAD_NONE || info->request.min_fds != 1)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "%s does not carry just an fd", info != NULL ? info->name : "That request");
      return FALSE;
    }
  return vhost_user_frontend_build (b, NULL, 0, &fd, 1, error);
}

/**
 * vhost_user_frontend_send_fd:
 * @self: a front-end
 * @request: a request that carries only an fd (`SET_LOG_FD`,
 *   `GPU_SET_SOCKET`; `SET_BACKEND_REQ_FD` is
 *   vhost_user_frontend_setup_backend_channel())
 * @fd: the fd; borrowed: the front-end sends a duplicate, the caller
 *   still closes its own
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Passes an fd; with `REPLY_ACK` waits for the acknowledgement.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_send_fd (VhostUserFrontend     *self,
                             VhostUserRequestType   request,
                             int                    fd,
                             GCancellable          *cancellable,
                             GError               **error)
{
  g_auto(VhostUserBuilt) b = { 0 };
  g_autoptr(GBytes) reply = NULL;

  reply = vhost_user_frontend_call_built (self, request, &b, build_fd_only (&b, request, fd, error), cancellable, error);
  return reply != NULL;
}

/**
 * vhost_user_frontend_send_fd_async:
 * @self: a front-end
 * @request: a request that carries only an fd
 * @fd: the fd; borrowed: the front-end sends a duplicate, the caller
 *   still closes its own
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * The async form of vhost_user_frontend_send_fd(); finish with
 * vhost_user_frontend_send_fd_finish().
 *
 * Since: 1.0
 */
void
vhost_user_frontend_send_fd_async (VhostUserFrontend    *self,
                                   VhostUserRequestType  request,
                                   int                   fd,
                                   GCancellable         *cancellable,
                                   GAsyncReadyCallback   callback,
                                   gpointer              user_data)
{
  g_auto(VhostUserBuilt) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_fd_only (&b, request, fd, &error);

  vhost_user_frontend_send_built (self, request, &b, ok, error, vhost_user_frontend_send_fd_async, cancellable, callback, user_data);
}

/**
 * vhost_user_frontend_send_fd_finish:
 * @self: a front-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_frontend_send_fd_async().
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_send_fd_finish (VhostUserFrontend  *self,
                                  GAsyncResult       *result,
                                  GError            **error)
{
  return vhost_user_frontend_finish_done (self, result, vhost_user_frontend_send_fd_async, error);
}
