/* vhost-user-backend-memory.c: the back-end's defaults that map memory
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Guest memory (SET_MEM_TABLE, ADD/REM_MEM_REG), the dirty log
 * (SET_LOG_BASE, SET_LOG_FD) and the in-flight area (GET/SET_INFLIGHT_FD):
 * every fd the front-end passes here is mapped and checked before a ring
 * may use it.
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "vhost-user-backend-private.h"
#include "vhost-user-error.h"
#include "vhost-user-vring-log-private.h"
#include "vhost-user-peer-fd-private.h"
#include "vhost-user-notify-private.h"

#define INFLIGHT_ALIGN 64

typedef struct {
  void     *map;
  gsize     len;
  gpointer  guard;
} Mapping;

static void
mapping_free (gpointer data)
{
  Mapping *mapping = data;

  vhost_user_mapping_guard_remove (mapping->guard);
  munmap (mapping->map, mapping->len);
  g_free (mapping);
}

/* A shared mapping of @map_len bytes of @fd as GBytes of the @len bytes
 * from @offset on, guarded against the front-end truncating @fd (-1:
 * one that cannot shrink, not guarded); the last reference unmaps it. */
static GBytes *
mapping_bytes_new (void  *map,
                   gsize  map_len,
                   gsize  offset,
                   gsize  len,
                   int    fd)
{
  Mapping *mapping = g_new (Mapping, 1);

  mapping->map = map;
  mapping->len = map_len;
  mapping->guard = fd >= 0 ? vhost_user_mapping_guard_add (map, map_len, fd) : NULL;
  return g_bytes_new_with_free_func ((guint8 *) map + offset, len, mapping_free, mapping);
}

/* Maps the request's fd, which must hold @offset + @size bytes, as GBytes
 * of the @size bytes from @offset on; NULL once @invocation is answered
 * with why not. The fd is closed either way. */
static GBytes *
map_request_fd (VhostUserBackend    *self,
                VhostUserInvocation *invocation,
                guint64              offset,
                guint64              size,
                int                  extra_flags,
                const char          *what)
{
  int fd = steal_request_fd (self, 0);
  struct stat st;
  void *base;
  GBytes *bytes;

  if (fd < 0 || fstat (fd, &st) != 0 || (S_ISREG (st.st_mode) && (guint64) st.st_size < offset + size))
    {
      if (fd >= 0)
        vhost_user_peer_fd_close (fd);
      vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_PARAM,
                                           "The %s's fd does not hold 0x%" G_GINT64_MODIFIER "x bytes",
                                           what, offset + size);
      return NULL;
    }
  base = mmap (NULL, offset + size, PROT_READ | PROT_WRITE, MAP_SHARED | extra_flags, fd, 0);
  if (base == MAP_FAILED)
    {
      int errsv = errno;

      vhost_user_peer_fd_close (fd);
      vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_BACKEND_INTERNAL,
                                           "Could not map the %s: %s", what, g_strerror (errsv));
      return NULL;
    }
  bytes = mapping_bytes_new (base, offset + size, offset, size, fd);
  vhost_user_peer_fd_close (fd);
  return bytes;
}

/* Dirty logging is on for every ring while VHOST_F_LOG_ALL is acked. */
void
vhost_user_backend_update_logging (VhostUserBackend *self)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  gboolean log_all = (priv->acked_features & VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_LOG_ALL)) != 0;

  for (guint i = 0; i < priv->vrings->len; i++)
    vhost_user_vring_set_logging (vring_at (self, i), log_all, priv->log, priv->log_fd);
}

/**
 * vhost_user_backend_log_write:
 * @self: a back-end
 * @guest_phys_addr: where the device wrote, in guest-physical memory
 * @len: how many bytes it wrote
 *
 * Logs a write the device made to guest memory other than through its
 * rings (an element's buffers and the used ring are logged by the
 * rings), so that a live migration sends that memory again: while the
 * front-end has `VHOST_F_LOG_ALL` acked and gave a log, the pages are
 * marked and the log fd, if any, signalled. Does nothing otherwise. Call
 * it in the back-end's main context, before the driver can see the
 * write's result.
 *
 * Since: 1.0
 */
void
vhost_user_backend_log_write (VhostUserBackend *self,
                              guint64           guest_phys_addr,
                              guint64           len)
{
  VhostUserBackendPrivate *priv;
  VhostUserVringLog log;

  g_return_if_fail (VHOST_USER_IS_BACKEND (self));

  priv = priv_of (self);
  log.bytes = priv->log;
  log.all = (priv->acked_features & VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_LOG_ALL)) != 0;
  log.fd = priv->log_fd;
  vhost_user_vring_log_write (&log, guest_phys_addr, len);
  vhost_user_vring_log_signal (&log);
}

