/* vhost-user-invocation.c: one received request awaiting its reply
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>

#include <string.h>
#include <glib/gstdio.h>

#include "vhost-user-enums.h"
#include "vhost-user-error.h"
#include "vhost-user-invocation-private.h"
#include "vhost-user-peer-fd-private.h"

/**
 * VhostUserInvocation:
 *
 * One request received from the peer, waiting for its answer. The signal
 * that announces the request carries it; a handler that returns %TRUE
 * owns the answer and completes the invocation with one of the
 * `return_*` calls, at once or later (keep a reference). Until then the
 * connection reads no further request, as the protocol's ordering needs.
 *
 * The handler says what happened; the library sends exactly the reply the
 * specification requires: nothing for most requests, a u64 status when
 * `REPLY_ACK` was negotiated and the request asked for it, the payload
 * for the requests that always get one, and a failure form where one
 * exists (a non-zero status, a config of size 0). An invocation dropped
 * without an answer is answered with an error, never left hanging.
 *
 * The `return_*` calls may be made from any thread; the reply is sent
 * from the context the request arrived in. Exactly one of them completes
 * the invocation: should two threads race, one wins and the other's call
 * is ignored with a critical warning (any fd it passed is closed), as is
 * any call after the first.
 *
 * Since: 1.0
 */

typedef enum {
  RESULT_ACK,
  RESULT_U64,
  RESULT_BYTES,
  RESULT_CONFIG,
  RESULT_ERROR,
} ResultKind;

struct _VhostUserInvocation
{
  GObject                      parent_instance;

  VhostUserChannel             channel;
  const VhostUserRequestInfo  *info;
  VhostUserMessage            *request;     /* header and payload; never its fds */
  gboolean                     reply_ack;
  VhostUserReplyKind           reply_kind;  /* the table's, for what was negotiated */
  GMainContext                *context;

  VhostUserInvocationDoneFunc  done_func;
  gpointer                     user_data;
  GDestroyNotify               notify;

  /* set once, by whichever return_* call wins, from any thread */
  gint                         completed;

  /* vhost_user_invocation_return_and_await(): what the peer's next
   * message goes to, taken by the role when the reply is sent */
  VhostUserFollowUpFunc        follow_up;
  gpointer                     follow_up_data;
  GDestroyNotify               follow_up_notify;
};

G_DEFINE_FINAL_TYPE (VhostUserInvocation, vhost_user_invocation, G_TYPE_OBJECT)

typedef struct {
  VhostUserInvocation *invocation;
  VhostUserMessage    *reply;
  GError              *error;
} Completion;

static gboolean
run_completion (gpointer data)
{
  Completion *c = data;
  VhostUserInvocation *self = c->invocation;

  if (self->done_func != NULL)
    self->done_func (self, c->reply, c->error, self->user_data);
  return G_SOURCE_REMOVE;
}

static void
free_completion (gpointer data)
{
  Completion *c = data;

  if (c->reply != NULL)
    {
      vhost_user_message_clear (c->reply);
      g_free (c->reply);
    }
  g_clear_error (&c->error);
  g_object_unref (c->invocation);
  g_free (c);
}

/* Hands the outcome to the role in the request's context: directly if we
 * are there (or can be), otherwise from an idle there. @reply is the
 * caller's storage (a message is 4 KiB: the usual case allocates none);
 * its fds are ours. */
static void
finish (VhostUserInvocation *self,
        VhostUserMessage    *reply,
        GError              *error)
{
  Completion *c;

  /* the usual case, answered inside its emission: nothing to carry over */
  if (g_main_context_is_owner (self->context))
    {
      Completion now = { self, reply, error };

      run_completion (&now);
      if (reply != NULL)
        vhost_user_message_clear (reply);
      g_clear_error (&error);
      return;
    }

  c = g_new0 (Completion, 1);
  c->invocation = g_object_ref (self);
  c->reply = reply != NULL ? g_memdup2 (reply, sizeof *reply) : NULL;
  c->error = error;
  g_main_context_invoke_full (self->context, G_PRIORITY_DEFAULT, run_completion, c, free_completion);
}

