/* test-server.c: many front-ends at once, threaded and not
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each front-end is a thread of this process speaking the protocol with
 * blocking socket calls: GET_FEATURES, SET_FEATURES, GET_PROTOCOL_FEATURES,
 * SET_PROTOCOL_FEATURES (REPLY_ACK), SET_OWNER with an ack, then hang up.
 * Run under TSan (the tsan build's "threads" suite) this is the race test
 * of the worker threads.
 */

#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <vhost-user-glib.h>

#include "test-util.h"
#include "vhost-user-lock-private.h"
#include "vhost-user-message-private.h"
#include "vhost-user-socket-private.h"

typedef struct {
  GMutex     lock;
  GThread   *main_thread;
  guint      added;
  guint      added_in_main;
  guint      removed;
  guint      active;
  guint      max_active;
  guint      owners;
} Counters;

typedef struct {
  const char *path;
  guint       hold_ms;
  gboolean    ok;
  char       *failure;
} Client;

static gboolean
roundtrip (GSocket          *socket,
           VhostUserMessage *msg,
           gboolean          expect_reply,
           guint64          *value,
           GError          **error)
{
  VhostUserWireHeader header;
  guint8 payload[8];
  const guint8 *data;
  gsize len;
  gssize n;

  data = vhost_user_message_get_data (msg, &len);
  if (g_socket_send (socket, (const char *) data, len, NULL, error) != (gssize) len)
    return FALSE;
  if (!expect_reply)
    return TRUE;

  n = g_socket_receive (socket, (char *) &header, sizeof header, NULL, error);
  if (n != sizeof header)
    {
      if (n >= 0)
        g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_PARTIAL_MESSAGE, "short reply header");
      return FALSE;
    }
  if (header.request != msg->header.request || header.size != 8 ||
      g_socket_receive (socket, (char *) payload, 8, NULL, error) != 8)
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE, "bad reply");
      return FALSE;
    }
  memcpy (value, payload, 8);
  return TRUE;
}

static gpointer
client_run (gpointer data)
{
  Client *client = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  guint64 features = 0, protocol = 0, ack = 1;

  socket = vhost_user_socket_connect (client->path, 10000, NULL, &error);
  if (socket == NULL)
    goto fail;
  g_socket_set_timeout (socket, 30);

  vhost_user_message_init (&msg, VHOST_USER_REQUEST_GET_FEATURES, 0);
  if (!roundtrip (socket, &msg, TRUE, &features, &error))
    goto fail;
  vhost_user_message_init (&msg, VHOST_USER_REQUEST_SET_FEATURES, 0);
  vhost_user_message_set_u64 (&msg, features);
  if (!roundtrip (socket, &msg, FALSE, NULL, &error))
    goto fail;
  vhost_user_message_init (&msg, VHOST_USER_REQUEST_GET_PROTOCOL_FEATURES, 0);
  if (!roundtrip (socket, &msg, TRUE, &protocol, &error))
    goto fail;
  vhost_user_message_init (&msg, VHOST_USER_REQUEST_SET_PROTOCOL_FEATURES, 0);
  vhost_user_message_set_u64 (&msg, protocol & VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK);
  if (!roundtrip (socket, &msg, FALSE, NULL, &error))
    goto fail;
  vhost_user_message_init (&msg, VHOST_USER_REQUEST_SET_OWNER, VHOST_USER_FLAG_NEED_REPLY);
  if (!roundtrip (socket, &msg, TRUE, &ack, &error) || ack != 0)
    goto fail;

  if (client->hold_ms > 0)
    g_usleep (client->hold_ms * 1000);
  client->ok = TRUE;
  return NULL;

fail:
  client->failure = g_strdup (error != NULL ? error->message : "SET_OWNER was refused");
  return NULL;
}

static void
on_owner (VhostUserBackend *backend,
          GParamSpec       *pspec,
          Counters         *c)
{
  if (vhost_user_backend_get_owner (backend))
    {
      vhost_user_mutex_lock (&c->lock);
      c->owners++;
      vhost_user_mutex_unlock (&c->lock);
    }
}

