/* vhost-user-frontend-channel.c: the back-end channel, requests from the
 * back-end and their signals
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Requests from the back-end go through the responder both roles share,
 * as the back-end's requests do on the main socket.
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <glib/gstdio.h>

#include "vhost-user-debug-private.h"
#include "vhost-user-error.h"
#include "vhost-user-frontend-private.h"
#include "vhost-user-socket-private.h"
#include "vhost-user-peer-fd-private.h"

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

/* What the back-end shared: a ring's notification area, a mapping in a
 * shared memory region. Both own their fd. */
typedef struct {
  int     fd;
  guint64 offset;
  guint64 size;
} HostNotifier;

typedef struct {
  guint   shmid;
  guint64 shm_offset;
  guint64 len;
  int     fd;
  guint64 fd_offset;
  guint64 flags;
} ShmemMapping;

static void
host_notifier_free (gpointer data)
{
  HostNotifier *notifier = data;

  vhost_user_peer_fd_close (notifier->fd);
  g_free (notifier);
}

static void
shmem_mapping_free (gpointer data)
{
  ShmemMapping *mapping = data;

  vhost_user_peer_fd_close (mapping->fd);
  g_free (mapping);
}

void
vhost_user_frontend_init_channel (VhostUserFrontend *self)
{
  self->channel_responder = vhost_user_responder_new (G_OBJECT (self), VHOST_USER_CHANNEL_BACKEND, self->context,
                                                      channel_signals, NULL, get_responder_state);
  self->host_notifiers = g_hash_table_new_full (NULL, NULL, NULL, host_notifier_free);
  self->shmem_mappings = g_ptr_array_new_with_free_func (shmem_mapping_free);
  if (self->objects == NULL)
    self->objects = vhost_user_object_registry_new ();
}

/* The back-end is gone, and with it what it shared: its notifiers, its
 * mappings (which a reset undoes too) and the objects it exported. */
void
vhost_user_frontend_forget_shared (VhostUserFrontend *self)
{
  if (self->host_notifiers != NULL)
    g_hash_table_remove_all (self->host_notifiers);
  if (self->shmem_mappings != NULL)
    g_ptr_array_set_size (self->shmem_mappings, 0);
  g_clear_pointer (&self->shmem_sizes, g_free);
  if (self->objects != NULL)
    vhost_user_object_registry_forget_exporter (self->objects, G_OBJECT (self));
}

void
vhost_user_frontend_finalize_channel (VhostUserFrontend *self)
{
  if (self->channel_responder != NULL)
    vhost_user_responder_detach (self->channel_responder);
  g_clear_pointer (&self->channel_responder, vhost_user_responder_unref);
  vhost_user_frontend_forget_shared (self);
  g_clear_object (&self->objects);
  g_clear_pointer (&self->host_notifiers, g_hash_table_unref);
  g_clear_pointer (&self->shmem_mappings, g_ptr_array_unref);
}

/* The regions are what the device says they are now: a mapping that no
 * longer lies wholly inside its region (shrunk, or gone) is out of the
 * guest's reach, and the back-end, which checks its maps and unmaps
 * against the new sizes too, would never undo it; kept, it would hold
 * its fd and refuse maps that overlap it once the region grows again. */
static void
forget_mappings_outside (VhostUserFrontend *self)
{
  for (guint i = self->shmem_mappings->len; i > 0; i--)
    {
      ShmemMapping *mapping = g_ptr_array_index (self->shmem_mappings, i - 1);
      guint64 size = self->shmem_sizes[mapping->shmid];

      if (mapping->shm_offset > size || mapping->len > size - mapping->shm_offset)
        g_ptr_array_remove_index_fast (self->shmem_mappings, i - 1);
    }
}

/* What the front-end's own requests tell the channel's defaults: the
 * regions' sizes, and resets, across which the back-end's mappings go
 * (the specification asks the front-end to undo them). */