static gboolean
wants_ack (VhostUserInvocation *self)
{
  return self->reply_ack && vhost_user_message_needs_reply (self->request);
}

/* Makes @storage the reply's start and returns it. Not zeroed: a message
 * is its header, the payload it says and its fds, and the rest of its
 * 4 KiB is never read. */
static VhostUserMessage *
new_reply (VhostUserInvocation *self,
           VhostUserMessage    *storage)
{
  vhost_user_message_init_reply (storage, self->request);
  for (guint i = 0; i < VHOST_USER_MAX_FDS; i++)
    storage->fds[i] = -1;
  return storage;
}

/* The failure form of a request that always gets a reply, in @storage,
 * or NULL if it has none. */
static VhostUserMessage *
failure_reply (VhostUserInvocation *self,
               VhostUserMessage    *storage)
{
  VhostUserMessage *reply;

  if (!self->info->reply_can_fail)
    return NULL;

  reply = new_reply (self, storage);
  switch (self->info->reply_payload.kind)
    {
    case VHOST_USER_PAYLOAD_CONFIG:
      {
        guint32 offset = 0, flags = 0, size = 0;
        const guint8 *data;

        vhost_user_message_get_config (self->request, &offset, &flags, &data, &size);
        vhost_user_message_set_config (reply, offset, flags, NULL, 0);
      }
      break;

    case VHOST_USER_PAYLOAD_INFLIGHT:
      {
        VhostUserWireInflight empty = { 0 };

        vhost_user_message_set_struct (reply, &empty);
      }
      break;

    default:
      if (self->channel == VHOST_USER_CHANNEL_MAIN &&
          self->info->number == VHOST_USER_REQUEST_SET_DEVICE_STATE_FD)
        vhost_user_message_set_u64 (reply, 0x101);  /* bits 0-7 the error, bit 8 "no fd" */
      else if (self->channel == VHOST_USER_CHANNEL_MAIN &&
               self->info->number == VHOST_USER_REQUEST_CREATE_CRYPTO_SESSION)
        vhost_user_message_set_u64 (reply, G_MAXUINT64);  /* a negative session id */
      else
        vhost_user_message_set_u64 (reply, 1);
      break;
    }
  return reply;
}

