/* test-qemu.c: QEMU 7.2 as the front-end of our back-ends
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * QEMU is started paused (-S) under TCG with shared memfd guest RAM and a
 * vhost-user-blk-pci device: realizing the device is a full session of
 * its own (features, protocol features, queues, back-end channel, owner,
 * config space). The back-end records every request it sees; QMP shows
 * what QEMU made of it; then QEMU quits and the back-end sees it go.
 */

#include <string.h>
#include <glib/gstdio.h>
#include <vhost-user-glib.h>

#include "blk-device.h"
#include "test-util.h"
#include "vhost-user-lock-private.h"

#define CAPACITY_MB 100
#define NUM_QUEUES  2

typedef struct {
  GMutex     lock;
  GPtrArray *requests;       /* signal names, in order */
  gboolean   disconnected;
} Recorder;

typedef struct {
  char            *dir;
  char            *sock;
  char            *qmp;
  char            *log;
  GSubprocess     *qemu;
  Recorder         rec;
} Fixture;

static char *
find_qemu (void)
{
  return g_find_program_in_path ("qemu-system-x86_64");
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp ("vhost-user-qemu-XXXXXX", &error);
  g_assert_no_error (error);
  f->sock = g_build_filename (f->dir, "blk.sock", NULL);
  f->qmp = g_build_filename (f->dir, "qmp.sock", NULL);
  f->log = g_build_filename (f->dir, "qemu.log", NULL);
  g_mutex_init (&f->rec.lock);
  f->rec.requests = g_ptr_array_new_with_free_func (g_free);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  if (f->qemu != NULL)
    {
      g_subprocess_force_exit (f->qemu);
      g_subprocess_wait (f->qemu, NULL, NULL);
      g_clear_object (&f->qemu);
    }
  g_unlink (f->sock);
  g_unlink (f->qmp);
  g_unlink (f->log);
  g_rmdir (f->dir);
  g_free (f->sock);
  g_free (f->qmp);
  g_free (f->log);
  g_free (f->dir);
  g_ptr_array_unref (f->rec.requests);
  g_mutex_clear (&f->rec.lock);
}

/* --- recording what the back-end sees, from whichever thread it runs in --- */

static void
record_marshal (GClosure     *closure,
                GValue       *return_value,
                guint         n_param_values,
                const GValue *param_values,
                gpointer      invocation_hint,
                gpointer      marshal_data)
{
  Recorder *rec = closure->data;
  GSignalInvocationHint *hint = invocation_hint;

  vhost_user_mutex_lock (&rec->lock);
  g_ptr_array_add (rec->requests, g_strdup (g_signal_name (hint->signal_id)));
  vhost_user_mutex_unlock (&rec->lock);
  if (return_value != NULL)
    g_value_set_boolean (return_value, FALSE);
}

static void
on_disconnected (VhostUserBackend *backend,
                 const GError     *error,
                 gboolean          should_reconnect,
                 gpointer          user_data)
{
  Recorder *rec = user_data;

  vhost_user_mutex_lock (&rec->lock);
  rec->disconnected = TRUE;
  vhost_user_mutex_unlock (&rec->lock);
}

static void
record_backend (Recorder         *rec,
                VhostUserBackend *backend)
{
  g_autofree guint *ids = NULL;
  guint n_ids;

  example_blk_device_set_geometry (EXAMPLE_BLK_DEVICE (backend), CAPACITY_MB * 1024 * 1024, 512, NUM_QUEUES);
  ids = g_signal_list_ids (VHOST_USER_TYPE_BACKEND, &n_ids);
  for (guint i = 0; i < n_ids; i++)
    {
      GSignalQuery query;
      GClosure *closure;

      g_signal_query (ids[i], &query);
      if (query.return_type != G_TYPE_BOOLEAN)
        continue;
      closure = g_closure_new_simple (sizeof (GClosure), rec);
      g_closure_set_marshal (closure, record_marshal);
      g_signal_connect_closure_by_id (backend, ids[i], 0, closure, FALSE);
    }
  g_signal_connect (backend, "disconnected", G_CALLBACK (on_disconnected), rec);
}

static void
on_backend_added (VhostUserServer  *server,
                  VhostUserBackend *backend,
                  gpointer          user_data)
{
  record_backend (user_data, backend);
}

