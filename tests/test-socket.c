/* test-socket.c: listening and connecting on socket paths
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <vhost-user-glib.h>

#include "test-util.h"
#include "vhost-user-socket-private.h"

static void
test_listen_mode (void)
{
  g_autoptr(GError) error = NULL;
  char *path = test_socket_path_new ("mode.sock");
  GSocket *listener;
  GStatBuf st;

  listener = vhost_user_socket_listen (path, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_true (S_ISSOCK (st.st_mode));
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_object_unref (listener);
  g_unlink (path);

  listener = vhost_user_socket_listen (path, 0660, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0660);
  g_object_unref (listener);

  test_socket_path_free (path);
}

static void
test_stale_replaced (void)
{
  g_autoptr(GError) error = NULL;
  char *path = test_socket_path_new ("stale.sock");
  GSocket *listener, *client;

  /* a listener that died leaves its socket file behind */
  listener = vhost_user_socket_listen (path, 0, &error);
  g_assert_no_error (error);
  g_socket_close (listener, NULL);
  g_object_unref (listener);
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));

  listener = vhost_user_socket_listen (path, 0, &error);
  g_assert_no_error (error);
  g_assert_nonnull (listener);

  /* and the new one is the one answering */
  client = vhost_user_socket_connect (path, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (client);

  g_object_unref (client);
  g_object_unref (listener);
  test_socket_path_free (path);
}

static void
test_live_refused (void)
{
  g_autoptr(GError) error = NULL;
  char *path = test_socket_path_new ("live.sock");
  GSocket *listener, *second;

  listener = vhost_user_socket_listen (path, 0, &error);
  g_assert_no_error (error);

  second = vhost_user_socket_listen (path, 0, &error);
  g_assert_null (second);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_CONNECT);
  g_clear_error (&error);

  /* the live listener still works */
  second = vhost_user_socket_connect (path, 0, NULL, &error);
  g_assert_no_error (error);
  g_object_unref (second);

  g_object_unref (listener);
  test_socket_path_free (path);
}

static void
test_not_a_socket (void)
{
  g_autoptr(GError) error = NULL;
  char *path = test_socket_path_new ("file");
  GSocket *listener;

  g_assert_true (g_file_set_contents (path, "precious", -1, NULL));
  listener = vhost_user_socket_listen (path, 0, &error);
  g_assert_null (listener);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_CONNECT);
  /* never removed */
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
  test_socket_path_free (path);
}

static void
test_connect_nobody (void)
{
  g_autoptr(GError) error = NULL;
  char *path = test_socket_path_new ("nobody.sock");
  gint64 start = g_get_monotonic_time ();
  GSocket *client;

  client = vhost_user_socket_connect (path, 0, NULL, &error);
  g_assert_null (client);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_CONNECT);
  g_assert_false (vhost_user_error_should_reconnect (error));
  g_clear_error (&error);

  client = vhost_user_socket_connect (path, 200, NULL, &error);
  g_assert_null (client);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_CONNECT);
  /* it did wait (no upper bound: the machine may be slow) */
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 200 * G_TIME_SPAN_MILLISECOND);
  test_socket_path_free (path);
}

static gpointer
listen_later (gpointer data)
{
  const char *path = data;

  g_usleep (150 * G_TIME_SPAN_MILLISECOND);
  return vhost_user_socket_listen (path, 0, NULL);
}

