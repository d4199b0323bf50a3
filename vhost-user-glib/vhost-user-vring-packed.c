/* vhost-user-vring-packed.c: packed virtqueues as the back-end sees them
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One ring of 16-byte descriptors that the driver makes available and the
 * device overwrites as used, each side with its own wrap counter (virtio
 * 1.2, 2.8). Where the walk stands is kept in the ring's base, in the
 * layout GET_VRING_BASE reports: bits 0-14 the next available position,
 * bit 15 the driver's wrap counter, bits 16-30 the next used position,
 * bit 31 the device's wrap counter.
 *
 * The driver is not trusted: every id, length, address and chain is
 * checked against the ring and guest memory, and a lie breaks the ring
 * (vhost_user_vring_mark_broken()) before anything outside guest memory
 * is touched.
 */

#include "config.h"

#include <string.h>

#include "vhost-user-error.h"
#include "vhost-user-lock-private.h"
#include "vhost-user-vring-packed-private.h"

/* A full barrier between our stores to the ring and the loads of the
 * driver's fields that follow; as in vhost-user-vring.c, TSan needs an
 * RMW where GCC refuses it a fence. */
#ifdef VHOST_USER_TSAN
static int packed_barrier_word;
# define full_barrier() ((void) __atomic_fetch_add (&packed_barrier_word, 0, __ATOMIC_SEQ_CST))
#else
# define full_barrier() __atomic_thread_fence (__ATOMIC_SEQ_CST)
#endif

/* set while push checks a batch: a head named twice is caught */
#define CHAIN_CLAIMED 0x80000000u

/* An indirect table longer than a ring can be is not a request. */
#define MAX_INDIRECT PACKED_MAX_SIZE

/* Sizes the per-id table for a ring of @size; control path only. */
void
vhost_user_vring_packed_resize (VhostUserVringPacked *state,
                                guint                 size)
{
  g_clear_pointer (&state->chains, g_free);
  state->n_chains = MIN (size, PACKED_MAX_SIZE);
  if (state->n_chains > 0)
    state->chains = g_new0 (guint32, state->n_chains);
  vhost_user_vring_packed_forget (state);
}

/* Forgets every request out with the device: the ring was set up anew. */
void
vhost_user_vring_packed_forget (VhostUserVringPacked *state)
{
  if (state->chains != NULL)
    memset (state->chains, 0, state->n_chains * sizeof *state->chains);
  state->in_flight = 0;
  state->used_since_call = 0;
  state->call_known = FALSE;
}

/* The base as the ring keeps it. A front-end that gives only the
 * available half (DPDK does) means the device used all it took: a zero
 * used half is read as used = available. */
guint
vhost_user_vring_packed_base (guint base)
{
  if ((base >> 16) == 0)
    base |= (base & 0xffff) << 16;
  return base;
}

/* @len bytes of ring at front-end address @addr, in one region and
 * aligned to @align in this process, or NULL. */
static guint8 *
ring_part (const VhostUserVringPackedView *view,
           guint64                         addr,
           guint64                         len,
           guint                           align)
{
  guint64 got = len;
  guint8 *p;

  if (view->memory == NULL)
    return NULL;
  p = vhost_user_memory_table_translate_user_addr (view->memory, addr, &got);
  if (p == NULL || got != len || ((guintptr) p & (align - 1)) != 0)
    return NULL;
  return p;
}

static gboolean
add_piece (const VhostUserVringPackedView  *view,
           VhostUserVringElement           *element,
           const PackedDesc                *d,
           gboolean                        *writable_seen,
           GError                         **error)
{
  gboolean writable = (d->flags & PACKED_DESC_F_WRITE) != 0;

  if (writable)
    *writable_seen = TRUE;
  else if (*writable_seen)
    return vhost_user_vring_mark_broken (view->vring, error, "a readable buffer after a writable one");
  return vhost_user_vring_add_buffer (view->vring, element, d->addr, d->len, writable, error);
}

/* The buffers of an indirect table: whole descriptors, read in order
 * (in a table NEXT means nothing, the table's length says where it
 * ends), none of them indirect again. */
static gboolean
add_indirect (const VhostUserVringPackedView  *view,
              VhostUserVringElement           *element,
              const PackedDesc                *d,
              gboolean                        *writable_seen,
              GError                         **error)
{
  guint64 len = d->len;
  const guint8 *table;
  guint n;

  if (d->len == 0 || d->len % sizeof (PackedDesc) != 0)
    return vhost_user_vring_mark_broken (view->vring, error, "an indirect table that is not whole descriptors");
  n = d->len / sizeof (PackedDesc);
  if (n > MAX_INDIRECT)
    return vhost_user_vring_mark_broken (view->vring, error, "an indirect table longer than any ring");
  table = vhost_user_memory_table_translate_gpa (view->memory, d->addr, &len);
  if (table == NULL || len != d->len)
    return vhost_user_vring_mark_broken (view->vring, error, "an indirect table outside guest memory");

  for (guint i = 0; i < n; i++)
    {
      PackedDesc entry;

      /* one copy: the driver may change the table under us */
      memcpy (&entry, table + i * sizeof entry, sizeof entry);
      if (entry.flags & PACKED_DESC_F_INDIRECT)
        return vhost_user_vring_mark_broken (view->vring, error, "an indirect table names another");
      if (!add_piece (view, element, &entry, writable_seen, error))
        return FALSE;
    }
  return TRUE;
}

