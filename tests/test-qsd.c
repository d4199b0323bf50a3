/* test-qsd.c: our front-end drives qemu-storage-daemon's vhost-user-blk export
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * qemu-storage-daemon (libvhost-user inside QEMU 7.2) exports a raw image
 * in a temporary directory. The front-end negotiates, reads the config
 * space, the queue count and the memory slots, shares a memfd of "guest"
 * memory, sets up and enables a queue whose rings lie in it, and stops it
 * with GET_VRING_BASE; qemu-storage-daemon reports no error. Then
 * vhost-user-probe is run against it and must print the same facts.
 */

#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <vhost-user-glib.h>

#include "test-util.h"

#define IMAGE_SIZE  (64 * 1024 * 1024)
#define NUM_QUEUES  2
#define GUEST_SIZE  (16 * 1024 * 1024)
#define QUEUE_SIZE  256

typedef struct {
  char        *dir;
  char        *sock;
  char        *image;
  char        *log;
  GSubprocess *qsd;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp ("vhost-user-qsd-XXXXXX", &error);
  g_assert_no_error (error);
  f->sock = g_build_filename (f->dir, "blk.sock", NULL);
  f->image = g_build_filename (f->dir, "disk.img", NULL);
  f->log = g_build_filename (f->dir, "qsd.log", NULL);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  if (f->qsd != NULL)
    {
      g_subprocess_send_signal (f->qsd, SIGTERM);
      g_subprocess_wait (f->qsd, NULL, NULL);
      g_clear_object (&f->qsd);
    }
  g_unlink (f->sock);
  g_unlink (f->image);
  g_unlink (f->log);
  g_rmdir (f->dir);
  g_free (f->sock);
  g_free (f->image);
  g_free (f->log);
  g_free (f->dir);
}

static gboolean
start_qsd (Fixture *f)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *qsd = g_find_program_in_path ("qemu-storage-daemon");
  g_autofree char *blockdev = NULL;
  g_autofree char *export = NULL;
  gint64 deadline;
  int fd;

  if (qsd == NULL)
    {
      g_test_skip ("qemu-storage-daemon is not installed (Debian package qemu-system-common)");
      return FALSE;
    }

  fd = g_open (f->image, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, IMAGE_SIZE), ==, 0);
  g_close (fd, NULL);

  blockdev = g_strdup_printf ("driver=file,node-name=f0,filename=%s", f->image);
  export = g_strdup_printf ("type=vhost-user-blk,id=e0,node-name=f0,addr.type=unix,addr.path=%s,"
                            "writable=on,num-queues=%d", f->sock, NUM_QUEUES);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_set_stdout_file_path (launcher, f->log);
  f->qsd = g_subprocess_launcher_spawn (launcher, &error, qsd, "--blockdev", blockdev, "--export", export, NULL);
  g_assert_no_error (error);

  deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (!g_file_test (f->sock, G_FILE_TEST_EXISTS) && g_get_monotonic_time () < deadline)
    g_usleep (10000);
  g_assert_true (g_file_test (f->sock, G_FILE_TEST_EXISTS));
  return TRUE;
}

static void
assert_qsd_quiet (Fixture *f)
{
  g_autofree char *log = NULL;

  g_assert_true (g_file_get_contents (f->log, &log, NULL, NULL));
  g_test_message ("qemu-storage-daemon said: %s", log);
  g_assert_cmpstr (log, ==, "");
}

