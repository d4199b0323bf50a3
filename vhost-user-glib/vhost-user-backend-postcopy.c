/* vhost-user-backend-postcopy.c: the back-end's side of postcopy migration
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Postcopy runs the guest in the destination before its memory has come
 * across. The back-end gives the front-end a userfaultfd
 * (POSTCOPY_ADVISE); after POSTCOPY_LISTEN every region it maps is
 * registered with it, so that a page the device touches before it
 * arrived stops the touching thread until the front-end has placed the
 * page and woken it. The front-end can only tell which page was asked
 * for from the back-end's own address of it: that is why, while
 * listening, SET_MEM_TABLE is answered with the table as mapped here,
 * and why nothing is registered, or touched, before the front-end says
 * (with one more message) that it can serve faults. The memory table's
 * default handler lives here because while listening it is that
 * exchange.
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <glib/gstdio.h>

#ifdef __linux__
#include <linux/userfaultfd.h>
#endif

#include "vhost-user-backend-private.h"
#include "vhost-user-error.h"
#include "vhost-user-invocation-private.h"
#include "vhost-user-wire-private.h"
#include "vhost-user-peer-fd-private.h"

#if defined(__linux__) && defined(SYS_userfaultfd) && defined(UFFD_FEATURE_MISSING_SHMEM)
#define HAVE_POSTCOPY 1
#endif

/* A userfaultfd that can stop faults on shared memory (memfd, shm), or -1
 * with @error set. Needs root or vm.unprivileged_userfaultfd = 1: faults
 * the kernel takes on the device's behalf (a read(2) into a guest
 * buffer) must stop too, which UFFD_USER_MODE_ONLY would not do. */
static int
open_userfaultfd (GError **error)
{
#ifdef HAVE_POSTCOPY
  struct uffdio_api api = { .api = UFFD_API, .features = 0 };
  int fd, errsv;

  fd = syscall (SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    {
      errsv = errno;
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL,
                   "Cannot open a userfaultfd: %s", g_strerror (errsv));
      return -1;
    }
  if (ioctl (fd, UFFDIO_API, &api) != 0)
    {
      errsv = errno;
      vhost_user_peer_fd_close (fd);
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL,
                   "The userfaultfd refuses its API: %s", g_strerror (errsv));
      return -1;
    }
  if ((api.features & UFFD_FEATURE_MISSING_SHMEM) == 0)
    {
      vhost_user_peer_fd_close (fd);
      g_set_error_literal (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL,
                           "This kernel's userfaultfd cannot stop faults on shared memory");
      return -1;
    }
  return fd;
#else
  g_set_error_literal (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL,
                       "This system has no userfaultfd");
  return -1;
#endif
}

/* Whether postcopy can work here; asked once, for the default offer of
 * VHOST_USER_PROTOCOL_FEATURE_PAGEFAULT. */
gboolean
vhost_user_backend_postcopy_supported (void)
{
  static gsize once = 0;
  static gboolean supported;

  if (g_once_init_enter (&once))
    {
      g_autoptr(GError) error = NULL;
      int fd = open_userfaultfd (&error);

      supported = fd >= 0;
      if (fd >= 0)
        vhost_user_peer_fd_close (fd);
      else
        g_debug ("Postcopy migration not offered: %s", error->message);
      g_once_init_leave (&once, 1);
    }
  return supported;
}

/* The region's whole mapping, page-aligned, as registered. */
static void
region_range (VhostUserMemoryRegion *region,
              guint64               *start,
              guint64               *len)
{
  guint64 page = sysconf (_SC_PAGESIZE);
  guint64 offset = vhost_user_memory_region_get_mmap_offset (region);

  /* the mapping starts at the fd's offset 0, page-aligned */
  *start = (guint64) (guintptr) vhost_user_memory_region_get_host_addr (region) - offset;
  *len = (offset + vhost_user_memory_region_get_size (region) + page - 1) & ~(page - 1);
}

static gboolean
register_table (int                   uffd,
                VhostUserMemoryTable *table,
                GError              **error)
{
#ifdef HAVE_POSTCOPY
  guint n = vhost_user_memory_table_get_n_regions (table);

  for (guint i = 0; i < n; i++)
    {
      VhostUserMemoryRegion *region = vhost_user_memory_table_get_region (table, i);
      struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
      guint64 start, len;

      region_range (region, &start, &len);
      reg.range.start = start;
      reg.range.len = len;
      if (ioctl (uffd, UFFDIO_REGISTER, &reg) != 0)
        {
          int errsv = errno;

          g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL,
                       "Cannot register guest memory at 0x%" G_GINT64_MODIFIER "x for postcopy: %s",
                       vhost_user_memory_region_get_guest_phys_addr (region), g_strerror (errsv));
          return FALSE;
        }
    }
  return TRUE;
