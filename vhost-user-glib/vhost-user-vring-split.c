/* vhost-user-vring-split.c: split virtqueues as the back-end sees them
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A descriptor table, an available ring the driver fills and a used ring
 * the device fills (virtio 1.2, 2.7). The ring's base is the next
 * available index.
 *
 * The driver is not trusted: every head, next index, length, address and
 * chain is checked against the ring and guest memory, and a lie is
 * reported (why) before anything outside guest memory is touched;
 * vhost-user-vring.c then breaks the ring. Called with the ring's lock
 * held, by vhost-user-vring.c only.
 */

#include "config.h"

#include <string.h>

#include "vhost-user-error.h"
#include "vhost-user-vring-state-private.h"

/* The driver broke the ring: say why, and stop. */
#define BREAK(why_, reason) (*(why_) = (reason), FALSE)

/* An indirect table longer than this is not a request. */
#define MAX_INDIRECT 65536

typedef gboolean (*DescFunc) (VhostUserVring  *self,
                              guint64          addr,
                              guint32          len,
                              guint16          flags,
                              gpointer         data,
                              const char     **why);

typedef struct {
  VhostUserVringElement *element;
  VhostUserVringWritten *written;
  gboolean               writable_seen;
} PopState;

static gboolean
pop_desc (VhostUserVring  *self,
          guint64          addr,
          guint32          len,
          guint16          flags,
          gpointer         data,
          const char     **why)
{
  PopState *state = data;

  if (flags & VRING_DESC_F_WRITE)
    state->writable_seen = TRUE;
  else if (state->writable_seen)
    return BREAK (why, "a readable buffer after a writable one");
  *why = vhost_user_vring_add_buffer (&self->xlat, state->element, state->written, addr, len,
                                      (flags & VRING_DESC_F_WRITE) != 0);
  return *why == NULL;
}

/* Visits the descriptors of the chain at @head, indirect tables included,
 * each checked: never a read outside guest memory, never an endless walk. */
static gboolean
walk_chain (VhostUserVring  *self,
            guint8          *desc_table,
            guint            head,
            DescFunc         func,
            gpointer         data,
            const char     **why)
{
  const VringDesc *table = (const VringDesc *) desc_table;
  guint num = self->size, table_len = num, i = head, seen = 0, total = 0;
  gboolean indirect = FALSE;

  for (;;)
    {
      VringDesc d;

      /* one copy: the driver may change the ring under us */
      memcpy (&d, &table[i], sizeof d);

      if (d.flags & VRING_DESC_F_INDIRECT)
        {
          guint64 len = d.len;

          if (indirect || (d.flags & VRING_DESC_F_NEXT))
            return BREAK (why, "an indirect descriptor in a chain or an indirect table");
          if (d.len == 0 || d.len % sizeof (VringDesc) != 0 || d.len / sizeof (VringDesc) > MAX_INDIRECT)
            return BREAK (why, "an indirect table that is not whole descriptors");
          table = (const VringDesc *) vhost_user_vring_translate_range (&self->xlat, d.addr, len,
                                                                        VHOST_USER_IOTLB_PERM_RO, FALSE, why);
          if (table == NULL)
            return BREAK (why, self->xlat.iotlb != NULL ? *why : "an indirect table outside guest memory");
          table_len = d.len / sizeof (VringDesc);
          indirect = TRUE;
          seen = 0;
          i = 0;
          continue;
        }

      if (!func (self, d.addr, d.len, d.flags, data, why))
        return FALSE;
      /* a chain visits each descriptor at most once: more is a loop */
      if (++seen > table_len || ++total > num + MAX_INDIRECT)
        return BREAK (why, "a descriptor chain loops");

      if (!(d.flags & VRING_DESC_F_NEXT))
        return TRUE;
      i = d.next;
      if (i >= table_len)
        return BREAK (why, "a descriptor chain leaves its table");
    }
}

/* Reads the available index. On an empty ring, asks for a kick at the
 * next request (EVENT_IDX: avail_event; otherwise no NO_NOTIFY in the
 * used flags) and looks once more: one made available before the driver
 * saw the request would go unkicked. While busy-polling it asks for no
 * kick instead (avail_event left behind, or NO_NOTIFY), and looks on its
 * own. */
