/* test-net.c: the example net device (examples/vhost-user-net --loopback,
 * $VHOST_USER_NET) driven by this library's front-end as a virtio-net
 * driver: receive queue 0, transmit queue 1, in guest memory of our own.
 *
 * A packet comes back whole, with num_buffers; a packet larger than one
 * receive buffer comes back over several (merged receive buffers); and
 * what a driver can get wrong is a drop, not a crash: a transmit chain
 * shorter than the net header, receive buffers too small for any packet
 * (without merged buffers), a queue beyond the pairs the device has.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <glib/gstdio.h>
#include <vhost-user-glib.h>

#include "test-util.h"

#define MEM_SIZE  (1024 * 1024)
#define RING_SIZE 64
#define RX_RING   0x0000
#define TX_RING   0x8000
#define RX_BUFS   0x20000     /* receive buffer i at RX_BUFS + i * 0x1000 */
#define TX_BUFS   0x80000
#define HDR       12
#define WAIT_US   (10 * G_USEC_PER_SEC)

#define VIRTIO_NET_F_MRG_RXBUF 15

typedef struct {
  char                  *dir;
  char                  *sock;
  char                  *log;
  GSubprocess           *device_process;
  VhostUserMemoryRegion *memory;
  guint8                *mem;
  VhostUserDriverRing   *rx;
  VhostUserDriverRing   *tx;
  VhostUserDevice       *device;
  guint                  rx_posted;
} Fixture;

/* The device in @mode (--loopback, or --tap and a name) */
static void
setup_device (Fixture    *f,
              const char *mode,
              const char *tap)
{
  const char *net = g_getenv ("VHOST_USER_NET");
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autoptr(GError) error = NULL;
  gint64 deadline;

  if (net == NULL)
    {
      g_test_skip ("VHOST_USER_NET is not set (the example net device)");
      return;
    }
  f->dir = g_dir_make_tmp ("test-net-XXXXXX", &error);
  g_assert_no_error (error);
  f->sock = g_build_filename (f->dir, "net.sock", NULL);
  f->log = g_build_filename (f->dir, "net.log", NULL);
  g_subprocess_launcher_set_stdout_file_path (launcher, f->log);
  f->device_process = g_subprocess_launcher_spawn (launcher, &error, net, "--socket", f->sock, "--verbose", mode,
                                                   tap, NULL);
  g_assert_no_error (error);
  deadline = g_get_monotonic_time () + WAIT_US;
  while (!g_file_test (f->sock, G_FILE_TEST_EXISTS) && g_get_monotonic_time () < deadline)
    g_usleep (10000);
  g_assert_true (g_file_test (f->sock, G_FILE_TEST_EXISTS));

  f->memory = vhost_user_memory_region_new_memfd (0, MEM_SIZE, &error);
  g_assert_no_error (error);
  f->mem = vhost_user_memory_region_get_host_addr (f->memory);
  f->rx = vhost_user_driver_ring_new (f->memory, RX_RING, RING_SIZE, &error);
  g_assert_no_error (error);
  f->tx = vhost_user_driver_ring_new (f->memory, TX_RING, RING_SIZE, &error);
  g_assert_no_error (error);
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  setup_device (f, "--loopback", NULL);
}

static char tap_name[IFNAMSIZ];

