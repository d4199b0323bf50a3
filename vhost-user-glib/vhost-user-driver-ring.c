/* vhost-user-driver-ring.c: a virtqueue from the driver's seat
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
#include "vhost-user-driver-ring-private.h"
#include "vhost-user-error.h"
#include "vhost-user-peer-fd-private.h"
#include "vhost-user-lock-private.h"
#include "vhost-user-ring-layout-private.h"

/**
 * VhostUserDriverRing:
 *
 * A virtqueue seen from the driver's side, for a front-end with no
 * guest behind it (a test, a benchmark, a user-space client): the ring is
 * laid out in a region of memory allocated with
 * vhost_user_memory_region_new_memfd(), buffers in that region are made
 * available with vhost_user_driver_ring_add(), the back-end is kicked
 * through the ring's eventfd and used entries are collected with
 * vhost_user_driver_ring_get_used(), after
 * vhost_user_driver_ring_clear_call() consumed the back-end's call.
 *
 * Both layouts: split (vhost_user_driver_ring_new()) and packed
 * (vhost_user_driver_ring_new_packed(), for `VIRTIO_F_RING_PACKED`). The
 * ring honours the back-end's wishes about kicks (the used ring's
 * `NO_NOTIFY` flag, or the packed device area), and with
 * vhost_user_driver_ring_set_event_idx() the event indices both ways.
 *
 * Offsets are offsets into the region; the addresses to give
 * `SET_VRING_ADDR` (front-end addresses) come from the getters. Buffers
 * in other regions of guest memory go by guest-physical address
 * (vhost_user_driver_ring_add_region(), vhost_user_driver_ring_add_gpa()),
 * and a request's chain may go in a table of its own
 * (vhost_user_driver_ring_add_indirect()).
 *
 * Since: 1.0
 */

struct _VhostUserDriverRing
{
  GObject                parent_instance;

  VhostUserMemoryRegion *region;
  GPtrArray             *other_regions;  /* buffers may also be there (add_gpa) */
  guint8                *desc, *avail, *used;   /* packed: descriptors, driver area, device area */
  guint64                offset;
  guint                  size;
  guint16                free_head;
  guint                  n_free;
  guint16                avail_idx;
  guint16                last_used;
  guint16               *chain_len;   /* descriptors per head (packed: per id), to free them */
  guint32               *writable;    /* per head (packed: per id), the bytes of its writable buffers:
                                       * what a used entry's length may claim */
  guint16               *next;        /* split: the free list and chains, kept here: the
                                       * back-end can write the shared descriptors */
  int                    kick_fd;
  int                    call_fd;
  gboolean               event_idx;
  guint                  added_since_kick;  /* descriptors (split: chains) since the last kick decision */

  /* packed: positions and wrap counters, free buffer ids */
  gboolean               packed;
  guint                  avail_pos, used_pos;
  gboolean               avail_wrap, used_wrap;
  guint16               *free_ids;
  guint                  n_free_ids;

  /* the record of what is out with the back-end, in the region (or NULL):
   * see vhost_user_driver_ring_set_record() */
  guint8                *record;
  guint                  in_flight;
};

/* The record's layout: a header, then per head (packed: per buffer id)
 * the number of descriptors its chain holds while it is out, 0 when not.
 * The positions are written after the chain they publish, the entries
 * before: a driver that dies between the two leaves that one chain
 * recorded and unpublished. */
#define RECORD_MAGIC        0x52445556u   /* "VUDR" */
#define RECORD_VERSION      1
#define RECORD_HEADER       32
#define R_MAGIC(r)          ((guint32 *) ((r) + 0))
#define R_VERSION(r)        ((guint16 *) ((r) + 4))
#define R_PACKED(r)         ((guint16 *) ((r) + 6))
#define R_SIZE(r)           ((guint32 *) ((r) + 8))
#define R_RING(r)           ((guint64 *) ((r) + 16))  /* the ring's offset in the region */
#define R_AVAIL(r)          ((guint16 *) ((r) + 24))  /* split: avail_idx; packed: position | wrap << 15 */
#define R_USED(r)           ((guint16 *) ((r) + 26))  /* split: last used; packed: position | wrap << 15 */
#define R_CHAIN(r, i)       ((guint16 *) ((r) + RECORD_HEADER + 2 * (gsize) (i)))

G_DEFINE_FINAL_TYPE (VhostUserDriverRing, vhost_user_driver_ring, G_TYPE_OBJECT)

