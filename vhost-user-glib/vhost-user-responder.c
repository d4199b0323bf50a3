/* vhost-user-responder.c: the receiving half of a channel
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Both roles receive requests: the back-end on the main socket, the
 * front-end on the back-end channel. What happens to a request is the
 * same on both: look up its row, refuse it if its gate is closed, decode
 * its arguments by the row's shape, wrap it in an invocation, emit the
 * row's signal, and send exactly the reply the protocol wants once the
 * invocation is completed. The connection reads nothing more from the
 * channel until then, which is what keeps replies in order.
 */

#include "config.h"

#include "vhost-user-responder-private.h"

#include "vhost-user-debug-private.h"
#include "vhost-user-enum-types.h"
#include "vhost-user-error.h"
#include "vhost-user-invocation-private.h"

struct _VhostUserResponder
{
  GObject                     *owner;       /* not a reference: the owner detaches first */
  VhostUserChannel             channel;
  GMainContext                *context;
  const guint                 *signals;     /* indexed by request number */
  const gsize                 *class_offsets;  /* of the handlers' vfuncs, or NULL */
  VhostUserResponderStateFunc  state_func;

  VhostUserConnection         *connection;
  VhostUserInvocation         *pending;     /* not a reference */
  VhostUserInvocation         *spare;       /* for the next request: vhost_user_invocation_recycle() */
  VhostUserMessage            *current;     /* the request being emitted */

  /* a request answered in two steps (the postcopy memory table): what the
   * peer's next message goes to, and the request to acknowledge after it */
  VhostUserFollowUpFunc        follow_up;
  gpointer                     follow_up_data;
  GDestroyNotify               follow_up_notify;
  guint32                      follow_up_ack;
};

static void
clear_follow_up (VhostUserResponder *self)
{
  GDestroyNotify notify = self->follow_up_notify;
  gpointer data = self->follow_up_data;

  self->follow_up = NULL;
  self->follow_up_data = NULL;
  self->follow_up_notify = NULL;
  self->follow_up_ack = 0;
  if (notify != NULL)
    notify (data);
}

static const char *
who (VhostUserResponder *self)
{
  return self->channel == VHOST_USER_CHANNEL_MAIN ? "back-end" : "front-end";
}

/* @signals and @class_offsets (those given to
 * vhost_user_responder_register_signals(), or NULL) must live as long as
 * the type does (static arrays). */
VhostUserResponder *
vhost_user_responder_new (GObject                     *owner,
                          VhostUserChannel             channel,
                          GMainContext                *context,
                          const guint                 *signals,
                          const gsize                 *class_offsets,
                          VhostUserResponderStateFunc  state_func)
{
  VhostUserResponder *self = g_atomic_rc_box_new0 (VhostUserResponder);

  self->owner = owner;
  self->channel = channel;
  self->context = g_main_context_ref (context);
  self->signals = signals;
  self->class_offsets = class_offsets;
  self->state_func = state_func;
  return self;
}

VhostUserResponder *
vhost_user_responder_ref (VhostUserResponder *self)
{
  return g_atomic_rc_box_acquire (self);
}

static void
responder_clear (gpointer data)
{
  VhostUserResponder *self = data;

  g_clear_object (&self->connection);
  g_clear_object (&self->spare);
  g_main_context_unref (self->context);
}

void
vhost_user_responder_unref (VhostUserResponder *self)
{
  g_atomic_rc_box_release_full (self, responder_clear);
}

/* The owner is going away: invocations still out may be completed, but
 * nothing reaches the owner or the socket any more. */
void
vhost_user_responder_detach (VhostUserResponder *self)
{
  vhost_user_responder_set_connection (self, NULL);
  self->owner = NULL;
}

/* A new connection (or none) forgets the request of the old one: its
 * answer has nowhere to go. */
void
vhost_user_responder_set_connection (VhostUserResponder  *self,
                                     VhostUserConnection *connection)
{
  self->pending = NULL;
  self->current = NULL;
  clear_follow_up (self);
  g_set_object (&self->connection, connection);
}

/* Whether a request waits for its answer (and the connection is paused
 * for it). */
gboolean
vhost_user_responder_get_busy (VhostUserResponder *self)
{
  return self->pending != NULL;
}

