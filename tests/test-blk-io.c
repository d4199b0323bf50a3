/* test-blk-io.c: block I/O through a driver ring, to our back-end and to qemu-storage-daemon
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The test is a front-end with no guest: it shares a memfd, lays out a
 * split ring in it (VhostUserDriverRing), sets the queue up and sends
 * virtio-blk requests: a pattern written to sector 8, read back. Against
 * the example device in this process the RAM disk holds the pattern;
 * against qemu-storage-daemon the image file on disk does. Our device is
 * also driven through packed rings (of an odd size) and with event
 * indices, for many laps of the ring.
 */

#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <vhost-user-glib.h>

#include "blk-device.h"
#include "test-util.h"

#define RING_SIZE  64
#define MEM_SIZE   (1024 * 1024)
#define HDR_OFF    0x10000
#define DATA_OFF   0x11000
#define STATUS_OFF 0x12000
#define SECTOR     8
#define PATTERN    "a pattern the driver ring wrote"

typedef struct {
  guint32 type;
  guint32 reserved;
  guint64 sector;
} BlkHeader;

typedef struct {
  guint64 sector;
  guint32 num_sectors;
  guint32 flags;
} BlkSegment;

typedef struct {
  gboolean packed;
  gboolean event_idx;
  guint    size;
} Layout;

static const Layout split_layout = { FALSE, FALSE, RING_SIZE };
static const Layout split_event_idx = { FALSE, TRUE, RING_SIZE };
/* packed rings need no power of two */
static const Layout packed = { TRUE, FALSE, 13 };
static const Layout packed_event_idx = { TRUE, TRUE, 13 };

typedef struct {
  VhostUserFrontend     *frontend;
  VhostUserMemoryRegion *memory;
  VhostUserDriverRing   *ring;
  guint8                *mem;
} Client;

static void client_setup_ring (Client       *c,
                               const Layout *layout);

static void
client_setup (Client       *c,
              const char   *path,
              const Layout *layout)
{
  g_autoptr(GError) error = NULL;
  guint64 features = VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_VERSION_1) |
                     (layout->packed ? VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_RING_PACKED) : 0) |
                     (layout->event_idx ? VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_EVENT_IDX) : 0);

  c->frontend = vhost_user_frontend_new ();
  g_assert_true (vhost_user_frontend_connect_to_path (c->frontend, path, 10000, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_frontend_negotiate (c->frontend, features,
                                                VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK |
                                                VHOST_USER_PROTOCOL_FEATURE_CONFIGURE_MEM_SLOTS |
                                                VHOST_USER_PROTOCOL_FEATURE_RESET_DEVICE, NULL, &error));
  g_assert_no_error (error);
  /* what was asked for was had: a packed test cannot pass on split */
  g_assert_cmphex (vhost_user_frontend_get_acked_features (c->frontend) & features, ==, features);

  c->memory = vhost_user_memory_region_new_memfd (0, MEM_SIZE, &error);
  g_assert_no_error (error);
  c->mem = vhost_user_memory_region_get_host_addr (c->memory);
  if (layout->packed)
    c->ring = vhost_user_driver_ring_new_packed (c->memory, 0, layout->size, &error);
  else
    c->ring = vhost_user_driver_ring_new (c->memory, 0, layout->size, &error);
  g_assert_no_error (error);
  vhost_user_driver_ring_set_event_idx (c->ring, layout->event_idx);

  g_assert_true (vhost_user_frontend_add_mem_region (c->frontend, c->memory, NULL, &error));
  g_assert_no_error (error);
  client_setup_ring (c, layout);
}

