/* vhost-user-vring-packed-private.h: packed virtqueues, from both seats
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The state the back-end's walker (vhost-user-vring-packed.c) keeps
 * beside a VhostUserVring; the layout is in
 * vhost-user-ring-layout-private.h.
 */

#pragma once

#include "vhost-user-memory-table.h"
#include "vhost-user-ring-layout-private.h"
#include "vhost-user-vring-log-private.h"
#include "vhost-user-vring-walk-private.h"
#include "vhost-user-vring.h"

G_BEGIN_DECLS

/* The record of what is out with the device, in the layout the
 * specification gives the in-flight area of a packed ring
 * (INFLIGHT_SHMFD): a 32-byte header, then one 32-byte entry per
 * descriptor, each a copy of a descriptor the device took. */
#define PACKED_RECORD_HEADER 32
#define PACKED_RECORD_ENTRY  32

static inline gsize
packed_record_size (guint size)
{
  return PACKED_RECORD_HEADER + PACKED_RECORD_ENTRY * (gsize) size;
}

/* What the back-end's walker keeps per ring beyond its base: which
 * buffer ids are out with the device, and how many descriptors each
 * took, so that a used descriptor moves the used index by as many; and
 * a copy of every descriptor out with the device (the record), where a
 * push finds what to log and a restarted back-end what to resubmit.
 * Everything is allocated with the ring's size, never per request. */
typedef struct {
  guint32    *chains;      /* per buffer id: its chain's descriptors, 0 when not out */
  guint16    *heads;       /* per buffer id out: its first entry in the record */
  VhostUserVringWritten *written;  /* per buffer id out: its writable buffers as popped, for the log */
  guint       n_chains;
  guint       in_flight;   /* descriptors popped and not used yet */
  guint       used_since_call;
  gboolean    call_known;  /* used_since_call counts from a call */
  guint8     *record;      /* the shared in-flight area, or own_record */
  guint8     *own_record;  /* the same layout in our memory */
  guint64     counter;     /* the next request's, for the order of resubmission */
  const char *bad_area;    /* why the in-flight area found at start is not usable */
} VhostUserVringPacked;

/* One call's view of the ring it works on, made by vhost-user-vring.c. */
typedef struct {
  VhostUserVringPacked        *state;
  VhostUserVringXlat          *xlat;
  const VhostUserVringAddress *address;
  guint                        size;
  guint                       *base;
  gboolean                     event_idx;
  VhostUserVringLog           *log;
  guint                        index;      /* for messages */
  gboolean                     polling;    /* an empty ring asks for no kick */
} VhostUserVringPackedView;

/* Those that take @why report a driver that broke the ring there (see
 * vhost-user-vring-walk-private.h); the caller breaks it. */
void     vhost_user_vring_packed_resize     (VhostUserVringPacked           *state,
                                             guint                           size);
void     vhost_user_vring_packed_forget     (VhostUserVringPacked           *state);
void     vhost_user_vring_packed_release_area (VhostUserVringPacked         *state);
guint    vhost_user_vring_packed_recover    (const VhostUserVringPackedView *view,
                                             guint8                         *area,
                                             guint16                        *resubmit);
gboolean vhost_user_vring_packed_resubmit   (const VhostUserVringPackedView *view,
                                             guint                           entry,
                                             VhostUserVringElement          *element,
                                             const char                    **why);
guint    vhost_user_vring_packed_base       (guint                           base);
gboolean vhost_user_vring_packed_pop        (const VhostUserVringPackedView *view,
                                             VhostUserVringElement          *element,
                                             const char                    **why);
void     vhost_user_vring_packed_unpop      (const VhostUserVringPackedView *view,
                                             guint                           id);
gboolean vhost_user_vring_packed_push       (const VhostUserVringPackedView *view,
                                             const guint                    *heads,
                                             const guint                    *lens,
                                             guint                           n,
                                             const char                    **why,
                                             GError                        **error);
gboolean vhost_user_vring_packed_wants_call (const VhostUserVringPackedView *view);
void     vhost_user_vring_packed_called     (VhostUserVringPacked           *state);
guint    vhost_user_vring_packed_abandon    (VhostUserVringPacked           *state);
gboolean vhost_user_vring_packed_is_abandoned (VhostUserVringPacked         *state,
                                             guint                           id);
void     vhost_user_vring_packed_drop       (VhostUserVringPacked           *state,
                                             guint                           id);
gboolean vhost_user_vring_packed_give_up    (VhostUserVringPacked           *state,
                                             guint                           id);
void     vhost_user_vring_packed_forget_abandoned (VhostUserVringPacked     *state);

G_END_DECLS
