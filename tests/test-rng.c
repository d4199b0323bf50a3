/* test-rng.c: the vhost-user-rng examples, C, Python and JavaScript, driven through a ring
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A front-end with no guest posts writable buffers of several shapes (one
 * descriptor; one request split over three descriptors; a tiny one) and
 * checks that each comes back used with its full length and filled. The
 * Python and GJS devices write with vhost_user_vring_element_write(), so
 * this is also the bindings' path through an element. The element views are
 * checked on their own first.
 */

#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <vhost-user-glib.h>

#include "test-util.h"

#define RING_SIZE 16
#define MEM_SIZE  (1024 * 1024)

static void
test_element_views (void)
{
  VhostUserVringElement *e = g_new0 (VhostUserVringElement, 1);
  guint8 a[5] = "abcde", b[3] = "fgh", c[4] = { 0 }, d[6] = { 0 };
  g_autoptr(GBytes) all = NULL, middle = NULL, past = NULL;
  const guint8 data[] = "0123456789";

  e->out[0] = (VhostUserVringBuffer) { a, sizeof a };
  e->out[1] = (VhostUserVringBuffer) { b, sizeof b };
  e->n_out = 2;
  e->out_len = 8;
  e->in[0] = (VhostUserVringBuffer) { c, sizeof c };
  e->in[1] = (VhostUserVringBuffer) { d, sizeof d };
  e->n_in = 2;
  e->in_len = 10;

  all = vhost_user_vring_element_read (e, 0, 100);
  g_assert_cmpmem (g_bytes_get_data (all, NULL), g_bytes_get_size (all), "abcdefgh", 8);
  middle = vhost_user_vring_element_read (e, 3, 4);
  g_assert_cmpmem (g_bytes_get_data (middle, NULL), g_bytes_get_size (middle), "defg", 4);
  {
    guint8 header[6];

    g_assert_cmpuint (vhost_user_vring_element_copy_out (e, 1, header, sizeof header), ==, 6);
    g_assert_cmpmem (header, 6, "bcdefg", 6);
  }
  past = vhost_user_vring_element_read (e, 8, 4);
  g_assert_cmpuint (g_bytes_get_size (past), ==, 0);

  /* across the two pieces, and never past them */
  g_assert_cmpuint (vhost_user_vring_element_write (e, 2, data, 10), ==, 8);
  g_assert_cmpmem (c, 4, "\0\0" "01", 4);
  g_assert_cmpmem (d, 6, "234567", 6);
  g_assert_cmpuint (vhost_user_vring_element_write (e, 10, data, 1), ==, 0);
  g_free (e);
}

