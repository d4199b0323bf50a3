/* vhost-user-vring-io.c: taking requests off a ring and giving them back
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The data path of VhostUserVring (pop, push, unpop, a ring the driver
 * broke) and what the IOTLB does to it; the ring's state and its control
 * plane are in vhost-user-vring.c.
 */

#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "vhost-user-debug-private.h"
#include "vhost-user-error.h"
#include "vhost-user-peer-fd-private.h"
#include "vhost-user-lock-private.h"
#include "vhost-user-vring-state-private.h"

static gboolean
run_broken_func (gpointer user_data)
{
  VhostUserVring *self = user_data;
  VhostUserVringBrokenFunc func;
  gpointer data;

  LOCK (self);
  func = self->broken_func;
  data = self->broken_data;
  UNLOCK (self);
  if (func != NULL)
    func (self, data);
  return G_SOURCE_REMOVE;
}

/* With the lock held: the driver broke the ring. It is left alone; the
 * front-end hears of it on the ring's error eventfd, and the back-end
 * (in its own context, later: never under this lock) marks the device
 * as needing a reset where the status is negotiated. */
static gboolean
broken (VhostUserVring  *self,
        GError         **error,
        const char      *what)
{
  if (!self->broken)
    {
      int err = self->fds[VHOST_USER_VRING_FD_ERR];

      VHOST_USER_NOTE (VRING, "vring %u is broken: %s", self->index, what);
      if (err >= 0)
        vhost_user_eventfd_signal (err);
      if (self->broken_func != NULL)
        {
          GSource *source = g_idle_source_new ();

          g_source_set_static_name (source, "VhostUserVring broken");
          g_source_set_callback (source, run_broken_func, g_object_ref (self), g_object_unref);
          g_source_attach (source, self->context);
          g_source_unref (source);
        }
    }
  self->broken = TRUE;
  g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
               "Queue %u: %s; the ring is not touched again until it is set up anew", self->index, what);
  return FALSE;
}

/* With the lock held: the ring's parts through the IOTLB, before a pop
 * uses them: all three at once, so that a push never has to ask for
 * one. After an invalidation the old translations are kept until the new
 * ones are all there (pushes of requests popped before it still use
 * them, which the invalidation's answer waits for). */
static gboolean
refresh_areas (VhostUserVring  *self,
               const char     **why)
{
  VhostUserVringXlat *x = &self->xlat;
  guint64 num = self->size;
  const guint64 addr[VHOST_USER_VRING_N_AREAS] = {
    self->address.desc_user_addr, self->address.avail_user_addr, self->address.used_user_addr,
  };
  const guint64 len[VHOST_USER_VRING_N_AREAS] = {
    16 * num,
    self->packed ? 4 : VRING_AVAIL_SIZE (num),
    self->packed ? 4 : VRING_USED_SIZE (num),
  };
  guint8 *p[VHOST_USER_VRING_N_AREAS];

  if (!x->stale && x->area[0] != NULL && x->area[1] != NULL && x->area[2] != NULL)
    return TRUE;
  for (guint i = 0; i < VHOST_USER_VRING_N_AREAS; i++)
    {
      p[i] = vhost_user_vring_translate_range (x, addr[i], len[i], vhost_user_vring_area_perm (self->packed, i),
                                               TRUE, why);
      if (p[i] == NULL)
        return FALSE;
    }
  for (guint i = 0; i < VHOST_USER_VRING_N_AREAS; i++)
    {
      x->area[i] = p[i];
      x->area_addr[i] = addr[i];
      x->area_len[i] = len[i];
    }
  x->stale = FALSE;
  return TRUE;
}

/* With the lock held: a pop missed in the IOTLB. The ring looks empty
 * until the front-end sends the mapping (vhost_user_vring_iotlb_updated()
 * kicks it then); it is asked once per IOVA, not on every kick. */