/* Pops one chain. The caller checked the ring is started, whole and
 * sized, and cleared @element. */
gboolean
vhost_user_vring_packed_pop (const VhostUserVringPackedView  *view,
                             VhostUserVringElement           *element,
                             GError                         **error)
{
  VhostUserVringPacked *state = view->state;
  guint num = view->size;
  guint idx = *view->base & 0x7fff;
  gboolean wrap = (*view->base >> 15) & 1;
  gboolean writable_seen = FALSE;
  guint8 *ring;
  guint16 flags;
  guint n = 0, id = 0;

  if (state->chains == NULL || state->n_chains != num)
    return vhost_user_vring_mark_broken (view->vring, error, "the ring's size is not one a packed ring can have");
  if (idx >= num)
    return vhost_user_vring_mark_broken (view->vring, error, "the available position is outside the ring");
  ring = ring_part (view, view->address->desc_user_addr, sizeof (PackedDesc) * (guint64) num, 16);
  if (ring == NULL)
    return vhost_user_vring_mark_broken (view->vring, error, "the ring is not in guest memory");

  flags = __atomic_load_n ((guint16 *) (ring + sizeof (PackedDesc) * idx + PACKED_DESC_FLAGS_OFFSET),
                           __ATOMIC_ACQUIRE);
  if (!packed_is_avail (flags, wrap))
    {
      /* empty: the driver must kick for the next one. We never ask it not
       * to, but the device area may say otherwise from before; if so,
       * say ENABLE and look once more, for a request made available
       * while the driver still read the old flags. */
      guint8 *device = ring_part (view, view->address->used_user_addr, sizeof (PackedEvent), 2);
      guint16 *device_flags;

      if (device == NULL)
        return vhost_user_vring_mark_broken (view->vring, error, "the device area is not in guest memory");
      device_flags = (guint16 *) (device + G_STRUCT_OFFSET (PackedEvent, flags));
      if (__atomic_load_n (device_flags, __ATOMIC_RELAXED) == PACKED_EVENT_ENABLE)
        return FALSE;
      __atomic_store_n (device_flags, PACKED_EVENT_ENABLE, __ATOMIC_RELAXED);
      full_barrier ();
      flags = __atomic_load_n ((guint16 *) (ring + sizeof (PackedDesc) * idx + PACKED_DESC_FLAGS_OFFSET),
                               __ATOMIC_ACQUIRE);
      if (!packed_is_avail (flags, wrap))
        return FALSE;
    }

  /* The driver publishes a chain's first descriptor last: past that
   * flag, the rest is written. A chain runs over consecutive positions,
   * across the end of the ring, and ends at the first without NEXT,
   * which carries the buffer id. */
  for (;;)
    {
      PackedDesc d;

      /* one copy: the driver may change the ring under us */
      memcpy (&d, ring + sizeof d * idx, sizeof d);

      /* more than the ring holds is a lie, and a chain around the whole
       * ring would walk it forever */
      if (++n > num)
        return vhost_user_vring_mark_broken (view->vring, error, "a descriptor chain is longer than the ring");
      if (n + state->in_flight > num)
        return vhost_user_vring_mark_broken (view->vring, error,
                                             "more descriptors available than the ring holds beside those in use");

      if (d.flags & PACKED_DESC_F_INDIRECT)
        {
          if (n > 1 || (d.flags & PACKED_DESC_F_NEXT))
            return vhost_user_vring_mark_broken (view->vring, error,
                                                 "an indirect descriptor in a chain, or with NEXT");
          if (!add_indirect (view, element, &d, &writable_seen, error))
            return FALSE;
        }
      else if (!add_piece (view, element, &d, &writable_seen, error))
        return FALSE;

      id = d.id;
      if (++idx == num)
        {
          idx = 0;
          wrap = !wrap;
        }
      if (!(d.flags & PACKED_DESC_F_NEXT))
        break;
    }

  if (id >= num)
    return vhost_user_vring_mark_broken (view->vring, error, "a buffer id outside the ring");
  if (state->chains[id] != 0)
    return vhost_user_vring_mark_broken (view->vring, error, "a buffer id that is already in use");

  state->chains[id] = n;
  state->in_flight += n;
  element->head = id;
  *view->base = (*view->base & 0xffff0000u) | idx | ((guint) wrap << 15);
  return TRUE;
}

