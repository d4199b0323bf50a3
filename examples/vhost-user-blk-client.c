/* vhost-user-blk-client.c: read and write sectors of any vhost-user-blk back-end
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   vhost-user-blk-client [--verify | --discard | --write-zeroes] [--count N]
 *                         [--start SECTOR] [--io-size N] [--queue-depth N]
 *                         [--queues N] [--packed] [--reconnect]
 *                         [--bench SECONDS] SOCKET
 *
 * A front-end with no guest: it shares memfd memory with the back-end,
 * lays rings out in it (VhostUserDriverRing, split or --packed) and sends
 * virtio-blk requests, up to --queue-depth of them in flight at once,
 * spread over --queues rings. A VhostUserDevice gives the back-end the
 * memory and the rings, in QEMU's order. --verify writes a pattern over N sectors, reads them
 * back and compares; --discard and --write-zeroes clear the sectors and
 * check that they read back as zeros; with none of them the sectors are
 * only read. --bench reads the N sectors over and over for a while and
 * prints requests per second.
 *
 * --reconnect survives a back-end that goes away: the device keeps the
 * in-flight area (where the back-end offers INFLIGHT_SHMFD), dials again,
 * replays the whole setup (the kept area before the rings start, each
 * ring's base from shared memory) and kicks every ring; the client waits
 * on for the requests that were outstanding, which the back-end
 * resubmits from the in-flight area. Without one, the device says how
 * many requests nobody can vouch for.
 */

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <vhost-user-glib.h>

#define MAX_IO        1024   /* sectors per request, at most */
#define MAX_DEPTH     256
#define MAX_QUEUES    64
#define MAX_SEGMENTS  4      /* discard/write-zeroes segments we put in one request */
#define SLOT_CTRL     4096   /* per request: header and segments, then the status byte */
#define STATUS_AT     (SLOT_CTRL - 1)
#define PAGE          4096

#define VIRTIO_BLK_F_MQ           12
#define VIRTIO_BLK_F_FLUSH        9
#define VIRTIO_BLK_F_DISCARD      13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_T_IN           0
#define VIRTIO_BLK_T_OUT          1
#define VIRTIO_BLK_T_FLUSH        4
#define VIRTIO_BLK_T_GET_ID       8
#define VIRTIO_BLK_ID_BYTES       20
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX   29
#define TABLE_AT      (STATUS_AT + 1 - 64)   /* --indirect: a request's 3-entry table, before the status */
#define VIRTIO_BLK_T_DISCARD      11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP 1

/* config space offsets (virtio 1.2, 5.2.4) */
#define CONFIG_CAPACITY           0
#define CONFIG_NUM_QUEUES         34
#define CONFIG_MAX_DISCARD_SECTORS 36
#define CONFIG_MAX_DISCARD_SEG    40
#define CONFIG_MAX_WZ_SECTORS     48
#define CONFIG_MAX_WZ_SEG         52
#define CONFIG_READ               60

static gboolean verify;
static gboolean discard;
static gboolean write_zeroes;
static gboolean unmap;
static gint64 count = 1024;
static gint64 start;
static gint io_size = 64;
static gint queue_depth = 1;
static gint n_queues = 1;
/* request latencies: 1 µs buckets up to 10 ms; the last holds everything slower */
#define LATENCY_BUCKETS 10000

static gdouble bench;
static gboolean bench_write;
static gboolean busy_poll;
static gboolean event_idx;
static gboolean get_id;
static gboolean indirect;
static gboolean packed;
static gboolean reconnect;
static gint reconnect_timeout = 30;
static gint stall_timeout = 30;