/* An fd of the request being emitted, now the caller's; -1 if none. */
int
vhost_user_responder_steal_fd (VhostUserResponder *self,
                               guint               index)
{
  if (self->current == NULL)
    return -1;
  return vhost_user_message_steal_fd (self->current, index);
}

static void
invocation_done (VhostUserInvocation *invocation,
                 VhostUserMessage    *reply,
                 const GError        *error,
                 gpointer             user_data)
{
  VhostUserResponder *self = user_data;
  const VhostUserRequestInfo *info = vhost_user_invocation_get_info (invocation);

  /* the only request in flight on a channel is the pending one; any other
   * belongs to a connection that is gone */
  if (self->pending != invocation)
    return;
  self->pending = NULL;

  if (self->connection == NULL || vhost_user_connection_is_closed (self->connection))
    return;

  if (error != NULL)
    VHOST_USER_NOTE (TRACE, "[%s] %s failed: %s", who (self), info->name, error->message);

  if (reply != NULL)
    {
      /* a failure there closes the connection, which reports it */
      vhost_user_connection_send (self->connection, reply, NULL);
      clear_follow_up (self);
      /* (a failed send closed the connection: nothing follows up then) */
      if (self->connection != NULL && !vhost_user_connection_is_closed (self->connection))
        vhost_user_invocation_take_follow_up (invocation, &self->follow_up, &self->follow_up_data,
                                              &self->follow_up_notify, &self->follow_up_ack);
    }
  else if (error != NULL && (vhost_user_invocation_get_reply_kind (invocation) == VHOST_USER_REPLY_ALWAYS ||
                             self->channel == VHOST_USER_CHANNEL_MAIN))
    {
      /* Either the peer waits for an answer the protocol cannot give, or
       * the front-end asked for no reply (no NEED_REPLY, or no REPLY_ACK)
       * and carries on as if the request had worked: a ring whose size
       * was refused gets set up further and is never served, and the
       * guest hangs on its first request. Closing is the one answer it
       * cannot miss; the log says why. The role lets go of the
       * connection while it closes. */
      g_autoptr(GError) fatal = g_error_copy (error);
      g_autoptr(VhostUserConnection) connection = g_object_ref (self->connection);

      if (vhost_user_invocation_get_reply_kind (invocation) == VHOST_USER_REPLY_ALWAYS)
        g_prefix_error (&fatal, "Cannot answer %s: ", info->name);
      else
        g_prefix_error (&fatal, "%s refused, and the front-end asked for no reply to hear it: ", info->name);
      g_message ("vhost-user %s: closing the connection: %s", who (self), fatal->message);
      vhost_user_connection_close (connection, fatal);
      return;
    }

  if (self->connection != NULL)
    vhost_user_connection_set_receiving (self->connection, TRUE);
}

/* Unknown requests (or a reply where requests are expected): nobody can
 * tell what answer the peer waits for; a NACK if it asked for one. */
static void
refuse_unknown (VhostUserResponder            *self,
                VhostUserMessage              *msg,
                const GError                  *parse_error,
                const VhostUserResponderState *state)
{
  gboolean is_reply = vhost_user_message_is_reply (msg);

  VHOST_USER_NOTE (TRACE, "[%s] ignoring %s %u on the %s channel: %s", who (self),
                   is_reply ? "reply" : "request", msg->header.request,
                   vhost_user_channel_get_name (self->channel),
                   parse_error ? parse_error->message : "unknown request");
  if (!is_reply && vhost_user_message_needs_reply (msg) &&
      (state->protocol_features & VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK))
    {
      VhostUserMessage nack = VHOST_USER_MESSAGE_INIT;

      vhost_user_message_init_reply (&nack, msg);
      vhost_user_message_set_u64 (&nack, 1);
      vhost_user_connection_send (self->connection, &nack, NULL);
    }
}

/* Whether @context is already the thread-default one: pushing it again
 * costs an acquire and a release per message for nothing. */
static gboolean
is_thread_default (GMainContext *context)
{
  GMainContext *current = g_main_context_get_thread_default ();

  return current == context || (current == NULL && context == g_main_context_default ());
}

/* The request this thread is emitting, for the accumulator; emissions
 * nest (a handler may make a blocking call that delivers another). */
