/* test-util.c: helpers shared by the tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "vhost-user-glib/vhost-user-peer-fd-private.h"
#include "vhost-user-glib/vhost-user-pipe-relay-private.h"
#include "test-util.h"

guint
test_count_open_fds (void)
{
  g_autoptr(GDir) dir = NULL;
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  guint n = 0;

  /* the library's threads on peers' pipes (relays, closes) close their
   * fds when they end, soon after what they are for: counted after */
  while ((vhost_user_pipe_relay_running () > 0 || vhost_user_peer_fd_closes_pending () > 0) &&
         g_get_monotonic_time () < deadline)
    g_usleep (100);
  dir = g_dir_open ("/proc/self/fd", 0, NULL);

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  /* the directory's own fd */
  return n - 1;
}

void
test_fuzz_check_fds (void          (*run) (const guint8 *data, gsize size),
                     const guint8  *data,
                     gsize          size)
{
  static guint baseline;
  guint now = test_count_open_fds ();

  if (baseline == 0 || now <= baseline)
    {
      baseline = MAX (baseline, now);
      return;
    }
  run (data, size);
  g_assert_cmpuint (test_count_open_fds (), <=, now);
  baseline = now;
}

int
test_eventfd (void)
{
  int fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);

  g_assert_cmpint (fd, >=, 0);
  return fd;
}

int
test_memfd (gsize size)
{
  int fd = memfd_create ("vhost-user-test", MFD_CLOEXEC);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, size), ==, 0);
  return fd;
}

gboolean
test_fd_is_open (int fd)
{
  return fcntl (fd, F_GETFD) >= 0 || errno != EBADF;
}

char *
test_socket_path_new (const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("vhost-user-test-XXXXXX", &error);

  g_assert_no_error (error);
  return g_build_filename (dir, name, NULL);
}

void
test_socket_path_free (char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);

  g_unlink (path);
  g_rmdir (dir);
  g_free (path);
}

static gboolean
timeout_cb (gpointer data)
{
  gboolean *timed_out = data;

  *timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

gboolean
test_iterate_until (GMainContext *context,
                    gboolean     *flag,
                    guint         timeout_ms)
{
  gboolean timed_out = FALSE;
  GSource *timeout = g_timeout_source_new (timeout_ms);

  g_source_set_callback (timeout, timeout_cb, &timed_out, NULL);
  g_source_attach (timeout, context);
  while (!*flag && !timed_out)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (timeout);
  g_source_unref (timeout);
  return *flag;
}

gboolean
test_context_is_asleep (GMainContext *context)
{
  GPollFD fds[64];
  gint priority, timeout, n;
  gboolean ready;

  if (context == NULL)
    context = g_main_context_default ();
  g_assert_true (g_main_context_acquire (context));
  ready = g_main_context_prepare (context, &priority);
  n = g_main_context_query (context, G_MAXINT, &timeout, fds, G_N_ELEMENTS (fds));
  g_assert_cmpint (n, <=, (gint) G_N_ELEMENTS (fds));
  /* a timeout of 0: the context would not sleep either */
  if (!ready && timeout == 0)
    ready = TRUE;
  if (!ready)
    {
      for (gint i = 0; i < n; i++)
        fds[i].revents = 0;
      ready = g_poll (fds, n, 0) > 0;
    }
  /* give the context back as it was: check() consumes a wake-up */
  g_main_context_check (context, priority, fds, n);
  g_main_context_release (context);
  return !ready;
}

struct _TestPipeLock {
  int      pipe_fd;    /* the pipe, opened again for writing */
  int      socks[2];
  GThread *thread;
  gint     tid;
};

static gpointer
pipe_lock_splice (gpointer data)
{
  TestPipeLock *lock = data;
  sigset_t pipe_set;

  sigemptyset (&pipe_set);
  sigaddset (&pipe_set, SIGPIPE);
  pthread_sigmask (SIG_BLOCK, &pipe_set, NULL);
  g_atomic_int_set (&lock->tid, (gint) syscall (SYS_gettid));
  g_assert_cmpint (splice (lock->socks[0], NULL, lock->pipe_fd, NULL, 4096, 0), ==, 0);
  return NULL;
}

TestPipeLock *
test_pipe_lock_hold (int fd)
{
  TestPipeLock *lock = g_new0 (TestPipeLock, 1);
  g_autofree char *proc = g_strdup_printf ("/proc/self/fd/%d", fd);
  g_autofree char *prefix = g_strdup_printf ("%d ", SYS_splice);
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  gboolean waiting = FALSE;

  lock->pipe_fd = open (proc, O_WRONLY | O_CLOEXEC);
  g_assert_cmpint (lock->pipe_fd, >=, 0);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, lock->socks), ==, 0);
  g_assert_cmpint (fcntl (lock->pipe_fd, F_SETFL, fcntl (lock->pipe_fd, F_GETFL) & ~O_NONBLOCK), ==, 0);
  lock->thread = g_thread_new ("pipe lock", pipe_lock_splice, lock);
  while (!waiting && g_get_monotonic_time () < deadline)
    {
      gint tid = g_atomic_int_get (&lock->tid);
      g_autofree char *path = g_strdup_printf ("/proc/self/task/%d/syscall", tid);
      g_autofree char *line = NULL;

      if (tid != 0 && g_file_get_contents (path, &line, NULL, NULL) && g_str_has_prefix (line, prefix))
        waiting = TRUE;
      else
        g_usleep (1000);
    }
  g_assert_true (waiting);
  /* (in the call is not yet waiting in it) */
  g_usleep (G_USEC_PER_SEC / 20);
  return lock;
}

void
test_pipe_lock_release (TestPipeLock *lock)
{
  /* the socket's end: the splice returns, and lets go of the lock */
  g_close (lock->socks[1], NULL);
  g_thread_join (lock->thread);
  g_close (lock->socks[0], NULL);
  g_close (lock->pipe_fd, NULL);
  g_free (lock);
}