void
vhost_user_frontend_track_channel (VhostUserFrontend *self,
                                   guint32            request,
                                   GBytes            *reply)
{
  switch (request)
    {
    case VHOST_USER_REQUEST_GET_SHMEM_CONFIG:
      if (reply != NULL && g_bytes_get_size (reply) == sizeof (VhostUserWireShmemConfig))
        {
          VhostUserWireShmemConfig config;

          memcpy (&config, g_bytes_get_data (reply, NULL), sizeof config);
          g_free (self->shmem_sizes);
          self->shmem_sizes = g_memdup2 (config.memory_sizes, sizeof config.memory_sizes);
          forget_mappings_outside (self);
        }
      break;
    case VHOST_USER_REQUEST_RESET_DEVICE:
    case VHOST_USER_REQUEST_RESET_OWNER:
      g_ptr_array_set_size (self->shmem_mappings, 0);
      break;
    default:
      break;
    }
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
  /* held, so that no later channel can take its address before the
   * reply compares it */
  g_task_set_task_data (task, g_object_ref (self->backend_channel), g_object_unref);
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

/* Whether [offset, offset + len) lies inside @fd, where the fd says how
 * large it is (a file or memfd; a dma-buf or a device's BAR does not):
 * beyond the end a mapping would fault when the guest touches it. */
static gboolean
fd_holds (int     fd,
          guint64 offset,
          guint64 len)
{
  struct stat st;

  if (fstat (fd, &st) != 0)
    return FALSE;
  return !S_ISREG (st.st_mode) || (offset <= (guint64) st.st_size && len <= (guint64) st.st_size - offset);
}

static gboolean
channel_host_notifier (VhostUserFrontend   *self,
                       VhostUserInvocation *invocation,
                       guint                index,
                       guint64              size,
                       guint64              offset,
                       int                  fd)
{
  guint64 page = sysconf (_SC_PAGESIZE);
  HostNotifier *notifier;

  if (fd < 0)
    {
      g_hash_table_remove (self->host_notifiers, GUINT_TO_POINTER (index));
      vhost_user_invocation_return_ack (invocation);
      return TRUE;
    }
  if (size == 0 || size % page != 0 || offset % page != 0 || offset + size < offset || !fd_holds (fd, offset, size))
    {
      vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_PARAM,
                                           "Host notifier of queue %u: 0x%" G_GINT64_MODIFIER "x bytes at 0x%"
                                           G_GINT64_MODIFIER "x are not whole pages of its fd", index, size, offset);
      return TRUE;
    }
  notifier = g_new (HostNotifier, 1);
  notifier->fd = fcntl (fd, F_DUPFD_CLOEXEC, 3);
  notifier->offset = offset;
  notifier->size = size;
  if (notifier->fd < 0)
    {
      g_free (notifier);
      vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_FAILED, "Host notifier of queue %u: %s",
                                           index, g_strerror (errno));
      return TRUE;
    }
  g_hash_table_replace (self->host_notifiers, GUINT_TO_POINTER (index), notifier);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

/**
 * vhost_user_frontend_get_host_notifier:
 * @self: a front-end
 * @index: a queue
 * @offset: (out) (optional): where the area starts in the fd
 * @size: (out) (optional): its size
 *
 * The notification area the back-end offered for @index
 * ([signal@VhostUser.Frontend::vring-host-notifier-msg]), as the
 * default handler recorded it; it goes when the back-end withdraws it or
 * disconnects.
 *
 * Returns: the area's fd (owned by @self), or -1 if there is none
 *
 * Since: 1.0
 */
int
vhost_user_frontend_get_host_notifier (VhostUserFrontend *self,
                                       guint              index,
                                       guint64           *offset,
                                       guint64           *size)
{
  HostNotifier *notifier;

  g_return_val_if_fail (VHOST_USER_IS_FRONTEND (self), -1);

  notifier = g_hash_table_lookup (self->host_notifiers, GUINT_TO_POINTER (index));
  if (offset != NULL)
    *offset = notifier != NULL ? notifier->offset : 0;
  if (size != NULL)
    *size = notifier != NULL ? notifier->size : 0;
  return notifier != NULL ? notifier->fd : -1;
}

static gboolean
channel_object_add (VhostUserFrontend   *self,
                    VhostUserInvocation *invocation,
                    const char          *uuid)
{
  g_autoptr(GError) error = NULL;

  if (vhost_user_object_registry_add_exporter (self->objects, uuid, G_OBJECT (self), &error))
    vhost_user_invocation_return_ack (invocation);
  else
    vhost_user_invocation_return_error (invocation, error);
  return TRUE;
}

static gboolean
channel_object_remove (VhostUserFrontend   *self,
                       VhostUserInvocation *invocation,
                       const char          *uuid)
{
  g_autoptr(GError) error = NULL;

  if (vhost_user_object_registry_remove_exporter (self->objects, uuid, G_OBJECT (self), &error))
    vhost_user_invocation_return_ack (invocation);
  else
    vhost_user_invocation_return_error (invocation, error);
  return TRUE;
}

