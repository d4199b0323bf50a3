/* vhost-user-requester.c: the sending side of one channel, for either role
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>
#include <glib/gstdio.h>

#include "vhost-user-error.h"
#include "vhost-user-requester-private.h"
#include "vhost-user-peer-fd-private.h"

typedef struct {
  guint64             serial;
  GTask              *task;        /* NULL once the caller gave up (cancelled) */
  GCancellable       *cancellable;
  gulong              cancel_id;
  guint32             request;
  VhostUserReplyKind  reply_kind;
  GBytes             *sent;
  gint64              deadline;    /* monotonic µs; 0: no limit */
} Pending;

typedef struct {
  GBytes      *sent;
  GBytes      *payload;
  GUnixFDList *fd_list;
} Reply;

struct _VhostUserRequester
{
  GObject              parent_instance;

  VhostUserChannel     channel;
  GObject             *owner;      /* not a ref: the owner owns us */
  GMainContext        *context;

  /* Where our sources are attached: the role's context, or the private
   * one of a blocking wait. Read by cancellation on any thread. */
  GMutex               lock;
  GMainContext        *current;

  VhostUserConnection *connection;
  VhostUserConnection *companion;
  guint64              protocol_features;
  gboolean             no_acks;     /* REPLY_ACK or not, never ask for one */
  guint                timeout_ms;

  GQueue               pending;
  guint64              next_serial;
  GSource             *timer;

  VhostUserRequesterDoneFunc done_func;
  gpointer                   done_data;
};

G_DEFINE_FINAL_TYPE (VhostUserRequester, vhost_user_requester, G_TYPE_OBJECT)

static void
reply_free (gpointer data)
{
  Reply *reply = data;

  g_clear_pointer (&reply->sent, g_bytes_unref);
  g_clear_pointer (&reply->payload, g_bytes_unref);
  g_clear_object (&reply->fd_list);
  g_free (reply);
}

/* The request's task, now the caller's to complete; nobody listens for
 * its cancellation any more. Never call it from the cancellation itself. */
static GTask *
pending_take_task (Pending *pending)
{
  if (pending->cancel_id != 0)
    g_cancellable_disconnect (pending->cancellable, pending->cancel_id);
  pending->cancel_id = 0;
  g_clear_object (&pending->cancellable);
  return g_steal_pointer (&pending->task);
}

static void
pending_free (Pending *pending)
{
  g_autoptr(GTask) task = pending_take_task (pending);

  g_clear_pointer (&pending->sent, g_bytes_unref);
  g_free (pending);
}

static GMainContext *
current_context (VhostUserRequester *self)
{
  GMainContext *context;

  g_mutex_lock (&self->lock);
  context = g_main_context_ref (self->current);
  g_mutex_unlock (&self->lock);
  return context;
}

static const char *
request_name (VhostUserRequester *self,
              guint32             request)
{
  return vhost_user_request_get_name (self->channel, request);
}

/* --- the timeout --- */

static void close_with (VhostUserRequester *self, GError *error);
static void arm_timer (VhostUserRequester *self);

static gboolean
on_timer (gpointer user_data)
{
  VhostUserRequester *self = user_data;
  gint64 now = g_get_monotonic_time ();
  guint32 request = 0;

  for (GList *l = self->pending.head; l != NULL; l = l->next)
    {
      Pending *pending = l->data;

      if (pending->deadline != 0 && pending->deadline <= now)
        {
          request = pending->request;
          break;
        }
    }
  g_clear_pointer (&self->timer, g_source_unref);
  /* (a timer of whole milliseconds that came before the deadline's
   * microsecond) */
  if (request == 0)
    {
      arm_timer (self);
      return G_SOURCE_REMOVE;
    }
  /* nothing after the late reply could be matched: the connection goes */
  close_with (self, g_error_new (VHOST_USER_ERROR, VHOST_USER_ERROR_TIMED_OUT,
                                 "No reply to %s within %u ms", request_name (self, request),
                                 self->timeout_ms));
  return G_SOURCE_REMOVE;
}

