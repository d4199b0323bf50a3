/* vhost-user-frontend.c: the VMM side of vhost-user
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "vhost-user-connection-private.h"
#include "vhost-user-debug-private.h"
#include "vhost-user-error.h"
#include "vhost-user-enum-types.h"
#include "vhost-user-frontend.h"
#include "vhost-user-invocation-private.h"
#include "vhost-user-memory-table.h"
#include "vhost-user-socket-private.h"

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
 * `REPLY_ACK` is negotiated every request asks for an acknowledgement.
 * Every reply is checked (same request, reply flag, size, fds); a bad one,
 * or none within [property@VhostUser.Frontend:timeout], closes the
 * connection, and every request still waiting fails with it:
 * [signal@VhostUser.Frontend::disconnected] says why and whether to
 * reconnect; [method@VhostUser.Frontend.reconnect] dials again, after
 * which the caller replays its setup.
 */

typedef struct {
  GTask   *task;          /* NULL once the caller gave up (cancelled) */
  guint32  request;
  VhostUserReplyKind reply_kind;
  GSource *timeout;
  gulong   cancel_id;
} Pending;

typedef struct {
  GBytes      *payload;
  GUnixFDList *fd_list;
} Reply;

struct _VhostUserFrontend
{
  GObject              parent_instance;

  GMainContext        *context;
  VhostUserConnection *connection;
  char                *path;
  guint                timeout_ms;
  GQueue               pending;

  /* the back-end channel: requests from the back-end, one at a time */
  VhostUserConnection *backend_channel;
  VhostUserInvocation *channel_pending;

  guint64              features;
  guint64              acked_features;
  guint64              protocol_features;
  guint64              acked_protocol_features;
};

enum {
  PROP_0,
  PROP_MAIN_CONTEXT,
  PROP_TIMEOUT,
  PROP_CONNECTED,
  PROP_FEATURES,
  PROP_ACKED_FEATURES,
  PROP_PROTOCOL_FEATURES,
  PROP_ACKED_PROTOCOL_FEATURES,
  N_PROPS
};

enum {
  SIGNAL_DISCONNECTED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];
/* one per back-end channel request, indexed by number */
static guint channel_signals[VHOST_USER_BACKEND_REQUEST_SHMEM_UNMAP + 1];

static void close_backend_channel (VhostUserFrontend *self);

G_DEFINE_FINAL_TYPE (VhostUserFrontend, vhost_user_frontend, G_TYPE_OBJECT)

static void
reply_free (gpointer data)
{
  Reply *reply = data;

  g_clear_pointer (&reply->payload, g_bytes_unref);
  g_clear_object (&reply->fd_list);
  g_free (reply);
}

/* The request's task, now the caller's to complete and unref; the
 * pending entry no longer listens for its cancellation. */
static GTask *
pending_take_task (Pending *pending)
{
  GTask *task = g_steal_pointer (&pending->task);

  if (task != NULL && pending->cancel_id != 0)
    g_cancellable_disconnect (g_task_get_cancellable (task), pending->cancel_id);
  pending->cancel_id = 0;
  return task;
}

static void
pending_free (VhostUserFrontend *self,
              Pending           *pending)
{
  g_autoptr(GTask) task = pending_take_task (pending);

  if (pending->timeout != NULL)
    {
      g_source_destroy (pending->timeout);
      g_source_unref (pending->timeout);
    }
  g_free (pending);
}

static void
set_u64_property (VhostUserFrontend *self,
                  guint64           *field,
                  guint64            value,
                  guint              prop)
{
  if (*field != value)
    {
      *field = value;
      g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
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
  Pending *pending;

  g_object_ref (self);
  reason = error != NULL ? g_error_copy (error)
                         : g_error_new_literal (VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_BROKEN,
                                                "The connection was closed");

  g_clear_object (&self->connection);
  close_backend_channel (self);
  while ((pending = g_queue_pop_head (&self->pending)) != NULL)
    {
      g_autoptr(GTask) task = pending_take_task (pending);

      pending_free (self, pending);
      if (task != NULL)
        g_task_return_error (task, g_error_copy (reason));
    }

  g_object_freeze_notify (G_OBJECT (self));
  set_u64_property (self, &self->features, 0, PROP_FEATURES);
  set_u64_property (self, &self->acked_features, 0, PROP_ACKED_FEATURES);
  set_u64_property (self, &self->protocol_features, 0, PROP_PROTOCOL_FEATURES);
  set_u64_property (self, &self->acked_protocol_features, 0, PROP_ACKED_PROTOCOL_FEATURES);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTED]);
  g_object_thaw_notify (G_OBJECT (self));

  g_signal_emit (self, signals[SIGNAL_DISCONNECTED], 0, reason, vhost_user_error_should_reconnect (reason));
  g_object_unref (self);
}

static void
close_with (VhostUserFrontend *self,
            GError            *error)
{
  if (self->connection != NULL)
    vhost_user_connection_close (self->connection, error);
  g_error_free (error);
}

/* What a successful request changes in what we know of the back-end. */
static void
track_state (VhostUserFrontend *self,
             guint32            request,
             GBytes            *sent,
             GBytes            *reply)
{
  guint64 value = 0;

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
      break;
    case VHOST_USER_REQUEST_GET_PROTOCOL_FEATURES:
      if (reply != NULL && g_bytes_get_size (reply) == 8)
        memcpy (&value, g_bytes_get_data (reply, NULL), 8);
      set_u64_property (self, &self->protocol_features, value, PROP_PROTOCOL_FEATURES);
      break;
    case VHOST_USER_REQUEST_SET_PROTOCOL_FEATURES:
      memcpy (&value, g_bytes_get_data (sent, NULL), 8);
      set_u64_property (self, &self->acked_protocol_features, value, PROP_ACKED_PROTOCOL_FEATURES);
      if (self->connection != NULL)
        vhost_user_connection_set_protocol_features (self->connection, value);
      break;
    default:
      break;
    }
}

/* Replies come in the order the requests went out. */
static void
on_message (VhostUserConnection *connection,
            VhostUserMessage    *msg,
            const GError        *error,
            gpointer             user_data)
{
  VhostUserFrontend *self = user_data;
  const VhostUserRequestInfo *info;
  Pending *pending = g_queue_peek_head (&self->pending);
  Reply *reply;
  GTask *task;
  VhostUserReplyKind reply_kind;
  guint64 status = 0;

  if (error != NULL)
    {
      close_with (self, g_error_copy (error));
      return;
    }
  if (pending == NULL)
    {
      close_with (self, g_error_new (VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
                                     "A reply to %u that nothing asked for", msg->header.request));
      return;
    }
  if (msg->header.request != pending->request)
    {
      close_with (self, g_error_new (VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
                                     "Reply to %s answers request %u instead",
                                     vhost_user_request_get_name (VHOST_USER_CHANNEL_MAIN, pending->request),
                                     msg->header.request));
      return;
    }

  g_queue_pop_head (&self->pending);
  task = pending_take_task (pending);
  info = vhost_user_request_info_lookup (VHOST_USER_CHANNEL_MAIN, pending->request);
  reply_kind = pending->reply_kind;
  pending_free (self, pending);
  if (task == NULL)
    return;  /* cancelled: the reply is read and dropped */

  reply = g_new0 (Reply, 1);
  reply->payload = g_bytes_new (msg->payload, msg->header.size);
  if (msg->n_fds > 0)
    {
      reply->fd_list = g_unix_fd_list_new ();
      for (guint i = 0; i < msg->n_fds; i++)
        {
          int fd = vhost_user_message_steal_fd (msg, i);

          g_unix_fd_list_append (reply->fd_list, fd, NULL);
          g_close (fd, NULL);
        }
    }

  if (reply_kind == VHOST_USER_REPLY_ACK && msg->header.size == sizeof status)
    {
      memcpy (&status, msg->payload, sizeof status);
      if (status != 0)
        {
          g_task_return_new_error (task, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL,
                                   "The back-end refused %s (status %" G_GUINT64_FORMAT ")",
                                   info->name, status);
          reply_free (reply);
          g_object_unref (task);
          return;
        }
    }

  track_state (self, info->number, g_task_get_task_data (task), reply->payload);
  g_task_return_pointer (task, reply, reply_free);
  g_object_unref (task);
}

static gboolean
on_timeout (gpointer user_data)
{
  VhostUserFrontend *self = user_data;
  Pending *pending = g_queue_peek_head (&self->pending);

  /* only the oldest request can be late: replies come in order */
  close_with (self, g_error_new (VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_BROKEN,
                                 "No reply to %s within %u ms",
                                 vhost_user_request_get_name (VHOST_USER_CHANNEL_MAIN,
                                                              pending ? pending->request : 0),
                                 self->timeout_ms));
  return G_SOURCE_REMOVE;
}

typedef struct {
  VhostUserFrontend *self;
  Pending           *pending;
} CancelData;

static gboolean
cancel_in_context (gpointer data)
{
  CancelData *cd = data;

  /* still waiting? then the caller hears now, and the reply is dropped */
  if (g_queue_find (&cd->self->pending, cd->pending) != NULL && cd->pending->task != NULL)
    {
      /* from an idle, never inside the emission: disconnecting is safe */
      GTask *task = pending_take_task (cd->pending);

      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Operation was cancelled");
      g_object_unref (task);
    }
  return G_SOURCE_REMOVE;
}

static void
cancel_data_free (gpointer data)
{
  CancelData *cd = data;

  g_object_unref (cd->self);
  g_free (cd);
}

/* Any thread may cancel: the request is failed from the front-end's
 * context, never inside the cancellation itself. */
static void
on_cancelled (GCancellable *cancellable,
              gpointer      user_data)
{
  CancelData *cd = user_data;
  CancelData *copy = g_memdup2 (cd, sizeof *cd);
  GSource *idle = g_idle_source_new ();

  g_object_ref (copy->self);
  g_source_set_callback (idle, cancel_in_context, copy, cancel_data_free);
  g_source_set_static_name (idle, "VhostUserFrontend cancel");
  g_source_attach (idle, cd->self->context);
  g_source_unref (idle);
}

static gboolean
gate_open (VhostUserFrontend          *self,
           const VhostUserRequestInfo *info,
           GError                    **error)
{
  guint64 virtio = info->gate_flags & VHOST_USER_GATE_VIRTIO_OFFERED ? self->features : self->acked_features;

  if ((info->gate_protocol & self->acked_protocol_features) != info->gate_protocol ||
      (info->gate_virtio & virtio) != info->gate_virtio)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                   "%s needs a feature that was not negotiated", info->name);
      return FALSE;
    }
  return TRUE;
}

