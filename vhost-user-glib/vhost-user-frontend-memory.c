/* vhost-user-frontend-memory.c: typed requests about guest memory, the
 * config space, in-flight areas and the dirty log
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>
#include <sys/stat.h>
#include <glib/gstdio.h>

#include "vhost-user-error.h"
#include "vhost-user-frontend-private.h"
#include "vhost-user-memory-table.h"
#include "vhost-user-peer-fd-private.h"

static gboolean
build_region (VhostUserBuilt *b,
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
  return vhost_user_frontend_build (b, &single, xen ? sizeof (VhostUserWireXenSingleRegion) : sizeof (VhostUserWireSingleRegion),
                &fd, 1, error);
}

static gboolean
build_mem_table (VhostUserBuilt *b,
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
  return vhost_user_frontend_build (b, msg.payload, msg.header.size, fds, n, error);
}

/* The reply repeats the offset and size asked for (@sent); a size of 0
 * is the back-end's refusal. */
static GBytes *
parse_config (GBytes  *reply,
              GBytes  *sent,
              GError **error)
{
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  guint32 r_offset, r_flags, r_size, offset = 0, size = 0;
  const guint8 *data;

  if (reply == NULL)
    return NULL;
  msg.header.size = g_bytes_get_size (sent);
  memcpy (msg.payload, g_bytes_get_data (sent, NULL), msg.header.size);
  vhost_user_message_get_config (&msg, &offset, &r_flags, &data, &size);
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
build_config_read (VhostUserBuilt *b,
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
  return vhost_user_frontend_build (b, msg.payload, msg.header.size, NULL, 0, error);
}

/**
 * vhost_user_frontend_read_config:
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
 *
 * Since: 1.0
 */
GBytes *
vhost_user_frontend_read_config (VhostUserFrontend  *self,
                                 guint               offset,
                                 guint               size,
                                 GCancellable       *cancellable,
                                 GError            **error)
{
  g_auto(VhostUserBuilt) b = { 0 };
  g_autoptr(GBytes) reply = NULL;

  reply = vhost_user_frontend_call_built (self, VHOST_USER_REQUEST_GET_CONFIG, &b, build_config_read (&b, offset, size, error),
                      cancellable, error);
  return parse_config (reply, b.payload, error);
}

/**
 * vhost_user_frontend_read_config_async:
 * @self: a front-end
 * @offset: where to start reading the config space
 * @size: how many bytes
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the answer
 * @user_data: data for @callback
 *
 * The async form of vhost_user_frontend_read_config().
 *
 * Since: 1.0
 */
void
vhost_user_frontend_read_config_async (VhostUserFrontend   *self,
                                      guint                offset,
                                      guint                size,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  g_auto(VhostUserBuilt) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_config_read (&b, offset, size, &error);

  vhost_user_frontend_send_built (self, VHOST_USER_REQUEST_GET_CONFIG, &b, ok, error, vhost_user_frontend_read_config_async,
              cancellable, callback, user_data);
}

/**
 * vhost_user_frontend_read_config_finish:
 * @self: a front-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_frontend_read_config_async().
 *
 * Returns: (transfer full): the bytes, or %NULL with @error set
 *
 * Since: 1.0
 */
GBytes *
vhost_user_frontend_read_config_finish (VhostUserFrontend  *self,
                                        GAsyncResult       *result,
                                        GError            **error)
{
  g_autoptr(GBytes) sent = NULL;
  g_autoptr(GBytes) reply = NULL;

  reply = vhost_user_frontend_finish_built (self, result, vhost_user_frontend_read_config_async, &sent, NULL, error);
  return parse_config (reply, sent, error);
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
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_add_mem_region (VhostUserFrontend     *self,
                                    VhostUserMemoryRegion *region,
                                    GCancellable          *cancellable,
                                    GError               **error)
{
  g_auto(VhostUserBuilt) b = { 0 };
  g_autoptr(GBytes) reply = NULL;

  reply = vhost_user_frontend_call_built (self, VHOST_USER_REQUEST_ADD_MEM_REG, &b, build_region (&b, region, vhost_user_frontend_xen_layout (self), error),
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
 * vhost_user_frontend_add_mem_region_finish().
 *
 * Since: 1.0
 */
void
vhost_user_frontend_add_mem_region_async (VhostUserFrontend     *self,
                                          VhostUserMemoryRegion *region,
                                          GCancellable          *cancellable,
                                          GAsyncReadyCallback    callback,
                                          gpointer               user_data)
{
  g_auto(VhostUserBuilt) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_region (&b, region, vhost_user_frontend_xen_layout (self), &error);

  vhost_user_frontend_send_built (self, VHOST_USER_REQUEST_ADD_MEM_REG, &b, ok, error, vhost_user_frontend_add_mem_region_async,
              cancellable, callback, user_data);
}

/**
 * vhost_user_frontend_add_mem_region_finish:
 * @self: a front-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_frontend_add_mem_region_async().
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_add_mem_region_finish (VhostUserFrontend  *self,
                                         GAsyncResult       *result,
                                         GError            **error)
{
  return vhost_user_frontend_finish_done (self, result, vhost_user_frontend_add_mem_region_async, error);
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
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_set_mem_table (VhostUserFrontend    *self,
                                   VhostUserMemoryTable *table,
                                   GCancellable         *cancellable,
                                   GError              **error)
{
  g_auto(VhostUserBuilt) b = { 0 };
  g_autoptr(GBytes) reply = NULL;

  reply = vhost_user_frontend_call_built (self, VHOST_USER_REQUEST_SET_MEM_TABLE, &b, build_mem_table (&b, table, vhost_user_frontend_xen_layout (self), error),
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
 * vhost_user_frontend_set_mem_table_finish().
 *
 * Since: 1.0
 */
void
vhost_user_frontend_set_mem_table_async (VhostUserFrontend    *self,
                                         VhostUserMemoryTable *table,
                                         GCancellable         *cancellable,
                                         GAsyncReadyCallback   callback,
                                         gpointer              user_data)
{
  g_auto(VhostUserBuilt) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_mem_table (&b, table, vhost_user_frontend_xen_layout (self), &error);

  vhost_user_frontend_send_built (self, VHOST_USER_REQUEST_SET_MEM_TABLE, &b, ok, error, vhost_user_frontend_set_mem_table_async,
              cancellable, callback, user_data);
}

/**
 * vhost_user_frontend_set_mem_table_finish:
 * @self: a front-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_frontend_set_mem_table_async().
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_set_mem_table_finish (VhostUserFrontend  *self,
                                        GAsyncResult       *result,
                                        GError            **error)
{
  return vhost_user_frontend_finish_done (self, result, vhost_user_frontend_set_mem_table_async, error);
}

static gboolean
build_config_write (VhostUserBuilt *b,
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
  return vhost_user_frontend_build (b, msg.payload, msg.header.size, NULL, 0, error);
}

/**
 * vhost_user_frontend_write_config:
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
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_write_config (VhostUserFrontend  *self,
                                  guint               offset,
                                  guint               flags,
                                  GBytes             *data,
                                  GCancellable       *cancellable,
                                  GError            **error)
{
  g_auto(VhostUserBuilt) b = { 0 };
  g_autoptr(GBytes) reply = NULL;

  g_return_val_if_fail (data != NULL, FALSE);
  reply = vhost_user_frontend_call_built (self, VHOST_USER_REQUEST_SET_CONFIG, &b, build_config_write (&b, offset, flags, data, error),
                      cancellable, error);
  return reply != NULL;
}

/**
 * vhost_user_frontend_write_config_async:
 * @self: a front-end
 * @offset: where to start writing the config space
 * @flags: 0 for a driver's write, 1 during migration
 * @data: the bytes
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * The async form of vhost_user_frontend_write_config(); finish with
 * vhost_user_frontend_write_config_finish().
 *
 * Since: 1.0
 */
void
vhost_user_frontend_write_config_async (VhostUserFrontend   *self,
                                      guint                offset,
                                      guint                flags,
                                      GBytes              *data,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  g_auto(VhostUserBuilt) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_config_write (&b, offset, flags, data, &error);

  vhost_user_frontend_send_built (self, VHOST_USER_REQUEST_SET_CONFIG, &b, ok, error, vhost_user_frontend_write_config_async,
              cancellable, callback, user_data);
}

/**
 * vhost_user_frontend_write_config_finish:
 * @self: a front-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_frontend_write_config_async().
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_write_config_finish (VhostUserFrontend  *self,
                                       GAsyncResult       *result,
                                       GError            **error)
{
  return vhost_user_frontend_finish_done (self, result, vhost_user_frontend_write_config_async, error);
}

static gboolean
build_inflight (VhostUserBuilt *b,
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
  return vhost_user_frontend_build (b, &inflight, sizeof inflight, &fd, fd >= 0 ? 1 : 0, error);
}

/* Far more than any back-end lays out (1,024 queues of 32,768 entries
 * take 512 MiB), and little enough to copy for a migration. */
#define MAX_INFLIGHT_AREA (G_GUINT64_CONSTANT (1) << 30)

/* The area comes back as its description and the memfd that holds it.
 * Whoever maps it (the caller, or a device copying it for a migration)
 * maps offset + size bytes of the fd: both are the back-end's word, so
 * they must add up without wrapping and the fd must hold them, or the
 * copy would read before the mapping, or fault past the file's end. */
static int
parse_inflight (GBytes       *reply,
                GUnixFDList  *fd_list,
                guint64      *mmap_size,
                guint64      *mmap_offset,
                GError      **error)
{
  VhostUserWireInflight inflight;
  struct stat st;
  int fd;

  if (reply == NULL)
    return -1;
  memcpy (&inflight, g_bytes_get_data (reply, NULL), sizeof inflight);
  if (inflight.mmap_size == 0 || fd_list == NULL || g_unix_fd_list_get_length (fd_list) != 1)
    {
      g_set_error_literal (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL,
                           "The back-end gave no in-flight area");
      return -1;
    }
  fd = g_unix_fd_list_get (fd_list, 0, error);
  if (fd < 0)
    return -1;
  if (inflight.mmap_size > MAX_INFLIGHT_AREA || inflight.mmap_offset > MAX_INFLIGHT_AREA ||
      fstat (fd, &st) != 0 ||
      (S_ISREG (st.st_mode) && (guint64) st.st_size < inflight.mmap_offset + inflight.mmap_size))
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
                   "The back-end's in-flight area, 0x%" G_GINT64_MODIFIER "x bytes at 0x%" G_GINT64_MODIFIER
                   "x, is not in its fd", inflight.mmap_size, inflight.mmap_offset);
      vhost_user_peer_fd_close (fd);
      return -1;
    }
  if (mmap_size != NULL)
    *mmap_size = inflight.mmap_size;
  if (mmap_offset != NULL)
    *mmap_offset = inflight.mmap_offset;
  return fd;
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
 *
 * Since: 1.0
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
  g_auto(VhostUserBuilt) b = { 0 };
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
 *
 * Since: 1.0
 */
void
vhost_user_frontend_get_inflight_fd_async (VhostUserFrontend   *self,
                                           guint                num_queues,
                                           guint                queue_size,
                                           GCancellable        *cancellable,
                                           GAsyncReadyCallback  callback,
                                           gpointer             user_data)
{
  g_auto(VhostUserBuilt) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_inflight (&b, 0, 0, num_queues, queue_size, -1, &error);

  vhost_user_frontend_send_built (self, VHOST_USER_REQUEST_GET_INFLIGHT_FD, &b, ok, error, vhost_user_frontend_get_inflight_fd_async,
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
 *
 * Since: 1.0
 */
int
vhost_user_frontend_get_inflight_fd_finish (VhostUserFrontend  *self,
                                            GAsyncResult       *result,
                                            guint64            *mmap_size,
                                            guint64            *mmap_offset,
                                            GError            **error)
{
  g_autoptr(GUnixFDList) fd_list = NULL;
  g_autoptr(GBytes) reply = NULL;

  reply = vhost_user_frontend_finish_built (self, result, vhost_user_frontend_get_inflight_fd_async, NULL, &fd_list,
                                            error);
  return parse_inflight (reply, fd_list, mmap_size, mmap_offset, error);
}

/**
 * vhost_user_frontend_set_inflight_fd:
 * @self: a front-end
 * @mmap_size: the area's size
 * @mmap_offset: where it starts in @fd
 * @num_queues: how many queues it tracks
 * @queue_size: their size
 * @fd: the area a back-end gave before; borrowed: the front-end sends a
 *   duplicate, the caller still closes its own
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Hands an in-flight area back to a restarted back-end
 * (`SET_INFLIGHT_FD`), before its rings start.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
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
  g_auto(VhostUserBuilt) b = { 0 };
  g_autoptr(GBytes) reply = NULL;

  reply = vhost_user_frontend_call_built (self, VHOST_USER_REQUEST_SET_INFLIGHT_FD, &b,
                      build_inflight (&b, mmap_size, mmap_offset, num_queues, queue_size, fd, error),
                      cancellable, error);
  return reply != NULL;
}

static gboolean
build_rem_region (VhostUserBuilt *b,
                  const VhostUserMemoryRegion *region,
                  gboolean                     xen,
                  GError                     **error)
{
  VhostUserWireXenSingleRegion single = { 0 };

  single.region.guest_phys_addr = vhost_user_memory_region_get_guest_phys_addr (region);
  single.region.memory_size = vhost_user_memory_region_get_size (region);
  single.region.userspace_addr = vhost_user_memory_region_get_user_addr (region);
  single.region.mmap_offset = vhost_user_memory_region_get_mmap_offset (region);
  return vhost_user_frontend_build (b, &single, xen ? sizeof (VhostUserWireXenSingleRegion) : sizeof (VhostUserWireSingleRegion),
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
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_rem_mem_region (VhostUserFrontend     *self,
                                    VhostUserMemoryRegion *region,
                                    GCancellable          *cancellable,
                                    GError               **error)
{
  g_auto(VhostUserBuilt) b = { 0 };
  g_autoptr(GBytes) reply = NULL;

  g_return_val_if_fail (region != NULL, FALSE);
  reply = vhost_user_frontend_call_built (self, VHOST_USER_REQUEST_REM_MEM_REG, &b,
                      build_rem_region (&b, region, vhost_user_frontend_xen_layout (self), error), cancellable, error);
  return reply != NULL;
}


/**
 * vhost_user_frontend_set_inflight_fd_async:
 * @self: a front-end
 * @mmap_size: the area's size
 * @mmap_offset: where it starts in @fd
 * @num_queues: how many queues it tracks
 * @queue_size: their size
 * @fd: the area; borrowed (the front-end sends a duplicate)
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * The async form of vhost_user_frontend_set_inflight_fd(); finish with
 * vhost_user_frontend_set_inflight_fd_finish().
 *
 * Since: 1.0
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
  g_auto(VhostUserBuilt) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_inflight (&b, mmap_size, mmap_offset, num_queues, queue_size, fd, &error);

  vhost_user_frontend_send_built (self, VHOST_USER_REQUEST_SET_INFLIGHT_FD, &b, ok, error, vhost_user_frontend_set_inflight_fd_async,
              cancellable, callback, user_data);
}

/**
 * vhost_user_frontend_set_inflight_fd_finish:
 * @self: a front-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_frontend_set_inflight_fd_async().
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_set_inflight_fd_finish (VhostUserFrontend  *self,
                                          GAsyncResult       *result,
                                          GError            **error)
{
  return vhost_user_frontend_finish_done (self, result, vhost_user_frontend_set_inflight_fd_async, error);
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
 * vhost_user_frontend_rem_mem_region_finish().
 *
 * Since: 1.0
 */
void
vhost_user_frontend_rem_mem_region_async (VhostUserFrontend     *self,
                                          VhostUserMemoryRegion *region,
                                          GCancellable          *cancellable,
                                          GAsyncReadyCallback    callback,
                                          gpointer               user_data)
{
  g_auto(VhostUserBuilt) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_rem_region (&b, region, vhost_user_frontend_xen_layout (self), &error);

  vhost_user_frontend_send_built (self, VHOST_USER_REQUEST_REM_MEM_REG, &b, ok, error, vhost_user_frontend_rem_mem_region_async,
              cancellable, callback, user_data);
}

/**
 * vhost_user_frontend_rem_mem_region_finish:
 * @self: a front-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_frontend_rem_mem_region_async().
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_rem_mem_region_finish (VhostUserFrontend  *self,
                                         GAsyncResult       *result,
                                         GError            **error)
{
  return vhost_user_frontend_finish_done (self, result, vhost_user_frontend_rem_mem_region_async, error);
}

static gboolean
build_log_base (VhostUserBuilt *b,
                guint64   size,
                guint64   offset,
                int       fd,
                GError  **error)
{
  VhostUserWireLog log = { size, offset };

  return vhost_user_frontend_build (b, &log, sizeof log, &fd, fd >= 0 ? 1 : 0, error);
}

/**
 * vhost_user_frontend_set_log_base:
 * @self: a front-end
 * @size: the dirty log's size in bytes (one bit per 4 KiB page)
 * @offset: where it starts in @fd
 * @fd: the log's memory, or -1 without `LOG_SHMFD`; borrowed: the
 *   front-end sends a duplicate, the caller still closes its own
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Passes the dirty-page log (`SET_LOG_BASE`); with `LOG_SHMFD` the
 * back-end answers once it has mapped it.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_set_log_base (VhostUserFrontend  *self,
                                  guint64             size,
                                  guint64             offset,
                                  int                 fd,
                                  GCancellable       *cancellable,
                                  GError            **error)
{
  g_auto(VhostUserBuilt) b = { 0 };
  g_autoptr(GBytes) reply = NULL;

  reply = vhost_user_frontend_call_built (self, VHOST_USER_REQUEST_SET_LOG_BASE, &b, build_log_base (&b, size, offset, fd, error),
                      cancellable, error);
  return reply != NULL;
}

/**
 * vhost_user_frontend_set_log_base_async:
 * @self: a front-end
 * @size: the dirty log's size in bytes
 * @offset: where it starts in @fd
 * @fd: the log's memory, or -1; borrowed (the front-end sends a
 *   duplicate)
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * The async form of vhost_user_frontend_set_log_base(); finish with
 * vhost_user_frontend_set_log_base_finish().
 *
 * Since: 1.0
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
  g_auto(VhostUserBuilt) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_log_base (&b, size, offset, fd, &error);

  vhost_user_frontend_send_built (self, VHOST_USER_REQUEST_SET_LOG_BASE, &b, ok, error, vhost_user_frontend_set_log_base_async,
              cancellable, callback, user_data);
}

/**
 * vhost_user_frontend_set_log_base_finish:
 * @self: a front-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_frontend_set_log_base_async().
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_set_log_base_finish (VhostUserFrontend  *self,
                                       GAsyncResult       *result,
                                       GError            **error)
{
  return vhost_user_frontend_finish_done (self, result, vhost_user_frontend_set_log_base_async, error);
}
