/* vhost-user-vring-log.c: dirty-page logging for the rings
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "vhost-user-peer-fd-private.h"
#include "vhost-user-vring-log-private.h"

/* Marks the pages of [@gpa, @gpa + @len) dirty. Pages past the end of
 * the log are not ours to mark: the front-end sized it. Called with the
 * ring's lock held, the log on.
 *
 * A span can be large (a buffer of many pages, or a request's buffers
 * merged over the pages between them, see
 * vhost_user_vring_written_add()), so
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
  if (vhost_user_vring_log_on (log) && log->fd >= 0)
    vhost_user_eventfd_signal (log->fd);
}

/* One span over @a and @b, which come in that order in guest memory or
 * overlap. */
static VhostUserVringLogSpan
span_union (const VhostUserVringLogSpan *a,
            const VhostUserVringLogSpan *b)
{
  /* (no buffer ends past the address space: popping checked) */
  guint64 lo = MIN (a->gpa, b->gpa);
  guint64 hi = MAX (a->gpa + a->span, b->gpa + b->span);

  return (VhostUserVringLogSpan) { lo, hi - lo, MIN (a->first, b->first), TRUE };
}

/* How many pages merging @a and @b, @a the lower in guest memory and
 * apart from @b, marks that they would not: the pages between them. A
 * gap within one page costs nothing, however many bytes it is. */
static guint64
page_gap (const VhostUserVringLogSpan *a,
          const VhostUserVringLogSpan *b)
{
  guint64 a_last = (a->gpa + a->span - 1) / VHOST_USER_VRING_LOG_PAGE;
  guint64 b_first = b->gpa / VHOST_USER_VRING_LOG_PAGE;

  return b_first > a_last + 1 ? b_first - a_last - 1 : 0;
}

/* Makes spans[@i] and spans[@i + 1] one, in @i. */
static void
merge_at (VhostUserVringLogSpan *spans,
          guint                 *n,
          guint                  i)
{
  spans[i] = span_union (&spans[i], &spans[i + 1]);
  memmove (&spans[i + 1], &spans[i + 2], (*n - i - 2) * sizeof spans[0]);
  (*n)--;
}

/* Merges spans[@i] with the spans it overlaps, which can only be the
 * ones next to it (the others were apart from each other already), so
 * that they stay disjoint: a driver may name the same memory twice. */
static void
merge_overlaps (VhostUserVringLogSpan *spans,
                guint                 *n,
                guint                  i)
{
  if (i > 0 && spans[i - 1].gpa + spans[i - 1].span > spans[i].gpa)
    merge_at (spans, n, --i);
  while (i + 1 < *n && spans[i].gpa + spans[i].span > spans[i + 1].gpa)
    merge_at (spans, n, i);
}

/* Records @len writable bytes at @gpa, the next in the request's chain.
 * Called at pop time, with the ring's lock held; never allocates. */
void
vhost_user_vring_written_add (VhostUserVringWritten *written,
                              guint64                gpa,
                              guint64                len)
{
  VhostUserVringLogSpan next = { gpa, len, written->offset, FALSE };
  VhostUserVringLogSpan full[VHOST_USER_VRING_LOG_SPANS + 1];
  VhostUserVringLogSpan *spans = written->spans;
  guint n = written->n, i;

  /* past G_MAXUINT32 - 1 no push reaches (see the header) */
  if (len == 0 || written->offset == G_MAXUINT32)
    return;
  written->offset = len >= G_MAXUINT32 - written->offset ? G_MAXUINT32 : written->offset + len;

  /* its place in guest-address order: after every span starting at or below it */
  for (i = 0; i < n && spans[i].gpa <= gpa; i++)
    ;
  /* a buffer that starts where a span ends joins it when the span ends
   * with the buffer before it in the chain, in order (the common case, a
   * buffer that goes on where the last one ended: the span stays in
   * order), or is merged already (it adds no page). A span in order that
   * ends there with another buffer would no longer be in order: the new
   * one gets a span of its own, next to it. */
  if (i > 0 && spans[i - 1].gpa + spans[i - 1].span == gpa &&
      (spans[i - 1].merged || spans[i - 1].first + spans[i - 1].span == next.first))
    {
      spans[i - 1].span += len;
      merge_overlaps (spans, &written->n, i - 1);
      return;
    }

  /* a new span; when the record is full, it and the others are nine for a
   * moment, on the stack, and the two with the fewest pages between them
   * become one */
  if (n == VHOST_USER_VRING_LOG_SPANS)
    spans = memcpy (full, written->spans, sizeof written->spans);
  memmove (&spans[i + 1], &spans[i], (n - i) * sizeof spans[0]);
  spans[i] = next;
  n++;
  merge_overlaps (spans, &n, i);
  if (n > VHOST_USER_VRING_LOG_SPANS)
    {
      guint best = 0;
      guint64 best_gap = G_MAXUINT64;

      for (i = 0; i + 1 < n && best_gap > 0; i++)
        {
          guint64 gap = page_gap (&spans[i], &spans[i + 1]);

          if (gap < best_gap)
            best_gap = gap, best = i;
        }
      merge_at (spans, &n, best);
    }
  if (spans == full)
    memcpy (written->spans, full, sizeof written->spans);
  written->n = n;
}

/* Marks the pages of the first @len bytes the request's writable buffers
 * had when it was popped: every byte at a chain offset below @len is in
 * a span whose first offset is too. A merged span that is only partly
 * written is marked whole. Called with the ring's lock held. */
void
vhost_user_vring_log_written (VhostUserVringLog           *log,
                              const VhostUserVringWritten *written,
                              guint64                      len)
{
  if (!vhost_user_vring_log_on (log))
    return;
  for (guint i = 0; i < written->n; i++)
    {
      const VhostUserVringLogSpan *s = &written->spans[i];

      if (s->first >= len)
        continue;
      vhost_user_vring_log_write (log, s->gpa, s->merged ? s->span : MIN (s->span, len - s->first));
    }
}