static gboolean
park (VhostUserVring *self)
{
  if (!self->parked || self->parked_iova != self->xlat.miss_iova)
    {
      VHOST_USER_NOTE (VRING, "vring %u: IOTLB miss at 0x%" G_GINT64_MODIFIER "x, parked", self->index,
                       self->xlat.miss_iova);
      self->miss_pending = TRUE;
      self->parked_perm = self->xlat.miss_perm;
      if (self->miss_func != NULL)
        self->miss_func (self, self->miss_data);
    }
  self->parked = TRUE;
  self->parked_iova = self->xlat.miss_iova;
  return FALSE;
}

static gboolean
pop_locked (VhostUserVring         *self,
            VhostUserVringElement  *element,
            GError                **error)
{
  const char *why = NULL;
  guint resubmit_at;
  gboolean ok;

  element->n_in = element->n_out = 0;
  element->in_len = element->out_len = 0;

  if (G_UNLIKELY (self->pending_error != NULL))
    {
      g_propagate_error (error, g_steal_pointer (&self->pending_error));
      return FALSE;
    }
  if (!self->started || self->broken || self->size == 0)
    return FALSE;
  /* a kick handler's run has popped its budget: "empty" for now, the
   * ring untouched (kicks stay as they are; the handler runs again from
   * its own source) */
  if (G_UNLIKELY (self->budget_left == 0) && self->budget_thread == g_thread_self ())
    {
      self->budget_spent = TRUE;
      return FALSE;
    }
  self->xlat.missed = FALSE;
  self->xlat.span_first = G_MAXUINT64;
  self->xlat.span_last = 0;
  resubmit_at = self->next_resubmit;
  if (self->xlat.iotlb != NULL && !refresh_areas (self, &why))
    return self->xlat.missed ? park (self) : broken (self, error, why);
  if (!self->packed)
    ok = vhost_user_vring_split_pop (self, element, &why);
  /* what a back-end that died had in flight comes first, oldest first */
  else if (self->next_resubmit < self->n_resubmit)
    ok = vhost_user_vring_packed_resubmit (&PACKED_VIEW (self), self->resubmit[self->next_resubmit++], element,
                                           &why);
  else
    ok = vhost_user_vring_packed_pop (&PACKED_VIEW (self), element, &why);
  if (ok)
    {
      self->in_flight++;
      if (self->budget_left != G_MAXUINT && self->budget_left > 0 && self->budget_thread == g_thread_self ())
        self->budget_left--;
      if (resubmit_at != self->next_resubmit)
        self->unpoppable = 0;
      else
        {
          self->recent[self->recent_top++ % VHOST_USER_VRING_MAX_UNPOP] = element->head;
          self->unpoppable = MIN (self->unpoppable + 1, VHOST_USER_VRING_MAX_UNPOP);
        }
      if (self->xlat.iotlb != NULL && element->head < self->n_fences)
        {
          self->spans[2 * element->head] = self->xlat.span_first;
          self->spans[2 * element->head + 1] = self->xlat.span_last;
        }
      return TRUE;
    }
  if (self->xlat.missed)
    {
      /* a request to resubmit is tried again, not lost */
      self->next_resubmit = resubmit_at;
      return park (self);
    }
  return why != NULL ? broken (self, error, why) : FALSE;
}

