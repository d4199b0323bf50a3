/* vhost-user-vring-log.c: dirty-page logging for the rings
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "vhost-user-vring-log-private.h"

/* Marks the pages of [@gpa, @gpa + @len) dirty. Pages past the end of
 * the log are not ours to mark: the front-end sized it. Called with the
 * ring's lock held, the log on.
 *
 * A span can be large (a request's buffers merged, see
 * vhost_user_vring_written_add(), may cover the gaps between them), so
 * whole bytes and words of the log are set at once: one atomic per 64
 * pages, not one per page. (The front-end clears the log concurrently;
 * an OR never loses a bit it did not clear.) */
void
vhost_user_vring_log_write (VhostUserVringLog *log,
                            guint64            gpa,
                            guint64            len)
{
  gsize log_len;
  guint8 *bits;
  guint64 page, last;

  if (len == 0 || !vhost_user_vring_log_on (log))
    return;
  bits = (guint8 *) g_bytes_get_data (log->bytes, &log_len);
  page = gpa / VHOST_USER_VRING_LOG_PAGE;
  last = (gpa + len - 1 < gpa ? G_MAXUINT64 : gpa + len - 1) / VHOST_USER_VRING_LOG_PAGE;
  if (log_len == 0 || page / 8 >= log_len)
    return;
  last = MIN (last, (guint64) log_len * 8 - 1);

  /* to a byte's start, whole bytes to a word's, whole words, then back down */
  for (; page <= last && page % 8 != 0; page++)
    __atomic_fetch_or (bits + page / 8, (guint8) (1u << (page % 8)), __ATOMIC_RELAXED);
  for (; page <= last && last - page >= 7 && (guintptr) (bits + page / 8) % 8 != 0; page += 8)
    __atomic_fetch_or (bits + page / 8, (guint8) 0xff, __ATOMIC_RELAXED);
  for (; page <= last && last - page >= 63; page += 64)
    __atomic_fetch_or ((guint64 *) (gpointer) (bits + page / 8), G_MAXUINT64, __ATOMIC_RELAXED);
  for (; page <= last && last - page >= 7; page += 8)
    __atomic_fetch_or (bits + page / 8, (guint8) 0xff, __ATOMIC_RELAXED);
  for (; page <= last; page++)
    __atomic_fetch_or (bits + page / 8, (guint8) (1u << (page % 8)), __ATOMIC_RELAXED);
}

/* Tells the front-end (the log fd of SET_LOG_BASE, when it gave one) that
 * pages were marked. */
void
vhost_user_vring_log_signal (VhostUserVringLog *log)
{
  guint64 one = 1;

  if (vhost_user_vring_log_on (log) && log->fd >= 0)
    while (write (log->fd, &one, sizeof one) < 0 && errno == EINTR)
      ;
}

/* The guest bytes one span over @a and @b would cover. */
static VhostUserVringLogSpan
span_union (const VhostUserVringLogSpan *a,
            const VhostUserVringLogSpan *b)
{
  /* (no buffer ends past the address space: popping checked) */
  guint64 lo = MIN (a->gpa, b->gpa);
  guint64 hi = MAX (a->gpa + a->span, b->gpa + b->span);

  return (VhostUserVringLogSpan) { lo, hi - lo, a->bytes + b->bytes };
}

/* How many guest bytes merging @a and @b marks that they would not. */
static guint64
merge_cost (const VhostUserVringLogSpan *a,
            const VhostUserVringLogSpan *b)
{
  guint64 both = span_union (a, b).span;

  return both > a->span + b->span ? both - (a->span + b->span) : 0;
}

/* Records @len writable bytes at @gpa, the next in the request's chain.
 * Called at pop time, with the ring's lock held; never allocates. */
void
vhost_user_vring_written_add (VhostUserVringWritten *written,
                              guint64                gpa,
                              guint64                len)
{
  VhostUserVringLogSpan next = { gpa, len, len };
  guint best = G_MAXUINT;
  guint64 best_cost = G_MAXUINT64;

  if (len == 0)
    return;
  if (written->n > 0)
    {
      VhostUserVringLogSpan *last = &written->spans[written->n - 1];

      /* the common case: the buffer goes on where the last one ended */
      if (last->gpa + last->span == gpa)
        {
          last->span += len;
          last->bytes += len;
          return;
        }
    }
  if (written->n < VHOST_USER_VRING_LOG_SPANS)
    {
      written->spans[written->n++] = next;
      return;
    }

  /* full: merge the neighbours that cost least, the new span included as
   * the last one's neighbour; the order of the chain is kept */
  for (guint i = 0; i + 1 < written->n; i++)
    {
      guint64 cost = merge_cost (&written->spans[i], &written->spans[i + 1]);

      if (cost < best_cost)
        best_cost = cost, best = i;
    }
  if (merge_cost (&written->spans[written->n - 1], &next) <= best_cost)
    {
      written->spans[written->n - 1] = span_union (&written->spans[written->n - 1], &next);
      return;
    }
  written->spans[best] = span_union (&written->spans[best], &written->spans[best + 1]);
  memmove (&written->spans[best + 1], &written->spans[best + 2],
           (written->n - best - 2) * sizeof written->spans[0]);
  written->spans[written->n - 1] = next;
}

/* Marks the pages of the first @len bytes the request's writable buffers
 * had when it was popped. A merged span that is only partly written is
 * marked whole. Called with the ring's lock held. */
void
vhost_user_vring_log_written (VhostUserVringLog           *log,
                              const VhostUserVringWritten *written,
                              guint64                      len)
{
  guint64 left = len;

  if (!vhost_user_vring_log_on (log))
    return;
  for (guint i = 0; i < written->n && left > 0; i++)
    {
      const VhostUserVringLogSpan *s = &written->spans[i];

      if (left >= s->bytes)
        {
          vhost_user_vring_log_write (log, s->gpa, s->span);
          left -= s->bytes;
        }
      else
        {
          vhost_user_vring_log_write (log, s->gpa, s->span == s->bytes ? left : s->span);
          left = 0;
        }
    }
}
