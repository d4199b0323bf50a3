/* vhost-user-backend-shared.c: what the device shares with the front-end
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Shared objects: the fds the device exports by UUID, kept here so that
 * GET_SHARED_OBJECT can be answered, and the back-end channel's
 * SHARED_OBJECT_ADD/REMOVE/LOOKUP. Shared memory regions: the ones the
 * device declares (GET_SHMEM_CONFIG answers from them) and the mappings
 * it asks the front-end to make in them (SHMEM_MAP/UNMAP).
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "vhost-user-backend-private.h"
#include "vhost-user-error.h"
#include "vhost-user-message-private.h"
#include "vhost-user-peer-fd-private.h"

typedef struct {
  int fd;
} SharedObject;

static void
shared_object_free (gpointer data)
{
  SharedObject *object = data;

  vhost_user_peer_fd_close (object->fd);
  g_free (object);
}

void
vhost_user_backend_init_shared (VhostUserBackend *self)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  priv->shared_objects = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, shared_object_free);
  /* shmem_sizes (2 KiB) once a region is declared: a server makes a
   * back-end per connection, and few devices declare any */
}

void
vhost_user_backend_finalize_shared (VhostUserBackend *self)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  g_clear_pointer (&priv->shared_objects, g_hash_table_unref);
  g_clear_pointer (&priv->shmem_sizes, g_free);
}

/* The UUID as the table keys it, and its wire payload. */
static char *
parse_uuid (const char  *uuid,
            GBytes     **payload,
            GError     **error)
{
  VhostUserWireSharedObject wire;

  if (uuid == NULL || !vhost_user_uuid_parse (uuid, wire.uuid, error))
    {
      if (uuid == NULL)
        g_set_error_literal (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM, "No UUID");
      return NULL;
    }
  if (payload != NULL)
    *payload = g_bytes_new (&wire, sizeof wire);
  return vhost_user_uuid_to_string (wire.uuid);
}

/**
 * VhostUserBackend::get-shared-object:
 * @self: the back-end
 * @invocation: the request, to answer
 * @uuid: the object's UUID
 *
 * The front-end asks for a shared object, usually on behalf of another
 * device that looked it up. Default: the fd exported with
 * vhost_user_backend_add_shared_object(), or "not found".
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_real_get_shared_object (VhostUserBackend    *self,
                                           VhostUserInvocation *invocation,
                                           const char          *uuid)
{
  SharedObject *object = g_hash_table_lookup (priv_of (self)->shared_objects, uuid);

  if (object == NULL)
    vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_PARAM, "No shared object %s", uuid);
  else
    vhost_user_invocation_return_fd (invocation, 0, object->fd);
  return TRUE;
}

typedef struct {
  char         *uuid;
  SharedObject *object;   /* the entry this call added: compared only */
} AddData;

static void
add_data_free (gpointer data)
{
  AddData *add = data;

  g_free (add->uuid);
  g_free (add);
}

/* Keeps a duplicate of @fd under @uuid, in the table before the
 * front-end hears of it (it may ask at once); @add says which entry. */
static gboolean
store_object (VhostUserBackend  *self,
              const char        *uuid,
              int                fd,
              AddData           *add,
              GBytes           **payload,
              GError           **error)
{
  int own;

  add->uuid = parse_uuid (uuid, payload, error);
  if (add->uuid == NULL)
    return FALSE;
  own = fd >= 0 ? fcntl (fd, F_DUPFD_CLOEXEC, 3) : -1;
  if (own < 0)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "Shared object %s: fd %d cannot be kept", add->uuid, fd);
      return FALSE;
    }
  add->object = g_new (SharedObject, 1);
  add->object->fd = own;
  g_hash_table_replace (priv_of (self)->shared_objects, g_strdup (add->uuid), add->object);
  return TRUE;
}

/* The front-end does not know it: nobody can ask for it (unless a later
 * add replaced it meanwhile). */
static void
unstore_object (VhostUserBackend *self,
                AddData          *add)
{
  if (g_hash_table_lookup (priv_of (self)->shared_objects, add->uuid) == add->object)
    g_hash_table_remove (priv_of (self)->shared_objects, add->uuid);
}

