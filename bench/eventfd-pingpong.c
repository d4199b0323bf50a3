/* eventfd-pingpong.c: the floor under a queue-depth-1 virtqueue round trip
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   eventfd-pingpong [SECONDS]
 *
 * Two processes and two eventfds, as a kick and a call: the parent
 * signals one, the child blocks on it and signals the other, the parent
 * blocks on that. No rings, no memory, no protocol; whatever a vhost-user
 * back-end adds on top of this is its own cost. Prints round trips per
 * second in the same form as vhost-user-blk-client --bench.
 */

#include <glib.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

static void
wait_and_drain (int fd)
{
  struct pollfd pfd = { fd, POLLIN, 0 };
  guint64 value;

  while (poll (&pfd, 1, -1) < 0)
    ;
  if (read (fd, &value, sizeof value) < 0)
    {
      perror ("read");
      exit (EXIT_FAILURE);
    }
}

static void
signal_fd (int fd)
{
  guint64 one = 1;

  if (write (fd, &one, sizeof one) < 0)
    {
      perror ("write");
      exit (EXIT_FAILURE);
    }
}

int
main (int   argc,
      char *argv[])
{
  double seconds = argc > 1 ? g_ascii_strtod (argv[1], NULL) : 2.0;
  int kick = eventfd (0, EFD_CLOEXEC);
  int call = eventfd (0, EFD_CLOEXEC);
  gint64 t0, end, now;
  guint64 trips = 0;
  pid_t child;

  if (kick < 0 || call < 0 || seconds <= 0)
    {
      fprintf (stderr, "usage: eventfd-pingpong [SECONDS]\n");
      return EXIT_FAILURE;
    }
  child = fork ();
  if (child < 0)
    {
      perror ("fork");
      return EXIT_FAILURE;
    }
  if (child == 0)
    for (;;)
      {
        wait_and_drain (kick);
        signal_fd (call);
      }

  t0 = now = g_get_monotonic_time ();
  end = t0 + (gint64) (seconds * G_USEC_PER_SEC);
  while (now < end)
    {
      signal_fd (kick);
      wait_and_drain (call);
      if ((++trips & 63) == 0)
        now = g_get_monotonic_time ();
    }
  now = g_get_monotonic_time ();
  kill (child, SIGKILL);
  waitpid (child, NULL, 0);
  seconds = (now - t0) / (double) G_USEC_PER_SEC;
  printf ("bench: %" G_GUINT64_FORMAT " round trips in %.2f s: %.0f per second, %.1f us each\n",
          trips, seconds, trips / seconds, seconds * 1e6 / trips);
  return EXIT_SUCCESS;
}