static gboolean
recorded (Recorder   *rec,
          const char *name)
{
  gboolean found = FALSE;

  vhost_user_mutex_lock (&rec->lock);
  for (guint i = 0; i < rec->requests->len && !found; i++)
    found = g_str_equal (g_ptr_array_index (rec->requests, i), name);
  vhost_user_mutex_unlock (&rec->lock);
  return found;
}

/* Waits, iterating @context if given, until @name was seen. */
static gboolean
wait_for_request (Fixture      *f,
                  GMainContext *context,
                  const char   *name)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  while (!recorded (&f->rec, name) && g_get_monotonic_time () < deadline)
    {
      if (context != NULL)
        g_main_context_iteration (context, FALSE);
      g_usleep (5000);
    }
  return recorded (&f->rec, name);
}

/* --- QEMU and QMP --- */

static void
start_qemu (Fixture    *f,
            const char *chardev_extra)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE);
  g_autoptr(GError) error = NULL;
  g_autofree char *qemu = find_qemu ();
  g_autofree char *chardev = g_strdup_printf ("socket,id=c0,path=%s%s", f->sock, chardev_extra);
  g_autofree char *device = g_strdup_printf ("vhost-user-blk-pci,chardev=c0,id=blk0,num-queues=%d", NUM_QUEUES);
  g_autofree char *qmp = g_strdup_printf ("unix:%s,server=on,wait=off", f->qmp);

  g_subprocess_launcher_set_stdout_file_path (launcher, f->log);
  g_subprocess_launcher_set_flags (launcher, G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  f->qemu = g_subprocess_launcher_spawn (launcher, &error, qemu,
                                         "-accel", "tcg", "-m", "256", "-nodefaults", "-no-user-config",
                                         "-display", "none", "-S",
                                         "-object", "memory-backend-memfd,id=mem,size=256M,share=on",
                                         "-machine", "q35,memory-backend=mem",
                                         "-chardev", chardev,
                                         "-device", device,
                                         "-qmp", qmp,
                                         NULL);
  g_assert_no_error (error);
}

typedef struct {
  GSocketConnection *connection;
  GDataInputStream  *in;
} Qmp;

static char *
qmp_read_reply (Qmp *qmp)
{
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      char *line = g_data_input_stream_read_line (qmp->in, NULL, NULL, &error);

      g_assert_no_error (error);
      g_assert_nonnull (line);
      if (strstr (line, "\"return\"") != NULL || strstr (line, "\"error\"") != NULL)
        return line;
      g_free (line);  /* events */
    }
}

static char *
qmp_command (Qmp        *qmp,
             const char *json)
{
  g_autoptr(GError) error = NULL;
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (qmp->connection));
  g_autofree char *line = g_strconcat (json, "\n", NULL);

  g_output_stream_write_all (out, line, strlen (line), NULL, NULL, &error);
  g_assert_no_error (error);
  return qmp_read_reply (qmp);
}

static void
qmp_connect (Fixture *f,
             Qmp     *qmp)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (f->qmp);
  g_autoptr(GError) error = NULL;
  g_autofree char *greeting = NULL;
  g_autofree char *reply = NULL;
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  do
    {
      g_clear_error (&error);
      qmp->connection = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address), NULL, &error);
      if (qmp->connection == NULL)
        g_usleep (20000);
    }
  while (qmp->connection == NULL && g_get_monotonic_time () < deadline);
  g_assert_no_error (error);

  qmp->in = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (qmp->connection)));
  greeting = g_data_input_stream_read_line (qmp->in, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (greeting, "QMP"));
  reply = qmp_command (qmp, "{\"execute\": \"qmp_capabilities\"}");
  g_assert_nonnull (strstr (reply, "\"return\""));
}

static void
qmp_close (Qmp *qmp)
{
  g_clear_object (&qmp->in);
  g_clear_object (&qmp->connection);
}

/* What QEMU made of the device: the features it kept from our offer, its
 * queue count, and the device in the tree. Then it quits cleanly. */