static void
add_sent (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  VhostUserBackend *self = VHOST_USER_BACKEND (source);
  g_autoptr(GTask) task = user_data;
  AddData *add = g_task_get_task_data (task);
  GError *error = NULL;

  if (vhost_user_backend_send_backend_request_finish (self, result, NULL, &error) == G_MAXUINT64)
    {
      unstore_object (self, add);
      g_task_return_error (task, error);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

/**
 * vhost_user_backend_add_shared_object_async:
 * @self: a back-end
 * @uuid: the object's UUID, as text (`"12345678-9abc-def0-0102-030405060708"`)
 * @fd: the object, usually a dma-buf; borrowed: the back-end keeps a
 *   duplicate until the object is removed or the back-end goes
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when the front-end answered
 * @user_data: data for @callback
 *
 * Exports a shared object (`BACKEND_SHARED_OBJECT_ADD`): the front-end
 * records this device as the exporter of @uuid, and when another device
 * looks @uuid up it asks this one with `GET_SHARED_OBJECT`, which the
 * default handler of [signal@VhostUser.Backend::get-shared-object]
 * answers with @fd. The UUID goes to the front-end, the fd stays here,
 * as the specification has it. Adding a UUID again replaces its fd. If
 * the front-end refuses, the object is forgotten again. Needs
 * `SHARED_OBJECT`.
 *
 * Since: 1.0
 */
void
vhost_user_backend_add_shared_object_async (VhostUserBackend    *self,
                                            const char          *uuid,
                                            int                  fd,
                                            GCancellable        *cancellable,
                                            GAsyncReadyCallback  callback,
                                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GBytes) payload = NULL;
  GError *error = NULL;
  AddData *add;

  g_return_if_fail (VHOST_USER_IS_BACKEND (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, vhost_user_backend_add_shared_object_async);
  add = g_new0 (AddData, 1);
  g_task_set_task_data (task, add, add_data_free);
  if (!store_object (self, uuid, fd, add, &payload, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  vhost_user_backend_send_backend_request_async (self, VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_ADD, payload, -1,
                                                 cancellable, add_sent, g_steal_pointer (&task));
}

/**
 * vhost_user_backend_add_shared_object_finish:
 * @self: a back-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_backend_add_shared_object_async().
 *
 * Returns: %TRUE if the front-end took the object (or, without
 *   `REPLY_ACK`, was told)
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_add_shared_object_finish (VhostUserBackend  *self,
                                             GAsyncResult      *result,
                                             GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, vhost_user_backend_add_shared_object_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Runs the back-end's context until @result is set: to answer a lookup,
 * the front-end may first ask another back-end of this process, on this
 * context, for the object (GET_SHARED_OBJECT on its main socket). */
static GAsyncResult *
wait_in_context (VhostUserBackend  *self,
                 GAsyncResult     **result)
{
  while (*result == NULL)
    g_main_context_iteration (priv_of (self)->context, TRUE);
  g_main_context_pop_thread_default (priv_of (self)->context);
  return *result;
}

/* The tasks of a blocking call complete in the context it runs. */
static void
begin_wait (VhostUserBackend *self)
{
  g_main_context_push_thread_default (priv_of (self)->context);
}

static void
store_result (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

/**
 * vhost_user_backend_add_shared_object:
 * @self: a back-end
 * @uuid: the object's UUID, as text
 * @fd: the object; borrowed
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of vhost_user_backend_add_shared_object_async(), as
 * vhost_user_backend_send_backend_request() blocks.
 *
 * Returns: %TRUE if the front-end took the object
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_add_shared_object (VhostUserBackend  *self,
                                      const char        *uuid,
                                      int                fd,
                                      GCancellable      *cancellable,
                                      GError           **error)
{
  g_autoptr(GBytes) payload = NULL;
  AddData add = { NULL, NULL };
  gboolean ok;

  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), FALSE);

  ok = store_object (self, uuid, fd, &add, &payload, error) &&
       vhost_user_backend_send_typed (self, VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_ADD, payload, -1, NULL,
                                      cancellable, NULL, error) != G_MAXUINT64;
  if (!ok && add.object != NULL)
    unstore_object (self, &add);
  g_free (add.uuid);
  return ok;
}

static GBytes *
remove_payload (VhostUserBackend  *self,
                const char        *uuid,
                GError           **error)
{
  g_autoptr(GBytes) payload = NULL;
  g_autofree char *key = parse_uuid (uuid, &payload, error);

  if (key == NULL)
    return NULL;
  if (!g_hash_table_remove (priv_of (self)->shared_objects, key))
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "Shared object %s was not added", key);
      return NULL;
    }
  return g_steal_pointer (&payload);
}

/**
 * vhost_user_backend_remove_shared_object_async:
 * @self: a back-end
 * @uuid: the object's UUID, as text
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when the front-end answered
 * @user_data: data for @callback
 *
 * Withdraws an object exported with
 * vhost_user_backend_add_shared_object()
 * (`BACKEND_SHARED_OBJECT_REMOVE`); the back-end closes its fd at once.
 * A UUID this back-end did not add fails with
 * %VHOST_USER_ERROR_INVALID_PARAM, before anything is sent.
 *
 * Since: 1.0
 */
void
vhost_user_backend_remove_shared_object_async (VhostUserBackend    *self,
                                               const char          *uuid,
                                               GCancellable        *cancellable,
                                               GAsyncReadyCallback  callback,
                                               gpointer             user_data)
{
  g_autoptr(GBytes) payload = NULL;
  GError *error = NULL;

  g_return_if_fail (VHOST_USER_IS_BACKEND (self));

  payload = remove_payload (self, uuid, &error);
  vhost_user_backend_send_typed_async (self, VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_REMOVE, payload, -1, error,
                                       cancellable, callback, user_data);
}

/**
 * vhost_user_backend_remove_shared_object_finish:
 * @self: a back-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_backend_remove_shared_object_async().
 *
 * Returns: %TRUE if the front-end acknowledged
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_remove_shared_object_finish (VhostUserBackend  *self,
                                                GAsyncResult      *result,
                                                GError           **error)
{
  return vhost_user_backend_send_backend_request_finish (self, result, NULL, error) != G_MAXUINT64;
}

/**
 * vhost_user_backend_remove_shared_object:
 * @self: a back-end
 * @uuid: the object's UUID, as text
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of vhost_user_backend_remove_shared_object_async().
 *
 * Returns: %TRUE if the front-end acknowledged
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_remove_shared_object (VhostUserBackend  *self,
                                         const char        *uuid,
                                         GCancellable      *cancellable,
                                         GError           **error)
{
  g_autoptr(GBytes) payload = NULL;
  GError *local = NULL;

  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), FALSE);

  payload = remove_payload (self, uuid, &local);
  return vhost_user_backend_send_typed (self, VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_REMOVE, payload, -1, local,
                                        cancellable, NULL, error) != G_MAXUINT64;
}

/* The lookup's answer: 0 and an fd, or a refusal. */
static int
lookup_answer (guint64    value,
               int        fd,
               GError   **error)
{
  if (value == 0 && fd >= 0)
    return fd;
  if (fd >= 0)
    vhost_user_peer_fd_close (fd);
  if (value != G_MAXUINT64)
    g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED,
                 "The front-end has no such shared object (status %" G_GUINT64_FORMAT ")", value);
  return -1;
}

/* An fd a task holds until it is finished (closed if it never is). */
static void
close_box (gpointer data)
{
  int *box = data;

  vhost_user_peer_fd_close (*box);
  g_free (box);
}

static void
return_fd (GTask *task,
           int    fd)
{
  int *box = g_new (int, 1);

  *box = fd;
  g_task_return_pointer (task, box, close_box);
}

static void
lookup_sent (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  int fd = -1;
  guint64 value;

  value = vhost_user_backend_send_backend_request_finish (VHOST_USER_BACKEND (source), result, &fd, &error);
  fd = lookup_answer (value, fd, &error);
  if (fd < 0)
    g_task_return_error (task, error);
  else
    return_fd (task, fd);
}

/**
 * vhost_user_backend_lookup_shared_object_async:
 * @self: a back-end
 * @uuid: the object's UUID, as text
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the answer
 * @user_data: data for @callback
 *
 * Imports a shared object another device (or the front-end itself)
 * exported (`BACKEND_SHARED_OBJECT_LOOKUP`). An object this back-end
 * exported itself is answered from its own table, without asking. Needs
 * `SHARED_OBJECT` and `BACKEND_SEND_FD`.
 *
 * Since: 1.0
 */
void
vhost_user_backend_lookup_shared_object_async (VhostUserBackend    *self,
                                               const char          *uuid,
                                               GCancellable        *cancellable,
                                               GAsyncReadyCallback  callback,
                                               gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GBytes) payload = NULL;
  g_autofree char *key = NULL;
  GError *error = NULL;
  SharedObject *own;

  g_return_if_fail (VHOST_USER_IS_BACKEND (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, vhost_user_backend_lookup_shared_object_async);
  key = parse_uuid (uuid, &payload, &error);
  if (key == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  own = g_hash_table_lookup (priv_of (self)->shared_objects, key);
  if (own != NULL)
    {
      int fd = fcntl (own->fd, F_DUPFD_CLOEXEC, 3);

      if (fd < 0)
        g_task_return_new_error (task, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED, "Shared object %s: %s", key,
                                 g_strerror (errno));
      else
        return_fd (task, fd);
      return;
    }
  vhost_user_backend_send_backend_request_async (self, VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_LOOKUP, payload, -1,
                                                 cancellable, lookup_sent, g_steal_pointer (&task));
}

/**
 * vhost_user_backend_lookup_shared_object_finish:
 * @self: a back-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_backend_lookup_shared_object_async(). A UUID the
 * front-end does not know fails with %VHOST_USER_ERROR_FAILED.
 *
 * Returns: the object's fd (the caller owns it), or -1 with @error set
 *
 * Since: 1.0
 */
int
vhost_user_backend_lookup_shared_object_finish (VhostUserBackend  *self,
                                                GAsyncResult      *result,
                                                GError           **error)
{
  int *box;
  int fd;

  g_return_val_if_fail (g_task_is_valid (result, self), -1);
  g_return_val_if_fail (g_async_result_is_tagged (result, vhost_user_backend_lookup_shared_object_async), -1);

  box = g_task_propagate_pointer (G_TASK (result), error);
  if (box == NULL)
    return -1;
  fd = *box;
  g_free (box);
  return fd;
}

/**
 * vhost_user_backend_lookup_shared_object:
 * @self: a back-end
 * @uuid: the object's UUID, as text
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of vhost_user_backend_lookup_shared_object_async(),
 * for the thread that runs the back-end's context, which it runs while
 * it waits: the front-end may have to ask another back-end of this
 * process first.
 *
 * Returns: the object's fd (the caller owns it), or -1 with @error set
 *
 * Since: 1.0
 */
int
vhost_user_backend_lookup_shared_object (VhostUserBackend  *self,
                                         const char        *uuid,
                                         GCancellable      *cancellable,
                                         GError           **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), -1);

  begin_wait (self);
  vhost_user_backend_lookup_shared_object_async (self, uuid, cancellable, store_result, &result);
  return vhost_user_backend_lookup_shared_object_finish (self, wait_in_context (self, &result), error);
}

/* --- shared memory regions --- */

/**
 * vhost_user_backend_set_shmem_region:
 * @self: a back-end
 * @shmid: the region's id, below 256
 * @size: its size in bytes, whole pages; 0 to remove the region
 * @error: return location for a #GError
 *
 * Declares a shared memory region of the device (a VIRTIO shared memory
 * region, such as virtio-gpu's host-visible memory or virtio-fs's DAX
 * window): `GET_SHMEM_CONFIG` answers with the regions declared, and
 * vhost_user_backend_shmem_map() maps into them. The front-end reserves
 * the region when it reads the configuration, so declare regions before
 * it connects, and offer `SHMEM` in
 * [property@VhostUser.Backend:protocol-features].
 *
 * Returns: %TRUE, or %FALSE with @error set when @shmid or @size is not
 *   one a region can have
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_set_shmem_region (VhostUserBackend  *self,
                                     guint              shmid,
                                     guint64            size,
                                     GError           **error)
{
  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), FALSE);

  if (shmid >= VHOST_USER_MAX_SHMEM_REGIONS || size % sysconf (_SC_PAGESIZE) != 0)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "Shared memory region %u of 0x%" G_GINT64_MODIFIER "x bytes: ids go to %u, sizes in whole pages",
                   shmid, size, VHOST_USER_MAX_SHMEM_REGIONS - 1);
      return FALSE;
    }
  if (priv_of (self)->shmem_sizes == NULL)
    priv_of (self)->shmem_sizes = g_new0 (guint64, VHOST_USER_MAX_SHMEM_REGIONS);
  priv_of (self)->shmem_sizes[shmid] = size;
  return TRUE;
}

/**
 * vhost_user_backend_get_shmem_region:
 * @self: a back-end
 * @shmid: a region's id
 *
 * The size of a region declared with vhost_user_backend_set_shmem_region().
 *
 * Returns: the region's size, 0 where there is none
 *
 * Since: 1.0
 */
guint64
vhost_user_backend_get_shmem_region (VhostUserBackend *self,
                                     guint             shmid)
{
  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), 0);

  return shmid < VHOST_USER_MAX_SHMEM_REGIONS && priv_of (self)->shmem_sizes != NULL ?
         priv_of (self)->shmem_sizes[shmid] : 0;
}

/**
 * VhostUserBackend::get-shmem-config:
 * @self: the back-end
 * @invocation: the request, to answer
 *
 * The front-end asks for the device's shared memory regions. Default:
 * the ones declared with vhost_user_backend_set_shmem_region().
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_real_get_shmem_config (VhostUserBackend    *self,
                                          VhostUserInvocation *invocation)
{
  VhostUserWireShmemConfig config = { 0 };
  g_autoptr(GBytes) payload = NULL;

  if (priv_of (self)->shmem_sizes != NULL)
    memcpy (config.memory_sizes, priv_of (self)->shmem_sizes, sizeof config.memory_sizes);
  for (guint i = 0; i < VHOST_USER_MAX_SHMEM_REGIONS; i++)
    config.nregions += config.memory_sizes[i] != 0;
  payload = g_bytes_new (&config, sizeof config);
  vhost_user_invocation_return_bytes (invocation, payload, -1);
  return TRUE;
}

/* A map or unmap of [offset, offset + len) in region @shmid, checked
 * against what the device declared: the front-end would refuse it, but
 * a caller's slip is better told before anything is sent. */
static GBytes *
shmem_payload (VhostUserBackend  *self,
               guint              shmid,
               guint64            shm_offset,
               int                fd,
               guint64            fd_offset,
               guint64            len,
               gboolean           writable,
               gboolean           map,
               GError           **error)
{
  VhostUserWireShmemMap wire = { 0 };
  guint64 page = sysconf (_SC_PAGESIZE);
  guint64 size = vhost_user_backend_get_shmem_region (self, shmid);

  if (size == 0)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "Shared memory region %u was not declared", shmid);
      return NULL;
    }
  if (len == 0 || shm_offset > size || len > size - shm_offset || shm_offset % page != 0 || len % page != 0 ||
      (map && (fd < 0 || fd_offset % page != 0 || fd_offset + len < fd_offset)))
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "Shared memory region %u (0x%" G_GINT64_MODIFIER "x bytes): cannot %s 0x%" G_GINT64_MODIFIER "x "
                   "bytes at 0x%" G_GINT64_MODIFIER "x (whole pages inside the region%s)", shmid, size,
                   map ? "map" : "unmap", len, shm_offset, map ? ", of an fd" : "");
      return NULL;
    }
  wire.shmid = shmid;
  wire.shm_offset = shm_offset;
  wire.len = len;
  if (map)
    {
      wire.fd_offset = fd_offset;
      wire.flags = writable ? VHOST_USER_SHMEM_MAP_RW : 0;
    }
  return g_bytes_new (&wire, sizeof wire);
}