static void
complete (VhostUserInvocation *self,
          ResultKind           kind,
          guint64              value,
          GBytes              *bytes,
          int                  fd,
          const GError        *error)
{
  g_autoptr(GError) own_error = NULL;
  VhostUserMessage storage;
  VhostUserMessage *reply = NULL;

  /* two threads may race to answer: exactly one wins, the other is the
   * caller's bug and is told so, its fd closed */
  if (!g_atomic_int_compare_and_exchange (&self->completed, FALSE, TRUE))
    {
      if (fd >= 0)
        vhost_user_peer_fd_close (fd);
      g_critical ("Invocation of %s completed twice", self->info->name);
      return;
    }

  if (kind == RESULT_ERROR)
    own_error = g_error_copy (error);

  switch (self->reply_kind)
    {
    case VHOST_USER_REPLY_NONE:
      break;

    case VHOST_USER_REPLY_ACK:
      if (!wants_ack (self))
        break;
      reply = new_reply (self, &storage);
      if (kind == RESULT_BYTES)
        vhost_user_message_set_payload (reply, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
      else
        vhost_user_message_set_u64 (reply, kind == RESULT_U64 ? value : kind == RESULT_ERROR ? 1 : 0);
      break;

    case VHOST_USER_REPLY_ALWAYS:
    default:
      if (kind == RESULT_ERROR)
        {
          reply = failure_reply (self, &storage);
          break;
        }
      reply = new_reply (self, &storage);
      switch (kind)
        {
        case RESULT_ACK:
          if (self->info->reply_payload.min_size == sizeof (guint64))
            vhost_user_message_set_u64 (reply, 0);
          break;
        case RESULT_U64:
          vhost_user_message_set_u64 (reply, value);
          break;
        case RESULT_BYTES:
          if (!vhost_user_message_set_payload (reply, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes)))
            g_set_error (&own_error, VHOST_USER_ERROR, VHOST_USER_ERROR_HANDLER_FAILED,
                         "Reply to %s is larger than any message", self->info->name);
          break;
        case RESULT_CONFIG:
          {
            guint32 offset = 0, flags = 0, size = 0;
            const guint8 *data;
            gsize len = g_bytes_get_size (bytes);

            vhost_user_message_get_config (self->request, &offset, &flags, &data, &size);
            /* short of the spec's bound, the rest reads as zeros: SPDK
             * reads offset 0, size 256 whatever the device */
            if (len > size || (len < size && (guint64) offset + size > VHOST_USER_CONFIG_SPACE_SIZE))
              g_set_error (&own_error, VHOST_USER_ERROR, VHOST_USER_ERROR_HANDLER_FAILED,
                           "GET_CONFIG asked for %u bytes, the handler returned %" G_GSIZE_FORMAT,
                           size, len);
            else
              {
                vhost_user_message_set_config (reply, offset, flags, NULL, size);
                if (len > 0)
                  memcpy (reply->payload + VHOST_USER_CONFIG_HEADER_SIZE, g_bytes_get_data (bytes, NULL), len);
              }
          }
          break;
        case RESULT_ERROR:
        default:
          g_assert_not_reached ();
        }
      break;
    }

  if (reply != NULL && fd >= 0)
    {
      vhost_user_message_add_fd (reply, fd);
      fd = -1;
    }
  if (fd >= 0)
    vhost_user_peer_fd_close (fd);

  /* a handler's reply goes out only if it is what the table allows */
  if (reply != NULL && own_error == NULL &&
      !vhost_user_message_validate (reply, self->channel, 0, &own_error))
    g_prefix_error (&own_error, "Handler's reply refused: ");

  if (own_error != NULL && kind != RESULT_ERROR && reply != NULL)
    {
      vhost_user_message_clear (reply);
      reply = self->reply_kind == VHOST_USER_REPLY_ALWAYS ? failure_reply (self, &storage) : NULL;
      if (self->reply_kind == VHOST_USER_REPLY_ACK && wants_ack (self))
        {
          reply = new_reply (self, &storage);
          vhost_user_message_set_u64 (reply, 1);
        }
    }

  finish (self, reply, g_steal_pointer (&own_error));
}

/* The caller's fd is borrowed, as everywhere in the library: the reply
 * carries (and closes) a copy. */
static void
complete_with_copy (VhostUserInvocation *self,
                    ResultKind           kind,
                    guint64              value,
                    GBytes              *bytes,
                    int                  fd)
{
  g_autoptr(GError) error = NULL;
  int copy = -1;

  if (fd >= 0 && (copy = fcntl (fd, F_DUPFD_CLOEXEC, 3)) < 0)
    {
      int errsv = errno;

      error = g_error_new (VHOST_USER_ERROR, VHOST_USER_ERROR_HANDLER_FAILED,
                           "Cannot duplicate the reply's fd %d: %s", fd, g_strerror (errsv));
      complete (self, RESULT_ERROR, 0, NULL, -1, error);
      return;
    }
  complete (self, kind, value, bytes, copy, NULL);
}

/* Lets go of what the request held, as finalizing would. */
static void
release (VhostUserInvocation *self)
{
  GDestroyNotify follow_up_notify = self->follow_up_notify;
  GDestroyNotify notify = self->notify;

  self->follow_up_notify = NULL;
  self->notify = NULL;
  self->done_func = NULL;
  /* a follow-up nobody took: the connection went away first */
  if (follow_up_notify != NULL)
    follow_up_notify (self->follow_up_data);
  self->follow_up = NULL;
  self->follow_up_data = NULL;
  if (notify != NULL)
    notify (self->user_data);
  self->user_data = NULL;
  g_clear_pointer (&self->context, g_main_context_unref);
}

