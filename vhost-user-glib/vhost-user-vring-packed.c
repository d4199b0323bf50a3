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
 * (the walker reports why, and vhost-user-vring.c breaks it) before
 * anything outside guest memory
 * is touched.
 *
 * Every descriptor the device takes is copied into a record in the
 * layout of the specification's packed in-flight area (INFLIGHT_SHMFD):
 * the shared area when the front-end gave one, our own memory
 * otherwise: it tells a back-end restarted after it died what to
 * resubmit. What a push marks in the dirty log is kept apart, per buffer
 * id, from the buffers as they were popped: neither the ring nor an
 * indirect table (both the driver's to rewrite) is read again. The
 * front-end can write the shared area: nothing read from it is trusted
 * further than a bound, and a resubmitted request goes through the
 * checks a popped one does.
 */

#include "config.h"

#include <string.h>

#include "vhost-user-error.h"
#include "vhost-user-lock-private.h"
#include "vhost-user-vring-packed-private.h"
#include "vhost-user-vring-walk-private.h"

/* The driver broke the ring: say why, and stop. */
#define BREAK(why_, reason) (*(why_) = (reason), FALSE)

/* set while push checks a batch: a head named twice is caught */
#define CHAIN_CLAIMED 0x80000000u
/* a chain popped in a session stopped without draining (the device may
 * still push it: it is dropped, and stays in the in-flight area) */
#define CHAIN_ABANDONED 0x40000000u

/* An indirect table longer than a ring can be is not a request. */
#define MAX_INDIRECT PACKED_MAX_SIZE

/* --- the record: the specification's packed in-flight layout ---
 *
 * Header: features (u64), version (u16, 1; 0 = not laid out), desc_num
 * (u16), free_head, old_free_head, used_idx, old_used_idx (u16),
 * used_wrap_counter, old_used_wrap_counter (u8), 7 bytes of padding.
 * Entry: inflight (u8), padding (u8), next, last, num (u16), counter
 * (u64), then the descriptor: id, flags (u16), len (u32), addr (u64).
 *
 * Free entries form a list through next. A chain takes one entry per
 * descriptor from the head of that list (they stay linked in the order
 * taken); its first entry says how many (num), which is its last (last)
 * and when it was taken (counter). A push puts the chain back at the
 * head of the list. The old_* fields are the last consistent state: a
 * back-end that dies halfway through a pop or a push leaves them behind,
 * and its successor rolls back to them. */

#define R_VERSION(r)        ((guint16 *) ((r) + 8))
#define R_DESC_NUM(r)       ((guint16 *) ((r) + 10))
#define R_FREE_HEAD(r)      ((guint16 *) ((r) + 12))
#define R_OLD_FREE_HEAD(r)  ((guint16 *) ((r) + 14))
#define R_USED_IDX(r)       ((guint16 *) ((r) + 16))
#define R_OLD_USED_IDX(r)   ((guint16 *) ((r) + 18))
#define R_USED_WRAP(r)      ((r) + 20)
#define R_OLD_USED_WRAP(r)  ((r) + 21)
#define R_ENTRY(r, i)       ((r) + PACKED_RECORD_HEADER + PACKED_RECORD_ENTRY * (gsize) (i))
#define E_INFLIGHT(e)       ((e) + 0)
#define E_NEXT(e)           ((guint16 *) ((e) + 2))
#define E_LAST(e)           ((guint16 *) ((e) + 4))
#define E_NUM(e)            ((guint16 *) ((e) + 6))
#define E_COUNTER(e)        ((guint64 *) ((e) + 8))
#define E_ID(e)             ((guint16 *) ((e) + 16))
#define E_FLAGS(e)          ((guint16 *) ((e) + 18))
#define E_LEN(e)            ((guint32 *) ((e) + 20))
#define E_ADDR(e)           ((guint64 *) ((e) + 24))

static void record_set_used (guint8 *record, guint used, gboolean wrap);

/* Lays @record out anew for a ring of @size whose used position (and
 * wrap counter, bit 15) is @used: nothing in flight, every entry free. */
static void
record_init (guint8 *record,
             guint   size,
             guint   used)
{
  memset (record, 0, packed_record_size (size));
  *R_DESC_NUM (record) = size;
  for (guint i = 0; i < size; i++)
    *E_NEXT (R_ENTRY (record, i)) = i + 1;   /* the last one's: the end */
  record_set_used (record, used, (used >> 15) & 1);
  __atomic_store_n (R_VERSION (record), 1, __ATOMIC_RELEASE);
}

/* Sets used_idx, old_used_idx and both wrap counters at once: one
 * 8-byte store, so that a back-end dying halfway never leaves an
 * old_used_idx of one lap with a wrap counter of another. */
static void
record_set_used (guint8   *record,
                 guint     used,
                 gboolean  wrap)
{
  guint16 idx = used & 0x7fff;
  guint8 bytes[8] = { 0 };
  guint64 word;

  memcpy (bytes, &idx, sizeof idx);
  memcpy (bytes + 2, &idx, sizeof idx);
  bytes[4] = bytes[5] = !!wrap;
  memcpy (&word, bytes, sizeof word);
  __atomic_store_n ((guint64 *) R_USED_IDX (record), word, __ATOMIC_RELEASE);
}

/* One descriptor out of an entry (a single read of each field: the
 * front-end may be writing the shared area). */
static void
record_read (const guint8 *entry,
             PackedDesc   *d)
{
  memcpy (&d->id, entry + 16, sizeof d->id);
  memcpy (&d->flags, entry + 18, sizeof d->flags);
  memcpy (&d->len, entry + 20, sizeof d->len);
  memcpy (&d->addr, entry + 24, sizeof d->addr);
}

/* Sizes the per-id tables and our own record for a ring of @size;
 * control path only. */
void
vhost_user_vring_packed_resize (VhostUserVringPacked *state,
                                guint                 size)
{
  g_clear_pointer (&state->chains, g_free);
  g_clear_pointer (&state->heads, g_free);
  g_clear_pointer (&state->own_record, g_free);
  g_clear_pointer (&state->written, g_free);
  state->record = NULL;
  state->n_chains = MIN (size, PACKED_MAX_SIZE);
  if (state->n_chains > 0)
    {
      /* chains say which ids are out; heads and written are each
       * written by the pop that takes an id out, before anything reads */
      state->chains = g_new0 (guint32, state->n_chains);
      state->heads = g_new (guint16, state->n_chains);
      state->written = g_new (VhostUserVringWritten, state->n_chains);
      state->own_record = g_malloc (packed_record_size (state->n_chains));
    }
  vhost_user_vring_packed_forget (state);
}

/* Stops recording into the shared area (it is going away): our own
 * record, laid out anew, takes over. Requests out with the device keep
 * their ids (and what the log needs, which is kept apart). */
void
vhost_user_vring_packed_release_area (VhostUserVringPacked *state)
{
  if (state->record == state->own_record && state->record != NULL)
    return;
  state->record = state->own_record;
  if (state->record != NULL)
    record_init (state->record, state->n_chains, 0);
  /* the chains out have no entries in the new record: their pushes must
   * not free (or clear) entries that new requests take */
  if (state->heads != NULL)
    memset (state->heads, 0xff, state->n_chains * sizeof *state->heads);
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
  state->bad_area = NULL;
  state->record = NULL;
  vhost_user_vring_packed_release_area (state);
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
           VhostUserVringArea              area,
           guint64                         addr,
           guint64                         len,
           guint                           align)
{
  guint8 *p = vhost_user_vring_ring_part (view->xlat, TRUE, area, addr, len);

  if (p == NULL || ((guintptr) p & (align - 1)) != 0)
    return NULL;
  return p;
}

static gboolean
add_piece (const VhostUserVringPackedView  *view,
           VhostUserVringElement           *element,
           VhostUserVringWritten           *written,
           const PackedDesc                *d,
           gboolean                        *writable_seen,
           const char                     **why)
{
  gboolean writable = (d->flags & PACKED_DESC_F_WRITE) != 0;

  if (writable)
    *writable_seen = TRUE;
  else if (*writable_seen)
    return BREAK (why, "a readable buffer after a writable one");
  *why = vhost_user_vring_add_buffer (view->xlat, element, written, d->addr, d->len, writable);
  return *why == NULL;
}

/* The buffers of an indirect table: whole descriptors, read in order
 * (in a table NEXT means nothing, the table's length says where it
 * ends), none of them indirect again. */
static gboolean
add_indirect (const VhostUserVringPackedView  *view,
              VhostUserVringElement           *element,
              VhostUserVringWritten           *written,
              const PackedDesc                *d,
              gboolean                        *writable_seen,
              const char                     **why)
{
  guint64 len = d->len;
  const guint8 *table;
  guint n;

  if (d->len == 0 || d->len % sizeof (PackedDesc) != 0)
    return BREAK (why, "an indirect table that is not whole descriptors");
  n = d->len / sizeof (PackedDesc);
  if (n > MAX_INDIRECT)
    return BREAK (why, "an indirect table longer than any ring");
  table = vhost_user_vring_translate_range (view->xlat, d->addr, len, VHOST_USER_IOTLB_PERM_RO, FALSE, why);
  if (table == NULL)
    return BREAK (why, view->xlat->iotlb != NULL ? *why : "an indirect table outside guest memory");

  for (guint i = 0; i < n; i++)
    {
      PackedDesc entry;

      /* one copy: the driver may change the table under us */
      memcpy (&entry, table + i * sizeof entry, sizeof entry);
      if (entry.flags & PACKED_DESC_F_INDIRECT)
        return BREAK (why, "an indirect table names another");
      if (!add_piece (view, element, written, &entry, writable_seen, why))
        return FALSE;
    }
  return TRUE;
}

/* Where a pop stands in the record: the chain's entries are taken from
 * the free list one by one and made the record's only at the end. */
typedef struct {
  guint8 *record;
  guint   head;    /* the chain's first entry */
  guint   last;
  guint   free;    /* the next free entry */
  guint   n;
} Recording;

static void
recording_begin (const VhostUserVringPackedView *view,
                 Recording                      *rec)
{
  rec->record = view->state->record;
  rec->free = rec->head = *R_FREE_HEAD (rec->record);
  rec->last = rec->head;
  rec->n = 0;
}

/* Copies @d into the next free entry. */
static gboolean
recording_add (const VhostUserVringPackedView  *view,
               Recording                       *rec,
               const PackedDesc                *d,
               const char                     **why)
{
  guint8 *e, *head;

  if (rec->free >= view->size)
    return BREAK (why, "the in-flight area's free list leaves the ring");
  e = R_ENTRY (rec->record, rec->free);
  head = R_ENTRY (rec->record, rec->head);
  if (rec->n == 0)
    {
      *E_NUM (head) = 0;
      *E_COUNTER (head) = view->state->counter;
      __atomic_store_n (E_INFLIGHT (head), 1, __ATOMIC_RELAXED);
    }
  *E_ID (e) = d->id;
  *E_FLAGS (e) = d->flags;
  *E_LEN (e) = d->len;
  *E_ADDR (e) = d->addr;
  *E_NUM (head) = ++rec->n;
  rec->last = rec->free;
  rec->free = *E_NEXT (e);
  *R_FREE_HEAD (rec->record) = rec->free;
  return TRUE;
}

/* The chain is the device's: a back-end that dies from here on left it
 * in flight. */
static void
recording_commit (const VhostUserVringPackedView *view,
                  Recording                      *rec)
{
  *E_LAST (R_ENTRY (rec->record, rec->head)) = rec->last;
  view->state->counter++;
  __atomic_store_n (R_OLD_FREE_HEAD (rec->record), rec->free, __ATOMIC_RELEASE);
}

/* The pop failed: the entries taken go back to the free list. */
static void
recording_abort (const VhostUserVringPackedView *view,
                 Recording                      *rec)
{
  if (rec->n > 0 && rec->head < view->size)
    __atomic_store_n (E_INFLIGHT (R_ENTRY (rec->record, rec->head)), 0, __ATOMIC_RELAXED);
  *R_FREE_HEAD (rec->record) = rec->head;
}

/* The descriptors of one chain from position *@idx on, checked, added to
 * @element and recorded. */
static gboolean
walk_chain (const VhostUserVringPackedView  *view,
            guint8                          *ring,
            VhostUserVringElement           *element,
            VhostUserVringWritten           *written,
            Recording                       *rec,
            guint                           *idx,
            gboolean                        *wrap,
            guint                           *n,
            guint                           *id,
            const char                     **why)
{
  VhostUserVringPacked *state = view->state;
  guint num = view->size;
  gboolean writable_seen = FALSE;

  /* The driver publishes a chain's first descriptor last: past that
   * flag, the rest is written. A chain runs over consecutive positions,
   * across the end of the ring, and ends at the first without NEXT,
   * which carries the buffer id. */
  for (;;)
    {
      PackedDesc d;

      /* one copy: the driver may change the ring under us */
      memcpy (&d, ring + sizeof d * *idx, sizeof d);

      /* more than the ring holds is a lie, and a chain around the whole
       * ring would walk it forever */
      if (++*n > num)
        return BREAK (why, "a descriptor chain is longer than the ring");
      if (*n + state->in_flight > num)
        return BREAK (why,
                                             "more descriptors available than the ring holds beside those in use");

      if (d.flags & PACKED_DESC_F_INDIRECT)
        {
          if (*n > 1 || (d.flags & PACKED_DESC_F_NEXT))
            return BREAK (why,
                                                 "an indirect descriptor in a chain, or with NEXT");
          if (!add_indirect (view, element, written, &d, &writable_seen, why))
            return FALSE;
        }
      else if (!add_piece (view, element, written, &d, &writable_seen, why))
        return FALSE;
      if (!recording_add (view, rec, &d, why))
        return FALSE;

      *id = d.id;
      if (++*idx == num)
        {
          *idx = 0;
          *wrap = !*wrap;
        }
      if (!(d.flags & PACKED_DESC_F_NEXT))
        return TRUE;
    }
}

/* Pops one chain. The caller checked the ring is started, whole and
 * sized, and cleared @element. */
gboolean
vhost_user_vring_packed_pop (const VhostUserVringPackedView  *view,
                             VhostUserVringElement           *element,
                             const char                     **why)
{
  VhostUserVringPacked *state = view->state;
  guint num = view->size;
  guint idx = *view->base & 0x7fff;
  gboolean wrap = (*view->base >> 15) & 1;
  Recording rec;
  guint8 *ring;
  guint16 flags;
  guint n = 0, id = 0;
  /* the id is the chain's last word: recorded here, kept under it below */
  VhostUserVringWritten written;

  if (state->chains == NULL || state->n_chains != num || state->record == NULL)
    return BREAK (why, "the ring's size is not one a packed ring can have");
  if (state->bad_area != NULL)
    return BREAK (why, state->bad_area);
  if (idx >= num)
    return BREAK (why, "the available position is outside the ring");
  ring = ring_part (view, VHOST_USER_VRING_AREA_DESC, view->address->desc_user_addr, sizeof (PackedDesc) * (guint64) num, 16);
  if (ring == NULL)
    return BREAK (why, "the ring is not in guest memory");

  flags = __atomic_load_n ((guint16 *) (ring + sizeof (PackedDesc) * idx + PACKED_DESC_FLAGS_OFFSET),
                           __ATOMIC_ACQUIRE);
  if (!packed_is_avail (flags, wrap))
    {
      /* empty: the driver must kick for the next one, unless we busy-poll
       * (then it need not). The device area may say otherwise from
       * before; if so, say ENABLE and look once more, for a request made
       * available while the driver still read the old flags. */
      guint8 *device = ring_part (view, VHOST_USER_VRING_AREA_DEVICE, view->address->used_user_addr,
                                  sizeof (PackedEvent), 2);
      guint16 *device_flags, want = view->polling ? PACKED_EVENT_DISABLE : PACKED_EVENT_ENABLE;

      if (device == NULL)
        return BREAK (why, "the device area is not in guest memory");
      device_flags = (guint16 *) (device + G_STRUCT_OFFSET (PackedEvent, flags));
      if (__atomic_load_n (device_flags, __ATOMIC_RELAXED) == want)
        return FALSE;
      __atomic_store_n (device_flags, want, __ATOMIC_RELAXED);
      if (view->polling)
        {
          vhost_user_vring_log_used (view->log, view->address, G_STRUCT_OFFSET (PackedEvent, flags),
                                     sizeof (guint16));
          return FALSE;
        }
      /* the device area is what QEMU calls the used ring and logs at
       * log_guest_addr */
      vhost_user_vring_log_used (view->log, view->address, G_STRUCT_OFFSET (PackedEvent, flags), sizeof (guint16));
      vhost_user_full_barrier ();
      flags = __atomic_load_n ((guint16 *) (ring + sizeof (PackedDesc) * idx + PACKED_DESC_FLAGS_OFFSET),
                               __ATOMIC_ACQUIRE);
      if (!packed_is_avail (flags, wrap))
        return FALSE;
    }

  vhost_user_vring_written_init (&written);
  recording_begin (view, &rec);
  if (!walk_chain (view, ring, element, &written, &rec, &idx, &wrap, &n, &id, why))
    {
      recording_abort (view, &rec);
      return FALSE;
    }
  if (id >= num || state->chains[id] != 0)
    {
      recording_abort (view, &rec);
      return BREAK (why,
                                           id >= num ? "a buffer id outside the ring"
                                                     : "a buffer id that is already in use");
    }
  recording_commit (view, &rec);

  state->chains[id] = n;
  state->heads[id] = rec.head;
  state->written[id] = written;
  state->in_flight += n;
  element->head = id;
  *view->base = (*view->base & 0xffff0000u) | idx | ((guint) wrap << 15);
  return TRUE;
}

/* Writes used descriptors for a batch. Every head is checked first (out
 * with the device, named once), so either all are used or none. The
 * caller checked the ring is started, whole, and n <= its size.
 *
 * With dirty logging, what the device wrote is marked before the driver
 * can see it used, and so are the used descriptors: at their own
 * guest-physical address in the descriptor ring (QEMU's log_guest_addr
 * is the device area's, where it looks for a packed ring's "used ring"
 * writes; the descriptor ring is guest RAM it syncs like any other).
 *
 * The record follows the specification's steps: each chain's entries
 * back to the free list, the used position, the used flags in the ring,
 * the chains no longer in flight, and last the old_* fields, so that a
 * back-end that dies halfway can be rolled back or forward by the
 * next. */
gboolean
vhost_user_vring_packed_push (const VhostUserVringPackedView  *view,
                              const guint                     *heads,
                              const guint                     *lens,
                              guint                            n,
                              const char                     **why,
                              GError                         **error)
{
  VhostUserVringPacked *state = view->state;
  guint num = view->size;
  guint used = (*view->base >> 16) & 0x7fff;
  gboolean wrap = (*view->base >> 31) & 1;
  guint16 *first_flags = NULL;
  guint16 first_value = 0;
  gboolean logging = vhost_user_vring_log_on (view->log);
  guint64 desc_gpa = 0;
  guint8 *ring, *record = state->record;
  guint i;

  if (n == 0)
    return TRUE;
  if (state->chains == NULL || state->n_chains != num || record == NULL)
    return BREAK (why, "the ring's size is not one a packed ring can have");

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
                   view->index, bad);
      return FALSE;
    }

  ring = ring_part (view, VHOST_USER_VRING_AREA_DESC, view->address->desc_user_addr, sizeof (PackedDesc) * (guint64) num, 16);
  if (used >= num || ring == NULL)
    {
      for (i = 0; i < n; i++)
        state->chains[heads[i]] &= ~CHAIN_CLAIMED;
      return BREAK (why,
                                           used >= num ? "the used position is outside the ring"
                                                       : "the ring is not in guest memory");
    }

  if (logging)
    {
      /* the pages the device wrote are dirty before the driver may see
       * them used (a migration that syncs the log then has them) */
      for (i = 0; i < n; i++)
        vhost_user_vring_log_written (view->log, &state->written[heads[i]], lens[i]);
      if (!(view->address->flags & 1) ||   /* VHOST_VRING_F_LOG */
          !vhost_user_vring_user_addr_to_gpa (view->xlat->memory, view->address->desc_user_addr, &desc_gpa))
        logging = FALSE;
    }

  for (i = 0; i < n; i++)
    {
      guint8 *slot = ring + sizeof (PackedDesc) * used;
      guint32 count = state->chains[heads[i]] & ~CHAIN_CLAIMED;
      guint32 len = lens[i];
      guint16 id = heads[i];
      guint16 *flags = (guint16 *) (slot + PACKED_DESC_FLAGS_OFFSET);
      guint entry = state->heads[id];

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
      if (logging)
        vhost_user_vring_log_write (view->log, desc_gpa + sizeof (PackedDesc) * used, sizeof (PackedDesc));

      /* the chain's entries back to the free list (a chain whose record
       * is gone, or a lie of the front-end's, is left out of it) */
      if (entry < num && *E_INFLIGHT (R_ENTRY (record, entry)))
        {
          guint last = *E_LAST (R_ENTRY (record, entry));

          if (last < num)
            {
              *E_NEXT (R_ENTRY (record, last)) = *R_FREE_HEAD (record);
              *R_FREE_HEAD (record) = entry;
            }
        }

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
  *R_USED_IDX (record) = used;
  *R_USED_WRAP (record) = wrap;
  __atomic_store_n (first_flags, first_value, __ATOMIC_RELEASE);

  for (i = 0; i < n; i++)
    if (state->heads[heads[i]] < num)
      __atomic_store_n (E_INFLIGHT (R_ENTRY (record, state->heads[heads[i]])), 0, __ATOMIC_RELAXED);
  __atomic_store_n (R_OLD_FREE_HEAD (record), *R_FREE_HEAD (record), __ATOMIC_RELEASE);
  record_set_used (record, used, wrap);

  *view->base = (*view->base & 0xffffu) | (used << 16) | ((guint) wrap << 31);
  return TRUE;
}