static gboolean
read_avail_idx (VhostUserVring  *self,
                guint8          *avail,
                guint16          last_avail,
                guint16         *avail_idx,
                const char     **why)
{
  guint num = self->size;
  guint8 *used;
  guint16 *flags, want;

  *avail_idx = __atomic_load_n ((guint16 *) (avail + VRING_AVAIL_IDX), __ATOMIC_ACQUIRE);
  if (*avail_idx != last_avail)
    return TRUE;
  used = vhost_user_vring_ring_part (&self->xlat, FALSE, VHOST_USER_VRING_AREA_DEVICE, self->address.used_user_addr, VRING_USED_SIZE (num));
  if (used == NULL)
    return BREAK (why, "the used ring is not in guest memory");
  if (self->event_idx)
    {
      /* the driver kicks when its index steps past avail_event: one
       * behind ours is a step it has already taken */
      want = self->polling ? (guint16) (last_avail - 1) : last_avail;
      __atomic_store_n ((guint16 *) (used + VRING_USED_AVAIL_EVENT (num)), want, __ATOMIC_RELAXED);
      vhost_user_vring_log_used (&self->log, &self->address, VRING_USED_AVAIL_EVENT (num), 2);
    }
  else
    {
      flags = (guint16 *) (used + VRING_USED_FLAGS);
      want = self->polling ? VRING_USED_F_NO_NOTIFY : 0;
      if ((__atomic_load_n (flags, __ATOMIC_RELAXED) & VRING_USED_F_NO_NOTIFY) == want)
        return TRUE;
      __atomic_store_n (flags, (__atomic_load_n (flags, __ATOMIC_RELAXED) & ~VRING_USED_F_NO_NOTIFY) | want,
                        __ATOMIC_RELAXED);
      vhost_user_vring_log_used (&self->log, &self->address, VRING_USED_FLAGS, 2);
    }
  if (self->polling)
    return TRUE;
  vhost_user_full_barrier ();
  *avail_idx = __atomic_load_n ((guint16 *) (avail + VRING_AVAIL_IDX), __ATOMIC_ACQUIRE);
  return TRUE;
}

/* Pops one request. The caller checked the ring is started, whole and
 * sized, and cleared @element. Returns FALSE when the ring is empty, or
 * with @why when the driver broke it. */
gboolean
vhost_user_vring_split_pop (VhostUserVring         *self,
                            VhostUserVringElement  *element,
                            const char            **why)
{
  guint num = self->size;
  guint16 last_avail = self->base & 0xffff;
  guint16 avail_idx;
  guint8 *avail, *desc_table;
  PopState state = { element, NULL, FALSE };

  /* with event idx the rings end with used_event / avail_event */
  avail = vhost_user_vring_ring_part (&self->xlat, FALSE, VHOST_USER_VRING_AREA_DRIVER, self->address.avail_user_addr, VRING_AVAIL_SIZE (num));
  desc_table = vhost_user_vring_ring_part (&self->xlat, FALSE, VHOST_USER_VRING_AREA_DESC, self->address.desc_user_addr, 16 * (guint64) num);
  if (avail == NULL || desc_table == NULL)
    return BREAK (why, "the ring is not in guest memory");

  /* what a back-end that died had in flight comes first, oldest first */
  if (self->next_resubmit < self->n_resubmit)
    {
      element->head = self->resubmit[self->next_resubmit++];
      /* (recorded for the size the ring had when it started) */
      if (element->head >= num || self->split_out[element->head] != SPLIT_OUT_NO)
        return BREAK (why, "a request to resubmit is outside the ring");
      state.written = &self->split_written[element->head];
      vhost_user_vring_written_init (state.written);
      if (!walk_chain (self, desc_table, element->head, pop_desc, &state, why))
        return FALSE;
      self->split_out[element->head] = SPLIT_OUT_YES;
      return TRUE;
    }

  if (!read_avail_idx (self, avail, last_avail, &avail_idx, why))
    return FALSE;
  if ((guint16) (avail_idx - last_avail) > num)
    return BREAK (why, "more requests available than the ring holds");
  if (avail_idx == last_avail)
    return FALSE;

  /* read the head only after the index that published it */
  element->head = __atomic_load_n ((guint16 *) (avail + VRING_AVAIL_RING (last_avail % num)), __ATOMIC_RELAXED);
  if (element->head >= num)
    return BREAK (why, "a request's head is outside the ring");

  if (self->split_out[element->head] != SPLIT_OUT_NO)
    return BREAK (why, "a request's head is already out with the device");
  state.written = &self->split_written[element->head];
  vhost_user_vring_written_init (state.written);
  if (!walk_chain (self, desc_table, element->head, pop_desc, &state, why))
    return FALSE;

  vhost_user_vring_inflight_pop (self, element->head);
  self->split_out[element->head] = SPLIT_OUT_YES;
  /* the base is how far the device got: GET_VRING_BASE reports it */
  self->base = (guint16) (last_avail + 1);
  return TRUE;
}