static void
object_found (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(VhostUserInvocation) invocation = user_data;
  g_autoptr(GError) error = NULL;
  int fd = vhost_user_object_registry_lookup_finish (VHOST_USER_OBJECT_REGISTRY (source), result, &error);

  if (fd < 0)
    {
      vhost_user_invocation_return_error (invocation, error);
      return;
    }
  /* the reply carries a copy */
  vhost_user_invocation_return_fd (invocation, 0, fd);
  vhost_user_peer_fd_close (fd);
}

static gboolean
channel_object_lookup (VhostUserFrontend   *self,
                       VhostUserInvocation *invocation,
                       const char          *uuid)
{
  /* answered when the exporter gave it: the channel waits meanwhile */
  vhost_user_object_registry_lookup_async (self->objects, uuid, NULL, object_found, g_object_ref (invocation));
  return TRUE;
}

/* Mappings a back-end may hold at once (each an fd of the VMM's). */
#define VHOST_USER_MAX_SHMEM_MAPPINGS 1024

static gboolean
channel_shmem_map (VhostUserFrontend   *self,
                   VhostUserInvocation *invocation,
                   guint                shmid,
                   guint64              fd_offset,
                   guint64              shm_offset,
                   guint64              len,
                   guint64              flags,
                   int                  fd)
{
  guint64 page = sysconf (_SC_PAGESIZE);
  guint64 size = self->shmem_sizes != NULL && shmid < VHOST_USER_MAX_SHMEM_REGIONS ? self->shmem_sizes[shmid] : 0;
  ShmemMapping *mapping;

  if (flags & ~(guint64) VHOST_USER_SHMEM_MAP_RW)
    {
      vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_PARAM,
                                           "SHMEM_MAP with unknown flags 0x%" G_GINT64_MODIFIER "x", flags);
      return TRUE;
    }
  if (size == 0)
    {
      vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_PARAM,
                                           self->shmem_sizes == NULL
                                             ? "SHMEM_MAP into region %u before GET_SHMEM_CONFIG"
                                             : "SHMEM_MAP into region %u, which the device does not have", shmid);
      return TRUE;
    }
  if (len == 0 || shm_offset > size || len > size - shm_offset || fd_offset + len < fd_offset ||
      shm_offset % page != 0 || len % page != 0 || fd_offset % page != 0)
    {
      vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_PARAM,
                                           "SHMEM_MAP of 0x%" G_GINT64_MODIFIER "x bytes at 0x%" G_GINT64_MODIFIER
                                           "x: not whole pages inside region %u (0x%" G_GINT64_MODIFIER "x bytes)",
                                           len, shm_offset, shmid, size);
      return TRUE;
    }
  if (self->shmem_mappings->len >= VHOST_USER_MAX_SHMEM_MAPPINGS)
    {
      /* each holds an fd of ours: a back-end mapping page after page
       * would take the whole process's fd table */
      vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_PARAM,
                                           "SHMEM_MAP: the back-end has %u mappings already, the most it may have",
                                           self->shmem_mappings->len);
      return TRUE;
    }
  for (guint i = 0; i < self->shmem_mappings->len; i++)
    {
      ShmemMapping *other = g_ptr_array_index (self->shmem_mappings, i);

      if (other->shmid == shmid && shm_offset < other->shm_offset + other->len &&
          other->shm_offset < shm_offset + len)
        {
          vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_PARAM,
                                               "SHMEM_MAP at 0x%" G_GINT64_MODIFIER "x of region %u overlaps the "
                                               "mapping at 0x%" G_GINT64_MODIFIER "x", shm_offset, shmid,
                                               other->shm_offset);
          return TRUE;
        }
    }
  if (!fd_holds (fd, fd_offset, len))
    {
      vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_PARAM,
                                           "SHMEM_MAP of 0x%" G_GINT64_MODIFIER "x bytes at 0x%" G_GINT64_MODIFIER
                                           "x of an fd that ends before", len, fd_offset);
      return TRUE;
    }
  mapping = g_new (ShmemMapping, 1);
  mapping->fd = fcntl (fd, F_DUPFD_CLOEXEC, 3);
  if (mapping->fd < 0)
    {
      g_free (mapping);
      vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_FAILED, "SHMEM_MAP: %s", g_strerror (errno));
      return TRUE;
    }
  mapping->shmid = shmid;
  mapping->shm_offset = shm_offset;
  mapping->len = len;
  mapping->fd_offset = fd_offset;
  mapping->flags = flags;
  g_ptr_array_add (self->shmem_mappings, mapping);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

