/* vhost-user-object-registry.c: shared objects, by UUID, for front-ends
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>

#include "vhost-user-error.h"
#include "vhost-user-frontend.h"
#include "vhost-user-message-private.h"
#include "vhost-user-object-registry-private.h"
#include "vhost-user-peer-fd-private.h"

/**
 * VhostUserObjectRegistry:
 *
 * The virtio shared objects a VMM knows, by UUID: dma-bufs and other
 * buffers that one device exports and another imports (the
 * specification's "virtio shared object lookup table").
 *
 * An entry is either an fd the VMM itself added
 * (vhost_user_object_registry_add_fd(), for the objects of devices it
 * emulates), or a back-end that exported the UUID with
 * `BACKEND_SHARED_OBJECT_ADD`: the registry keeps no fd for those, and a
 * lookup asks that back-end with `GET_SHARED_OBJECT`, as the
 * specification has the front-end proxy it. Every
 * [class@VhostUser.Frontend] has one
 * ([property@VhostUser.Frontend:object-registry]) and answers its
 * back-end's `BACKEND_SHARED_OBJECT_ADD`, `_REMOVE` and `_LOOKUP` from
 * it; give the front-ends of a VMM's devices the same registry so that
 * they see each other's objects.
 *
 * A UUID has one exporter at a time: adding one that is taken fails, and
 * only the back-end that exported a UUID may remove it. When a back-end
 * disconnects, its objects go.
 *
 * A registry is used from one thread, the one whose context runs its
 * front-ends.
 *
 * Since: 1.0
 */

struct _VhostUserObjectRegistry
{
  GObject     parent_instance;

  GHashTable *entries;   /* UUID text (lower case, dashed) to Entry */
  GHashTable *exported;  /* exporter (compared, never dereferenced) to its count of entries */
};

/* Each exported object costs the VMM an entry: a back-end adding UUID
 * after UUID would grow it without end. */
#define MAX_OBJECTS_PER_EXPORTER 4096

typedef struct {
  VhostUserObjectRegistry *registry;
  int                      fd;            /* the VMM's own object, or -1 */
  GWeakRef                 exporter;      /* else the front-end of the back-end that has it */
  gpointer                 exporter_key;  /* which count in exported it is in */
} Entry;

G_DEFINE_FINAL_TYPE (VhostUserObjectRegistry, vhost_user_object_registry, G_TYPE_OBJECT)

static void
entry_free (gpointer data)
{
  Entry *entry = data;

  if (entry->fd >= 0)
    vhost_user_peer_fd_close (entry->fd);
  if (entry->exporter_key != NULL)
    {
      GHashTable *exported = entry->registry->exported;
      guint n = GPOINTER_TO_UINT (g_hash_table_lookup (exported, entry->exporter_key));

      if (n > 1)
        g_hash_table_insert (exported, entry->exporter_key, GUINT_TO_POINTER (n - 1));
      else
        g_hash_table_remove (exported, entry->exporter_key);
    }
  g_weak_ref_clear (&entry->exporter);
  g_free (entry);
}

/* (An exporter's entries all go before it does: the front-end forgets
 * them when it disconnects and when it is finalized, so no later object
 * at its address inherits its count.) */
static Entry *
entry_new (VhostUserObjectRegistry *self,
           int                      fd,
           GObject                 *exporter)
{
  Entry *entry = g_new0 (Entry, 1);

  entry->registry = self;
  entry->fd = fd;
  g_weak_ref_init (&entry->exporter, exporter);
  entry->exporter_key = exporter;
  if (exporter != NULL)
    g_hash_table_insert (self->exported, exporter,
                         GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (self->exported, exporter)) + 1));
  return entry;
}

static void
vhost_user_object_registry_finalize (GObject *object)
{
  VhostUserObjectRegistry *self = VHOST_USER_OBJECT_REGISTRY (object);

  /* (the entries first: each leaves its exporter's count) */
  g_hash_table_unref (self->entries);
  g_hash_table_unref (self->exported);

  G_OBJECT_CLASS (vhost_user_object_registry_parent_class)->finalize (object);
}

static void
vhost_user_object_registry_class_init (VhostUserObjectRegistryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = vhost_user_object_registry_finalize;
}

static void
vhost_user_object_registry_init (VhostUserObjectRegistry *self)
{
  self->entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, entry_free);
  self->exported = g_hash_table_new (NULL, NULL);
}

/**
 * vhost_user_object_registry_new:
 *
 * An empty registry.
 *
 * Returns: (transfer full): a new registry
 *
 * Since: 1.0
 */
VhostUserObjectRegistry *
vhost_user_object_registry_new (void)
{
  return g_object_new (VHOST_USER_TYPE_OBJECT_REGISTRY, NULL);
}

/* The form the table keys: "12345678-9abc-def0-0102-030405060708". */
static char *
canonical (const char  *uuid,
           GError     **error)
{
  guint8 bytes[16];

  if (uuid == NULL)
    {
      g_set_error_literal (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM, "No UUID");
      return NULL;
    }
  if (!vhost_user_uuid_parse (uuid, bytes, error))
    return NULL;
  return vhost_user_uuid_to_string (bytes);
}