/* Hands back @head, the last request popped from the driver's ring (the
 * caller checked), so the next pop takes it again; and asks the driver to
 * kick when it adds more, since whoever hands a request back is waiting
 * for room: a request made available before that store is found by the
 * caller's next look, any after it kicks. */
void
vhost_user_vring_split_unpop (VhostUserVring *self,
                              guint           head)
{
  guint16 last_avail = (guint16) ((self->base & 0xffff) - 1);
  guint8 *avail, *used;

  self->split_out[head] = SPLIT_OUT_NO;
  if (vhost_user_vring_tracking (self))
    {
      __atomic_store_n (IF_INFLIGHT (self->inflight_area, head), 0, __ATOMIC_RELEASE);
      self->inflight_counter--;
    }
  self->base = last_avail;
  if (self->polling)
    return;
  avail = vhost_user_vring_ring_part (&self->xlat, FALSE, VHOST_USER_VRING_AREA_DRIVER, self->address.avail_user_addr, VRING_AVAIL_SIZE (self->size));
  used = vhost_user_vring_ring_part (&self->xlat, FALSE, VHOST_USER_VRING_AREA_DEVICE, self->address.used_user_addr, VRING_USED_SIZE (self->size));
  if (avail == NULL || used == NULL)
    return;
  if (self->event_idx)
    {
      guint16 avail_idx = __atomic_load_n ((guint16 *) (avail + VRING_AVAIL_IDX), __ATOMIC_ACQUIRE);

      __atomic_store_n ((guint16 *) (used + VRING_USED_AVAIL_EVENT (self->size)), avail_idx, __ATOMIC_RELAXED);
      vhost_user_vring_log_used (&self->log, &self->address, VRING_USED_AVAIL_EVENT (self->size), 2);
    }
  else
    {
      guint16 *flags = (guint16 *) (used + VRING_USED_FLAGS);

      if (__atomic_load_n (flags, __ATOMIC_RELAXED) & VRING_USED_F_NO_NOTIFY)
        {
          __atomic_store_n (flags, __atomic_load_n (flags, __ATOMIC_RELAXED) & ~VRING_USED_F_NO_NOTIFY,
                            __ATOMIC_RELAXED);
          vhost_user_vring_log_used (&self->log, &self->address, VRING_USED_FLAGS, 2);
        }
    }
  vhost_user_full_barrier ();
}

/* Takes the heads back from the device: every one out with it, each
 * once (checked by taking them back, and putting them back out if one
 * is not). */
static gboolean
take_heads (VhostUserVring  *self,
            const guint     *heads,
            guint            n,
            GError         **error)
{
  guint i;

  for (i = 0; i < n && self->split_out[heads[i]] == SPLIT_OUT_YES; i++)
    self->split_out[heads[i]] = SPLIT_OUT_NO;
  if (i == n)
    return TRUE;
  g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
               "Queue %u: descriptor %u is not out with the device (pushed twice, or from a "
               "session that ended)", self->index, heads[i]);
  while (i-- > 0)
    self->split_out[heads[i]] = SPLIT_OUT_YES;
  return FALSE;
}

/* Writes used entries for a batch. The caller checked the ring is
 * running, n <= its size and every head < its size. Returns FALSE with
 * @error for a caller's mistake, or with @why when the driver broke the
 * ring. */