static void
check_qemu_side (Fixture *f)
{
  Qmp qmp = { 0 };
  g_autofree char *status = NULL;
  g_autofree char *qtree = NULL;
  g_autofree char *quit = NULL;
  g_autoptr(GError) error = NULL;

  qmp_connect (f, &qmp);
  status = qmp_command (&qmp, "{\"execute\": \"x-query-virtio-status\", "
                              "\"arguments\": {\"path\": \"/machine/peripheral/blk0/virtio-backend\"}}");
  g_test_message ("x-query-virtio-status: %s", status);
  g_assert_nonnull (strstr (status, "VIRTIO_BLK_F_MQ"));
  g_assert_nonnull (strstr (status, "VIRTIO_BLK_F_BLK_SIZE"));
  g_assert_nonnull (strstr (status, "VIRTIO_BLK_F_FLUSH"));
  g_assert_nonnull (strstr (status, "VHOST_USER_F_PROTOCOL_FEATURES"));
  g_assert_nonnull (strstr (status, "\"num-vqs\": 2"));

  qtree = qmp_command (&qmp, "{\"execute\": \"human-monitor-command\", "
                             "\"arguments\": {\"command-line\": \"info qtree\"}}");
  g_assert_nonnull (strstr (qtree, "dev: vhost-user-blk-pci, id \\\"blk0\\\""));
  g_assert_nonnull (strstr (qtree, "num-queues = 2"));

  quit = qmp_command (&qmp, "{\"execute\": \"quit\"}");
  g_assert_nonnull (strstr (quit, "\"return\""));
  qmp_close (&qmp);

  g_subprocess_wait_check (f->qemu, NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&f->qemu);
}

/* The session QEMU 7.2 opens to realize vhost-user-blk (PEERS.md). */
static void
check_sequence (Fixture *f)
{
  static const char *expected[] = {
    "get-features", "get-protocol-features", "set-protocol-features", "get-queue-num",
    "get-max-mem-slots", "set-backend-req-fd", "set-owner", "get-features", "get-config",
  };
  guint next = 0, calls = 0;

  vhost_user_mutex_lock (&f->rec.lock);
  for (guint i = 0; i < f->rec.requests->len; i++)
    {
      const char *name = g_ptr_array_index (f->rec.requests, i);

      g_test_message ("request %u: %s", i, name);
      if (next < G_N_ELEMENTS (expected) && g_str_equal (name, expected[next]))
        next++;
      if (g_str_equal (name, "set-vring-call"))
        calls++;
    }
  g_assert_cmpstr (g_ptr_array_index (f->rec.requests, 0), ==, "get-features");
  vhost_user_mutex_unlock (&f->rec.lock);

  /* in this order, possibly with others between */
  g_assert_cmpuint (next, ==, G_N_ELEMENTS (expected));
  g_assert_cmpuint (calls, ==, NUM_QUEUES);
}

static gboolean
skip_without_qemu (void)
{
  g_autofree char *qemu = find_qemu ();

  if (qemu == NULL)
    {
      g_test_skip ("qemu-system-x86_64 is not installed (Debian package qemu-system-x86)");
      return TRUE;
    }
  return FALSE;
}

static void
test_server_threaded (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(VhostUserServer) server = NULL;
  g_autoptr(GError) error = NULL;
  gint64 deadline;

  if (skip_without_qemu ())
    return;

  server = vhost_user_server_new (EXAMPLE_TYPE_BLK_DEVICE, GPOINTER_TO_INT (data));
  g_signal_connect (server, "backend-added", G_CALLBACK (on_backend_added), &f->rec);
  g_assert_true (vhost_user_server_listen (server, f->sock, &error));
  g_assert_no_error (error);

  start_qemu (f, "");
  /* the server accepts in this thread's context; unthreaded, the
   * back-end runs there too */
  g_assert_true (wait_for_request (f, g_main_context_default (), "get-config"));
  g_assert_cmpuint (vhost_user_server_get_n_connections (server), ==, 1);

  /* QMP blocks this thread: a paused QEMU needs nothing more from us */
  check_qemu_side (f);

  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (vhost_user_server_get_n_connections (server) > 0 && g_get_monotonic_time () < deadline)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (5000);
    }
  g_assert_cmpuint (vhost_user_server_get_n_connections (server), ==, 0);
  g_assert_true (f->rec.disconnected);
  check_sequence (f);
  vhost_user_server_stop (server);
}