static void
stop_timer (VhostUserRequester *self)
{
  if (self->timer != NULL)
    {
      g_source_destroy (self->timer);
      g_clear_pointer (&self->timer, g_source_unref);
    }
}

/* One timer, for the earliest deadline among the requests waiting. */
static void
arm_timer (VhostUserRequester *self)
{
  gint64 earliest = 0;

  stop_timer (self);
  for (GList *l = self->pending.head; l != NULL; l = l->next)
    {
      Pending *pending = l->data;

      if (pending->deadline != 0 && (earliest == 0 || pending->deadline < earliest))
        earliest = pending->deadline;
    }
  if (earliest == 0)
    return;
  /* (rounded up: a timer a fraction of a millisecond early finds no
   * request late) */
  self->timer = g_timeout_source_new ((MAX (earliest - g_get_monotonic_time (), 0) + 999) / 1000);
  g_source_set_static_name (self->timer, "VhostUserRequester timeout");
  g_source_set_callback (self->timer, on_timer, self, NULL);
  g_source_attach (self->timer, self->current);
}

/* --- cancellation, from any thread --- */

typedef struct {
  VhostUserRequester *self;
  guint64             serial;
} CancelData;

static gboolean
cancel_in_context (gpointer data)
{
  CancelData *cd = data;

  for (GList *l = cd->self->pending.head; l != NULL; l = l->next)
    {
      Pending *pending = l->data;

      if (pending->serial == cd->serial && pending->task != NULL)
        {
          /* the reply, when it comes, is read and dropped */
          g_autoptr(GTask) task = pending_take_task (pending);

          g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Operation was cancelled");
          break;
        }
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

static void
schedule_cancel (VhostUserRequester *self,
                 GMainContext       *context,
                 guint64             serial)
{
  CancelData *cd = g_new0 (CancelData, 1);
  GSource *idle = g_idle_source_new ();

  cd->self = g_object_ref (self);
  cd->serial = serial;
  g_source_set_callback (idle, cancel_in_context, cd, cancel_data_free);
  g_source_set_static_name (idle, "VhostUserRequester cancel");
  g_source_attach (idle, context);
  g_source_unref (idle);
}

/* Runs in the cancelling thread: the request fails later, in the context
 * our sources are in (the waiting loop of a blocking call included). The
 * requester outlives this: disconnecting waits for a running handler. */
static void
on_cancelled (GCancellable *cancellable,
              gpointer      user_data)
{
  CancelData *cd = user_data;
  g_autoptr(GMainContext) context = current_context (cd->self);

  schedule_cancel (cd->self, context, cd->serial);
}

/* --- sending --- */

static void
close_with (VhostUserRequester *self,
            GError             *error)
{
  g_autoptr(VhostUserRequester) hold = g_object_ref (self);

  /* the role hears of it from the connection and fails us too; doing it
   * here as well covers a connection that has no closed handler */
  if (self->connection != NULL)
    vhost_user_connection_close (self->connection, error);
  vhost_user_requester_fail_all (self, error);
  g_error_free (error);
}

void
vhost_user_requester_send_async (VhostUserRequester  *self,
                                 guint32              request,
                                 GBytes              *payload,
                                 GUnixFDList         *fd_list,
                                 GCancellable        *cancellable,
                                 gpointer             source_tag,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  const VhostUserRequestInfo *info;
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) sent = payload != NULL ? g_bytes_ref (payload) : g_bytes_new (NULL, 0);
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  gsize size = g_bytes_get_size (sent);
  guint n_fds = fd_list != NULL ? g_unix_fd_list_get_length (fd_list) : 0;
  gboolean reply_ack, expects_reply;
  VhostUserReplyKind reply_kind;
  Pending *pending;

  g_return_if_fail (VHOST_USER_IS_REQUESTER (self));

  task = g_task_new (self->owner, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);

  info = vhost_user_request_info_lookup (self->channel, request);
  if (info == NULL)
    g_set_error (&error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM, "%u is not a %s channel request",
                 request, vhost_user_channel_get_name (self->channel));
  else if (self->connection == NULL || vhost_user_connection_is_closed (self->connection))
    g_set_error (&error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_BROKEN, "%s: not connected", info->name);
  else if (size > VHOST_USER_MAX_PAYLOAD)
    g_set_error (&error, VHOST_USER_ERROR, VHOST_USER_ERROR_OVERSIZED_MESSAGE,
                 "%s: a %" G_GSIZE_FORMAT "-byte payload is too large", info->name, size);
  else if (n_fds > VHOST_USER_MAX_FDS)
    g_set_error (&error, VHOST_USER_ERROR, VHOST_USER_ERROR_INCORRECT_FDS,
                 "%s: %u fds, at most %u fit a message", info->name, n_fds, VHOST_USER_MAX_FDS);
  else
    g_cancellable_set_error_if_cancelled (cancellable, &error);
  if (error != NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  reply_ack = (self->protocol_features & VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK) != 0 && !self->no_acks;
  reply_kind = vhost_user_request_info_get_reply (info, self->protocol_features);
  expects_reply = reply_kind == VHOST_USER_REPLY_ALWAYS || (reply_kind == VHOST_USER_REPLY_ACK && reply_ack);
  vhost_user_message_init (&msg, request,
                           (reply_kind == VHOST_USER_REPLY_ACK && reply_ack) ||
                           (reply_kind == VHOST_USER_REPLY_ALWAYS && info->always_need_reply) ?
                           VHOST_USER_FLAG_NEED_REPLY : 0);
  if (size > 0)
    vhost_user_message_set_payload (&msg, g_bytes_get_data (sent, NULL), size);
  for (guint i = 0; i < n_fds && error == NULL; i++)
    {
      /* the caller's fds stay the caller's: the message gets copies */
      int fd = g_unix_fd_list_get (fd_list, i, &error);

      if (fd >= 0)
        vhost_user_message_add_fd (&msg, fd);
    }
  if (error != NULL ||
      !vhost_user_message_validate (&msg, self->channel, self->protocol_features, &error) ||
      !vhost_user_connection_send (self->connection, &msg, &error))
    {
      vhost_user_message_clear (&msg);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (!expects_reply)
    {
      Reply *reply = g_new0 (Reply, 1);

      if (self->done_func != NULL)
        self->done_func (self->done_data, request, sent, NULL);
      reply->sent = g_steal_pointer (&sent);
      g_task_return_pointer (task, reply, reply_free);
      return;
    }

  pending = g_new0 (Pending, 1);
  pending->serial = ++self->next_serial;
  pending->request = request;
  pending->reply_kind = reply_kind;
  pending->sent = g_steal_pointer (&sent);
  pending->task = g_steal_pointer (&task);
  if (self->timeout_ms > 0)
    pending->deadline = g_get_monotonic_time () + (gint64) self->timeout_ms * 1000;
  if (cancellable != NULL)
    {
      CancelData *cd = g_new0 (CancelData, 1);

      cd->self = self;
      cd->serial = pending->serial;
      pending->cancellable = g_object_ref (cancellable);
      pending->cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled), cd, g_free);
    }
  g_queue_push_tail (&self->pending, pending);
  if (self->timer == NULL)
    arm_timer (self);
}

GBytes *
vhost_user_requester_send_finish (VhostUserRequester  *self,
                                  GAsyncResult        *result,
                                  GBytes             **out_sent,
                                  GUnixFDList        **out_fd_list,
                                  GError             **error)
{
  Reply *reply;
  GBytes *payload;

  g_return_val_if_fail (VHOST_USER_IS_REQUESTER (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self->owner), NULL);

  if (out_sent != NULL)
    *out_sent = NULL;
  if (out_fd_list != NULL)
    *out_fd_list = NULL;
  reply = g_task_propagate_pointer (G_TASK (result), error);
  if (reply == NULL)
    return NULL;
  payload = reply->payload != NULL ? g_bytes_ref (reply->payload) : g_bytes_new (NULL, 0);
  if (out_sent != NULL)
    *out_sent = g_steal_pointer (&reply->sent);
  if (out_fd_list != NULL)
    *out_fd_list = g_steal_pointer (&reply->fd_list);
  reply_free (reply);
  return payload;
}

/* --- replies --- */

/* The reply answers the oldest request, and its shape is the one the
 * table's row gives for that request's reply kind. */
static gboolean
check_reply (VhostUserRequester  *self,
             Pending             *pending,
             VhostUserMessage    *msg,
             GError             **error)
{
  if (pending == NULL)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
                   "A reply to %u on the %s channel that nothing asked for", msg->header.request,
                   vhost_user_channel_get_name (self->channel));
      return FALSE;
    }
  if (msg->header.request != pending->request)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
                   "Reply to %s answers request %u instead", request_name (self, pending->request),
                   msg->header.request);
      return FALSE;
    }
  if (!vhost_user_message_is_reply (msg))
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
                   "A request %s came where its reply was expected", request_name (self, pending->request));
      return FALSE;
    }
  return vhost_user_message_validate (msg, self->channel, self->protocol_features, error);
}