/* Whether @entry still stands for an object: an exporter that went away
 * took its objects with it. */
static gboolean
entry_alive (Entry *entry)
{
  g_autoptr(GObject) exporter = NULL;

  if (entry->fd >= 0)
    return TRUE;
  exporter = g_weak_ref_get (&entry->exporter);
  return exporter != NULL;
}

static Entry *
lookup_alive (VhostUserObjectRegistry *self,
              const char              *key)
{
  Entry *entry = g_hash_table_lookup (self->entries, key);

  if (entry != NULL && !entry_alive (entry))
    {
      g_hash_table_remove (self->entries, key);
      return NULL;
    }
  return entry;
}

static gboolean
insert (VhostUserObjectRegistry  *self,
        char                     *key,
        int                       fd,
        GObject                  *exporter,
        GError                  **error)
{
  Entry *old = lookup_alive (self, key);

  if (old != NULL)
    {
      g_autoptr(GObject) owner = g_weak_ref_get (&old->exporter);

      /* the same back-end exporting again changes nothing */
      if (exporter != NULL && owner == exporter)
        {
          g_free (key);
          return TRUE;
        }
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "Shared object %s already has an exporter", key);
      g_free (key);
      if (fd >= 0)
        vhost_user_peer_fd_close (fd);
      return FALSE;
    }
  if (exporter != NULL &&
      GPOINTER_TO_UINT (g_hash_table_lookup (self->exported, exporter)) >= MAX_OBJECTS_PER_EXPORTER)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED,
                   "Shared object %s: the back-end already exports %u objects", key, MAX_OBJECTS_PER_EXPORTER);
      g_free (key);
      return FALSE;
    }
  g_hash_table_insert (self->entries, key, entry_new (self, fd, exporter));
  return TRUE;
}

/**
 * vhost_user_object_registry_add_fd:
 * @self: a registry
 * @uuid: the object's UUID, as text
 * @fd: the object (a dma-buf, or any fd a device imports); borrowed: the
 *   registry keeps a duplicate until the object is removed
 * @error: return location for a #GError
 *
 * Adds an object the VMM itself exports: back-ends that look @uuid up
 * get a duplicate of @fd.
 *
 * Returns: %TRUE, or %FALSE with @error set if @uuid is not a UUID, is
 *   taken, or @fd cannot be duplicated
 *
 * Since: 1.0
 */
gboolean
vhost_user_object_registry_add_fd (VhostUserObjectRegistry  *self,
                                   const char               *uuid,
                                   int                       fd,
                                   GError                  **error)
{
  char *key;
  int own;

  g_return_val_if_fail (VHOST_USER_IS_OBJECT_REGISTRY (self), FALSE);

  key = canonical (uuid, error);
  if (key == NULL)
    return FALSE;
  own = fd >= 0 ? fcntl (fd, F_DUPFD_CLOEXEC, 3) : -1;
  if (own < 0)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "Shared object %s: fd %d cannot be kept", key, fd);
      g_free (key);
      return FALSE;
    }
  return insert (self, key, own, NULL, error);
}

/**
 * vhost_user_object_registry_remove:
 * @self: a registry
 * @uuid: the object's UUID, as text
 *
 * Removes an object, whoever exported it (the VMM's own fd is closed).
 *
 * Returns: %TRUE if there was one
 *
 * Since: 1.0
 */
gboolean
vhost_user_object_registry_remove (VhostUserObjectRegistry *self,
                                   const char              *uuid)
{
  g_autofree char *key = NULL;

  g_return_val_if_fail (VHOST_USER_IS_OBJECT_REGISTRY (self), FALSE);

  key = canonical (uuid, NULL);
  return key != NULL && lookup_alive (self, key) != NULL && g_hash_table_remove (self->entries, key);
}

/**
 * vhost_user_object_registry_contains:
 * @self: a registry
 * @uuid: the object's UUID, as text
 *
 * Whether an object of that UUID is known (an fd, or a back-end still
 * connected that exported it).
 *
 * Returns: %TRUE if it is
 *
 * Since: 1.0
 */
gboolean
vhost_user_object_registry_contains (VhostUserObjectRegistry *self,
                                     const char              *uuid)
{
  g_autofree char *key = NULL;

  g_return_val_if_fail (VHOST_USER_IS_OBJECT_REGISTRY (self), FALSE);

  key = canonical (uuid, NULL);
  return key != NULL && lookup_alive (self, key) != NULL;
}

/**
 * vhost_user_object_registry_get_n_objects:
 * @self: a registry
 *
 * How many objects the registry holds, exported by back-ends or added
 * as fds.
 *
 * Returns: the number of objects
 *
 * Since: 1.0
 */
