/* vhost-user-vring-log-private.h: dirty-page logging for the rings
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

#include "vhost-user-vring.h"

G_BEGIN_DECLS

/* VHOST_F_LOG_ALL: one bit per 4 KiB page of guest memory, in the log the
 * front-end shared (SET_LOG_BASE). A ring's walkers mark what the device
 * wrote before the driver may see it used, so that a migration that syncs
 * the log has it. Changed under the ring's lock, read under it. */
typedef struct {
  GBytes   *bytes;   /* the log, or NULL */
  gboolean  all;     /* VHOST_F_LOG_ALL is acked */
  int       fd;      /* the back-end's, signalled after logging; not owned */
} VhostUserVringLog;

#define VHOST_USER_VRING_LOG_PAGE 4096

/* What a request's writable buffers were when it was popped, as guest
 * ranges: a push logs from this record, never from the descriptors,
 * which the driver may have rewritten since (the pages it names then
 * are not the ones the device wrote). Kept per head, allocated with the
 * ring, so a bounded number of spans. They are kept sorted by guest
 * address and disjoint (buffers that overlap share one span); past the
 * bound, the two spans next to each other in guest memory with the
 * fewest pages between them become one span over both and that gap.
 * Merging only ever marks more pages, never fewer, and keeping the
 * spans disjoint bounds a push to one pass over what they cover:
 * merging chain-order neighbours instead let spans of a chain that
 * alternates between low and high memory each cover most of it. */
#define VHOST_USER_VRING_LOG_SPANS 8

/* Chain offsets are 32-bit: a push reports at most G_MAXUINT32 bytes
 * written (a guint), so a byte at a later offset is never logged and
 * its buffer is not recorded (a chain can hold 256 pieces of up to
 * 4 GiB each). That keeps a head's record at 200 bytes. */
typedef struct {
  guint64  gpa;
  guint64  span;     /* guest bytes from gpa it covers */
  guint32  first;    /* the chain offset of the first request byte it stands for */
  gboolean merged;   /* FALSE: chain bytes first.. are guest bytes gpa.. in order, none
                      * missing; TRUE: it is over pieces out of order, or gaps, so a
                      * push that wrote any of it marks all of it */
} VhostUserVringLogSpan;

typedef struct {
  guint                 n;
  guint32               offset;   /* the chain offset of the next byte, up to G_MAXUINT32 */
  VhostUserVringLogSpan spans[VHOST_USER_VRING_LOG_SPANS];
} VhostUserVringWritten;

void vhost_user_vring_log_write   (VhostUserVringLog           *log,
                                   guint64                      gpa,
                                   guint64                      len);
void vhost_user_vring_log_signal  (VhostUserVringLog           *log);
void vhost_user_vring_written_add (VhostUserVringWritten       *written,
                                   guint64                      gpa,
                                   guint64                      len);
void vhost_user_vring_log_written (VhostUserVringLog           *log,
                                   const VhostUserVringWritten *written,
                                   guint64                      len);

/* Empties @written for a request being popped. */
static inline void
vhost_user_vring_written_init (VhostUserVringWritten *written)
{
  written->n = 0;
  written->offset = 0;
}

static inline gboolean
vhost_user_vring_log_on (const VhostUserVringLog *log)
{
  return log->all && log->bytes != NULL;
}

/* A write of @len bytes at @offset into the used ring (packed: the device
 * area), logged at the guest address SET_VRING_ADDR gave when the
 * front-end asked for it (VHOST_VRING_F_LOG). Inline: the data path asks
 * on every push, and the answer is almost always no. */
static inline void
vhost_user_vring_log_used (VhostUserVringLog           *log,
                           const VhostUserVringAddress *address,
                           guint64                      offset,
                           guint64                      len)
{
  if (vhost_user_vring_log_on (log) && (address->flags & 1))
    vhost_user_vring_log_write (log, address->log_guest_addr + offset, len);
}

G_END_DECLS
