/* vhost-user-iotlb.c: I/O virtual addresses, as the front-end maps them
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A sorted array of disjoint ranges, each an IOVA range, the front-end
 * address it starts at and the access the guest's IOMMU allows. The
 * front-end is not trusted: an update that wraps, is empty, has no known
 * permission or overlaps a different mapping is refused; an invalidation
 * may name any range, and one that runs past the end of the address
 * space (QEMU's whole-space flush: iova 0xfef00000, size
 * 0xffffffff01100000, whose end is 2^64) means up to that end.
 *
 * An invalidation removes every entry it touches, whole: the table is a
 * cache of the guest's IOMMU, and what it no longer holds is asked for
 * again. Fences let the back-end hold an invalidation's answer until the
 * requests that may still write through an old translation are done
 * (see vhost-user-backend-handlers.c).
 */

#include "config.h"

#include "vhost-user-error.h"
#include "vhost-user-iotlb-private.h"
#include "vhost-user-lock-private.h"

typedef struct {
  guint64 iova;
  guint64 last;       /* inclusive: a range may end at 2^64 - 1 */
  guint64 user_addr;
  guint   perm;
} Entry;

struct _VhostUserIotlb
{
  gatomicrefcount ref_count;
  GMutex          lock;
  GArray         *entries;     /* Entry, sorted by iova, disjoint */
  guint           last_hit;    /* where the last lookup found its entry */
  guint           max_entries;
  GQueue          fences;      /* oldest first */
};

struct _VhostUserIotlbFence
{
  VhostUserIotlb          *iotlb;
  guint                    count;     /* under the table's lock */
  gboolean                 done;
  VhostUserIotlbFenceFunc  func;
  gpointer                 user_data;
};

#define LOCK(self)   vhost_user_mutex_lock (&(self)->lock)
#define UNLOCK(self) vhost_user_mutex_unlock (&(self)->lock)

VhostUserIotlb *
vhost_user_iotlb_new (guint max_entries)
{
  VhostUserIotlb *self = g_new0 (VhostUserIotlb, 1);

  g_atomic_ref_count_init (&self->ref_count);
  g_mutex_init (&self->lock);
  self->entries = g_array_new (FALSE, FALSE, sizeof (Entry));
  self->max_entries = MAX (max_entries, 1);
  g_queue_init (&self->fences);
  return self;
}

VhostUserIotlb *
vhost_user_iotlb_ref (VhostUserIotlb *self)
{
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
vhost_user_iotlb_unref (VhostUserIotlb *self)
{
  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;
  /* every fence holds a reference: none is left */
  g_array_unref (self->entries);
  g_mutex_clear (&self->lock);
  g_free (self);
}

/* With the lock held: the index of the first entry whose range ends at
 * or after @iova (entries are disjoint and sorted, so their ends are
 * sorted too). */
static guint
first_ending_at_or_after (VhostUserIotlb *self,
                          guint64         iova)
{
  guint lo = 0, hi = self->entries->len;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;

      if (g_array_index (self->entries, Entry, mid).last < iova)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

/* The last byte of [@iova, @iova + @size), or 2^64 - 1 when the range
 * runs past the end of the address space. */
static guint64
range_last (guint64 iova,
            guint64 size)
{
  return size - 1 > G_MAXUINT64 - iova ? G_MAXUINT64 : iova + (size - 1);
}

gboolean
vhost_user_iotlb_update (VhostUserIotlb  *self,
                         guint64          iova,
                         guint64          size,
                         guint64          user_addr,
                         guint            perm,
                         GError         **error)
{
  Entry entry = { iova, 0, user_addr, perm };
  guint i;

  if (size == 0)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "IOTLB update of IOVA 0x%" G_GINT64_MODIFIER "x with size 0", iova);
      return FALSE;
    }
  if (perm < VHOST_USER_IOTLB_PERM_RO || perm > VHOST_USER_IOTLB_PERM_RW)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "IOTLB update of IOVA 0x%" G_GINT64_MODIFIER "x with permission %u (not read, write or both)",
                   iova, perm);
      return FALSE;
    }
  if (size - 1 > G_MAXUINT64 - iova || size - 1 > G_MAXUINT64 - user_addr)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "IOTLB update of IOVA 0x%" G_GINT64_MODIFIER "x, size 0x%" G_GINT64_MODIFIER "x at "
                   "0x%" G_GINT64_MODIFIER "x wraps around the address space", iova, size, user_addr);
      return FALSE;
    }
  entry.last = iova + (size - 1);

  LOCK (self);
  i = first_ending_at_or_after (self, iova);
  if (i < self->entries->len && g_array_index (self->entries, Entry, i).iova <= entry.last)
    {
      const Entry *old = &g_array_index (self->entries, Entry, i);
      gboolean same = old->iova == entry.iova && old->last == entry.last &&
                      old->user_addr == entry.user_addr && old->perm == entry.perm;

      UNLOCK (self);
      /* the same mapping twice is what two rings that missed the same
       * page get back: nothing to do */
      if (same)
        return TRUE;
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "IOTLB update of IOVA 0x%" G_GINT64_MODIFIER "x, size 0x%" G_GINT64_MODIFIER "x overlaps "
                   "another mapping (invalidate it first)", iova, size);
      return FALSE;
    }
  if (self->entries->len >= self->max_entries)
    {
      /* a cache: one entry goes (not the one just used), and is asked
       * for again if needed; a front-end cannot make the table grow */
      guint victim = (self->last_hit + 1) % self->entries->len;

      g_array_remove_index (self->entries, victim);
      if (victim < i)
        i--;
    }
  g_array_insert_val (self->entries, i, entry);
  self->last_hit = i;
  UNLOCK (self);
  return TRUE;
}