/* QEMU listens (server=on) and the back-end connects to it. */
static void
test_client_mode (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(VhostUserBackend) backend = NULL;
  g_autoptr(GError) error = NULL;
  gint64 deadline;

  if (skip_without_qemu ())
    return;

  start_qemu (f, ",server=on,wait=off");
  backend = g_object_new (EXAMPLE_TYPE_BLK_DEVICE, NULL);
  record_backend (&f->rec, backend);
  g_assert_true (vhost_user_backend_connect_to_path (backend, f->sock, 30000, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (wait_for_request (f, g_main_context_default (), "get-config"));

  check_qemu_side (f);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (!f->rec.disconnected && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_true (f->rec.disconnected);
  g_assert_false (vhost_user_backend_get_connected (backend));
  check_sequence (f);
}

/* Lines of @path, once it has one starting with @prefix. */
static char **
wait_for_line (const char *path,
               const char *prefix,
               GSubprocess *process)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < deadline)
    {
      g_autofree char *contents = NULL;

      if (g_file_get_contents (path, &contents, NULL, NULL))
        {
          g_auto(GStrv) lines = g_strsplit (contents, "\n", -1);

          for (guint i = 0; lines[i] != NULL; i++)
            if (g_str_has_prefix (lines[i], prefix))
              return g_steal_pointer (&lines);
        }
      g_usleep (10000);
    }
  return NULL;
}

/* An example program as QEMU's back-end: the Python one (signal handlers
 * only, PyGObject) or the C one written with handlers only. Both log
 * "request: NAME" and "config: …" lines. */
static void
test_example_backend (Fixture       *f,
                      gconstpointer  data)
{
  gboolean use_python = GPOINTER_TO_INT (data);
  const char *script = g_getenv ("VHOST_USER_PYTHON_EXAMPLE");
  const char *handlers = g_getenv ("VHOST_USER_HANDLERS_EXAMPLE");
  const char *asan = g_getenv ("ASAN_RUNTIME");
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) python = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *py_log = g_build_filename (f->dir, "python.log", NULL);
  g_auto(GStrv) lines = NULL;
  static const char *expected[] = {
    "request: get-features", "request: get-protocol-features", "request: set-protocol-features",
    "request: get-queue-num", "request: set-owner", "request: get-config", "config: ",
  };
  guint next = 0;

  if (skip_without_qemu ())
    return;
  if (use_python && (script == NULL || !g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE)))
    {
      g_test_skip ("No Python with PyGObject (VHOST_USER_PYTHON_EXAMPLE unset or no /usr/bin/python3)");
      return;
    }
  if (!use_python && handlers == NULL)
    {
      g_test_skip ("Examples not built (VHOST_USER_HANDLERS_EXAMPLE unset)");
      return;
    }

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_set_stdout_file_path (launcher, py_log);
  if (use_python && asan != NULL && *asan != '\0')
    {
      /* an uninstrumented interpreter loading the ASan-built library */
      g_subprocess_launcher_setenv (launcher, "LD_PRELOAD", asan, TRUE);
      g_subprocess_launcher_setenv (launcher, "ASAN_OPTIONS", "detect_leaks=0", TRUE);
    }
  if (use_python)
    python = g_subprocess_launcher_spawn (launcher, &error, "/usr/bin/python3", script,
                                          "--socket", f->sock, "--capacity-mb", "100",
                                          "--num-queues", "2", "--once", NULL);
  else
    python = g_subprocess_launcher_spawn (launcher, &error, handlers,
                                          "--socket", f->sock, "--capacity-mb", "100",
                                          "--num-queues", "2", "--once", NULL);
  g_assert_no_error (error);

  lines = wait_for_line (py_log, "listening:", python);
  if (lines == NULL)
    {
      g_autofree char *contents = NULL;

      g_file_get_contents (py_log, &contents, NULL, NULL);
      g_error ("The example back-end did not start: %s", contents);
    }
  g_clear_pointer (&lines, g_strfreev);

  start_qemu (f, "");
  lines = wait_for_line (py_log, "config: ", python);
  g_assert_nonnull (lines);
  g_clear_pointer (&lines, g_strfreev);
  check_qemu_side (f);

  /* --once: the script ends when QEMU hangs up */
  g_subprocess_wait_check (python, NULL, &error);
  g_assert_no_error (error);
  lines = wait_for_line (py_log, "disconnected:", python);
  g_assert_nonnull (lines);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_test_message ("example: %s", lines[i]);
      if (next < G_N_ELEMENTS (expected) && g_str_has_prefix (lines[i], expected[next]))
        next++;
    }
  g_assert_cmpuint (next, ==, G_N_ELEMENTS (expected));
}

/* --- a Linux guest: its virtio-blk driver reads our config space --- */