/**
 * vhost_user_vring_pop:
 * @self: a started ring
 * @element: (out caller-allocates): where to put the request
 * @error: return location for a #GError
 *
 * Takes the next request the driver made available: its descriptor chain
 * (indirect tables included), translated to buffers in this process. The
 * driver is not trusted: a head or next index out of range, a loop, an
 * indirect table that is not whole descriptors, a buffer outside guest
 * memory, readable buffers after writable ones, or more outstanding
 * requests than the ring holds are an error, and the ring is left alone
 * from then on (until the front-end sets it up again). Never allocates.
 *
 * Split and packed rings (`VIRTIO_F_RING_PACKED`) alike: for a packed
 * ring the `head` of a [struct@VhostUser.VringElement] is the buffer
 * id, a chain runs over consecutive descriptors, and an id out of range
 * or already out with the device, or a chain longer than the ring,
 * breaks it too.
 *
 * With `VIRTIO_F_ACCESS_PLATFORM` (a device behind the guest's IOMMU)
 * every address is an I/O virtual address, translated through the IOTLB
 * the front-end keeps: one it has not mapped yet makes the ring look
 * empty while the back-end asks for it, and the kick handler runs again
 * once it is mapped; a device-writable buffer the IOMMU maps read-only
 * (or a readable one it maps write-only) is an error, as is an IOVA the
 * front-end says it will not map.
 *
 * With `INFLIGHT_SHMFD` negotiated, a back-end restarted after it died
 * first gets the requests its predecessor had popped and not pushed, in
 * the order they were popped. On a packed ring they are rebuilt from the
 * copies of their descriptors in the in-flight area, checked as a pop
 * checks the ring, and the ring's positions come from the area too, not
 * from the base the front-end sent (which cannot know them).
 *
 * Returns: %TRUE with @element filled, %FALSE when the ring is empty, or
 *   a kick handler's run has popped the ring's budget
 *   (vhost_user_vring_set_budget()), (no @error) or broken (@error set)
 *
 * Since: 1.0
 */
gboolean
vhost_user_vring_pop (VhostUserVring         *self,
                      VhostUserVringElement  *element,
                      GError                **error)
{
  gboolean ok;

  g_return_val_if_fail (VHOST_USER_IS_VRING (self), FALSE);
  g_return_val_if_fail (element != NULL, FALSE);

  LOCK (self);
  ok = pop_locked (self, element, error);
  if (ok)
    self->outstanding++;
  UNLOCK (self);
  return ok;
}

/**
 * vhost_user_vring_pop_batch: (skip)
 * @self: a started ring
 * @elements: (array length=n) (out caller-allocates): where to put the requests
 * @n: how many @elements there are room for
 * @n_popped: (out): how many were popped, also when this fails
 * @error: return location for a #GError
 *
 * Pops up to @n requests at once, as vhost_user_vring_pop() does one, with
 * one lock taken for the batch: what a device that serves requests in
 * batches (a network transmit queue) calls, before one
 * vhost_user_vring_push_batch() and one vhost_user_vring_call() for all of
 * them. (Bindings pop one at a time, with vhost_user_vring_pop().)
 *
 * Returns: %TRUE with *@n_popped requests (0 when the ring is empty, or
 *   the handler's budget is spent), or
 *   %FALSE with @error when the driver broke the ring; the *@n_popped
 *   requests before the break are still the caller's to push
 *
 * Since: 1.0
 */
gboolean
vhost_user_vring_pop_batch (VhostUserVring         *self,
                            VhostUserVringElement  *elements,
                            guint                   n,
                            guint                  *n_popped,
                            GError                **error)
{
  GError *local_error = NULL;
  guint i;

  g_return_val_if_fail (VHOST_USER_IS_VRING (self), FALSE);
  g_return_val_if_fail (n == 0 || elements != NULL, FALSE);
  g_return_val_if_fail (n_popped != NULL, FALSE);

  LOCK (self);
  for (i = 0; i < n && pop_locked (self, &elements[i], &local_error); i++)
    self->outstanding++;
  UNLOCK (self);
  *n_popped = i;
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }
  return TRUE;
}

/**
 * vhost_user_vring_unpop:
 * @self: a started ring
 * @head: the head of the request popped last
 * @error: return location for a #GError
 *
 * Hands back a request unused, so that the next pop takes it again: what
 * a device does that popped buffers for something they turn out too small
 * for (a network device filling a packet into merged receive buffers
 * finds the ring runs out first). Requests go back newest first, one call
 * each, up to %VHOST_USER_VRING_MAX_UNPOP of them, and only those popped
 * since the last push: not requests a restarted back-end was handed again.
 *
 * Since the caller is waiting for room, the driver is asked to kick when it
 * makes more requests available (as when the ring is found empty); look
 * once more after this, for one made available meanwhile.
 *
 * Returns: %TRUE when handed back; %FALSE with @error when @head is not
 *   the last request popped that can be
 *
 * Since: 1.0
 */