static void
on_added (VhostUserServer  *server,
          VhostUserBackend *backend,
          Counters         *c)
{
  vhost_user_mutex_lock (&c->lock);
  c->added++;
  if (g_thread_self () == c->main_thread)
    c->added_in_main++;
  c->active++;
  c->max_active = MAX (c->max_active, c->active);
  vhost_user_mutex_unlock (&c->lock);

  /* connected here, so it runs here: in the back-end's own context */
  g_assert_true (vhost_user_backend_get_main_context (backend) == g_main_context_get_thread_default () ||
                 (g_main_context_get_thread_default () == NULL &&
                  vhost_user_backend_get_main_context (backend) == g_main_context_default ()));
  g_signal_connect (backend, "notify::owner", G_CALLBACK (on_owner), c);
}

static void
on_removed (VhostUserServer  *server,
            VhostUserBackend *backend,
            Counters         *c)
{
  vhost_user_mutex_lock (&c->lock);
  c->removed++;
  c->active--;
  vhost_user_mutex_unlock (&c->lock);
}

static void
run_clients (gboolean threaded,
             int      max_threads,
             guint    n_clients,
             guint    hold_ms)
{
  g_autoptr(VhostUserServer) server = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) threads = g_ptr_array_new ();
  char *path = test_socket_path_new ("server.sock");
  Client *clients = g_new0 (Client, n_clients);
  Counters c = { 0 };
  guint baseline = test_count_open_fds ();
  gint64 deadline;
  guint done = 0;

  g_mutex_init (&c.lock);
  c.main_thread = g_thread_self ();

  server = vhost_user_server_new (VHOST_USER_TYPE_BACKEND, threaded);
  vhost_user_server_set_max_threads (server, max_threads);
  g_signal_connect (server, "backend-added", G_CALLBACK (on_added), &c);
  g_signal_connect (server, "backend-removed", G_CALLBACK (on_removed), &c);
  g_assert_true (vhost_user_server_listen (server, path, &error));
  g_assert_no_error (error);

  for (guint i = 0; i < n_clients; i++)
    {
      clients[i].path = path;
      clients[i].hold_ms = hold_ms;
      g_ptr_array_add (threads, g_thread_new ("front-end", client_run, &clients[i]));
    }

  /* the server accepts in this thread's context */
  deadline = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline)
    {
      guint removed;

      vhost_user_mutex_lock (&c.lock);
      removed = c.removed;
      vhost_user_mutex_unlock (&c.lock);
      if (removed == n_clients)
        break;
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }

  for (guint i = 0; i < n_clients; i++)
    {
      g_thread_join (g_ptr_array_index (threads, i));
      if (!clients[i].ok)
        g_test_message ("front-end %u: %s", i, clients[i].failure);
      done += clients[i].ok;
      g_free (clients[i].failure);
    }

  vhost_user_server_stop (server);
  g_clear_object (&server);

  g_assert_cmpuint (done, ==, n_clients);
  g_assert_cmpuint (c.added, ==, n_clients);
  g_assert_cmpuint (c.removed, ==, n_clients);
  g_assert_cmpuint (c.owners, ==, n_clients);
  /* threaded: every back-end was announced in its worker */
  g_assert_cmpuint (c.added_in_main, ==, threaded ? 0 : n_clients);
  if (max_threads > 0)
    g_assert_cmpuint (c.max_active, <=, (guint) max_threads);

  g_mutex_clear (&c.lock);
  g_free (clients);
  test_socket_path_free (path);
  /* every socket, eventfd and worker context is gone */
  g_assert_cmpuint (test_count_open_fds (), ==, baseline);
}

static void
test_threaded_hundred (void)
{
  run_clients (TRUE, -1, 100, 0);
}

static void
test_max_threads (void)
{
  /* each front-end holds its connection a while, so they pile up */
  run_clients (TRUE, 4, 20, 30);
}

static void
test_unthreaded (void)
{
  run_clients (FALSE, -1, 50, 0);
}

/* A front-end that comes back after hanging up is served again. */
static void
test_reconnect (void)
{
  run_clients (TRUE, 1, 5, 0);
}

static gboolean
set_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Bindings drop their last reference at interpreter shutdown (gjs did,
 * and crashed): neither dispose nor stop() may dispatch a source of the
 * server's context, and a worker outlives the server's last outside
 * reference on its own. */