static void
vhost_user_invocation_dispose (GObject *object)
{
  VhostUserInvocation *self = VHOST_USER_INVOCATION (object);

  if (!g_atomic_int_get (&self->completed))
    {
      g_autoptr(GError) error = g_error_new (VHOST_USER_ERROR, VHOST_USER_ERROR_HANDLER_FAILED,
                                             "Nobody answered %s", self->info->name);

      complete (self, RESULT_ERROR, 0, NULL, -1, error);
    }

  G_OBJECT_CLASS (vhost_user_invocation_parent_class)->dispose (object);
}

static void
vhost_user_invocation_finalize (GObject *object)
{
  VhostUserInvocation *self = VHOST_USER_INVOCATION (object);

  release (self);
  g_free (self->request);

  G_OBJECT_CLASS (vhost_user_invocation_parent_class)->finalize (object);
}

static void
vhost_user_invocation_class_init (VhostUserInvocationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vhost_user_invocation_dispose;
  object_class->finalize = vhost_user_invocation_finalize;
}

static void
vhost_user_invocation_init (VhostUserInvocation *self)
{
}

static void
setup (VhostUserInvocation         *self,
       VhostUserChannel             channel,
       const VhostUserRequestInfo  *info,
       const VhostUserMessage      *request,
       guint64                      protocol_features,
       GMainContext                *context,
       VhostUserInvocationDoneFunc  done_func,
       gpointer                     user_data,
       GDestroyNotify               notify)
{
  self->channel = channel;
  self->info = info;
  /* copied as new_reply() builds one: what the header says, no more */
  if (self->request == NULL)
    self->request = g_new (VhostUserMessage, 1);
  self->request->header = request->header;
  memcpy (self->request->payload, request->payload, MIN (request->header.size, VHOST_USER_MAX_PAYLOAD));
  self->request->n_fds = 0;
  for (guint i = 0; i < VHOST_USER_MAX_FDS; i++)
    self->request->fds[i] = -1;
  self->reply_ack = (protocol_features & VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK) != 0 || info->ack_without_reply_ack;
  self->reply_kind = vhost_user_request_info_get_reply (info, protocol_features);
  self->context = context != NULL ? g_main_context_ref (context) : g_main_context_ref_thread_default ();
  self->done_func = done_func;
  self->user_data = user_data;
  self->notify = notify;
  self->completed = FALSE;
}

/* The request's header and payload are copied; its fds stay with the
 * caller. @spare, if not %NULL, is an invocation that
 * vhost_user_invocation_recycle() accepted: it is taken and made this
 * request's. */
VhostUserInvocation *
vhost_user_invocation_new (VhostUserChannel             channel,
                           const VhostUserMessage      *request,
                           guint64                      protocol_features,
                           GMainContext                *context,
                           VhostUserInvocation         *spare,
                           VhostUserInvocationDoneFunc  done_func,
                           gpointer                     user_data,
                           GDestroyNotify               notify)
{
  VhostUserInvocation *self;
  const VhostUserRequestInfo *info = vhost_user_request_info_lookup (channel, request->header.request);

  g_return_val_if_fail (info != NULL, NULL);

  self = spare != NULL ? spare : g_object_new (VHOST_USER_TYPE_INVOCATION, NULL);
  setup (self, channel, info, request, protocol_features, context, done_func, user_data, notify);
  return self;
}

/* A role done with @self (answered, its emission over) offers it for the
 * next request instead of dropping its reference: making and finalizing
 * a GObject per message was half of what a request cost. Accepted (TRUE,
 * the caller keeps its reference as the spare) only if nobody else can
 * tell: no other reference, nothing attached to it (data, weak or toggle
 * references all live in its qdata), no handler connected. Otherwise
 * the caller drops its reference as usual. */