/* A kernel with its modules on this machine, or NULL. */
static char *
find_kernel (char **version)
{
  g_autoptr(GDir) dir = g_dir_open ("/boot", 0, NULL);
  const char *name;
  char *found = NULL;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *modules = NULL;

      if (!g_str_has_prefix (name, "vmlinuz-"))
        continue;
      modules = g_build_filename ("/lib/modules", name + strlen ("vmlinuz-"), "kernel", NULL);
      if (!g_file_test (modules, G_FILE_TEST_IS_DIR))
        continue;
      g_free (found);
      g_free (*version);
      found = g_build_filename ("/boot", name, NULL);
      *version = g_strdup (name + strlen ("vmlinuz-"));
      if (strstr (name, "cloud") != NULL)
        break;
    }
  return found;
}

static void
got_exit (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  *(gboolean *) user_data = TRUE;
}

/* Wakes a blocking iteration now and then, so deadlines are seen even
 * when nothing else happens in the context. */
static gboolean
tick (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

static void
store_backend (VhostUserServer  *server,
               VhostUserBackend *backend,
               gpointer          user_data)
{
  *(VhostUserBackend **) user_data = g_object_ref (backend);
}

static gboolean
serial_has (const char *path,
            const char *needle,
            char      **line)
{
  g_autofree char *contents = NULL;
  const char *hit;

  if (!g_file_get_contents (path, &contents, NULL, NULL) || (hit = strstr (contents, needle)) == NULL)
    return FALSE;
  if (line != NULL)
    {
      const char *end = strchr (hit, '\n');

      g_free (*line);
      /* the serial console ends lines with \r\n */
      *line = g_strchomp (end ? g_strndup (hit, end - hit) : g_strdup (hit));
    }
  return TRUE;
}

typedef struct {
  gboolean seen;
  guint    size;
  gboolean enabled;
  gboolean fds;
  gboolean rings_in_memory;
  guint64  acked_features;
  guint    base;
} RingAtStart;

/* What queue 0 looked like the moment it started. */
static void
on_ring_started (VhostUserVring *vring,
                 GParamSpec     *pspec,
                 gpointer        user_data)
{
  RingAtStart *at = user_data;
  VhostUserBackend *backend = g_object_get_data (G_OBJECT (vring), "backend");
  VhostUserMemoryTable *table = vhost_user_backend_get_memory_table (backend);
  const VhostUserVringAddress *address = vhost_user_vring_get_address (vring);
  guint64 len16 = 16, len4 = 4, len4b = 4;

  if (!vhost_user_vring_get_started (vring) || at->seen)
    return;
  at->seen = TRUE;
  at->size = vhost_user_vring_get_size (vring);
  at->enabled = vhost_user_vring_get_enabled (vring);
  at->fds = vhost_user_vring_get_kick_fd (vring) >= 0;
  at->acked_features = vhost_user_backend_get_acked_features (backend);
  at->base = vhost_user_vring_get_base (vring);
  at->rings_in_memory =
    vhost_user_memory_table_translate_user_addr (table, address->desc_user_addr, &len16) != NULL &&
    vhost_user_memory_table_translate_user_addr (table, address->avail_user_addr, &len4) != NULL &&
    vhost_user_memory_table_translate_user_addr (table, address->used_user_addr, &len4b) != NULL;
}

static void
watch_ring (VhostUserServer  *server,
            VhostUserBackend *backend,
            gpointer          user_data)
{
  VhostUserVring *vring = vhost_user_backend_get_vring (backend, 0);

  g_object_set_data (G_OBJECT (vring), "backend", backend);
  g_signal_connect (vring, "notify::started", G_CALLBACK (on_ring_started), user_data);
}

/* The guest's kernel, with an initramfs made for it in the fixture's
 * directory; NULL (and the test skipped) where there is no guest to run. */
static char *
guest_prepare (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *version = NULL;
  g_autofree char *kernel = find_kernel (&version);
  g_autofree char *initrd = g_build_filename (f->dir, "initrd.gz", NULL);
  const char *make_initramfs = g_getenv ("VHOST_USER_MAKE_INITRAMFS");
  const char *script_argv[] = { make_initramfs, initrd, version, NULL };
  int status = 0;

  if (skip_without_qemu ())
    return NULL;
  if (kernel == NULL || !g_file_test ("/bin/busybox", G_FILE_TEST_EXISTS) ||
      !g_file_test ("/usr/share/qemu/qboot.rom", G_FILE_TEST_EXISTS) || make_initramfs == NULL)
    {
      g_test_skip ("No guest: needs a kernel with modules (linux-image-cloud-amd64), busybox-static, "
                   "qemu-system-data's qboot.rom");
      return NULL;
    }
  g_spawn_sync (NULL, (char **) script_argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, &status, &error);
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, &error));
  return g_steal_pointer (&kernel);
}