static void
test_dispose_runs_nothing (gconstpointer data)
{
  gboolean threaded = GPOINTER_TO_INT (data);
  g_autoptr(GError) error = NULL;
  char *path = test_socket_path_new ("server.sock");
  VhostUserServer *server;
  GThread *thread = NULL;
  Client client = { .path = path, .hold_ms = 0 };
  Counters c = { 0 };
  gboolean ran = FALSE;
  guint baseline = test_count_open_fds ();
  guint idle;

  g_mutex_init (&c.lock);
  c.main_thread = g_thread_self ();
  server = vhost_user_server_new (VHOST_USER_TYPE_BACKEND, threaded);
  g_object_add_weak_pointer (G_OBJECT (server), (gpointer *) &server);
  g_signal_connect (server, "backend-added", G_CALLBACK (on_added), &c);
  g_assert_true (vhost_user_server_listen (server, path, &error));
  g_assert_no_error (error);

  if (threaded)
    {
      guint owners = 0;

      /* a front-end being served in its worker when the server goes */
      client.hold_ms = 200;
      thread = g_thread_new ("front-end", client_run, &client);
      while (owners == 0)
        {
          g_main_context_iteration (NULL, FALSE);
          g_usleep (1000);
          vhost_user_mutex_lock (&c.lock);
          owners = c.owners;
          vhost_user_mutex_unlock (&c.lock);
        }
    }

  idle = g_idle_add (set_flag, &ran);
  if (threaded)
    {
      /* the worker holds the server: stop() joins it, and the worker's
       * last word waits in our context with its reference */
      vhost_user_server_stop (server);
      g_assert_false (ran);
      g_object_unref (server);
      g_assert_false (ran);
      g_assert_nonnull (server);
      while (server != NULL)
        g_main_context_iteration (NULL, TRUE);
      g_thread_join (thread);
      g_assert_true (client.ok);
      g_free (client.failure);
    }
  else
    {
      g_object_unref (server);
      g_assert_null (server);
      g_assert_false (ran);
      g_source_remove (idle);
    }
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));

  g_mutex_clear (&c.lock);
  test_socket_path_free (path);
  g_assert_cmpuint (test_count_open_fds (), ==, baseline);
}

/* --- out of fds --- */

static gboolean
quit_loop (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

static gint64
cpu_usec (void)
{
  struct rusage ru;

  g_assert_cmpint (getrusage (RUSAGE_SELF, &ru), ==, 0);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * G_USEC_PER_SEC + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

/* In a child (RLIMIT_NOFILE is the process's): a front-end waits in the
 * backlog while the process has no fd to spare. accept() keeps failing
 * with EMFILE; the server backs off instead of spinning on a listener
 * that stays readable, and serves the front-end once fds are free. */
static void
accept_emfile_child (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserServer) server = vhost_user_server_new (VHOST_USER_TYPE_BACKEND, FALSE);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GArray) spare = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr(GSocket) client = NULL;
  char *path = test_socket_path_new ("emfile.sock");
  struct rlimit lim;
  gint64 cpu, deadline;
  int fd;

  g_assert_true (vhost_user_server_listen (server, path, &error));
  g_assert_no_error (error);
  client = vhost_user_socket_connect (path, 0, NULL, &error);
  g_assert_no_error (error);

  /* every fd below a low limit taken */
  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &lim), ==, 0);
  lim.rlim_cur = test_count_open_fds () + 8;
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &lim), ==, 0);
  while ((fd = dup (0)) >= 0)
    g_array_append_val (spare, fd);
  g_assert_cmpint (errno, ==, EMFILE);

  g_test_expect_message ("VhostUser", G_LOG_LEVEL_WARNING, "*Too many open files*");
  cpu = cpu_usec ();
  g_timeout_add (1000, quit_loop, loop);
  g_main_loop_run (loop);
  cpu = cpu_usec () - cpu;
  g_test_assert_expected_messages ();
  g_test_message ("CPU while out of fds: %" G_GINT64_FORMAT " us in 1 s", cpu);
  g_assert_cmpint (cpu, <, 200 * 1000);
  g_assert_cmpuint (vhost_user_server_get_n_connections (server), ==, 0);

  /* fds again: the front-end is served within the longest pause */
  for (guint i = 0; i < spare->len; i++)
    close (g_array_index (spare, int, i));
  deadline = g_get_monotonic_time () + 3 * G_USEC_PER_SEC;
  while (vhost_user_server_get_n_connections (server) == 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (vhost_user_server_get_n_connections (server), ==, 1);
  vhost_user_server_stop (server);
  test_socket_path_free (path);
}