/**
 * vhost_user_frontend_request_async:
 * @self: a front-end
 * @request: the request
 * @payload: (nullable): its payload, laid out as the specification says
 * @fd_list: (nullable): file descriptors to pass with it (duplicated)
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the reply (or at once for requests that get none)
 * @user_data: data for @callback
 *
 * Sends any request of the protocol. The payload and fds are checked
 * against the request's layout, and its gating feature against what was
 * negotiated, before anything is sent. When `REPLY_ACK` was negotiated,
 * requests that may be acknowledged ask for it. Requests go out in call
 * order; a cancelled request cannot be unsent, so its reply is still read,
 * and dropped.
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
  const VhostUserRequestInfo *info;
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  gsize size = payload != NULL ? g_bytes_get_size (payload) : 0;
  guint n_fds = fd_list != NULL ? g_unix_fd_list_get_length (fd_list) : 0;
  gboolean reply_ack, expects_reply;
  VhostUserReplyKind reply_kind;

  g_return_if_fail (VHOST_USER_IS_FRONTEND (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, vhost_user_frontend_request_async);
  g_task_set_task_data (task, payload != NULL ? g_bytes_ref (payload) : g_bytes_new (NULL, 0),
                        (GDestroyNotify) g_bytes_unref);

  info = vhost_user_request_info_lookup (VHOST_USER_CHANNEL_MAIN, request);
  if (info == NULL)
    g_set_error (&error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM, "%u is not a request", request);
  else if (self->connection == NULL)
    g_set_error (&error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_BROKEN, "%s: not connected", info->name);
  else if (gate_open (self, info, &error) && size > VHOST_USER_MAX_PAYLOAD)
    g_set_error (&error, VHOST_USER_ERROR, VHOST_USER_ERROR_OVERSIZED_MESSAGE,
                 "%s: a %" G_GSIZE_FORMAT "-byte payload is too large", info->name, size);
  else if (error == NULL && n_fds > VHOST_USER_MAX_FDS)
    g_set_error (&error, VHOST_USER_ERROR, VHOST_USER_ERROR_INCORRECT_FDS,
                 "%s: %u fds, at most %u fit a message", info->name, n_fds, VHOST_USER_MAX_FDS);
  if (error == NULL)
    g_cancellable_set_error_if_cancelled (cancellable, &error);
  if (error != NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  reply_ack = (self->acked_protocol_features & VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK) != 0;
  reply_kind = vhost_user_request_info_get_reply (info, self->acked_protocol_features);
  expects_reply = reply_kind == VHOST_USER_REPLY_ALWAYS || (reply_kind == VHOST_USER_REPLY_ACK && reply_ack);
  vhost_user_message_init (&msg, request, reply_kind == VHOST_USER_REPLY_ACK && reply_ack ?
                                          VHOST_USER_FLAG_NEED_REPLY : 0);
  if (size > 0)
    vhost_user_message_set_payload (&msg, g_bytes_get_data (payload, NULL), size);
  for (guint i = 0; i < n_fds; i++)
    {
      int fd = g_unix_fd_list_get (fd_list, i, &error);

      if (fd < 0)
        break;
      vhost_user_message_add_fd (&msg, fd);
    }

  if (error != NULL ||
      !vhost_user_message_validate (&msg, VHOST_USER_CHANNEL_MAIN, self->acked_protocol_features, &error) ||
      !vhost_user_connection_send (self->connection, &msg, &error))
    {
      vhost_user_message_clear (&msg);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (!expects_reply)
    {
      track_state (self, request, payload, NULL);
      g_task_return_pointer (task, g_new0 (Reply, 1), reply_free);
      return;
    }

  {
    Pending *pending = g_new0 (Pending, 1);

    pending->request = request;
    pending->reply_kind = reply_kind;
    pending->task = g_steal_pointer (&task);
    if (self->timeout_ms > 0)
      {
        pending->timeout = g_timeout_source_new (self->timeout_ms);
        g_source_set_static_name (pending->timeout, "VhostUserFrontend timeout");
        g_source_set_callback (pending->timeout, on_timeout, self, NULL);
        g_source_attach (pending->timeout, self->context);
      }
    if (cancellable != NULL)
      {
        CancelData cd = { self, pending };

        pending->cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled),
                                                    g_memdup2 (&cd, sizeof cd), g_free);
      }
    g_queue_push_tail (&self->pending, pending);
  }
}

/**
 * vhost_user_frontend_request_finish:
 * @self: a front-end
 * @result: the result passed to the callback
 * @out_fd_list: (out) (optional) (nullable) (transfer full): fds the reply
 *   carried, if any
 * @error: return location for a #GError
 *
 * Finishes vhost_user_frontend_request_async(). A non-zero
 * acknowledgement is %VHOST_USER_ERROR_BACKEND_INTERNAL.
 *
 * Returns: (transfer full): the reply's payload (empty if the request got
 *   no reply), or %NULL with @error set
 */
GBytes *
vhost_user_frontend_request_finish (VhostUserFrontend  *self,
                                    GAsyncResult       *result,
                                    GUnixFDList       **out_fd_list,
                                    GError            **error)
{
  Reply *reply;
  GBytes *payload;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  if (out_fd_list != NULL)
    *out_fd_list = NULL;
  reply = g_task_propagate_pointer (G_TASK (result), error);
  if (reply == NULL)
    return NULL;
  payload = reply->payload != NULL ? g_bytes_ref (reply->payload) : g_bytes_new (NULL, 0);
  if (out_fd_list != NULL)
    *out_fd_list = g_steal_pointer (&reply->fd_list);
  reply_free (reply);
  return payload;
}

static void
sync_done (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

typedef void (*StartFunc) (VhostUserFrontend   *self,
                           gpointer             data,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data);

/* The blocking forms: start the async one and run the front-end's context
 * until it is done. The caller must be able to own that context (its
 * thread, or nobody's). */
static GAsyncResult *
wait_for (VhostUserFrontend  *self,
          StartFunc           start,
          gpointer            data,
          GError            **error)
{
  GAsyncResult *result = NULL;

  if (!g_main_context_acquire (self->context))
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                   "Blocking requests must come from the front-end's own context");
      return NULL;
    }
  g_main_context_push_thread_default (self->context);
  start (self, data, sync_done, &result);
  while (result == NULL)
    g_main_context_iteration (self->context, TRUE);
  g_main_context_pop_thread_default (self->context);
  g_main_context_release (self->context);
  return result;
}

typedef struct {
  VhostUserRequestType  request;
  GBytes               *payload;
  GUnixFDList          *fd_list;
  GCancellable         *cancellable;
} RequestArgs;

static void
start_request (VhostUserFrontend   *self,
               gpointer             data,
               GAsyncReadyCallback  callback,
               gpointer             user_data)
{
  RequestArgs *args = data;

  vhost_user_frontend_request_async (self, args->request, args->payload, args->fd_list,
                                     args->cancellable, callback, user_data);
}

/**
 * vhost_user_frontend_request:
 * @self: a front-end
 * @request: the request
 * @payload: (nullable): its payload
 * @fd_list: (nullable): file descriptors to pass with it (duplicated)
 * @cancellable: (nullable): a #GCancellable
 * @out_fd_list: (out) (optional) (nullable) (transfer full): fds the reply carried
 * @error: return location for a #GError
 *
 * The blocking form of vhost_user_frontend_request_async(), bounded by
 * [property@VhostUser.Frontend:timeout]. It runs the front-end's main
 * context while it waits, so call it from the thread that owns that
 * context (or when nobody does).
 *
 * Returns: (transfer full): the reply's payload, or %NULL with @error set
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
  RequestArgs args = { request, payload, fd_list, cancellable };
  g_autoptr(GAsyncResult) result = NULL;

  g_return_val_if_fail (VHOST_USER_IS_FRONTEND (self), NULL);

  result = wait_for (self, start_request, &args, error);
  if (result == NULL)
    return NULL;
  return vhost_user_frontend_request_finish (self, result, out_fd_list, error);
}

/* --- typed requests ---
 *
 * Each layout has a builder (arguments to payload and fds, or an error
 * before anything is sent) and, where the reply says more than "done", a
 * parser; the blocking and the async forms share both. */

typedef struct {
  GBytes      *payload;
  GUnixFDList *fd_list;
} Built;

static void
built_clear (Built *b)
{
  g_clear_pointer (&b->payload, g_bytes_unref);
  g_clear_object (&b->fd_list);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Built, built_clear)

static gboolean
check_layout (VhostUserRequestType   request,
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

static gboolean
build (Built          *b,
       gconstpointer   data,
       gsize           size,
       const int      *fds,
       guint           n_fds,
       GError        **error)
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

static gboolean
build_u64 (Built                 *b,
           VhostUserRequestType   request,
           guint64                value,
           GError               **error)
{
  return check_layout (request, VHOST_USER_PAYLOAD_U64, VHOST_USER_PAYLOAD_NONE, error) &&
         build (b, &value, sizeof value, NULL, 0, error);
}

static gboolean
build_vring_state (Built                 *b,
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
  return check_layout (request, VHOST_USER_PAYLOAD_VRING_STATE, VHOST_USER_PAYLOAD_NONE, error) &&
         build (b, &state, sizeof state, NULL, 0, error);
}

static gboolean
build_vring_fd (Built                 *b,
                VhostUserRequestType   request,
                guint                  index,
                int                    fd,
                GError               **error)
{
  guint64 u64 = (index & VHOST_USER_VRING_INDEX_MASK) | (fd < 0 ? VHOST_USER_VRING_NOFD_MASK : 0);

  if (!check_layout (request, VHOST_USER_PAYLOAD_VRING_FD, VHOST_USER_PAYLOAD_NONE, error))
    return FALSE;
  if (index > VHOST_USER_VRING_INDEX_MASK)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "Queue %u does not fit the index field", index);
      return FALSE;
    }
  return build (b, &u64, sizeof u64, &fd, fd >= 0 ? 1 : 0, error);
}

static gboolean
build_vring_addr (Built    *b,
                  guint     index,
                  guint     flags,
                  guint64   desc_user_addr,
                  guint64   used_user_addr,
                  guint64   avail_user_addr,
                  guint64   log_guest_addr,
                  GError  **error)
{
  VhostUserWireVringAddr addr = { index, flags, desc_user_addr, used_user_addr, avail_user_addr, log_guest_addr };

  return build (b, &addr, sizeof addr, NULL, 0, error);
}

/* With XEN_MMAP negotiated regions carry two more fields (zero here). */
static gboolean
xen_layout (VhostUserFrontend *self)
{
  return (self->acked_protocol_features & VHOST_USER_PROTOCOL_FEATURE_XEN_MMAP) != 0;
}

static gboolean
build_region (Built                       *b,
              const VhostUserMemoryRegion *region,
              gboolean                     xen,
              GError                     **error)
{
  VhostUserWireXenSingleRegion single = { 0 };
  int fd = vhost_user_memory_region_get_fd (region);

  if (fd < 0)
    {
      g_set_error_literal (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                           "Only memory allocated here (vhost_user_memory_region_new_memfd()) can be shared");
      return FALSE;
    }
  single.region.guest_phys_addr = vhost_user_memory_region_get_guest_phys_addr (region);
  single.region.memory_size = vhost_user_memory_region_get_size (region);
  single.region.userspace_addr = vhost_user_memory_region_get_user_addr (region);
  single.region.mmap_offset = vhost_user_memory_region_get_mmap_offset (region);
  return build (b, &single, xen ? sizeof (VhostUserWireXenSingleRegion) : sizeof (VhostUserWireSingleRegion),
                &fd, 1, error);
}

static gboolean
build_mem_table (Built                      *b,
                 const VhostUserMemoryTable *table,
                 gboolean                    xen,
                 GError                    **error)
{
  VhostUserWireXenMemoryRegion regions[VHOST_USER_MAX_MEM_TABLE_REGIONS];
  int fds[VHOST_USER_MAX_MEM_TABLE_REGIONS];
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  guint n = vhost_user_memory_table_get_n_regions (table);

  if (n > VHOST_USER_MAX_MEM_TABLE_REGIONS)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "SET_MEM_TABLE carries at most %u regions; use ADD_MEM_REG for more",
                   VHOST_USER_MAX_MEM_TABLE_REGIONS);
      return FALSE;
    }
  for (guint i = 0; i < n; i++)
    {
      const VhostUserMemoryRegion *region = vhost_user_memory_table_get_region (table, i);

      fds[i] = vhost_user_memory_region_get_fd (region);
      if (fds[i] < 0)
        {
          g_set_error_literal (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                               "Only memory allocated here (vhost_user_memory_region_new_memfd()) can be shared");
          return FALSE;
        }
      memset (&regions[i], 0, sizeof regions[i]);
      regions[i].guest_phys_addr = vhost_user_memory_region_get_guest_phys_addr (region);
      regions[i].memory_size = vhost_user_memory_region_get_size (region);
      regions[i].userspace_addr = vhost_user_memory_region_get_user_addr (region);
      regions[i].mmap_offset = vhost_user_memory_region_get_mmap_offset (region);
    }
  vhost_user_message_set_mem_table (&msg, regions, n, xen);
  return build (b, msg.payload, msg.header.size, fds, n, error);
}

