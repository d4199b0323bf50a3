/* vhost-user-vring-state-private.h: what vhost-user-vring.c shares with its parts
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A VhostUserVring is one object in several files: the object, its
 * properties, kicks, calls and the control plane (vhost-user-vring.c);
 * the split walker (vhost-user-vring-split.c); the packed walker
 * (vhost-user-vring-packed.c); the in-flight area
 * (vhost-user-vring-inflight.c); the dirty log (vhost-user-vring-log.c).
 * Calls go one way only, from vhost-user-vring.c down: the parts share
 * this struct and never call back up (a broken ring is reported as a
 * reason, see vhost-user-vring-walk-private.h). Everything here is used
 * with the ring's lock held.
 */

#pragma once

#include "vhost-user-lock-private.h"
#include "vhost-user-vring-log-private.h"
#include "vhost-user-vring-packed-private.h"
#include "vhost-user-vring-private.h"
#include "vhost-user-vring-walk-private.h"

G_BEGIN_DECLS

/* split_out[head]: whether a head is out with the device */
#define SPLIT_OUT_NO        0
#define SPLIT_OUT_YES       1
#define SPLIT_OUT_ABANDONED 2   /* popped in a session stopped without draining */

struct _VhostUserVring
{
  GObject               parent_instance;

  /* The data path (pop, push, notify: any one thread, often a worker of
   * the device's) against the control plane (the setters below, in the
   * back-end's thread): everything from here to the end is under it. */
  GMutex                lock;

  guint                 index;
  guint                 size;
  guint                 base;
  VhostUserVringAddress address;
  gboolean              enabled;
  gboolean              started;
  int                   fds[3];

  /* the data plane */
  GMainContext         *context;         /* the back-end's */
  GMainContext         *ring_context;    /* where kicks are handled, or NULL: context */
  VhostUserVringXlat    xlat;            /* the memory table, and the IOTLB */
  gboolean              packed;
  gboolean              event_idx;       /* VIRTIO_RING_F_EVENT_IDX */
  guint16               signalled_used;  /* the used index at the last call */
  gboolean              signalled_used_valid;
  guint16               used_idx;
  gboolean              used_idx_known;  /* read from the ring on first use */
  gboolean              broken;          /* the driver broke the ring: touch it no more */
  GSource              *kick_source;     /* the kick eventfd, or polling without one */
  gboolean              in_kick;         /* its handler runs (a nested iteration may kick) */
  gboolean              kick_again;      /* a kick came in a nested iteration */
  /* busy-polling after a kick (vhost-user-vring-kick.c): how long to look
   * for more with kicks off, whether we are, and when work last came */
  guint                 poll_window_us;   /* the most the window grows to */
  /* the adaptive window (vhost-user-vring-kick.c): how long polling goes
   * on now, and when it last ran out without work (0: it did not) */
  guint                 poll_now_us;
  gint64                poll_ran_out;
  gboolean              polling;
  GSource              *poll_source;
  gint64                poll_last_work;
  VhostUserVringKickFunc kick_func;
  gpointer              kick_data;
  GDestroyNotify        kick_notify;
  /* the most requests one run of the kick handler pops (0: no bound);
   * what is left of it in the run going on (G_MAXUINT outside one, where
   * pops are never bounded) and the thread running it (pops of other
   * threads meanwhile are not bounded either), whether a pop found it
   * spent, how deep runs are nested (only the outermost one counts), and
   * the source that then runs the handler again, and whether it should
   * (kept across a new source: vhost-user-vring-kick.c) */
  guint                 budget;
  guint                 budget_left;
  GThread              *budget_thread;
  gboolean              budget_spent;
  guint                 handler_runs;
  GSource              *rerun_source;
  gboolean              rerun_wanted;

  /* requests popped and not pushed yet; GET_VRING_BASE waits for them */
  guint                 in_flight;
  /* the same, across resets (a device may still hold requests of a
   * session that ended), and the memory tables replaced meanwhile: their
   * mappings stay until the device gave every request back */
  guint                 outstanding;
  GPtrArray            *retired_memory;
  /* split rings: which heads are out with the device (one byte each, sized
   * with the ring): a head pushed that is not out (twice, or from a
   * session that ended) is refused, not written to the driver's ring */
  guint8               *split_out;       /* SPLIT_OUT_* */
  /* split rings: per head, its writable buffers as popped, for the log */
  VhostUserVringWritten *split_written;
  guint                 abandoned;       /* heads (packed: ids) of a session stopped undrained */
  VhostUserVringDrainedFunc drained_func;
  gpointer              drained_data;
  GDestroyNotify        drained_notify;

  /* INFLIGHT_SHMFD: this queue's part of the shared area, in the spec's
   * layout, and the requests to hand out again after a restart */
  GBytes               *inflight;
  guint8               *inflight_area;
  gsize                 inflight_len;
  guint64               inflight_counter;
  /* the area is all zeros (its file was all holes when it was handed
   * over, and this ring has not written to it since), and a split ring
   * started on it lays it out only when it first records a request: a
   * device set up and stopped unused never touches its pages (on a 2-CPU
   * VM, faulting in the four pages a layout writes took a tenth of a
   * device setup) */
  gboolean              inflight_zeroed;
  gboolean              inflight_written;   /* by this ring, since it was given */
  gboolean              inflight_lay_out;
  guint16               inflight_lay_out_used;
  guint16              *resubmit;        /* heads, oldest first (sized at start) */
  guint                 n_resubmit;
  guint                 next_resubmit;

  /* dirty-page logging (VHOST_F_LOG_ALL): vhost-user-vring-log.c */
  VhostUserVringLog     log;

