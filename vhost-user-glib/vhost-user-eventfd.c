/* vhost-user-eventfd.c: eventfds a peer shares with us
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Kick and call eventfds pass between the front-end and the back-end with
 * SCM_RIGHTS, which shares the open file description: O_NONBLOCK is the
 * peer's to clear as much as ours, and no fd we hold can be made to keep
 * it (an eventfd cannot be opened again through /proc). A peer that
 * clears it can then hang our thread in the kernel: in read(2), by
 * taking the count between our poll and our read (or before a read
 * nobody polled for), and in write(2), by filling the count to its
 * maximum. Nothing here trusts the flag:
 *
 * - a read asks for no wait itself (preadv2() with RWF_NOWAIT, which an
 *   eventfd honours whatever its flags since Linux 5.12); where the
 *   kernel refuses the flag, it reads only after poll(2) says the count
 *   is there (the race with a peer that takes it back remains there);
 * - a write is made only when poll(2) says it fits: a count too full
 *   for one more already wakes the reader, which is all a signal is for.
 *   A peer that fills the count between our poll and our write and has
 *   cleared O_NONBLOCK still blocks the write; it must win that race,
 *   at each attempt, with a thread spinning on it.
 */

#include "config.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>
#include <sys/uio.h>

#include "vhost-user-eventfd-private.h"

/* 0: not known yet, 1: RWF_NOWAIT works, -1: the kernel refuses it */
static gint nowait_reads;

static gboolean
ready (int   fd,
       short events)
{
  struct pollfd pfd = { fd, events, 0 };
  int n;

  while ((n = poll (&pfd, 1, 0)) < 0 && errno == EINTR)
    ;
  if (n < 0)
    return FALSE;
  if (pfd.revents & POLLNVAL)
    {
      errno = EBADF;
      return FALSE;
    }
  if (!(pfd.revents & events))
    {
      errno = EAGAIN;
      return FALSE;
    }
  return TRUE;
}

/*
 * vhost_user_eventfd_drain:
 * @fd: an eventfd
 * @count: (out) (optional): its count, 0 when there was none
 *
 * Takes the eventfd's count, without ever waiting for one.
 *
 * Returns: %TRUE if there was a count; %FALSE with errno set otherwise
 *   (%EAGAIN: none)
 */
gboolean
vhost_user_eventfd_drain (int      fd,
                          guint64 *count)
{
  guint64 value = 0;
  struct iovec iov = { &value, sizeof value };
  gssize n = -1;

  if (count != NULL)
    *count = 0;
#ifdef RWF_NOWAIT
  if (g_atomic_int_get (&nowait_reads) >= 0)
    {
      while ((n = preadv2 (fd, &iov, 1, -1, RWF_NOWAIT)) < 0 && errno == EINTR)
        ;
      if (n < 0 && (errno == EOPNOTSUPP || errno == ENOSYS))
        g_atomic_int_set (&nowait_reads, -1);
      else
        {
          g_atomic_int_set (&nowait_reads, 1);
          goto done;
        }
    }
#endif
  if (!ready (fd, POLLIN))
    return FALSE;
  while ((n = read (fd, &value, sizeof value)) < 0 && errno == EINTR)
    ;
done:
  if (n != sizeof value)
    {
      if (n >= 0)
        errno = EINVAL;
      return FALSE;
    }
  if (count != NULL)
    *count = value;
  return TRUE;
}

/*
 * vhost_user_eventfd_signal:
 * @fd: an eventfd
 *
 * Adds one to the eventfd's count, unless the count is too full for it
 * (the reader is woken already); never waits.
 *
 * Returns: %TRUE if the reader has a count to wake it; %FALSE with errno
 *   set if the fd is not usable
 */
gboolean
vhost_user_eventfd_signal (int fd)
{
  guint64 one = 1;

  if (!ready (fd, POLLOUT))
    return errno == EAGAIN;
  while (write (fd, &one, sizeof one) < 0)
    {
      if (errno == EAGAIN)
        return TRUE;
      if (errno != EINTR)
        return FALSE;
    }
  return TRUE;
}
