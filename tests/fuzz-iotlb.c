/* fuzz-iotlb.c: the IOTLB updated and invalidated by a hostile
 * front-end, with every answer checked against a model
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The input's first byte is the table's size (1 to 16 entries, so that
 * it fills and evicts); the rest is a sequence of what IOTLB_MSG asks of
 * the back-end (updates and invalidations of any range, permission and
 * address, the protocol's whole-space flush among them), of lookups as
 * the rings make them, and of the fences that hold an invalidation's
 * answer back until the requests that may use an old translation are
 * done (made, held, released, cancelled as at a disconnect).
 *
 * The model is the list of mappings the table holds: an update is
 * refused exactly when it is empty, has no known permission, wraps, or
 * overlaps a different mapping; an invalidation removes exactly the
 * mappings it touches; a lookup finds exactly what the model has, with
 * the right address and no more length than the mapping has left; and a
 * full table makes room by dropping one mapping, never the new one. Fences
 * complete in the order they were made, each once, only when every hold
 * is given back, and never after they were cancelled; and they may
 * outlive the table's owner (a back-end gone while a ring still holds
 * requests), the last one freeing it.
 */

#include <string.h>
#include <vhost-user-glib.h>

#include "fuzz-input.h"
#include "test-util.h"
#include "vhost-user-iotlb-private.h"

#define MAX_MODEL  64
#define MAX_FENCES 16

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

/* Addresses and sizes that meet: pages of a small space (where mappings
 * overlap and abut), bytes of it (off by one), anything, and the top of
 * the address space (where ranges wrap). */
static guint64
next_value (Input *in)
{
  guint8 kind = next_u8 (in);

  switch (kind & 3)
    {
    case 0:
      return (guint64) next_u8 (in) << 12;
    case 1:
      return next_u16 (in);
    case 2:
      return next_u64 (in);
    default:
      return G_MAXUINT64 - next_u16 (in);
    }
}

typedef struct {
  guint64 iova;
  guint64 last;
  guint64 user_addr;
  guint   perm;
} Mapping;

typedef struct {
  VhostUserIotlbFence *fence;   /* NULL once completed (freed) */
  guint                holds;
  gboolean             released_last;  /* its count reached 0 */
  gboolean             cancelled;
  gboolean             called;
} Fence;

typedef struct {
  VhostUserIotlb *iotlb;
  guint           max_entries;
  Mapping         map[MAX_MODEL];
  guint           n;
  Fence           fences[MAX_FENCES];
  guint           n_fences;      /* made so far: fences[0 .. n_fences) */
  gboolean        dropped;       /* our reference given up: the fences hold the table */
  guint           head;          /* the oldest not completed */
  guint           calls[MAX_FENCES];
  guint           n_calls;
} Model;

static Model *current;

static void
on_fence_done (gpointer user_data)
{
  guint index = GPOINTER_TO_UINT (user_data);

  /* (under the table's lock: only records) */
  g_assert_cmpuint (current->n_calls, <, MAX_FENCES);
  current->calls[current->n_calls++] = index;
}

static guint64
range_last (guint64 iova,
            guint64 size)
{
  return size - 1 > G_MAXUINT64 - iova ? G_MAXUINT64 : iova + (size - 1);
}

/* The model's mapping that holds @iova, or -1. */
static int
model_find (Model   *m,
            guint64  iova)
{
  for (guint i = 0; i < m->n; i++)
    if (m->map[i].iova <= iova && iova <= m->map[i].last)
      return i;
  return -1;
}

static void
model_remove (Model *m,
              guint  i)
{
  memmove (&m->map[i], &m->map[i + 1], (m->n - i - 1) * sizeof (Mapping));
  m->n--;
}

static void
check_count (Model *m)
{
  g_assert_cmpuint (vhost_user_iotlb_get_n_entries (m->iotlb), ==, m->n);
  g_assert_cmpuint (m->n, <=, m->max_entries);
}