typedef struct _Emission Emission;
struct _Emission {
  VhostUserResponder  *responder;
  VhostUserInvocation *invocation;
  guint                signal_id;
  Emission            *outer;
};

static GPrivate emitting;

/* Stops at the first handler that returns %TRUE, as
 * g_signal_accumulator_true_handled() does, and also once the request is
 * no longer pending: a handler answered it (and still returned %FALSE),
 * or closed the connection. The default would otherwise act for a peer
 * that is gone: map its memory, keep its fds, answer twice. */
static gboolean
accumulate_handled (GSignalInvocationHint *ihint,
                    GValue                *return_accu,
                    const GValue          *handler_return,
                    gpointer               data)
{
  gboolean handled = g_value_get_boolean (handler_return);
  Emission *emission = g_private_get (&emitting);

  g_value_set_boolean (return_accu, handled);
  if (handled)
    return FALSE;
  if (emission == NULL || emission->signal_id != ihint->signal_id)
    return TRUE;
  /* (an answer from another thread reaches pending only later, through
   * the context) */
  return emission->responder->pending == emission->invocation &&
         !vhost_user_invocation_get_completed (emission->invocation);
}

static void
emit (VhostUserResponder            *self,
      const VhostUserRequestInfo    *info,
      VhostUserMessage              *msg,
      VhostUserInvocation           *invocation,
      const VhostUserResponderState *state)
{
  g_autoptr(GError) error = NULL;
  GValue values[VHOST_USER_SHAPE_MAX_ARGS] = { G_VALUE_INIT };
  gboolean handled = FALSE;
  gboolean push;
  guint n_args = 0;
  Emission emission;

  if (!vhost_user_shape_decode (info->shape, info, msg, &state->limits, values, &n_args, &error))
    {
      vhost_user_invocation_return_error (invocation, error);
      return;
    }

  /* handlers run with the role's context as thread-default even inside a
   * blocking call's private wait, so what they start asynchronously
   * completes where the role lives, not in a context about to go away */
  self->current = msg;
  emission.responder = self;
  emission.invocation = invocation;
  emission.signal_id = self->signals[info->number];
  push = !is_thread_default (self->context);
  if (push)
    g_main_context_push_thread_default (self->context);
  /* With no handler connected (nor a class closure overridden, which
   * g_signal_has_handler_pending() counts too) an emission would run the
   * vfunc alone, and costs some 1,400 instructions a request to do it:
   * call it. (Emission hooks do not see these requests then.) */
  if (self->class_offsets != NULL &&
      !g_signal_has_handler_pending (self->owner, emission.signal_id, 0, TRUE))
    {
      GCallback func = G_STRUCT_MEMBER (GCallback, G_OBJECT_GET_CLASS (self->owner),
                                        self->class_offsets[info->number]);

      handled = func != NULL && vhost_user_shape_call (info->shape, func, self->owner, invocation, values);
    }
  else
    {
      emission.outer = g_private_get (&emitting);
      g_private_set (&emitting, &emission);
      vhost_user_shape_emit (info->shape, self->owner, emission.signal_id, invocation, values, &handled);
      g_private_set (&emitting, emission.outer);
    }
  if (push)
    g_main_context_pop_thread_default (self->context);
  self->current = NULL;

  if (!handled && !vhost_user_invocation_get_completed (invocation))
    vhost_user_invocation_return_error_literal (invocation, VHOST_USER_ERROR, VHOST_USER_ERROR_HANDLER_FAILED,
                                                "No handler took the request");
  for (guint i = 0; i < n_args; i++)
    g_value_unset (&values[i]);
}

/* The peer's message after a two-step reply: not a request of its own. */
static void
run_follow_up (VhostUserResponder *self,
               VhostUserMessage   *msg,
               const GError       *parse_error)
{
  VhostUserFollowUpFunc func = self->follow_up;
  guint32 ack = self->follow_up_ack;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  ok = func (msg, parse_error, self->follow_up_data, &error);
  clear_follow_up (self);
  vhost_user_message_close_fds (msg);
  /* its work may have ended the connection (a handler of what it set) */
  if (self->connection == NULL || vhost_user_connection_is_closed (self->connection))
    return;
  if (!ok)
    {
      g_autoptr(VhostUserConnection) connection = g_object_ref (self->connection);

      VHOST_USER_NOTE (TRACE, "[%s] hanging up: %s", who (self), error->message);
      vhost_user_connection_close (connection, error);
      return;
    }
  if (ack != 0)
    {
      VhostUserMessage reply = VHOST_USER_MESSAGE_INIT;

      vhost_user_message_init (&reply, ack, VHOST_USER_FLAG_REPLY);
      vhost_user_message_set_u64 (&reply, 0);
      vhost_user_connection_send (self->connection, &reply, NULL);
    }
}