static Reply *
reply_from_message (VhostUserMessage *msg)
{
  Reply *reply = g_new0 (Reply, 1);

  reply->payload = g_bytes_new (msg->payload, msg->header.size);
  if (msg->n_fds > 0)
    {
      reply->fd_list = g_unix_fd_list_new ();
      for (guint i = 0; i < msg->n_fds; i++)
        {
          int fd = vhost_user_message_steal_fd (msg, i);

          g_unix_fd_list_append (reply->fd_list, fd, NULL);
          vhost_user_peer_fd_close (fd);
        }
    }
  return reply;
}

void
vhost_user_requester_handle_reply (VhostUserRequester *self,
                                   VhostUserMessage   *msg,
                                   const GError       *error)
{
  g_autoptr(VhostUserRequester) hold = g_object_ref (self);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GTask) task = NULL;
  Pending *pending = g_queue_peek_head (&self->pending);
  Reply *reply;
  guint64 status = 0;

  if (error != NULL)
    local_error = g_error_copy (error);
  else
    check_reply (self, pending, msg, &local_error);
  if (local_error != NULL)
    {
      /* out of step: nothing after this reply can be matched */
      close_with (self, g_steal_pointer (&local_error));
      return;
    }

  g_queue_pop_head (&self->pending);
  arm_timer (self);
  task = pending_take_task (pending);
  reply = reply_from_message (msg);

  if (pending->reply_kind == VHOST_USER_REPLY_ACK && msg->header.size == sizeof status)
    memcpy (&status, msg->payload, sizeof status);
  if (status == 0 && self->done_func != NULL)
    self->done_func (self->done_data, pending->request, pending->sent, reply->payload);

  if (task == NULL)
    reply_free (reply);  /* cancelled: read and dropped */
  else if (status != 0)
    {
      if (self->channel == VHOST_USER_CHANNEL_MAIN)
        g_task_return_new_error (task, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL,
                                 "The back-end refused %s (status %" G_GUINT64_FORMAT ")",
                                 request_name (self, pending->request), status);
      else
        g_task_return_new_error (task, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED,
                                 "The front-end refused %s (status %" G_GUINT64_FORMAT ")",
                                 request_name (self, pending->request), status);
      reply_free (reply);
    }
  else
    {
      reply->sent = g_bytes_ref (pending->sent);
      g_task_return_pointer (task, reply, reply_free);
    }
  pending_free (pending);
}