static void
do_update (Model *m,
           Input *in)
{
  guint64 iova = next_value (in), size = next_value (in), user_addr = next_value (in);
  guint perm = next_u8 (in) % 5;   /* 0 and 4 are no permission the protocol has */
  g_autoptr(GError) error = NULL;
  gboolean expected = TRUE, same = FALSE, ok;
  guint64 last = 0;

  if (size == 0 || perm < VHOST_USER_IOTLB_PERM_RO || perm > VHOST_USER_IOTLB_PERM_RW ||
      size - 1 > G_MAXUINT64 - iova || size - 1 > G_MAXUINT64 - user_addr)
    expected = FALSE;
  else
    {
      last = iova + (size - 1);
      for (guint i = 0; i < m->n; i++)
        if (m->map[i].iova <= last && iova <= m->map[i].last)
          {
            same = m->map[i].iova == iova && m->map[i].last == last && m->map[i].user_addr == user_addr &&
                   m->map[i].perm == perm;
            expected = same;
            break;
          }
    }
  ok = vhost_user_iotlb_update (m->iotlb, iova, size, user_addr, perm, &error);
  g_assert_cmpint (ok, ==, expected);
  if (!ok)
    {
      g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
      return;
    }
  g_assert_no_error (error);
  if (same)
    return;
  if (m->n == m->max_entries)
    {
      guint gone = m->n;

      /* which one made room is the table's choice: exactly one of the
       * others, found with a lookup that leaves no trace (covers()) */
      for (guint i = 0; i < m->n; i++)
        if (!vhost_user_iotlb_covers (m->iotlb, m->map[i].iova))
          {
            g_assert_cmpuint (gone, ==, m->n);
            gone = i;
          }
      g_assert_cmpuint (gone, <, m->n);
      model_remove (m, gone);
    }
  g_assert_cmpuint (m->n, <, MAX_MODEL);
  m->map[m->n++] = (Mapping) { iova, last, user_addr, perm };
  g_assert_true (vhost_user_iotlb_covers (m->iotlb, iova));
  g_assert_true (vhost_user_iotlb_covers (m->iotlb, last));
}

static void
do_invalidate (Model *m,
               Input *in)
{
  guint64 iova = next_value (in), size = next_value (in), last;
  g_autoptr(GError) error = NULL;
  guint n_removed = G_MAXUINT, expected = 0;

  /* the protocol's whole-space flush, whose end is 2^64 */
  if ((next_u8 (in) & 7) == 0)
    {
      iova = 0xfef00000;
      size = 0xffffffff01100000;
    }
  if (!vhost_user_iotlb_invalidate (m->iotlb, iova, size, &n_removed, &error))
    {
      g_assert_cmpuint (size, ==, 0);
      g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
      g_assert_cmpuint (n_removed, ==, 0);
      return;
    }
  g_assert_no_error (error);
  g_assert_cmpuint (size, !=, 0);
  last = range_last (iova, size);
  for (guint i = 0; i < m->n;)
    if (m->map[i].iova <= last && iova <= m->map[i].last)
      {
        model_remove (m, i);
        expected++;
      }
    else
      i++;
  g_assert_cmpuint (n_removed, ==, expected);
}

static void
do_translate (Model *m,
              Input *in)
{
  guint64 iova = next_value (in), want = next_value (in), len, user_addr = 0xdead;
  guint perm = 1 + next_u8 (in) % 3;
  VhostUserIotlbResult result;
  int i;

  /* (the rings never ask for nothing) */
  len = want = MAX (want, 1);
  result = vhost_user_iotlb_translate (m->iotlb, iova, &len, perm, &user_addr);
  i = model_find (m, iova);
  if (i < 0)
    {
      g_assert_cmpint (result, ==, VHOST_USER_IOTLB_NOT_CACHED);
      g_assert_cmpuint (len, ==, want);
      g_assert_cmpuint (user_addr, ==, 0xdead);
    }
  else if ((m->map[i].perm & perm) != perm)
    {
      g_assert_cmpint (result, ==, VHOST_USER_IOTLB_DENIED);
      g_assert_cmpuint (len, ==, want);
      g_assert_cmpuint (user_addr, ==, 0xdead);
    }
  else
    {
      g_assert_cmpint (result, ==, VHOST_USER_IOTLB_HIT);
      g_assert_cmpuint (user_addr, ==, m->map[i].user_addr + (iova - m->map[i].iova));
      g_assert_cmpuint (len, ==, MIN (want - 1, m->map[i].last - iova) + 1);
    }
}

/* The fences completed since the last look, in order, are the oldest
 * ones whose holds were all given back. */