gboolean
vhost_user_vring_split_push (VhostUserVring  *self,
                             const guint     *heads,
                             const guint     *lens,
                             guint            n,
                             const char     **why,
                             GError         **error)
{
  guint num = self->size;
  guint8 *used, *a = self->inflight_area;
  gboolean tracking = vhost_user_vring_tracking (self);
  guint16 first;

  if (!take_heads (self, heads, n, error))
    return FALSE;
  used = vhost_user_vring_ring_part (&self->xlat, FALSE, VHOST_USER_VRING_AREA_DEVICE, self->address.used_user_addr, VRING_USED_SIZE (num));
  if (used == NULL)
    {
      /* still out: the caller gives up what a broken ring holds, once */
      for (guint i = 0; i < n; i++)
        self->split_out[heads[i]] = SPLIT_OUT_YES;
      return BREAK (why, "the used ring is not in guest memory");
    }

  if (!self->used_idx_known)
    {
      self->used_idx = __atomic_load_n ((guint16 *) (used + VRING_USED_IDX), __ATOMIC_RELAXED);
      self->used_idx_known = TRUE;
    }

  /* the pages the device wrote are dirty before the driver may see them
   * used (a migration that syncs the log then has them): the buffers as
   * they were popped, whatever the descriptors say now */
  if (vhost_user_vring_log_on (&self->log))
    for (guint i = 0; i < n; i++)
      vhost_user_vring_log_written (&self->log, &self->split_written[heads[i]], lens[i]);

  /* in-flight tracking: the batch is a list from last_batch_head, so a
   * back-end that dies before the used index reaches the area can tell
   * which entries the driver already has */
  if (tracking)
    {
      /* (a request popped before a stop can be pushed before anything
       * is popped on a new area: the layout goes first) */
      if (G_UNLIKELY (self->inflight_lay_out))
        vhost_user_vring_inflight_lay_out (self);
      for (guint i = 0; i < n; i++)
        {
          *IF_NEXT (a, heads[i]) = *IF_LAST_BATCH_HEAD (a);
          *IF_LAST_BATCH_HEAD (a) = heads[i];
        }
      vhost_user_full_barrier ();
    }

  first = self->used_idx;
  for (guint i = 0; i < n; i++)
    {
      guint32 entry[2] = { heads[i], lens[i] };
      guint slot = (guint16) (first + i) % num;

      memcpy (used + VRING_USED_RING (slot), entry, sizeof entry);
      vhost_user_vring_log_used (&self->log, &self->address, VRING_USED_RING (slot), sizeof entry);
    }
  self->used_idx += n;
  /* the entries are visible before the index that publishes them */
  __atomic_store_n ((guint16 *) (used + VRING_USED_IDX), self->used_idx, __ATOMIC_RELEASE);
  vhost_user_vring_log_used (&self->log, &self->address, VRING_USED_IDX, 2);
  if (vhost_user_vring_log_on (&self->log))
    vhost_user_vring_log_signal (&self->log);

  if (tracking)
    {
      for (guint i = 0; i < n; i++)
        __atomic_store_n (IF_INFLIGHT (a, heads[i]), 0, __ATOMIC_RELEASE);
      __atomic_store_n (IF_USED_IDX (a), self->used_idx, __ATOMIC_RELEASE);
    }
  return TRUE;
}

/* Whether the driver wants to hear about the used entries pushed since the
 * last call: EVENT_IDX's used_event, or the NO_INTERRUPT flag. */
gboolean
vhost_user_vring_split_wants_call (VhostUserVring *self)
{
  guint num = self->size;
  guint8 *avail, *used;
  guint16 used_event;

  avail = vhost_user_vring_ring_part (&self->xlat, FALSE, VHOST_USER_VRING_AREA_DRIVER, self->address.avail_user_addr,
                                      VRING_AVAIL_SIZE (num));
  used = vhost_user_vring_ring_part (&self->xlat, FALSE, VHOST_USER_VRING_AREA_DEVICE, self->address.used_user_addr, 4);
  if (avail == NULL || used == NULL || !self->used_idx_known)
    return TRUE;

  /* our used index is visible before we read what the driver asked for */
  vhost_user_full_barrier ();
  if (!self->event_idx)
    return !(__atomic_load_n ((guint16 *) (avail + VRING_AVAIL_FLAGS), __ATOMIC_RELAXED) &
             VRING_AVAIL_F_NO_INTERRUPT);

  used_event = __atomic_load_n ((guint16 *) (avail + VRING_AVAIL_USED_EVENT (num)), __ATOMIC_RELAXED);
  if (!self->signalled_used_valid)
    return TRUE;
  /* did used_idx step past used_event since the last call? */
  return vring_need_event (used_event, self->used_idx, self->signalled_used);
}