static guint64
parse_u64 (GBytes  *reply,
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

static guint
parse_vring_base (GBytes  *reply,
                  guint    index,
                  GError **error)
{
  VhostUserWireVringState state;

  if (reply == NULL)
    return G_MAXUINT;
  memcpy (&state, g_bytes_get_data (reply, NULL), sizeof state);
  if (state.index != index)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
                   "GET_VRING_BASE for queue %u answered for queue %u", index, state.index);
      return G_MAXUINT;
    }
  return state.num;
}

static GBytes *
parse_config (GBytes  *reply,
              guint    offset,
              guint    size,
              GError **error)
{
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  guint32 r_offset, r_flags, r_size;
  const guint8 *data;

  if (reply == NULL)
    return NULL;
  msg.header.size = g_bytes_get_size (reply);
  memcpy (msg.payload, g_bytes_get_data (reply, NULL), msg.header.size);
  if (!vhost_user_message_get_config (&msg, &r_offset, &r_flags, &data, &r_size) || r_size != size ||
      r_offset != offset)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL,
                   "The back-end refused to read %u config bytes at %u", size, offset);
      return NULL;
    }
  return g_bytes_new (data, r_size);
}

static gboolean
build_config_read (Built    *b,
                   guint     offset,
                   guint     size,
                   GError  **error)
{
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;

  if (size == 0 || size > VHOST_USER_MAX_CONFIG_SIZE)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "Config reads are 1 to %u bytes", VHOST_USER_MAX_CONFIG_SIZE);
      return FALSE;
    }
  vhost_user_message_set_config (&msg, offset, 0, NULL, size);
  return build (b, msg.payload, msg.header.size, NULL, 0, error);
}

/* Sends what a builder made, or reports its error, asynchronously. */
static void
send_built (VhostUserFrontend    *self,
            VhostUserRequestType  request,
            Built                *b,
            gboolean              ok,
            GError               *error,
            gpointer              source_tag,
            GCancellable         *cancellable,
            GAsyncReadyCallback   callback,
            gpointer              user_data)
{
  if (!ok)
    {
      g_task_report_error (self, callback, user_data, source_tag, error);
      return;
    }
  vhost_user_frontend_request_async (self, request, b->payload, b->fd_list, cancellable, callback, user_data);
}

static GBytes *
finish_reply (VhostUserFrontend  *self,
              GAsyncResult       *result,
              GError            **error)
{
  return vhost_user_frontend_request_finish (self, result, NULL, error);
}

