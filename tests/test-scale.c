/* test-scale.c: one back-end process, a thousand front-ends at once
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The example blk device ($VHOST_USER_BLK, --quiet) serves 1,000
 * front-ends connected at the same time, in its main loop and then with
 * a thread each (--threaded --max-threads 0). Every front-end gets its
 * GET_FEATURES answered while all are connected; once they are gone the
 * process is back to the fds and threads it had before. What an idle
 * connection costs in resident memory is printed, not asserted.
 */

#include <string.h>
#include <sys/resource.h>
#include <glib/gstdio.h>
#include <vhost-user-glib.h>

#include "test-util.h"

#define N_FRONTENDS 1000

typedef struct {
  char        *dir;
  char        *sock;
  GSubprocess *blk;
  GPtrArray   *frontends;
  guint        connected;
  guint        answered;
  guint        failed;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp ("vhost-user-scale-XXXXXX", &error);
  g_assert_no_error (error);
  f->sock = g_build_filename (f->dir, "blk.sock", NULL);
  f->frontends = g_ptr_array_new_with_free_func (g_object_unref);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_ptr_array_unref (f->frontends);
  if (f->blk != NULL)
    {
      g_subprocess_force_exit (f->blk);
      g_subprocess_wait (f->blk, NULL, NULL);
      g_clear_object (&f->blk);
    }
  g_unlink (f->sock);
  g_rmdir (f->dir);
  g_free (f->sock);
  g_free (f->dir);
}

/* A line of /proc/PID/status, as a number (kB for the memory lines). */
static guint64
proc_status (GSubprocess *p,
             const char  *field)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/status", g_subprocess_get_identifier (p));
  g_autofree char *text = NULL;
  const char *at;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  at = strstr (text, field);
  g_assert_nonnull (at);
  return g_ascii_strtoull (at + strlen (field) + 1, NULL, 10);
}

static guint
proc_fds (GSubprocess *p)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/fd", g_subprocess_get_identifier (p));
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

static void
answered (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  Fixture *f = user_data;
  g_autoptr(GError) error = NULL;
  guint64 features = vhost_user_frontend_get_u64_finish (VHOST_USER_FRONTEND (source), result, &error);

  if (error != NULL || features == 0)
    {
      g_test_message ("GET_FEATURES: %s", error != NULL ? error->message : "no features");
      f->failed++;
    }
  else
    f->answered++;
}

static void
connected (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  Fixture *f = user_data;
  g_autoptr(GError) error = NULL;

  if (!vhost_user_frontend_connect_to_path_finish (VHOST_USER_FRONTEND (source), result, &error))
    {
      g_test_message ("connect: %s", error->message);
      f->failed++;
      return;
    }
  f->connected++;
}

static void
iterate_while (Fixture  *f,
               guint    *counter,
               guint     target)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  while (*counter + f->failed < target && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
}