#else
  g_set_error_literal (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL,
                       "This system has no userfaultfd");
  return FALSE;
#endif
}

static void
unregister_table (int                   uffd,
                  VhostUserMemoryTable *table)
{
#ifdef HAVE_POSTCOPY
  guint n = vhost_user_memory_table_get_n_regions (table);

  for (guint i = 0; i < n; i++)
    {
      struct uffdio_range range;
      guint64 start, len;

      region_range (vhost_user_memory_table_get_region (table, i), &start, &len);
      range.start = start;
      range.len = len;
      /* a range never registered (the table came before LISTEN) is no error */
      ioctl (uffd, UFFDIO_UNREGISTER, &range);
    }
#endif
}

/* Lets go of postcopy when the connection goes: the registrations go
 * with the fd (the front-end's copy is its own). */
void
vhost_user_backend_postcopy_release (VhostUserBackend *self)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  priv->postcopy_listening = FALSE;
  if (priv->postcopy_uffd >= 0)
    {
      if (priv->memory_table != NULL)
        unregister_table (priv->postcopy_uffd, priv->memory_table);
      vhost_user_peer_fd_close (priv->postcopy_uffd);
      priv->postcopy_uffd = -1;
    }
}

/**
 * VhostUserBackend::postcopy-advise:
 * @self: the back-end
 * @invocation: the request, to answer
 *
 * Postcopy migration is coming: the front-end asks for a userfaultfd.
 * Default: open one and answer with it, where the kernel allows
 * (`VHOST_USER_PROTOCOL_FEATURE_PAGEFAULT` is offered only there); refuse
 * when `CONFIGURE_MEM_SLOTS` was negotiated, which the specification
 * forbids with postcopy.
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_real_postcopy_advise (VhostUserBackend    *self,
                                         VhostUserInvocation *invocation)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  g_autoptr(GBytes) empty = NULL;
  g_autoptr(GError) error = NULL;
  int fd;

  if (priv->acked_protocol_features & VHOST_USER_PROTOCOL_FEATURE_CONFIGURE_MEM_SLOTS)
    {
      vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_OPERATION,
                                           "Postcopy is forbidden once CONFIGURE_MEM_SLOTS is negotiated");
      return TRUE;
    }
  if (priv->acked_protocol_features & VHOST_USER_PROTOCOL_FEATURE_XEN_MMAP)
    {
      vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_OPERATION,
                                           "Postcopy does not work with Xen mappings");
      return TRUE;
    }
  fd = open_userfaultfd (&error);
  if (fd < 0)
    {
      vhost_user_invocation_return_error (invocation, error);
      return TRUE;
    }
  /* a second ADVISE starts over */
  vhost_user_backend_postcopy_release (self);
  priv->postcopy_uffd = fd;
  empty = g_bytes_new (NULL, 0);
  vhost_user_invocation_return_bytes (invocation, empty, fd);
  return TRUE;
}

/**
 * VhostUserBackend::postcopy-listen:
 * @self: the back-end
 * @invocation: the request, to answer
 *
 * The destination starts to run before its memory is all there. Default:
 * from now on guest memory is registered with the userfaultfd as it is
 * mapped; refused without `POSTCOPY_ADVISE` first, or with memory already
 * mapped (its pages could not be told apart from those that arrived).
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_real_postcopy_listen (VhostUserBackend    *self,
                                         VhostUserInvocation *invocation)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  if (priv->postcopy_uffd < 0)
    vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_OPERATION,
                                         "POSTCOPY_LISTEN before POSTCOPY_ADVISE");
  else if (vhost_user_memory_table_get_n_regions (priv->memory_table) > 0)
    vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_OPERATION,
                                         "POSTCOPY_LISTEN with guest memory already mapped");
  else
    {
      priv->postcopy_listening = TRUE;
      vhost_user_invocation_return_ack (invocation);
    }
  return TRUE;
}

/**
 * VhostUserBackend::postcopy-end:
 * @self: the back-end
 * @invocation: the request, to answer
 *
 * All of the guest's memory has arrived. Default: unregister it and
 * close the userfaultfd.
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_real_postcopy_end (VhostUserBackend    *self,
                                      VhostUserInvocation *invocation)
{
  vhost_user_backend_postcopy_release (self);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

typedef struct {
  VhostUserBackend     *backend;   /* weak */
  VhostUserMemoryTable *table;
} PendingTable;

static void
pending_table_free (gpointer data)
{
  PendingTable *pending = data;

  g_clear_weak_pointer (&pending->backend);
  vhost_user_memory_table_unref (pending->table);
  g_free (pending);
}

/* The front-end's word that it serves faults now: a u64 0 under the
 * request's own number (QEMU sends our reply back with it, REPLY flag and
 * all, so the flags say nothing). Only then is the memory registered and
 * given to the rings, which may touch it. */