static void
vhost_user_driver_ring_finalize (GObject *object)
{
  VhostUserDriverRing *self = VHOST_USER_DRIVER_RING (object);

  g_clear_pointer (&self->region, vhost_user_memory_region_unref);
  g_clear_pointer (&self->other_regions, g_ptr_array_unref);
  g_free (self->chain_len);
  g_free (self->writable);
  g_free (self->next);
  g_free (self->free_ids);
  if (self->kick_fd >= 0)
    vhost_user_peer_fd_close (self->kick_fd);
  if (self->call_fd >= 0)
    vhost_user_peer_fd_close (self->call_fd);

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

static gboolean rebuild_from_record (VhostUserDriverRing  *self,
                                     guint8               *record,
                                     GError              **error);

/* A ring laid out anew, or with @record (from
 * vhost_user_driver_ring_reopen()) the ring that is already there. */
static VhostUserDriverRing *
ring_new (VhostUserMemoryRegion  *region,
          guint64                 offset,
          guint                   size,
          gboolean                packed,
          guint8                 *record,
          GError                **error)
{
  VhostUserDriverRing *self;
  guint64 desc_len, avail_len, used_off, total;
  guint8 *base;

  if (!packed && (size == 0 || size > VRING_MAX_SIZE || (size & (size - 1)) != 0))
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "A split ring's size is a power of two up to %u, not %u", VRING_MAX_SIZE, size);
      return NULL;
    }
  if (packed && (size == 0 || size > PACKED_MAX_SIZE))
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "A packed ring's size is between 1 and %u, not %u", PACKED_MAX_SIZE, size);
      return NULL;
    }
  desc_len = 16 * (guint64) size;
  if (packed)
    {
      /* the two 4-byte event suppression areas right after the descriptors */
      avail_len = sizeof (PackedEvent);
      used_off = desc_len + avail_len;
      total = used_off + sizeof (PackedEvent);
    }
  else
    {
      avail_len = VRING_AVAIL_SIZE (size);
      used_off = (desc_len + avail_len + 3) & ~(guint64) 3;
      total = used_off + VRING_USED_SIZE (size);
    }
  if (offset > vhost_user_memory_region_get_size (region) ||
      total > vhost_user_memory_region_get_size (region) - offset)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "A ring of %u takes 0x%" G_GINT64_MODIFIER "x bytes; the region has not that much at 0x%"
                   G_GINT64_MODIFIER "x", size, total, offset);
      return NULL;
    }

  base = (guint8 *) vhost_user_memory_region_get_host_addr (region) + offset;

  self = g_object_new (VHOST_USER_TYPE_DRIVER_RING, NULL);
  self->region = vhost_user_memory_region_ref (region);
  self->offset = offset;
  self->size = size;
  self->packed = packed;
  if (record == NULL)
    memset (base, 0, total);
  self->desc = base;
  self->avail = base + desc_len;
  self->used = base + used_off;
  self->chain_len = g_new0 (guint16, size);
  self->writable = g_new0 (guint32, size);
  if (packed)
    {
      /* both wrap counters start at 1; ids are handed out lowest first */
      self->avail_wrap = self->used_wrap = TRUE;
      self->free_ids = g_new (guint16, size);
      for (guint i = 0; i < size; i++)
        self->free_ids[i] = size - 1 - i;
      self->n_free_ids = size;
    }
  else
    {
      /* the free list threads through our own copy of the next fields */
      self->next = g_new (guint16, size);
      for (guint i = 0; i < size; i++)
        self->next[i] = (i + 1) % size;
    }
  self->n_free = size;
  if (record != NULL && !rebuild_from_record (self, record, error))
    {
      g_object_unref (self);
      return NULL;
    }
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
 *
 * Since: 1.0
 */
VhostUserDriverRing *
vhost_user_driver_ring_new (VhostUserMemoryRegion  *region,
                            guint64                 offset,
                            guint                   size,
                            GError                **error)
{
  g_return_val_if_fail (region != NULL, NULL);

  return ring_new (region, offset, size, FALSE, NULL, error);
}

/**
 * vhost_user_driver_ring_new_packed:
 * @region: memory allocated with vhost_user_memory_region_new_memfd()
 * @offset: where in @region to lay the ring out (16-byte aligned at least)
 * @size: the number of descriptors, 1 to 32768 (any number, not only
 *   powers of two)
 * @error: return location for a #GError
 *
 * Lays out an empty packed ring (`VIRTIO_F_RING_PACKED`: 16-byte
 * descriptors, then the driver and the device event suppression areas,
 * 4 bytes each) in @region at @offset, and creates its kick and call
 * eventfds. Give the back-end the base 0x80008000 (`SET_VRING_BASE`:
 * both positions 0, both wrap counters 1) and, for `SET_VRING_ADDR`,
 * vhost_user_driver_ring_get_desc_addr(), the driver area as the
 * available ring (vhost_user_driver_ring_get_avail_addr()) and the
 * device area as the used ring (vhost_user_driver_ring_get_used_addr()).
 *
 * Returns: (transfer full): the ring, or %NULL with @error set
 *
 * Since: 1.0
 */
VhostUserDriverRing *
vhost_user_driver_ring_new_packed (VhostUserMemoryRegion  *region,
                                   guint64                 offset,
                                   guint                   size,
                                   GError                **error)
{
  g_return_val_if_fail (region != NULL, NULL);

  return ring_new (region, offset, size, TRUE, NULL, error);
}

/**
 * vhost_user_driver_ring_get_packed:
 * @self: a driver ring
 *
 * Gets whether the ring has the packed layout.
 *
 * Returns: %TRUE for a packed ring, %FALSE for a split one
 *
 * Since: 1.0
 */
gboolean
vhost_user_driver_ring_get_packed (VhostUserDriverRing *self)
{
  g_return_val_if_fail (VHOST_USER_IS_DRIVER_RING (self), FALSE);
  return self->packed;
}

/**
 * vhost_user_driver_ring_set_event_idx:
 * @self: a driver ring
 * @event_idx: whether `VIRTIO_RING_F_EVENT_IDX` was negotiated
 *
 * Tells the ring whether the back-end and the ring use event indices.
 * With them, vhost_user_driver_ring_kick() kicks only when the requests
 * added since the last kick reach the back-end's `avail_event` (packed:
 * its descriptor event), and vhost_user_driver_ring_get_used(), finding
 * nothing, asks for a call at the next used entry. Without them the
 * back-end's flags decide kicks and every used entry may be called.
 * Set it before the first request.
 *
 * Since: 1.0
 */
void
vhost_user_driver_ring_set_event_idx (VhostUserDriverRing *self,
                                      gboolean             event_idx)
{
  g_return_if_fail (VHOST_USER_IS_DRIVER_RING (self));
  self->event_idx = !!event_idx;
}