static void
run_rng (const char *const *argv,
         gboolean           interpreted)
{
  const char *asan = g_getenv ("ASAN_RUNTIME");
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GSubprocess) device = NULL;
  g_autoptr(VhostUserFrontend) frontend = vhost_user_frontend_new ();
  g_autoptr(VhostUserMemoryRegion) memory = NULL;
  g_autoptr(VhostUserDriverRing) ring = NULL;
  g_autoptr(GError) error = NULL;
  char *path = test_socket_path_new ("rng.sock");
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  /* three requests: 64 bytes; 3000 bytes in three descriptors; 1 byte */
  guint64 off1[] = { 0x10000 }, off2[] = { 0x20000, 0x30000, 0x40000 }, off3[] = { 0x50000 };
  guint32 len1[] = { 64 }, len2[] = { 1000, 1500, 500 }, len3[] = { 1 };
  guint heads[3], seen = 0;
  guint32 want[3] = { 64, 3000, 1 };
  gint64 deadline;
  guint8 *mem;

  for (guint i = 0; argv[i] != NULL; i++)
    g_ptr_array_add (args, (gpointer) argv[i]);
  g_ptr_array_add (args, (gpointer) "--socket");
  g_ptr_array_add (args, path);
  g_ptr_array_add (args, (gpointer) "--once");
  g_ptr_array_add (args, NULL);
  /* the device's log goes to stderr, out of the TAP stream */
  g_subprocess_launcher_take_stdout_fd (launcher, dup (STDERR_FILENO));
  if (interpreted && asan != NULL && *asan != '\0')
    {
      /* an uninstrumented interpreter loading the ASan-built library */
      g_subprocess_launcher_setenv (launcher, "LD_PRELOAD", asan, TRUE);
      g_subprocess_launcher_setenv (launcher, "ASAN_OPTIONS", "detect_leaks=0", TRUE);
    }
  device = g_subprocess_launcher_spawnv (launcher, (const char *const *) args->pdata, &error);
  g_assert_no_error (error);

  g_assert_true (vhost_user_frontend_connect_to_path (frontend, path, 20000, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_frontend_negotiate (frontend, VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_VERSION_1),
                                                VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK |
                                                VHOST_USER_PROTOCOL_FEATURE_CONFIGURE_MEM_SLOTS, NULL, &error));
  g_assert_no_error (error);
  memory = vhost_user_memory_region_new_memfd (0, MEM_SIZE, &error);
  g_assert_no_error (error);
  mem = vhost_user_memory_region_get_host_addr (memory);
  ring = vhost_user_driver_ring_new (memory, 0, RING_SIZE, &error);
  g_assert_no_error (error);
  g_assert_true (vhost_user_frontend_add_mem_region (frontend, memory, NULL, &error) &&
                 vhost_user_frontend_set_vring_state (frontend, VHOST_USER_REQUEST_SET_VRING_NUM, 0, RING_SIZE, NULL, &error) &&
                 vhost_user_frontend_set_vring_state (frontend, VHOST_USER_REQUEST_SET_VRING_BASE, 0, 0, NULL, &error) &&
                 vhost_user_frontend_set_vring_addr (frontend, 0, 0, vhost_user_driver_ring_get_desc_addr (ring),
                                                     vhost_user_driver_ring_get_used_addr (ring),
                                                     vhost_user_driver_ring_get_avail_addr (ring), 0, NULL, &error) &&
                 vhost_user_frontend_set_vring_fd (frontend, VHOST_USER_REQUEST_SET_VRING_CALL, 0,
                                                   vhost_user_driver_ring_get_call_fd (ring), NULL, &error) &&
                 vhost_user_frontend_set_vring_fd (frontend, VHOST_USER_REQUEST_SET_VRING_KICK, 0,
                                                   vhost_user_driver_ring_get_kick_fd (ring), NULL, &error) &&
                 vhost_user_frontend_set_vring_state (frontend, VHOST_USER_REQUEST_SET_VRING_ENABLE, 0, 1, NULL, &error));
  g_assert_no_error (error);

  /* zeros everywhere, and a guard byte after each buffer */
  memset (mem + 0x10000, 0, 0x50000);
  g_assert_true (vhost_user_driver_ring_add (ring, NULL, NULL, 0, off1, len1, 1, &heads[0], &error) &&
                 vhost_user_driver_ring_add (ring, NULL, NULL, 0, off2, len2, 3, &heads[1], &error) &&
                 vhost_user_driver_ring_add (ring, NULL, NULL, 0, off3, len3, 1, &heads[2], &error) &&
                 vhost_user_driver_ring_kick (ring, &error));
  g_assert_no_error (error);

  deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (seen < 3 && g_get_monotonic_time () < deadline)
    {
      guint head, len;

      if (!vhost_user_driver_ring_get_used (ring, &head, &len))
        {
          g_usleep (1000);
          continue;
        }
      for (guint i = 0; i < 3; i++)
        if (head == heads[i])
          {
            g_assert_cmpuint (len, ==, want[i]);
            seen++;
          }
    }
  g_assert_cmpuint (seen, ==, 3);

  /* filled: 64 random bytes are not all zero, and no piece of the
   * three-descriptor request was skipped */
  {
    static const guint8 zeros[64];

    g_assert_true (memcmp (mem + 0x10000, zeros, 64) != 0);
    for (guint i = 0; i < 3; i++)
      g_assert_true (memcmp (mem + off2[i] + len2[i] - 64, zeros, 64) != 0);
    /* nothing past any buffer */
    g_assert_cmpuint (mem[0x10000 + 64], ==, 0);
    for (guint i = 0; i < 3; i++)
      g_assert_cmpuint (mem[off2[i] + len2[i]], ==, 0);
    g_assert_cmpuint (mem[0x50001], ==, 0);
  }

  vhost_user_frontend_close (frontend);
  g_assert_true (g_subprocess_wait_check (device, NULL, &error));
  g_assert_no_error (error);
  test_socket_path_free (path);
}

static void
test_c (void)
{
  const char *binary = g_getenv ("VHOST_USER_RNG");
  const char *argv[] = { binary, NULL };

  if (binary == NULL)
    {
      g_test_skip ("Examples not built (VHOST_USER_RNG unset)");
      return;
    }
  run_rng (argv, FALSE);
}

static void
test_python (void)
{
  const char *script = g_getenv ("VHOST_USER_RNG_PY");
  const char *argv[] = { "/usr/bin/python3", script, NULL };

  if (script == NULL || !g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE) ||
      g_getenv ("GI_TYPELIB_PATH") == NULL)
    {
      g_test_skip ("No Python with PyGObject, or no typelib (introspection off)");
      return;
    }
  run_rng (argv, TRUE);
}

static void
test_gjs (void)
{
  const char *script = g_getenv ("VHOST_USER_RNG_JS");
  g_autofree char *gjs = g_find_program_in_path ("gjs");
  const char *argv[] = { gjs, "-m", script, NULL };

  if (script == NULL || g_getenv ("GI_TYPELIB_PATH") == NULL)
    {
      g_test_skip ("No typelib (introspection off)");
      return;
    }
  if (gjs == NULL)
    {
      g_test_skip ("gjs is not installed (Debian: apt-get install gjs)");
      return;
    }
  run_rng (argv, TRUE);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/rng/element-views", test_element_views);
  g_test_add_func ("/rng/c", test_c);
  g_test_add_func ("/rng/python", test_python);
  g_test_add_func ("/rng/gjs", test_gjs);
  return g_test_run ();
}