  /* without a call fd, with in-band notifications: BACKEND_VRING_CALL */
  VhostUserVringCallFunc call_func;
  gpointer              call_data;

  /* told (in the back-end's context) when the driver broke the ring */
  VhostUserVringBrokenFunc broken_func;
  gpointer              broken_data;

  VhostUserVringPacked  packed_ring;     /* vhost-user-vring-packed.c */

  /* with the IOTLB: a pop that missed parks the ring until an update
   * comes (the miss is sent once per IOVA), and an invalidation holds
   * every request out with the device, per head (packed: buffer id),
   * until it is given back (see vhost-user-backend-handlers.c) */
  gboolean              parked;
  guint64               parked_iova;
  guint                 parked_perm;
  gboolean              miss_pending;    /* for vhost_user_vring_take_miss() */
  VhostUserVringMissFunc miss_func;
  gpointer              miss_data;
  VhostUserIotlbFence **fences;          /* n_fences, sized with the ring */
  guint                 n_fences;
  guint64              *spans;           /* per head: first and last IOVA of its buffers */
  GError               *pending_error;   /* a break from the control plane, for the next pop */

  /* the last requests popped from the driver's ring (not resubmitted),
   * with no push since: these can be handed back, newest first
   * (vhost_user_vring_unpop()) */
  guint16               recent[VHOST_USER_VRING_MAX_UNPOP];
  guint                 recent_top;
  guint                 unpoppable;
};

/* what the packed walker sees of a ring, for one call (under the lock) */
#define PACKED_VIEW(self) \
  ((VhostUserVringPackedView) { &(self)->packed_ring, &(self)->xlat, &(self)->address, (self)->size, \
                                &(self)->base, (self)->event_idx, &(self)->log, (self)->index, \
                                (self)->polling })


#define LOCK(self)   vhost_user_mutex_lock (&(self)->lock)
#define UNLOCK(self) vhost_user_mutex_unlock (&(self)->lock)

/* --- shared by vhost-user-vring.c and the data path, -vring-io.c (with
 * the lock held) --- */

void     vhost_user_vring_release_fence     (VhostUserVring        *self,
                                             guint                  head);
void     vhost_user_vring_forget_areas      (VhostUserVring        *self);
void     vhost_user_vring_size_fences       (VhostUserVring        *self);
void     vhost_user_vring_schedule_drained  (VhostUserVring        *self);

/* --- kicks: vhost-user-vring-kick.c (vhost_user_vring_kick() is in
 * vhost-user-vring-private.h) --- */

void     vhost_user_vring_update_kick_watch (VhostUserVring        *self);

/* --- the split walker: vhost-user-vring-split.c --- */

gboolean vhost_user_vring_split_pop        (VhostUserVring         *self,
                                            VhostUserVringElement  *element,
                                            const char            **why);
gboolean vhost_user_vring_split_push       (VhostUserVring         *self,
                                            const guint            *heads,
                                            const guint            *lens,
                                            guint                   n,
                                            const char            **why,
                                            GError                **error);
gboolean vhost_user_vring_split_wants_call (VhostUserVring         *self);
void     vhost_user_vring_split_unpop      (VhostUserVring         *self,
                                            guint                   head);

/* --- the in-flight area (INFLIGHT_SHMFD): vhost-user-vring-inflight.c ---
 *
 * Split layout, per queue: features (u64), version (u16), desc_num (u16),
 * last_batch_head (u16), used_idx (u16), then one 16-byte entry per
 * descriptor: inflight (u8), 5 bytes of padding, next (u16), counter
 * (u64). Packed rings keep theirs in the packed walker's record. */

#define INFLIGHT_HEADER 16
#define IF_VERSION(a)          ((guint16 *) ((a) + 8))
#define IF_DESC_NUM(a)         ((guint16 *) ((a) + 10))
#define IF_LAST_BATCH_HEAD(a)  ((guint16 *) ((a) + 12))
#define IF_USED_IDX(a)         ((guint16 *) ((a) + 14))
#define IF_ENTRY(a, i)         ((a) + INFLIGHT_HEADER + 16 * (gsize) (i))
#define IF_INFLIGHT(a, i)      ((guint8 *) IF_ENTRY (a, i))
#define IF_NEXT(a, i)          ((guint16 *) (IF_ENTRY (a, i) + 6))
#define IF_COUNTER(a, i)       ((guint64 *) (IF_ENTRY (a, i) + 8))

/* Whether the area has room for this ring in its layout (and is aligned
 * for it: the front-end chose the offset). */
static inline gboolean
vhost_user_vring_tracking (VhostUserVring *self)
{
  gsize need = self->packed ? packed_record_size (self->size) : INFLIGHT_HEADER + 16 * (gsize) self->size;

  return self->inflight_area != NULL && ((guintptr) self->inflight_area & 7) == 0 &&
         self->size <= VRING_MAX_SIZE && need <= self->inflight_len;
}

void     vhost_user_vring_inflight_lay_out (VhostUserVring         *self);

/* A split request popped: in flight until pushed. */
static inline void
vhost_user_vring_inflight_pop (VhostUserVring *self,
                               guint           head)
{
  if (!vhost_user_vring_tracking (self))
    return;
  if (G_UNLIKELY (self->inflight_lay_out))
    vhost_user_vring_inflight_lay_out (self);
  *IF_COUNTER (self->inflight_area, head) = self->inflight_counter++;
  __atomic_store_n (IF_INFLIGHT (self->inflight_area, head), 1, __ATOMIC_RELEASE);
}

void     vhost_user_vring_inflight_recover (VhostUserVring         *self);

G_END_DECLS