/**
 * vhost_user_backend_shmem_map_async:
 * @self: a back-end
 * @shmid: a region declared with vhost_user_backend_set_shmem_region()
 * @shm_offset: where in the region, whole pages
 * @fd: what to map there; borrowed: a duplicate is sent and the caller
 *   still owns @fd
 * @fd_offset: where in @fd, whole pages
 * @len: how much, whole pages
 * @writable: whether the guest may write (else read only)
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when the front-end answered
 * @user_data: data for @callback
 *
 * Asks the front-end to map @fd into the region
 * (`BACKEND_SHMEM_MAP`). The range must lie inside the region (checked
 * here) and not overlap a mapping already made (checked by the
 * front-end, which refuses with `REPLY_ACK`). Needs `SHMEM` and
 * `BACKEND_SEND_FD`.
 *
 * Since: 1.0
 */
void
vhost_user_backend_shmem_map_async (VhostUserBackend    *self,
                                    guint                shmid,
                                    guint64              shm_offset,
                                    int                  fd,
                                    guint64              fd_offset,
                                    guint64              len,
                                    gboolean             writable,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_autoptr(GBytes) payload = NULL;
  GError *error = NULL;

  g_return_if_fail (VHOST_USER_IS_BACKEND (self));

  payload = shmem_payload (self, shmid, shm_offset, fd, fd_offset, len, writable, TRUE, &error);
  vhost_user_backend_send_typed_async (self, VHOST_USER_BACKEND_REQUEST_SHMEM_MAP, payload, fd, error,
                                       cancellable, callback, user_data);
}