/* The blocking forms: a builder's result, sent and waited for. */
static GBytes *
call_built (VhostUserFrontend     *self,
            VhostUserRequestType   request,
            Built                 *b,
            gboolean               ok,
            GCancellable          *cancellable,
            GError               **error)
{
  if (!ok)
    return NULL;
  return vhost_user_frontend_request (self, request, b->payload, b->fd_list, cancellable, NULL, error);
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
 * Returns: the answer, or %G_MAXUINT64 with @error set
 */
guint64
vhost_user_frontend_get_u64 (VhostUserFrontend     *self,
                             VhostUserRequestType   request,
                             GCancellable          *cancellable,
                             GError               **error)
{
  g_autoptr(GBytes) reply = NULL;

  if (!check_layout (request, VHOST_USER_PAYLOAD_NONE, VHOST_USER_PAYLOAD_U64, error))
    return G_MAXUINT64;
  reply = vhost_user_frontend_request (self, request, NULL, NULL, cancellable, NULL, error);
  return parse_u64 (reply, error);
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
 */
void
vhost_user_frontend_get_u64_async (VhostUserFrontend    *self,
                                   VhostUserRequestType  request,
                                   GCancellable         *cancellable,
                                   GAsyncReadyCallback   callback,
                                   gpointer              user_data)
{
  g_auto(Built) b = { 0 };
  GError *error = NULL;
  gboolean ok = check_layout (request, VHOST_USER_PAYLOAD_NONE, VHOST_USER_PAYLOAD_U64, &error);

  send_built (self, request, &b, ok, error, vhost_user_frontend_get_u64_async, cancellable, callback, user_data);
}

/**
 * vhost_user_frontend_get_u64_finish:
 * @self: a front-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_frontend_get_u64_async().
 *
 * Returns: the answer, or %G_MAXUINT64 with @error set
 */
guint64
vhost_user_frontend_get_u64_finish (VhostUserFrontend  *self,
                                    GAsyncResult       *result,
                                    GError            **error)
{
  g_autoptr(GBytes) reply = finish_reply (self, result, error);

  return parse_u64 (reply, error);
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
 */
gboolean
vhost_user_frontend_set_u64 (VhostUserFrontend     *self,
                             VhostUserRequestType   request,
                             guint64                value,
                             GCancellable          *cancellable,
                             GError               **error)
{
  g_auto(Built) b = { 0 };
  g_autoptr(GBytes) reply = NULL;

  reply = call_built (self, request, &b, build_u64 (&b, request, value, error), cancellable, error);
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
 * vhost_user_frontend_set_finish().
 */
void
vhost_user_frontend_set_u64_async (VhostUserFrontend    *self,
                                   VhostUserRequestType  request,
                                   guint64               value,
                                   GCancellable         *cancellable,
                                   GAsyncReadyCallback   callback,
                                   gpointer              user_data)
{
  g_auto(Built) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_u64 (&b, request, value, &error);

  send_built (self, request, &b, ok, error, vhost_user_frontend_set_u64_async, cancellable, callback, user_data);
}

/**
 * vhost_user_frontend_set_finish:
 * @self: a front-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes the async forms of requests whose answer is only "done":
 * vhost_user_frontend_set_u64_async(),
 * vhost_user_frontend_set_vring_state_async(),
 * vhost_user_frontend_set_vring_fd_async(),
 * vhost_user_frontend_set_vring_addr_async(),
 * vhost_user_frontend_set_mem_table_async() and
 * vhost_user_frontend_add_mem_region_async().
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_frontend_set_finish (VhostUserFrontend  *self,
                                GAsyncResult       *result,
                                GError            **error)
{
  g_autoptr(GBytes) reply = finish_reply (self, result, error);

  return reply != NULL;
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
 */
gboolean
vhost_user_frontend_set_vring_state (VhostUserFrontend     *self,
                                     VhostUserRequestType   request,
                                     guint                  index,
                                     guint                  num,
                                     GCancellable          *cancellable,
                                     GError               **error)
{
  g_auto(Built) b = { 0 };
  g_autoptr(GBytes) reply = NULL;

  reply = call_built (self, request, &b, build_vring_state (&b, request, index, num, error), cancellable, error);
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
 * vhost_user_frontend_set_finish().
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
  g_auto(Built) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_vring_state (&b, request, index, num, &error);

  send_built (self, request, &b, ok, error, vhost_user_frontend_set_vring_state_async, cancellable,
              callback, user_data);
}

/**
 * vhost_user_frontend_set_vring_fd:
 * @self: a front-end
 * @request: `SET_VRING_KICK`, `SET_VRING_CALL` or `SET_VRING_ERR`
 * @index: the queue
 * @fd: the eventfd (duplicated), or -1 for none (the no-fd flag)
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Passes a ring's eventfd.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_frontend_set_vring_fd (VhostUserFrontend     *self,
                                  VhostUserRequestType   request,
                                  guint                  index,
                                  int                    fd,
                                  GCancellable          *cancellable,
                                  GError               **error)
{
  g_auto(Built) b = { 0 };
  g_autoptr(GBytes) reply = NULL;

  reply = call_built (self, request, &b, build_vring_fd (&b, request, index, fd, error), cancellable, error);
  return reply != NULL;
}

/**
 * vhost_user_frontend_set_vring_fd_async:
 * @self: a front-end
 * @request: `SET_VRING_KICK`, `SET_VRING_CALL` or `SET_VRING_ERR`
 * @index: the queue
 * @fd: the eventfd (duplicated), or -1 for none
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * The async form of vhost_user_frontend_set_vring_fd(); finish with
 * vhost_user_frontend_set_finish().
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
  g_auto(Built) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_vring_fd (&b, request, index, fd, &error);

  send_built (self, request, &b, ok, error, vhost_user_frontend_set_vring_fd_async, cancellable,
              callback, user_data);
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
  g_auto(Built) b = { 0 };
  g_autoptr(GBytes) reply = NULL;
  gboolean ok = build_vring_addr (&b, index, flags, desc_user_addr, used_user_addr, avail_user_addr,
                                  log_guest_addr, error);

  reply = call_built (self, VHOST_USER_REQUEST_SET_VRING_ADDR, &b, ok, cancellable, error);
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
 * vhost_user_frontend_set_finish().
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
  g_auto(Built) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_vring_addr (&b, index, flags, desc_user_addr, used_user_addr, avail_user_addr,
                                  log_guest_addr, &error);

  send_built (self, VHOST_USER_REQUEST_SET_VRING_ADDR, &b, ok, error, vhost_user_frontend_set_vring_addr_async,
              cancellable, callback, user_data);
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
 * Returns: the ring's base, or %G_MAXUINT with @error set
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
  return parse_vring_base (reply, index, error);
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
 */
void
vhost_user_frontend_get_vring_base_async (VhostUserFrontend   *self,
                                          guint                index,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data)
{
  VhostUserWireVringState state = { index, 0 };
  g_autoptr(GBytes) payload = g_bytes_new (&state, sizeof state);

  vhost_user_frontend_request_async (self, VHOST_USER_REQUEST_GET_VRING_BASE, payload, NULL,
                                     cancellable, callback, user_data);
}

/**
 * vhost_user_frontend_get_vring_base_finish:
 * @self: a front-end
 * @result: the result passed to the callback
 * @index: the queue asked about
 * @error: return location for a #GError
 *
 * Finishes vhost_user_frontend_get_vring_base_async().
 *
 * Returns: the ring's base, or %G_MAXUINT with @error set
 */
guint
vhost_user_frontend_get_vring_base_finish (VhostUserFrontend  *self,
                                           GAsyncResult       *result,
                                           guint               index,
                                           GError            **error)
{
  g_autoptr(GBytes) reply = finish_reply (self, result, error);

  return parse_vring_base (reply, index, error);
}

/**
 * vhost_user_frontend_get_config:
 * @self: a front-end
 * @offset: where to start reading the config space
 * @size: how many bytes
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Reads the back-end's config space (`GET_CONFIG`).
 *
 * Returns: (transfer full): @size bytes, or %NULL with @error set (a
 *   reply of size 0 is the back-end's refusal)
 */
GBytes *
vhost_user_frontend_get_config (VhostUserFrontend  *self,
                                guint               offset,
                                guint               size,
                                GCancellable       *cancellable,
                                GError            **error)
{
  g_auto(Built) b = { 0 };
  g_autoptr(GBytes) reply = NULL;

  reply = call_built (self, VHOST_USER_REQUEST_GET_CONFIG, &b, build_config_read (&b, offset, size, error),
                      cancellable, error);
  return parse_config (reply, offset, size, error);
}

/**
 * vhost_user_frontend_get_config_async:
 * @self: a front-end
 * @offset: where to start reading the config space
 * @size: how many bytes
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the answer
 * @user_data: data for @callback
 *
 * The async form of vhost_user_frontend_get_config().
 */
void
vhost_user_frontend_get_config_async (VhostUserFrontend   *self,
                                      guint                offset,
                                      guint                size,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  g_auto(Built) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_config_read (&b, offset, size, &error);

  send_built (self, VHOST_USER_REQUEST_GET_CONFIG, &b, ok, error, vhost_user_frontend_get_config_async,
              cancellable, callback, user_data);
}

/**
 * vhost_user_frontend_get_config_finish:
 * @self: a front-end
 * @result: the result passed to the callback
 * @offset: the offset asked for
 * @size: the size asked for
 * @error: return location for a #GError
 *
 * Finishes vhost_user_frontend_get_config_async().
 *
 * Returns: (transfer full): the bytes, or %NULL with @error set
 */
GBytes *
vhost_user_frontend_get_config_finish (VhostUserFrontend  *self,
                                       GAsyncResult       *result,
                                       guint               offset,
                                       guint               size,
                                       GError            **error)
{
  g_autoptr(GBytes) reply = finish_reply (self, result, error);

  return parse_config (reply, offset, size, error);
}

/**
 * vhost_user_frontend_add_mem_reg:
 * @self: a front-end
 * @guest_phys_addr: the region's guest-physical address
 * @size: its size
 * @user_addr: where this process maps it (ring addresses are given in
 *   this space)
 * @mmap_offset: where the region starts in @fd
 * @fd: the memory's fd (duplicated)
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Adds one region of guest memory (`ADD_MEM_REG`, needs
 * `CONFIGURE_MEM_SLOTS`), described by hand.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_frontend_add_mem_reg (VhostUserFrontend  *self,
                                 guint64             guest_phys_addr,
                                 guint64             size,
                                 guint64             user_addr,
                                 guint64             mmap_offset,
                                 int                 fd,
                                 GCancellable       *cancellable,
                                 GError            **error)
{
  VhostUserWireXenSingleRegion region = { 0, { guest_phys_addr, size, user_addr, mmap_offset, 0, 0 } };
  g_auto(Built) b = { 0 };
  g_autoptr(GBytes) reply = NULL;

  reply = call_built (self, VHOST_USER_REQUEST_ADD_MEM_REG, &b,
                      build (&b, &region, xen_layout (self) ? sizeof (VhostUserWireXenSingleRegion)
                                                            : sizeof (VhostUserWireSingleRegion), &fd, 1, error),
                      cancellable, error);
  return reply != NULL;
}

/**
 * vhost_user_frontend_add_mem_region:
 * @self: a front-end
 * @region: memory from vhost_user_memory_region_new_memfd()
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Shares one region of guest memory (`ADD_MEM_REG`).
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_frontend_add_mem_region (VhostUserFrontend     *self,
                                    VhostUserMemoryRegion *region,
                                    GCancellable          *cancellable,
                                    GError               **error)
{
  g_auto(Built) b = { 0 };
  g_autoptr(GBytes) reply = NULL;

  reply = call_built (self, VHOST_USER_REQUEST_ADD_MEM_REG, &b, build_region (&b, region, xen_layout (self), error),
                      cancellable, error);
  return reply != NULL;
}

/**
 * vhost_user_frontend_add_mem_region_async:
 * @self: a front-end
 * @region: memory from vhost_user_memory_region_new_memfd()
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * The async form of vhost_user_frontend_add_mem_region(); finish with
 * vhost_user_frontend_set_finish().
 */
void
vhost_user_frontend_add_mem_region_async (VhostUserFrontend     *self,
                                          VhostUserMemoryRegion *region,
                                          GCancellable          *cancellable,
                                          GAsyncReadyCallback    callback,
                                          gpointer               user_data)
{
  g_auto(Built) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_region (&b, region, xen_layout (self), &error);

  send_built (self, VHOST_USER_REQUEST_ADD_MEM_REG, &b, ok, error, vhost_user_frontend_add_mem_region_async,
              cancellable, callback, user_data);
}

/**
 * vhost_user_frontend_set_mem_table:
 * @self: a front-end
 * @table: regions from vhost_user_memory_region_new_memfd(), at most 8
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Replaces the back-end's guest memory (`SET_MEM_TABLE`).
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_frontend_set_mem_table (VhostUserFrontend    *self,
                                   VhostUserMemoryTable *table,
                                   GCancellable         *cancellable,
                                   GError              **error)
{
  g_auto(Built) b = { 0 };
  g_autoptr(GBytes) reply = NULL;

  reply = call_built (self, VHOST_USER_REQUEST_SET_MEM_TABLE, &b, build_mem_table (&b, table, xen_layout (self), error),
                      cancellable, error);
  return reply != NULL;
}

/**
 * vhost_user_frontend_set_mem_table_async:
 * @self: a front-end
 * @table: regions from vhost_user_memory_region_new_memfd(), at most 8
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * The async form of vhost_user_frontend_set_mem_table(); finish with
 * vhost_user_frontend_set_finish().
 */
void
vhost_user_frontend_set_mem_table_async (VhostUserFrontend    *self,
                                         VhostUserMemoryTable *table,
                                         GCancellable         *cancellable,
                                         GAsyncReadyCallback   callback,
                                         gpointer              user_data)
{
  g_auto(Built) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_mem_table (&b, table, xen_layout (self), &error);

  send_built (self, VHOST_USER_REQUEST_SET_MEM_TABLE, &b, ok, error, vhost_user_frontend_set_mem_table_async,
              cancellable, callback, user_data);
}


static gboolean
build_command (Built                 *b,
               VhostUserRequestType   request,
               GError               **error)
{
  return check_layout (request, VHOST_USER_PAYLOAD_NONE, VHOST_USER_PAYLOAD_NONE, error) &&
         build (b, NULL, 0, NULL, 0, error);
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
 */
gboolean
vhost_user_frontend_command (VhostUserFrontend     *self,
                             VhostUserRequestType   request,
                             GCancellable          *cancellable,
                             GError               **error)
{
  g_auto(Built) b = { 0 };
  g_autoptr(GBytes) reply = NULL;

  reply = call_built (self, request, &b, build_command (&b, request, error), cancellable, error);
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
 * vhost_user_frontend_set_finish().
 */
void
vhost_user_frontend_command_async (VhostUserFrontend    *self,
                                   VhostUserRequestType  request,
                                   GCancellable         *cancellable,
                                   GAsyncReadyCallback   callback,
                                   gpointer              user_data)
{
  g_auto(Built) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_command (&b, request, &error);

  send_built (self, request, &b, ok, error, vhost_user_frontend_command_async, cancellable, callback, user_data);
}

static gboolean
build_config_write (Built    *b,
                    guint     offset,
                    guint     flags,
                    GBytes   *data,
                    GError  **error)
{
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  gsize size = g_bytes_get_size (data);

  if (size == 0 || size > VHOST_USER_MAX_CONFIG_SIZE)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "Config writes are 1 to %u bytes", VHOST_USER_MAX_CONFIG_SIZE);
      return FALSE;
    }
  vhost_user_message_set_config (&msg, offset, flags, g_bytes_get_data (data, NULL), size);
  return build (b, msg.payload, msg.header.size, NULL, 0, error);
}

/**
 * vhost_user_frontend_set_config:
 * @self: a front-end
 * @offset: where to start writing the config space
 * @flags: 0 for a driver's write, 1 during migration
 * @data: the bytes
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Writes the back-end's config space (`SET_CONFIG`).
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_frontend_set_config (VhostUserFrontend  *self,
                                guint               offset,
                                guint               flags,
                                GBytes             *data,
                                GCancellable       *cancellable,
                                GError            **error)
{
  g_auto(Built) b = { 0 };
  g_autoptr(GBytes) reply = NULL;

  g_return_val_if_fail (data != NULL, FALSE);
  reply = call_built (self, VHOST_USER_REQUEST_SET_CONFIG, &b, build_config_write (&b, offset, flags, data, error),
                      cancellable, error);
  return reply != NULL;
}

/**
 * vhost_user_frontend_set_config_async:
 * @self: a front-end
 * @offset: where to start writing the config space
 * @flags: 0 for a driver's write, 1 during migration
 * @data: the bytes
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * The async form of vhost_user_frontend_set_config(); finish with
 * vhost_user_frontend_set_finish().
 */
void
vhost_user_frontend_set_config_async (VhostUserFrontend   *self,
                                      guint                offset,
                                      guint                flags,
                                      GBytes              *data,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  g_auto(Built) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_config_write (&b, offset, flags, data, &error);

  send_built (self, VHOST_USER_REQUEST_SET_CONFIG, &b, ok, error, vhost_user_frontend_set_config_async,
              cancellable, callback, user_data);
}

static gboolean
build_inflight (Built    *b,
                guint64   mmap_size,
                guint64   mmap_offset,
                guint     num_queues,
                guint     queue_size,
                int       fd,
                GError  **error)
{
  VhostUserWireInflight inflight = { mmap_size, mmap_offset, num_queues, queue_size, { 0 } };

  if (num_queues > G_MAXUINT16 || queue_size > G_MAXUINT16)
    {
      g_set_error_literal (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                           "Queue counts and sizes of in-flight areas are 16-bit");
      return FALSE;
    }
  return build (b, &inflight, sizeof inflight, &fd, fd >= 0 ? 1 : 0, error);
}

/* The area comes back as its description and the memfd that holds it. */
static int
parse_inflight (GBytes       *reply,
                GUnixFDList  *fd_list,
                guint64      *mmap_size,
                guint64      *mmap_offset,
                GError      **error)
{
  VhostUserWireInflight inflight;

  if (reply == NULL)
    return -1;
  memcpy (&inflight, g_bytes_get_data (reply, NULL), sizeof inflight);
  if (inflight.mmap_size == 0 || fd_list == NULL || g_unix_fd_list_get_length (fd_list) != 1)
    {
      g_set_error_literal (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL,
                           "The back-end gave no in-flight area");
      return -1;
    }
  if (mmap_size != NULL)
    *mmap_size = inflight.mmap_size;
  if (mmap_offset != NULL)
    *mmap_offset = inflight.mmap_offset;
  return g_unix_fd_list_get (fd_list, 0, error);
}

/**
 * vhost_user_frontend_get_inflight_fd:
 * @self: a front-end
 * @num_queues: how many queues to track
 * @queue_size: their size
 * @mmap_size: (out) (optional): the area's size
 * @mmap_offset: (out) (optional): where it starts in the fd
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Asks the back-end for an area tracking in-flight descriptors
 * (`GET_INFLIGHT_FD`). Keep the fd: after the back-end restarts, hand it
 * back with vhost_user_frontend_set_inflight_fd() before the rings start.
 *
 * Returns: the area's fd (the caller owns it), or -1 with @error set
 */
int
vhost_user_frontend_get_inflight_fd (VhostUserFrontend  *self,
                                     guint               num_queues,
                                     guint               queue_size,
                                     guint64            *mmap_size,
                                     guint64            *mmap_offset,
                                     GCancellable       *cancellable,
                                     GError            **error)
{
  g_auto(Built) b = { 0 };
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GUnixFDList) fd_list = NULL;

  if (!build_inflight (&b, 0, 0, num_queues, queue_size, -1, error))
    return -1;
  reply = vhost_user_frontend_request (self, VHOST_USER_REQUEST_GET_INFLIGHT_FD, b.payload, NULL,
                                       cancellable, &fd_list, error);
  return parse_inflight (reply, fd_list, mmap_size, mmap_offset, error);
}

/**
 * vhost_user_frontend_get_inflight_fd_async:
 * @self: a front-end
 * @num_queues: how many queues to track
 * @queue_size: their size
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the answer
 * @user_data: data for @callback
 *
 * The async form of vhost_user_frontend_get_inflight_fd().
 */
void
vhost_user_frontend_get_inflight_fd_async (VhostUserFrontend   *self,
                                           guint                num_queues,
                                           guint                queue_size,
                                           GCancellable        *cancellable,
                                           GAsyncReadyCallback  callback,
                                           gpointer             user_data)
{
  g_auto(Built) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_inflight (&b, 0, 0, num_queues, queue_size, -1, &error);

  send_built (self, VHOST_USER_REQUEST_GET_INFLIGHT_FD, &b, ok, error, vhost_user_frontend_get_inflight_fd_async,
              cancellable, callback, user_data);
}

/**
 * vhost_user_frontend_get_inflight_fd_finish:
 * @self: a front-end
 * @result: the result passed to the callback
 * @mmap_size: (out) (optional): the area's size
 * @mmap_offset: (out) (optional): where it starts in the fd
 * @error: return location for a #GError
 *
 * Finishes vhost_user_frontend_get_inflight_fd_async().
 *
 * Returns: the area's fd (the caller owns it), or -1 with @error set
 */
int
vhost_user_frontend_get_inflight_fd_finish (VhostUserFrontend  *self,
                                            GAsyncResult       *result,
                                            guint64            *mmap_size,
                                            guint64            *mmap_offset,
                                            GError            **error)
{
  g_autoptr(GUnixFDList) fd_list = NULL;
  g_autoptr(GBytes) reply = vhost_user_frontend_request_finish (self, result, &fd_list, error);

  return parse_inflight (reply, fd_list, mmap_size, mmap_offset, error);
}

/**
 * vhost_user_frontend_set_inflight_fd:
 * @self: a front-end
 * @mmap_size: the area's size
 * @mmap_offset: where it starts in @fd
 * @num_queues: how many queues it tracks
 * @queue_size: their size
 * @fd: the area a back-end gave before (duplicated)
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Hands an in-flight area back to a restarted back-end
 * (`SET_INFLIGHT_FD`), before its rings start.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_frontend_set_inflight_fd (VhostUserFrontend  *self,
                                     guint64             mmap_size,
                                     guint64             mmap_offset,
                                     guint               num_queues,
                                     guint               queue_size,
                                     int                 fd,
                                     GCancellable       *cancellable,
                                     GError            **error)
{
  g_auto(Built) b = { 0 };
  g_autoptr(GBytes) reply = NULL;

  reply = call_built (self, VHOST_USER_REQUEST_SET_INFLIGHT_FD, &b,
                      build_inflight (&b, mmap_size, mmap_offset, num_queues, queue_size, fd, error),
                      cancellable, error);
  return reply != NULL;
}

static gboolean
build_rem_region (Built                       *b,
                  const VhostUserMemoryRegion *region,
                  gboolean                     xen,
                  GError                     **error)
{
  VhostUserWireXenSingleRegion single = { 0 };

  single.region.guest_phys_addr = vhost_user_memory_region_get_guest_phys_addr (region);
  single.region.memory_size = vhost_user_memory_region_get_size (region);
  single.region.userspace_addr = vhost_user_memory_region_get_user_addr (region);
  single.region.mmap_offset = vhost_user_memory_region_get_mmap_offset (region);
  return build (b, &single, xen ? sizeof (VhostUserWireXenSingleRegion) : sizeof (VhostUserWireSingleRegion),
                NULL, 0, error);
}

/**
 * vhost_user_frontend_rem_mem_region:
 * @self: a front-end
 * @region: a region shared before with vhost_user_frontend_add_mem_region()
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Takes one region of guest memory back (`REM_MEM_REG`).
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_frontend_rem_mem_region (VhostUserFrontend     *self,
                                    VhostUserMemoryRegion *region,
                                    GCancellable          *cancellable,
                                    GError               **error)
{
  g_auto(Built) b = { 0 };
  g_autoptr(GBytes) reply = NULL;

  g_return_val_if_fail (region != NULL, FALSE);
  reply = call_built (self, VHOST_USER_REQUEST_REM_MEM_REG, &b,
                      build_rem_region (&b, region, xen_layout (self), error), cancellable, error);
  return reply != NULL;
}


/**
 * vhost_user_frontend_set_inflight_fd_async:
 * @self: a front-end
 * @mmap_size: the area's size
 * @mmap_offset: where it starts in @fd
 * @num_queues: how many queues it tracks
 * @queue_size: their size
 * @fd: the area (duplicated)
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * The async form of vhost_user_frontend_set_inflight_fd(); finish with
 * vhost_user_frontend_set_finish().
 */
void
vhost_user_frontend_set_inflight_fd_async (VhostUserFrontend   *self,
                                           guint64              mmap_size,
                                           guint64              mmap_offset,
                                           guint                num_queues,
                                           guint                queue_size,
                                           int                  fd,
                                           GCancellable        *cancellable,
                                           GAsyncReadyCallback  callback,
                                           gpointer             user_data)
{
  g_auto(Built) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_inflight (&b, mmap_size, mmap_offset, num_queues, queue_size, fd, &error);

  send_built (self, VHOST_USER_REQUEST_SET_INFLIGHT_FD, &b, ok, error, vhost_user_frontend_set_inflight_fd_async,
              cancellable, callback, user_data);
}

/**
 * vhost_user_frontend_rem_mem_region_async:
 * @self: a front-end
 * @region: a region shared before
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * The async form of vhost_user_frontend_rem_mem_region(); finish with
 * vhost_user_frontend_set_finish().
 */
void
vhost_user_frontend_rem_mem_region_async (VhostUserFrontend     *self,
                                          VhostUserMemoryRegion *region,
                                          GCancellable          *cancellable,
                                          GAsyncReadyCallback    callback,
                                          gpointer               user_data)
{
  g_auto(Built) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_rem_region (&b, region, xen_layout (self), &error);

  send_built (self, VHOST_USER_REQUEST_REM_MEM_REG, &b, ok, error, vhost_user_frontend_rem_mem_region_async,
              cancellable, callback, user_data);
}

static gboolean
build_fd_only (Built                 *b,
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
  return build (b, NULL, 0, &fd, 1, error);
}

/**
 * vhost_user_frontend_send_fd:
 * @self: a front-end
 * @request: a request that carries only an fd (`SET_LOG_FD`,
 *   `GPU_SET_SOCKET`; `SET_BACKEND_REQ_FD` is
 *   vhost_user_frontend_setup_backend_channel())
 * @fd: the fd (duplicated)
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Passes an fd; with `REPLY_ACK` waits for the acknowledgement.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_frontend_send_fd (VhostUserFrontend     *self,
                             VhostUserRequestType   request,
                             int                    fd,
                             GCancellable          *cancellable,
                             GError               **error)
{
  g_auto(Built) b = { 0 };
  g_autoptr(GBytes) reply = NULL;

  reply = call_built (self, request, &b, build_fd_only (&b, request, fd, error), cancellable, error);
  return reply != NULL;
}

/**
 * vhost_user_frontend_send_fd_async:
 * @self: a front-end
 * @request: a request that carries only an fd
 * @fd: the fd (duplicated)
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * The async form of vhost_user_frontend_send_fd(); finish with
 * vhost_user_frontend_set_finish().
 */
void
vhost_user_frontend_send_fd_async (VhostUserFrontend    *self,
                                   VhostUserRequestType  request,
                                   int                   fd,
                                   GCancellable         *cancellable,
                                   GAsyncReadyCallback   callback,
                                   gpointer              user_data)
{
  g_auto(Built) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_fd_only (&b, request, fd, &error);

  send_built (self, request, &b, ok, error, vhost_user_frontend_send_fd_async, cancellable, callback, user_data);
}

static gboolean
build_log_base (Built    *b,
                guint64   size,
                guint64   offset,
                int       fd,
                GError  **error)
{
  VhostUserWireLog log = { size, offset };

  return build (b, &log, sizeof log, &fd, fd >= 0 ? 1 : 0, error);
}

/**
 * vhost_user_frontend_set_log_base:
 * @self: a front-end
 * @size: the dirty log's size in bytes (one bit per 4 KiB page)
 * @offset: where it starts in @fd
 * @fd: the log's memory (duplicated), or -1 without `LOG_SHMFD`
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Passes the dirty-page log (`SET_LOG_BASE`); with `LOG_SHMFD` the
 * back-end answers once it has mapped it.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_frontend_set_log_base (VhostUserFrontend  *self,
                                  guint64             size,
                                  guint64             offset,
                                  int                 fd,
                                  GCancellable       *cancellable,
                                  GError            **error)
{
  g_auto(Built) b = { 0 };
  g_autoptr(GBytes) reply = NULL;

  reply = call_built (self, VHOST_USER_REQUEST_SET_LOG_BASE, &b, build_log_base (&b, size, offset, fd, error),
                      cancellable, error);
  return reply != NULL;
}

/**
 * vhost_user_frontend_set_log_base_async:
 * @self: a front-end
 * @size: the dirty log's size in bytes
 * @offset: where it starts in @fd
 * @fd: the log's memory (duplicated), or -1
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * The async form of vhost_user_frontend_set_log_base(); finish with
 * vhost_user_frontend_set_finish().
 */
void
vhost_user_frontend_set_log_base_async (VhostUserFrontend   *self,
                                        guint64              size,
                                        guint64              offset,
                                        int                  fd,
                                        GCancellable        *cancellable,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data)
{
  g_auto(Built) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_log_base (&b, size, offset, fd, &error);

  send_built (self, VHOST_USER_REQUEST_SET_LOG_BASE, &b, ok, error, vhost_user_frontend_set_log_base_async,
              cancellable, callback, user_data);
}

static gboolean
build_iotlb (Built    *b,
             guint64   iova,
             guint64   size,
             guint64   user_addr,
             guint     perm,
             guint     type,
             GError  **error)
{
  VhostUserWireIotlb iotlb = { iova, size, user_addr, perm, type, { 0 } };

  if (perm > 3 || type > 4)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "IOTLB permission %u or type %u is not one the protocol knows", perm, type);
      return FALSE;
    }
  return build (b, &iotlb, sizeof iotlb, NULL, 0, error);
}

/**
 * vhost_user_frontend_iotlb_msg:
 * @self: a front-end
 * @iova: the I/O virtual address
 * @size: the range's size
 * @user_addr: where it maps to in this process
 * @perm: the access (1 read, 2 write, 3 both)
 * @type: 2 update, 3 invalidate
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Updates or invalidates an IOTLB entry (`IOTLB_MSG`, needs
 * `VIRTIO_F_ACCESS_PLATFORM`).
 *
 * Returns: %TRUE if the back-end accepted it
 */
gboolean
vhost_user_frontend_iotlb_msg (VhostUserFrontend  *self,
                               guint64             iova,
                               guint64             size,
                               guint64             user_addr,
                               guint               perm,
                               guint               type,
                               GCancellable       *cancellable,
                               GError            **error)
{
  g_auto(Built) b = { 0 };
  g_autoptr(GBytes) reply = NULL;
  guint64 status;

  reply = call_built (self, VHOST_USER_REQUEST_IOTLB_MSG, &b,
                      build_iotlb (&b, iova, size, user_addr, perm, type, error), cancellable, error);
  status = parse_u64 (reply, error);
  if (status != 0 && status != G_MAXUINT64)
    g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL,
                 "The back-end refused the IOTLB update (status %" G_GUINT64_FORMAT ")", status);
  return status == 0;
}

