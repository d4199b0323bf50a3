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
 * ranges in the order of its chain: a push logs from this record, never
 * from the descriptors, which the driver may have rewritten since (the
 * pages it names then are not the ones the device wrote). Kept per head,
 * allocated with the ring, so a bounded number of spans: past it, the
 * two neighbours that cost least are merged into one span over both
 * (and the gap between them), which only ever marks more pages, never
 * fewer. */
#define VHOST_USER_VRING_LOG_SPANS 8

typedef struct {
  guint64 gpa;
  guint64 span;    /* guest bytes from gpa it covers */
  guint64 bytes;   /* the request's bytes it stands for: less than span once merged */
} VhostUserVringLogSpan;

typedef struct {
  guint                 n;
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