static void
test_accept_emfile (void)
{
  if (g_test_subprocess ())
    {
      accept_emfile_child ();
      return;
    }
  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

/* In a child: a threaded server accepts a front-end with the process's
 * last free fd, so the worker's context cannot make its wake-up fd (GLib
 * aborts the process there). The front-end is turned away, accepting
 * pauses, and the next front-end is served once fds are free again. */
static void
thread_emfile_child (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserServer) server = vhost_user_server_new (VHOST_USER_TYPE_BACKEND, TRUE);
  g_autoptr(GArray) spare = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr(GSocket) client = NULL;
  g_autoptr(GSocket) second = NULL;
  char *path = test_socket_path_new ("thread-emfile.sock");
  struct rlimit lim;
  gint64 deadline;
  gboolean hung_up = FALSE;
  char byte;
  int fd;

  g_assert_true (vhost_user_server_listen (server, path, &error));
  g_assert_no_error (error);
  client = vhost_user_socket_connect (path, 0, NULL, &error);
  g_assert_no_error (error);

  /* every fd below a low limit taken but one: accept() gets it */
  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &lim), ==, 0);
  lim.rlim_cur = test_count_open_fds () + 8;
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &lim), ==, 0);
  while ((fd = dup (0)) >= 0)
    g_array_append_val (spare, fd);
  g_assert_cmpint (errno, ==, EMFILE);
  g_array_set_size (spare, spare->len - 1);
  close (fd = g_array_index (spare, int, spare->len));

  g_test_expect_message ("VhostUser", G_LOG_LEVEL_WARNING, "*Turned a front-end away*Too many open files*");
  g_test_expect_message ("VhostUser", G_LOG_LEVEL_WARNING, "*Could not accept*Too many open files*");
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (!hung_up && g_get_monotonic_time () < deadline)
    {
      g_main_context_iteration (NULL, FALSE);
      hung_up = recv (g_socket_get_fd (client), &byte, 1, MSG_DONTWAIT) == 0;
      g_usleep (1000);
    }
  g_assert_true (hung_up);
  g_test_assert_expected_messages ();
  g_assert_cmpuint (vhost_user_server_get_n_connections (server), ==, 0);

  /* fds again: the next front-end is served */
  for (guint i = 0; i < spare->len; i++)
    close (g_array_index (spare, int, i));
  second = vhost_user_socket_connect (path, 0, NULL, &error);
  g_assert_no_error (error);
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (vhost_user_server_get_n_connections (server) == 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (vhost_user_server_get_n_connections (server), ==, 1);
  vhost_user_server_stop (server);
  test_socket_path_free (path);
}