/**
 * vhost_user_frontend_iotlb_msg_async:
 * @self: a front-end
 * @iova: the I/O virtual address
 * @size: the range's size
 * @user_addr: where it maps to in this process
 * @perm: the access (1 read, 2 write, 3 both)
 * @type: 2 update, 3 invalidate
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the answer
 * @user_data: data for @callback
 *
 * The async form of vhost_user_frontend_iotlb_msg(); finish with
 * vhost_user_frontend_get_u64_finish() (0: accepted).
 */
void
vhost_user_frontend_iotlb_msg_async (VhostUserFrontend   *self,
                                     guint64              iova,
                                     guint64              size,
                                     guint64              user_addr,
                                     guint                perm,
                                     guint                type,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_auto(Built) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_iotlb (&b, iova, size, user_addr, perm, type, &error);

  send_built (self, VHOST_USER_REQUEST_IOTLB_MSG, &b, ok, error, vhost_user_frontend_iotlb_msg_async,
              cancellable, callback, user_data);
}

static gboolean
build_uuid (Built       *b,
            const char  *uuid,
            GError     **error)
{
  guint8 bytes[16];
  guint n = 0;

  for (const char *p = uuid; *p != '\0' && n < 32; p++)
    {
      int v = g_ascii_xdigit_value (*p);

      if (*p == '-')
        continue;
      if (v < 0)
        break;
      if (n % 2 == 0)
        bytes[n / 2] = v << 4;
      else
        bytes[n / 2] |= v;
      n++;
    }
  if (n != 32)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM, "“%s” is not a UUID", uuid);
      return FALSE;
    }
  return build (b, bytes, sizeof bytes, NULL, 0, error);
}