static void
test_thousand (Fixture       *f,
               gconstpointer  data)
{
  gboolean threaded = GPOINTER_TO_INT (data);
  const char *blk = g_getenv ("VHOST_USER_BLK");
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_autoptr(GError) error = NULL;
  guint64 rss_idle, rss_full;
  guint fds_idle, threads_idle, fds_full;
  gint64 deadline;
  struct rlimit limit;

  /* meson's MALLOC_PERTURB_ writes every byte malloc hands out: the
   * resident figure would count what an idle connection never touches,
   * and filling it for a thousand connections outlasts the test */
  g_subprocess_launcher_unsetenv (launcher, "MALLOC_PERTURB_");

  /* a socket each, on both sides: more than the usual 1024 */
  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &limit), ==, 0);
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < 3 * N_FRONTENDS)
    {
      g_test_skip ("RLIMIT_NOFILE's hard limit is too low for a thousand connections");
      return;
    }
  limit.rlim_cur = limit.rlim_max == RLIM_INFINITY ? 4 * N_FRONTENDS : limit.rlim_max;
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &limit), ==, 0);

  if (threaded)
    f->blk = g_subprocess_launcher_spawn (launcher, &error, blk, "--socket", f->sock, "--capacity-mb", "1",
                                          "--quiet", "--threaded", "--max-threads", "0", NULL);
  else
    f->blk = g_subprocess_launcher_spawn (launcher, &error, blk, "--socket", f->sock, "--capacity-mb", "1",
                                          "--quiet", NULL);
  g_assert_no_error (error);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (!g_file_test (f->sock, G_FILE_TEST_EXISTS) && g_get_monotonic_time () < deadline)
    g_usleep (10000);
  g_assert_true (g_file_test (f->sock, G_FILE_TEST_EXISTS));
  g_usleep (100 * 1000);
  rss_idle = proc_status (f->blk, "VmRSS:");
  fds_idle = proc_fds (f->blk);
  threads_idle = proc_status (f->blk, "Threads:");

  for (guint i = 0; i < N_FRONTENDS; i++)
    {
      VhostUserFrontend *frontend = vhost_user_frontend_new ();

      g_ptr_array_add (f->frontends, frontend);
      vhost_user_frontend_connect_to_path_async (frontend, f->sock, 30000, NULL, connected, f);
    }
  iterate_while (f, &f->connected, N_FRONTENDS);
  g_assert_cmpuint (f->failed, ==, 0);
  g_assert_cmpuint (f->connected, ==, N_FRONTENDS);

  /* every one answered while all are connected */
  for (guint i = 0; i < N_FRONTENDS; i++)
    vhost_user_frontend_get_u64_async (g_ptr_array_index (f->frontends, i), VHOST_USER_REQUEST_GET_FEATURES, NULL,
                                       answered, f);
  iterate_while (f, &f->answered, N_FRONTENDS);
  g_assert_cmpuint (f->failed, ==, 0);
  g_assert_cmpuint (f->answered, ==, N_FRONTENDS);

  rss_full = proc_status (f->blk, "VmRSS:");
  fds_full = proc_fds (f->blk);
  g_test_message ("%s: %u front-ends: resident %" G_GUINT64_FORMAT " kB -> %" G_GUINT64_FORMAT " kB, "
                  "%.1f kB per connection; %u fds -> %u; threads %" G_GUINT64_FORMAT,
                  threaded ? "a thread each" : "main loop", N_FRONTENDS, rss_idle, rss_full,
                  (gdouble) (rss_full - MIN (rss_full, rss_idle)) / N_FRONTENDS, fds_idle, fds_full,
                  proc_status (f->blk, "Threads:"));
  g_assert_cmpuint (fds_full, >=, fds_idle + N_FRONTENDS);
  if (threaded)
    g_assert_cmpuint (proc_status (f->blk, "Threads:"), >=, threads_idle + N_FRONTENDS);

  /* gone: the process is back to what it had */
  for (guint i = 0; i < N_FRONTENDS; i++)
    vhost_user_frontend_close (g_ptr_array_index (f->frontends, i));
  deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while ((proc_fds (f->blk) > fds_idle || proc_status (f->blk, "Threads:") > threads_idle) &&
         g_get_monotonic_time () < deadline)
    g_usleep (20 * 1000);
  g_assert_cmpuint (proc_fds (f->blk), ==, fds_idle);
  g_assert_cmpuint (proc_status (f->blk, "Threads:"), ==, threads_idle);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  if (g_getenv ("VHOST_USER_BLK") == NULL)
    {
      g_test_message ("VHOST_USER_BLK is not set (built without examples)");
      return 77;
    }
  g_test_add ("/scale/thousand-frontends/main-loop", Fixture, GINT_TO_POINTER (FALSE), fixture_setup, test_thousand,
              fixture_teardown);
  g_test_add ("/scale/thousand-frontends/threaded", Fixture, GINT_TO_POINTER (TRUE), fixture_setup, test_thousand,
              fixture_teardown);
  return g_test_run ();
}