/**
 * vhost_user_driver_ring_get_size:
 * @self: a driver ring
 *
 * Gets the number of descriptors.
 *
 * Returns: the ring's size
 *
 * Since: 1.0
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
 * Gets the descriptor table's (packed: the descriptor ring's) front-end
 * address, for `SET_VRING_ADDR`.
 *
 * Returns: the address
 *
 * Since: 1.0
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
 * Gets the available ring's front-end address, for `SET_VRING_ADDR`
 * (packed rings: the driver event suppression area's).
 *
 * Returns: the address
 *
 * Since: 1.0
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
 * Gets the used ring's front-end address, for `SET_VRING_ADDR` (packed
 * rings: the device event suppression area's).
 *
 * Returns: the address
 *
 * Since: 1.0
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
 *
 * Since: 1.0
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
 *
 * Since: 1.0
 */
int
vhost_user_driver_ring_get_call_fd (VhostUserDriverRing *self)
{
  g_return_val_if_fail (VHOST_USER_IS_DRIVER_RING (self), -1);
  return self->call_fd;
}

/**
 * vhost_user_driver_ring_clear_call:
 * @self: a driver ring
 *
 * Consumes the back-end's calls: reads the call eventfd
 * (vhost_user_driver_ring_get_call_fd()), which then polls readable
 * again only at the next call. An eventfd stays readable until read, so
 * a driver that polls it calls this when it woke up, then collects with
 * vhost_user_driver_ring_get_used() until that finds nothing: a call that
 * comes in between is seen at the next poll, never lost. Does not block.
 *
 * Returns: %TRUE if the back-end called since the last time
 *
 * Since: 1.0
 */
gboolean
vhost_user_driver_ring_clear_call (VhostUserDriverRing *self)
{
  g_return_val_if_fail (VHOST_USER_IS_DRIVER_RING (self), FALSE);

  /* (not a plain read: the back-end shares the fd's O_NONBLOCK, and
   * could make it wait for good) */
  return vhost_user_eventfd_drain (self->call_fd, NULL);
}

/**
 * vhost_user_driver_ring_get_free:
 * @self: a driver ring
 *
 * Gets how many descriptors are free for vhost_user_driver_ring_add().
 *
 * Returns: the number of free descriptors
 *
 * Since: 1.0
 */
guint
vhost_user_driver_ring_get_free (VhostUserDriverRing *self)
{
  g_return_val_if_fail (VHOST_USER_IS_DRIVER_RING (self), 0);
  return self->n_free;
}

/* What a used entry may say the device wrote: no more than the
 * request's writable buffers hold. */
static guint32
writable_total (const guint32 *in_lens,
                guint          n_in)
{
  guint64 total = 0;

  for (guint k = 0; k < n_in; k++)
    total += in_lens[k];
  return (guint32) MIN (total, G_MAXUINT32);
}

static void
add_split (VhostUserDriverRing *self,
           const guint64       *out_offsets,
           const guint32       *out_lens,
           guint                n_out,
           const guint64       *in_offsets,
           const guint32       *in_lens,
           guint                n_in,
           guint16              extra_flags,
           guint64              gpa,
           guint32              writable,
           guint               *head)
{
  guint n = n_out + n_in;
  guint16 first, i;

  first = i = self->free_head;
  for (guint k = 0; k < n; k++)
    {
      VringDesc d;

      self->free_head = self->next[i];
      d.addr = gpa + (k < n_out ? out_offsets[k] : in_offsets[k - n_out]);
      d.len = k < n_out ? out_lens[k] : in_lens[k - n_out];
      d.flags = (k >= n_out ? VRING_DESC_F_WRITE : 0) | (k + 1 < n ? VRING_DESC_F_NEXT : 0) | extra_flags;
      /* the next free descriptor is the chain's next */
      d.next = self->next[i];
      memcpy (self->desc + 16 * i, &d, sizeof d);
      i = self->next[i];
    }
  self->n_free -= n;
  self->chain_len[first] = n;
  self->writable[first] = writable;
  self->in_flight++;
  if (self->record != NULL)
    *R_CHAIN (self->record, first) = n;

  memcpy (self->avail + VRING_AVAIL_RING (self->avail_idx % self->size), &first, 2);
  self->avail_idx++;
  /* the entry is visible before the index that publishes it */
  __atomic_store_n ((guint16 *) (self->avail + VRING_AVAIL_IDX), self->avail_idx, __ATOMIC_RELEASE);
  if (self->record != NULL)
    *R_AVAIL (self->record) = self->avail_idx;
  self->added_since_kick++;
  if (head != NULL)
    *head = first;
}


/* One chain over consecutive descriptors, across the ring's end, with a
 * free buffer id in each; the first descriptor's flags are written last,
 * publishing the whole chain. */