/* Whether anything was removed says nothing of what the rings hold:
 * entries go whole, so a held buffer's IOVA may be gone from the table
 * long before the guest invalidates it (the caller checks the rings). */
gboolean
vhost_user_iotlb_invalidate (VhostUserIotlb  *self,
                             guint64          iova,
                             guint64          size,
                             guint           *n_removed,
                             GError         **error)
{
  guint64 last;
  guint i, end;

  *n_removed = 0;
  if (size == 0)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "IOTLB invalidation of IOVA 0x%" G_GINT64_MODIFIER "x with size 0", iova);
      return FALSE;
    }
  last = range_last (iova, size);

  LOCK (self);
  i = first_ending_at_or_after (self, iova);
  for (end = i; end < self->entries->len && g_array_index (self->entries, Entry, end).iova <= last; end++)
    ;
  if (end > i)
    g_array_remove_range (self->entries, i, end - i);
  *n_removed = end - i;
  self->last_hit = 0;
  UNLOCK (self);
  return TRUE;
}

/* The front-end address of @iova for an access of @perm, and in @len
 * how much of the wanted length the same entry covers (at least 1). */
VhostUserIotlbResult
vhost_user_iotlb_translate (VhostUserIotlb *self,
                            guint64         iova,
                            guint64        *len,
                            guint           perm,
                            guint64        *user_addr)
{
  VhostUserIotlbResult result = VHOST_USER_IOTLB_NOT_CACHED;
  const Entry *e = NULL;
  guint i;

  LOCK (self);
  /* rings and consecutive buffers hit the same entry again and again */
  i = self->last_hit;
  if (i < self->entries->len &&
      g_array_index (self->entries, Entry, i).iova <= iova && iova <= g_array_index (self->entries, Entry, i).last)
    e = &g_array_index (self->entries, Entry, i);
  else
    {
      i = first_ending_at_or_after (self, iova);
      if (i < self->entries->len && g_array_index (self->entries, Entry, i).iova <= iova)
        e = &g_array_index (self->entries, Entry, i);
    }
  if (e != NULL)
    {
      self->last_hit = i;
      if ((e->perm & perm) != perm)
        result = VHOST_USER_IOTLB_DENIED;
      else
        {
          guint64 room = e->last - iova;   /* bytes after the first */

          if (*len - 1 > room)
            *len = room + 1;
          *user_addr = e->user_addr + (iova - e->iova);
          result = VHOST_USER_IOTLB_HIT;
        }
    }
  UNLOCK (self);
  return result;
}