static void
client_setup_ring (Client       *c,
                   const Layout *layout)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_user_frontend_set_vring_state (c->frontend, VHOST_USER_REQUEST_SET_VRING_NUM, 0, layout->size,
                                                      NULL, &error));
  /* packed: both positions 0, both wrap counters 1 */
  g_assert_true (vhost_user_frontend_set_vring_state (c->frontend, VHOST_USER_REQUEST_SET_VRING_BASE, 0,
                                                      layout->packed ? 0x80008000 : 0, NULL, &error));
  g_assert_true (vhost_user_frontend_set_vring_addr (c->frontend, 0, 0,
                                                     vhost_user_driver_ring_get_desc_addr (c->ring),
                                                     vhost_user_driver_ring_get_used_addr (c->ring),
                                                     vhost_user_driver_ring_get_avail_addr (c->ring), 0,
                                                     NULL, &error));
  g_assert_true (vhost_user_frontend_set_vring_fd (c->frontend, VHOST_USER_REQUEST_SET_VRING_CALL, 0,
                                                   vhost_user_driver_ring_get_call_fd (c->ring), NULL, &error));
  g_assert_true (vhost_user_frontend_set_vring_fd (c->frontend, VHOST_USER_REQUEST_SET_VRING_KICK, 0,
                                                   vhost_user_driver_ring_get_kick_fd (c->ring), NULL, &error));
  g_assert_true (vhost_user_frontend_set_vring_state (c->frontend, VHOST_USER_REQUEST_SET_VRING_ENABLE, 0, 1,
                                                      NULL, &error));
  g_assert_no_error (error);
}

static void
client_teardown (Client *c)
{
  vhost_user_frontend_close (c->frontend);
  g_clear_object (&c->frontend);
  g_clear_object (&c->ring);
  g_clear_pointer (&c->memory, vhost_user_memory_region_unref);
}

/* Waits for the device to hand back @head, the one request out: its
 * used length in *@len. */
static void
wait_used (Client *c,
           guint   head,
           guint  *len)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  guint used_head = G_MAXUINT;

  /* the back-end may be in this process: keep its context running */
  while (!vhost_user_driver_ring_get_used (c->ring, &used_head, len) && g_get_monotonic_time () < deadline)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
  g_assert_cmpuint (used_head, ==, head);
  g_assert_cmpuint (vhost_user_driver_ring_get_free (c->ring), ==, vhost_user_driver_ring_get_size (c->ring));
}