gboolean
vhost_user_invocation_recycle (VhostUserInvocation *self)
{
  static guint notify_id;
  GObject *object = G_OBJECT (self);

  if (notify_id == 0)
    notify_id = g_signal_lookup ("notify", G_TYPE_OBJECT);
  if (!g_atomic_int_get (&self->completed) ||
      g_atomic_int_get (&object->ref_count) != 1 ||
      g_atomic_pointer_get (&object->qdata) != NULL ||
      g_signal_handler_find (self, G_SIGNAL_MATCH_ID, notify_id, 0, NULL, NULL, NULL) != 0)
    return FALSE;
  release (self);
  return TRUE;
}

const VhostUserMessage *
vhost_user_invocation_get_message (VhostUserInvocation *self)
{
  return self->request;
}

const VhostUserRequestInfo *
vhost_user_invocation_get_info (VhostUserInvocation *self)
{
  return self->info;
}

VhostUserReplyKind
vhost_user_invocation_get_reply_kind (VhostUserInvocation *self)
{
  return self->reply_kind;
}

/* The postcopy exchange: @payload goes back at once, whatever the flags
 * asked, and the request is not over: the peer's next message goes to
 * @func (see vhost_user_invocation_take_follow_up()), and only then is
 * the request acknowledged, if it asked to be. */
void
vhost_user_invocation_return_and_await (VhostUserInvocation   *self,
                                        GBytes                *payload,
                                        VhostUserFollowUpFunc  func,
                                        gpointer               user_data,
                                        GDestroyNotify         notify)
{
  g_autoptr(GError) error = NULL;
  VhostUserMessage storage;
  VhostUserMessage *reply;

  if (!g_atomic_int_compare_and_exchange (&self->completed, FALSE, TRUE))
    {
      g_critical ("Invocation of %s completed twice", self->info->name);
      if (notify != NULL)
        notify (user_data);
      return;
    }

  reply = new_reply (self, &storage);
  if (!vhost_user_message_set_payload (reply, g_bytes_get_data (payload, NULL), g_bytes_get_size (payload)) ||
      !vhost_user_message_validate (reply, self->channel, 0, &error))
    {
      if (error == NULL)
        error = g_error_new (VHOST_USER_ERROR, VHOST_USER_ERROR_HANDLER_FAILED,
                             "Reply to %s is larger than any message", self->info->name);
      vhost_user_message_clear (reply);
      if (notify != NULL)
        notify (user_data);
      /* the peer waits for this reply: the role hangs up */
      finish (self, NULL, g_steal_pointer (&error));
      return;
    }
  self->follow_up = func;
  self->follow_up_data = user_data;
  self->follow_up_notify = notify;
  finish (self, reply, NULL);
}

/* For the role, once the reply of vhost_user_invocation_return_and_await()
 * went out: the function awaiting the peer's next message (FALSE if there
 * is none), and in @ack_request the request number to acknowledge after
 * it, or 0 when no acknowledgement was asked for. */
gboolean
vhost_user_invocation_take_follow_up (VhostUserInvocation    *self,
                                      VhostUserFollowUpFunc  *func,
                                      gpointer               *user_data,
                                      GDestroyNotify         *notify,
                                      guint32                *ack_request)
{
  if (self->follow_up == NULL)
    return FALSE;
  *func = self->follow_up;
  *user_data = self->follow_up_data;
  *notify = self->follow_up_notify;
  *ack_request = wants_ack (self) ? self->request->header.request : 0;
  self->follow_up = NULL;
  self->follow_up_data = NULL;
  self->follow_up_notify = NULL;
  return TRUE;
}

/**
 * vhost_user_invocation_get_request:
 * @self: an invocation
 *
 * The request's number: a #VhostUserRequestType for requests a back-end
 * receives, a #VhostUserBackendRequestType for those a front-end receives.
 *
 * Returns: the request number
 *
 * Since: 1.0
 */
