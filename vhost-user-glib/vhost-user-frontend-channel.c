/* vhost-user-frontend-channel.c: the back-end channel, requests from the
 * back-end and their signals
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The receive path (on_channel_message, decode_channel_args) is the
 * front-end's own responder; it is meant to move onto the responder both
 * roles share, so it stays in this one place.
 */

#include "config.h"

#include <string.h>

#include "vhost-user-debug-private.h"
#include "vhost-user-enum-types.h"
#include "vhost-user-error.h"
#include "vhost-user-frontend-private.h"
#include "vhost-user-socket-private.h"

/* one per back-end channel request, indexed by number */
static guint channel_signals[VHOST_USER_LAST_BACKEND_REQUEST + 1];

void
vhost_user_frontend_close_backend_channel (VhostUserFrontend *self)
{
  self->channel_pending = NULL;
  if (self->backend_channel != NULL)
    {
      vhost_user_requester_set_companion (self->requester, NULL);
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
    vhost_user_frontend_close_backend_channel (self);
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
      vhost_user_frontend_close_backend_channel (self);
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

/* A socket pair: ours is watched from now on (ready before the back-end
 * can use it), theirs goes out in the returned list. */
static GUnixFDList *
open_backend_channel (VhostUserFrontend  *self,
                      GError            **error)
{
  g_autoptr(GSocket) ours = NULL;
  g_autoptr(GSocket) theirs = NULL;
  g_autoptr(GUnixFDList) fd_list = g_unix_fd_list_new ();

  if (!vhost_user_socket_pair (&ours, &theirs, error) ||
      g_unix_fd_list_append (fd_list, g_socket_get_fd (theirs), error) < 0)
    return NULL;

  vhost_user_frontend_close_backend_channel (self);
  self->backend_channel = vhost_user_connection_new (ours, VHOST_USER_CHANNEL_BACKEND, FALSE, self->context);
  vhost_user_connection_set_protocol_features (self->backend_channel, self->acked_protocol_features);
  vhost_user_connection_set_handlers (self->backend_channel, on_channel_message, on_channel_closed, self);
  vhost_user_connection_start (self->backend_channel);
  /* a blocking request keeps answering the back-end meanwhile */
  vhost_user_requester_set_companion (self->requester, self->backend_channel);
  return g_steal_pointer (&fd_list);
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
  g_autoptr(GUnixFDList) fd_list = NULL;
  g_autoptr(GBytes) reply = NULL;

  g_return_val_if_fail (VHOST_USER_IS_FRONTEND (self), FALSE);

  fd_list = open_backend_channel (self, error);
  if (fd_list == NULL)
    return FALSE;
  reply = vhost_user_frontend_request (self, VHOST_USER_REQUEST_SET_BACKEND_REQ_FD, NULL, fd_list,
                                       cancellable, NULL, error);
  if (reply == NULL)
    {
      vhost_user_frontend_close_backend_channel (self);
      return FALSE;
    }
  return TRUE;
}

static void
setup_sent (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  VhostUserFrontend *self = VHOST_USER_FRONTEND (source);
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) reply = vhost_user_frontend_request_finish (self, result, NULL, &error);

  if (reply == NULL)
    {
      /* only the channel this call opened: a later setup may have replaced it */
      if (self->backend_channel == g_task_get_task_data (task))
        vhost_user_frontend_close_backend_channel (self);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_boolean (task, TRUE);
}

/**
 * vhost_user_frontend_setup_backend_channel_async:
 * @self: a front-end
 * @cancellable: (nullable): a #GCancellable
 * @callback: called once the back-end has the channel
 * @user_data: data for @callback
 *
 * The async form of vhost_user_frontend_setup_backend_channel(); finish
 * with vhost_user_frontend_setup_backend_channel_finish().
 */
void
vhost_user_frontend_setup_backend_channel_async (VhostUserFrontend   *self,
                                                 GCancellable        *cancellable,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GUnixFDList) fd_list = NULL;
  GError *error = NULL;

  g_return_if_fail (VHOST_USER_IS_FRONTEND (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, vhost_user_frontend_setup_backend_channel_async);
  fd_list = open_backend_channel (self, &error);
  if (fd_list == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_set_task_data (task, self->backend_channel, NULL);  /* compared, never dereferenced */
  vhost_user_frontend_request_async (self, VHOST_USER_REQUEST_SET_BACKEND_REQ_FD, NULL, fd_list, cancellable,
                                     setup_sent, g_steal_pointer (&task));
}

/**
 * vhost_user_frontend_setup_backend_channel_finish:
 * @self: a front-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_frontend_setup_backend_channel_async().
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_frontend_setup_backend_channel_finish (VhostUserFrontend  *self,
                                                  GAsyncResult       *result,
                                                  GError            **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, vhost_user_frontend_setup_backend_channel_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
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

/* Each signal's documentation, beside the code that registers it: */

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
 * vhost_user_frontend_read_config_async() (not blocking in the handler: answer first).
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
 * @fd: the area's fd, or -1 to withdraw it; borrowed for the emission
 *   (a handler that keeps it dup()s it)
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
 * @fd: what to map; borrowed for the emission (a handler that keeps it
 *   dup()s it)
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

void
vhost_user_frontend_class_init_channel (GType type)
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