static void
test_thread_emfile (void)
{
  if (g_test_subprocess ())
    {
      thread_emfile_child ();
      return;
    }
  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

/* --- who may connect --- */

/* bind() for the whole program: when armed, the socket file is swapped
 * for a symlink to @swap_target right after the real bind(), as anybody
 * who may write the directory could do before the server sets the
 * file's group and mode. */
static const char *swap_target;

int
bind (int                    fd,
      const struct sockaddr *addr,
      socklen_t              len)
{
  static int (*real_bind) (int, const struct sockaddr *, socklen_t);
  int result;

  if (real_bind == NULL)
    real_bind = (int (*) (int, const struct sockaddr *, socklen_t)) dlsym (RTLD_NEXT, "bind");
  result = real_bind (fd, addr, len);
  if (result == 0 && swap_target != NULL && addr->sa_family == AF_UNIX)
    {
      const char *path = ((const struct sockaddr_un *) addr)->sun_path;

      g_assert_cmpint (unlink (path), ==, 0);
      g_assert_cmpint (symlink (swap_target, path), ==, 0);
    }
  return result;
}

/* getsockopt() for the whole program: when armed, SO_PEERCRED says what
 * the kernel says of a socket without credentials, uid and gid
 * (uid_t) -1. */
static gboolean peercred_unknown;

int
getsockopt (int        fd,
            int        level,
            int        name,
            void      *value,
            socklen_t *len)
{
  static int (*real_getsockopt) (int, int, int, void *, socklen_t *);
  int result;

  if (real_getsockopt == NULL)
    real_getsockopt = (int (*) (int, int, int, void *, socklen_t *)) dlsym (RTLD_NEXT, "getsockopt");
  result = real_getsockopt (fd, level, name, value, len);
  if (result == 0 && peercred_unknown && level == SOL_SOCKET && name == SO_PEERCRED && *len >= sizeof (struct ucred))
    {
      struct ucred *cred = value;

      cred->uid = (uid_t) -1;
      cred->gid = (gid_t) -1;
    }
  return result;
}

/* socket-group 4294967295 is (gid_t) -1, which fchownat() takes for "no
 * change": listen() fails with INVALID_PARAM and leaves no socket file,
 * whether the value came at construction or later (before d620c4e the
 * socket kept the server's own group with the mode's group bits; with
 * d620c4e's pspec maximum of 4294967294 GObject dropped the value with a
 * warning, the property stayed -1, and listen() did the same). A value
 * GObject does refuse at construction (-2) leaves -1, not 0 (root's
 * group). */
static void
test_socket_group_range (void)
{
  g_autoptr(VhostUserServer) server = NULL;
  g_autoptr(VhostUserServer) later = NULL;
  g_autoptr(VhostUserServer) refused = NULL;
  g_autoptr(GSocket) listener = NULL;
  g_autoptr(GError) error = NULL;
  char *path = test_socket_path_new ("group.sock");
  GParamSpec *pspec;
  gint64 group = 0;

  server = g_object_new (VHOST_USER_TYPE_SERVER, "socket-group", (gint64) G_MAXUINT32, "socket-mode", 0660, NULL);
  g_object_get (server, "socket-group", &group, NULL);
  g_assert_cmpint (group, ==, (gint64) G_MAXUINT32);
  pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (server), "socket-group");
  g_assert_cmpint (G_PARAM_SPEC_INT64 (pspec)->maximum, ==, (gint64) G_MAXUINT32);
  g_assert_false (vhost_user_server_listen (server, path, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_test_message ("%s", error->message);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_clear_error (&error);

  /* set later: the same */
  later = g_object_new (VHOST_USER_TYPE_SERVER, "socket-group", (gint64) G_MAXUINT32 - 1, "socket-mode", 0660, NULL);
  g_object_set (later, "socket-group", (gint64) G_MAXUINT32, NULL);
  g_assert_false (vhost_user_server_listen (later, path, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_clear_error (&error);

  g_test_expect_message ("GLib-GObject", G_LOG_LEVEL_WARNING, "*out of range for property 'socket-group'*");
  refused = g_object_new (VHOST_USER_TYPE_SERVER, "socket-group", (gint64) -2, NULL);
  g_test_assert_expected_messages ();
  g_object_get (refused, "socket-group", &group, NULL);
  g_assert_cmpint (group, ==, -1);

  listener = vhost_user_socket_listen_full (path, 0660, G_MAXUINT32, &error);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_assert_null (listener);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  test_socket_path_free (path);
}

/* The socket file is created 0600, or as asked (mode and group), before
 * anybody can connect. */
static void
test_socket_permissions (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserServer) server = vhost_user_server_new (VHOST_USER_TYPE_BACKEND, FALSE);
  g_autoptr(VhostUserServer) shared = NULL;
  char *path = test_socket_path_new ("mode.sock");
  char *shared_path = test_socket_path_new ("shared.sock");
  /* root may give the socket any group; others one of their own */
  gint64 group = getuid () == 0 ? 4242 : getgid ();
  struct stat st;

  g_assert_true (vhost_user_server_listen (server, path, &error));
  g_assert_no_error (error);
  g_assert_cmpint (stat (path, &st), ==, 0);
  g_assert_cmphex (st.st_mode & 07777, ==, 0600);

  shared = g_object_new (VHOST_USER_TYPE_SERVER, "socket-mode", 0660, "socket-group", group, NULL);
  g_assert_true (vhost_user_server_listen (shared, shared_path, &error));
  g_assert_no_error (error);
  g_assert_cmpint (stat (shared_path, &st), ==, 0);
  g_assert_cmphex (st.st_mode & 07777, ==, 0660);
  g_assert_cmpint (st.st_gid, ==, group);

  vhost_user_server_stop (server);
  vhost_user_server_stop (shared);
  test_socket_path_free (path);
  test_socket_path_free (shared_path);
}

/* A umask that takes the group's bits away does not change the mode asked
 * for (bind() applies it; the mode is set again after). */
static void
test_socket_permissions_umask (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserServer) server = g_object_new (VHOST_USER_TYPE_SERVER, "socket-mode", 0660, NULL);
  char *path = test_socket_path_new ("umask.sock");
  mode_t old = umask (077);
  struct stat st;

  g_assert_true (vhost_user_server_listen (server, path, &error));
  umask (old);
  g_assert_no_error (error);
  g_assert_cmpint (stat (path, &st), ==, 0);
  g_assert_cmphex (st.st_mode & 07777, ==, 0660);
  vhost_user_server_stop (server);
  test_socket_path_free (path);
}

/* The socket file replaced by a symlink between bind() and the server's
 * setting its mode: the mode goes to nothing but the server's own file,
 * so the file the link points to keeps its mode, the link stays and
 * listen fails. (Before, chmod() by path followed the link.) */
static void
test_socket_swapped (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserServer) server = g_object_new (VHOST_USER_TYPE_SERVER, "socket-mode", 0666, NULL);
  char *path = test_socket_path_new ("swapped.sock");
  g_autofree char *target = g_strconcat (path, ".target", NULL);
  struct stat st;

  g_assert_true (g_file_set_contents_full (target, "secret", -1, G_FILE_SET_CONTENTS_NONE, 0600, NULL));
  swap_target = target;
  g_assert_false (vhost_user_server_listen (server, path, &error));
  swap_target = NULL;
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_CONNECT);
  g_assert_nonnull (strstr (error->message, "replaced"));
  g_assert_cmpint (stat (target, &st), ==, 0);
  g_assert_cmphex (st.st_mode & 07777, ==, 0600);
  g_assert_cmpint (lstat (path, &st), ==, 0);
  g_assert_true (S_ISLNK (st.st_mode));

  g_assert_cmpint (unlink (path), ==, 0);
  g_assert_cmpint (unlink (target), ==, 0);
  test_socket_path_free (path);
}