static GOptionEntry entries[] = {
  { "verify", 'v', 0, G_OPTION_ARG_NONE, &verify, "Write a pattern, flush, read it back and compare", NULL },
  { "discard", 0, 0, G_OPTION_ARG_NONE, &discard,
    "Discard the sectors, flush, and check they read back as zeros (true of this library's device, "
    "and of a file punched by qemu-storage-daemon's discard=unmap; a device need not)", NULL },
  { "write-zeroes", 0, 0, G_OPTION_ARG_NONE, &write_zeroes,
    "Write zeroes over the sectors, flush, and check they read back as zeros", NULL },
  { "unmap", 0, 0, G_OPTION_ARG_NONE, &unmap, "With --write-zeroes, let the device unmap (punch a hole)", NULL },
  { "count", 'n', 0, G_OPTION_ARG_INT64, &count, "Sectors to go through (default 1024)", "N" },
  { "start", 's', 0, G_OPTION_ARG_INT64, &start, "First sector (default 0)", "SECTOR" },
  { "io-size", 'i', 0, G_OPTION_ARG_INT, &io_size, "Sectors per request (default 64, at most 1024)", "N" },
  { "queue-depth", 'd', 0, G_OPTION_ARG_INT, &queue_depth,
    "Requests in flight at once, over all queues (default 1, at most 256)", "N" },
  { "queues", 'q', 0, G_OPTION_ARG_INT, &n_queues,
    "Spread the requests over this many queues (default 1; more needs the back-end's MQ)", "N" },
  { "bench", 'b', 0, G_OPTION_ARG_DOUBLE, &bench,
    "Read for this many seconds, --queue-depth requests at a time, and print IOPS", "SECONDS" },
  { "bench-write", 0, 0, G_OPTION_ARG_NONE, &bench_write,
    "With --bench, write instead of read", NULL },
  { "busy-poll", 0, 0, G_OPTION_ARG_NONE, &busy_poll,
    "Spin on the used rings for answers instead of sleeping until the back-end's call", NULL },
  { "event-idx", 0, 0, G_OPTION_ARG_NONE, &event_idx,
    "Event indices (VIRTIO_RING_F_EVENT_IDX): kick and be called only as far as each side asked", NULL },
  { "indirect", 0, 0, G_OPTION_ARG_NONE, &indirect,
    "Each request's buffers in a table of its own (VIRTIO_RING_F_INDIRECT_DESC): one ring descriptor per request",
    NULL },
  { "get-id", 0, 0, G_OPTION_ARG_NONE, &get_id,
    "Ask the device for its ID string (VIRTIO_BLK_T_GET_ID) and print it first", NULL },
  { "packed", 'p', 0, G_OPTION_ARG_NONE, &packed,
    "Packed virtqueues (VIRTIO_F_RING_PACKED) instead of split ones", NULL },
  { "reconnect", 'r', 0, G_OPTION_ARG_NONE, &reconnect,
    "When the back-end goes away, wait for it to come back, replay the setup (with the in-flight "
    "area if it offers INFLIGHT_SHMFD) and carry on", NULL },
  { "reconnect-timeout", 0, 0, G_OPTION_ARG_INT, &reconnect_timeout,
    "How long to wait for the back-end to come back (default 30)", "SECONDS" },
  { "timeout", 't', 0, G_OPTION_ARG_INT, &stall_timeout,
    "Fail when no request completes for this long (default 30)", "SECONDS" },
  { NULL }
};

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

typedef enum {
  PASS_READ,
  PASS_WRITE,
  PASS_DISCARD,
  PASS_WRITE_ZEROES,
} Pass;

typedef enum {
  CHECK_NONE,
  CHECK_PATTERN,
  CHECK_ZEROS,
} Check;

/* One request's buffers in shared memory, and what it asked for. */
typedef struct {
  guint64  ctrl_off;   /* header (and segments), then the status byte at STATUS_AT */
  guint64  data_off;
  guint    queue;
  guint    head;
  guint32  type;
  guint64  sector;
  guint    sectors;
  gint64   issued;
} Slot;

typedef struct {
  VhostUserDriverRing *ring;
  guint64              offset;    /* of the ring in shared memory */
  Slot               **by_head;   /* the request each chain head belongs to */
  guint                in_flight;
  gboolean             kick;      /* added to since the last kick */
} Queue;

typedef struct {
  VhostUserFrontend     *frontend;
  VhostUserDevice       *device;
  VhostUserMemoryRegion *memory;
  guint8                *mem;
  guint                  ring_size;
  Queue                  queues[MAX_QUEUES];
  guint                  next_queue;
  Slot                  *slots;
  Slot                 **free_slots;
  guint                  n_free;
  guint                  in_flight;

  guint64                features;
  guint64                protocol_features;
  guint64                capacity;
  guint32                max_sectors;   /* per segment, for the pass's discard or write-zeroes */
  guint32                max_segments;

  guint                  reconnects;
  gint                   at_risk;       /* requests the last reconnect could not vouch for */
  gint64                 last_completion;
  guint8                *expected;
  guint64                completed;
  gint64                 latency_sum;
  /* request latencies in µs, for the median: counted, not stored */
  guint64                latency_hist[LATENCY_BUCKETS];
  gboolean               shown;
  guint                  spins;
  char                   id[VIRTIO_BLK_ID_BYTES + 1];
} Client;

static void
fill_pattern (guint8  *buf,
              guint64  sector,
              gsize    sectors)
{
  for (gsize s = 0; s < sectors; s++)
    for (gsize i = 0; i < 512; i += 8)
      {
        guint64 word = GUINT64_TO_LE (((sector + s) << 16) | i);

        memcpy (buf + s * 512 + i, &word, 8);
      }
}

static guint32
config_u32 (GBytes *config,
            gsize   offset)
{
  guint32 value = 0;

  if (config != NULL && g_bytes_get_size (config) >= offset + 4)
    memcpy (&value, (const guint8 *) g_bytes_get_data (config, NULL) + offset, 4);
  return GUINT32_FROM_LE (value);
}