/* --- a back-end restarted after it died --- */

typedef struct {
  guint16 entry;
  guint64 counter;
} Found;

static gint
compare_found (gconstpointer a,
               gconstpointer b,
               gpointer      user_data)
{
  const Found *x = a, *y = b;

  return x->counter < y->counter ? -1 : x->counter > y->counter;
}

/* At start: records into @area (this ring's part of the in-flight area,
 * room for the ring's size checked by the caller), or into our own
 * record without one. A fresh area (version 0, or laid out for another
 * size) is laid out from the base the front-end gave. One a back-end
 * that died left behind is read back the specification's way: a pop or
 * push it was in the middle of is rolled back, unless the used
 * descriptor at old_used_idx shows the driver already has it (then it
 * is rolled forward); the chains still in flight go in @resubmit (room
 * for the ring's size), oldest first; and the base is set from the area,
 * not from the front-end, which could not ask a dead back-end (QEMU
 * sends the positions of the last clean stop): used where the area says,
 * available just past the chains in flight, the first descriptor no
 * back-end has taken.
 *
 * An area that does not add up leaves the ring to break at its first
 * pop. Returns how many chains to resubmit. */
guint
vhost_user_vring_packed_recover (const VhostUserVringPackedView *view,
                                 guint8                         *area,
                                 guint16                        *resubmit)
{
  VhostUserVringPacked *state = view->state;
  guint num = view->size;
  g_autofree Found *found = NULL;
  guint used, old_used, avail, total = 0, n = 0;
  gboolean wrap, old_wrap, avail_wrap;
  guint8 *ring;

  if (area == NULL)
    {
      vhost_user_vring_packed_release_area (state);
      return 0;
    }
  vhost_user_vring_packed_forget (state);
  if (state->chains == NULL || state->n_chains != num)
    return 0;
  state->record = area;
  state->counter = 1;

  if (__atomic_load_n (R_VERSION (area), __ATOMIC_ACQUIRE) != 1 || *R_DESC_NUM (area) != num)
    {
      /* new, or laid out for another ring: nothing in it is ours */
      record_init (area, num, *view->base >> 16);
      return 0;
    }

  used = *R_USED_IDX (area);
  wrap = *R_USED_WRAP (area) != 0;
  old_used = *R_OLD_USED_IDX (area);
  old_wrap = *R_OLD_USED_WRAP (area) != 0;
  if (used >= num || old_used >= num)
    {
      state->bad_area = "the in-flight area's used position is outside the ring";
      return 0;
    }
  if (used != old_used || wrap != old_wrap)
    {
      guint16 flags = 0;

      /* a push died halfway: did its used descriptors reach the driver?
       * The first one's flags published them all. */
      ring = ring_part (view, VHOST_USER_VRING_AREA_DESC, view->address->desc_user_addr, sizeof (PackedDesc) * (guint64) num, 16);
      if (ring != NULL)
        flags = __atomic_load_n ((guint16 *) (ring + sizeof (PackedDesc) * old_used + PACKED_DESC_FLAGS_OFFSET),
                                 __ATOMIC_ACQUIRE);
      if (ring != NULL && !packed_is_avail (flags, old_wrap))
        {
          *R_OLD_FREE_HEAD (area) = *R_FREE_HEAD (area);
          old_used = used;
          old_wrap = wrap;
        }
    }
  /* roll back what is not committed */
  *R_FREE_HEAD (area) = *R_OLD_FREE_HEAD (area);
  record_set_used (area, old_used, old_wrap);
  used = old_used;
  wrap = old_wrap;

  /* nothing on the free list is in flight (a pop that died halfway left
   * its first entry marked) */
  for (guint k = 0, e = *R_FREE_HEAD (area); k < num && e < num; k++)
    {
      *E_INFLIGHT (R_ENTRY (area, e)) = 0;
      e = *E_NEXT (R_ENTRY (area, e));
    }

  found = g_new (Found, num);
  for (guint e = 0; e < num; e++)
    {
      guint8 *entry = R_ENTRY (area, e);
      guint chain;

      if (*E_INFLIGHT (entry) == 0)
        continue;
      chain = *E_NUM (entry);
      /* each chain took as many descriptors of the ring, and all of them
       * fit in it */
      if (chain == 0 || chain > num - total)
        {
          state->bad_area = "the in-flight area's chains do not fit in the ring";
          return 0;
        }
      total += chain;
      found[n].entry = e;
      found[n].counter = *E_COUNTER (entry);
      state->counter = MAX (state->counter, found[n].counter + 1);
      n++;
    }
  g_qsort_with_data (found, n, sizeof *found, compare_found, NULL);
  for (guint k = 0; k < n; k++)
    resubmit[k] = found[k].entry;

  avail = used + total;
  avail_wrap = wrap;
  if (avail >= num)
    {
      avail -= num;
      avail_wrap = !avail_wrap;
    }
  *view->base = avail | ((guint) avail_wrap << 15) | (used << 16) | ((guint) wrap << 31);
  return n;
}