guint
vhost_user_object_registry_get_n_objects (VhostUserObjectRegistry *self)
{
  GHashTableIter iter;
  gpointer entry;

  g_return_val_if_fail (VHOST_USER_IS_OBJECT_REGISTRY (self), 0);

  g_hash_table_iter_init (&iter, self->entries);
  while (g_hash_table_iter_next (&iter, NULL, &entry))
    if (!entry_alive (entry))
      g_hash_table_iter_remove (&iter);
  return g_hash_table_size (self->entries);
}

gboolean
vhost_user_object_registry_add_exporter (VhostUserObjectRegistry  *self,
                                         const char               *uuid,
                                         GObject                  *exporter,
                                         GError                  **error)
{
  char *key = canonical (uuid, error);

  return key != NULL && insert (self, key, -1, exporter, error);
}

gboolean
vhost_user_object_registry_remove_exporter (VhostUserObjectRegistry  *self,
                                            const char               *uuid,
                                            GObject                  *exporter,
                                            GError                  **error)
{
  g_autofree char *key = canonical (uuid, error);
  g_autoptr(GObject) owner = NULL;
  Entry *entry;

  if (key == NULL)
    return FALSE;
  entry = lookup_alive (self, key);
  if (entry != NULL)
    owner = g_weak_ref_get (&entry->exporter);
  if (entry == NULL || owner != exporter)
    {
      /* the specification: only the exporter removes what it added */
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   entry == NULL ? "No shared object %s" : "Shared object %s was exported by another", key);
      return FALSE;
    }
  g_hash_table_remove (self->entries, key);
  return TRUE;
}

void
vhost_user_object_registry_forget_exporter (VhostUserObjectRegistry *self,
                                            GObject                 *exporter)
{
  GHashTableIter iter;
  gpointer data;

  g_hash_table_iter_init (&iter, self->entries);
  while (g_hash_table_iter_next (&iter, NULL, &data))
    {
      Entry *entry = data;
      g_autoptr(GObject) owner = g_weak_ref_get (&entry->exporter);

      if (entry->fd < 0 && (owner == NULL || owner == exporter))
        g_hash_table_iter_remove (&iter);
    }
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
exporter_answered (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  int fd = vhost_user_frontend_get_shared_object_finish (VHOST_USER_FRONTEND (source), result, &error);

  if (fd < 0)
    {
      g_prefix_error (&error, "Shared object %s: its exporter did not give it: ",
                      (const char *) g_task_get_task_data (task));
      g_task_return_error (task, error);
      return;
    }
  return_fd (task, fd);
}

/**
 * vhost_user_object_registry_lookup_async:
 * @self: a registry
 * @uuid: the object's UUID, as text
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the answer
 * @user_data: data for @callback
 *
 * Looks an object up: an fd added with
 * vhost_user_object_registry_add_fd() at once, one a back-end exported
 * by asking that back-end (`GET_SHARED_OBJECT`).
 *
 * Since: 1.0
 */
void
vhost_user_object_registry_lookup_async (VhostUserObjectRegistry *self,
                                         const char              *uuid,
                                         GCancellable            *cancellable,
                                         GAsyncReadyCallback      callback,
                                         gpointer                 user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GObject) exporter = NULL;
  GError *error = NULL;
  char *key;
  Entry *entry;

  g_return_if_fail (VHOST_USER_IS_OBJECT_REGISTRY (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, vhost_user_object_registry_lookup_async);
  key = canonical (uuid, &error);
  if (key == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_set_task_data (task, key, g_free);
  entry = lookup_alive (self, key);
  if (entry == NULL)
    {
      g_task_return_new_error (task, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM, "No shared object %s", key);
      return;
    }
  if (entry->fd >= 0)
    {
      int fd = fcntl (entry->fd, F_DUPFD_CLOEXEC, 3);

      if (fd < 0)
        g_task_return_new_error (task, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED, "Shared object %s: %s", key,
                                 g_strerror (errno));
      else
        return_fd (task, fd);
      return;
    }
  exporter = g_weak_ref_get (&entry->exporter);
  vhost_user_frontend_get_shared_object_async (VHOST_USER_FRONTEND (exporter), key, cancellable,
                                               exporter_answered, g_steal_pointer (&task));
}

/**
 * vhost_user_object_registry_lookup_finish:
 * @self: a registry
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_object_registry_lookup_async(). An unknown UUID
 * fails with %VHOST_USER_ERROR_INVALID_PARAM.
 *
 * Returns: the object's fd (the caller owns it), or -1 with @error set
 *
 * Since: 1.0
 */
int
vhost_user_object_registry_lookup_finish (VhostUserObjectRegistry  *self,
                                          GAsyncResult             *result,
                                          GError                  **error)
{
  int *box;
  int fd;

  g_return_val_if_fail (g_task_is_valid (result, self), -1);
  g_return_val_if_fail (g_async_result_is_tagged (result, vhost_user_object_registry_lookup_async), -1);

  box = g_task_propagate_pointer (G_TASK (result), error);
  if (box == NULL)
    return -1;
  fd = *box;
  g_free (box);
  return fd;
}