static void
test_connect_waits (void)
{
  g_autoptr(GError) error = NULL;
  char *path = test_socket_path_new ("later.sock");
  GThread *thread = g_thread_new ("listen-later", listen_later, path);
  GSocket *client, *listener;

  /* front-ends with server=on create their socket after we start */
  client = vhost_user_socket_connect (path, 10000, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (client);
  listener = g_thread_join (thread);
  g_assert_nonnull (listener);

  g_object_unref (client);
  g_object_unref (listener);
  test_socket_path_free (path);
}

static void
test_connect_cancelled (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  char *path = test_socket_path_new ("cancel.sock");
  GSocket *client;

  g_cancellable_cancel (cancellable);
  client = vhost_user_socket_connect (path, 10000, cancellable, &error);
  g_assert_null (client);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  test_socket_path_free (path);
}

static void
test_path_too_long (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_strnfill (200, 'x');

  g_assert_null (vhost_user_socket_listen (path, 0, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  g_assert_null (vhost_user_socket_connect (path, 0, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
}

static void
test_pair (void)
{
  g_autoptr(GError) error = NULL;
  GSocket *a = NULL, *b = NULL;
  char buf[4];

  g_assert_true (vhost_user_socket_pair (&a, &b, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_socket_send (a, "ping", 4, NULL, &error), ==, 4);
  g_assert_cmpint (g_socket_receive (b, buf, 4, NULL, &error), ==, 4);
  g_assert_cmpmem (buf, 4, "ping", 4);
  g_assert_cmpint (g_socket_get_family (a), ==, G_SOCKET_FAMILY_UNIX);
  g_object_unref (a);
  g_object_unref (b);
}

/* A listener whose backlog is full and that never accepts: connecting
 * gives up when its timeout passes (before, connect() blocked in the
 * kernel for as long as the listener lived). In a child, so that a hang
 * fails the test. */
static void
test_connect_never_accepted (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) connected = NULL;
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  char *path;
  int listener, queued;
  gint64 start;

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 20 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }
  path = test_socket_path_new ("wedged.sock");
  g_strlcpy (addr.sun_path, path, sizeof addr.sun_path);
  listener = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (bind (listener, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  g_assert_cmpint (listen (listener, 0), ==, 0);
  /* the backlog's one place taken */
  queued = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (connect (queued, (struct sockaddr *) &addr, sizeof addr), ==, 0);

  start = g_get_monotonic_time ();
  connected = vhost_user_socket_connect (path, 300, NULL, &error);
  g_assert_null (connected);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_CONNECT);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 10 * G_USEC_PER_SEC);

  close (queued);
  close (listener);
  test_socket_path_free (path);
}

static void
on_true_exited (GPid     pid,
                int      status,
                gpointer user_data)
{
  g_spawn_close_pid (pid);
  g_main_loop_quit (user_data);
}

/* g_test_trap_subprocess() watches its child through GLib's worker thread
 * where pidfd_open() fails (valgrind 3.19 does not know it), and that
 * thread's wake-up eventfd stays open for the life of the process: a
 * child watched first opens it before the fds are counted. */
static void
warm_up_child_watch (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  const char *argv[] = { "true", NULL };
  GPid pid;

  g_assert_true (g_spawn_async (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH, NULL, NULL, &pid, &error));
  g_assert_no_error (error);
  g_child_watch_add (pid, on_true_exited, loop);
  g_main_loop_run (loop);
}

int
main (int   argc,
      char *argv[])
{
  guint baseline;
  int ret;

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/socket/listen/mode", test_listen_mode);
  g_test_add_func ("/socket/listen/stale-replaced", test_stale_replaced);
  g_test_add_func ("/socket/listen/live-refused", test_live_refused);
  g_test_add_func ("/socket/listen/not-a-socket", test_not_a_socket);
  g_test_add_func ("/socket/connect/nobody", test_connect_nobody);
  g_test_add_func ("/socket/connect/waits-for-listener", test_connect_waits);
  g_test_add_func ("/socket/connect/cancelled", test_connect_cancelled);
  g_test_add_func ("/socket/connect/never-accepted", test_connect_never_accepted);
  g_test_add_func ("/socket/path-too-long", test_path_too_long);
  g_test_add_func ("/socket/pair", test_pair);

  if (!g_test_subprocess ())
    warm_up_child_watch ();
  baseline = test_count_open_fds ();
  ret = g_test_run ();
  g_assert_cmpuint (test_count_open_fds (), ==, baseline);
  return ret;
}