static void
requests_at_risk (VhostUserDevice *device,
                  guint            ring,
                  guint            first,
                  gint             n,
                  Client          *c)
{
  if (n < 0)
    g_print ("reconnected without an in-flight area: queue %u may have lost requests\n", ring);
  else
    g_print ("reconnected without an in-flight area: %d request%s of queue %u (from available index %u) "
             "may be lost or done twice\n", n, n == 1 ? "" : "s", ring, first);
  c->at_risk += MAX (n, 1);
}

/* Hands the memory and the rings to a device, which gives them to the
 * back-end in QEMU's order (and again after each reconnect), then reads
 * what the back-end says about itself. */
static gboolean
setup (Client  *c,
       GError **error)
{
  VhostUserFrontend *fe = c->frontend;
  g_autoptr(GBytes) config = NULL;
  guint64 capacity = 0;
  guint64 want = VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_VERSION_1) |
                 VHOST_USER_FEATURE (VIRTIO_BLK_F_FLUSH) |
                 (n_queues > 1 ? VHOST_USER_FEATURE (VIRTIO_BLK_F_MQ) : 0) |
                 (discard ? VHOST_USER_FEATURE (VIRTIO_BLK_F_DISCARD) : 0) |
                 (write_zeroes ? VHOST_USER_FEATURE (VIRTIO_BLK_F_WRITE_ZEROES) : 0) |
                 (event_idx ? VHOST_USER_FEATURE (VIRTIO_RING_F_EVENT_IDX) : 0) |
                 (indirect ? VHOST_USER_FEATURE (VIRTIO_RING_F_INDIRECT_DESC) : 0);
  guint64 want_protocol = VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK | VHOST_USER_PROTOCOL_FEATURE_CONFIG |
                          VHOST_USER_PROTOCOL_FEATURE_CONFIGURE_MEM_SLOTS | VHOST_USER_PROTOCOL_FEATURE_MQ |
                          VHOST_USER_PROTOCOL_FEATURE_STATUS |
                          (reconnect ? VHOST_USER_PROTOCOL_FEATURE_INFLIGHT_SHMFD : 0);

  c->device = vhost_user_device_new (fe, n_queues);
  vhost_user_device_set_features (c->device, want);
  vhost_user_device_set_protocol_features (c->device, want_protocol);
  /* each reconnect dials for at most about --reconnect-timeout seconds */
  g_object_set (c->device, "reconnect-delay-max", 100, "reconnect-attempts", reconnect_timeout * 10, NULL);
  g_signal_connect (c->device, "requests-at-risk", G_CALLBACK (requests_at_risk), c);
  for (int i = 0; i < n_queues; i++)
    if (!vhost_user_device_set_ring (c->device, i, c->queues[i].ring, error))
      return FALSE;
  if (!vhost_user_device_add_memory (c->device, c->memory, NULL, error) ||
      !vhost_user_device_start (c->device, NULL, error))
    return FALSE;

  c->features = vhost_user_device_get_acked_features (c->device);
  c->protocol_features = vhost_user_device_get_acked_protocol_features (c->device);
  if (event_idx && !(c->features & VHOST_USER_FEATURE (VIRTIO_RING_F_EVENT_IDX)))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           "--event-idx: the back-end does not offer VIRTIO_RING_F_EVENT_IDX");
      return FALSE;
    }
  if (indirect && !(c->features & VHOST_USER_FEATURE (VIRTIO_RING_F_INDIRECT_DESC)))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           "--indirect: the back-end does not offer VIRTIO_RING_F_INDIRECT_DESC");
      return FALSE;
    }
  for (int i = 0; i < n_queues; i++)
    vhost_user_driver_ring_set_event_idx (c->queues[i].ring, event_idx);
  if (c->protocol_features & VHOST_USER_PROTOCOL_FEATURE_CONFIG)
    config = vhost_user_frontend_read_config (fe, 0, CONFIG_READ, NULL, NULL);
  if (config != NULL)
    memcpy (&capacity, g_bytes_get_data (config, NULL), 8);
  c->capacity = GUINT64_FROM_LE (capacity);

  if (n_queues > 1)
    {
      /* the device checked GET_QUEUE_NUM; the config space must agree */
      if (!(c->features & VHOST_USER_FEATURE (VIRTIO_BLK_F_MQ)) ||
          !(c->protocol_features & VHOST_USER_PROTOCOL_FEATURE_MQ))
        {
          g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FEATURE_MISMATCH,
                       "%d queues wanted; the back-end does not offer multiple queues (MQ)", n_queues);
          return FALSE;
        }
      if (config != NULL && (config_u32 (config, CONFIG_NUM_QUEUES) & 0xffff) < (guint) n_queues)
        {
          g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                       "%d queues wanted; the back-end's config space has %u", n_queues,
                       config_u32 (config, CONFIG_NUM_QUEUES) & 0xffff);
          return FALSE;
        }
    }

  if (discard || write_zeroes)
    {
      guint bit = discard ? VIRTIO_BLK_F_DISCARD : VIRTIO_BLK_F_WRITE_ZEROES;

      if (!(c->features & VHOST_USER_FEATURE (bit)))
        {
          g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FEATURE_MISMATCH,
                       "The back-end does not offer %s", discard ? "DISCARD" : "WRITE_ZEROES");
          return FALSE;
        }
      c->max_sectors = config_u32 (config, discard ? CONFIG_MAX_DISCARD_SECTORS : CONFIG_MAX_WZ_SECTORS);
      c->max_segments = config_u32 (config, discard ? CONFIG_MAX_DISCARD_SEG : CONFIG_MAX_WZ_SEG);
      if (c->max_sectors == 0 || c->max_segments == 0)
        {
          g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                       "The back-end offers %s but its config space gives no limits",
                       discard ? "DISCARD" : "WRITE_ZEROES");
          return FALSE;
        }
      c->max_segments = MIN (c->max_segments, MAX_SEGMENTS);
    }
  return TRUE;
}

