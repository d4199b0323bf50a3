/* vhost-user-blk-client.c: read and write sectors of any vhost-user-blk back-end
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   vhost-user-blk-client [--verify] [--count N] [--start SECTOR] [--io-size N]
 *                         [--bench SECONDS] SOCKET
 *
 * A front-end with no guest: it shares memfd memory with the back-end,
 * lays a split ring out in it (VhostUserDriverRing) and sends virtio-blk
 * requests. --verify writes a pattern over N sectors, reads them back and
 * compares; without it the sectors are only read. --bench reads the N
 * sectors over and over for a while and prints requests per second (one
 * request in flight: this measures the round trip through the back-end).
 */

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <vhost-user-glib.h>

#define RING_SIZE  64
#define MEM_SIZE   (4 * 1024 * 1024)
#define HDR_OFF    0x10000
#define STATUS_OFF 0x11000
#define DATA_OFF   0x20000
#define MAX_IO     1024         /* sectors per request, at most */
#define VIRTIO_BLK_F_FLUSH 9

static gboolean verify;
static gint64 count = 1024;
static gint64 start;
static gint io_size = 64;
static gdouble bench;

static GOptionEntry entries[] = {
  { "verify", 'v', 0, G_OPTION_ARG_NONE, &verify, "Write a pattern, read it back and compare", NULL },
  { "count", 'n', 0, G_OPTION_ARG_INT64, &count, "Sectors to go through (default 1024)", "N" },
  { "start", 's', 0, G_OPTION_ARG_INT64, &start, "First sector (default 0)", "SECTOR" },
  { "io-size", 'i', 0, G_OPTION_ARG_INT, &io_size, "Sectors per request (default 64, at most 1024)", "N" },
  { "bench", 'b', 0, G_OPTION_ARG_DOUBLE, &bench,
    "Read for this many seconds, one request at a time, and print IOPS", "SECONDS" },
  { NULL }
};

typedef struct {
  guint32 type;
  guint32 reserved;
  guint64 sector;
} BlkHeader;

static guint8
request (VhostUserDriverRing *ring,
         guint8              *mem,
         guint32              type,
         guint64              sector,
         guint32              len,
         GError             **error)
{
  BlkHeader header = { type, 0, sector };
  guint64 out_off[2] = { HDR_OFF, DATA_OFF };
  guint32 out_len[2] = { sizeof header, len };
  guint64 in_off[2] = { DATA_OFF, STATUS_OFF };
  guint32 in_len[2] = { len, 1 };
  gboolean write = type == 1;
  /* A FLUSH carries no data; libvhost-user rejects zero-sized buffers. */
  gboolean has_data = len > 0;
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  guint head, used_head, used_len;

  memcpy (mem + HDR_OFF, &header, sizeof header);
  mem[STATUS_OFF] = 0xff;
  if (!vhost_user_driver_ring_add (ring, out_off, out_len, write && has_data ? 2 : 1,
                                   write || !has_data ? in_off + 1 : in_off,
                                   write || !has_data ? in_len + 1 : in_len,
                                   write || !has_data ? 1 : 2,
                                   &head, error) ||
      !vhost_user_driver_ring_kick (ring, error))
    return 0xff;
  while (!vhost_user_driver_ring_get_used (ring, &used_head, &used_len))
    {
      struct pollfd pfd = { vhost_user_driver_ring_get_call_fd (ring), POLLIN, 0 };
      guint64 value;

      if (g_get_monotonic_time () > deadline)
        {
          g_set_error_literal (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_BROKEN, "No answer within 30 s");
          return 0xff;
        }
      /* The back-end signals the call eventfd when it uses a buffer (no
       * event idx is negotiated, so it always does); an eventfd stays
       * readable until drained, so a signal between the check above and
       * poll() is not lost. */
      if (poll (&pfd, 1, 1000) > 0 && read (pfd.fd, &value, sizeof value) < 0 && errno != EAGAIN)
        {
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "Reading the call eventfd: %s",
                       g_strerror (errno));
          return 0xff;
        }
    }
  /* the back-end is not trusted either: the answer must be this request,
   * and a read must say it wrote the data and the status */
  if (used_head != head || (!write && has_data && used_len < len + 1))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "The back-end answered descriptor %u with %u bytes (sent %u, wanted %u)",
                   used_head, used_len, head, has_data && !write ? len + 1 : 1);
      return 0xff;
    }
  return mem[STATUS_OFF];
}