void
vhost_user_requester_fail_all (VhostUserRequester *self,
                               const GError       *error)
{
  g_autoptr(VhostUserRequester) hold = g_object_ref (self);
  Pending *pending;

  g_return_if_fail (VHOST_USER_IS_REQUESTER (self));
  g_return_if_fail (error != NULL);

  stop_timer (self);
  while ((pending = g_queue_pop_head (&self->pending)) != NULL)
    {
      g_autoptr(GTask) task = pending_take_task (pending);

      pending_free (pending);
      if (task != NULL)
        g_task_return_error (task, g_error_copy (error));
    }
}

/* --- blocking --- */

/* Puts every source the requester's work needs in @context: the
 * connection's watch, the companion's, the timer. Returns where they were. */
static GMainContext *
move_to (VhostUserRequester *self,
         GMainContext       *context)
{
  GMainContext *previous;

  g_mutex_lock (&self->lock);
  previous = self->current;
  self->current = g_main_context_ref (context);
  g_mutex_unlock (&self->lock);

  if (self->connection != NULL)
    vhost_user_connection_set_dispatch_context (self->connection, context);
  if (self->companion != NULL)
    vhost_user_connection_set_dispatch_context (self->companion, context);
  if (self->timer != NULL)
    arm_timer (self);
  return previous;
}