/* With the lock held: @n requests are no longer out with the device.
 * The tables kept for them (vhost_user_vring_set_memory_table()) go when
 * none is. */
static void
requests_done (VhostUserVring *self,
               guint           n)
{
  self->outstanding -= MIN (n, self->outstanding);
  if (self->outstanding == 0 && self->retired_memory != NULL)
    g_ptr_array_set_size (self->retired_memory, 0);
}

gboolean
vhost_user_vring_unpop (VhostUserVring  *self,
                        guint            head,
                        GError         **error)
{
  g_return_val_if_fail (VHOST_USER_IS_VRING (self), FALSE);

  LOCK (self);
  if (self->unpoppable == 0 || self->broken || self->size == 0 ||
      self->recent[(self->recent_top - 1) % VHOST_USER_VRING_MAX_UNPOP] != head)
    {
      UNLOCK (self);
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                   "Queue %u: request %u is not the last one popped since the last push", self->index, head);
      return FALSE;
    }
  self->recent_top--;
  self->unpoppable--;
  if (self->packed)
    vhost_user_vring_packed_unpop (&PACKED_VIEW (self), head);
  else
    vhost_user_vring_split_unpop (self, head);
  self->in_flight -= MIN (1, self->in_flight);
  requests_done (self, 1);
  vhost_user_vring_release_fence (self, head);
  if (self->in_flight == 0 && !self->started)
    vhost_user_vring_schedule_drained (self);
  /* handed back, it is popped again later: it does not spend the run */
  if (self->budget_left != G_MAXUINT && self->budget_thread == g_thread_self ())
    self->budget_left++;
  UNLOCK (self);
  return TRUE;
}

/**
 * vhost_user_vring_push:
 * @self: a started ring
 * @head: the head of a request vhost_user_vring_pop() gave
 * @len: how many bytes the device wrote into the request's buffers
 * @error: return location for a #GError
 *
 * Hands a request back to the driver (the used ring). Tell the driver
 * with vhost_user_vring_call() once a batch is pushed.
 *
 * A request the ring refuses is done with all the same: it is of a
 * session that ended (the ring was reset or stopped since), or the
 * driver broke the ring, which takes nothing back. Its buffers are no
 * longer the device's either way.
 *
 * Returns: %TRUE on success; %FALSE with @error when refused
 *
 * Since: 1.0
 */
gboolean
vhost_user_vring_push (VhostUserVring  *self,
                       guint            head,
                       guint            len,
                       GError         **error)
{
  return vhost_user_vring_push_batch (self, &head, &len, 1, error);
}

/* Checks a batch and hands it to the walker. */
static gboolean
push_checked (VhostUserVring  *self,
              const guint     *heads,
              const guint     *lens,
              guint            n,
              GError         **error)
{
  guint num = self->size;
  const char *why = NULL;
  gboolean ok;

  /* a stopped ring still takes back what it handed out: that is how it
   * drains before GET_VRING_BASE answers */
  if ((!self->started && self->in_flight == 0) || self->broken || num == 0)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                   "Queue %u is not running", self->index);
      return FALSE;
    }
  if (n > num)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "Queue %u holds %u requests, not %u", self->index, num, n);
      return FALSE;
    }
  for (guint i = 0; i < n; i++)
    if (heads[i] >= num)
      {
        g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                     "Queue %u has no descriptor %u", self->index, heads[i]);
        return FALSE;
      }

  if (self->packed)
    {
      ok = vhost_user_vring_packed_push (&PACKED_VIEW (self), heads, lens, n, &why, error);
      if (ok && vhost_user_vring_log_on (&self->log))
        vhost_user_vring_log_signal (&self->log);
    }
  else
    ok = vhost_user_vring_split_push (self, heads, lens, n, &why, error);
  if (!ok)
    return why != NULL ? broken (self, error, why) : FALSE;

  self->in_flight -= MIN (n, self->in_flight);
  if (self->in_flight == 0 && !self->started)
    vhost_user_vring_schedule_drained (self);
  for (guint i = 0; G_UNLIKELY (self->fences != NULL) && i < n; i++)
    vhost_user_vring_release_fence (self, heads[i]);
  return TRUE;
}