static void
test_drive (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(VhostUserFrontend) frontend = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) config = NULL;
  const guint8 *c;
  guint64 capacity = 0, value;
  guint8 *guest;
  VhostUserMemoryRegion *region;
  int kick, call;
  guint base;
  /* rings at the start of guest memory; this process's addresses are the
   * "user" addresses the back-end translates */
  const guint64 desc = 0, avail = 0x1000, used = 0x2000;

  if (!start_qsd (f))
    return;

  frontend = vhost_user_frontend_new ();
  g_assert_true (vhost_user_frontend_connect_to_path (frontend, f->sock, 10000, NULL, &error));
  g_assert_no_error (error);

  g_assert_true (vhost_user_frontend_negotiate (frontend,
                                                VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_VERSION_1),
                                                VHOST_USER_PROTOCOL_FEATURE_MQ | VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK |
                                                VHOST_USER_PROTOCOL_FEATURE_CONFIG |
                                                VHOST_USER_PROTOCOL_FEATURE_CONFIGURE_MEM_SLOTS,
                                                NULL, &error));
  g_assert_no_error (error);
  /* what qemu-storage-daemon offers (PEERS.md), intersected with ours */
  g_assert_cmpuint (vhost_user_frontend_get_acked_protocol_features (frontend), ==,
                    VHOST_USER_PROTOCOL_FEATURE_MQ | VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK |
                    VHOST_USER_PROTOCOL_FEATURE_CONFIG | VHOST_USER_PROTOCOL_FEATURE_CONFIGURE_MEM_SLOTS);
  g_assert_true (vhost_user_frontend_get_acked_features (frontend) &
                 VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_VERSION_1));

  /* the image's size, in 512-byte sectors */
  config = vhost_user_frontend_read_config (frontend, 0, 60, NULL, &error);
  g_assert_no_error (error);
  c = g_bytes_get_data (config, NULL);
  for (guint i = 0; i < 8; i++)
    capacity |= (guint64) c[i] << (8 * i);
  g_assert_cmpuint (capacity, ==, IMAGE_SIZE / 512);
  g_assert_cmpuint (c[34] | c[35] << 8, ==, NUM_QUEUES);

  value = vhost_user_frontend_get_u64 (frontend, VHOST_USER_REQUEST_GET_QUEUE_NUM, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (value, ==, NUM_QUEUES);
  value = vhost_user_frontend_get_u64 (frontend, VHOST_USER_REQUEST_GET_MAX_MEM_SLOTS, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (value, ==, 32);

  /* guest memory: a memfd, mapped here too */
  region = vhost_user_memory_region_new_memfd (0, GUEST_SIZE, &error);
  g_assert_no_error (error);
  guest = vhost_user_memory_region_get_host_addr (region);
  g_assert_true (vhost_user_frontend_add_mem_region (frontend, region, NULL, &error));
  g_assert_no_error (error);

  /* queue 0, as QEMU sets one up: num, base, addresses, call, kick, enable */
  kick = test_eventfd ();
  call = test_eventfd ();
  g_assert_true (vhost_user_frontend_set_vring_state (frontend, VHOST_USER_REQUEST_SET_VRING_NUM, 0, QUEUE_SIZE,
                                                      NULL, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_frontend_set_vring_state (frontend, VHOST_USER_REQUEST_SET_VRING_BASE, 0, 0,
                                                      NULL, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_frontend_set_vring_addr (frontend, 0, 0,
                                                     (guint64) (guintptr) (guest + desc),
                                                     (guint64) (guintptr) (guest + used),
                                                     (guint64) (guintptr) (guest + avail), 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_frontend_set_vring_fd (frontend, VHOST_USER_REQUEST_SET_VRING_CALL, 0, call,
                                                   NULL, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_frontend_set_vring_fd (frontend, VHOST_USER_REQUEST_SET_VRING_KICK, 0, kick,
                                                   NULL, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_frontend_set_vring_state (frontend, VHOST_USER_REQUEST_SET_VRING_ENABLE, 0, 1,
                                                      NULL, &error));
  g_assert_no_error (error);

  /* stop it: nothing was queued, so it stands where it started */
  base = vhost_user_frontend_get_vring_base (frontend, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (base, ==, 0);
  g_assert_true (vhost_user_frontend_get_connected (frontend));

  vhost_user_frontend_close (frontend);
  vhost_user_memory_region_unref (region);
  g_close (kick, NULL);
  g_close (call, NULL);
  assert_qsd_quiet (f);
}

/* vhost-user-probe prints the same facts. */
static void
test_probe (Fixture       *f,
            gconstpointer  data)
{
  const char *probe = g_getenv ("VHOST_USER_PROBE");
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  const char *argv[] = { probe, "--json", "--device", "blk", NULL, NULL };
  int status;

  if (probe == NULL)
    {
      g_test_skip ("VHOST_USER_PROBE is not set");
      return;
    }
  if (!start_qsd (f))
    return;

  argv[4] = f->sock;
  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, &error);
  g_assert_no_error (error);
  g_test_message ("probe: %s%s", out, err);
  g_assert_true (g_spawn_check_wait_status (status, &error));
  g_assert_nonnull (strstr (out, "\"queues\": 2"));
  g_assert_nonnull (strstr (out, "\"max-mem-slots\": 32"));
  g_assert_nonnull (strstr (out, "\"capacity\": 131072"));
  g_assert_nonnull (strstr (out, "\"num-queues\": 2"));
  g_assert_nonnull (strstr (out, "\"config\""));
  g_assert_nonnull (strstr (out, "configure-mem-slots"));
  g_assert_nonnull (strstr (out, "version-1"));
  assert_qsd_quiet (f);
}

static void
communicated (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static gboolean
hang_up_on_config (VhostUserBackend    *backend,
                   VhostUserInvocation *invocation,
                   guint                offset,
                   guint                size,
                   guint                flags,
                   gpointer             user_data)
{
  vhost_user_backend_close (backend);
  return TRUE;
}

static void
hang_up_added (VhostUserServer  *server,
               VhostUserBackend *backend,
               gpointer          user_data)
{
  vhost_user_backend_set_protocol_features (backend, vhost_user_backend_get_protocol_features (backend) |
                                                     VHOST_USER_PROTOCOL_FEATURE_CONFIG);
  g_signal_connect (backend, "get-config", G_CALLBACK (hang_up_on_config), NULL);
}

/* A back-end that answers everything but hangs up on GET_CONFIG: the
 * probe says it failed (exit 1), as its man page has it; before, only a
 * refusal's message was printed and it exited 0. (Our own back-end, in
 * threads of this process, so no qemu-storage-daemon needed.) */
static void
test_probe_hang_up (void)
{
  const char *probe = g_getenv ("VHOST_USER_PROBE");
  g_autoptr(VhostUserServer) server = vhost_user_server_new (VHOST_USER_TYPE_BACKEND, TRUE);
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  char *path = test_socket_path_new ("hang-up.sock");
  const char *argv[] = { probe, "--timeout", "5000", path, NULL };

  if (probe == NULL)
    {
      g_test_skip ("VHOST_USER_PROBE is not set");
      test_socket_path_free (path);
      return;
    }
  g_signal_connect (server, "backend-added", G_CALLBACK (hang_up_added), NULL);
  g_assert_true (vhost_user_server_listen (server, path, &error));
  g_assert_no_error (error);
  /* async: the server accepts in this thread's context */
  process = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (process, NULL, NULL, communicated, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (g_subprocess_communicate_utf8_finish (process, result, &out, &err, &error));
  g_assert_no_error (error);
  g_test_message ("probe: %s%s", out, err);
  g_assert_true (g_subprocess_get_if_exited (process));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 1);
  g_assert_cmpstr (out, ==, "");
  g_assert_nonnull (strstr (err, "closed"));
  vhost_user_server_stop (server);
  test_socket_path_free (path);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add ("/qsd/frontend-drives-export", Fixture, NULL, fixture_setup, test_drive, fixture_teardown);
  g_test_add ("/qsd/probe", Fixture, NULL, fixture_setup, test_probe, fixture_teardown);
  g_test_add_func ("/probe/config-hang-up", test_probe_hang_up);

  return g_test_run ();
}