static void
add_packed (VhostUserDriverRing *self,
            const guint64       *out_offsets,
            const guint32       *out_lens,
            guint                n_out,
            const guint64       *in_offsets,
            const guint32       *in_lens,
            guint                n_in,
            guint16              extra_flags,
            guint64              gpa,
            guint32              writable,
            guint               *head)
{
  guint n = n_out + n_in;
  guint16 id = self->free_ids[--self->n_free_ids];
  guint first = self->avail_pos;
  guint16 first_flags = 0;

  for (guint k = 0; k < n; k++)
    {
      PackedDesc d;

      d.addr = gpa + (k < n_out ? out_offsets[k] : in_offsets[k - n_out]);
      d.len = k < n_out ? out_lens[k] : in_lens[k - n_out];
      d.id = id;
      d.flags = (k >= n_out ? PACKED_DESC_F_WRITE : 0) | (k + 1 < n ? PACKED_DESC_F_NEXT : 0) |
                packed_avail_flags (self->avail_wrap) | extra_flags;
      if (k == 0)
        {
          /* everything but the flags: the back-end may be looking at them */
          first_flags = d.flags;
          memcpy (self->desc + 16 * first, &d, G_STRUCT_OFFSET (PackedDesc, flags));
        }
      else
        memcpy (self->desc + 16 * self->avail_pos, &d, sizeof d);
      if (++self->avail_pos == self->size)
        {
          self->avail_pos = 0;
          self->avail_wrap = !self->avail_wrap;
        }
    }
  self->chain_len[id] = n;
  self->writable[id] = writable;
  self->n_free -= n;
  self->in_flight++;
  self->added_since_kick += n;
  if (self->record != NULL)
    *R_CHAIN (self->record, id) = n;
  __atomic_store_n ((guint16 *) (self->desc + 16 * first + PACKED_DESC_FLAGS_OFFSET), first_flags, __ATOMIC_RELEASE);
  if (self->record != NULL)
    *R_AVAIL (self->record) = self->avail_pos | (self->avail_wrap ? 0x8000u : 0);
  if (head != NULL)
    *head = id;
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
 *
 * Since: 1.0
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
  guint64 region_size = vhost_user_memory_region_get_size (self->region), gpa;

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

  gpa = vhost_user_memory_region_get_guest_phys_addr (self->region);
  if (self->packed)
    add_packed (self, out_offsets, out_lens, n_out, in_offsets, in_lens, n_in, 0, gpa,
                writable_total (in_lens, n_in), head);
  else
    add_split (self, out_offsets, out_lens, n_out, in_offsets, in_lens, n_in, 0, gpa,
               writable_total (in_lens, n_in), head);
  return TRUE;
}

/**
 * vhost_user_driver_ring_add_region:
 * @self: a driver ring
 * @region: more guest memory that buffers may be in
 *
 * A VMM's guest memory is several regions; the ring's own is one of
 * them. Buffers in any region given here (or the ring's) can be made
 * available with vhost_user_driver_ring_add_gpa(). Give the back-end the
 * same regions (`SET_MEM_TABLE` or `ADD_MEM_REG`).
 *
 * Since: 1.0
 */
void
vhost_user_driver_ring_add_region (VhostUserDriverRing   *self,
                                   VhostUserMemoryRegion *region)
{
  g_return_if_fail (VHOST_USER_IS_DRIVER_RING (self));
  g_return_if_fail (region != NULL);

  if (self->other_regions == NULL)
    self->other_regions = g_ptr_array_new_with_free_func ((GDestroyNotify) vhost_user_memory_region_unref);
  g_ptr_array_add (self->other_regions, vhost_user_memory_region_ref (region));
}

/* Whether [gpa, gpa + len) lies inside one region the ring knows. */
static gboolean
gpa_known (VhostUserDriverRing *self,
           guint64              gpa,
           guint64              len)
{
  guint n = self->other_regions != NULL ? self->other_regions->len : 0;

  for (guint i = 0; i <= n; i++)
    {
      VhostUserMemoryRegion *r = i == 0 ? self->region : g_ptr_array_index (self->other_regions, i - 1);
      guint64 start = vhost_user_memory_region_get_guest_phys_addr (r);
      guint64 size = vhost_user_memory_region_get_size (r);

      if (gpa >= start && gpa - start <= size && len <= size - (gpa - start))
        return TRUE;
    }
  return FALSE;
}

/**
 * vhost_user_driver_ring_add_gpa:
 * @self: a driver ring
 * @out_gpas: (array length=n_out): where the device-readable buffers are,
 *   as guest-physical addresses
 * @out_lens: (array length=n_out): their lengths
 * @n_out: how many
 * @in_gpas: (array length=n_in): where the device-writable buffers are
 * @in_lens: (array length=n_in): their lengths
 * @n_in: how many
 * @head: (out) (optional): the chain's head, which the used entry names
 * @error: return location for a #GError
 *
 * Like vhost_user_driver_ring_add(), with buffers anywhere in guest
 * memory: each must lie whole inside the ring's region or one given to
 * vhost_user_driver_ring_add_region().
 *
 * Returns: %TRUE on success, %FALSE if the ring has not enough free
 *   descriptors or a buffer is outside every region
 *
 * Since: 1.0
 */
gboolean
vhost_user_driver_ring_add_gpa (VhostUserDriverRing  *self,
                                const guint64        *out_gpas,
                                const guint32        *out_lens,
                                guint                 n_out,
                                const guint64        *in_gpas,
                                const guint32        *in_lens,
                                guint                 n_in,
                                guint                *head,
                                GError              **error)
{
  guint n = n_out + n_in;

  g_return_val_if_fail (VHOST_USER_IS_DRIVER_RING (self), FALSE);

  if (n == 0 || n > self->n_free)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_RETRY,
                   "%u descriptors wanted, %u free", n, self->n_free);
      return FALSE;
    }
  for (guint k = 0; k < n; k++)
    if (!gpa_known (self, k < n_out ? out_gpas[k] : in_gpas[k - n_out], k < n_out ? out_lens[k] : in_lens[k - n_out]))
      {
        g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                     "Buffer %u is outside every region of the ring", k);
        return FALSE;
      }
  if (self->packed)
    add_packed (self, out_gpas, out_lens, n_out, in_gpas, in_lens, n_in, 0, 0, writable_total (in_lens, n_in), head);
  else
    add_split (self, out_gpas, out_lens, n_out, in_gpas, in_lens, n_in, 0, 0, writable_total (in_lens, n_in), head);
  return TRUE;
}