/* Lays out the rings and the requests' buffers in one memfd. */
static gboolean
client_init (Client     *c,
             GError    **error)
{
  guint64 ring_bytes, data_bytes, size;

  /* a request takes up to three descriptors; every request in flight may
   * land on one queue */
  c->ring_size = 64;
  while (c->ring_size < 3u * (guint) queue_depth)
    c->ring_size *= 2;
  ring_bytes = (16 * c->ring_size + 6 + 2 * c->ring_size + 3 + 6 + 8 * c->ring_size + PAGE - 1) & ~(guint64) (PAGE - 1);
  data_bytes = ((guint64) io_size * 512 + PAGE - 1) & ~(guint64) (PAGE - 1);
  size = ring_bytes * n_queues + (SLOT_CTRL + data_bytes) * queue_depth;
  /* guest memory comes in whole MiB, as a VMM's would */
  size = (size + (1 << 20) - 1) & ~(guint64) ((1 << 20) - 1);

  c->memory = vhost_user_memory_region_new_memfd (0, size, error);
  if (c->memory == NULL)
    return FALSE;
  c->mem = vhost_user_memory_region_get_host_addr (c->memory);
  for (int i = 0; i < n_queues; i++)
    {
      Queue *q = &c->queues[i];

      q->offset = ring_bytes * i;
      q->ring = packed ? vhost_user_driver_ring_new_packed (c->memory, q->offset, c->ring_size, error) :
                         vhost_user_driver_ring_new (c->memory, q->offset, c->ring_size, error);
      if (q->ring == NULL)
        return FALSE;
      q->by_head = g_new0 (Slot *, c->ring_size);
    }
  c->slots = g_new0 (Slot, queue_depth);
  c->free_slots = g_new (Slot *, queue_depth);
  for (int i = 0; i < queue_depth; i++)
    {
      c->slots[i].ctrl_off = ring_bytes * n_queues + (SLOT_CTRL + data_bytes) * i;
      c->slots[i].data_off = c->slots[i].ctrl_off + SLOT_CTRL;
      c->free_slots[c->n_free++] = &c->slots[queue_depth - 1 - i];
    }
  c->expected = g_malloc (io_size * 512);
  return TRUE;
}

static void
client_clear (Client *c)
{
  for (int i = 0; i < n_queues; i++)
    {
      g_clear_object (&c->queues[i].ring);
      g_clear_pointer (&c->queues[i].by_head, g_free);
    }
  g_clear_pointer (&c->slots, g_free);
  g_clear_pointer (&c->free_slots, g_free);
  g_clear_pointer (&c->expected, g_free);
  g_clear_object (&c->device);
  g_clear_pointer (&c->memory, vhost_user_memory_region_unref);
  g_clear_object (&c->frontend);
}

/* Puts one request on the next queue with room (round robin). The data
 * of a write is in place already. */
