/* vhost-user-driver-ring.c: a split virtqueue from the driver's seat
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "vhost-user-driver-ring.h"
#include "vhost-user-error.h"

/**
 * VhostUserDriverRing:
 *
 * A split virtqueue seen from the driver's side, for a front-end with no
 * guest behind it (a test, a benchmark, a user-space client): the ring is
 * laid out in a region of memory allocated with
 * vhost_user_memory_region_new_memfd(), buffers in that region are made
 * available with vhost_user_driver_ring_add(), the back-end is kicked
 * through the ring's eventfd and used entries are collected with
 * vhost_user_driver_ring_get_used().
 *
 * Offsets are offsets into the region; the addresses to give
 * `SET_VRING_ADDR` (front-end addresses) come from the getters.
 */

#define VRING_DESC_F_NEXT  1
#define VRING_DESC_F_WRITE 2

typedef struct {
  guint64 addr;
  guint32 len;
  guint16 flags;
  guint16 next;
} Desc;

struct _VhostUserDriverRing
{
  GObject                parent_instance;

  VhostUserMemoryRegion *region;
  guint8                *desc, *avail, *used;
  guint64                offset;
  guint                  size;
  guint16                free_head;
  guint                  n_free;
  guint16                avail_idx;
  guint16                last_used;
  guint16               *chain_len;   /* descriptors per head, to free them */
  int                    kick_fd;
  int                    call_fd;
};

G_DEFINE_FINAL_TYPE (VhostUserDriverRing, vhost_user_driver_ring, G_TYPE_OBJECT)

static void
vhost_user_driver_ring_finalize (GObject *object)
{
  VhostUserDriverRing *self = VHOST_USER_DRIVER_RING (object);

  g_clear_pointer (&self->region, vhost_user_memory_region_unref);
  g_free (self->chain_len);
  if (self->kick_fd >= 0)
    g_close (self->kick_fd, NULL);
  if (self->call_fd >= 0)
    g_close (self->call_fd, NULL);

  G_OBJECT_CLASS (vhost_user_driver_ring_parent_class)->finalize (object);
}

static void
vhost_user_driver_ring_class_init (VhostUserDriverRingClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = vhost_user_driver_ring_finalize;
}

static void
vhost_user_driver_ring_init (VhostUserDriverRing *self)
{
  self->kick_fd = self->call_fd = -1;
}

/**
 * vhost_user_driver_ring_new:
 * @region: memory allocated with vhost_user_memory_region_new_memfd()
 * @offset: where in @region to lay the ring out (4 KiB aligned is good)
 * @size: the number of descriptors, a power of two up to 32768
 * @error: return location for a #GError
 *
 * Lays out an empty split ring (descriptors, available ring, used ring,
 * with room for the event indices) in @region at @offset, and creates
 * its kick and call eventfds.
 *
 * Returns: (transfer full): the ring, or %NULL with @error set
 */
VhostUserDriverRing *
vhost_user_driver_ring_new (VhostUserMemoryRegion  *region,
                            guint64                 offset,
                            guint                   size,
                            GError                **error)
{
  VhostUserDriverRing *self;
  guint64 desc_len, avail_len, used_off, total;
  guint8 *base;

  g_return_val_if_fail (region != NULL, NULL);

  if (size == 0 || size > 32768 || (size & (size - 1)) != 0)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "A split ring's size is a power of two up to 32768, not %u", size);
      return NULL;
    }
  desc_len = 16 * (guint64) size;
  avail_len = 6 + 2 * (guint64) size;
  used_off = (desc_len + avail_len + 3) & ~(guint64) 3;
  total = used_off + 6 + 8 * (guint64) size;
  if (offset > vhost_user_memory_region_get_size (region) ||
      total > vhost_user_memory_region_get_size (region) - offset)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "A ring of %u takes 0x%" G_GINT64_MODIFIER "x bytes; the region has not that much at 0x%"
                   G_GINT64_MODIFIER "x", size, total, offset);
      return NULL;
    }

  self = g_object_new (VHOST_USER_TYPE_DRIVER_RING, NULL);
  self->region = vhost_user_memory_region_ref (region);
  self->offset = offset;
  self->size = size;
  base = (guint8 *) vhost_user_memory_region_get_host_addr (region) + offset;
  memset (base, 0, total);
  self->desc = base;
  self->avail = base + desc_len;
  self->used = base + used_off;
  self->chain_len = g_new0 (guint16, size);
  /* the free list threads through the descriptors' next fields */
  for (guint i = 0; i < size; i++)
    {
      Desc d = { 0, 0, 0, (guint16) ((i + 1) % size) };

      memcpy (self->desc + 16 * i, &d, sizeof d);
    }
  self->n_free = size;
  self->kick_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  self->call_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (self->kick_fd < 0 || self->call_fd < 0)
    {
      int errsv = errno;

      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED,
                   "Could not create the ring's eventfds: %s", g_strerror (errsv));
      g_object_unref (self);
      return NULL;
    }
  return self;
}