/* Hands out again a chain recovered from the record at @entry: rebuilt
 * from the copies there, through the checks a pop makes (the front-end
 * can have written any of it). The base already counts it. */
gboolean
vhost_user_vring_packed_resubmit (const VhostUserVringPackedView  *view,
                                  guint                            entry,
                                  VhostUserVringElement           *element,
                                  const char                     **why)
{
  VhostUserVringPacked *state = view->state;
  guint8 *record = state->record;
  guint num = view->size;
  gboolean writable_seen = FALSE;
  guint n, e = entry, id = 0;
  VhostUserVringWritten written = { 0 };

  if (state->chains == NULL || state->n_chains != num || record == NULL || entry >= num)
    return BREAK (why, "an in-flight entry outside the ring");
  n = *E_NUM (R_ENTRY (record, entry));
  if (n == 0 || n > num || n + state->in_flight > num)
    return BREAK (why,
                                         "an in-flight chain longer than the ring holds beside those in use");
  for (guint k = 0; k < n; k++)
    {
      PackedDesc d;

      if (k > 0 && (e = *E_NEXT (R_ENTRY (record, e))) >= num)
        return BREAK (why, "an in-flight chain leaves the ring");
      record_read (R_ENTRY (record, e), &d);
      if (d.flags & PACKED_DESC_F_INDIRECT)
        {
          if (n > 1 || (d.flags & PACKED_DESC_F_NEXT))
            return BREAK (why,
                                                 "an indirect descriptor in a chain, or with NEXT");
          if (!add_indirect (view, element, &written, &d, &writable_seen, why))
            return FALSE;
        }
      else if (!add_piece (view, element, &written, &d, &writable_seen, why))
        return FALSE;
      id = d.id;
    }
  if (e != *E_LAST (R_ENTRY (record, entry)))
    return BREAK (why, "an in-flight chain does not end where it says");
  if (id >= num || state->chains[id] != 0)
    return BREAK (why,
                                         id >= num ? "a buffer id outside the ring"
                                                   : "a buffer id that is already in use");

  state->chains[id] = n;
  state->heads[id] = entry;
  state->written[id] = written;
  state->in_flight += n;
  element->head = id;
  return TRUE;
}

