/* test-util.c: helpers shared by the tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "test-util.h"

guint
test_count_open_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

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