static gboolean
table_confirmed (const VhostUserMessage *msg,
                 const GError           *parse_error,
                 gpointer                user_data,
                 GError                **error)
{
  PendingTable *pending = user_data;
  VhostUserBackendPrivate *priv;
  guint64 value;

  /* nothing on the way here looks at the number: another request is a
   * front-end that went on without confirming, whatever its payload
   * (SET_VRING_BASE of ring 0 to 0 is eight zero bytes too) */
  if (msg->header.request != VHOST_USER_REQUEST_SET_MEM_TABLE)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
                   "Postcopy SET_MEM_TABLE: request %u came instead of the front-end's confirmation",
                   msg->header.request);
      return FALSE;
    }
  if (msg->header.size != sizeof value)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
                   "Postcopy SET_MEM_TABLE: the front-end's confirmation has %u bytes, not 8",
                   msg->header.size);
      return FALSE;
    }
  memcpy (&value, msg->payload, sizeof value);
  if (value != 0)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
                   "Postcopy SET_MEM_TABLE: the front-end could not take the table (%" G_GUINT64_FORMAT ")",
                   value);
      return FALSE;
    }
  if (pending->backend == NULL)
    {
      g_set_error_literal (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL,
                           "The back-end is gone");
      return FALSE;
    }
  priv = priv_of (pending->backend);
  if (priv->postcopy_uffd < 0 || !register_table (priv->postcopy_uffd, pending->table, error))
    {
      if (error != NULL && *error == NULL)
        g_set_error_literal (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                             "Postcopy ended before its memory table was confirmed");
      return FALSE;
    }
  vhost_user_backend_set_memory_table (pending->backend, pending->table);
  return TRUE;
}

/* While listening: the request's table with each region's user address
 * replaced by where it is mapped here, in the front-end's order. */
static gboolean
answer_postcopy_table (VhostUserBackend     *self,
                       VhostUserInvocation  *invocation,
                       VhostUserMemoryTable *table)
{
  const VhostUserMessage *request = vhost_user_invocation_get_message (invocation);
  guint n = vhost_user_memory_table_get_n_regions (table);
  g_autoptr(GBytes) reply = NULL;
  VhostUserWireMemoryTableHeader header;
  VhostUserWireMemoryRegion *regions;
  guint8 *payload;
  gsize size;
  PendingTable *pending;

  memcpy (&header, request->payload, sizeof header);
  size = sizeof header + header.nregions * sizeof (VhostUserWireMemoryRegion);
  if (header.nregions != n || request->header.size != size)
    {
      vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_PARAM,
                                           "Postcopy SET_MEM_TABLE: %u regions sent, %u mapped",
                                           header.nregions, n);
      return TRUE;
    }
  payload = g_memdup2 (request->payload, size);
  regions = (VhostUserWireMemoryRegion *) (payload + sizeof header);
  for (guint i = 0; i < header.nregions; i++)
    for (guint j = 0; j < n; j++)
      {
        VhostUserMemoryRegion *region = vhost_user_memory_table_get_region (table, j);

        if (vhost_user_memory_region_get_guest_phys_addr (region) == regions[i].guest_phys_addr)
          regions[i].userspace_addr = (guint64) (guintptr) vhost_user_memory_region_get_host_addr (region);
      }
  reply = g_bytes_new_take (payload, size);

  pending = g_new0 (PendingTable, 1);
  g_set_weak_pointer (&pending->backend, self);
  pending->table = vhost_user_memory_table_ref (table);
  vhost_user_invocation_return_and_await (invocation, reply, table_confirmed, pending, pending_table_free);
  return TRUE;
}

/**
 * VhostUserBackend::set-mem-table:
 * @self: the back-end
 * @invocation: the request, to answer
 * @table: the new guest memory, already mapped
 *
 * The front-end replaces the guest memory table; the regions are mapped and checked (bounds,
 * overlaps, the fds' sizes) before the signal. Default: make @table the back-end's
 * [property@VhostUser.Backend:memory-table]. While postcopy listens
 * ([signal@VhostUser.Backend::postcopy-listen]), the default answers with
 * the table as mapped here, waits for the front-end's confirmation and
 * registers the memory with the userfaultfd before it takes @table.
 * Refused, as [signal@VhostUser.Backend::add-mem-reg], while rings keep
 * too many old tables.
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
gboolean
vhost_user_backend_real_set_mem_table (VhostUserBackend     *self,
                                       VhostUserInvocation  *invocation,
                                       VhostUserMemoryTable *table)
{
  g_autoptr(GError) error = NULL;

  if (!vhost_user_backend_check_memory_change (self, &error))
    {
      vhost_user_invocation_return_error (invocation, error);
      return TRUE;
    }
  if (priv_of (self)->postcopy_listening)
    return answer_postcopy_table (self, invocation, table);
  vhost_user_backend_set_memory_table (self, table);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}