/**
 * vhost_user_driver_ring_add_indirect:
 * @self: a driver ring
 * @table_offset: where to write the request's descriptor table, as an
 *   offset into the ring's region: 16 bytes per buffer, 16-byte aligned,
 *   the caller's until the request is used
 * @out_offsets: (array length=n_out): where the device-readable buffers
 *   are, as offsets into the ring's region
 * @out_lens: (array length=n_out): their lengths
 * @n_out: how many
 * @in_offsets: (array length=n_in): where the device-writable buffers are
 * @in_lens: (array length=n_in): their lengths
 * @n_in: how many
 * @head: (out) (optional): the request's head, which the used entry names
 * @error: return location for a #GError
 *
 * Like vhost_user_driver_ring_add(), but the chain goes in a table of its
 * own (`VIRTIO_RING_F_INDIRECT_DESC`, which the back-end must have
 * offered and the driver acked), and the request takes one descriptor of
 * the ring whatever its length: a split ring's or a packed ring's own
 * indirect layout.
 *
 * Returns: %TRUE on success, %FALSE if the ring has no free descriptor
 *   or a buffer or the table is outside the region
 *
 * Since: 1.0
 */
gboolean
vhost_user_driver_ring_add_indirect (VhostUserDriverRing  *self,
                                     guint64               table_offset,
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
  guint64 region_size, gpa;
  guint32 table_len;

  g_return_val_if_fail (VHOST_USER_IS_DRIVER_RING (self), FALSE);

  region_size = vhost_user_memory_region_get_size (self->region);
  gpa = vhost_user_memory_region_get_guest_phys_addr (self->region);
  table_len = 16 * n;
  if (n == 0 || n > self->size || self->n_free == 0)
    {
      g_set_error (error, VHOST_USER_ERROR, self->n_free == 0 ? VHOST_USER_ERROR_SOCKET_RETRY :
                   VHOST_USER_ERROR_INVALID_PARAM, "%u buffers in a table, %u descriptors free", n, self->n_free);
      return FALSE;
    }
  if (table_offset % 16 != 0 || table_offset > region_size || table_len > region_size - table_offset)
    {
      g_set_error_literal (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                           "The descriptor table is outside the ring's region, or not aligned");
      return FALSE;
    }
  for (guint k = 0; k < n; k++)
    {
      guint64 off = k < n_out ? out_offsets[k] : in_offsets[k - n_out];
      guint64 len = k < n_out ? out_lens[k] : in_lens[k - n_out];
      guint8 *entry = (guint8 *) vhost_user_memory_region_get_host_addr (self->region) + table_offset + 16 * k;

      if (off > region_size || len > region_size - off)
        {
          g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                       "Buffer %u is outside the ring's region", k);
          return FALSE;
        }
      if (self->packed)
        {
          /* a packed table: no chaining flags, the order is the chain */
          PackedDesc d = { gpa + off, (guint32) len, 0, k >= n_out ? PACKED_DESC_F_WRITE : 0 };

          memcpy (entry, &d, sizeof d);
        }
      else
        {
          VringDesc d = { gpa + off, (guint32) len,
                          (k >= n_out ? VRING_DESC_F_WRITE : 0) | (k + 1 < n ? VRING_DESC_F_NEXT : 0), k + 1 };

          memcpy (entry, &d, sizeof d);
        }
    }

  if (self->packed)
    add_packed (self, &table_offset, &table_len, 1, NULL, NULL, 0, PACKED_DESC_F_INDIRECT, gpa,
                writable_total (in_lens, n_in), head);
  else
    add_split (self, &table_offset, &table_len, 1, NULL, NULL, 0, VRING_DESC_F_INDIRECT, gpa,
               writable_total (in_lens, n_in), head);
  return TRUE;
}

/* Whether the back-end wants to hear of what was added since the last
 * decision; each call is a decision. */
static gboolean
back_end_wants_kick (VhostUserDriverRing *self)
{
  guint added = self->added_since_kick;

  self->added_since_kick = 0;
  /* what we added is visible before we read what the back-end asked */
  vhost_user_full_barrier ();
  if (self->packed)
    {
      guint16 flags = __atomic_load_n ((guint16 *) (self->used + G_STRUCT_OFFSET (PackedEvent, flags)),
                                       __ATOMIC_RELAXED);
      guint16 off_wrap = __atomic_load_n ((guint16 *) (self->used + G_STRUCT_OFFSET (PackedEvent, off_wrap)),
                                          __ATOMIC_RELAXED);

      if (flags == PACKED_EVENT_DISABLE)
        return FALSE;
      if (flags != PACKED_EVENT_DESC || !self->event_idx)
        return TRUE;
      return packed_need_event (off_wrap, self->avail_pos, self->avail_wrap, added, self->size);
    }
  if (self->event_idx)
    {
      guint16 avail_event = __atomic_load_n ((guint16 *) (self->used + VRING_USED_AVAIL_EVENT (self->size)),
                                            __ATOMIC_RELAXED);
      guint16 new_idx = self->avail_idx, old_idx = (guint16) (self->avail_idx - added);

      /* did the index step past avail_event? */
      return added > G_MAXUINT16 || vring_need_event (avail_event, new_idx, old_idx);
    }
  return !(__atomic_load_n ((guint16 *) self->used, __ATOMIC_RELAXED) & VRING_USED_F_NO_NOTIFY);
}

/**
 * vhost_user_driver_ring_kick:
 * @self: a driver ring
 * @error: return location for a #GError
 *
 * Tells the back-end that requests are available, unless it asked not to
 * be told now: the used ring's `NO_NOTIFY` flag, or with event indices
 * (vhost_user_driver_ring_set_event_idx()) an `avail_event` the requests
 * added since the last call did not reach; on a packed ring the device
 * area's DISABLE, or DESC with a descriptor event not reached. A caller
 * that must wake the back-end whatever it asked (after a reconnect)
 * writes to vhost_user_driver_ring_get_kick_fd() itself.
 *
 * Returns: %TRUE on success (whether or not a kick was needed)
 *
 * Since: 1.0
 */