/**
 * vhost_user_driver_ring_get_size:
 * @self: a driver ring
 *
 * Gets the number of descriptors.
 *
 * Returns: the ring's size
 */
guint
vhost_user_driver_ring_get_size (VhostUserDriverRing *self)
{
  g_return_val_if_fail (VHOST_USER_IS_DRIVER_RING (self), 0);
  return self->size;
}

static guint64
user_addr (VhostUserDriverRing *self,
           guint8              *p)
{
  return vhost_user_memory_region_get_user_addr (self->region) +
         (p - (guint8 *) vhost_user_memory_region_get_host_addr (self->region));
}

/**
 * vhost_user_driver_ring_get_desc_addr:
 * @self: a driver ring
 *
 * Gets the descriptor table's front-end address, for `SET_VRING_ADDR`.
 *
 * Returns: the address
 */
guint64
vhost_user_driver_ring_get_desc_addr (VhostUserDriverRing *self)
{
  g_return_val_if_fail (VHOST_USER_IS_DRIVER_RING (self), 0);
  return user_addr (self, self->desc);
}

/**
 * vhost_user_driver_ring_get_avail_addr:
 * @self: a driver ring
 *
 * Gets the available ring's front-end address, for `SET_VRING_ADDR`.
 *
 * Returns: the address
 */
guint64
vhost_user_driver_ring_get_avail_addr (VhostUserDriverRing *self)
{
  g_return_val_if_fail (VHOST_USER_IS_DRIVER_RING (self), 0);
  return user_addr (self, self->avail);
}

/**
 * vhost_user_driver_ring_get_used_addr:
 * @self: a driver ring
 *
 * Gets the used ring's front-end address, for `SET_VRING_ADDR`.
 *
 * Returns: the address
 */
guint64
vhost_user_driver_ring_get_used_addr (VhostUserDriverRing *self)
{
  g_return_val_if_fail (VHOST_USER_IS_DRIVER_RING (self), 0);
  return user_addr (self, self->used);
}

/**
 * vhost_user_driver_ring_get_kick_fd:
 * @self: a driver ring
 *
 * Gets the eventfd to hand over with `SET_VRING_KICK` (the ring keeps it).
 *
 * Returns: the fd
 */
int
vhost_user_driver_ring_get_kick_fd (VhostUserDriverRing *self)
{
  g_return_val_if_fail (VHOST_USER_IS_DRIVER_RING (self), -1);
  return self->kick_fd;
}

/**
 * vhost_user_driver_ring_get_call_fd:
 * @self: a driver ring
 *
 * Gets the eventfd to hand over with `SET_VRING_CALL`; it becomes
 * readable when the back-end used buffers (the ring keeps it).
 *
 * Returns: the fd
 */
int
vhost_user_driver_ring_get_call_fd (VhostUserDriverRing *self)
{
  g_return_val_if_fail (VHOST_USER_IS_DRIVER_RING (self), -1);
  return self->call_fd;
}

/**
 * vhost_user_driver_ring_get_free:
 * @self: a driver ring
 *
 * Gets how many descriptors are free for vhost_user_driver_ring_add().
 *
 * Returns: the number of free descriptors
 */
guint
vhost_user_driver_ring_get_free (VhostUserDriverRing *self)
{
  g_return_val_if_fail (VHOST_USER_IS_DRIVER_RING (self), 0);
  return self->n_free;
}

/**
 * vhost_user_driver_ring_add:
 * @self: a driver ring
 * @out_offsets: (array length=n_out): where the device-readable buffers
 *   are, as offsets into the ring's region
 * @out_lens: (array length=n_out): their lengths
 * @n_out: how many
 * @in_offsets: (array length=n_in): where the device-writable buffers are
 * @in_lens: (array length=n_in): their lengths
 * @n_in: how many
 * @head: (out) (optional): the chain's head, which the used entry names
 * @error: return location for a #GError
 *
 * Makes a request available: one chain of descriptors, readable buffers
 * first. Kick the back-end with vhost_user_driver_ring_kick() after a
 * batch.
 *
 * Returns: %TRUE on success, %FALSE if the ring has not enough free
 *   descriptors or a buffer is outside the region
 */