static gboolean
is_abandoned (VhostUserVring *self,
              guint           head)
{
  if (self->packed)
    return vhost_user_vring_packed_is_abandoned (&self->packed_ring, head);
  return head < self->size && self->split_out[head] == SPLIT_OUT_ABANDONED;
}

/* A batch pushed after the ring stopped without draining (and before it
 * starts again): the requests of that session are dropped quietly (they
 * stay in the in-flight area, for a successor to resubmit). A batch of
 * those alone is dropped whole; one with any other head, which the
 * stopped ring would refuse, is refused whole before anything is dropped
 * (a refused batch hands nothing back: its requests come again one by
 * one). Never on the path of a ring that was not stopped that way. */
static gboolean
push_around_abandoned (VhostUserVring  *self,
                       const guint     *heads,
                       const guint     *lens,
                       guint            n,
                       guint           *n_done,
                       GError         **error)
{
  guint n_abandoned = 0;

  for (guint i = 0; i < n; i++)
    n_abandoned += is_abandoned (self, heads[i]);
  if (n_abandoned == 0)
    return push_checked (self, heads, lens, n, error);
  if (n_abandoned < n)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "Queue %u: the batch holds requests of the session that ended beside others; "
                   "push them one by one", self->index);
      return FALSE;
    }
  for (guint i = 0; i < n; i++)
    {
      /* (named twice in the batch: dropped, and counted, once) */
      if (!is_abandoned (self, heads[i]))
        {
          (*n_done)--;
          continue;
        }
      if (self->packed)
        vhost_user_vring_packed_drop (&self->packed_ring, heads[i]);
      else
        self->split_out[heads[i]] = SPLIT_OUT_NO;
      vhost_user_vring_release_fence (self, heads[i]);
      self->abandoned--;
    }
  return TRUE;
}

/* With the lock held, on a ring the driver broke: @head, refused, is
 * done with. Only a request still out counts, and only once (it is not
 * out after). */
static gboolean
give_up (VhostUserVring *self,
         guint           head)
{
  if (self->packed)
    return vhost_user_vring_packed_give_up (&self->packed_ring, head);
  if (head >= self->size || self->split_out == NULL || self->split_out[head] != SPLIT_OUT_YES)
    return FALSE;
  self->split_out[head] = SPLIT_OUT_NO;
  return TRUE;
}

/* Pushes a batch; *@n_done is how many requests it gave back. */
static gboolean
push_locked (VhostUserVring  *self,
             const guint     *heads,
             const guint     *lens,
             guint            n,
             guint           *n_done,
             GError         **error)
{
  /* the position a request handed back would return to is behind this */
  self->unpoppable = 0;
  *n_done = n;
  if (G_UNLIKELY (self->abandoned > 0))
    return push_around_abandoned (self, heads, lens, n, n_done, error);
  return push_checked (self, heads, lens, n, error);
}