static gboolean
issue (Client   *c,
       guint32   type,
       guint64   sector,
       guint     sectors,
       GError  **error)
{
  Slot *slot = c->free_slots[--c->n_free];
  BlkHeader header = { GUINT32_TO_LE (type), 0, GUINT64_TO_LE (sector) };
  guint64 out_off[2] = { slot->ctrl_off, slot->data_off };
  guint32 out_len[2] = { sizeof header, sectors * 512 };
  guint64 in_off[2] = { slot->data_off, slot->ctrl_off + STATUS_AT };
  guint32 in_len[2] = { sectors * 512, 1 };
  guint n_out = 1, n_in = 1;
  const guint64 *ins = in_off + 1;
  const guint32 *in_lens = in_len + 1;
  Queue *q = NULL;

  memcpy (c->mem + slot->ctrl_off, &header, sizeof header);
  c->mem[slot->ctrl_off + STATUS_AT] = 0xff;  /* so a status never written shows */
  switch (type)
    {
    case VIRTIO_BLK_T_IN:
      ins = in_off;
      in_lens = in_len;
      n_in = 2;
      break;
    case VIRTIO_BLK_T_OUT:
      n_out = 2;
      break;
    case VIRTIO_BLK_T_GET_ID:
      /* the ID where the data goes, then the status */
      in_len[0] = VIRTIO_BLK_ID_BYTES;
      ins = in_off;
      in_lens = in_len;
      n_in = 2;
      break;
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES:
      {
        /* the segments follow the header in the same buffer: as many as
         * the device takes (run_pass() keeps each within its limit) */
        guint n = MIN (c->max_segments, sectors);
        guint64 s = sector;

        for (guint i = 0; i < n; i++)
          {
            guint32 len = sectors / n + (i < sectors % n ? 1 : 0);
            BlkSegment seg = { GUINT64_TO_LE (s), GUINT32_TO_LE (len),
                               GUINT32_TO_LE (type == VIRTIO_BLK_T_WRITE_ZEROES && unmap ?
                                              VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0) };

            memcpy (c->mem + slot->ctrl_off + sizeof header + i * sizeof seg, &seg, sizeof seg);
            s += len;
          }
        out_len[0] = sizeof header + n * sizeof (BlkSegment);
      }
      break;
    default:
      break;
    }

  for (int tried = 0; tried < n_queues && q == NULL; tried++)
    {
      Queue *candidate = &c->queues[c->next_queue];

      c->next_queue = (c->next_queue + 1) % n_queues;
      if (vhost_user_driver_ring_get_free (candidate->ring) >= (indirect ? 1 : n_out + n_in))
        q = candidate;
    }
  /* the rings hold three descriptors per request in flight: never */
  g_assert (q != NULL);
  if (indirect ? !vhost_user_driver_ring_add_indirect (q->ring, slot->ctrl_off + TABLE_AT, out_off, out_len, n_out,
                                                        ins, in_lens, n_in, &slot->head, error)
               : !vhost_user_driver_ring_add (q->ring, out_off, out_len, n_out, ins, in_lens, n_in, &slot->head,
                                              error))
    {
      c->n_free++;
      return FALSE;
    }
  slot->queue = q - c->queues;
  slot->type = type;
  slot->sector = sector;
  slot->sectors = sectors;
  slot->issued = g_get_monotonic_time ();
  q->by_head[slot->head] = slot;
  q->in_flight++;
  q->kick = TRUE;
  c->in_flight++;
  return TRUE;
}

static gboolean
kick (Client  *c,
      GError **error)
{
  for (int i = 0; i < n_queues; i++)
    if (c->queues[i].kick)
      {
        c->queues[i].kick = FALSE;
        if (!vhost_user_driver_ring_kick (c->queues[i].ring, error))
          return FALSE;
      }
  return TRUE;
}

static const char *
type_name (guint32 type)
{
  switch (type)
    {
    case VIRTIO_BLK_T_IN: return "read";
    case VIRTIO_BLK_T_OUT: return "write";
    case VIRTIO_BLK_T_FLUSH: return "flush";
    case VIRTIO_BLK_T_GET_ID: return "get-id";
    case VIRTIO_BLK_T_DISCARD: return "discard";
    case VIRTIO_BLK_T_WRITE_ZEROES: return "write-zeroes";
    default: return "request";
    }
}

/* One answer: it must be for a request in flight, say it wrote what a
 * read needs, carry a good status, and (when checking) the right data. */
static gboolean
complete (Client  *c,
          Queue   *q,
          guint    head,
          guint    len,
          Check    check,
          GError **error)
{
  Slot *slot = head < c->ring_size ? q->by_head[head] : NULL;
  guint8 status;

  if (slot == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "The back-end answered descriptor %u of queue %u, which is not in flight", head,
                   (guint) (q - c->queues));
      return FALSE;
    }
  q->by_head[head] = NULL;
  q->in_flight--;
  c->in_flight--;
  c->free_slots[c->n_free++] = slot;
  c->completed++;
  c->last_completion = g_get_monotonic_time ();
  c->latency_sum += c->last_completion - slot->issued;
  c->latency_hist[MIN (c->last_completion - slot->issued, LATENCY_BUCKETS - 1)]++;

  status = c->mem[slot->ctrl_off + STATUS_AT];
  if (status != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s of sector %" G_GUINT64_FORMAT " failed (status %u)",
                   type_name (slot->type), slot->sector, status);
      return FALSE;
    }
  if (slot->type == VIRTIO_BLK_T_GET_ID)
    {
      /* NUL-padded, and without a NUL when it fills the 20 bytes */
      memcpy (c->id, c->mem + slot->data_off, VIRTIO_BLK_ID_BYTES);
      c->id[VIRTIO_BLK_ID_BYTES] = '\0';
      return TRUE;
    }
  if (slot->type != VIRTIO_BLK_T_IN)
    return TRUE;
  if (len < slot->sectors * 512 + 1)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "The back-end answered a read of %u bytes with %u", slot->sectors * 512 + 1, len);
      return FALSE;
    }
  if (check == CHECK_NONE)
    return TRUE;
  if (check == CHECK_PATTERN)
    fill_pattern (c->expected, slot->sector, slot->sectors);
  else
    memset (c->expected, 0, slot->sectors * 512);
  if (memcmp (c->expected, c->mem + slot->data_off, slot->sectors * 512) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "sectors from %" G_GUINT64_FORMAT " read back wrong%s",
                   slot->sector, check == CHECK_ZEROS ? " (not zeros)" : "");
      return FALSE;
    }
  return TRUE;
}

