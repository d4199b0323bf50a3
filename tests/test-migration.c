/* test-migration.c: a device moved between two back-end processes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The example blk device (examples/vhost-user-blk, $VHOST_USER_BLK) runs
 * twice over one image, as a migration's source and destination would.
 * A VhostUserDevice drives the first: it writes a pattern through a real
 * virtqueue, is stopped (the ring's base collected) and saves the
 * device's own state through the DEVICE_STATE pipe. A second device,
 * on the same guest memory and ring, loads that state into the second
 * process, starts the ring from the collected base, and reads the pattern
 * back through the second process. Then the bad cases: a state the
 * destination refuses (another disk), a state fd that is not a pipe.
 * Requests in flight cross the same way, and the dirty log is checked
 * against the example and qemu-storage-daemon (skipped where it is not
 * installed). Peers that do not play along with the state's pipe,
 * played in this process, are test-state-pipe.c's.
 */

#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <vhost-user-glib.h>

#include "test-migration-common.h"

#define SECTORS     8            /* per request */
#define REQUESTS    16

/* Starts the example device on a socket of its own. */
static char *
start_blk_with (Fixture    *f,
                const char *name,
                const char *image,
                const char *latency_ms)
{
  const char *blk = g_getenv ("VHOST_USER_BLK");
  g_autofree char *sock = g_build_filename (f->dir, name, NULL);
  g_autofree char *log = g_strconcat (sock, ".log", NULL);
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autoptr(GError) error = NULL;
  GSubprocess *p;
  gint64 deadline;

  g_assert_nonnull (blk);
  g_subprocess_launcher_set_stdout_file_path (launcher, log);
  p = g_subprocess_launcher_spawn (launcher, &error, blk, "--socket", sock, "--image", image,
                                   latency_ms != NULL ? "--latency" : NULL, latency_ms, NULL);
  g_assert_no_error (error);
  g_ptr_array_add (f->processes, p);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (!g_file_test (sock, G_FILE_TEST_EXISTS) && g_get_monotonic_time () < deadline)
    g_usleep (10000);
  g_assert_true (g_file_test (sock, G_FILE_TEST_EXISTS));
  return g_steal_pointer (&sock);
}

static char *
start_blk (Fixture    *f,
           const char *name,
           const char *image)
{
  return start_blk_with (f, name, image, NULL);
}

static void
fill (guint8 *buf,
      guint64 sector)
{
  for (guint s = 0; s < SECTORS; s++)
    for (guint i = 0; i < 512; i += 8)
      {
        guint64 word = GUINT64_TO_LE (((sector + s) << 16) | i | 0xabcd000000000000);

        memcpy (buf + s * 512 + i, &word, 8);
      }
}

/* One virtio-blk request on the ring, waited for: header, data, status. */
static void
blk_request (Fixture *f,
             guint32  type,
             guint64  sector,
             guint    slot)
{
  g_autoptr(GError) error = NULL;
  guint64 ctrl = 0x10000 + slot * 0x2000, data = ctrl + 0x1000;
  guint64 header[2] = { GUINT64_TO_LE (type), GUINT64_TO_LE (sector) };
  guint64 out_off[2] = { ctrl, data };
  guint32 out_len[2] = { 16, SECTORS * 512 };
  guint64 in_off[2] = { data, ctrl + 0xfff };
  guint32 in_len[2] = { SECTORS * 512, 1 };
  guint head, used_head, len;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  memcpy (f->mem + ctrl, header, 16);
  f->mem[ctrl + 0xfff] = 0xff;
  if (type == 1)
    g_assert_true (vhost_user_driver_ring_add (f->ring, out_off, out_len, 2, in_off + 1, in_len + 1, 1, &head, &error));
  else
    g_assert_true (vhost_user_driver_ring_add (f->ring, out_off, out_len, 1, in_off, in_len, 2, &head, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_driver_ring_kick (f->ring, &error));
  g_assert_no_error (error);
  while (!vhost_user_driver_ring_get_used (f->ring, &used_head, &len))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (200);
    }
  g_assert_cmpuint (used_head, ==, head);
  g_assert_cmpuint (f->mem[ctrl + 0xfff], ==, 0);
}

static void
write_pattern (Fixture *f)
{
  for (guint r = 0; r < REQUESTS; r++)
    {
      fill (f->mem + 0x10000 + 0x1000, r * SECTORS);
      blk_request (f, 1, r * SECTORS, 0);
    }
}