/**
 * vhost_user_vring_push_batch:
 * @self: a started ring
 * @heads: (array length=n): heads of requests vhost_user_vring_pop() gave
 * @lens: (array length=n): how many bytes the device wrote into each
 * @n: how many requests
 * @error: return location for a #GError
 *
 * Hands several requests back at once: every entry is written first and
 * the used index moves once, so the driver sees the whole batch or none
 * of it (and one store-release instead of @n). Either every head is valid
 * and all are pushed, or none is: a refused batch hands nothing back (on
 * a ring the driver broke, which takes nothing back, its requests are
 * done with as they are). Push each of its requests again on its own
 * with vhost_user_vring_push(), which takes those it can and counts any
 * it refuses as done with; until then they are out with the device, and
 * a stop (`GET_VRING_BASE`) waits for them.
 *
 * Requests may be pushed in any order. On a packed ring each head is a
 * buffer id out with the device, named once; its used descriptor moves
 * the used position by as many descriptors as its chain took.
 *
 * With `VHOST_F_LOG_ALL` negotiated, the pages the device wrote (the
 * first @lens bytes of each request's writable buffers) and the used
 * ring are marked in the dirty log first. On a packed ring the used
 * descriptors are marked at their own address in the descriptor ring,
 * and what the device writes into the device area at `log_guest_addr`
 * (QEMU gives the device area's address there); the buffers are known
 * from a copy of the request's descriptors taken when it was popped.
 *
 * A ring that was stopped (`GET_VRING_BASE`) still takes back the
 * requests it handed out; the front-end gets its answer once the last
 * is pushed.
 *
 * Returns: %TRUE on success; %FALSE with @error when the batch is refused
 *
 * Since: 1.0
 */
gboolean
vhost_user_vring_push_batch (VhostUserVring  *self,
                             const guint     *heads,
                             const guint     *lens,
                             guint            n,
                             GError         **error)
{
  gboolean ok;
  guint n_done;

  g_return_val_if_fail (VHOST_USER_IS_VRING (self), FALSE);
  g_return_val_if_fail (n == 0 || (heads != NULL && lens != NULL), FALSE);

  LOCK (self);
  ok = push_locked (self, heads, lens, n, &n_done, error);
  if (ok)
    requests_done (self, n_done);
  else if (self->broken)
    {
      /* a broken ring takes nothing back, but what it holds is done
       * with: GET_VRING_BASE must not wait for it for ever, nor an
       * invalidation, nor the tables its buffers lie in. Each request
       * counts once, however often it comes back. */
      guint given_up = 0;

      for (guint i = 0; i < n; i++)
        if (give_up (self, heads[i]))
          {
            vhost_user_vring_release_fence (self, heads[i]);
            given_up++;
          }
      requests_done (self, given_up);
      if (given_up > 0 && self->in_flight > 0)
        {
          self->in_flight -= MIN (given_up, self->in_flight);
          if (self->in_flight == 0 && !self->started)
            vhost_user_vring_schedule_drained (self);
        }
    }
  else if (n == 1)
    /* a request refused on its own is done with all the same: one of a
     * session that ended, whose buffers are no longer in use either way
     * (or the device's mistake). A refused batch hands nothing back: its
     * requests, still out, come again one by one, and count then. */
    requests_done (self, 1);
  UNLOCK (self);
  return ok;
}

/* --- the IOTLB (VIRTIO_F_ACCESS_PLATFORM) --- */

/* From now on every address of the ring is an IOVA, translated through
 * @iotlb (or, with NULL, as without an IOMMU). */
void
vhost_user_vring_set_iotlb (VhostUserVring *self,
                            VhostUserIotlb *iotlb)
{
  VhostUserIotlb *old;

  LOCK (self);
  old = self->xlat.iotlb;
  self->xlat.iotlb = iotlb != NULL ? vhost_user_iotlb_ref (iotlb) : NULL;
  vhost_user_vring_size_fences (self);
  vhost_user_vring_forget_areas (self);
  self->parked = FALSE;
  UNLOCK (self);
  g_clear_pointer (&old, vhost_user_iotlb_unref);
}

void
vhost_user_vring_set_miss_func (VhostUserVring         *self,
                                VhostUserVringMissFunc  func,
                                gpointer                user_data)
{
  LOCK (self);
  self->miss_func = func;
  self->miss_data = user_data;
  UNLOCK (self);
}