/* A path is replaced only if it is a stale socket: a regular file, or a
 * socket somebody listens on, is an error and left as it was. */
static void
test_refuse_to_replace (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserServer) first = vhost_user_server_new (VHOST_USER_TYPE_BACKEND, FALSE);
  g_autoptr(VhostUserServer) second = vhost_user_server_new (VHOST_USER_TYPE_BACKEND, FALSE);
  g_autoptr(GSocket) client = NULL;
  g_autoptr(GSocket) stale = NULL;
  char *path = test_socket_path_new ("taken.sock");
  g_autofree char *content = NULL;

  g_assert_true (g_file_set_contents (path, "not a socket", -1, NULL));
  g_assert_false (vhost_user_server_listen (first, path, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_CONNECT);
  g_clear_error (&error);
  g_assert_true (g_file_get_contents (path, &content, NULL, NULL));
  g_assert_cmpstr (content, ==, "not a socket");
  g_assert_cmpint (unlink (path), ==, 0);

  g_assert_true (vhost_user_server_listen (first, path, &error));
  g_assert_no_error (error);
  g_assert_false (vhost_user_server_listen (second, path, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_CONNECT);
  g_clear_error (&error);
  client = vhost_user_socket_connect (path, 0, NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&client);

  vhost_user_server_stop (first);

  /* a listener that died leaves a stale socket: that one is replaced */
  stale = vhost_user_socket_listen (path, 0, &error);
  g_assert_no_error (error);
  g_socket_close (stale, NULL);
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_true (vhost_user_server_listen (second, path, &error));
  g_assert_no_error (error);
  vhost_user_server_stop (second);
  test_socket_path_free (path);
}

typedef struct {
  const char *name;
  gboolean    allow_uid;   /* our uid listed */
  gboolean    allow_gid;   /* our gid listed */
  gboolean    served;
  gboolean    unknown;     /* SO_PEERCRED says uid and gid 4294967295, and both lists hold it */
} PeerCase;

/* SO_PEERCRED allow-lists: a front-end neither of whose ids is listed is
 * closed at once, without a back-end; one that is listed is served. One
 * whose credentials are unknown ((uid_t) -1, as the kernel gives for a
 * socket without them) is refused even with 4294967295 listed (before,
 * it matched and was served). */
static void
test_peer_credentials (gconstpointer data)
{
  const PeerCase *c = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserServer) server = vhost_user_server_new (VHOST_USER_TYPE_BACKEND, FALSE);
  g_autoptr(GSocket) client = NULL;
  char *path = test_socket_path_new ("creds.sock");
  guint32 other = getuid () + 1000;
  guint32 uids[2] = { other, getuid () };
  guint32 gids[2] = { other, getgid () };
  guint32 unknown = G_MAXUINT32;
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  char byte;

  if (c->unknown)
    {
      vhost_user_server_set_allowed_uids (server, g_variant_new_fixed_array (G_VARIANT_TYPE_UINT32, &unknown, 1,
                                                                             sizeof (guint32)));
      vhost_user_server_set_allowed_gids (server, g_variant_new_fixed_array (G_VARIANT_TYPE_UINT32, &unknown, 1,
                                                                             sizeof (guint32)));
      peercred_unknown = TRUE;
    }
  else
    vhost_user_server_set_allowed_uids (server, g_variant_new_fixed_array (G_VARIANT_TYPE_UINT32, uids,
                                                                           c->allow_uid ? 2 : 1, sizeof (guint32)));
  if (c->allow_gid)
    vhost_user_server_set_allowed_gids (server, g_variant_new_fixed_array (G_VARIANT_TYPE_UINT32, gids, 2,
                                                                           sizeof (guint32)));
  g_assert_true (vhost_user_server_listen (server, path, &error));
  g_assert_no_error (error);
  client = vhost_user_socket_connect (path, 0, NULL, &error);
  g_assert_no_error (error);
  g_socket_set_blocking (client, FALSE);

  if (c->served)
    {
      while (vhost_user_server_get_n_connections (server) == 0 && g_get_monotonic_time () < deadline)
        g_main_context_iteration (NULL, TRUE);
      g_assert_cmpuint (vhost_user_server_get_n_connections (server), ==, 1);
    }
  else
    {
      /* closed before a byte: EOF, not EAGAIN */
      for (;;)
        {
          gssize n = recv (g_socket_get_fd (client), &byte, 1, MSG_DONTWAIT);

          if (n == 0)
            break;
          g_assert_cmpint (errno, ==, EAGAIN);
          g_assert_cmpint (g_get_monotonic_time (), <, deadline);
          g_main_context_iteration (NULL, FALSE);
          g_usleep (1000);
        }
      g_assert_cmpuint (vhost_user_server_get_n_connections (server), ==, 0);
    }
  peercred_unknown = FALSE;
  vhost_user_server_stop (server);
  test_socket_path_free (path);
}