gboolean
vhost_user_driver_ring_kick (VhostUserDriverRing  *self,
                             GError              **error)
{
  g_return_val_if_fail (VHOST_USER_IS_DRIVER_RING (self), FALSE);

  if (!back_end_wants_kick (self))
    return TRUE;

  if (!vhost_user_eventfd_signal (self->kick_fd))
    {
      int errsv = errno;

      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED, "Could not kick: %s", g_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}

/* Frees a collected chain's descriptors (split: back onto the free list). */
static gboolean
take_used_split (VhostUserDriverRing *self,
                 guint               *head,
                 guint               *len)
{
  /* read once: a back-end that keeps moving it keeps no one here, and
   * one further ahead than the ring holds broke the ring (nothing of it
   * is taken: the device is stuck, its requests out) */
  guint16 used_idx = __atomic_load_n ((guint16 *) (self->used + VRING_USED_IDX), __ATOMIC_ACQUIRE);

  if ((guint16) (used_idx - self->last_used) > self->size)
    return FALSE;
  while (used_idx != self->last_used)
    {
      guint32 entry[2];
      guint16 n, last;

      memcpy (entry, self->used + VRING_USED_RING (self->last_used % self->size), sizeof entry);
      self->last_used++;
      if (entry[0] >= self->size || self->chain_len[entry[0]] == 0)
        continue;

      /* give the chain back to the free list */
      n = self->chain_len[entry[0]];
      self->chain_len[entry[0]] = 0;
      self->in_flight--;
      if (self->record != NULL)
        {
          *R_CHAIN (self->record, entry[0]) = 0;
          *R_USED (self->record) = self->last_used;
        }
      last = entry[0];
      for (guint k = 1; k < n; k++)
        last = self->next[last];
      self->next[last] = self->n_free > 0 ? self->free_head : entry[0];
      self->free_head = entry[0];
      self->n_free += n;
      *head = entry[0];
      *len = MIN (entry[1], self->writable[entry[0]]);
      return TRUE;
    }
  return FALSE;
}

/* The used descriptor at our used position, if the back-end wrote one
 * this lap: it names a buffer id, and the position moves by as many
 * descriptors as that id's chain took. */
static gboolean
take_used_packed (VhostUserDriverRing *self,
                  guint               *head,
                  guint               *len)
{
  /* a lap at most: a back-end that rewrites the flags as we go could
   * keep every slot we reach used, with ids that are not out, for as
   * long as it likes (the split ring reads its index once instead) */
  for (guint looked = 0; looked < self->size; looked++)
    {
      guint8 *slot = self->desc + 16 * self->used_pos;
      guint16 flags = __atomic_load_n ((guint16 *) (slot + PACKED_DESC_FLAGS_OFFSET), __ATOMIC_ACQUIRE);
      PackedDesc d;
      guint n;

      if (!packed_is_used (flags, self->used_wrap))
        return FALSE;
      memcpy (&d, slot, sizeof d);
      /* an id that is not out: we cannot know how far it reaches, so
       * step over this one descriptor only */
      n = d.id < self->size ? self->chain_len[d.id] : 0;
      self->used_pos += MAX (n, 1);
      if (self->used_pos >= self->size)
        {
          self->used_pos -= self->size;
          self->used_wrap = !self->used_wrap;
        }
      if (n == 0)
        continue;

      self->chain_len[d.id] = 0;
      self->free_ids[self->n_free_ids++] = d.id;
      self->n_free += n;
      self->in_flight--;
      if (self->record != NULL)
        {
          *R_CHAIN (self->record, d.id) = 0;
          *R_USED (self->record) = self->used_pos | (self->used_wrap ? 0x8000u : 0);
        }
      *head = d.id;
      *len = MIN (d.len, self->writable[d.id]);
      return TRUE;
    }
  return FALSE;
}

/**
 * vhost_user_driver_ring_get_used:
 * @self: a driver ring
 * @head: (out): the head of a finished request (packed rings: its id)
 * @len: (out): how many bytes the device says it wrote into it, at most
 *   what the request's writable buffers hold (a request made available
 *   before vhost_user_driver_ring_reopen(): as the device says)
 *
 * Collects one used entry, freeing its descriptors. The back-end is not
 * trusted: an entry naming a head that is not outstanding is skipped,
 * and a packed ring looks at one lap of descriptors at most per call.
 * Finding none, with event indices, the ring asks the back-end to call
 * at the next used entry (`used_event`; packed: a descriptor event) and
 * looks once more, for an entry used before the back-end saw the request.
 *
 * Returns: %TRUE if an entry was collected
 *
 * Since: 1.0
 */
gboolean
vhost_user_driver_ring_get_used (VhostUserDriverRing *self,
                                 guint               *head,
                                 guint               *len)
{
  gboolean (*take) (VhostUserDriverRing *, guint *, guint *);

  g_return_val_if_fail (VHOST_USER_IS_DRIVER_RING (self), FALSE);

  take = self->packed ? take_used_packed : take_used_split;
  if (take (self, head, len))
    return TRUE;
  if (!self->event_idx)
    return FALSE;

  if (self->packed)
    {
      guint16 off_wrap = self->used_pos | (self->used_wrap ? 0x8000 : 0);

      __atomic_store_n ((guint16 *) (self->avail + G_STRUCT_OFFSET (PackedEvent, off_wrap)), off_wrap,
                        __ATOMIC_RELAXED);
      __atomic_store_n ((guint16 *) (self->avail + G_STRUCT_OFFSET (PackedEvent, flags)), PACKED_EVENT_DESC,
                        __ATOMIC_RELEASE);
    }
  else
    __atomic_store_n ((guint16 *) (self->avail + VRING_AVAIL_USED_EVENT (self->size)), self->last_used,
                      __ATOMIC_RELAXED);
  vhost_user_full_barrier ();
  return take (self, head, len);
}

/* Where a back-end that lost its state should go on from, as the shared
 * memory shows it, and how many requests are out past that point (made
 * available, not marked used). Split: the used index the back-end wrote.
 * Packed: our used position moved over the used descriptors not collected
 * yet, as both halves of a packed base (avail = used: everything not
 * used is to be done again). Nothing is collected here. */
guint
vhost_user_driver_ring_restart_base (VhostUserDriverRing *self,
                                     guint               *outstanding)
{
  guint pos, done = 0, out = 0;
  gboolean wrap;

  g_return_val_if_fail (VHOST_USER_IS_DRIVER_RING (self), 0);

  if (!self->packed)
    {
      guint16 used = __atomic_load_n ((guint16 *) (self->used + VRING_USED_IDX), __ATOMIC_ACQUIRE);

      /* (the used index is the back-end's word: never more than we
       * know to be out, which it reports as requests at risk) */
      *outstanding = MIN ((guint16) (self->avail_idx - used), self->in_flight);
      return used;
    }

  for (guint id = 0; id < self->size; id++)
    if (self->chain_len[id] != 0)
      out++;
  pos = self->used_pos;
  wrap = self->used_wrap;
  for (guint steps = 0; steps < self->size; steps++)
    {
      guint8 *slot = self->desc + 16 * pos;
      guint16 flags = __atomic_load_n ((guint16 *) (slot + PACKED_DESC_FLAGS_OFFSET), __ATOMIC_ACQUIRE);
      PackedDesc d;
      guint n;

      if (!packed_is_used (flags, wrap))
        break;
      memcpy (&d, slot, sizeof d);
      n = d.id < self->size ? self->chain_len[d.id] : 0;
      if (n > 0)
        done++;
      pos += MAX (n, 1);
      if (pos >= self->size)
        {
          pos -= self->size;
          wrap = !wrap;
        }
    }
  *outstanding = out - MIN (done, out);
  return (pos | (wrap ? 0x8000u : 0)) | ((pos | (wrap ? 0x8000u : 0)) << 16);
}

/* --- the ring's own record of what is out with the back-end --- */

/* Reads a u16 of shared memory exactly once: the compiler may not load
 * it again later and see what another process wrote meanwhile. */
static inline guint
shared_u16 (const void *p)
{
  return __atomic_load_n ((const guint16 *) p, __ATOMIC_RELAXED);
}

/* What the record says is out, taken back: the chains (split: following
 * the descriptors' next fields, as add_split() wrote them), the free
 * descriptors and ids, and both positions. The record and the
 * descriptors are shared memory that the back-end may rewrite while we
 * read, so each value is read once, checked, and only that copy is
 * used: every chain within the ring, no descriptor in two chains, no
 * more out than the ring holds, both positions inside it. */
static gboolean
rebuild_from_record (VhostUserDriverRing  *self,
                     guint8               *record,
                     GError              **error)
{
  guint size = self->size;
  guint avail = shared_u16 (R_AVAIL (record)), used = shared_u16 (R_USED (record));
  guint8 *taken = g_new0 (guint8, size);
  guint total = 0;
  const char *why = NULL;

  self->record = record;
  self->n_free_ids = 0;
  for (guint i = 0; i < size && why == NULL; i++)
    {
      guint n = shared_u16 (R_CHAIN (record, i)), d = i;

      if (n == 0)
        continue;
      total += n;
      if (n > size || total > size)
        {
          why = "a chain longer than the ring";
          break;
        }
      self->chain_len[i] = n;
      /* (the buffers were the last driver's: their length is not known) */
      self->writable[i] = G_MAXUINT32;
      self->in_flight++;
      for (guint k = 0; k < n && !self->packed; k++)
        {
          guint next;

          if (d >= size || taken[d])
            {
              why = "a descriptor in two chains, or outside the ring";
              break;
            }
          taken[d] = 1;
          next = shared_u16 (self->desc + 16 * d + G_STRUCT_OFFSET (VringDesc, next));
          self->next[d] = next;
          d = next;
        }
    }
  if (why == NULL && self->packed && ((avail & 0x7fff) >= size || (used & 0x7fff) >= size))
    why = "a position outside the ring";
  if (why != NULL)
    {
      g_free (taken);
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM, "The ring's record is not sound: %s",
                   why);
      return FALSE;
    }
  self->n_free = size - total;

  if (self->packed)
    {
      /* free ids handed out lowest first, as a new ring does */
      for (guint i = size; i-- > 0;)
        if (self->chain_len[i] == 0)
          self->free_ids[self->n_free_ids++] = i;
      self->avail_pos = avail & 0x7fff;
      self->avail_wrap = (avail & 0x8000) != 0;
      self->used_pos = used & 0x7fff;
      self->used_wrap = (used & 0x8000) != 0;
    }
  else
    {
      guint prev = size, first = size;

      /* the free descriptors, in order */
      for (guint i = 0; i < size; i++)
        if (!taken[i])
          {
            if (prev < size)
              self->next[prev] = i;
            else
              first = i;
            prev = i;
          }
      if (first < size)
        {
          self->free_head = first;
          self->next[prev] = first;
        }
      self->avail_idx = avail;
      self->last_used = used;
    }
  g_free (taken);
  return TRUE;
}