/* The u64 and fd of a reply such as GET_SHARED_OBJECT's: the fd, or -1
 * with an error when the u64 says "failed" or no fd came. */
static int
parse_fd_reply (GBytes       *reply,
                GUnixFDList  *fd_list,
                GError      **error)
{
  guint64 status = parse_u64 (reply, error);

  if (status == G_MAXUINT64 && reply == NULL)
    return -1;
  if (status != 0 || fd_list == NULL || g_unix_fd_list_get_length (fd_list) != 1)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL,
                   "The back-end had nothing to give (status %" G_GUINT64_FORMAT ")", status);
      return -1;
    }
  return g_unix_fd_list_get (fd_list, 0, error);
}

/**
 * vhost_user_frontend_get_shared_object:
 * @self: a front-end
 * @uuid: the object's UUID, as text
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Looks up a shared object the back-end exported (`GET_SHARED_OBJECT`).
 *
 * Returns: its dma-buf fd (the caller owns it), or -1 with @error set
 */
int
vhost_user_frontend_get_shared_object (VhostUserFrontend  *self,
                                       const char         *uuid,
                                       GCancellable       *cancellable,
                                       GError            **error)
{
  g_auto(Built) b = { 0 };
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GUnixFDList) fd_list = NULL;

  g_return_val_if_fail (uuid != NULL, -1);
  if (!build_uuid (&b, uuid, error))
    return -1;
  reply = vhost_user_frontend_request (self, VHOST_USER_REQUEST_GET_SHARED_OBJECT, b.payload, NULL,
                                       cancellable, &fd_list, error);
  return parse_fd_reply (reply, fd_list, error);
}

/**
 * vhost_user_frontend_get_shared_object_async:
 * @self: a front-end
 * @uuid: the object's UUID, as text
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the answer
 * @user_data: data for @callback
 *
 * The async form of vhost_user_frontend_get_shared_object().
 */
void
vhost_user_frontend_get_shared_object_async (VhostUserFrontend   *self,
                                             const char          *uuid,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data)
{
  g_auto(Built) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_uuid (&b, uuid, &error);

  send_built (self, VHOST_USER_REQUEST_GET_SHARED_OBJECT, &b, ok, error,
              vhost_user_frontend_get_shared_object_async, cancellable, callback, user_data);
}

/**
 * vhost_user_frontend_get_fd_finish:
 * @self: a front-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes the async requests whose answer is an fd:
 * vhost_user_frontend_get_shared_object_async() and
 * vhost_user_frontend_set_device_state_fd_async().
 *
 * Returns: the fd (the caller owns it), or -1 (with @error set if the
 *   request failed)
 */
int
vhost_user_frontend_get_fd_finish (VhostUserFrontend  *self,
                                   GAsyncResult       *result,
                                   GError            **error)
{
  g_autoptr(GUnixFDList) fd_list = NULL;
  g_autoptr(GBytes) reply = vhost_user_frontend_request_finish (self, result, &fd_list, error);

  if (reply != NULL && fd_list == NULL && g_bytes_get_size (reply) == 8)
    {
      /* SET_DEVICE_STATE_FD: bit 8 says "no fd of mine", bits 0-7 the error */
      guint64 status;

      memcpy (&status, g_bytes_get_data (reply, NULL), 8);
      if ((status & 0xff) == 0 && (status & 0x100))
        return -1;
    }
  return parse_fd_reply (reply, fd_list, error);
}

static gboolean
build_device_state (Built    *b,
                    guint     direction,
                    guint     phase,
                    int       fd,
                    GError  **error)
{
  VhostUserWireDeviceStateTransfer transfer = { direction, phase };

  if (direction > 1)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "Transfer direction %u is neither save (0) nor load (1)", direction);
      return FALSE;
    }
  return build (b, &transfer, sizeof transfer, &fd, 1, error);
}

/**
 * vhost_user_frontend_set_device_state_fd:
 * @self: a front-end
 * @direction: 0 to save the device's state (the back-end writes), 1 to
 *   load it (the back-end reads)
 * @phase: 0 (stopped), the only phase defined
 * @fd: our end of the pipe (duplicated)
 * @out_fd: (out) (optional): an fd the back-end wants used instead, or -1
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Starts a device-state transfer (`SET_DEVICE_STATE_FD`); finish it with
 * `CHECK_DEVICE_STATE` (vhost_user_frontend_get_u64()).
 *
 * Returns: %TRUE if the back-end accepted
 */
gboolean
vhost_user_frontend_set_device_state_fd (VhostUserFrontend  *self,
                                         guint               direction,
                                         guint               phase,
                                         int                 fd,
                                         int                *out_fd,
                                         GCancellable       *cancellable,
                                         GError            **error)
{
  g_auto(Built) b = { 0 };
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GUnixFDList) fd_list = NULL;
  guint64 status;

  if (out_fd != NULL)
    *out_fd = -1;
  if (!build_device_state (&b, direction, phase, fd, error))
    return FALSE;
  reply = vhost_user_frontend_request (self, VHOST_USER_REQUEST_SET_DEVICE_STATE_FD, b.payload, b.fd_list,
                                       cancellable, &fd_list, error);
  status = parse_u64 (reply, error);
  if (reply == NULL)
    return FALSE;
  if ((status & 0xff) != 0)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL,
                   "The back-end refused the state transfer (status %" G_GUINT64_FORMAT ")", status & 0xff);
      return FALSE;
    }
  if (out_fd != NULL && !(status & 0x100) && fd_list != NULL && g_unix_fd_list_get_length (fd_list) == 1)
    *out_fd = g_unix_fd_list_get (fd_list, 0, NULL);
  return TRUE;
}

/**
 * vhost_user_frontend_set_device_state_fd_async:
 * @self: a front-end
 * @direction: 0 save, 1 load
 * @phase: 0 (stopped)
 * @fd: our end of the pipe (duplicated)
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the answer
 * @user_data: data for @callback
 *
 * The async form of vhost_user_frontend_set_device_state_fd(); finish
 * with vhost_user_frontend_get_fd_finish() (-1 and no error: use @fd).
 */
void
vhost_user_frontend_set_device_state_fd_async (VhostUserFrontend   *self,
                                               guint                direction,
                                               guint                phase,
                                               int                  fd,
                                               GCancellable        *cancellable,
                                               GAsyncReadyCallback  callback,
                                               gpointer             user_data)
{
  g_auto(Built) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_device_state (&b, direction, phase, fd, &error);

  send_built (self, VHOST_USER_REQUEST_SET_DEVICE_STATE_FD, &b, ok, error,
              vhost_user_frontend_set_device_state_fd_async, cancellable, callback, user_data);
}

/**
 * vhost_user_frontend_get_shmem_config:
 * @self: a front-end
 * @n_sizes: (out): 256, the number of shared memory region ids
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Asks for the device's shared memory regions (`GET_SHMEM_CONFIG`).
 *
 * Returns: (array length=n_sizes) (transfer full) (nullable): the size of
 *   each region by id, 0 where there is none; %NULL with @error set
 */
guint64 *
vhost_user_frontend_get_shmem_config (VhostUserFrontend  *self,
                                      guint              *n_sizes,
                                      GCancellable       *cancellable,
                                      GError            **error)
{
  VhostUserWireShmemConfig config;
  g_autoptr(GBytes) reply = NULL;

  *n_sizes = 0;
  reply = vhost_user_frontend_request (self, VHOST_USER_REQUEST_GET_SHMEM_CONFIG, NULL, NULL, cancellable, NULL, error);
  if (reply == NULL)
    return NULL;
  memcpy (&config, g_bytes_get_data (reply, NULL), sizeof config);
  *n_sizes = VHOST_USER_MAX_SHMEM_REGIONS;
  return g_memdup2 (config.memory_sizes, sizeof config.memory_sizes);
}

/* --- negotiation --- */

typedef struct {
  guint64 features;
  guint64 protocol_features;
  guint   step;
} Negotiation;

static void negotiate_step (GTask *task);

static void
negotiate_reply (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) reply = NULL;

  reply = vhost_user_frontend_request_finish (VHOST_USER_FRONTEND (source), result, NULL, &error);
  if (reply == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  negotiate_step (g_steal_pointer (&task));
}

static void
send_u64_then_step (GTask                *task,
                    VhostUserRequestType  request,
                    guint64               value)
{
  VhostUserFrontend *self = g_task_get_source_object (task);
  g_autoptr(GBytes) payload = g_bytes_new (&value, sizeof value);

  vhost_user_frontend_request_async (self, request, payload, NULL, g_task_get_cancellable (task),
                                     negotiate_reply, task);
}

/* QEMU's order: GET_FEATURES, GET/SET_PROTOCOL_FEATURES, SET_OWNER,
 * SET_FEATURES; each step starts when the one before answered. */
static void
negotiate_step (GTask *task)
{
  VhostUserFrontend *self = g_task_get_source_object (task);
  Negotiation *n = g_task_get_task_data (task);
  const guint64 protocol_bit = VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_PROTOCOL_FEATURES);

  switch (n->step++)
    {
    case 0:
      vhost_user_frontend_request_async (self, VHOST_USER_REQUEST_GET_FEATURES, NULL, NULL,
                                         g_task_get_cancellable (task), negotiate_reply, task);
      break;
    case 1:
      if (!(self->features & protocol_bit))
        {
          n->step = 3;
          negotiate_step (task);
          break;
        }
      vhost_user_frontend_request_async (self, VHOST_USER_REQUEST_GET_PROTOCOL_FEATURES, NULL, NULL,
                                         g_task_get_cancellable (task), negotiate_reply, task);
      break;
    case 2:
      send_u64_then_step (task, VHOST_USER_REQUEST_SET_PROTOCOL_FEATURES,
                          n->protocol_features & self->protocol_features);
      break;
    case 3:
      vhost_user_frontend_request_async (self, VHOST_USER_REQUEST_SET_OWNER, NULL, NULL,
                                         g_task_get_cancellable (task), negotiate_reply, task);
      break;
    case 4:
      /* keep bit 30 when the back-end offers it: protocol features stay on */
      send_u64_then_step (task, VHOST_USER_REQUEST_SET_FEATURES,
                          (n->features | (self->features & protocol_bit)) & self->features);
      break;
    default:
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      break;
    }
}

/**
 * vhost_user_frontend_negotiate_async:
 * @self: a front-end
 * @features: the virtio features wanted
 * @protocol_features: the protocol features wanted
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when the handshake is done
 * @user_data: data for @callback
 *
 * Runs the opening handshake in QEMU's order: `GET_FEATURES`, then (when
 * the back-end offers protocol features) `GET_PROTOCOL_FEATURES` and
 * `SET_PROTOCOL_FEATURES` with what both sides have, `SET_OWNER`, and
 * `SET_FEATURES` with the intersection of @features and the offer. The
 * result is in the `acked-*` properties.
 */