/* Each queue gets its own stride of the in-flight area. */
void
vhost_user_backend_update_inflight (VhostUserBackend *self)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  gsize len = priv->inflight != NULL ? g_bytes_get_size (priv->inflight) : 0;

  for (guint i = 0; i < priv->vrings->len; i++)
    {
      g_autoptr(GBytes) part = NULL;

      if (priv->inflight_stride > 0 && (i + 1) * priv->inflight_stride <= len)
        part = g_bytes_new_from_bytes (priv->inflight, i * priv->inflight_stride, priv->inflight_stride);
      vhost_user_vring_set_inflight_area (vring_at (self, i), part, priv->inflight_zeroed);
    }
}

/* A ring keeps each table it is moved off while the device holds
 * requests (they may point into it) until none is out: a front-end
 * changing the memory again and again while it keeps a ring busy would
 * pile them up without end. */
#define MAX_RETIRED_TABLES 64

gboolean
vhost_user_backend_check_memory_change (VhostUserBackend  *self,
                                        GError           **error)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  for (guint i = 0; i < priv->vrings->len; i++)
    if (vhost_user_vring_get_n_retired_tables (vring_at (self, i)) >= MAX_RETIRED_TABLES)
      {
        g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                     "The memory changed %u times while ring %u's device held requests: no more until they are done",
                     MAX_RETIRED_TABLES, i);
        return FALSE;
      }
  return TRUE;
}

void
vhost_user_backend_set_memory_table (VhostUserBackend     *self,
                                     VhostUserMemoryTable *table)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  g_clear_pointer (&priv->memory_table, vhost_user_memory_table_unref);
  priv->memory_table = vhost_user_memory_table_ref (table);
  for (guint i = 0; i < priv->vrings->len; i++)
    vhost_user_vring_set_memory_table (vring_at (self, i), table);
  vhost_user_notify (G_OBJECT (self), vhost_user_backend_pspecs[PROP_MEMORY_TABLE]);
}

void
vhost_user_backend_unmap_log (VhostUserBackend *self)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  g_clear_pointer (&priv->log, g_bytes_unref);
  vhost_user_backend_update_logging (self);
}

/**
 * VhostUserBackend::set-log-base:
 * @self: the back-end
 * @invocation: the request, to answer
 * @size: the size of the dirty log
 * @offset: where the log starts in @fd
 * @fd: the log's fd; borrowed for the emission
 *   (a handler that keeps it dup()s it)
 *
 * The front-end passes the dirty-page log. Default: map it.
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_real_set_log_base (VhostUserBackend    *self,
                                      VhostUserInvocation *invocation,
                                      guint64              size,
                                      guint64              offset,
                                      int                  fd)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  GBytes *log;

  if (size == 0 || offset + size < offset || offset + size > G_MAXSIZE)
    {
      vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_PARAM,
                                           "Log area of 0x%" G_GINT64_MODIFIER "x bytes at 0x%" G_GINT64_MODIFIER "x is not usable",
                                           size, offset);
      return TRUE;
    }

  /* without LOG_SHMFD there is no fd: the log is the front-end's business;
   * with it, the fd is the log */
  if (fd < 0)
    {
      if (priv->acked_protocol_features & VHOST_USER_PROTOCOL_FEATURE_LOG_SHMFD)
        vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INCORRECT_FDS, "SET_LOG_BASE without the log's fd");
      else
        vhost_user_invocation_return_ack (invocation);
      return TRUE;
    }

  log = map_request_fd (self, invocation, offset, size, MAP_NORESERVE, "log");
  if (log == NULL)
    return TRUE;
  g_clear_pointer (&priv->log, g_bytes_unref);
  priv->log = log;
  vhost_user_backend_update_logging (self);
  vhost_user_invocation_return_u64 (invocation, 0);
  return TRUE;
}

/**
 * VhostUserBackend::set-log-fd:
 * @self: the back-end
 * @invocation: the request, to answer
 * @fd: an eventfd; borrowed for the emission
 *   (a handler that keeps it dup()s it)
 *
 * The front-end passes an eventfd to signal after logging. Default: keep it.
 * An fd that is not an eventfd is refused with
 * %VHOST_USER_ERROR_INCORRECT_FDS before the signal is emitted.
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_real_set_log_fd (VhostUserBackend    *self,
                                    VhostUserInvocation *invocation,
                                    int                  fd)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  int old = priv->log_fd;

  priv->log_fd = steal_request_fd (self, 0);
  /* the rings stop writing to the old fd before it is closed */
  vhost_user_backend_update_logging (self);
  if (old >= 0)
    vhost_user_peer_fd_close (old);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