/**
 * vhost_user_driver_ring_get_record_size:
 * @size: a ring's number of descriptors
 *
 * How many bytes vhost_user_driver_ring_set_record() needs for a ring of
 * @size.
 *
 * Returns: the record's size
 *
 * Since: 1.0
 */
gsize
vhost_user_driver_ring_get_record_size (guint size)
{
  return RECORD_HEADER + 2 * (gsize) size;
}

/**
 * vhost_user_driver_ring_set_record:
 * @self: a driver ring with nothing out yet
 * @offset: where in the ring's region to keep the record (8-byte aligned,
 *   vhost_user_driver_ring_get_record_size() bytes, outside the ring)
 * @error: return location for a #GError
 *
 * Keeps, in the ring's region, a record of the requests out with the
 * back-end (each head's chain, or each buffer id's) and of both ring
 * positions, updated as requests are added and collected. The region is
 * shared memory: a driver process that dies and is started again, with
 * the region (its memfd) kept by whoever outlives it, takes the ring back
 * with vhost_user_driver_ring_reopen() and goes on collecting what the
 * back-end completes, and adding more, without losing a request or
 * reusing a descriptor still out. The back-end's own in-flight area
 * (`INFLIGHT_SHMFD`) is the other half: it survives the back-end.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
vhost_user_driver_ring_set_record (VhostUserDriverRing  *self,
                                   guint64               offset,
                                   GError              **error)
{
  gsize len = vhost_user_driver_ring_get_record_size (self->size);
  guint64 region_size;
  guint8 *record;

  g_return_val_if_fail (VHOST_USER_IS_DRIVER_RING (self), FALSE);

  region_size = vhost_user_memory_region_get_size (self->region);
  if (offset % 8 != 0 || offset > region_size || len > region_size - offset ||
      (offset < self->offset + (guint64) (self->used - self->desc) +
                (self->packed ? sizeof (PackedEvent) : VRING_USED_SIZE (self->size)) &&
       self->offset < offset + len))
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "A record of %" G_GSIZE_FORMAT " bytes does not fit at 0x%" G_GINT64_MODIFIER
                   "x: it must be 8-byte aligned, in the region and clear of the ring", len, offset);
      return FALSE;
    }
  if (self->in_flight > 0)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                   "The ring has requests out already: record it before adding any");
      return FALSE;
    }
  record = (guint8 *) vhost_user_memory_region_get_host_addr (self->region) + offset;
  memset (record, 0, len);
  *R_VERSION (record) = RECORD_VERSION;
  *R_PACKED (record) = self->packed;
  *R_SIZE (record) = self->size;
  *R_RING (record) = self->offset;
  *R_AVAIL (record) = self->packed ? self->avail_pos | (self->avail_wrap ? 0x8000u : 0) : self->avail_idx;
  *R_USED (record) = self->packed ? self->used_pos | (self->used_wrap ? 0x8000u : 0) : self->last_used;
  /* last: a record half written is no record */
  __atomic_store_n (R_MAGIC (record), RECORD_MAGIC, __ATOMIC_RELEASE);
  self->record = record;
  return TRUE;
}