void
vhost_user_frontend_negotiate_async (VhostUserFrontend   *self,
                                     guint64              features,
                                     guint64              protocol_features,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  GTask *task;
  Negotiation *n;

  g_return_if_fail (VHOST_USER_IS_FRONTEND (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, vhost_user_frontend_negotiate_async);
  n = g_new0 (Negotiation, 1);
  n->features = features;
  n->protocol_features = protocol_features;
  g_task_set_task_data (task, n, g_free);
  negotiate_step (task);
}

/**
 * vhost_user_frontend_negotiate_finish:
 * @self: a front-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_frontend_negotiate_async().
 *
 * Returns: %TRUE if the handshake completed
 */
gboolean
vhost_user_frontend_negotiate_finish (VhostUserFrontend  *self,
                                      GAsyncResult       *result,
                                      GError            **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

typedef struct {
  guint64       features;
  guint64       protocol_features;
  GCancellable *cancellable;
} NegotiateArgs;

static void
start_negotiate (VhostUserFrontend   *self,
                 gpointer             data,
                 GAsyncReadyCallback  callback,
                 gpointer             user_data)
{
  NegotiateArgs *args = data;

  vhost_user_frontend_negotiate_async (self, args->features, args->protocol_features, args->cancellable,
                                       callback, user_data);
}

/**
 * vhost_user_frontend_negotiate:
 * @self: a front-end
 * @features: the virtio features wanted
 * @protocol_features: the protocol features wanted
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of vhost_user_frontend_negotiate_async().
 *
 * Returns: %TRUE if the handshake completed
 */
gboolean
vhost_user_frontend_negotiate (VhostUserFrontend  *self,
                               guint64             features,
                               guint64             protocol_features,
                               GCancellable       *cancellable,
                               GError            **error)
{
  NegotiateArgs args = { features, protocol_features, cancellable };
  g_autoptr(GAsyncResult) result = NULL;

  g_return_val_if_fail (VHOST_USER_IS_FRONTEND (self), FALSE);

  result = wait_for (self, start_negotiate, &args, error);
  if (result == NULL)
    return FALSE;
  return vhost_user_frontend_negotiate_finish (self, result, error);
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
  vhost_user_connection_start (self->connection);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTED]);
  return TRUE;
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
 * type=vhost-user-blk`, DPDK's `net_vhost`, …). Blocks while connecting.
 * The path is kept for vhost_user_frontend_reconnect().
 *
 * Returns: %TRUE on success
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
 * or vhost_user_backend_connect_to_path()). Blocks until one does; the
 * socket file is removed once it has.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_frontend_listen_on_path (VhostUserFrontend  *self,
                                    const char         *path,
                                    guint               timeout_ms,
                                    GCancellable       *cancellable,
                                    GError            **error)
{
  g_autoptr(GSocket) listener = NULL;
  g_autoptr(GSocket) socket = NULL;

  g_return_val_if_fail (VHOST_USER_IS_FRONTEND (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  listener = vhost_user_socket_listen (path, 0, error);
  if (listener == NULL)
    return FALSE;
  g_socket_set_blocking (listener, TRUE);
  g_socket_set_timeout (listener, (timeout_ms + 999) / 1000);
  socket = g_socket_accept (listener, cancellable, error);
  g_socket_close (listener, NULL);
  g_unlink (path);
  if (socket == NULL)
    {
      if (error != NULL && *error != NULL && (*error)->domain == G_IO_ERROR &&
          (*error)->code == G_IO_ERROR_TIMED_OUT)
        {
          g_clear_error (error);
          g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_CONNECT,
                       "No back-end connected to %s within %u ms", path, timeout_ms);
        }
      return FALSE;
    }
  return vhost_user_frontend_take_socket (self, socket, error);
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

/**
 * vhost_user_frontend_close:
 * @self: a front-end
 *
 * Closes the connection; requests still waiting fail and
 * [signal@VhostUser.Frontend::disconnected] is emitted.
 */
void
vhost_user_frontend_close (VhostUserFrontend *self)
{
  g_return_if_fail (VHOST_USER_IS_FRONTEND (self));

  if (self->connection != NULL)
    close_with (self, g_error_new_literal (VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_BROKEN,
                                           "Disconnected by the front-end"));
}


/* --- the back-end channel: requests from the back-end --- */

static void
close_backend_channel (VhostUserFrontend *self)
{
  self->channel_pending = NULL;
  if (self->backend_channel != NULL)
    {
      vhost_user_connection_set_handlers (self->backend_channel, NULL, NULL, NULL);
      vhost_user_connection_close (self->backend_channel, NULL);
      g_clear_object (&self->backend_channel);
    }
}

static void
on_channel_closed (VhostUserConnection *connection,
                   const GError        *error,
                   gpointer             user_data)
{
  VhostUserFrontend *self = user_data;

  if (self->backend_channel == connection)
    close_backend_channel (self);
}

static void
channel_invocation_done (VhostUserInvocation *invocation,
                         VhostUserMessage    *reply,
                         const GError        *error,
                         gpointer             user_data)
{
  VhostUserFrontend *self = user_data;
  const VhostUserRequestInfo *info = vhost_user_invocation_get_info (invocation);

  /* an answer for a channel that is gone has nowhere to go */
  if (self->channel_pending != invocation || self->backend_channel == NULL)
    return;
  self->channel_pending = NULL;

  if (error != NULL)
    VHOST_USER_NOTE (TRACE, "[front-end] %s failed: %s", info->name, error->message);
  if (reply != NULL)
    vhost_user_connection_send (self->backend_channel, reply, NULL);
  else if (error != NULL && vhost_user_invocation_get_reply_kind (invocation) == VHOST_USER_REPLY_ALWAYS)
    {
      close_backend_channel (self);
      return;
    }
  if (self->backend_channel != NULL)
    vhost_user_connection_set_receiving (self->backend_channel, TRUE);
}

static char *
uuid_string (const VhostUserMessage *msg)
{
  guint8 u[16] = { 0 };

  vhost_user_message_get_uuid (msg, u);
  return g_strdup_printf ("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                          u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7],
                          u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

/* The signal's arguments after the invocation, decoded from @msg. */
static guint
decode_channel_args (VhostUserMessage *msg,
                     GValue           *values)
{
  guint n = 0;

#define ARG(type) (g_value_init (&values[n], (type)), &values[n++])
  switch (msg->header.request)
    {
    case VHOST_USER_BACKEND_REQUEST_IOTLB_MSG:
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
    case VHOST_USER_BACKEND_REQUEST_VRING_HOST_NOTIFIER_MSG:
      {
        guint index = 0;
        gboolean no_fd = TRUE;
        guint64 size = 0, offset = 0;

        vhost_user_message_get_vring_area (msg, &index, &no_fd, &size, &offset);
        g_value_set_uint (ARG (G_TYPE_UINT), index);
        g_value_set_uint64 (ARG (G_TYPE_UINT64), size);
        g_value_set_uint64 (ARG (G_TYPE_UINT64), offset);
        g_value_set_int (ARG (G_TYPE_INT), no_fd ? -1 : msg->fds[0]);
      }
      break;
    case VHOST_USER_BACKEND_REQUEST_VRING_CALL:
    case VHOST_USER_BACKEND_REQUEST_VRING_ERR:
      {
        guint32 index = 0, num = 0;

        vhost_user_message_get_vring_state (msg, &index, &num);
        g_value_set_uint (ARG (G_TYPE_UINT), index);
      }
      break;
    case VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_ADD:
    case VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_REMOVE:
    case VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_LOOKUP:
      g_value_take_string (ARG (G_TYPE_STRING), uuid_string (msg));
      break;
    case VHOST_USER_BACKEND_REQUEST_SHMEM_MAP:
    case VHOST_USER_BACKEND_REQUEST_SHMEM_UNMAP:
      {
        VhostUserWireShmemMap map = { 0 };

        vhost_user_message_get_shmem_map (msg, &map);
        g_value_set_uint (ARG (G_TYPE_UINT), map.shmid);
        if (msg->header.request == VHOST_USER_BACKEND_REQUEST_SHMEM_MAP)
          g_value_set_uint64 (ARG (G_TYPE_UINT64), map.fd_offset);
        g_value_set_uint64 (ARG (G_TYPE_UINT64), map.shm_offset);
        g_value_set_uint64 (ARG (G_TYPE_UINT64), map.len);
        if (msg->header.request == VHOST_USER_BACKEND_REQUEST_SHMEM_MAP)
          {
            g_value_set_uint64 (ARG (G_TYPE_UINT64), map.flags);
            g_value_set_int (ARG (G_TYPE_INT), msg->fds[0]);
          }
      }
      break;
    case VHOST_USER_BACKEND_REQUEST_CONFIG_CHANGE_MSG:
    default:
      break;
    }
#undef ARG
  return n;
}

static void
on_channel_message (VhostUserConnection *connection,
                    VhostUserMessage    *msg,
                    const GError        *parse_error,
                    gpointer             user_data)
{
  VhostUserFrontend *self = user_data;
  const VhostUserRequestInfo *info;
  g_autoptr(VhostUserInvocation) invocation = NULL;
  GValue values[8] = { G_VALUE_INIT };
  GValue result = G_VALUE_INIT;
  guint n;
  info = vhost_user_request_info_lookup (VHOST_USER_CHANNEL_BACKEND, msg->header.request);
  if (info == NULL || vhost_user_message_is_reply (msg))
    {
      VHOST_USER_NOTE (TRACE, "[front-end] ignoring message %u on the back-end channel", msg->header.request);
      return;
    }

  vhost_user_connection_set_receiving (connection, FALSE);
  invocation = vhost_user_invocation_new (VHOST_USER_CHANNEL_BACKEND, msg, self->acked_protocol_features, self->context,
                                          channel_invocation_done, g_object_ref (self), g_object_unref);
  self->channel_pending = invocation;

  if (parse_error != NULL)
    {
      vhost_user_invocation_return_error (invocation, parse_error);
      return;
    }
  if ((info->gate_protocol & self->acked_protocol_features) != info->gate_protocol ||
      (info->gate_virtio & self->acked_features) != info->gate_virtio ||
      (msg->n_fds > 0 && !(self->acked_protocol_features & VHOST_USER_PROTOCOL_FEATURE_BACKEND_SEND_FD)))
    {
      vhost_user_invocation_return_error_literal (invocation, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                                                  "The request needs a feature that was not negotiated");
      return;
    }

  g_value_init (&values[0], VHOST_USER_TYPE_FRONTEND);
  g_value_set_object (&values[0], self);
  g_value_init (&values[1], VHOST_USER_TYPE_INVOCATION);
  g_value_set_object (&values[1], invocation);
  n = 2 + decode_channel_args (msg, values + 2);

  g_value_init (&result, G_TYPE_BOOLEAN);
  g_signal_emitv (values, channel_signals[info->number], 0, &result);
  if (!g_value_get_boolean (&result) && !vhost_user_invocation_get_completed (invocation))
    vhost_user_invocation_return_error_literal (invocation, VHOST_USER_ERROR, VHOST_USER_ERROR_HANDLER_FAILED,
                                                "No handler took the request");
  for (guint i = 0; i < n; i++)
    g_value_unset (&values[i]);
}

/**
 * vhost_user_frontend_setup_backend_channel:
 * @self: a front-end
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Opens the back-end channel (the old "slave channel"): a socket pair
 * whose one end goes to the back-end with `SET_BACKEND_REQ_FD`. From then
 * on every request the back-end sends on it raises its signal
 * ([signal@VhostUser.Frontend::config-change-msg], …), answered through
 * the invocation as on the back-end's side. Needs `BACKEND_REQ`.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_frontend_setup_backend_channel (VhostUserFrontend  *self,
                                           GCancellable       *cancellable,
                                           GError            **error)
{
  g_autoptr(GSocket) ours = NULL;
  g_autoptr(GSocket) theirs = NULL;
  g_autoptr(GUnixFDList) fd_list = g_unix_fd_list_new ();
  g_autoptr(GBytes) reply = NULL;

  g_return_val_if_fail (VHOST_USER_IS_FRONTEND (self), FALSE);

  if (!vhost_user_socket_pair (&ours, &theirs, error) ||
      g_unix_fd_list_append (fd_list, g_socket_get_fd (theirs), error) < 0)
    return FALSE;

  /* ready before the back-end can use it */
  close_backend_channel (self);
  self->backend_channel = vhost_user_connection_new (ours, VHOST_USER_CHANNEL_BACKEND, FALSE, self->context);
  vhost_user_connection_set_protocol_features (self->backend_channel, self->acked_protocol_features);
  vhost_user_connection_set_handlers (self->backend_channel, on_channel_message, on_channel_closed, self);
  vhost_user_connection_start (self->backend_channel);

  reply = vhost_user_frontend_request (self, VHOST_USER_REQUEST_SET_BACKEND_REQ_FD, NULL, fd_list,
                                       cancellable, NULL, error);
  if (reply == NULL)
    {
      close_backend_channel (self);
      return FALSE;
    }
  return TRUE;
}

static gboolean
channel_ack (VhostUserFrontend   *self,
             VhostUserInvocation *invocation)
{
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

static gboolean
channel_refuse (VhostUserFrontend   *self,
                VhostUserInvocation *invocation)
{
  vhost_user_invocation_return_error_literal (invocation, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                                              "Not implemented by this front-end");
  return TRUE;
}

static void
register_channel_signals (GType type)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (VHOST_USER_TYPE_BACKEND_REQUEST_TYPE);
  static const struct {
    guint     number;
    guint     n_params;
    GType     params[6];
    gboolean  accept;
  } rows[] = {
    { VHOST_USER_BACKEND_REQUEST_IOTLB_MSG, 5,
      { G_TYPE_UINT64, G_TYPE_UINT64, G_TYPE_UINT64, G_TYPE_UINT, G_TYPE_UINT }, FALSE },
    { VHOST_USER_BACKEND_REQUEST_CONFIG_CHANGE_MSG, 0, { 0 }, TRUE },
    { VHOST_USER_BACKEND_REQUEST_VRING_HOST_NOTIFIER_MSG, 4,
      { G_TYPE_UINT, G_TYPE_UINT64, G_TYPE_UINT64, G_TYPE_INT }, FALSE },
    { VHOST_USER_BACKEND_REQUEST_VRING_CALL, 1, { G_TYPE_UINT }, TRUE },
    { VHOST_USER_BACKEND_REQUEST_VRING_ERR, 1, { G_TYPE_UINT }, TRUE },
    { VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_ADD, 1, { G_TYPE_STRING }, FALSE },
    { VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_REMOVE, 1, { G_TYPE_STRING }, FALSE },
    { VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_LOOKUP, 1, { G_TYPE_STRING }, FALSE },
    { VHOST_USER_BACKEND_REQUEST_SHMEM_MAP, 6,
      { G_TYPE_UINT, G_TYPE_UINT64, G_TYPE_UINT64, G_TYPE_UINT64, G_TYPE_UINT64, G_TYPE_INT }, FALSE },
    { VHOST_USER_BACKEND_REQUEST_SHMEM_UNMAP, 3, { G_TYPE_UINT, G_TYPE_UINT64, G_TYPE_UINT64 }, FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      GType params[7];

      params[0] = VHOST_USER_TYPE_INVOCATION;
      memcpy (params + 1, rows[i].params, rows[i].n_params * sizeof (GType));
      /* the defaults ignore the request's arguments, so one C signature
       * serves every signal (the generic marshaller passes the rest) */
      channel_signals[rows[i].number] =
        g_signal_newv (g_enum_get_value (klass, rows[i].number)->value_nick, type, G_SIGNAL_RUN_LAST,
                       g_cclosure_new (rows[i].accept ? G_CALLBACK (channel_ack) : G_CALLBACK (channel_refuse),
                                       NULL, NULL),
                       g_signal_accumulator_true_handled, NULL, NULL,
                       G_TYPE_BOOLEAN, 1 + rows[i].n_params, params);
    }
}

/* --- object --- */

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
  close_backend_channel (self);

  G_OBJECT_CLASS (vhost_user_frontend_parent_class)->dispose (object);
}

static void
vhost_user_frontend_finalize (GObject *object)
{
  VhostUserFrontend *self = VHOST_USER_FRONTEND (object);

  g_free (self->path);
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
      if (self->context == NULL)
        self->context = g_main_context_ref_thread_default ();
      break;
    case PROP_TIMEOUT:
      vhost_user_frontend_set_timeout (self, g_value_get_uint (value));
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

  object_class->dispose = vhost_user_frontend_dispose;
  object_class->finalize = vhost_user_frontend_finalize;
  object_class->get_property = vhost_user_frontend_get_property;
  object_class->set_property = vhost_user_frontend_set_property;

  /**
   * VhostUserFrontend:main-context:
   *
   * The context the socket is watched in and callbacks run in; the
   * thread-default context at construction if unset.
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
   */
  properties[PROP_TIMEOUT] =
    g_param_spec_uint ("timeout", NULL, NULL, 0, G_MAXUINT, 30000,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * VhostUserFrontend:connected:
   *
   * Whether a back-end is connected.
   */
  properties[PROP_CONNECTED] = g_param_spec_boolean ("connected", NULL, NULL, FALSE, ro);
  /**
   * VhostUserFrontend:features:
   *
   * The virtio features the back-end offered (`GET_FEATURES`).
   */
  properties[PROP_FEATURES] = g_param_spec_uint64 ("features", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  /**
   * VhostUserFrontend:acked-features:
   *
   * The virtio features acknowledged (`SET_FEATURES`).
   */
  properties[PROP_ACKED_FEATURES] = g_param_spec_uint64 ("acked-features", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  /**
   * VhostUserFrontend:protocol-features:
   *
   * The protocol features the back-end offered.
   */
  properties[PROP_PROTOCOL_FEATURES] =
    g_param_spec_uint64 ("protocol-features", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  /**
   * VhostUserFrontend:acked-protocol-features:
   *
   * The protocol features in use (`SET_PROTOCOL_FEATURES`).
   */
  properties[PROP_ACKED_PROTOCOL_FEATURES] =
    g_param_spec_uint64 ("acked-protocol-features", NULL, NULL, 0, G_MAXUINT64, 0, ro);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * VhostUserFrontend::disconnected:
   * @self: the front-end
   * @error: why the connection ended
   * @should_reconnect: what vhost_user_error_should_reconnect() says of @error
   *
   * The connection ended; every request that was waiting has failed.
   */
  signals[SIGNAL_DISCONNECTED] =
    g_signal_new ("disconnected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_ERROR, G_TYPE_BOOLEAN);

  /**
   * VhostUserFrontend::iotlb-msg:
   * @self: the front-end
   * @invocation: the request, to answer
   * @iova: the I/O virtual address
   * @size: the range's size
   * @user_addr: the address, if known
   * @perm: the access wanted (1 read, 2 write, 3 both)
   * @type: 1 miss, 4 access failure
   *
   * The back-end missed an IOTLB entry. Default: refuse (no IOMMU).
   *
   * Returns: %TRUE if the handler answers @invocation
   */
  /**
   * VhostUserFrontend::config-change-msg:
   * @self: the front-end
   * @invocation: the request, to answer
   *
   * The back-end's config space changed: read it again with
   * vhost_user_frontend_get_config() (not from the handler: answer first).
   * Default: acknowledge.
   *
   * Returns: %TRUE if the handler answers @invocation
   */
  /**
   * VhostUserFrontend::vring-host-notifier-msg:
   * @self: the front-end
   * @invocation: the request, to answer
   * @index: the queue
   * @size: the notification area's size
   * @offset: where it starts in @fd
   * @fd: the area's fd, or -1 to withdraw it; valid during the emission
   *
   * The back-end offers a page the guest may write to kick @index
   * directly. Default: refuse.
   *
   * Returns: %TRUE if the handler answers @invocation
   */
  /**
   * VhostUserFrontend::vring-call:
   * @self: the front-end
   * @invocation: the request, to answer
   * @index: the queue
   *
   * An in-band call: the back-end used buffers of @index. Default:
   * acknowledge.
   *
   * Returns: %TRUE if the handler answers @invocation
   */
  /**
   * VhostUserFrontend::vring-err:
   * @self: the front-end
   * @invocation: the request, to answer
   * @index: the queue
   *
   * An in-band error notification for @index. Default: acknowledge.
   *
   * Returns: %TRUE if the handler answers @invocation
   */
  /**
   * VhostUserFrontend::shared-object-add:
   * @self: the front-end
   * @invocation: the request, to answer
   * @uuid: the object's UUID
   *
   * The back-end exports a shared object. Default: refuse.
   *
   * Returns: %TRUE if the handler answers @invocation
   */
  /**
   * VhostUserFrontend::shared-object-remove:
   * @self: the front-end
   * @invocation: the request, to answer
   * @uuid: the object's UUID
   *
   * The back-end withdraws a shared object. Default: refuse.
   *
   * Returns: %TRUE if the handler answers @invocation
   */
  /**
   * VhostUserFrontend::shared-object-lookup:
   * @self: the front-end
   * @invocation: the request, to answer (vhost_user_invocation_return_fd())
   * @uuid: the object's UUID
   *
   * The back-end looks up a shared object. Default: not found.
   *
   * Returns: %TRUE if the handler answers @invocation
   */
  /**
   * VhostUserFrontend::shmem-map:
   * @self: the front-end
   * @invocation: the request, to answer
   * @shmid: the shared memory region
   * @fd_offset: where the mapping starts in @fd
   * @shm_offset: where it goes in the region
   * @len: its length
   * @flags: bit 0 for read-write
   * @fd: what to map, valid during the emission
   *
   * The back-end maps memory into a shared memory region. Default: refuse.
   *
   * Returns: %TRUE if the handler answers @invocation
   */
  /**
   * VhostUserFrontend::shmem-unmap:
   * @self: the front-end
   * @invocation: the request, to answer
   * @shmid: the shared memory region
   * @shm_offset: where the mapping is
   * @len: its length
   *
   * The back-end unmaps a range of a shared memory region. Default: refuse.
   *
   * Returns: %TRUE if the handler answers @invocation
   */
  register_channel_signals (G_TYPE_FROM_CLASS (klass));
}

static void
vhost_user_frontend_init (VhostUserFrontend *self)
{
  g_queue_init (&self->pending);
}

/**
 * vhost_user_frontend_new:
 *
 * A front-end in the thread-default main context, not yet connected.
 *
 * Returns: (transfer full): a new front-end
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
 */
void
vhost_user_frontend_set_timeout (VhostUserFrontend *self,
                                 guint              timeout_ms)
{
  g_return_if_fail (VHOST_USER_IS_FRONTEND (self));

  if (self->timeout_ms == timeout_ms)
    return;
  self->timeout_ms = timeout_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TIMEOUT]);
}

/**
 * vhost_user_frontend_get_features:
 * @self: a front-end
 *
 * Gets the virtio features the back-end offered.
 *
 * Returns: the features, 0 before `GET_FEATURES`
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
 */
guint64
vhost_user_frontend_get_acked_protocol_features (VhostUserFrontend *self)
{
  g_return_val_if_fail (VHOST_USER_IS_FRONTEND (self), 0);
  return self->acked_protocol_features;
}
