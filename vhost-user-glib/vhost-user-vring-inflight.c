/* vhost-user-vring-inflight.c: the in-flight area (INFLIGHT_SHMFD)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The front-end shares an area, kept across our restarts, where each ring
 * records the requests out with the device; a back-end that starts on an
 * area its predecessor left behind hands them out again. The split layout
 * is read back here; the packed one is the packed walker's record
 * (vhost-user-vring-packed.c). The front-end can write the area too, so
 * nothing read from it is trusted further than a bound. What the data
 * path writes into it (a pop, a push) is inline, in
 * vhost-user-vring-state-private.h and the split walker.
 */

#include "config.h"

#include <string.h>

#include "vhost-user-debug-private.h"
#include "vhost-user-vring-state-private.h"

/* This queue's part of the area (NULL: no tracking). Read at the next
 * start, when the ring's size and addresses are known. @zeroed: all of
 * it is zeros (nothing written to it yet); an area this ring has written
 * to since it was given it stays written whatever @zeroed says. */
void
vhost_user_vring_set_inflight_area (VhostUserVring *self,
                                    GBytes         *area,
                                    gboolean        zeroed)
{
  GBytes *old;
  guint8 *data = NULL;
  gsize len = 0;

  if (area != NULL)
    data = (guint8 *) g_bytes_get_data (area, &len);
  LOCK (self);
  old = self->inflight;
  /* the same area handed over again keeps what this ring did to it, and
   * a layout it still owes (a running ring records into it) */
  if (data != self->inflight_area || len != self->inflight_len)
    {
      self->inflight_written = FALSE;
      self->inflight_lay_out = FALSE;
    }
  self->inflight = area != NULL ? g_bytes_ref (area) : NULL;
  self->inflight_area = data;
  self->inflight_len = len;
  self->inflight_zeroed = data != NULL && zeroed && !self->inflight_written;
  self->n_resubmit = self->next_resubmit = 0;
  /* the packed walker records into the old area no more: it goes away */
  vhost_user_vring_packed_release_area (&self->packed_ring);
  UNLOCK (self);
  g_clear_pointer (&old, g_bytes_unref);
}

typedef struct {
  guint16 head;
  guint64 counter;
} Resubmit;

static gint
compare_resubmit (gconstpointer a,
                  gconstpointer b,
                  gpointer      user_data)
{
  const Resubmit *x = a, *y = b;

  return x->counter < y->counter ? -1 : x->counter > y->counter;
}

/* At start, with the lock held: a fresh area is laid out; one that
 * survived a back-end that died is read back. The spec's steps: a batch
 * that reached the used ring but not the area is cleared, the requests
 * still in flight are handed out again oldest first, and the next
 * available index is past all of them, whatever base the front-end
 * (which could not ask a dead back-end) sent. */
void
vhost_user_vring_inflight_recover (VhostUserVring *self)
{
  guint8 *a = self->inflight_area, *used;
  guint num = self->size;
  guint16 ring_used;
  g_autofree Resubmit *found = NULL;
  guint n = 0;

  self->n_resubmit = self->next_resubmit = 0;
  if (self->packed && num > 0)
    {
      /* (the packed walker keeps its record itself) */
      self->inflight_zeroed = FALSE;
      self->inflight_written = TRUE;
      g_free (self->resubmit);
      self->resubmit = g_new (guint16, num);
      self->n_resubmit = vhost_user_vring_packed_recover (&PACKED_VIEW (self),
                                                          vhost_user_vring_tracking (self) ? self->inflight_area : NULL,
                                                          self->resubmit);
      self->signalled_used_valid = FALSE;
      if (self->n_resubmit > 0)
        VHOST_USER_NOTE (VRING, "vring %u: %u requests were in flight; resubmitting them from used %u",
                         self->index, self->n_resubmit, (self->base >> 16) & 0x7fff);
      return;
    }
  if (!vhost_user_vring_tracking (self) || num == 0 ||
      (used = vhost_user_vring_ring_part (&self->xlat, FALSE, VHOST_USER_VRING_AREA_DEVICE,
                                             self->address.used_user_addr, 4)) == NULL)
    return;
  ring_used = __atomic_load_n ((guint16 *) (used + 2), __ATOMIC_ACQUIRE);
  self->inflight_counter = 1;

  if (self->inflight_zeroed)
    {
      /* new, and nothing to clear: laid out at the first pop */
      self->inflight_lay_out = TRUE;
      self->inflight_lay_out_used = ring_used;
      return;
    }
  self->inflight_lay_out = FALSE;
  self->inflight_written = TRUE;
  if (*IF_VERSION (a) != 1 || *IF_DESC_NUM (a) != num)
    {
      /* new, or laid out for another ring: nothing in it is ours */
      memset (a, 0, INFLIGHT_HEADER + 16 * (gsize) num);
      *IF_DESC_NUM (a) = num;
      *IF_USED_IDX (a) = ring_used;
      __atomic_store_n (IF_VERSION (a), 1, __ATOMIC_RELEASE);
      return;
    }

  if (*IF_USED_IDX (a) != ring_used)
    {
      guint16 batch = ring_used - *IF_USED_IDX (a);
      guint head = *IF_LAST_BATCH_HEAD (a);

      for (guint k = 0; k < batch && k < num && head < num; k++)
        {
          *IF_INFLIGHT (a, head) = 0;
          head = *IF_NEXT (a, head);
        }
      *IF_USED_IDX (a) = ring_used;
    }

  found = g_new (Resubmit, num);
  for (guint i = 0; i < num; i++)
    if (*IF_INFLIGHT (a, i) == 1)
      {
        found[n].head = i;
        found[n].counter = *IF_COUNTER (a, i);
        self->inflight_counter = MAX (self->inflight_counter, found[n].counter + 1);
        n++;
      }
  g_qsort_with_data (found, n, sizeof *found, compare_resubmit, NULL);

  g_free (self->resubmit);
  self->resubmit = g_new (guint16, MAX (n, 1));
  for (guint i = 0; i < n; i++)
    self->resubmit[i] = found[i].head;
  self->n_resubmit = n;
  self->base = (guint16) (ring_used + n);
  self->used_idx_known = FALSE;
  if (n > 0)
    VHOST_USER_NOTE (VRING, "vring %u: %u requests were in flight; resubmitting them from %u",
                     self->index, n, ring_used);
}

/* The layout a new area gets, written before its first record (with
 * the lock held, as a pop is): the used index is the one seen at start,
 * which nothing has moved since, as nothing was popped. */
void
vhost_user_vring_inflight_lay_out (VhostUserVring *self)
{
  guint8 *a = self->inflight_area;

  self->inflight_lay_out = FALSE;
  self->inflight_zeroed = FALSE;
  self->inflight_written = TRUE;
  *IF_DESC_NUM (a) = self->size;
  *IF_USED_IDX (a) = self->inflight_lay_out_used;
  __atomic_store_n (IF_VERSION (a), 1, __ATOMIC_RELEASE);
}