/* One request, waited for: the status byte the device wrote. */
static guint8
blk_request (Client  *c,
             guint32  type,
             guint64  sector,
             gboolean data_to_device)
{
  g_autoptr(GError) error = NULL;
  BlkHeader header = { type, 0, sector };
  guint64 out_off[2] = { HDR_OFF, DATA_OFF };
  guint32 out_len[2] = { sizeof header, 512 };
  guint64 in_off[2] = { DATA_OFF, STATUS_OFF };
  guint32 in_len[2] = { 512, 1 };
  guint head, len;

  memcpy (c->mem + HDR_OFF, &header, sizeof header);
  c->mem[STATUS_OFF] = 0xff;
  if (data_to_device)
    g_assert_true (vhost_user_driver_ring_add (c->ring, out_off, out_len, 2, in_off + 1, in_len + 1, 1, &head, &error));
  else
    g_assert_true (vhost_user_driver_ring_add (c->ring, out_off, out_len, 1, in_off, in_len, 2, &head, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_driver_ring_kick (c->ring, &error));
  wait_used (c, head, &len);
  return c->mem[STATUS_OFF];
}

static void
write_and_read_back (Client *c)
{
  memset (c->mem + DATA_OFF, 0, 512);
  memcpy (c->mem + DATA_OFF, PATTERN, sizeof PATTERN);
  g_assert_cmpuint (blk_request (c, 1 /* OUT */, SECTOR, TRUE), ==, 0);
  g_assert_cmpuint (blk_request (c, 4 /* FLUSH */, 0, TRUE), ==, 0);

  memset (c->mem + DATA_OFF, 0, 512);
  g_assert_cmpuint (blk_request (c, 0 /* IN */, SECTOR, FALSE), ==, 0);
  g_assert_cmpstr ((const char *) c->mem + DATA_OFF, ==, PATTERN);

  /* past the end of the disk: an error status, not a crash */
  g_assert_cmpuint (blk_request (c, 0 /* IN */, G_MAXUINT64 / 1024, FALSE), ==, 1);
}

static void
test_own_backend (gconstpointer data)
{
  const Layout *layout = data;
  g_autoptr(VhostUserServer) server = vhost_user_server_new (EXAMPLE_TYPE_BLK_DEVICE, FALSE);
  g_autoptr(GError) error = NULL;
  char *path = test_socket_path_new ("blk.sock");
  VhostUserBackend *backend = NULL;
  guint64 ring_bits = VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_RING_PACKED) |
                      VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_EVENT_IDX);
  Client c = { 0 };

  g_signal_connect_swapped (server, "backend-added", G_CALLBACK (g_set_object), &backend);
  g_assert_true (vhost_user_server_listen (server, path, &error));
  g_assert_no_error (error);

  client_setup (&c, path, layout);
  /* the back-end agrees on the layout */
  g_assert_nonnull (backend);
  g_assert_cmphex (vhost_user_backend_get_acked_features (backend) & ring_bits, ==,
                   (layout->packed ? VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_RING_PACKED) : 0) |
                   (layout->event_idx ? VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_EVENT_IDX) : 0));
  write_and_read_back (&c);
  {
    g_autoptr(GBytes) sector = example_blk_device_read (EXAMPLE_BLK_DEVICE (backend), SECTOR * 512, sizeof PATTERN);

    g_assert_cmpmem (g_bytes_get_data (sector, NULL), sizeof PATTERN, PATTERN, sizeof PATTERN);
  }
  /* many laps of the ring (three descriptors a request) */
  for (guint i = 0; i < 2 * layout->size; i++)
    {
      memset (c.mem + DATA_OFF, 0, 512);
      g_assert_cmpuint (blk_request (&c, 0 /* IN */, SECTOR, FALSE), ==, 0);
      g_assert_cmpstr ((const char *) c.mem + DATA_OFF, ==, PATTERN);
    }
  /* where the ring stands, as GET_VRING_BASE (which stops it) reports:
   * 4 + 2 * size requests of three descriptors; packed rings say both
   * positions and wrap counters */
  {
    guint n = 3 * (4 + 2 * layout->size);
    guint expected = layout->packed ? (n % layout->size) | (((n / layout->size) % 2 == 0) << 15)
                                    : (guint16) (4 + 2 * layout->size);
    guint base;

    if (layout->packed)
      expected |= expected << 16;
    base = vhost_user_frontend_get_vring_base (c.frontend, 0, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmphex (base, ==, expected);
  }
  client_teardown (&c);
  vhost_user_server_stop (server);
  g_clear_object (&backend);
  test_socket_path_free (path);
}

/* A server of our device and a front-end set up to it, in this process. */
typedef struct {
  VhostUserServer  *server;
  VhostUserBackend *backend;
  char             *path;
  Client            c;
} Own;

static void
own_setup (Own          *own,
           const Layout *layout)
{
  g_autoptr(GError) error = NULL;

  own->server = vhost_user_server_new (EXAMPLE_TYPE_BLK_DEVICE, FALSE);
  own->path = test_socket_path_new ("blk.sock");
  g_signal_connect_swapped (own->server, "backend-added", G_CALLBACK (g_set_object), &own->backend);
  g_assert_true (vhost_user_server_listen (own->server, own->path, &error));
  g_assert_no_error (error);
  client_setup (&own->c, own->path, layout);
  g_assert_nonnull (own->backend);
}

static void
own_teardown (Own *own)
{
  client_teardown (&own->c);
  vhost_user_server_stop (own->server);
  g_clear_object (&own->server);
  g_clear_object (&own->backend);
  test_socket_path_free (own->path);
}

#define N_SEGMENTS 32  /* EXAMPLE_BLK_MAX_DISCARD_SEG: 512 bytes of them */
#define FAR_SECTOR (G_GUINT64_CONSTANT (1) << 54)  /* 2^63 bytes in */

typedef struct {
  guint64  *sector;  /* the last segment's, in guest memory */
  gint      stop;
} Flipper;

/* What a vCPU may do to a request the device is working on: flips the
 * last segment between a sector in range and one 2^63 bytes into the
 * disk, as fast as it can. */
static gpointer
flip_last_segment (gpointer data)
{
  Flipper *f = data;

  while (!g_atomic_int_get (&f->stop))
    {
      __atomic_store_n (f->sector, GUINT64_TO_LE (0), __ATOMIC_RELAXED);
      __atomic_store_n (f->sector, GUINT64_TO_LE (FAR_SECTOR), __ATOMIC_RELAXED);
    }
  return NULL;
}