/* Boots the guest with @device on the fixture's socket, its console in
 * serial.log. qboot, not SeaBIOS: SeaBIOS would read a disk itself. */
static void
guest_start (Fixture    *f,
             const char *kernel,
             const char *device)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autoptr(GError) error = NULL;
  g_autofree char *qemu = find_qemu ();
  g_autofree char *initrd = g_build_filename (f->dir, "initrd.gz", NULL);
  g_autofree char *serial_arg = g_strdup_printf ("file:%s/serial.log", f->dir);
  g_autofree char *chardev = g_strdup_printf ("socket,id=c0,path=%s", f->sock);
  g_autofree char *qmp_arg = g_strdup_printf ("unix:%s,server=on,wait=off", f->qmp);

  g_subprocess_launcher_set_stdout_file_path (launcher, f->log);
  f->qemu = g_subprocess_launcher_spawn (launcher, &error, qemu,
                                         "-accel", "tcg", "-m", "256", "-nodefaults", "-no-user-config",
                                         "-display", "none", "-no-reboot",
                                         "-object", "memory-backend-memfd,id=mem,size=256M,share=on",
                                         "-machine", "q35,memory-backend=mem",
                                         "-chardev", chardev,
                                         "-device", device,
                                         "-bios", "/usr/share/qemu/qboot.rom",
                                         "-kernel", kernel, "-initrd", initrd,
                                         "-append", "console=ttyS0 panic=-1",
                                         "-serial", serial_arg,
                                         "-qmp", qmp_arg,
                                         NULL);
  g_assert_no_error (error);
}

/* Runs the default context until QEMU has exited (and *@also is set, if
 * given) or 120 s pass; a tick wakes the blocking iteration so the
 * deadline is seen when nothing else happens. Returns whether QEMU exited. */
static gboolean
guest_wait (Fixture  *f,
            gboolean *also)
{
  gint64 deadline = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;
  guint tick_id = g_timeout_add_seconds (1, tick, NULL);
  gboolean exited = FALSE;

  g_subprocess_wait_async (f->qemu, NULL, got_exit, &exited);
  while (!(exited && (also == NULL || *also)) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick_id);
  return exited;
}

/* The whole path, with a real driver: config space, device start, and a
 * read served through the ring by the example device's handler; split,
 * or packed (`packed=on`, and the back-end must have seen it acked). */
static void
test_guest (Fixture       *f,
            gconstpointer  data)
{
  gboolean packed = GPOINTER_TO_INT (data);
  guint64 packed_bit = VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_RING_PACKED);
  g_autoptr(VhostUserServer) server = NULL;
  g_autoptr(VhostUserBackend) backend = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *kernel = guest_prepare (f);
  g_autofree char *initrd = g_build_filename (f->dir, "initrd.gz", NULL);
  g_autofree char *serial = g_build_filename (f->dir, "serial.log", NULL);
  g_autofree char *line = NULL;
  RingAtStart at_start = { 0 };

  if (kernel == NULL)
    return;

  /* unthreaded: the back-end's state can be read here between iterations */
  server = vhost_user_server_new (EXAMPLE_TYPE_BLK_DEVICE, FALSE);
  g_signal_connect (server, "backend-added", G_CALLBACK (on_backend_added), &f->rec);
  g_signal_connect (server, "backend-added", G_CALLBACK (store_backend), &backend);
  g_signal_connect (server, "backend-added", G_CALLBACK (watch_ring), &at_start);
  g_assert_true (vhost_user_server_listen (server, f->sock, &error));
  g_assert_no_error (error);

  /* the guest boots, its driver reads our config space, starts the
   * device, reads the first sector through the ring and powers off */
  guest_start (f, kernel, packed ? "vhost-user-blk-pci,chardev=c0,id=blk0,packed=on"
                                 : "vhost-user-blk-pci,chardev=c0,id=blk0");
  g_assert_true (guest_wait (f, &f->rec.disconnected));

  g_assert_true (serial_has (serial, "[vda] ", &line));
  g_test_message ("guest: %s", line);
  g_assert_nonnull (strstr (line, "[vda] 204800 512-byte logical blocks"));
  g_assert_true (serial_has (serial, "GUEST-READ: ", &line));
  g_test_message ("guest: %s", line);
  g_assert_cmpstr (line, ==, "GUEST-READ: " EXAMPLE_BLK_LABEL);
  /* a write, read back by the guest after dropping its cache, and on our
   * disk */
  g_assert_true (serial_has (serial, "GUEST-WROTE: ", &line));
  g_test_message ("guest: %s", line);
  g_assert_cmpstr (line, ==, "GUEST-WROTE: written by the guest through the ring");
  {
    g_autoptr(GBytes) sector = example_blk_device_read (EXAMPLE_BLK_DEVICE (backend), 8 * 512, 37);

    g_assert_cmpmem (g_bytes_get_data (sector, NULL), 37, "written by the guest through the ring", 37);
  }
  g_assert_true (g_subprocess_get_successful (f->qemu));
  g_clear_object (&f->qemu);

  /* queue 0 as it started: set up inside guest memory, with its fds */
  g_assert_true (at_start.seen);
  g_assert_cmpuint (at_start.size, >, 0);
  g_assert_true (at_start.fds);
  g_assert_true (at_start.rings_in_memory);
  /* the layout the guest's driver and our back-end agreed on */
  g_assert_cmphex (at_start.acked_features & packed_bit, ==, packed ? packed_bit : 0);
  if (packed)
    g_assert_cmphex (at_start.base, ==, 0x80008000);  /* both positions 0, both wrap counters 1 */
  g_assert_true (recorded (&f->rec, "add-mem-reg"));
  g_assert_true (recorded (&f->rec, "set-vring-enable"));
  g_assert_true (f->rec.disconnected);

  /* and nothing of the session is left mapped */
  g_assert_nonnull (backend);
  g_assert_cmpuint (vhost_user_memory_table_get_n_regions (vhost_user_backend_get_memory_table (backend)), ==, 0);
  g_assert_cmpint (vhost_user_vring_get_kick_fd (vhost_user_backend_get_vring (backend, 0)), ==, -1);
  vhost_user_server_stop (server);
  g_unlink (initrd);
  g_unlink (serial);
}