static void
read_pattern (Fixture *f)
{
  guint8 expected[SECTORS * 512];

  for (guint r = 0; r < REQUESTS; r++)
    {
      memset (f->mem + 0x10000 + 0x1000, 0x5a, SECTORS * 512);
      blk_request (f, 0, r * SECTORS, 0);
      fill (expected, r * SECTORS);
      g_assert_cmpmem (f->mem + 0x10000 + 0x1000, SECTORS * 512, expected, sizeof expected);
    }
}

static void
test_move (Fixture       *f,
           gconstpointer  data)
{
  g_autofree char *sock_a = start_blk (f, "a.sock", f->image);
  g_autofree char *sock_b = NULL;
  g_autoptr(VhostUserDevice) source = device_for (f, sock_a);
  g_autoptr(VhostUserDevice) destination = NULL;
  g_autoptr(GOutputStream) saved = g_memory_output_stream_new_resizable ();
  g_autoptr(GBytes) state = NULL;
  g_autoptr(GInputStream) in = NULL;
  g_autoptr(GError) error = NULL;
  guint base;

  g_assert_true (vhost_user_device_start (source, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_device_get_acked_protocol_features (source) & VHOST_USER_PROTOCOL_FEATURE_DEVICE_STATE);
  write_pattern (f);

  /* the state moves with the rings stopped */
  g_assert_false (vhost_user_device_save_state (source, saved, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION);
  g_clear_error (&error);

  g_assert_true (vhost_user_device_stop (source, NULL, &error));
  g_assert_no_error (error);
  base = vhost_user_device_get_ring_base (source, 0);
  g_assert_cmpuint (base, ==, REQUESTS);
  g_assert_true (vhost_user_device_save_state (source, saved, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_output_stream_close (saved, NULL, NULL));
  state = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (saved));
  g_assert_cmpuint (g_bytes_get_size (state), >, 32);
  g_assert_cmpmem (g_bytes_get_data (state, NULL), 6, "VUGBLK", 6);
  vhost_user_device_close (source);

  /* the destination: another process over the same image and memory */
  sock_b = start_blk (f, "b.sock", f->image);
  destination = device_for (f, sock_b);
  g_assert_true (vhost_user_device_set_ring_base (destination, 0, base, &error));
  in = g_memory_input_stream_new_from_bytes (state);
  g_assert_true (vhost_user_device_load_state (destination, in, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (vhost_user_device_get_state (destination), ==, VHOST_USER_DEVICE_STATE_STOPPED);
  g_assert_true (vhost_user_device_start (destination, NULL, &error));
  g_assert_no_error (error);

  read_pattern (f);
  g_assert_true (vhost_user_device_stop (destination, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (vhost_user_device_get_ring_base (destination, 0), ==, 2 * REQUESTS);
}

/* A destination serving another disk refuses the state; the device says
 * so and does not run. */
static void
test_refused (Fixture       *f,
              gconstpointer  data)
{
  g_autofree char *other = g_build_filename (f->dir, "other.img", NULL);
  g_autofree char *sock_a = start_blk (f, "a.sock", f->image);
  g_autofree char *sock_b = NULL;
  g_autoptr(VhostUserDevice) source = device_for (f, sock_a);
  g_autoptr(VhostUserDevice) destination = NULL;
  g_autoptr(GOutputStream) saved = g_memory_output_stream_new_resizable ();
  g_autoptr(GBytes) state = NULL;
  g_autoptr(GInputStream) in = NULL;
  g_autoptr(GError) error = NULL;
  int fd;

  g_assert_true (vhost_user_device_start (source, NULL, &error));
  g_assert_true (vhost_user_device_stop (source, NULL, &error));
  g_assert_true (vhost_user_device_save_state (source, saved, NULL, &error));
  g_assert_no_error (error);
  g_output_stream_close (saved, NULL, NULL);
  state = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (saved));

  fd = g_open (other, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  g_assert_cmpint (ftruncate (fd, 2 * IMAGE_MB << 20), ==, 0);
  g_close (fd, NULL);
  sock_b = start_blk (f, "b.sock", other);
  destination = device_for (f, sock_b);
  in = g_memory_input_stream_new_from_bytes (state);
  g_assert_false (vhost_user_device_load_state (destination, in, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL);
  g_test_message ("refused: %s", error->message);
  g_assert_cmpint (vhost_user_device_get_state (destination), !=, VHOST_USER_DEVICE_STATE_RUNNING);

  /* garbage is refused too, and the connection goes on */
  g_clear_error (&error);
  g_clear_object (&in);
  in = g_memory_input_stream_new_from_data ("not a state", 11, NULL);
  g_assert_false (vhost_user_device_load_state (destination, in, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL);
  g_assert_true (vhost_user_frontend_get_connected (vhost_user_device_get_frontend (destination)));
}

/* A state larger than the pipe that the back-end refuses by closing its
 * end early (the example reads at most 64 KiB of one, then fails the
 * transfer): refused as a small state is, at CHECK_DEVICE_STATE, and the
 * connection goes on (before, our write's EPIPE hung up on it, and
 * CHECK_DEVICE_STATE was never asked). */
static void
test_refused_large (Fixture       *f,
                    gconstpointer  data)
{
  g_autofree char *sock = start_blk (f, "b.sock", f->image);
  g_autoptr(VhostUserDevice) destination = device_for (f, sock);
  g_autoptr(GInputStream) in = NULL;
  g_autoptr(GError) error = NULL;

  in = g_memory_input_stream_new_from_data (g_malloc0 (1 << 20), 1 << 20, g_free);
  g_assert_false (vhost_user_device_load_state (destination, in, NULL, &error));
  g_test_message ("refused: %s", error->message);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL);
  g_assert_true (vhost_user_frontend_get_connected (vhost_user_device_get_frontend (destination)));
  g_assert_cmpint (vhost_user_device_get_state (destination), ==, VHOST_USER_DEVICE_STATE_STOPPED);

  /* and the session goes on: a small state is refused the same way */
  g_clear_error (&error);
  g_clear_object (&in);
  in = g_memory_input_stream_new_from_data ("not a state", 11, NULL);
  g_assert_false (vhost_user_device_load_state (destination, in, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL);
  g_assert_true (vhost_user_frontend_get_connected (vhost_user_device_get_frontend (destination)));
}

/* SET_DEVICE_STATE_FD with an fd that is not a pipe, or a phase the
 * protocol does not know: refused, and the connection goes on. */
static void
test_not_a_pipe (Fixture       *f,
                 gconstpointer  data)
{
  g_autofree char *sock = start_blk (f, "a.sock", f->image);
  g_autoptr(VhostUserDevice) device = device_for (f, sock);
  VhostUserFrontend *frontend = vhost_user_device_get_frontend (device);
  g_autoptr(GError) error = NULL;
  int fds[2];
  int efd = eventfd (0, EFD_CLOEXEC);

  g_assert_true (vhost_user_device_start (device, NULL, &error));
  g_assert_true (vhost_user_device_stop (device, NULL, &error));
  g_assert_no_error (error);

  g_assert_false (vhost_user_frontend_set_device_state_fd (frontend, 0, 0, efd, NULL, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL);
  g_clear_error (&error);
  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, NULL));
  g_assert_false (vhost_user_frontend_set_device_state_fd (frontend, 0, 7, fds[1], NULL, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL);
  g_clear_error (&error);
  g_assert_true (vhost_user_frontend_get_connected (frontend));
  /* and a good one still works after them */
  g_assert_true (vhost_user_frontend_set_device_state_fd (frontend, 0, 0, fds[1], NULL, NULL, &error));
  g_assert_no_error (error);
  g_close (efd, NULL);
  g_close (fds[0], NULL);
  g_close (fds[1], NULL);
}

/* qemu-storage-daemon exporting the image, as tests/test-qsd.c starts it;
 * NULL (the test skipped) where it is not installed. */
static char *
start_qsd (Fixture *f)
{
  g_autofree char *qsd = g_find_program_in_path ("qemu-storage-daemon");
  g_autofree char *sock = g_build_filename (f->dir, "qsd.sock", NULL);
  g_autofree char *log = g_build_filename (f->dir, "qsd.log", NULL);
  g_autofree char *blockdev = NULL;
  g_autofree char *export = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GError) error = NULL;
  gint64 deadline;

  if (qsd == NULL)
    {
      g_test_skip ("qemu-storage-daemon is not installed (Debian package qemu-system-common)");
      return NULL;
    }
  blockdev = g_strdup_printf ("driver=file,node-name=f0,filename=%s", f->image);
  export = g_strdup_printf ("type=vhost-user-blk,id=e0,node-name=f0,addr.type=unix,addr.path=%s,writable=on", sock);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_set_stdout_file_path (launcher, log);
  g_ptr_array_add (f->processes, g_subprocess_launcher_spawn (launcher, &error, qsd, "--blockdev", blockdev,
                                                              "--export", export, NULL));
  g_assert_no_error (error);
  deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (!g_file_test (sock, G_FILE_TEST_EXISTS) && g_get_monotonic_time () < deadline)
    g_usleep (10000);
  g_assert_true (g_file_test (sock, G_FILE_TEST_EXISTS));
  return g_steal_pointer (&sock);
}

static gboolean
page_dirty (GBytes *log,
            guint   page)
{
  gsize size;
  const guint8 *bits = g_bytes_get_data (log, &size);

  g_assert_cmpuint (page / 8, <, size);
  return (bits[page / 8] >> (page % 8)) & 1;
}

static guint
dirty_pages (GBytes *log)
{
  gsize size;
  const guint8 *bits = g_bytes_get_data (log, &size);
  guint n = 0;

  for (gsize i = 0; i < size; i++)
    n += __builtin_popcount (bits[i]);
  return n;
}

/* Our front-end turns dirty logging on under a running device, and the
 * back-end's writes show in the log: a read's data page, the status
 * byte's page and the used ring's page; a write's data page (which the
 * device only read) does not; reading the log clears it. */
static void
test_dirty_log (Fixture       *f,
                gconstpointer  data)
{
  gboolean qsd = GPOINTER_TO_INT (data);
  g_autofree char *sock = qsd ? start_qsd (f) : start_blk (f, "a.sock", f->image);
  g_autoptr(VhostUserDevice) device = NULL;
  g_autoptr(GBytes) log = NULL;
  g_autoptr(GError) error = NULL;

  if (sock == NULL)
    return;
  device = device_for (f, sock);
  g_assert_true (vhost_user_device_start (device, NULL, &error));
  g_assert_no_error (error);
  g_assert_null (vhost_user_device_take_dirty_log (device));
  vhost_user_device_set_logging (device, TRUE, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (vhost_user_device_get_logging (device));

  log = vhost_user_device_take_dirty_log (device);
  g_assert_nonnull (log);
  /* 4 MiB of guest memory: 1024 pages, 128 bytes of bits */
  g_assert_cmpuint (g_bytes_get_size (log), ==, 128);
  g_clear_pointer (&log, g_bytes_unref);

  blk_request (f, 0, 0, 0);
  log = vhost_user_device_take_dirty_log (device);
  g_test_message ("after a read: %u dirty pages", dirty_pages (log));
  g_assert_true (page_dirty (log, 0x11));   /* the data the device read from disk into memory */
  g_assert_true (page_dirty (log, 0x10));   /* the status byte */
  g_assert_true (page_dirty (log, 0));      /* the used ring */
  g_assert_false (page_dirty (log, 0x300)); /* never touched */
  g_clear_pointer (&log, g_bytes_unref);

  log = vhost_user_device_take_dirty_log (device);
  g_assert_cmpuint (dirty_pages (log), ==, 0);
  g_clear_pointer (&log, g_bytes_unref);

  fill (f->mem + 0x11000, 0);
  blk_request (f, 1, 0, 0);
  log = vhost_user_device_take_dirty_log (device);
  g_test_message ("after a write: %u dirty pages", dirty_pages (log));
  g_assert_true (page_dirty (log, 0x10));
  g_assert_true (page_dirty (log, 0));
  g_assert_false (page_dirty (log, 0x11));
  g_clear_pointer (&log, g_bytes_unref);

  g_assert_true (vhost_user_device_set_logging (device, FALSE, NULL, &error));
  g_assert_no_error (error);
  g_assert_null (vhost_user_device_take_dirty_log (device));
  blk_request (f, 0, 0, 0);
  g_assert_true (vhost_user_device_stop (device, NULL, &error));
  g_assert_no_error (error);
}

/* Requests in flight cross a migration: the source stops its ring
 * without draining it (GET_VRING_BASE with GET_VRING_BASE_INFLIGHT: the requests stay recorded), the in-flight area goes
 * to the destination, which does those requests, each once. */
#define IN_FLIGHT 8

static gboolean
all_taken (Fixture *f)
{
  for (guint i = 0; i < IN_FLIGHT; i++)
    if (__atomic_load_n (f->mem + 0x10000 + i * 0x2000 + 0xfff, __ATOMIC_ACQUIRE) == 0xff)
      return FALSE;
  return TRUE;
}

static void
test_inflight_move (Fixture       *f,
                    gconstpointer  data)
{
  /* the source holds each request a long while after doing it */
  g_autofree char *sock_a = start_blk_with (f, "a.sock", f->image, "3000");
  g_autofree char *sock_b = NULL;
  g_autoptr(VhostUserDevice) source = device_for (f, sock_a);
  g_autoptr(VhostUserDevice) destination = NULL;
  g_autoptr(GBytes) inflight = NULL;
  g_autoptr(GError) error = NULL;
  guint heads[IN_FLIGHT], seen[IN_FLIGHT] = { 0 };
  guint base, head, len, done = 0;
  gint64 t0, deadline;
  GSubprocess *first;

  g_object_set (source, "drain-on-stop", FALSE, NULL);
  g_assert_true (vhost_user_device_start (source, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_device_get_acked_protocol_features (source) &
                 VHOST_USER_PROTOCOL_FEATURE_GET_VRING_BASE_INFLIGHT);

  for (guint i = 0; i < IN_FLIGHT; i++)
    {
      guint64 ctrl = 0x10000 + i * 0x2000, data_at = ctrl + 0x1000;
      guint64 header[2] = { GUINT64_TO_LE (1), GUINT64_TO_LE (i * SECTORS) };
      guint64 out_off[2] = { ctrl, data_at };
      guint32 out_len[2] = { 16, SECTORS * 512 };
      guint64 in_off = ctrl + 0xfff;
      guint32 in_len = 1;

      memcpy (f->mem + ctrl, header, 16);
      fill (f->mem + data_at, i * SECTORS);
      f->mem[ctrl + 0xfff] = 0xff;
      g_assert_true (vhost_user_driver_ring_add (f->ring, out_off, out_len, 2, &in_off, &in_len, 1, &heads[i],
                                                 &error));
      g_assert_no_error (error);
    }
  g_assert_true (vhost_user_driver_ring_kick (f->ring, &error));
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (!all_taken (f) && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  g_assert_true (all_taken (f));

  /* stopped at once, not after the 3 s the source would take */
  t0 = g_get_monotonic_time ();
  g_assert_true (vhost_user_device_stop (source, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 2 * G_USEC_PER_SEC);
  base = vhost_user_device_get_ring_base (source, 0);
  inflight = vhost_user_device_dup_inflight (source);
  g_assert_nonnull (inflight);
  g_assert_false (vhost_user_driver_ring_get_used (f->ring, &head, &len));

  /* the source is gone for good: nothing it held may come back from it */
  first = g_ptr_array_index (f->processes, 0);
  g_subprocess_force_exit (first);
  g_subprocess_wait (first, NULL, NULL);
  vhost_user_device_close (source);
  for (guint i = 0; i < IN_FLIGHT; i++)
    f->mem[0x10000 + i * 0x2000 + 0xfff] = 0xff;

  sock_b = start_blk (f, "b.sock", f->image);
  destination = device_for (f, sock_b);
  g_assert_true (vhost_user_device_set_ring_base (destination, 0, base, &error));
  g_assert_true (vhost_user_device_set_inflight (destination, inflight, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_device_start (destination, NULL, &error));
  g_assert_no_error (error);

  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (done < IN_FLIGHT && g_get_monotonic_time () < deadline)
    {
      if (!vhost_user_driver_ring_get_used (f->ring, &head, &len))
        {
          g_usleep (1000);
          continue;
        }
      for (guint i = 0; i < IN_FLIGHT; i++)
        if (heads[i] == head)
          {
            seen[i]++;
            g_assert_cmpuint (f->mem[0x10000 + i * 0x2000 + 0xfff], ==, 0);
          }
      done++;
    }
  g_assert_cmpuint (done, ==, IN_FLIGHT);
  for (guint i = 0; i < IN_FLIGHT; i++)
    g_assert_cmpuint (seen[i], ==, 1);
  /* and nothing more: no request done twice */
  g_usleep (100 * 1000);
  g_assert_false (vhost_user_driver_ring_get_used (f->ring, &head, &len));
  g_assert_true (vhost_user_device_stop (destination, NULL, &error));
  g_assert_no_error (error);
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
  g_test_add ("/migration/device-state/move", Fixture, NULL, fixture_setup, test_move, fixture_teardown);
  g_test_add ("/migration/device-state/refused", Fixture, NULL, fixture_setup, test_refused, fixture_teardown);
  g_test_add ("/migration/device-state/refused-large", Fixture, NULL, fixture_setup, test_refused_large,
              fixture_teardown);
  g_test_add ("/migration/device-state/not-a-pipe", Fixture, NULL, fixture_setup, test_not_a_pipe,
              fixture_teardown);
  g_test_add ("/migration/dirty-log/ours", Fixture, GINT_TO_POINTER (FALSE), fixture_setup, test_dirty_log,
              fixture_teardown);
  g_test_add ("/migration/dirty-log/qemu-storage-daemon", Fixture, GINT_TO_POINTER (TRUE), fixture_setup,
              test_dirty_log, fixture_teardown);
  g_test_add ("/migration/inflight/split", Fixture, GINT_TO_POINTER (1), fixture_setup, test_inflight_move,
              fixture_teardown);
  g_test_add ("/migration/inflight/packed", Fixture, GINT_TO_POINTER (2), fixture_setup, test_inflight_move,
              fixture_teardown);
  return g_test_run ();
}