static gboolean
channel_shmem_unmap (VhostUserFrontend   *self,
                     VhostUserInvocation *invocation,
                     guint                shmid,
                     guint64              shm_offset,
                     guint64              len)
{
  for (guint i = 0; i < self->shmem_mappings->len; i++)
    {
      ShmemMapping *mapping = g_ptr_array_index (self->shmem_mappings, i);

      if (mapping->shmid == shmid && mapping->shm_offset == shm_offset && mapping->len == len)
        {
          g_ptr_array_remove_index_fast (self->shmem_mappings, i);
          vhost_user_invocation_return_ack (invocation);
          return TRUE;
        }
    }
  vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_PARAM,
                                       "SHMEM_UNMAP: no mapping of 0x%" G_GINT64_MODIFIER "x bytes at 0x%"
                                       G_GINT64_MODIFIER "x in region %u", len, shm_offset, shmid);
  return TRUE;
}

/**
 * vhost_user_frontend_lookup_shmem_mapping:
 * @self: a front-end
 * @shmid: a shared memory region
 * @shm_offset: an offset in it
 * @start: (out) (optional): where the mapping that holds @shm_offset
 *   starts in the region
 * @len: (out) (optional): its length
 * @fd_offset: (out) (optional): where it starts in the fd
 * @writable: (out) (optional): whether the guest may write it
 *
 * The mapping the back-end made at @shm_offset of region @shmid
 * ([signal@VhostUser.Frontend::shmem-map]), as the default handler
 * recorded it; mappings go when the back-end unmaps them, resets or
 * disconnects, and when a later `GET_SHMEM_CONFIG` leaves them outside
 * their region (shrunk or removed). The fd is closed when its mapping
 * goes, with no signal of its own: a VMM that maps it into the guest
 * looks the mapping up again after each of those (or `dup()`s the fd),
 * and takes its guest mapping down where the lookup finds none.
 *
 * Returns: the mapped fd (owned by @self, valid while the mapping is
 *   recorded), or -1 if nothing is mapped there
 *
 * Since: 1.0
 */
int
vhost_user_frontend_lookup_shmem_mapping (VhostUserFrontend *self,
                                          guint              shmid,
                                          guint64            shm_offset,
                                          guint64           *start,
                                          guint64           *len,
                                          guint64           *fd_offset,
                                          gboolean          *writable)
{
  ShmemMapping *found = NULL;

  g_return_val_if_fail (VHOST_USER_IS_FRONTEND (self), -1);

  for (guint i = 0; i < self->shmem_mappings->len && found == NULL; i++)
    {
      ShmemMapping *mapping = g_ptr_array_index (self->shmem_mappings, i);

      if (mapping->shmid == shmid && shm_offset >= mapping->shm_offset &&
          shm_offset - mapping->shm_offset < mapping->len)
        found = mapping;
    }
  if (start != NULL)
    *start = found != NULL ? found->shm_offset : 0;
  if (len != NULL)
    *len = found != NULL ? found->len : 0;
  if (fd_offset != NULL)
    *fd_offset = found != NULL ? found->fd_offset : 0;
  if (writable != NULL)
    *writable = found != NULL && (found->flags & VHOST_USER_SHMEM_MAP_RW);
  return found != NULL ? found->fd : -1;
}

/**
 * vhost_user_frontend_get_n_shmem_mappings:
 * @self: a front-end
 *
 * How many mappings the back-end has made in its shared memory regions
 * and not undone.
 *
 * Returns: the number of mappings
 *
 * Since: 1.0
 */
guint
vhost_user_frontend_get_n_shmem_mappings (VhostUserFrontend *self)
{
  g_return_val_if_fail (VHOST_USER_IS_FRONTEND (self), 0);

  return self->shmem_mappings->len;
}

/* Each signal's documentation, beside the code that registers it: */