static void
fixture_setup_tap (Fixture       *f,
                   gconstpointer  data)
{
  if (getuid () != 0 || !g_file_test ("/dev/net/tun", G_FILE_TEST_EXISTS))
    {
      g_test_skip ("A tap needs root and /dev/net/tun");
      return;
    }
  g_snprintf (tap_name, sizeof tap_name, "vutn%d", (int) getpid ());
  setup_device (f, "--tap", tap_name);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  if (f->dir == NULL)
    return;
  if (f->device != NULL)
    vhost_user_device_close (f->device);
  g_clear_object (&f->device);
  g_subprocess_send_signal (f->device_process, SIGINT);
  g_subprocess_wait (f->device_process, NULL, NULL);
  /* it says what it counted, and nothing went wrong on its side */
  {
    g_autofree char *log = NULL;

    g_assert_true (g_file_get_contents (f->log, &log, NULL, NULL));
    g_test_message ("%s", log);
    g_assert_null (strstr (log, "CRITICAL"));
    g_assert_null (strstr (log, "WARNING"));
  }
  g_assert_true (g_subprocess_get_if_exited (f->device_process));
  g_assert_cmpint (g_subprocess_get_exit_status (f->device_process), ==, 0);
  g_clear_object (&f->device_process);
  g_clear_object (&f->rx);
  g_clear_object (&f->tx);
  vhost_user_memory_region_unref (f->memory);
  g_unlink (f->log);
  g_rmdir (f->dir);
  g_free (f->log);
  g_free (f->sock);
  g_free (f->dir);
}