/* The segments of a write-zeroes request are read from guest memory,
 * which the guest may change meanwhile: what the device checked must be
 * what it zeroes. Segments 0-30 take a while to zero (4 MiB each), and
 * segment 31 keeps changing; a device that read it again after checking
 * it would memset the RAM disk at 2^63 bytes past its start, and crash. */
static void
test_write_zeroes_reread (void)
{
  BlkSegment *segs;
  Flipper flipper = { 0 };
  GThread *thread;
  gint64 end;
  guint n_ok = 0, n_err = 0;
  Own own = { 0 };

  own_setup (&own, &split_layout);
  segs = (BlkSegment *) (own.c.mem + DATA_OFF);
  for (guint i = 0; i < N_SEGMENTS; i++)
    {
      segs[i].sector = GUINT64_TO_LE (0);
      segs[i].num_sectors = GUINT32_TO_LE (i < N_SEGMENTS - 1 ? 8192 : 1);
      segs[i].flags = 0;
    }
  flipper.sector = &segs[N_SEGMENTS - 1].sector;
  thread = g_thread_new ("flipper", flip_last_segment, &flipper);

  /* a request at a time, for a few seconds at most */
  end = g_get_monotonic_time () + 3 * G_USEC_PER_SEC;
  for (guint i = 0; i < 200 && g_get_monotonic_time () < end; i++)
    {
      guint8 status = blk_request (&own.c, 13 /* WRITE_ZEROES */, 0, TRUE);

      /* the segment as it was when copied: in range, or refused whole */
      g_assert_true (status == 0 || status == 1);
      if (status == 0)
        n_ok++;
      else
        n_err++;
    }
  g_atomic_int_set (&flipper.stop, 1);
  g_thread_join (thread);
  g_test_message ("%u requests done, %u refused", n_ok, n_err);

  /* the device still serves */
  write_and_read_back (&own.c);
  own_teardown (&own);
}

/* A request whose header is cut short (8 bytes of 16) cannot say what
 * it asks, but has a status byte: the device answers it with an I/O
 * error there, and a used length of that one byte. */
static void
test_short_header (void)
{
  g_autoptr(GError) error = NULL;
  BlkHeader header = { 0 /* IN */, 0, SECTOR };
  guint64 out_off[1] = { HDR_OFF };
  guint32 out_len[1] = { 8 };
  guint64 in_off[2] = { DATA_OFF, STATUS_OFF };
  guint32 in_len[2] = { 512, 1 };
  guint head, len = G_MAXUINT;
  Own own = { 0 };

  own_setup (&own, &split_layout);
  memcpy (own.c.mem + HDR_OFF, &header, sizeof header);
  /* with and without data buffers before the status byte */
  for (guint n_in = 2; n_in > 0; n_in--)
    {
      own.c.mem[STATUS_OFF] = 0xff;
      g_assert_true (vhost_user_driver_ring_add (own.c.ring, out_off, out_len, 1, in_off + 2 - n_in,
                                                 in_len + 2 - n_in, n_in, &head, &error));
      g_assert_no_error (error);
      g_assert_true (vhost_user_driver_ring_kick (own.c.ring, &error));
      wait_used (&own.c, head, &len);
      g_assert_cmpuint (own.c.mem[STATUS_OFF], ==, 1 /* IOERR */);
      g_assert_cmpuint (len, ==, 1);
    }

  /* and the device still serves */
  write_and_read_back (&own.c);
  own_teardown (&own);
}

/* --latency holds each request 300 ms. One held across RESET_DEVICE
 * belongs to a session that is over: it must not complete a request of
 * the next one, which may have the same head (0 here, on a ring of the
 * same size set up again). */