static void
wait_done (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

/* Runs @start and waits until it is done.
 *
 * @isolate TRUE: on a private main context, as GDBus's blocking calls do.
 * It holds the connection's watch, the companion's, the timer and the
 * cancellations, and nothing else, so the role's other sources (idles,
 * ring watches, the application's own) do not run inside a blocking call.
 * The companion is there because a back-end may wait for an answer on its
 * channel before it reads our request (QEMU met that deadlock with
 * virtiofs): its requests are answered meanwhile.
 *
 * @isolate FALSE: on the role's own context, which then runs everything
 * attached to it.
 *
 * The roles isolate unless the peer is in this very process
 * (vhost_user_connection_peer_is_this_process()).
 *
 * The caller must be able to own the role's context (its thread, or
 * nobody's): the watches are taken from it for the wait. */
GAsyncResult *
vhost_user_requester_wait (VhostUserRequester          *self,
                           VhostUserRequesterStartFunc  start,
                           gpointer                     data,
                           gboolean                     isolate,
                           GError                     **error)
{
  g_autoptr(VhostUserRequester) hold = NULL;
  g_autoptr(GMainContext) wait_context = NULL;
  g_autoptr(GMainContext) previous = NULL;
  GAsyncResult *result = NULL;

  g_return_val_if_fail (VHOST_USER_IS_REQUESTER (self), NULL);

  if (!g_main_context_acquire (self->context))
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                   "Blocking requests must come from the thread that runs the %s's main context",
                   G_OBJECT_TYPE_NAME (self->owner));
      return NULL;
    }
  hold = g_object_ref (self);
  wait_context = isolate ? g_main_context_new () : g_main_context_ref (self->context);
  previous = move_to (self, wait_context);

  g_main_context_push_thread_default (wait_context);
  start (data, wait_done, &result);
  while (result == NULL)
    g_main_context_iteration (wait_context, TRUE);
  g_main_context_pop_thread_default (wait_context);

  g_main_context_unref (move_to (self, previous));
  /* cancellations whose idle the wait did not reach are done where the
   * sources are now (the idles left behind go with the private context) */
  for (GList *l = self->pending.head; l != NULL; l = l->next)
    {
      Pending *pending = l->data;

      if (pending->task != NULL && g_cancellable_is_cancelled (pending->cancellable))
        schedule_cancel (self, previous, pending->serial);
    }
  g_main_context_release (self->context);
  return result;
}

/* --- set-up --- */

VhostUserRequester *
vhost_user_requester_new (VhostUserChannel  channel,
                          GObject          *owner,
                          GMainContext     *context)
{
  VhostUserRequester *self = g_object_new (VHOST_USER_TYPE_REQUESTER, NULL);

  self->channel = channel;
  self->owner = owner;
  self->context = context != NULL ? g_main_context_ref (context) : g_main_context_ref_thread_default ();
  self->current = g_main_context_ref (self->context);
  return self;
}