static void
start (Fixture *f,
       guint64  features)
{
  g_autoptr(VhostUserFrontend) frontend = vhost_user_frontend_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_user_frontend_connect_to_path (frontend, f->sock, 5000, NULL, &error));
  g_assert_no_error (error);
  f->device = vhost_user_device_new (frontend, 2);
  vhost_user_device_set_features (f->device, VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_VERSION_1) | features);
  g_assert_true (vhost_user_device_set_ring (f->device, 0, f->rx, &error));
  g_assert_true (vhost_user_device_set_ring (f->device, 1, f->tx, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_device_add_memory (f->device, f->memory, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_device_start (f->device, NULL, &error));
  g_assert_no_error (error);
}

/* A writable receive buffer of @len bytes. */
static guint
post_rx (Fixture *f,
         guint32  len)
{
  g_autoptr(GError) error = NULL;
  guint64 off = RX_BUFS + (f->rx_posted++ % 64) * 0x1000;
  guint head;

  memset (f->mem + off, 0xee, len);
  g_assert_true (vhost_user_driver_ring_add (f->rx, NULL, NULL, 0, &off, &len, 1, &head, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_driver_ring_kick (f->rx, NULL));
  return head;
}

/* A packet of @len bytes (a header of zeros before it, unless @hdr_len
 * says otherwise), in two pieces as Linux sends them. */
static guint
send_packet (Fixture      *f,
             const guint8 *packet,
             guint32       len,
             guint32       hdr_len)
{
  g_autoptr(GError) error = NULL;
  guint64 off[2] = { TX_BUFS, TX_BUFS + 0x100 };
  guint32 lens[2] = { hdr_len, len };
  guint head;

  memset (f->mem + TX_BUFS, 0, hdr_len);
  if (len > 0)
    memcpy (f->mem + TX_BUFS + 0x100, packet, len);
  g_assert_true (vhost_user_driver_ring_add (f->tx, off, lens, len > 0 ? 2 : 1, NULL, NULL, 0, &head, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_driver_ring_kick (f->tx, NULL));
  return head;
}

static gboolean
wait_used (VhostUserDriverRing *ring,
           guint               *head,
           guint               *len)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_US;

  while (!vhost_user_driver_ring_get_used (ring, head, len))
    {
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      g_usleep (100);
    }
  return TRUE;
}

static void
make_packet (guint8 *packet,
             gsize   len,
             guint8  seed)
{
  for (gsize i = 0; i < len; i++)
    packet[i] = (guint8) (seed + i * 7);
}

static guint16
num_buffers (Fixture *f,
             guint    rx_slot)
{
  guint16 n;

  memcpy (&n, f->mem + RX_BUFS + rx_slot * 0x1000 + 10, 2);
  return GUINT16_FROM_LE (n);
}

/* A packet comes back whole in one receive buffer, num_buffers 1. */
static void
test_loopback (Fixture       *f,
               gconstpointer  data)
{
  guint8 packet[60];
  guint head, used, len, tx_head;

  if (f->dir == NULL)
    return;
  start (f, GPOINTER_TO_INT (data) ? VHOST_USER_FEATURE (VIRTIO_NET_F_MRG_RXBUF) : 0);
  head = post_rx (f, 2048);
  make_packet (packet, sizeof packet, 1);
  tx_head = send_packet (f, packet, sizeof packet, HDR);
  g_assert_true (wait_used (f->tx, &used, &len));
  g_assert_cmpuint (used, ==, tx_head);
  g_assert_true (wait_used (f->rx, &used, &len));
  g_assert_cmpuint (used, ==, head);
  g_assert_cmpuint (len, ==, HDR + sizeof packet);
  g_assert_cmpuint (num_buffers (f, 0), ==, 1);
  g_assert_cmpmem (f->mem + RX_BUFS + HDR, sizeof packet, packet, sizeof packet);
}

/* With merged receive buffers a 1000-byte packet takes four 256-byte
 * buffers, the first saying so. */
static void
test_merged (Fixture       *f,
             gconstpointer  data)
{
  guint8 packet[1000], got[1000];
  guint heads[4], used, len, done = 0;

  if (f->dir == NULL)
    return;
  start (f, VHOST_USER_FEATURE (VIRTIO_NET_F_MRG_RXBUF));
  for (guint i = 0; i < 4; i++)
    heads[i] = post_rx (f, 256);
  make_packet (packet, sizeof packet, 3);
  send_packet (f, packet, sizeof packet, HDR);
  for (guint i = 0; i < 4; i++)
    {
      g_assert_true (wait_used (f->rx, &used, &len));
      g_assert_cmpuint (used, ==, heads[i]);
      g_assert_cmpuint (len, ==, i < 3 ? 256 : HDR + sizeof packet - 3 * 256);
      memcpy (got + done, f->mem + RX_BUFS + i * 0x1000 + (i == 0 ? HDR : 0), len - (i == 0 ? HDR : 0));
      done += len - (i == 0 ? HDR : 0);
    }
  g_assert_cmpuint (done, ==, sizeof packet);
  g_assert_cmpuint (num_buffers (f, 0), ==, 4);
  g_assert_cmpmem (got, sizeof got, packet, sizeof packet);
}

/* A transmit chain shorter than the header is given back unsent; receive
 * buffers too small for any packet (no merged buffers) drop it and stay;
 * a queue beyond the pairs is refused. The device serves on. */
static void
test_bad_input (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  guint8 packet[100];
  guint used, len, tx_head, small;

  if (f->dir == NULL)
    return;
  start (f, 0);
  small = post_rx (f, 20);

  /* four bytes of a twelve-byte header */
  tx_head = send_packet (f, NULL, 0, 4);
  g_assert_true (wait_used (f->tx, &used, &len));
  g_assert_cmpuint (used, ==, tx_head);
  g_assert_cmpuint (len, ==, 0);

  /* 112 bytes into 20: dropped, the buffer kept */
  make_packet (packet, sizeof packet, 5);
  tx_head = send_packet (f, packet, sizeof packet, HDR);
  g_assert_true (wait_used (f->tx, &used, &len));
  g_assert_cmpuint (used, ==, tx_head);
  g_usleep (100000);
  g_assert_false (vhost_user_driver_ring_get_used (f->rx, &used, &len));
  g_assert_cmpuint (f->mem[RX_BUFS], ==, 0xee);

  /* a queue the device does not have */
  g_assert_false (vhost_user_frontend_set_vring_state (vhost_user_device_get_frontend (f->device),
                                                       VHOST_USER_REQUEST_SET_VRING_NUM, 2, 64, NULL, &error));
  g_assert_nonnull (error);
  g_test_message ("queue 2: %s", error->message);
  g_clear_error (&error);

  /* and a packet that fits the small buffer comes back in it */
  tx_head = send_packet (f, packet, 8, HDR);
  g_assert_true (wait_used (f->tx, &used, &len));
  g_assert_true (wait_used (f->rx, &used, &len));
  g_assert_cmpuint (used, ==, small);
  g_assert_cmpuint (len, ==, HDR + 8);
  g_assert_cmpmem (f->mem + RX_BUFS + HDR, 8, packet, 8);
}

/* CPU time the device has used, in clock ticks */
static guint64
device_ticks (Fixture *f)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/stat", g_subprocess_get_identifier (f->device_process));
  g_autofree char *stat = NULL;
  g_auto(GStrv) fields = NULL;
  const char *end;

  g_assert_true (g_file_get_contents (path, &stat, NULL, NULL));
  /* after the command's parenthesis: state is field 3, utime 14, stime 15 */
  end = strrchr (stat, ')');
  g_assert_nonnull (end);
  fields = g_strsplit (end + 2, " ", -1);
  g_assert_cmpuint (g_strv_length (fields), >, 13);
  return g_ascii_strtoull (fields[11], NULL, 10) + g_ascii_strtoull (fields[12], NULL, 10);
}

/* The tap goes away under a running device: what the driver sends is
 * given back and counted dropped, the device neither dies nor spins. */
static void
test_tap_gone (Fixture       *f,
               gconstpointer  data)
{
  g_autofree char *command = NULL;
  g_autofree char *out = NULL;
  guint8 packet[60];
  guint used, len, tx_head;
  guint64 before;
  gint status;
  gint64 deadline;

  if (f->dir == NULL)
    return;
  start (f, 0);
  command = g_strdup_printf ("ip link set %s up", tap_name);
  g_assert_true (g_spawn_command_line_sync (command, NULL, NULL, &status, NULL));
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_clear_pointer (&command, g_free);
  post_rx (f, 2048);
  make_packet (packet, sizeof packet, 9);
  /* through the tap while it is there */
  tx_head = send_packet (f, packet, sizeof packet, HDR);
  g_assert_true (wait_used (f->tx, &used, &len));
  g_assert_cmpuint (used, ==, tx_head);

  command = g_strdup_printf ("ip link del %s", tap_name);
  g_assert_true (g_spawn_command_line_sync (command, NULL, NULL, &status, NULL));
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  /* the device notices when it next reads the tap */
  deadline = g_get_monotonic_time () + WAIT_US;
  while ((!g_file_get_contents (f->log, &out, NULL, NULL) || strstr (out, "no longer reads it") == NULL) &&
         g_get_monotonic_time () < deadline)
    {
      g_clear_pointer (&out, g_free);
      g_usleep (20000);
    }
  g_assert_nonnull (strstr (out, "no longer reads it"));

  tx_head = send_packet (f, packet, sizeof packet, HDR);
  g_assert_true (wait_used (f->tx, &used, &len));
  g_assert_cmpuint (used, ==, tx_head);
  /* a second of nothing to do costs it next to nothing (a spinning
   * source would take the whole second: 100 ticks) */
  before = device_ticks (f);
  g_usleep (G_USEC_PER_SEC);
  g_assert_cmpuint (device_ticks (f) - before, <, 20);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/net/loopback", Fixture, GINT_TO_POINTER (FALSE), fixture_setup, test_loopback, fixture_teardown);
  g_test_add ("/net/loopback-mrg", Fixture, GINT_TO_POINTER (TRUE), fixture_setup, test_loopback,
              fixture_teardown);
  g_test_add ("/net/merged", Fixture, NULL, fixture_setup, test_merged, fixture_teardown);
  g_test_add ("/net/bad-input", Fixture, NULL, fixture_setup, test_bad_input, fixture_teardown);
  g_test_add ("/net/tap-gone", Fixture, NULL, fixture_setup_tap, test_tap_gone, fixture_teardown);

  return g_test_run ();
}