typedef struct {
  guint added, removed;
} Turned;

static void
turn_away (VhostUserServer  *server,
           VhostUserBackend *backend,
           Turned           *t)
{
  g_atomic_int_inc (&t->added);
  vhost_user_backend_close (backend);
}

static void
count_removed (VhostUserServer  *server,
               VhostUserBackend *backend,
               Turned           *t)
{
  g_atomic_int_inc (&t->removed);
}

/* A backend-added handler turns the front-end away (a device that cannot
 * serve it: its image would not open) by closing the back-end: the
 * front-end gets EOF, nothing serves it. Before, the close did nothing
 * (no connection yet) and the back-end served it anyway. */
static void
test_turned_away (gconstpointer data)
{
  gboolean threaded = GPOINTER_TO_INT (data);
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserServer) server = vhost_user_server_new (VHOST_USER_TYPE_BACKEND, threaded);
  g_autoptr(GSocket) client = NULL;
  char *path = test_socket_path_new ("away.sock");
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  Turned t = { 0, 0 };
  char byte;

  g_signal_connect (server, "backend-added", G_CALLBACK (turn_away), &t);
  g_signal_connect (server, "backend-removed", G_CALLBACK (count_removed), &t);
  g_assert_true (vhost_user_server_listen (server, path, &error));
  g_assert_no_error (error);
  client = vhost_user_socket_connect (path, 0, NULL, &error);
  g_assert_no_error (error);
  /* a request it would answer if it were served */
  g_assert_cmpint (send (g_socket_get_fd (client), "\1\0\0\0\1\0\0\0\0\0\0\0", 12, MSG_NOSIGNAL), ==, 12);
  for (;;)
    {
      gssize n = recv (g_socket_get_fd (client), &byte, 1, MSG_DONTWAIT);

      /* closed unread: EOF, or a reset for the request it never read */
      if (n == 0 || (n < 0 && errno == ECONNRESET))
        break;
      g_assert_cmpint (n, <, 0);
      g_assert_cmpint (errno, ==, EAGAIN);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
  /* (a worker counts its connection out after backend-removed) */
  while ((g_atomic_int_get (&t.removed) == 0 || vhost_user_server_get_n_connections (server) > 0) &&
         g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (g_atomic_int_get (&t.added), ==, 1);
  g_assert_cmpuint (g_atomic_int_get (&t.removed), ==, 1);
  g_assert_cmpuint (vhost_user_server_get_n_connections (server), ==, 0);
  vhost_user_server_stop (server);
  test_socket_path_free (path);
}

static void
drop_server (VhostUserServer  *server,
             VhostUserBackend *backend,
             VhostUserServer **owner)
{
  g_clear_object (owner);
}

/* A backend-added handler that drops the last reference to the server:
 * the accept path must not touch it afterwards (ASan saw a use after
 * free in on_incoming before). */
static void
test_dropped_in_handler (void)
{
  g_autoptr(GError) error = NULL;
  VhostUserServer *server = vhost_user_server_new (VHOST_USER_TYPE_BACKEND, FALSE);
  g_autoptr(GSocket) client = NULL;
  char *path = test_socket_path_new ("dropped.sock");
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  g_signal_connect (server, "backend-added", G_CALLBACK (drop_server), &server);
  g_assert_true (vhost_user_server_listen (server, path, &error));
  g_assert_no_error (error);
  client = vhost_user_socket_connect (path, 0, NULL, &error);
  g_assert_no_error (error);
  while (server != NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_null (server);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  test_socket_path_free (path);
}

static const PeerCase peer_cases[] = {
  { "refused", FALSE, FALSE, FALSE },
  { "uid-allowed", TRUE, FALSE, TRUE },
  { "gid-allowed", FALSE, TRUE, TRUE },
  { "unknown", FALSE, FALSE, FALSE, TRUE },
};

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_main_context_default ();

  g_test_add_func ("/server/threaded/hundred-front-ends", test_threaded_hundred);
  g_test_add_func ("/server/threaded/max-threads", test_max_threads);
  g_test_add_func ("/server/threaded/reconnect", test_reconnect);
  g_test_add_func ("/server/unthreaded", test_unthreaded);
  g_test_add_func ("/server/accept-emfile", test_accept_emfile);
  g_test_add_func ("/server/threaded/emfile", test_thread_emfile);
  g_test_add_func ("/server/socket-group/range", test_socket_group_range);
  g_test_add_func ("/server/socket-permissions", test_socket_permissions);
  g_test_add_func ("/server/socket-permissions/umask", test_socket_permissions_umask);
  g_test_add_func ("/server/socket-permissions/swapped", test_socket_swapped);
  g_test_add_func ("/server/refuse-to-replace", test_refuse_to_replace);
  g_test_add_data_func ("/server/turned-away/unthreaded", GINT_TO_POINTER (FALSE), test_turned_away);
  g_test_add_data_func ("/server/turned-away/threaded", GINT_TO_POINTER (TRUE), test_turned_away);
  g_test_add_func ("/server/dropped-in-handler", test_dropped_in_handler);
  for (guint i = 0; i < G_N_ELEMENTS (peer_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/server/peer-credentials/%s", peer_cases[i].name);

      g_test_add_data_func (name, &peer_cases[i], test_peer_credentials);
    }
  g_test_add_data_func ("/server/dispose-runs-nothing/unthreaded", GINT_TO_POINTER (FALSE),
                        test_dispose_runs_nothing);
  g_test_add_data_func ("/server/dispose-runs-nothing/threaded", GINT_TO_POINTER (TRUE),
                        test_dispose_runs_nothing);

  return g_test_run ();
}