/**
 * vhost_user_backend_shmem_map_finish:
 * @self: a back-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_backend_shmem_map_async().
 *
 * Returns: %TRUE if the front-end mapped it (or, without `REPLY_ACK`,
 *   was asked)
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_shmem_map_finish (VhostUserBackend  *self,
                                     GAsyncResult      *result,
                                     GError           **error)
{
  return vhost_user_backend_send_backend_request_finish (self, result, NULL, error) != G_MAXUINT64;
}

/**
 * vhost_user_backend_shmem_map:
 * @self: a back-end
 * @shmid: a declared region
 * @shm_offset: where in the region
 * @fd: what to map; borrowed
 * @fd_offset: where in @fd
 * @len: how much
 * @writable: whether the guest may write
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of vhost_user_backend_shmem_map_async().
 *
 * Returns: %TRUE if the front-end mapped it
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_shmem_map (VhostUserBackend  *self,
                              guint              shmid,
                              guint64            shm_offset,
                              int                fd,
                              guint64            fd_offset,
                              guint64            len,
                              gboolean           writable,
                              GCancellable      *cancellable,
                              GError           **error)
{
  g_autoptr(GBytes) payload = NULL;
  GError *local = NULL;

  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), FALSE);

  payload = shmem_payload (self, shmid, shm_offset, fd, fd_offset, len, writable, TRUE, &local);
  return vhost_user_backend_send_typed (self, VHOST_USER_BACKEND_REQUEST_SHMEM_MAP, payload, fd, local,
                                        cancellable, NULL, error) != G_MAXUINT64;
}

/**
 * vhost_user_backend_shmem_unmap_async:
 * @self: a back-end
 * @shmid: a declared region
 * @shm_offset: where the mapping starts
 * @len: its length: a mapping is unmapped whole
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when the front-end answered
 * @user_data: data for @callback
 *
 * Asks the front-end to undo a mapping made with
 * vhost_user_backend_shmem_map() (`BACKEND_SHMEM_UNMAP`); the range must
 * be exactly that mapping's. Needs `SHMEM`.
 *
 * Since: 1.0
 */