static gboolean replay (Client *c, GError **error);

/* Says which requests are still out, as far as a line allows. */
static void
describe_in_flight (Client  *c,
                    GString *out)
{
  guint shown = 0;

  for (int i = 0; i < queue_depth; i++)
    {
      Slot *s = &c->slots[i];

      if (c->queues[s->queue].by_head[s->head] != s)
        continue;
      if (shown++ < 8)
        g_string_append_printf (out, "%s %s@%" G_GUINT64_FORMAT " (queue %u)", shown > 1 ? "," : "",
                                type_name (s->type), s->sector, s->queue);
    }
  if (shown > 8)
    g_string_append (out, ", …");
}

/* Waits until at least one request completes, and takes every answer
 * there is. Meanwhile watches the connection: a back-end that went away
 * is waited for and given the setup again (--reconnect), or is an error. */
static gboolean
reap (Client  *c,
      Check    check,
      GError **error)
{
  struct pollfd pfd[MAX_QUEUES];

  for (;;)
    {
      guint got = 0;
      int ready;

      for (int i = 0; i < n_queues; i++)
        {
          Queue *q = &c->queues[i];
          guint head, len;

          while (q->in_flight > 0 && vhost_user_driver_ring_get_used (q->ring, &head, &len))
            {
              if (!complete (c, q, head, len, check, error))
                return FALSE;
              got++;
            }
        }
      if (got > 0 || c->in_flight == 0)
        return TRUE;
      /* a spinning driver looks again at once, and at the connection now
       * and then (every 4096 looks) */
      if (busy_poll && (++c->spins & 4095) != 0)
        continue;

      /* The back-end signals a call eventfd when it uses buffers (no event
       * idx is negotiated, so it always does); an eventfd stays readable
       * until drained, so a signal between the look above and poll() is
       * not lost. */
      for (int i = 0; i < n_queues; i++)
        pfd[i] = (struct pollfd) { vhost_user_driver_ring_get_call_fd (c->queues[i].ring), POLLIN, 0 };
      ready = poll (pfd, n_queues, 100);
      if (ready < 0 && errno != EINTR)
        {
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "poll: %s", g_strerror (errno));
          return FALSE;
        }
      for (int i = 0; i < n_queues && ready > 0; i++)
        if (pfd[i].revents & POLLIN)
          vhost_user_driver_ring_clear_call (c->queues[i].ring);
      if (ready != 0)
        continue;

      /* A quiet moment: is the back-end still there? Its hang-up is seen
       * by the front-end's socket watch, which runs in its context. */
      while (g_main_context_iteration (vhost_user_frontend_get_main_context (c->frontend), FALSE))
        ;
      if (!vhost_user_frontend_get_connected (c->frontend))
        {
          if (!reconnect)
            {
              g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_BROKEN,
                           "The back-end went away with %u requests in flight (try --reconnect)", c->in_flight);
              return FALSE;
            }
          if (!replay (c, error))
            return FALSE;
          continue;
        }
      if (g_get_monotonic_time () - c->last_completion > (gint64) stall_timeout * G_USEC_PER_SEC)
        {
          g_autoptr(GString) what = g_string_new (NULL);

          describe_in_flight (c, what);
          g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_BROKEN,
                       "%u requests never completed (nothing for %d s):%s%s", c->in_flight, stall_timeout,
                       what->str, c->at_risk > 0 ?
                       " — the back-end offers no INFLIGHT_SHMFD, so what it had taken was lost with it" : "");
          return FALSE;
        }
    }
}

/* The back-end went away: the device dials until it is back, gives it
 * the setup again and kicks every ring. */
static gboolean
replay (Client  *c,
        GError **error)
{
  g_autoptr(GError) local_error = NULL;
  gboolean inflight = (c->protocol_features & VHOST_USER_PROTOCOL_FEATURE_INFLIGHT_SHMFD) != 0;

  g_print ("disconnected: %u requests in flight; reconnecting\n", c->in_flight);
  if (!vhost_user_device_reconnect (c->device, NULL, &local_error))
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  "The back-end did not come back within %d s: ", reconnect_timeout);
      return FALSE;
    }
  c->reconnects++;
  c->last_completion = g_get_monotonic_time ();
  g_print ("reconnected: setup replayed%s, %u requests in flight\n",
           inflight ? " with the in-flight area" : " (no in-flight area offered)", c->in_flight);
  return TRUE;
}

