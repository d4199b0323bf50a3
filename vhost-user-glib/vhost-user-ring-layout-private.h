/* vhost-user-ring-layout-private.h: both virtqueue layouts, from either seat
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What the specification (virtio 1.2, 2.7 and 2.8) lays out in guest
 * memory, and the barrier both sides need around it: the one definition
 * the device's ring (VhostUserVring and its walkers) and the driver's
 * (VhostUserDriverRing) share. Nothing here knows either object.
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* --- the barrier --- */

/* A full barrier between our stores to a ring and the loads of the other
 * side's fields that follow (event indices, suppression flags): each side
 * writes, then reads what the other wrote, and neither may miss both.
 * GCC refuses thread fences under TSan; there a sequentially consistent
 * read-modify-write stands in, which TSan understands and which is a full
 * barrier on the architectures we run. */
static inline void
vhost_user_full_barrier (void)
{
#ifdef VHOST_USER_TSAN
  static int word;

  (void) __atomic_fetch_add (&word, 0, __ATOMIC_SEQ_CST);
#else
  __atomic_thread_fence (__ATOMIC_SEQ_CST);
#endif
}

/* --- split virtqueues (2.7) --- */

#define VRING_DESC_F_NEXT          1
#define VRING_DESC_F_WRITE         2
#define VRING_DESC_F_INDIRECT      4
#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_USED_F_NO_NOTIFY     1

/* the largest split ring (and packed: indices are 15 bits) */
#define VRING_MAX_SIZE 32768

typedef struct {
  guint64 addr;
  guint32 len;
  guint16 flags;
  guint16 next;
} VringDesc;

G_STATIC_ASSERT (sizeof (VringDesc) == 16);

/* The available ring: flags, idx, ring[num], used_event (with
 * EVENT_IDX). The used ring: flags, idx, ring[num] of { id, len },
 * avail_event. Offsets in bytes, for a ring of @num. */
#define VRING_AVAIL_FLAGS            0
#define VRING_AVAIL_IDX              2
#define VRING_AVAIL_RING(i)          (4 + 2 * (guint64) (i))
#define VRING_AVAIL_USED_EVENT(num)  VRING_AVAIL_RING (num)
#define VRING_AVAIL_SIZE(num)        (6 + 2 * (guint64) (num))
#define VRING_USED_FLAGS             0
#define VRING_USED_IDX               2
#define VRING_USED_RING(i)           (4 + 8 * (guint64) (i))
#define VRING_USED_AVAIL_EVENT(num)  VRING_USED_RING (num)
#define VRING_USED_SIZE(num)         (6 + 8 * (guint64) (num))

/* vring_need_event(): whether an index that moved from @old_idx to
 * @new_idx stepped past the @event the other side asked to hear of. */
static inline gboolean
vring_need_event (guint16 event,
                  guint16 new_idx,
                  guint16 old_idx)
{
  return (guint16) (new_idx - event - 1) < (guint16) (new_idx - old_idx);
}

/* --- packed virtqueues (2.8) --- */

#define PACKED_DESC_F_NEXT     (1 << 0)
#define PACKED_DESC_F_WRITE    (1 << 1)
#define PACKED_DESC_F_INDIRECT (1 << 2)
#define PACKED_DESC_F_AVAIL    (1 << 7)
#define PACKED_DESC_F_USED     (1 << 15)

/* event suppression flags (both areas) */
#define PACKED_EVENT_ENABLE  0
#define PACKED_EVENT_DISABLE 1
#define PACKED_EVENT_DESC    2

/* the largest packed ring: indices are 15 bits, bit 15 is the wrap counter */
#define PACKED_MAX_SIZE VRING_MAX_SIZE

typedef struct {
  guint64 addr;
  guint32 len;
  guint16 id;
  guint16 flags;
} PackedDesc;

G_STATIC_ASSERT (sizeof (PackedDesc) == 16);
#define PACKED_DESC_FLAGS_OFFSET 14

/* Both event suppression areas: the driver area (the driver's wishes
 * about calls) and the device area (the device's about kicks). */
typedef struct {
  guint16 off_wrap;
  guint16 flags;
} PackedEvent;

G_STATIC_ASSERT (sizeof (PackedEvent) == 4);

/* The flags that make the descriptor at a position available (as the
 * driver writes them) or used (as the device does), for that position's
 * wrap counter. */
static inline guint16
packed_avail_flags (gboolean wrap)
{
  return wrap ? PACKED_DESC_F_AVAIL : PACKED_DESC_F_USED;
}

static inline guint16
packed_used_flags (gboolean wrap)
{
  return wrap ? PACKED_DESC_F_AVAIL | PACKED_DESC_F_USED : 0;
}

/* Whether a position with @wrap holds what the other side published
 * last lap: AVAIL says wrap, USED says not (available), or both say wrap
 * (used). */
static inline gboolean
packed_is_avail (guint16  flags,
                 gboolean wrap)
{
  return !!(flags & PACKED_DESC_F_AVAIL) == !!wrap && !!(flags & PACKED_DESC_F_USED) != !!wrap;
}

static inline gboolean
packed_is_used (guint16  flags,
                gboolean wrap)
{
  return !!(flags & PACKED_DESC_F_AVAIL) == !!wrap && !!(flags & PACKED_DESC_F_USED) == !!wrap;
}

/* Whether an event the other side asked for at @off_wrap (offset, wrap
 * counter in bit 15) lies among the last @since positions before
 * (@idx, @wrap) in a ring of @size. Positions and wrap counters are
 * counted together, modulo twice the ring: (idx, wrap 1) is idx, (idx,
 * wrap 0) is size + idx. A request for a position outside the ring, or
 * more than two laps since the last notification, says yes: a needless
 * notification is harmless, a missing one hangs the other side. */
static inline gboolean
packed_need_event (guint16  off_wrap,
                   guint    idx,
                   gboolean wrap,
                   guint    since,
                   guint    size)
{
  guint lap = 2 * size;
  guint event = off_wrap & 0x7fff;
  guint now = idx + (wrap ? 0 : size);

  if (event >= size || since >= lap)
    return TRUE;
  event += (off_wrap & 0x8000) ? 0 : size;
  /* event is one of now - since .. now - 1 */
  return (now + lap - event - 1) % lap < since;
}

G_END_DECLS