void
vhost_user_backend_unmap_inflight (VhostUserBackend *self)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  g_clear_pointer (&priv->inflight, g_bytes_unref);
  priv->inflight_stride = 0;
  priv->inflight_dev = 0;
  priv->inflight_ino = 0;
  priv->inflight_zeroed = FALSE;
  vhost_user_backend_update_inflight (self);
}

/* Whether [@offset, @offset + @size) of @fd is all holes, so reads as
 * zeros, without reading it (which would fault its pages in): a file
 * system that cannot tell holes says there is data. */
static gboolean
area_is_holes (int     fd,
               guint64 offset,
               guint64 size)
{
  off_t data, was;
  int errsv;

  /* (the file offset is the front-end's too: it is put back) */
  if (offset > G_MAXINT64 || (was = lseek (fd, 0, SEEK_CUR)) < 0)
    return FALSE;
  data = lseek (fd, (off_t) offset, SEEK_DATA);
  errsv = errno;
  lseek (fd, was, SEEK_SET);
  if (data < 0)
    return errsv == ENXIO;
  return (guint64) data >= offset + size;
}

/* The per-queue stride is ours to choose; only this back-end reads the
 * area back. Room for either ring layout, 64-byte aligned. */
static gsize
inflight_queue_size (guint queue_size)
{
  gsize split = 16 + 16 * (gsize) queue_size;
  gsize packed = 32 + 32 * (gsize) queue_size;

  return (MAX (split, packed) + INFLIGHT_ALIGN - 1) & ~(gsize) (INFLIGHT_ALIGN - 1);
}

/**
 * VhostUserBackend::get-inflight-fd:
 * @self: the back-end
 * @invocation: the request, to answer
 * @num_queues: how many queues to track
 * @queue_size: their size
 *
 * The front-end asks for an area to track in-flight descriptors in. Default: allocate a
 * zeroed memfd and return it.
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_real_get_inflight_fd (VhostUserBackend    *self,
                                         VhostUserInvocation *invocation,
                                         guint                num_queues,
                                         guint                queue_size)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  VhostUserWireInflight reply = { 0 };
  g_autoptr(GBytes) payload = NULL;
  struct stat st;
  gsize size;
  void *base;
  int fd;

  if (num_queues == 0 || num_queues > priv->num_queues || queue_size == 0 || queue_size > priv->max_queue_size)
    {
      vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_PARAM,
                                           "No in-flight area for %u queues of %u entries", num_queues, queue_size);
      return TRUE;
    }

  size = num_queues * inflight_queue_size (queue_size);
  fd = memfd_create ("vhost-user-inflight", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  /* sealed before the front-end has it: it cannot shrink it under us,
   * nor seal it against our mapping it again after a reconnect */
  if (fd < 0 || ftruncate (fd, size) != 0 || fcntl (fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0 ||
      fstat (fd, &st) != 0 ||
      (base = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED)
    {
      int errsv = errno;

      if (fd >= 0)
        vhost_user_peer_fd_close (fd);
      vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_BACKEND_INTERNAL,
                                           "Could not allocate the in-flight area: %s", g_strerror (errsv));
      return TRUE;
    }

  g_clear_pointer (&priv->inflight, g_bytes_unref);
  /* no SIGBUS guard: sealed against shrinking before anyone else had it */
  priv->inflight = mapping_bytes_new (base, size, 0, size, -1);
  priv->inflight_stride = inflight_queue_size (queue_size);
  priv->inflight_dev = st.st_dev;
  priv->inflight_ino = st.st_ino;
  vhost_user_backend_update_inflight (self);

  reply.mmap_size = size;
  reply.mmap_offset = 0;
  reply.num_queues = num_queues;
  reply.queue_size = queue_size;
  payload = g_bytes_new (&reply, sizeof reply);
  vhost_user_invocation_return_bytes_take_fd (invocation, payload, fd);
  return TRUE;
}