static void
show_progress (Client     *c,
               const char *what,
               gint64      done)
{
  static gint64 last;

  /* on a terminal only, four times a second at most */
  if (!isatty (STDERR_FILENO) || g_get_monotonic_time () - last < G_USEC_PER_SEC / 4)
    return;
  last = g_get_monotonic_time ();
  g_printerr ("\r%s: %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT " sectors (%d%%)", what, done, count,
              (int) (done * 100 / count));
  c->shown = TRUE;
}

/* Goes over [start, start + count) io_size sectors at a time, with up to
 * queue_depth requests in flight, and waits for all of them. */
static gboolean
run_pass (Client  *c,
          Pass     pass,
          Check    check,
          GError **error)
{
  static const guint32 types[] = { VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES };
  static const char *names[] = { "reading", "writing", "discarding", "writing zeroes" };
  gint64 issued = 0;
  guint64 base = c->completed;
  /* a discard or write-zeroes request holds max_segments of max_sectors */
  guint64 most = pass == PASS_DISCARD || pass == PASS_WRITE_ZEROES ?
                 MIN ((guint64) io_size, (guint64) c->max_sectors * c->max_segments) : (guint64) io_size;

  c->last_completion = g_get_monotonic_time ();
  while (issued < count || c->in_flight > 0)
    {
      while (issued < count && c->n_free > 0)
        {
          guint64 sector = start + issued;
          guint n = MIN (most, (guint64) (count - issued));
          Slot *slot = c->free_slots[c->n_free - 1];

          if (pass == PASS_WRITE)
            fill_pattern (c->mem + slot->data_off, sector, n);
          else if (pass == PASS_READ)
            memset (c->mem + slot->data_off, 0xa5, n * 512);  /* so a read that does nothing shows */
          if (!issue (c, types[pass], sector, n, error))
            return FALSE;
          issued += n;
        }
      if (!kick (c, error) || !reap (c, check, error))
        return FALSE;
      show_progress (c, names[pass], MIN (issued, (gint64) (c->completed - base) * io_size));
    }
  return TRUE;
}

/* GET_ID, alone in flight; the answer lands in c->id. */
static gboolean
read_id (Client  *c,
         GError **error)
{
  if (!issue (c, VIRTIO_BLK_T_GET_ID, 0, 0, error) || !kick (c, error))
    return FALSE;
  while (c->in_flight > 0)
    if (!reap (c, CHECK_NONE, error))
      return FALSE;
  return TRUE;
}

/* FLUSH only where the back-end offers it (VIRTIO_BLK_F_FLUSH), once
 * everything before it completed. */
static gboolean
flush (Client  *c,
       GError **error)
{
  if (!(c->features & VHOST_USER_FEATURE (VIRTIO_BLK_F_FLUSH)))
    return TRUE;
  if (!issue (c, VIRTIO_BLK_T_FLUSH, 0, 0, error) || !kick (c, error))
    return FALSE;
  while (c->in_flight > 0)
    if (!reap (c, CHECK_NONE, error))
      return FALSE;
  return TRUE;
}

/* Reads io_size sectors at a time, cycling over [start, start + count),
 * for --bench seconds with queue_depth in flight. Memory and rings are
 * set up once: nothing here allocates, so the figure is the back-end's. */