gboolean
vhost_user_driver_ring_add (VhostUserDriverRing  *self,
                            const guint64        *out_offsets,
                            const guint32        *out_lens,
                            guint                 n_out,
                            const guint64        *in_offsets,
                            const guint32        *in_lens,
                            guint                 n_in,
                            guint                *head,
                            GError              **error)
{
  guint n = n_out + n_in;
  guint64 gpa = vhost_user_memory_region_get_guest_phys_addr (self->region);
  guint64 region_size = vhost_user_memory_region_get_size (self->region);
  guint16 first, i;

  g_return_val_if_fail (VHOST_USER_IS_DRIVER_RING (self), FALSE);

  if (n == 0 || n > self->n_free)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_RETRY,
                   "%u descriptors wanted, %u free", n, self->n_free);
      return FALSE;
    }
  for (guint k = 0; k < n; k++)
    {
      guint64 off = k < n_out ? out_offsets[k] : in_offsets[k - n_out];
      guint64 len = k < n_out ? out_lens[k] : in_lens[k - n_out];

      if (off > region_size || len > region_size - off)
        {
          g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                       "Buffer %u is outside the ring's region", k);
          return FALSE;
        }
    }

  first = i = self->free_head;
  for (guint k = 0; k < n; k++)
    {
      Desc d;

      memcpy (&d, self->desc + 16 * i, sizeof d);
      self->free_head = d.next;
      d.addr = gpa + (k < n_out ? out_offsets[k] : in_offsets[k - n_out]);
      d.len = k < n_out ? out_lens[k] : in_lens[k - n_out];
      d.flags = (k >= n_out ? VRING_DESC_F_WRITE : 0) | (k + 1 < n ? VRING_DESC_F_NEXT : 0);
      /* d.next already names the next free descriptor */
      memcpy (self->desc + 16 * i, &d, sizeof d);
      i = d.next;
    }
  self->n_free -= n;
  self->chain_len[first] = n;

  memcpy (self->avail + 4 + 2 * (self->avail_idx % self->size), &first, 2);
  self->avail_idx++;
  /* the entry is visible before the index that publishes it */
  __atomic_store_n ((guint16 *) (self->avail + 2), self->avail_idx, __ATOMIC_RELEASE);
  if (head != NULL)
    *head = first;
  return TRUE;
}

/**
 * vhost_user_driver_ring_kick:
 * @self: a driver ring
 * @error: return location for a #GError
 *
 * Tells the back-end that requests are available.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_driver_ring_kick (VhostUserDriverRing  *self,
                             GError              **error)
{
  guint64 one = 1;

  g_return_val_if_fail (VHOST_USER_IS_DRIVER_RING (self), FALSE);

  while (write (self->kick_fd, &one, sizeof one) < 0)
    {
      int errsv = errno;

      if (errsv == EAGAIN)
        return TRUE;
      if (errsv != EINTR)
        {
          g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED, "Could not kick: %s", g_strerror (errsv));
          return FALSE;
        }
    }
  return TRUE;
}

/**
 * vhost_user_driver_ring_get_used:
 * @self: a driver ring
 * @head: (out): the head of a finished request
 * @len: (out): how many bytes the device wrote into it
 *
 * Collects one used entry, freeing its descriptors. The back-end is not
 * trusted: an entry naming a head that is not outstanding is skipped.
 *
 * Returns: %TRUE if an entry was collected
 */
gboolean
vhost_user_driver_ring_get_used (VhostUserDriverRing *self,
                                 guint               *head,
                                 guint               *len)
{
  g_return_val_if_fail (VHOST_USER_IS_DRIVER_RING (self), FALSE);

  while (__atomic_load_n ((guint16 *) (self->used + 2), __ATOMIC_ACQUIRE) != self->last_used)
    {
      guint32 entry[2];
      guint16 n, last;

      memcpy (entry, self->used + 4 + 8 * (self->last_used % self->size), sizeof entry);
      self->last_used++;
      if (entry[0] >= self->size || self->chain_len[entry[0]] == 0)
        continue;

      /* give the chain back to the free list */
      n = self->chain_len[entry[0]];
      self->chain_len[entry[0]] = 0;
      last = entry[0];
      for (guint k = 1; k < n; k++)
        {
          Desc d;

          memcpy (&d, self->desc + 16 * last, sizeof d);
          last = d.next;
        }
      {
        Desc d;

        memcpy (&d, self->desc + 16 * last, sizeof d);
        d.next = self->n_free > 0 ? self->free_head : entry[0];
        memcpy (self->desc + 16 * last, &d, sizeof d);
      }
      self->free_head = entry[0];
      self->n_free += n;
      *head = entry[0];
      *len = entry[1];
      return TRUE;
    }
  return FALSE;
}