guint
vhost_user_invocation_get_request (VhostUserInvocation *self)
{
  g_return_val_if_fail (VHOST_USER_IS_INVOCATION (self), 0);
  return self->info->number;
}

/**
 * vhost_user_invocation_get_request_name:
 * @self: an invocation
 *
 * Gets the request's name in the specification, such as `"GET_CONFIG"`.
 *
 * Returns: the request's name in the specification, such as `"GET_CONFIG"`
 *
 * Since: 1.0
 */
const char *
vhost_user_invocation_get_request_name (VhostUserInvocation *self)
{
  g_return_val_if_fail (VHOST_USER_IS_INVOCATION (self), NULL);
  return self->info->name;
}

/**
 * vhost_user_invocation_get_reply_expected:
 * @self: an invocation
 *
 * Whether the peer waits for an answer: the request always gets one, or
 * it asked for an acknowledgement and `REPLY_ACK` was negotiated. When
 * %FALSE, an error returned is only logged.
 *
 * Returns: %TRUE if a reply will be sent
 *
 * Since: 1.0
 */
gboolean
vhost_user_invocation_get_reply_expected (VhostUserInvocation *self)
{
  g_return_val_if_fail (VHOST_USER_IS_INVOCATION (self), FALSE);
  return self->reply_kind == VHOST_USER_REPLY_ALWAYS ||
         (self->reply_kind == VHOST_USER_REPLY_ACK && wants_ack (self));
}

/**
 * vhost_user_invocation_get_completed:
 * @self: an invocation
 *
 * Gets whether one of the `return_*` calls was made.
 *
 * Returns: whether one of the `return_*` calls was made
 *
 * Since: 1.0
 */
gboolean
vhost_user_invocation_get_completed (VhostUserInvocation *self)
{
  g_return_val_if_fail (VHOST_USER_IS_INVOCATION (self), FALSE);
  return g_atomic_int_get (&self->completed);
}

/**
 * vhost_user_invocation_return_ack:
 * @self: an invocation
 *
 * Completes the request successfully: a zero status where an
 * acknowledgement is due.
 *
 * Since: 1.0
 */
void
vhost_user_invocation_return_ack (VhostUserInvocation *self)
{
  g_return_if_fail (VHOST_USER_IS_INVOCATION (self));
  complete (self, RESULT_ACK, 0, NULL, -1, NULL);
}

/**
 * vhost_user_invocation_return_u64:
 * @self: an invocation
 * @value: the answer
 *
 * Completes a request whose reply is a u64 (`GET_FEATURES`,
 * `GET_QUEUE_NUM`, …); for acknowledged requests @value is the status.
 *
 * Since: 1.0
 */
void
vhost_user_invocation_return_u64 (VhostUserInvocation *self,
                                  guint64              value)
{
  g_return_if_fail (VHOST_USER_IS_INVOCATION (self));
  complete (self, RESULT_U64, value, NULL, -1, NULL);
}

/**
 * vhost_user_invocation_return_fd:
 * @self: an invocation
 * @value: the u64 answer
 * @fd: a file descriptor to pass with it, or -1; borrowed: a duplicate
 *   is sent and the caller still owns @fd
 *
 * Completes a request whose reply is a u64 with an fd beside it
 * (`GET_SHARED_OBJECT`, `SET_DEVICE_STATE_FD`, the back-end channel's
 * `SHARED_OBJECT_LOOKUP`).
 *
 * Since: 1.0
 */
void
vhost_user_invocation_return_fd (VhostUserInvocation *self,
                                 guint64              value,
                                 int                  fd)
{
  g_return_if_fail (VHOST_USER_IS_INVOCATION (self));
  complete_with_copy (self, RESULT_U64, value, NULL, fd);
}

/**
 * vhost_user_invocation_return_bytes:
 * @self: an invocation
 * @payload: the reply's payload, laid out as the specification says
 * @fd: a file descriptor to pass with it, or -1; borrowed: a duplicate
 *   is sent and the caller still owns @fd
 *
 * Completes a request with a raw reply payload (and fd). The payload is
 * checked against the request's reply layout; one that does not fit is
 * refused and answered as a failure instead.
 *
 * Since: 1.0
 */