/* Called for every message the connection reads. */
void
vhost_user_responder_dispatch (VhostUserResponder *self,
                               VhostUserMessage   *msg,
                               const GError       *parse_error)
{
  const VhostUserRequestInfo *info;
  VhostUserInvocation *invocation;
  g_autoptr(GObject) owner = NULL;
  g_autoptr(GError) error = NULL;
  VhostUserResponderState state = { 0 };

  if (self->owner == NULL || self->connection == NULL)
    return;
  /* a handler may drop the last reference to its role */
  owner = g_object_ref (self->owner);
  if (self->follow_up != NULL)
    {
      run_follow_up (self, msg, parse_error);
      return;
    }
  self->state_func (owner, &state);

  info = vhost_user_request_info_lookup (self->channel, msg->header.request);
  if (info == NULL || vhost_user_message_is_reply (msg))
    {
      refuse_unknown (self, msg, parse_error, &state);
      return;
    }

  /* the connection stops reading until this request is answered */
  vhost_user_connection_set_receiving (self->connection, FALSE);
  invocation = vhost_user_invocation_new (self->channel, msg, state.protocol_features, self->context,
                                          g_steal_pointer (&self->spare), invocation_done, vhost_user_responder_ref (self),
                                          (GDestroyNotify) vhost_user_responder_unref);
  self->pending = invocation;

  if (parse_error != NULL)
    vhost_user_invocation_return_error (invocation, parse_error);
  else if (!vhost_user_request_info_check_gate (info, self->channel, state.protocol_features,
                                                state.features_offered, state.features_acked, msg->n_fds,
                                                &error))
    vhost_user_invocation_return_error (invocation, error);
  else
    emit (self, info, msg, invocation, &state);

  /* recycling drops the invocation's reference to us, maybe the last */
  vhost_user_responder_ref (self);
  if (self->spare == NULL && vhost_user_invocation_recycle (invocation))
    self->spare = invocation;
  else
    g_object_unref (invocation);
  vhost_user_responder_unref (self);
}

/* One signal per row of @channel's table, named by the row's nick, with
 * the row's shape after the invocation. The class closure is the vfunc at
 * class_offsets[number] (a derivable role), or else the callback
 * default_handlers[number] (a final one). Every signal runs last and
 * stops at the first handler that returns %TRUE, or once the request is
 * answered or its connection gone. */
void
vhost_user_responder_register_signals (GType             type,
                                       VhostUserChannel  channel,
                                       const gsize      *class_offsets,
                                       const GCallback  *default_handlers,
                                       guint            *signals)
{
  const VhostUserRequestInfo *table;
  guint n_rows;

  table = vhost_user_request_table (channel, &n_rows);
  for (guint number = 1; number < n_rows; number++)
    {
      GType types[1 + VHOST_USER_SHAPE_MAX_ARGS];
      GClosure *closure;
      guint n;

      types[0] = VHOST_USER_TYPE_INVOCATION;
      n = 1 + vhost_user_shape_get_param_types (table[number].shape, types + 1);
      if (class_offsets != NULL)
        closure = g_signal_type_cclosure_new (type, class_offsets[number]);
      else
        closure = g_cclosure_new (default_handlers[number], NULL, NULL);
      signals[number] = g_signal_newv (table[number].nick, type, G_SIGNAL_RUN_LAST, closure,
                                       accumulate_handled, NULL,
                                       vhost_user_shape_get_marshaller (table[number].shape),
                                       G_TYPE_BOOLEAN, n, types);
      g_signal_set_va_marshaller (signals[number], type,
                                  vhost_user_shape_get_va_marshaller (table[number].shape));
    }
}