/**
 * vhost_user_driver_ring_reopen: (constructor)
 * @region: the region a ring recorded itself in
 *   (vhost_user_driver_ring_set_record())
 * @record_offset: where its record is
 * @error: return location for a #GError
 *
 * Takes back a ring that a driver (this process before it restarted, or
 * another) left in @region: its layout, size and place come from the
 * record, what was out with the back-end stays out (collected as the
 * back-end completes it, see vhost_user_driver_ring_get_in_flight()), and
 * the rest is free. The ring goes on recording. It has new kick and call
 * eventfds: give them to the back-end (`SET_VRING_KICK`, `SET_VRING_CALL`).
 * The record is in shared memory and is checked: a chain outside the
 * ring, a descriptor in two chains or more out than the ring holds is an
 * error.
 *
 * Returns: (transfer full): the ring, or %NULL with @error set
 *
 * Since: 1.0
 */
VhostUserDriverRing *
vhost_user_driver_ring_reopen (VhostUserMemoryRegion  *region,
                               guint64                 record_offset,
                               GError                **error)
{
  guint64 region_size, ring_offset;
  guint8 *record;
  guint size;
  gboolean packed;

  g_return_val_if_fail (region != NULL, NULL);

  region_size = vhost_user_memory_region_get_size (region);
  if (record_offset % 8 != 0 || record_offset > region_size || region_size - record_offset < RECORD_HEADER)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "No room for a ring's record at 0x%" G_GINT64_MODIFIER "x", record_offset);
      return NULL;
    }
  record = (guint8 *) vhost_user_memory_region_get_host_addr (region) + record_offset;
  size = *R_SIZE (record);
  packed = *R_PACKED (record) != 0;
  ring_offset = *R_RING (record);
  if (__atomic_load_n (R_MAGIC (record), __ATOMIC_ACQUIRE) != RECORD_MAGIC || *R_VERSION (record) != RECORD_VERSION ||
      size == 0 || size > VRING_MAX_SIZE || vhost_user_driver_ring_get_record_size (size) > region_size - record_offset)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "There is no ring's record at 0x%" G_GINT64_MODIFIER "x", record_offset);
      return NULL;
    }
  /* the ring's own checks (size, place) first, then the chains against it */
  return ring_new (region, ring_offset, size, packed, record, error);
}

/**
 * vhost_user_driver_ring_get_in_flight:
 * @self: a driver ring
 *
 * Gets how many requests are out with the back-end: added and not yet
 * collected with vhost_user_driver_ring_get_used() (after
 * vhost_user_driver_ring_reopen(): those the record said were out, and
 * any added since).
 *
 * Returns: the number of requests out
 *
 * Since: 1.0
 */
guint
vhost_user_driver_ring_get_in_flight (VhostUserDriverRing *self)
{
  g_return_val_if_fail (VHOST_USER_IS_DRIVER_RING (self), 0);
  return self->in_flight;
}
