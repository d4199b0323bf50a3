/* vhost-user-vring-log.c: dirty-page logging for the rings
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <unistd.h>

#include "vhost-user-vring-log-private.h"

/* Marks the pages of [@gpa, @gpa + @len) dirty. Pages past the end of
 * the log are not ours to mark: the front-end sized it. Called with the
 * ring's lock held, the log on. */
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
  last = (gpa + len - 1 < gpa ? G_MAXUINT64 : gpa + len - 1) / VHOST_USER_VRING_LOG_PAGE;
  for (page = gpa / VHOST_USER_VRING_LOG_PAGE; page <= last && page / 8 < log_len; page++)
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