/* Forgets every mapping, not as the guest's invalidation but because the
 * device stops: the guest's IOMMU may be reset meanwhile, with no
 * invalidation reaching us. */
void
vhost_user_iotlb_flush (VhostUserIotlb *self)
{
  LOCK (self);
  g_array_set_size (self->entries, 0);
  self->last_hit = 0;
  UNLOCK (self);
}

guint
vhost_user_iotlb_get_n_entries (VhostUserIotlb *self)
{
  guint n;

  LOCK (self);
  n = self->entries->len;
  UNLOCK (self);
  return n;
}

/* Whether some entry holds @iova, whatever its permission. */
gboolean
vhost_user_iotlb_covers (VhostUserIotlb *self,
                         guint64         iova)
{
  gboolean found;
  guint i;

  LOCK (self);
  i = first_ending_at_or_after (self, iova);
  found = i < self->entries->len && g_array_index (self->entries, Entry, i).iova <= iova;
  UNLOCK (self);
  return found;
}

/* --- fences --- */

/* A fence with one hold, its maker's: released last, once every request
 * it had to wait for was given a hold of its own. */
VhostUserIotlbFence *
vhost_user_iotlb_fence_new (VhostUserIotlb          *self,
                            VhostUserIotlbFenceFunc  func,
                            gpointer                 user_data)
{
  VhostUserIotlbFence *fence = g_new0 (VhostUserIotlbFence, 1);

  fence->iotlb = vhost_user_iotlb_ref (self);
  fence->count = 1;
  fence->func = func;
  fence->user_data = user_data;
  LOCK (self);
  g_queue_push_tail (&self->fences, fence);
  UNLOCK (self);
  return fence;
}

void
vhost_user_iotlb_fence_hold (VhostUserIotlbFence *fence)
{
  LOCK (fence->iotlb);
  fence->count++;
  UNLOCK (fence->iotlb);
}

/* The last release completes the fence, and those after it that were
 * only waiting for it: an invalidation is answered after the ones before
 * it, as the front-end sent them. The functions run under the table's
 * lock (vhost_user_iotlb_sync() waits for them, cancelling stops them). */
void
vhost_user_iotlb_fence_release (VhostUserIotlbFence *fence)
{
  VhostUserIotlb *self = fence->iotlb;
  VhostUserIotlbFence *done[8];
  guint n;

  do
    {
      n = 0;
      LOCK (self);
      if (fence != NULL)
        {
          g_assert (fence->count > 0);
          if (--fence->count == 0)
            fence->done = TRUE;
          fence = NULL;
        }
      while (n < G_N_ELEMENTS (done) && !g_queue_is_empty (&self->fences) &&
             ((VhostUserIotlbFence *) g_queue_peek_head (&self->fences))->done)
        {
          done[n] = g_queue_pop_head (&self->fences);
          if (done[n]->func != NULL)
            done[n]->func (done[n]->user_data);
          n++;
        }
      UNLOCK (self);
      for (guint i = 0; i < n; i++)
        {
          vhost_user_iotlb_unref (done[i]->iotlb);
          g_free (done[i]);
        }
    }
  while (n == G_N_ELEMENTS (done));
}

/* Returns once no fence function runs. */
void
vhost_user_iotlb_sync (VhostUserIotlb *self)
{
  LOCK (self);
  UNLOCK (self);
}

/* The fences not completed yet will call nothing: their data, for the
 * caller to let go of, oldest first. */
GSList *
vhost_user_iotlb_cancel_fences (VhostUserIotlb *self)
{
  GSList *data = NULL;

  LOCK (self);
  for (GList *l = self->fences.head; l != NULL; l = l->next)
    {
      VhostUserIotlbFence *fence = l->data;

      if (fence->func != NULL)
        data = g_slist_prepend (data, fence->user_data);

    }
  UNLOCK (self);
  return g_slist_reverse (data);
}