/**
 * VhostUserBackend::set-inflight-fd:
 * @self: the back-end
 * @invocation: the request, to answer
 * @mmap_size: the area's size
 * @mmap_offset: where it starts in @fd
 * @num_queues: how many queues it tracks
 * @queue_size: their size
 * @fd: the area; borrowed for the emission
 *   (a handler that keeps it dup()s it)
 *
 * The front-end hands back the in-flight area after a reconnect. Default: map it.
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_real_set_inflight_fd (VhostUserBackend    *self,
                                         VhostUserInvocation *invocation,
                                         guint64              mmap_size,
                                         guint64              mmap_offset,
                                         guint                num_queues,
                                         guint                queue_size,
                                         int                  fd)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  GBytes *inflight;
  struct stat st;

  /* the area must hold what this back-end would have laid out for it */
  if (num_queues == 0 || num_queues > priv->num_queues || queue_size == 0 ||
      queue_size > priv->max_queue_size || mmap_size < num_queues * inflight_queue_size (queue_size) ||
      mmap_offset + mmap_size < mmap_offset || mmap_offset + mmap_size > G_MAXSIZE)
    {
      vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_PARAM,
                                           "In-flight area of %u queues of %u entries, 0x%" G_GINT64_MODIFIER "x bytes, is not usable",
                                           num_queues, queue_size, mmap_size);
      return TRUE;
    }

  /* an area nobody wrote to yet (a file of holes: no page of it holds
   * data; a new area from GET_INFLIGHT_FD, unless the front-end filled
   * it, as for a migration) needs no clearing before use: the rings may
   * leave its pages alone until they record something */
  priv->inflight_zeroed = area_is_holes (fd, mmap_offset, mmap_size);

  /* the area GET_INFLIGHT_FD made, handed back whole (QEMU does so on
   * every start): the mapping we have is the one meant, and mapping it
   * again would cost an mmap, an munmap and its pages' faults */
  if (priv->inflight != NULL && priv->inflight_ino != 0 && mmap_offset == 0 &&
      mmap_size == g_bytes_get_size (priv->inflight) && fstat (fd, &st) == 0 &&
      st.st_dev == priv->inflight_dev && st.st_ino == priv->inflight_ino)
    {
      priv->inflight_stride = inflight_queue_size (queue_size);
      vhost_user_backend_update_inflight (self);
      priv->inflight_zeroed = FALSE;
      vhost_user_invocation_return_ack (invocation);
      return TRUE;
    }

  inflight = map_request_fd (self, invocation, mmap_offset, mmap_size, 0, "in-flight area");
  if (inflight == NULL)
    {
      priv->inflight_zeroed = FALSE;
      return TRUE;
    }
  g_clear_pointer (&priv->inflight, g_bytes_unref);
  priv->inflight = inflight;
  priv->inflight_stride = inflight_queue_size (queue_size);
  priv->inflight_dev = 0;
  priv->inflight_ino = 0;
  vhost_user_backend_update_inflight (self);
  priv->inflight_zeroed = FALSE;
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

/**
 * VhostUserBackend::add-mem-reg:
 * @self: the back-end
 * @invocation: the request, to answer
 * @region: the new region, already mapped
 *
 * The front-end adds a memory region. Default: add it to the table, refusing overlaps and
 * slots beyond the maximum. Every default that changes the memory refuses
 * once a ring keeps 64 old tables for requests its device still holds
 * (they go when none is out).
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_real_add_mem_reg (VhostUserBackend      *self,
                                     VhostUserInvocation   *invocation,
                                     VhostUserMemoryRegion *region)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  g_autoptr(VhostUserMemoryTable) table = NULL;
  g_autoptr(GError) error = NULL;

  /* the spec forbids postcopy with memory slots: its exchange is SET_MEM_TABLE's */
  if (priv->postcopy_listening)
    {
      vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_OPERATION,
                                           "ADD_MEM_REG while postcopy listens");
      return TRUE;
    }
  if (vhost_user_backend_check_memory_change (self, &error))
    table = vhost_user_memory_table_add (priv->memory_table, region, priv->max_mem_slots, &error);
  if (table == NULL)
    {
      vhost_user_invocation_return_error (invocation, error);
      return TRUE;
    }
  vhost_user_backend_set_memory_table (self, table);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

/**
 * VhostUserBackend::rem-mem-reg:
 * @self: the back-end
 * @invocation: the request, to answer
 * @guest_phys_addr: the region's guest-physical address
 * @size: its size
 * @user_addr: its front-end address
 *
 * The front-end removes a memory region. Default: remove the matching region, refuse if none
 * matches (or, as [signal@VhostUser.Backend::add-mem-reg], while rings
 * keep too many old tables).
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_real_rem_mem_reg (VhostUserBackend    *self,
                                     VhostUserInvocation *invocation,
                                     guint64              guest_phys_addr,
                                     guint64              size,
                                     guint64              user_addr)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  g_autoptr(VhostUserMemoryTable) table = NULL;
  g_autoptr(GError) error = NULL;

  if (vhost_user_backend_check_memory_change (self, &error))
    table = vhost_user_memory_table_remove (priv->memory_table, guest_phys_addr, size, user_addr, &error);
  if (table == NULL)
    {
      vhost_user_invocation_return_error (invocation, error);
      return TRUE;
    }
  vhost_user_backend_set_memory_table (self, table);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}