void
vhost_user_invocation_return_bytes (VhostUserInvocation *self,
                                    GBytes              *payload,
                                    int                  fd)
{
  g_return_if_fail (VHOST_USER_IS_INVOCATION (self));
  g_return_if_fail (payload != NULL);
  complete_with_copy (self, RESULT_BYTES, 0, payload, fd);
}

/* vhost_user_invocation_return_bytes() for an fd the library made and
 * has no more use for: the reply carries (and closes) @fd itself, which
 * saves duplicating it and closing both. */
void
vhost_user_invocation_return_bytes_take_fd (VhostUserInvocation *self,
                                            GBytes              *payload,
                                            int                  fd)
{
  complete (self, RESULT_BYTES, 0, payload, fd, NULL);
}

/**
 * vhost_user_invocation_return_config:
 * @self: an invocation of `GET_CONFIG`
 * @data: the config space bytes asked for: the requested size, or fewer
 *   where the device's config ends before the read does
 *
 * Completes `GET_CONFIG`; the reply repeats the request's offset and
 * flags. Within the 256 bytes the specification gives the config space,
 * a read past the end of @data is answered with zeros after it, as a
 * device's registers read past their end (SPDK reads all 256 bytes of
 * any device); beyond them @data must be exactly the requested size.
 *
 * Since: 1.0
 */
void
vhost_user_invocation_return_config (VhostUserInvocation *self,
                                     GBytes              *data)
{
  g_return_if_fail (VHOST_USER_IS_INVOCATION (self));
  g_return_if_fail (data != NULL);
  complete (self, RESULT_CONFIG, 0, data, -1, NULL);
}

/**
 * vhost_user_invocation_return_error:
 * @self: an invocation
 * @error: what went wrong
 *
 * Completes the request as failed: a non-zero status where an
 * acknowledgement is due, the request's failure form where it always gets
 * a reply. A request that always gets a reply and has no way to say
 * "failed" (`GET_FEATURES`, `GET_VRING_BASE`, …) ends the connection, and
 * so does a back-end's refusal that the front-end asked not to hear (no
 * `NEED_REPLY`, or no `REPLY_ACK`): it would carry on with a device half
 * set up. A message in the log says why.
 *
 * Since: 1.0
 */
void
vhost_user_invocation_return_error (VhostUserInvocation *self,
                                    const GError        *error)
{
  g_return_if_fail (VHOST_USER_IS_INVOCATION (self));
  g_return_if_fail (error != NULL);
  complete (self, RESULT_ERROR, 0, NULL, -1, error);
}

/**
 * vhost_user_invocation_return_error_literal:
 * @self: an invocation
 * @domain: an error domain
 * @code: an error code
 * @message: the error message
 *
 * Like vhost_user_invocation_return_error().
 *
 * Since: 1.0
 */
void
vhost_user_invocation_return_error_literal (VhostUserInvocation *self,
                                            GQuark               domain,
                                            gint                 code,
                                            const char          *message)
{
  g_autoptr(GError) error = NULL;

  g_return_if_fail (VHOST_USER_IS_INVOCATION (self));
  error = g_error_new_literal (domain, code, message);
  complete (self, RESULT_ERROR, 0, NULL, -1, error);
}

/* Fails @self with a VHOST_USER_ERROR of @code: the short form the
 * default handlers use (bindings have return_error_literal). */
void
vhost_user_invocation_return_errorf (VhostUserInvocation *self,
                                     VhostUserError       code,
                                     const char          *format,
                                     ...)
{
  g_autoptr(GError) error = NULL;
  va_list args;

  va_start (args, format);
  error = g_error_new_valist (VHOST_USER_ERROR, code, format, args);
  va_end (args);
  vhost_user_invocation_return_error (self, error);
}