/**
 * VhostUserFrontend::iotlb-msg:
 * @self: the front-end
 * @invocation: the request, to answer
 * @iova: the I/O virtual address
 * @size: the range's size (0 in a miss: the IOMMU decides)
 * @user_addr: the address, if known
 * @perm: the access wanted, a #VhostUserIotlbPerm (1 read, 2 write, 3 both)
 * @type: a #VhostUserIotlbType: 1 miss, 4 access failure
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
 * directly (or, with @fd -1, withdraws it). Default: check that the area
 * is whole pages (inside @fd, where @fd has a size), and record it (a duplicate of @fd), replacing the
 * ring's previous one, for vhost_user_frontend_get_host_notifier(); a
 * VMM maps it for the guest itself.
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
 * An in-band error notification for @index, where the front-end gave
 * the ring no error eventfd: a back-end of this library sends it by
 * itself when the driver broke the ring, or when a stop's
 * `GET_VRING_BASE` was answered with requests still held by its device
 * (see [property@VhostUser.Backend:drain-timeout]). Default: acknowledge.
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
 * The back-end exports a shared object: it keeps the object, the
 * front-end records it as the exporter of @uuid. Default: record it in
 * [property@VhostUser.Frontend:object-registry]; refused if another
 * exporter has @uuid, or if this back-end already exports 4096 objects.
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
 * The back-end withdraws a shared object. Default: remove it from
 * [property@VhostUser.Frontend:object-registry]; refused for a UUID
 * this back-end did not export.
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
 * The back-end looks up a shared object. Default: answer from
 * [property@VhostUser.Frontend:object-registry]: an fd the VMM added, or
 * the one the exporting back-end gives when asked (`GET_SHARED_OBJECT`);
 * an unknown UUID is answered as not found (a non-zero status, no fd).
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
 * The back-end maps memory into a shared memory region. Default: check
 * the request against the region's size, as `GET_SHMEM_CONFIG` gave it
 * (vhost_user_frontend_get_shmem_config(), which a VMM sends when it
 * sets the device up: without it nothing is mapped), against the
 * mappings already made (no overlap, and at most 1024 of them, each
 * holding an fd), its flags (bit 0 only) and @fd's
 * size where it has one (a file or memfd), and
 * record the mapping with a duplicate of @fd
 * (vhost_user_frontend_lookup_shmem_mapping()); anything else is
 * refused. A VMM that backs the region with memory of its own handles
 * the signal, or maps what the default recorded.
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
 * The back-end unmaps a range of a shared memory region. Default: drop
 * the mapping recorded at exactly that range (closing its fd); refused
 * when there is none.
 *
 * Returns: %TRUE if the handler answers @invocation
 *
 * Since: 1.0
 */

/* What the front-end does when no handler takes a request: acknowledge
 * what only informs it, keep what the back-end shares, refuse IOTLB
 * misses (it is no IOMMU unless a handler makes it one). */
static const GCallback channel_defaults[] = {
  [VHOST_USER_BACKEND_REQUEST_IOTLB_MSG] = G_CALLBACK (channel_refuse),
  [VHOST_USER_BACKEND_REQUEST_CONFIG_CHANGE_MSG] = G_CALLBACK (channel_ack),
  [VHOST_USER_BACKEND_REQUEST_VRING_HOST_NOTIFIER_MSG] = G_CALLBACK (channel_host_notifier),
  [VHOST_USER_BACKEND_REQUEST_VRING_CALL] = G_CALLBACK (channel_ack),
  [VHOST_USER_BACKEND_REQUEST_VRING_ERR] = G_CALLBACK (channel_ack),
  [VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_ADD] = G_CALLBACK (channel_object_add),
  [VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_REMOVE] = G_CALLBACK (channel_object_remove),
  [VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_LOOKUP] = G_CALLBACK (channel_object_lookup),
  [VHOST_USER_BACKEND_REQUEST_SHMEM_MAP] = G_CALLBACK (channel_shmem_map),
  [VHOST_USER_BACKEND_REQUEST_SHMEM_UNMAP] = G_CALLBACK (channel_shmem_unmap),
};

G_STATIC_ASSERT (G_N_ELEMENTS (channel_defaults) == VHOST_USER_LAST_BACKEND_REQUEST + 1);

/* One signal per back-end channel request, from the request table; each
 * default takes the arguments of its request's shape (the simplest ones
 * none: the marshaller passes them, C ignores them). */
void
vhost_user_frontend_class_init_channel (GType type)
{
  vhost_user_responder_register_signals (type, VHOST_USER_CHANNEL_BACKEND, NULL, channel_defaults, channel_signals);
}