void
vhost_user_requester_set_done_func (VhostUserRequester         *self,
                                    VhostUserRequesterDoneFunc  func,
                                    gpointer                    user_data)
{
  g_return_if_fail (VHOST_USER_IS_REQUESTER (self));

  self->done_func = func;
  self->done_data = user_data;
}

/* Requests go out on @connection from now on (NULL: none, sends fail).
 * Requests still waiting on the one before are the caller's to fail. */
void
vhost_user_requester_set_connection (VhostUserRequester  *self,
                                     VhostUserConnection *connection)
{
  g_return_if_fail (VHOST_USER_IS_REQUESTER (self));

  if (self->connection == connection)
    return;
  if (self->connection != NULL)
    vhost_user_connection_set_dispatch_context (self->connection, NULL);
  g_set_object (&self->connection, connection);
  if (connection != NULL)
    vhost_user_connection_set_dispatch_context (connection, self->current);
}

void
vhost_user_requester_set_companion (VhostUserRequester  *self,
                                    VhostUserConnection *connection)
{
  g_return_if_fail (VHOST_USER_IS_REQUESTER (self));

  if (self->companion == connection)
    return;
  if (self->companion != NULL)
    vhost_user_connection_set_dispatch_context (self->companion, NULL);
  g_set_object (&self->companion, connection);
  if (connection != NULL)
    vhost_user_connection_set_dispatch_context (connection, self->current);
}

/* What decides whether a reply comes (REPLY_ACK, reply_needs) and how
 * payloads are laid out. */
void
vhost_user_requester_set_protocol_features (VhostUserRequester *self,
                                            guint64             protocol_features)
{
  g_return_if_fail (VHOST_USER_IS_REQUESTER (self));

  self->protocol_features = protocol_features;
}

/* Whether requests that can be acknowledged ask for it (NEED_REPLY) when
 * REPLY_ACK is negotiated; for requests sent from now on. */
void
vhost_user_requester_set_request_acks (VhostUserRequester *self,
                                       gboolean            request_acks)
{
  g_return_if_fail (VHOST_USER_IS_REQUESTER (self));

  self->no_acks = !request_acks;
}

/* For requests sent from now on; 0: no limit. */
void
vhost_user_requester_set_timeout (VhostUserRequester *self,
                                  guint               timeout_ms)
{
  g_return_if_fail (VHOST_USER_IS_REQUESTER (self));

  self->timeout_ms = timeout_ms;
}

guint
vhost_user_requester_get_timeout (VhostUserRequester *self)
{
  g_return_val_if_fail (VHOST_USER_IS_REQUESTER (self), 0);

  return self->timeout_ms;
}

guint
vhost_user_requester_get_n_pending (VhostUserRequester *self)
{
  g_return_val_if_fail (VHOST_USER_IS_REQUESTER (self), 0);

  return self->pending.length;
}

static void
vhost_user_requester_dispose (GObject *object)
{
  VhostUserRequester *self = VHOST_USER_REQUESTER (object);

  if (!g_queue_is_empty (&self->pending))
    {
      g_autoptr(GError) error = g_error_new_literal (VHOST_USER_ERROR, VHOST_USER_ERROR_CLOSED,
                                                     "The requester was disposed");

      vhost_user_requester_fail_all (self, error);
    }
  stop_timer (self);
  vhost_user_requester_set_connection (self, NULL);
  vhost_user_requester_set_companion (self, NULL);

  G_OBJECT_CLASS (vhost_user_requester_parent_class)->dispose (object);
}

static void
vhost_user_requester_finalize (GObject *object)
{
  VhostUserRequester *self = VHOST_USER_REQUESTER (object);

  g_clear_pointer (&self->current, g_main_context_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (vhost_user_requester_parent_class)->finalize (object);
}

static void
vhost_user_requester_class_init (VhostUserRequesterClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vhost_user_requester_dispose;
  object_class->finalize = vhost_user_requester_finalize;
}

static void
vhost_user_requester_init (VhostUserRequester *self)
{
  g_mutex_init (&self->lock);
  g_queue_init (&self->pending);
}