static void
test_latency_reset (void)
{
  g_autoptr(GError) error = NULL;
  BlkHeader header = { 0 /* IN */, 0, SECTOR };
  guint64 out_off[1] = { HDR_OFF };
  guint32 out_len[1] = { sizeof header };
  guint64 in_off[2] = { DATA_OFF, STATUS_OFF };
  guint32 in_len[2] = { 512, 1 };
  guint head, used_head, len = G_MAXUINT;
  gint64 start, end;
  Own own = { 0 };

  own_setup (&own, &split_layout);
  example_blk_device_set_latency (EXAMPLE_BLK_DEVICE (own.backend), 300, 0);
  memcpy (own.c.mem + HDR_OFF, &header, sizeof header);

  g_assert_true (vhost_user_driver_ring_add (own.c.ring, out_off, out_len, 1, in_off, in_len, 2, &head, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (head, ==, 0);
  g_assert_true (vhost_user_driver_ring_kick (own.c.ring, &error));
  /* popped and held */
  end = g_get_monotonic_time () + 100 * G_TIME_SPAN_MILLISECOND;
  while (g_get_monotonic_time () < end)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
  g_assert_false (vhost_user_driver_ring_get_used (own.c.ring, &used_head, &len));

  g_assert_true (vhost_user_frontend_command (own.c.frontend, VHOST_USER_REQUEST_RESET_DEVICE, NULL, &error));
  g_assert_no_error (error);
  g_clear_object (&own.c.ring);
  memset (own.c.mem, 0, HDR_OFF);
  own.c.ring = vhost_user_driver_ring_new (own.c.memory, 0, RING_SIZE, &error);
  g_assert_no_error (error);
  client_setup_ring (&own.c, &split_layout);

  own.c.mem[STATUS_OFF] = 0xff;
  start = g_get_monotonic_time ();
  g_assert_true (vhost_user_driver_ring_add (own.c.ring, out_off, out_len, 1, in_off, in_len, 2, &head, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (head, ==, 0);
  g_assert_true (vhost_user_driver_ring_kick (own.c.ring, &error));
  wait_used (&own.c, head, &len);
  /* the new request, done: not the old one's completion */
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 290 * G_TIME_SPAN_MILLISECOND);
  g_assert_cmpuint (len, ==, 513);
  g_assert_cmpuint (own.c.mem[STATUS_OFF], ==, 0);

  /* nothing more comes back: the old request was not pushed late */
  end = g_get_monotonic_time () + 400 * G_TIME_SPAN_MILLISECOND;
  while (g_get_monotonic_time () < end)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
  g_assert_false (vhost_user_driver_ring_get_used (own.c.ring, &used_head, &len));
  own_teardown (&own);
}

static void
on_backend_removed (VhostUserServer  *server,
                    VhostUserBackend *backend,
                    gboolean         *removed)
{
  *removed = TRUE;
}

/* (an emission hook: the device's own handler stops the emission) */
static gboolean
load_state_emitted (GSignalInvocationHint *hint,
                    guint                  n_params,
                    const GValue          *params,
                    gpointer               loading)
{
  *(gboolean *) loading = TRUE;
  return TRUE;
}

/* A front-end starts loading a state, then goes, keeping its end of the
 * pipe open: the device stops waiting for the rest and goes too (before,
 * its copy held it, its image and its queues for good). */
static void
test_load_abandoned (void)
{
  g_autoptr(VhostUserServer) server = vhost_user_server_new (EXAMPLE_TYPE_BLK_DEVICE, FALSE);
  g_autoptr(VhostUserFrontend) frontend = vhost_user_frontend_new ();
  g_autoptr(GError) error = NULL;
  VhostUserBackend *backend = NULL;
  char *path = test_socket_path_new ("blk.sock");
  gboolean removed = FALSE, loading = FALSE;
  guint signal_id;
  gulong hook;
  gint64 deadline;
  int fds[2];

  g_signal_connect_swapped (server, "backend-added", G_CALLBACK (g_set_object), &backend);
  g_signal_connect (server, "backend-removed", G_CALLBACK (on_backend_removed), &removed);
  g_assert_true (vhost_user_server_listen (server, path, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_frontend_connect_to_path (frontend, path, 10000, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_frontend_negotiate (frontend, VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_VERSION_1),
                                                VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK |
                                                VHOST_USER_PROTOCOL_FEATURE_DEVICE_STATE, NULL, &error));
  g_assert_no_error (error);
  g_assert_nonnull (backend);
  signal_id = g_signal_lookup ("load-state", VHOST_USER_TYPE_BACKEND);
  g_object_add_weak_pointer (G_OBJECT (backend), (gpointer *) &backend);
  g_object_unref (backend);

  /* load: the back-end reads the pipe; a few bytes of a state, no end */
  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, &error));
  hook = g_signal_add_emission_hook (signal_id, 0, load_state_emitted, &loading, NULL);
  g_assert_true (vhost_user_frontend_set_device_state_fd (frontend, 1, 0, fds[0], NULL, NULL, &error));
  g_assert_no_error (error);
  g_close (fds[0], NULL);
  g_assert_cmpint (write (fds[1], "VUGBLK", 6), ==, 6);
  /* the device has started reading */
  g_assert_true (test_iterate_until (NULL, &loading, 5000));
  g_signal_remove_emission_hook (signal_id, hook);
  for (guint i = 0; i < 20; i++)
    g_main_context_iteration (NULL, FALSE);
  vhost_user_frontend_close (frontend);

  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while ((backend != NULL || !removed) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_true (removed);
  g_assert_null (backend);

  g_close (fds[1], NULL);
  vhost_user_server_stop (server);
  test_socket_path_free (path);
}

static void
test_qsd (void)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) qsd = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *prog = g_find_program_in_path ("qemu-storage-daemon");
  g_autofree char *dir = NULL;
  g_autofree char *image = NULL;
  g_autofree char *sock = NULL;
  g_autofree char *blockdev = NULL;
  g_autofree char *export = NULL;
  g_autofree char *contents = NULL;
  gsize length;
  Client c = { 0 };
  int fd;

  if (prog == NULL)
    {
      g_test_skip ("qemu-storage-daemon is not installed (Debian package qemu-system-common)");
      return;
    }
  dir = g_dir_make_tmp ("vhost-user-blk-io-XXXXXX", &error);
  image = g_build_filename (dir, "disk.img", NULL);
  sock = g_build_filename (dir, "blk.sock", NULL);
  fd = g_open (image, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  g_assert_cmpint (ftruncate (fd, 16 * 1024 * 1024), ==, 0);
  g_close (fd, NULL);

  blockdev = g_strdup_printf ("driver=file,node-name=f0,filename=%s", image);
  export = g_strdup_printf ("type=vhost-user-blk,id=e0,node-name=f0,addr.type=unix,addr.path=%s,writable=on", sock);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  qsd = g_subprocess_launcher_spawn (launcher, &error, prog, "--blockdev", blockdev, "--export", export, NULL);
  g_assert_no_error (error);

  client_setup (&c, sock, &split_layout);
  write_and_read_back (&c);
  client_teardown (&c);

  /* the pattern is in the image file */
  g_assert_true (g_file_get_contents (image, &contents, &length, &error));
  g_assert_cmpmem (contents + SECTOR * 512, sizeof PATTERN, PATTERN, sizeof PATTERN);

  g_subprocess_send_signal (qsd, SIGTERM);
  g_subprocess_wait (qsd, NULL, NULL);
  g_unlink (sock);
  g_unlink (image);
  g_rmdir (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_data_func ("/blk-io/own-backend", &split_layout, test_own_backend);
  g_test_add_data_func ("/blk-io/own-backend/event-idx", &split_event_idx, test_own_backend);
  g_test_add_data_func ("/blk-io/own-backend/packed", &packed, test_own_backend);
  g_test_add_data_func ("/blk-io/own-backend/packed-event-idx", &packed_event_idx, test_own_backend);
  g_test_add_func ("/blk-io/own-backend/write-zeroes-reread", test_write_zeroes_reread);
  g_test_add_func ("/blk-io/own-backend/short-header", test_short_header);
  g_test_add_func ("/blk-io/own-backend/latency-reset", test_latency_reset);
  g_test_add_func ("/blk-io/own-backend/load-abandoned", test_load_abandoned);
  g_test_add_func ("/blk-io/qemu-storage-daemon", test_qsd);

  return g_test_run ();
}