/* Whether the driver wants a call for what was used since the last one:
 * the driver area's flags, and with EVENT_IDX its descriptor event. */
gboolean
vhost_user_vring_packed_wants_call (const VhostUserVringPackedView *view)
{
  VhostUserVringPacked *state = view->state;
  guint8 *driver = ring_part (view, VHOST_USER_VRING_AREA_DRIVER, view->address->avail_user_addr, sizeof (PackedEvent), 2);
  guint16 off_wrap, flags;

  if (driver == NULL)
    return TRUE;

  /* our used flags are visible before we read what the driver asked for */
  vhost_user_full_barrier ();
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

/* --- a session stopped without draining (GET_VRING_BASE_SKIP_DRAIN) --- */

/* Every chain out with the device now belongs to a session that ended:
 * its record stays in flight (a successor resubmits it), its push is
 * dropped. Returns how many chains that is. */
guint
vhost_user_vring_packed_abandon (VhostUserVringPacked *state)
{
  guint n = 0;

  for (guint id = 0; id < state->n_chains; id++)
    if (state->chains[id] != 0 && !(state->chains[id] & CHAIN_ABANDONED))
      {
        state->chains[id] |= CHAIN_ABANDONED;
        n++;
      }
  state->in_flight = 0;
  return n;
}

gboolean
vhost_user_vring_packed_is_abandoned (VhostUserVringPacked *state,
                                      guint                 id)
{
  return id < state->n_chains && (state->chains[id] & CHAIN_ABANDONED) != 0;
}

/* Hands back @id, the last chain popped (the caller checked), so the next
 * pop takes it again: the position goes back over its descriptors, and its
 * record entries, taken last from the free list, go back to its front.
 * Then asks the driver to kick when it adds more (the caller is waiting
 * for room; see vhost_user_vring_split_unpop()). */
void
vhost_user_vring_packed_unpop (const VhostUserVringPackedView *view,
                               guint                           id)
{
  VhostUserVringPacked *state = view->state;
  guint num = view->size;
  guint n = state->chains[id];
  guint idx = *view->base & 0x7fff;
  gboolean wrap = (*view->base >> 15) & 1;
  guint entry = state->heads[id];
  guint8 *device;

  if (idx >= n)
    idx -= n;
  else
    {
      idx = idx + num - n;
      wrap = !wrap;
    }
  if (entry < num)
    {
      __atomic_store_n (E_INFLIGHT (R_ENTRY (state->record, entry)), 0, __ATOMIC_RELAXED);
      *R_FREE_HEAD (state->record) = entry;
      __atomic_store_n (R_OLD_FREE_HEAD (state->record), entry, __ATOMIC_RELEASE);
    }
  state->counter--;
  state->chains[id] = 0;
  state->in_flight -= MIN (n, state->in_flight);
  *view->base = (*view->base & 0xffff0000u) | idx | ((guint) wrap << 15);

  if (view->polling)
    return;
  device = ring_part (view, VHOST_USER_VRING_AREA_DEVICE, view->address->used_user_addr, sizeof (PackedEvent), 2);
  if (device == NULL)
    return;
  if (__atomic_load_n ((guint16 *) (device + G_STRUCT_OFFSET (PackedEvent, flags)), __ATOMIC_RELAXED) != PACKED_EVENT_ENABLE)
    {
      __atomic_store_n ((guint16 *) (device + G_STRUCT_OFFSET (PackedEvent, flags)), PACKED_EVENT_ENABLE,
                        __ATOMIC_RELAXED);
      vhost_user_vring_log_used (view->log, view->address, G_STRUCT_OFFSET (PackedEvent, flags), sizeof (guint16));
    }
  vhost_user_full_barrier ();
}

/* The device pushed an abandoned chain: it is gone from our books, not
 * from the record. */
void
vhost_user_vring_packed_drop (VhostUserVringPacked *state,
                              guint                 id)
{
  if (vhost_user_vring_packed_is_abandoned (state, id))
    state->chains[id] = 0;
}

/* Request @id, out with the device on a ring the driver broke, is given
 * up: no longer out, so that giving it up again finds nothing. Returns
 * whether it was out. */
gboolean
vhost_user_vring_packed_give_up (VhostUserVringPacked *state,
                                 guint                 id)
{
  guint32 n = id < state->n_chains ? state->chains[id] : 0;

  if (n == 0 || (n & (CHAIN_CLAIMED | CHAIN_ABANDONED)))
    return FALSE;
  state->chains[id] = 0;
  state->in_flight -= MIN (n, state->in_flight);
  return TRUE;
}

/* A new session starts: the ids of the old one are free again. */
void
vhost_user_vring_packed_forget_abandoned (VhostUserVringPacked *state)
{
  for (guint id = 0; id < state->n_chains; id++)
    if (state->chains[id] & CHAIN_ABANDONED)
      state->chains[id] = 0;
}
