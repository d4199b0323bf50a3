/* vhost-user-frontend-channel.c: the back-end channel, requests from the
 * back-end and their signals
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Requests from the back-end go through the responder both roles share,
 * as the back-end's requests do on the main socket.
 */

#include "config.h"

#include "vhost-user-debug-private.h"
#include "vhost-user-error.h"
#include "vhost-user-frontend-private.h"
#include "vhost-user-socket-private.h"

/* one per back-end channel request, indexed by number */
static guint channel_signals[VHOST_USER_LAST_BACKEND_REQUEST + 1];

void
vhost_user_frontend_close_backend_channel (VhostUserFrontend *self)
{
  if (self->channel_responder != NULL)
    vhost_user_responder_set_connection (self->channel_responder, NULL);
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

/* What the responder checks each request against: the features agreed,
 * and the rings set up (a request naming another ring is refused before
 * any handler sees it). */
static void
get_responder_state (GObject                 *owner,
                     VhostUserResponderState *state)
{
  VhostUserFrontend *self = VHOST_USER_FRONTEND (owner);

  state->protocol_features = self->acked_protocol_features;
  state->features_offered = self->features;
  state->features_acked = self->acked_features;
  state->limits.num_queues = self->n_rings;
}

void
vhost_user_frontend_init_channel (VhostUserFrontend *self)
{
  self->channel_responder = vhost_user_responder_new (G_OBJECT (self), VHOST_USER_CHANNEL_BACKEND, self->context,
                                                      channel_signals, get_responder_state);
}

void
vhost_user_frontend_finalize_channel (VhostUserFrontend *self)
{
  if (self->channel_responder != NULL)
    vhost_user_responder_detach (self->channel_responder);
  g_clear_pointer (&self->channel_responder, vhost_user_responder_unref);
}

static void
on_channel_message (VhostUserConnection *connection,
                    VhostUserMessage    *msg,
                    const GError        *parse_error,
                    gpointer             user_data)
{
  VhostUserFrontend *self = user_data;

  vhost_user_responder_dispatch (self->channel_responder, msg, parse_error);
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
  vhost_user_responder_set_connection (self->channel_responder, self->backend_channel);
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
 *
 * Since: 1.0
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
 *
 * Since: 1.0
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
 *
 * Since: 1.0
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
 * @size: the range's size (0 in a miss: the IOMMU decides)
 * @user_addr: the address, if known
 * @perm: the access wanted (1 read, 2 write, 3 both)
 * @type: 1 miss, 4 access failure
 *
 * The back-end missed an IOTLB entry (`BACKEND_IOTLB_MSG`, with
 * `VIRTIO_F_ACCESS_PLATFORM`): the front-end, as the guest's IOMMU,
 * translates @iova and answers with an update
 * (vhost_user_frontend_send_iotlb_msg_async() with type 2: the range,
 * the front-end address it maps to and the access allowed), or with an
 * access failure (type 4) when the IOMMU does not map it; the back-end's
 * ring waits until then. Acknowledge @invocation either way (a refusal is
 * what QEMU answers for an IOVA it cannot translate: the ring breaks).
 * Send the update asynchronously: a blocking call from the handler would
 * wait for a back-end that may be waiting for this answer. Default:
 * refuse (no IOMMU).
 *
 * Returns: %TRUE if the handler answers @invocation
 *
 * Since: 1.0
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
 *
 * Since: 1.0
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
 *
 * Since: 1.0
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
 *
 * Since: 1.0
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
 *
 * Since: 1.0
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
 *
 * Since: 1.0
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
 *
 * Since: 1.0
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
 *
 * Since: 1.0
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
 *
 * Since: 1.0
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
 *
 * Since: 1.0
 */

/* Which requests the front-end acknowledges when no handler takes them:
 * the ones that only inform it; it refuses the rest. */
static const GCallback channel_defaults[] = {
  [VHOST_USER_BACKEND_REQUEST_IOTLB_MSG] = G_CALLBACK (channel_refuse),
  [VHOST_USER_BACKEND_REQUEST_CONFIG_CHANGE_MSG] = G_CALLBACK (channel_ack),
  [VHOST_USER_BACKEND_REQUEST_VRING_HOST_NOTIFIER_MSG] = G_CALLBACK (channel_refuse),
  [VHOST_USER_BACKEND_REQUEST_VRING_CALL] = G_CALLBACK (channel_ack),
  [VHOST_USER_BACKEND_REQUEST_VRING_ERR] = G_CALLBACK (channel_ack),
  [VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_ADD] = G_CALLBACK (channel_refuse),
  [VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_REMOVE] = G_CALLBACK (channel_refuse),
  [VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_LOOKUP] = G_CALLBACK (channel_refuse),
  [VHOST_USER_BACKEND_REQUEST_SHMEM_MAP] = G_CALLBACK (channel_refuse),
  [VHOST_USER_BACKEND_REQUEST_SHMEM_UNMAP] = G_CALLBACK (channel_refuse),
};

G_STATIC_ASSERT (G_N_ELEMENTS (channel_defaults) == VHOST_USER_LAST_BACKEND_REQUEST + 1);

/* One signal per back-end channel request, from the request table; the
 * defaults ignore the request's arguments, so one C signature serves
 * every signal (the generic marshaller passes the rest). */
void
vhost_user_frontend_class_init_channel (GType type)
{
  vhost_user_responder_register_signals (type, VHOST_USER_CHANNEL_BACKEND, NULL, channel_defaults, channel_signals);
}