static void
check_fences (Model *m)
{
  guint expected[MAX_FENCES], n = 0;

  while (m->head < m->n_fences && m->fences[m->head].released_last)
    {
      Fence *f = &m->fences[m->head];

      f->fence = NULL;   /* freed */
      if (!f->cancelled)
        {
          expected[n++] = m->head;
          f->called = TRUE;
        }
      m->head++;
    }
  g_assert_cmpuint (m->n_calls, ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpuint (m->calls[i], ==, expected[i]);
  m->n_calls = 0;
}

static void
release (Model *m,
         guint  index)
{
  Fence *f = &m->fences[index];

  g_assert_cmpuint (f->holds, >, 0);
  if (--f->holds == 0)
    f->released_last = TRUE;
  vhost_user_iotlb_fence_release (f->fence);
  check_fences (m);
}

static void
do_fence (Model *m,
          guint8 op,
          Input *in)
{
  guint8 pick = next_u8 (in);
  guint open = m->n_fences - m->head, index;

  switch (op)
    {
    case 0:
      if (m->n_fences == MAX_FENCES)
        return;
      index = m->n_fences++;
      m->fences[index] = (Fence) { .holds = 1 };
      m->fences[index].fence = vhost_user_iotlb_fence_new (m->iotlb, on_fence_done, GUINT_TO_POINTER (index));
      break;
    case 1:
    case 2:
      /* a fence whose last hold went is gone; its successors may wait */
      for (guint k = 0; k < open; k++)
        {
          index = m->head + (pick + k) % open;
          if (m->fences[index].holds == 0)
            continue;
          if (op == 1)
            {
              m->fences[index].holds++;
              vhost_user_iotlb_fence_hold (m->fences[index].fence);
            }
          else
            release (m, index);
          return;
        }
      break;
    default:
      {
        g_autoptr(GSList) data = vhost_user_iotlb_cancel_fences (m->iotlb);
        GSList *l = data;

        for (guint k = m->head; k < m->n_fences; k++)
          if (!m->fences[k].cancelled)
            {
              g_assert_nonnull (l);
              g_assert_cmpuint (GPOINTER_TO_UINT (l->data), ==, k);
              m->fences[k].cancelled = TRUE;
              l = l->next;
            }
        g_assert_null (l);
      }
      break;
    }
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  Input in = { data, size, 0 };
  g_autofree Model *m = g_new0 (Model, 1);

  current = m;
  m->max_entries = 1 + next_u8 (&in) % 16;
  m->iotlb = vhost_user_iotlb_new (m->max_entries);

  while (in.pos < in.size)
    {
      guint8 op = next_u8 (&in);

      /* with the owner gone, only the fences' holds can be given back */
      if (m->dropped && (op % 8 != 7 || (op >> 3) % 4 == 0 || (op >> 3) % 4 == 3))
        continue;
      switch (op % 8)
        {
        case 0:
        case 1:
          do_update (m, &in);
          break;
        case 2:
          do_invalidate (m, &in);
          break;
        case 3:
        case 4:
          do_translate (m, &in);
          break;
        case 5:
          {
            guint64 iova = next_value (&in);

            g_assert_cmpint (vhost_user_iotlb_covers (m->iotlb, iova), ==, model_find (m, iova) >= 0);
          }
          break;
        case 6:
          if (op & 8)
            {
              /* the owner goes while fences are held: they keep the
               * table, and the last one frees it */
              gboolean held = FALSE;

              for (guint k = m->head; k < m->n_fences; k++)
                held |= m->fences[k].holds > 0;
              if (held)
                {
                  m->dropped = TRUE;
                  vhost_user_iotlb_unref (m->iotlb);
                  continue;
                }
            }
          /* the device stops */
          vhost_user_iotlb_flush (m->iotlb);
          m->n = 0;
          break;
        default:
          do_fence (m, (op >> 3) % 4, &in);
          break;
        }
      if (!m->dropped)
        check_count (m);
      /* nothing completes but by a release */
      g_assert_cmpuint (m->n_calls, ==, 0);
    }

  /* every hold given back: every fence completes (or was cancelled) and
   * frees its reference on the table, which then goes with ours */
  for (guint k = m->head; k < m->n_fences; k++)
    while (m->fences[k].holds > 0)
      release (m, k);
  g_assert_cmpuint (m->head, ==, m->n_fences);
  for (guint k = 0; k < m->n_fences; k++)
    g_assert_cmpint (m->fences[k].called, ==, !m->fences[k].cancelled);
  if (!m->dropped)
    {
      vhost_user_iotlb_sync (m->iotlb);
      vhost_user_iotlb_unref (m->iotlb);
    }
  current = NULL;
  return 0;
}