/* Writes used descriptors for a batch. Every head is checked first (out
 * with the device, named once), so either all are used or none. The
 * caller checked the ring is started, whole, and n <= its size. */
gboolean
vhost_user_vring_packed_push (const VhostUserVringPackedView  *view,
                              const guint                     *heads,
                              const guint                     *lens,
                              guint                            n,
                              GError                         **error)
{
  VhostUserVringPacked *state = view->state;
  guint num = view->size;
  guint used = (*view->base >> 16) & 0x7fff;
  gboolean wrap = (*view->base >> 31) & 1;
  guint16 *first_flags = NULL;
  guint16 first_value = 0;
  guint8 *ring;
  guint i;

  if (n == 0)
    return TRUE;
  if (state->chains == NULL || state->n_chains != num)
    return vhost_user_vring_mark_broken (view->vring, error, "the ring's size is not one a packed ring can have");

  for (i = 0; i < n; i++)
    {
      if (heads[i] >= num || state->chains[heads[i]] == 0 || (state->chains[heads[i]] & CHAIN_CLAIMED))
        break;
      state->chains[heads[i]] |= CHAIN_CLAIMED;
    }
  if (i < n)
    {
      guint bad = heads[i];

      while (i-- > 0)
        state->chains[heads[i]] &= ~CHAIN_CLAIMED;
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "Queue %u has no buffer %u out with the device (or it is named twice)",
                   vhost_user_vring_get_index (view->vring), bad);
      return FALSE;
    }

  ring = ring_part (view, view->address->desc_user_addr, sizeof (PackedDesc) * (guint64) num, 16);
  if (used >= num || ring == NULL)
    {
      for (i = 0; i < n; i++)
        state->chains[heads[i]] &= ~CHAIN_CLAIMED;
      return vhost_user_vring_mark_broken (view->vring, error,
                                           used >= num ? "the used position is outside the ring"
                                                       : "the ring is not in guest memory");
    }

  for (i = 0; i < n; i++)
    {
      guint8 *slot = ring + sizeof (PackedDesc) * used;
      guint32 count = state->chains[heads[i]] & ~CHAIN_CLAIMED;
      guint32 len = lens[i];
      guint16 id = heads[i];
      guint16 *flags = (guint16 *) (slot + PACKED_DESC_FLAGS_OFFSET);

      memcpy (slot + G_STRUCT_OFFSET (PackedDesc, len), &len, sizeof len);
      memcpy (slot + G_STRUCT_OFFSET (PackedDesc, id), &id, sizeof id);
      /* the driver reads used descriptors in order: the first one's
       * flags, stored last, publish the whole batch */
      if (i == 0)
        {
          first_flags = flags;
          first_value = packed_used_flags (wrap);
        }
      else
        __atomic_store_n (flags, packed_used_flags (wrap), __ATOMIC_RELAXED);

      state->chains[id] = 0;
      state->in_flight -= count;
      state->used_since_call = MIN (state->used_since_call, G_MAXUINT / 2) + count;
      /* the used position moves by the chain's length, not by one */
      used += count;
      if (used >= num)
        {
          used -= num;
          wrap = !wrap;
        }
    }
  __atomic_store_n (first_flags, first_value, __ATOMIC_RELEASE);

  *view->base = (*view->base & 0xffffu) | (used << 16) | ((guint) wrap << 31);
  return TRUE;
}

/* Whether the driver wants a call for what was used since the last one:
 * the driver area's flags, and with EVENT_IDX its descriptor event. */
gboolean
vhost_user_vring_packed_wants_call (const VhostUserVringPackedView *view)
{
  VhostUserVringPacked *state = view->state;
  guint8 *driver = ring_part (view, view->address->avail_user_addr, sizeof (PackedEvent), 2);
  guint16 off_wrap, flags;

  if (driver == NULL)
    return TRUE;

  /* our used flags are visible before we read what the driver asked for */
  full_barrier ();
  flags = __atomic_load_n ((guint16 *) (driver + G_STRUCT_OFFSET (PackedEvent, flags)), __ATOMIC_RELAXED);
  off_wrap = __atomic_load_n ((guint16 *) (driver + G_STRUCT_OFFSET (PackedEvent, off_wrap)), __ATOMIC_RELAXED);

  switch (flags & 3)
    {
    case PACKED_EVENT_DISABLE:
      return FALSE;
    case PACKED_EVENT_DESC:
      /* without EVENT_IDX the value is reserved: call, as for ENABLE */
      if (!view->event_idx || !state->call_known)
        return TRUE;
      return packed_need_event (off_wrap, (*view->base >> 16) & 0x7fff, (*view->base >> 31) & 1,
                                state->used_since_call, view->size);
    default:
      return TRUE;
    }
}

/* A call went out: events count from here. */
void
vhost_user_vring_packed_called (VhostUserVringPacked *state)
{
  state->used_since_call = 0;
  state->call_known = TRUE;
}