static gboolean
is_random_hex (const char *hex)
{
  guint zeros = 0;

  if (strlen (hex) != 128)
    return FALSE;
  for (const char *c = hex; *c != '\0'; c++)
    {
      if (!g_ascii_isxdigit (*c))
        return FALSE;
      zeros += *c == '0';
    }
  /* 64 random bytes are not (mostly) zero */
  return zeros < 64;
}

/* The rng example (C or Python) as QEMU's vhost-user-rng-pci: the guest's
 * virtio-rng driver becomes the kernel's hwrng source, and /dev/hwrng reads
 * are served from the example's kick handler. */
static void
test_guest_rng (Fixture       *f,
                gconstpointer  data)
{
  /* 0: the C example; 1: Python; 2: JavaScript (gjs), through the typelib */
  gint language = GPOINTER_TO_INT (data);
  gboolean use_python = language > 0;
  const char *device = g_getenv (language == 2 ? "VHOST_USER_RNG_JS" : use_python ? "VHOST_USER_RNG_PY" :
                                                                                    "VHOST_USER_RNG");
  g_autofree char *gjs = g_find_program_in_path ("gjs");
  const char *asan = g_getenv ("ASAN_RUNTIME");
  g_autoptr(GSubprocessLauncher) device_launcher = NULL;
  g_autoptr(GSubprocess) rng = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *kernel = NULL;
  g_autofree char *initrd = g_build_filename (f->dir, "initrd.gz", NULL);
  g_autofree char *serial = g_build_filename (f->dir, "serial.log", NULL);
  g_autofree char *rng_log = g_build_filename (f->dir, "rng.log", NULL);
  g_autofree char *line = NULL;
  g_autofree char *first = NULL;
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;

  if (device == NULL || (use_python && (!g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE) ||
                                        g_getenv ("GI_TYPELIB_PATH") == NULL)))
    {
      g_test_skip (use_python ? "No Python with PyGObject, or no typelib (introspection off)"
                              : "Examples not built (VHOST_USER_RNG unset)");
      return;
    }
  if (language == 2 && gjs == NULL)
    {
      g_test_skip ("gjs is not installed (Debian: apt-get install gjs)");
      return;
    }
  kernel = guest_prepare (f);
  if (kernel == NULL)
    return;

  device_launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_set_stdout_file_path (device_launcher, rng_log);
  if (use_python && asan != NULL && *asan != '\0')
    {
      g_subprocess_launcher_setenv (device_launcher, "LD_PRELOAD", asan, TRUE);
      g_subprocess_launcher_setenv (device_launcher, "ASAN_OPTIONS", "detect_leaks=0", TRUE);
    }
  if (language == 2)
    rng = g_subprocess_launcher_spawn (device_launcher, &error, gjs, "-m", device, "--socket", f->sock, "--once",
                                       NULL);
  else if (use_python)
    rng = g_subprocess_launcher_spawn (device_launcher, &error, "/usr/bin/python3", device,
                                       "--socket", f->sock, "--once", NULL);
  else
    rng = g_subprocess_launcher_spawn (device_launcher, &error, device, "--socket", f->sock, "--once", NULL);
  g_assert_no_error (error);
  lines = wait_for_line (rng_log, "listening:", rng);
  if (lines == NULL)
    {
      g_file_get_contents (rng_log, &contents, NULL, NULL);
      g_error ("The rng example did not start: %s", contents);
    }

  /* the guest boots, reads /dev/hwrng twice and powers off; the device
   * exits when QEMU hangs up (--once). A guest stuck on a read is a
   * failure here, not a suite timeout. */
  guest_start (f, kernel, "vhost-user-rng-pci,chardev=c0,id=rng0");
  if (!guest_wait (f, NULL))
    {
      g_subprocess_force_exit (f->qemu);
      g_subprocess_force_exit (rng);
      g_file_get_contents (serial, &contents, NULL, NULL);
      g_error ("The guest did not finish within 120 s; its console:\n%s", contents);
    }
  g_assert_true (g_subprocess_get_successful (f->qemu));
  g_clear_object (&f->qemu);
  g_assert_true (g_subprocess_wait_check (rng, NULL, &error));
  g_assert_no_error (error);

  g_assert_true (serial_has (serial, "GUEST-RNG-SOURCE: ", &line));
  g_test_message ("guest: %s", line);
  g_assert_cmpstr (line, ==, "GUEST-RNG-SOURCE: virtio_rng.0");
  g_assert_true (serial_has (serial, "GUEST-RNG: ", &first));
  g_test_message ("guest: %s", first);
  g_assert_true (is_random_hex (first + strlen ("GUEST-RNG: ")));
  g_assert_true (serial_has (serial, "GUEST-RNG2: ", &line));
  g_assert_true (is_random_hex (line + strlen ("GUEST-RNG2: ")));
  g_assert_cmpstr (line + strlen ("GUEST-RNG2: "), !=, first + strlen ("GUEST-RNG: "));

  /* and the bytes came from the example's kick handler */
  g_assert_true (g_file_get_contents (rng_log, &contents, NULL, NULL));
  g_assert_nonnull (strstr (contents, "rng: "));
  g_unlink (initrd);
  g_unlink (serial);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add ("/qemu/blk/server", Fixture, GINT_TO_POINTER (FALSE), fixture_setup,
              test_server_threaded, fixture_teardown);
  g_test_add ("/qemu/blk/server-threaded", Fixture, GINT_TO_POINTER (TRUE), fixture_setup,
              test_server_threaded, fixture_teardown);
  g_test_add ("/qemu/blk/client-mode", Fixture, NULL, fixture_setup, test_client_mode, fixture_teardown);
  g_test_add ("/qemu/blk/python-backend", Fixture, GINT_TO_POINTER (TRUE), fixture_setup,
              test_example_backend, fixture_teardown);
  g_test_add ("/qemu/blk/guest-reads-disk", Fixture, GINT_TO_POINTER (FALSE), fixture_setup, test_guest,
              fixture_teardown);
  g_test_add ("/qemu/blk/guest-reads-disk-packed", Fixture, GINT_TO_POINTER (TRUE), fixture_setup, test_guest,
              fixture_teardown);
  g_test_add ("/qemu/rng/guest-reads-hwrng", Fixture, GINT_TO_POINTER (FALSE), fixture_setup,
              test_guest_rng, fixture_teardown);
  g_test_add ("/qemu/rng/guest-reads-hwrng-python", Fixture, GINT_TO_POINTER (1), fixture_setup,
              test_guest_rng, fixture_teardown);
  g_test_add ("/qemu/rng/guest-reads-hwrng-gjs", Fixture, GINT_TO_POINTER (2), fixture_setup,
              test_guest_rng, fixture_teardown);
  g_test_add ("/qemu/blk/handlers-backend", Fixture, GINT_TO_POINTER (FALSE), fixture_setup,
              test_example_backend, fixture_teardown);

  return g_test_run ();
}