void
vhost_user_backend_shmem_unmap_async (VhostUserBackend    *self,
                                      guint                shmid,
                                      guint64              shm_offset,
                                      guint64              len,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  g_autoptr(GBytes) payload = NULL;
  GError *error = NULL;

  g_return_if_fail (VHOST_USER_IS_BACKEND (self));

  payload = shmem_payload (self, shmid, shm_offset, -1, 0, len, FALSE, FALSE, &error);
  vhost_user_backend_send_typed_async (self, VHOST_USER_BACKEND_REQUEST_SHMEM_UNMAP, payload, -1, error,
                                       cancellable, callback, user_data);
}

/**
 * vhost_user_backend_shmem_unmap_finish:
 * @self: a back-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_backend_shmem_unmap_async().
 *
 * Returns: %TRUE if the front-end unmapped it (or, without `REPLY_ACK`,
 *   was asked)
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_shmem_unmap_finish (VhostUserBackend  *self,
                                       GAsyncResult      *result,
                                       GError           **error)
{
  return vhost_user_backend_send_backend_request_finish (self, result, NULL, error) != G_MAXUINT64;
}

/**
 * vhost_user_backend_shmem_unmap:
 * @self: a back-end
 * @shmid: a declared region
 * @shm_offset: where the mapping starts
 * @len: its length
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of vhost_user_backend_shmem_unmap_async().
 *
 * Returns: %TRUE if the front-end unmapped it
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_shmem_unmap (VhostUserBackend  *self,
                                guint              shmid,
                                guint64            shm_offset,
                                guint64            len,
                                GCancellable      *cancellable,
                                GError           **error)
{
  g_autoptr(GBytes) payload = NULL;
  GError *local = NULL;

  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), FALSE);

  payload = shmem_payload (self, shmid, shm_offset, -1, 0, len, FALSE, FALSE, &local);
  return vhost_user_backend_send_typed (self, VHOST_USER_BACKEND_REQUEST_SHMEM_UNMAP, payload, -1, local,
                                        cancellable, NULL, error) != G_MAXUINT64;
}