/* The miss to send for the ring, if one is waiting to be sent: for the
 * back-end's context, which the miss function woke. */
gboolean
vhost_user_vring_take_miss (VhostUserVring *self,
                            guint64        *iova,
                            guint          *perm)
{
  gboolean pending;

  LOCK (self);
  pending = self->miss_pending && self->parked;
  self->miss_pending = FALSE;
  *iova = self->parked_iova;
  *perm = self->parked_perm;
  UNLOCK (self);
  return pending;
}

/* The IOTLB has a new mapping: a ring parked on the IOVA it covers tries
 * again (its kick handler runs, as on a kick); one waiting for another
 * IOVA goes on waiting, without asking again. */
void
vhost_user_vring_iotlb_updated (VhostUserVring *self)
{
  gboolean resume;

  LOCK (self);
  resume = self->parked && self->started && !self->broken &&
           (self->xlat.iotlb == NULL || vhost_user_iotlb_covers (self->xlat.iotlb, self->parked_iova));
  if (resume)
    self->parked = FALSE;
  UNLOCK (self);
  if (resume)
    vhost_user_vring_kick (self);
}

/* The front-end will not map [@iova, @iova + @size) (IOTLB_ACCESS_FAIL,
 * or its answer to our miss): a ring parked on an IOVA in it breaks, and
 * its next pop says @why (the kick handler runs for it at once). */
void
vhost_user_vring_iotlb_failed (VhostUserVring *self,
                               guint64         iova,
                               guint64         size,
                               const char     *why)
{
  g_autoptr(GError) error = NULL;
  gboolean tell;

  LOCK (self);
  if (self->parked && self->parked_iova >= iova && self->parked_iova - iova <= size - 1)
    {
      g_autofree char *what = g_strdup_printf ("IOVA 0x%" G_GINT64_MODIFIER "x: %s", self->parked_iova, why);

      self->parked = FALSE;
      broken (self, &error, what);
      g_clear_error (&self->pending_error);
      self->pending_error = g_steal_pointer (&error);
    }
  tell = self->pending_error != NULL;
  UNLOCK (self);
  if (tell)
    vhost_user_vring_kick (self);
}

/* An invalidation of the IOVAs from @first to @last (inclusive) came:
 * @fence holds every request out with the device whose buffers it may
 * cover, or every one if it covers the ring's parts (a push writes
 * there), which the next pop then translates again. Not those another
 * fence holds already: fences complete in order. Returns how many it
 * holds. */
guint
vhost_user_vring_iotlb_fence (VhostUserVring      *self,
                              VhostUserIotlbFence *fence,
                              guint64              first,
                              guint64              last)
{
  VhostUserVringXlat *x = &self->xlat;
  gboolean all = FALSE;
  guint held = 0;

  LOCK (self);
  /* (a part's last byte does not wrap: it was translated whole) */
  for (guint i = 0; i < VHOST_USER_VRING_N_AREAS; i++)
    if (x->area[i] != NULL && x->area_addr[i] <= last && first <= x->area_addr[i] + (x->area_len[i] - 1))
      all = TRUE;
  if (all)
    x->stale = TRUE;
  for (guint i = 0; i < MIN (self->size, self->n_fences); i++)
    {
      /* (abandoned ones too: the device may still write into them) */
      gboolean out = self->packed ? i < self->packed_ring.n_chains && self->packed_ring.chains[i] != 0
                                  : self->split_out != NULL && self->split_out[i] != SPLIT_OUT_NO;

      if (out && !all && (self->spans[2 * i] > last || self->spans[2 * i + 1] < first))
        out = FALSE;
      if (out && self->fences[i] == NULL)
        {
          self->fences[i] = fence;
          vhost_user_iotlb_fence_hold (fence);
          held++;
        }
    }
  UNLOCK (self);
  return held;
}