static gboolean
run_bench (Client  *c,
           GError **error)
{
  gint64 t0 = g_get_monotonic_time ();
  gint64 end = t0 + (gint64) (bench * G_USEC_PER_SEC);
  gint64 offset = 0;
  gdouble seconds;
  guint64 loops = 0, seen;
  guint p50 = 0;

  gboolean more = TRUE;

  c->last_completion = t0;
  while (more || c->in_flight > 0)
    {
      /* The clock is cheap next to a round trip, but not free. */
      if (more && (++loops & 15) == 0)
        more = g_get_monotonic_time () < end;
      while (more && c->n_free > 0)
        {
          gsize n = MIN (io_size, count - offset);

          if (!issue (c, bench_write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, start + offset, n, error))
            return FALSE;
          offset += n;
          if (offset >= count)
            offset = 0;
        }
      if (!kick (c, error) || !reap (c, CHECK_NONE, error))
        return FALSE;
    }
  seconds = (g_get_monotonic_time () - t0) / (gdouble) G_USEC_PER_SEC;
  for (seen = c->latency_hist[0]; p50 < LATENCY_BUCKETS - 1 && seen * 2 < c->completed; )
    seen += c->latency_hist[++p50];
  g_print ("bench: %" G_GUINT64_FORMAT " %s of %d bytes in %.2f s: %.0f IOPS, %.1f MiB/s, %.1f us each, "
           "p50 %u us (queue depth %d, %d queue%s%s)\n",
           c->completed, bench_write ? "writes" : "reads", io_size * 512, seconds, c->completed / seconds,
           c->completed * io_size * 512.0 / (1024.0 * 1024.0) / seconds,
           (gdouble) c->latency_sum / MAX (c->completed, 1), p50, queue_depth, n_queues, n_queues > 1 ? "s" : "",
           busy_poll ? ", busy-polling" : "");
  return TRUE;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) options = NULL;
  g_autoptr(GError) error = NULL;
  Client c = { 0 };
  gint64 t0;
  gdouble elapsed;
  Pass first;
  const char *done;
  g_autofree char *reconnected = NULL;
  int modes;

  options = g_option_context_new ("SOCKET - read and write sectors of a vhost-user-blk back-end");
  g_option_context_set_summary (options,
    "Connects to a vhost-user-blk back-end as a front-end with no guest (driver rings in\n"
    "shared memory) and reads sectors; or with --verify writes a pattern, reads it back and\n"
    "compares; or with --discard / --write-zeroes clears them and checks they read as zeros.\n"
    "Works with any back-end: this library's example, qemu-storage-daemon, …");
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error) || argc != 2 || count <= 0 || start < 0 ||
      io_size <= 0 || io_size > MAX_IO || bench < 0 || queue_depth < 1 || queue_depth > MAX_DEPTH ||
      n_queues < 1 || n_queues > MAX_QUEUES || reconnect_timeout < 1 || stall_timeout < 1 ||
      (modes = !!verify + !!discard + !!write_zeroes) > 1 || (bench > 0 && modes > 0) || (unmap && !write_zeroes) ||
      (bench_write && bench <= 0))
    {
      g_printerr ("%s\n", error != NULL ? error->message :
                  "vhost-user-blk-client: give one socket path, at most one of --verify, --discard, "
                  "--write-zeroes (--unmap only with --write-zeroes), none with --bench, --bench-write only "
                  "with --bench, and sizes "
                  "in range (see --help)");
      return 2;
    }

  if (!client_init (&c, &error))
    goto fail;
  c.frontend = vhost_user_frontend_new ();
  if (!vhost_user_frontend_connect_to_path (c.frontend, argv[1], 5000, NULL, &error) || !setup (&c, &error))
    goto fail;
  g_print ("connected: %s, features 0x%" G_GINT64_MODIFIER "x, capacity %" G_GUINT64_FORMAT " sectors, "
           "%d queue%s of %u, %s rings%s, queue depth %d%s\n",
           argv[1], c.features, c.capacity, n_queues, n_queues > 1 ? "s" : "", c.ring_size,
           packed ? "packed" : "split", event_idx ? " with event indices" : "", queue_depth,
           c.protocol_features & VHOST_USER_PROTOCOL_FEATURE_INFLIGHT_SHMFD ? ", in-flight area kept" : "");
  if (get_id)
    {
      if (!read_id (&c, &error))
        goto fail;
      g_print ("id: %s\n", c.id);
    }
  if (c.capacity != 0 && (guint64) (start + count) > c.capacity)
    count = c.capacity > (guint64) start ? (gint64) (c.capacity - start) : 0;
  if (count == 0)
    {
      g_set_error (&error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "Sector %" G_GINT64_FORMAT " is past the end",
                   start);
      goto fail;
    }

  if (bench > 0)
    {
      if (!run_bench (&c, &error))
        goto fail;
      client_clear (&c);
      return EXIT_SUCCESS;
    }

  t0 = g_get_monotonic_time ();
  first = verify ? PASS_WRITE : discard ? PASS_DISCARD : write_zeroes ? PASS_WRITE_ZEROES : PASS_READ;
  if (first != PASS_READ && (!run_pass (&c, first, CHECK_NONE, &error) || !flush (&c, &error)))
    goto fail;
  if (!run_pass (&c, PASS_READ, verify ? CHECK_PATTERN : first != PASS_READ ? CHECK_ZEROS : CHECK_NONE, &error))
    goto fail;
  if (c.shown)
    g_printerr ("\r\033[K");

  elapsed = (g_get_monotonic_time () - t0) / 1000.0;
  if (c.reconnects > 0)
    reconnected = g_strdup_printf (", %u reconnect%s", c.reconnects, c.reconnects > 1 ? "s" : "");
  done = verify ? "verified" : discard ? "discarded and read back zeros" :
         write_zeroes ? "zeroed and read back zeros" : "read";
  g_print ("%s: %" G_GINT64_FORMAT " sectors in %.1f ms (%.1f MiB/s), %" G_GUINT64_FORMAT " requests%s\n", done,
           count, elapsed, (first != PASS_READ ? 2.0 : 1.0) * count * 512 / (1024.0 * 1024.0) / (elapsed / 1000.0),
           c.completed, reconnected != NULL ? reconnected : "");
  vhost_user_device_close (c.device);
  client_clear (&c);
  return EXIT_SUCCESS;

fail:
  if (c.shown)
    g_printerr ("\r\033[K");
  g_printerr ("vhost-user-blk-client: %s\n", error != NULL ? error->message : "failed");
  client_clear (&c);
  return EXIT_FAILURE;
}