static void
fill_pattern (guint8  *buf,
              guint64  sector,
              gsize    sectors)
{
  for (gsize s = 0; s < sectors; s++)
    for (gsize i = 0; i < 512; i += 8)
      {
        guint64 word = ((sector + s) << 16) | i;

        memcpy (buf + s * 512 + i, &word, 8);
      }
}

/* Reads io_size sectors at a time, cycling over [start, start + count),
 * for --bench seconds. Memory and ring are set up once: nothing here
 * allocates, so the figure is the round trip through the back-end. */
static gboolean
run_bench (VhostUserDriverRing  *ring,
           guint8               *mem,
           GError              **error)
{
  gint64 t0 = g_get_monotonic_time ();
  gint64 end = t0 + (gint64) (bench * G_USEC_PER_SEC);
  gint64 now = t0;
  guint64 requests = 0;
  gint64 offset = 0;
  gdouble seconds;

  while (now < end)
    {
      gsize n = MIN (io_size, count - offset);
      guint8 status = request (ring, mem, 0, start + offset, n * 512, error);

      if (status != 0)
        {
          if (error != NULL && *error == NULL)
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "Read of sector %" G_GINT64_FORMAT " failed (status %u)",
                         start + offset, status);
          return FALSE;
        }
      requests++;
      offset += n;
      if (offset >= count)
        offset = 0;
      /* The clock is cheap next to a round trip, but not free. */
      if ((requests & 63) == 0)
        now = g_get_monotonic_time ();
    }
  now = g_get_monotonic_time ();
  seconds = (now - t0) / (gdouble) G_USEC_PER_SEC;
  g_print ("bench: %" G_GUINT64_FORMAT " reads of %d bytes in %.2f s: %.0f IOPS, %.1f MiB/s, %.1f us each\n",
           requests, io_size * 512, seconds, requests / seconds,
           requests * io_size * 512.0 / (1024.0 * 1024.0) / seconds, seconds * 1e6 / requests);
  return TRUE;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) options = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserFrontend) frontend = NULL;
  g_autoptr(VhostUserMemoryRegion) memory = NULL;
  g_autoptr(VhostUserDriverRing) ring = NULL;
  g_autoptr(GBytes) config = NULL;
  g_autofree guint8 *expected = NULL;
  guint64 capacity = 0;
  gint64 t0, last_progress;
  gboolean progress, shown = FALSE, has_flush;
  guint8 status;
  gdouble elapsed;
  guint8 *mem;

  options = g_option_context_new ("SOCKET - read and write sectors of a vhost-user-blk back-end");
  g_option_context_set_summary (options,
    "Connects to a vhost-user-blk back-end as a front-end with no guest (a driver ring in\n"
    "shared memory) and reads sectors, or with --verify writes a pattern, reads it back and\n"
    "compares. Works with any back-end: this library's example, qemu-storage-daemon, …");
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error) || argc != 2 || count <= 0 || start < 0 ||
      io_size <= 0 || io_size > MAX_IO || bench < 0)
    {
      g_printerr ("%s\n", error != NULL ? error->message : "vhost-user-blk-client: give one socket path (see --help)");
      return 2;
    }

  frontend = vhost_user_frontend_new ();
  if (!vhost_user_frontend_connect_to_path (frontend, argv[1], 5000, NULL, &error) ||
      !vhost_user_frontend_negotiate (frontend, VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_VERSION_1) |
                                      VHOST_USER_FEATURE (VIRTIO_BLK_F_FLUSH),
                                      VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK | VHOST_USER_PROTOCOL_FEATURE_CONFIG |
                                      VHOST_USER_PROTOCOL_FEATURE_CONFIGURE_MEM_SLOTS, NULL, &error))
    goto fail;

  has_flush = (vhost_user_frontend_get_acked_features (frontend) & VHOST_USER_FEATURE (VIRTIO_BLK_F_FLUSH)) != 0;
  config = vhost_user_frontend_get_config (frontend, 0, 8, NULL, NULL);
  if (config != NULL)
    memcpy (&capacity, g_bytes_get_data (config, NULL), 8);
  g_print ("connected: %s, features 0x%" G_GINT64_MODIFIER "x, capacity %" G_GUINT64_FORMAT " sectors\n",
           argv[1], vhost_user_frontend_get_acked_features (frontend), capacity);
  if (capacity != 0 && (guint64) (start + count) > capacity)
    count = capacity > (guint64) start ? (gint64) (capacity - start) : 0;

  memory = vhost_user_memory_region_new_memfd (0, MEM_SIZE, &error);
  if (memory == NULL || (ring = vhost_user_driver_ring_new (memory, 0, RING_SIZE, &error)) == NULL)
    goto fail;
  mem = vhost_user_memory_region_get_host_addr (memory);
  if (!vhost_user_frontend_add_mem_region (frontend, memory, NULL, &error) ||
      !vhost_user_frontend_set_vring_state (frontend, VHOST_USER_REQUEST_SET_VRING_NUM, 0, RING_SIZE, NULL, &error) ||
      !vhost_user_frontend_set_vring_state (frontend, VHOST_USER_REQUEST_SET_VRING_BASE, 0, 0, NULL, &error) ||
      !vhost_user_frontend_set_vring_addr (frontend, 0, 0, vhost_user_driver_ring_get_desc_addr (ring),
                                           vhost_user_driver_ring_get_used_addr (ring),
                                           vhost_user_driver_ring_get_avail_addr (ring), 0, NULL, &error) ||
      !vhost_user_frontend_set_vring_fd (frontend, VHOST_USER_REQUEST_SET_VRING_CALL, 0,
                                         vhost_user_driver_ring_get_call_fd (ring), NULL, &error) ||
      !vhost_user_frontend_set_vring_fd (frontend, VHOST_USER_REQUEST_SET_VRING_KICK, 0,
                                         vhost_user_driver_ring_get_kick_fd (ring), NULL, &error) ||
      !vhost_user_frontend_set_vring_state (frontend, VHOST_USER_REQUEST_SET_VRING_ENABLE, 0, 1, NULL, &error))
    goto fail;

  if (bench > 0)
    return run_bench (ring, mem, &error) ? EXIT_SUCCESS : (g_printerr ("vhost-user-blk-client: %s\n", error->message), EXIT_FAILURE);

  t0 = g_get_monotonic_time ();
  last_progress = t0;
  progress = isatty (STDERR_FILENO);
  expected = g_malloc (io_size * 512);
  for (int pass = verify ? 0 : 1; pass < 2; pass++)
    {
      for (gint64 done = 0; done < count; done += io_size)
        {
          guint64 sector = start + done;
          gsize n = MIN (io_size, count - done);
          if (pass == 0)
            fill_pattern (mem + DATA_OFF, sector, n);
          else
            memset (mem + DATA_OFF, 0xa5, n * 512);  /* so a read that does nothing shows */
          status = request (ring, mem, pass == 0 ? 1 : 0, sector, n * 512, &error);
          if (error != NULL)
            goto fail;
          if (status != 0)
            {
              g_printerr ("vhost-user-blk-client: %s of sector %" G_GUINT64_FORMAT " failed (status %u)\n",
                          pass == 0 ? "write" : "read", sector, status);
              return EXIT_FAILURE;
            }
          if (pass == 1 && verify)
            {
              fill_pattern (expected, sector, n);
              if (memcmp (expected, mem + DATA_OFF, n * 512) != 0)
                {
                  g_printerr ("vhost-user-blk-client: sectors from %" G_GUINT64_FORMAT " read back wrong\n", sector);
                  return EXIT_FAILURE;
                }
            }
          /* A progress line on long runs, on a terminal only. */
          if (progress && g_get_monotonic_time () - last_progress > G_USEC_PER_SEC / 4)
            {
              last_progress = g_get_monotonic_time ();
              g_printerr ("\r%s: %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT " sectors (%d%%)",
                          pass == 0 ? "writing" : "reading", done + (gint64) n, count,
                          (int) ((done + (gint64) n) * 100 / count));
              shown = TRUE;
            }
        }
      /* FLUSH only where the back-end offers it (VIRTIO_BLK_F_FLUSH) */
      if (pass == 0 && has_flush && (status = request (ring, mem, 4 /* FLUSH */, 0, 0, &error)) != 0)
        {
          if (error == NULL)
            g_set_error (&error, G_IO_ERROR, G_IO_ERROR_FAILED, "FLUSH failed (status %u)", status);
          goto fail;
        }
    }
  if (shown)
    g_printerr ("\r\033[K");

  elapsed = (g_get_monotonic_time () - t0) / 1000.0;
  g_print ("%s: %" G_GINT64_FORMAT " sectors in %.1f ms (%.1f MiB/s)\n", verify ? "verified" : "read", count,
           elapsed, (verify ? 2.0 : 1.0) * count * 512 / (1024.0 * 1024.0) / (elapsed / 1000.0));
  vhost_user_frontend_close (frontend);
  return EXIT_SUCCESS;

fail:
  g_printerr ("vhost-user-blk-client: %s\n", error != NULL ? error->message : "failed");
  return EXIT_FAILURE;
}
