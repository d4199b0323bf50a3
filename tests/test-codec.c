/* test-codec.c: the message codec against every row of the request table
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The codec is pure (bytes and fds in, a message or an error out), so it
 * is driven directly: every request of both channels, and each form of
 * its reply, is built, serialized and parsed back, then broken one
 * property at a time. Field values derive from a per-message seed, so a
 * field read from the wrong offset, or left from another message, cannot
 * match by accident.
 */

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vhost-user-glib.h>

#include "vhost-user-message-private.h"
#include "test-util.h"

#define MAIN        VHOST_USER_CHANNEL_MAIN
#define BACKEND     VHOST_USER_CHANNEL_BACKEND
#define REPLY       VHOST_USER_FLAG_REPLY
#define NOFD        VHOST_USER_VRING_NOFD_MASK
#define XEN         ((guint64) VHOST_USER_PROTOCOL_FEATURE_XEN_MMAP)
#define INVALID     VHOST_USER_ERROR_INVALID_MESSAGE
#define BAD_FDS     VHOST_USER_ERROR_INCORRECT_FDS
#define ACCEPTED    (-1)
#define REQ(name)   VHOST_USER_REQUEST_##name
#define BREQ(name)  VHOST_USER_BACKEND_REQUEST_##name
#define MAX_MESSAGE (VHOST_USER_HEADER_SIZE + VHOST_USER_MAX_PAYLOAD)
/* odd on purpose: no payload length may be assumed a multiple of 8 */
#define OPAQUE_LEN  13
#define CONFIG_LEN  21

/* One message a row defines: its request, or one form of its reply. */
typedef struct {
  VhostUserChannel            channel;
  const VhostUserRequestInfo *info;
  const VhostUserPayloadSpec *spec;
  gboolean                    is_reply;
} Direction;

typedef struct {
  VhostUserChannel            channel;
  const VhostUserRequestInfo *info;
  void                      (*func) (const Direction *d);
} Row;

/* Every payload layout, as the wire structs lay it out. */
typedef union {
  guint64                          u64;
  VhostUserWireVringState          state;
  VhostUserWireVringAddr           addr;
  struct {
    VhostUserWireMemoryTableHeader header;
    VhostUserWireMemoryRegion      regions[VHOST_USER_MAX_MEM_TABLE_REGIONS];
  } table;
  VhostUserWireSingleRegion        single;
  VhostUserWireLog                 log;
  VhostUserWireIotlb               iotlb;
  struct {
    VhostUserWireConfigHeader      header;
    guint8                         data[CONFIG_LEN];
  } config;
  VhostUserWireVringArea           area;
  VhostUserWireInflight            inflight;
  VhostUserWireDeviceStateTransfer transfer;
  VhostUserWireShmemMap            map;
  VhostUserWireShmemConfig         shmem;
  guint8                           bytes[VHOST_USER_MAX_PAYLOAD];
} Payload;

static const VhostUserPayloadSpec ack_spec = { VHOST_USER_PAYLOAD_U64, 8, 8, 0, 0 };

static guint
row_directions (const Row *row,
                Direction  dirs[3])
{
  const VhostUserRequestInfo *info = row->info;
  guint n = 0;

  dirs[n++] = (Direction) { row->channel, info, &info->request, FALSE };
  if (info->reply == VHOST_USER_REPLY_ACK)
    dirs[n++] = (Direction) { row->channel, info, &ack_spec, TRUE };
  /* for ACK rows: the postcopy replies of SET_MEM_TABLE and ADD_MEM_REG */
  if (info->reply == VHOST_USER_REPLY_ALWAYS || info->reply_payload.kind != VHOST_USER_PAYLOAD_NONE)
    dirs[n++] = (Direction) { row->channel, info, &info->reply_payload, TRUE };
  return n;
}

static void
announce (const Direction *d,
          const char      *what)
{
  g_test_message ("%s%s%s", d->info->name,
                  !d->is_reply ? "" : d->spec == &ack_spec ? " ack" : " reply", what);
}

static guint64
direction_seed (const Direction *d,
                gboolean         with_fds)
{
  return (guint64) d->channel << 12 | (guint64) d->info->number << 4 |
         (guint64) (d->spec == &ack_spec) << 2 | (guint64) d->is_reply << 1 | (guint64) with_fds;
}

static guint64
field (guint64 seed,
       guint   i)
{
  return G_GUINT64_CONSTANT (0xa5a5000000000000) | seed << 16 | i;
}

/* distinct bytes over any 256 in a row: 7 is odd */
static void
fill_bytes (guint8  *buf,
            gsize    len,
            guint64  seed)
{
  for (gsize i = 0; i < len; i++)
    buf[i] = (guint8) (seed * 31 + i * 7 + 1);
}

static guint32
direction_flags (const Direction *d)
{
  if (d->is_reply)
    return VHOST_USER_PROTOCOL_VERSION | REPLY;
  /* requests of ACK rows ask for their ack, as QEMU sends them */
  if (d->info->reply == VHOST_USER_REPLY_ACK)
    return VHOST_USER_PROTOCOL_VERSION | VHOST_USER_FLAG_NEED_REPLY;
  return VHOST_USER_PROTOCOL_VERSION;
}

static void
write_u32 (guint8  *buf,
           gsize    offset,
           guint32  value)
{
  memcpy (buf + offset, &value, sizeof value);
}

static guint32
read_u32 (const guint8 *buf,
          gsize         offset)
{
  guint32 value;

  memcpy (&value, buf + offset, sizeof value);
  return value;
}

/* header and payload by hand, for what the setters refuse to make */
static gsize
raw_message (guint8        *buf,
             guint32        request,
             guint32        flags,
             gconstpointer  payload,
             guint32        size)
{
  write_u32 (buf, 0, request);
  write_u32 (buf, 4, VHOST_USER_PROTOCOL_VERSION | flags);
  write_u32 (buf, 8, size);
  memcpy (buf + VHOST_USER_HEADER_SIZE, payload, size);
  return VHOST_USER_HEADER_SIZE + size;
}

/* The payload of a valid message for @d; returns its size. Where the
 * codec reads no field, the payload is a byte pattern: a field taken from
 * the wrong offset, or from another message, differs. */
static gsize
expected_payload (const Direction *d,
                  gboolean         with_fds,
                  Payload         *p)
{
  guint64 seed = direction_seed (d, with_fds);
  gsize size = d->spec->min_size;
  guint n;

  memset (p, 0, sizeof *p);
  switch (d->spec->kind)
    {
    case VHOST_USER_PAYLOAD_VRING_FD:
    case VHOST_USER_PAYLOAD_VRING_AREA:
      fill_bytes (p->bytes, size, seed);
      /* a ring index and the no-fd bit, nothing else */
      p->u64 = (seed & VHOST_USER_VRING_INDEX_MASK) | (with_fds ? 0 : NOFD);
      return size;
    case VHOST_USER_PAYLOAD_MEM_TABLE:
      /* a request brings one fd per region, max_fds of them; the postcopy
       * reply has regions but no fds */
      n = d->is_reply ? 3 : with_fds ? d->spec->max_fds : 0;
      p->table.header.nregions = n;
      fill_bytes ((guint8 *) p->table.regions, n * sizeof (VhostUserWireMemoryRegion), seed);
      return sizeof p->table.header + n * sizeof (VhostUserWireMemoryRegion);
    case VHOST_USER_PAYLOAD_CONFIG:
      p->config.header = (VhostUserWireConfigHeader) { (guint32) field (seed, 0), CONFIG_LEN,
                                                       (guint32) field (seed, 1) };
      fill_bytes (p->config.data, CONFIG_LEN, seed);
      return sizeof p->config.header + CONFIG_LEN;
    case VHOST_USER_PAYLOAD_SHMEM_CONFIG:
      p->shmem.nregions = 3;
      p->shmem.memory_sizes[0] = field (seed, 1);
      p->shmem.memory_sizes[7] = field (seed, 2);
      p->shmem.memory_sizes[VHOST_USER_MAX_SHMEM_REGIONS - 1] = field (seed, 3);
      return sizeof p->shmem;
    case VHOST_USER_PAYLOAD_OPAQUE:
      size = CLAMP (OPAQUE_LEN, d->spec->min_size, d->spec->max_size);
      break;
    default:
      break;
    }
  fill_bytes (p->bytes, size, seed);
  return size;
}

/* A valid message for @d, written with the typed setter where there is
 * one, which must then produce the expected layout. */
static void
build_message (VhostUserMessage *msg,
               const Direction  *d,
               gboolean          with_fds,
               Payload          *p)
{
  gsize size = expected_payload (d, with_fds, p);
  guint n_fds = with_fds ? d->spec->max_fds : 0;

  vhost_user_message_init (msg, d->info->number, direction_flags (d));
  switch (d->spec->kind)
    {
    case VHOST_USER_PAYLOAD_U64:
      vhost_user_message_set_u64 (msg, p->u64);
      break;
    case VHOST_USER_PAYLOAD_VRING_STATE:
      vhost_user_message_set_vring_state (msg, p->state.index, p->state.num);
      break;
    case VHOST_USER_PAYLOAD_VRING_FD:
      vhost_user_message_set_vring_fd (msg, p->u64 & VHOST_USER_VRING_INDEX_MASK,
                                       with_fds ? test_memfd (4096) : -1);
      n_fds = 0;
      break;
    case VHOST_USER_PAYLOAD_CONFIG:
      g_assert_true (vhost_user_message_set_config (msg, p->config.header.offset, p->config.header.flags,
                                                    p->config.data, CONFIG_LEN));
      break;
    default:
      g_assert_true (vhost_user_message_set_payload (msg, p, size));
      break;
    }
  g_assert_cmpmem (msg->payload, msg->header.size, p, size);
  for (guint i = 0; i < n_fds; i++)
    g_assert_true (vhost_user_message_add_fd (msg, test_memfd (4096)));
}

/* Reads @msg with the typed getter of @kind into @out, scalar results put
 * back in their wire struct so that it compares whole. */
static gboolean
get_typed (const VhostUserMessage *msg,
           VhostUserPayloadKind    kind,
           Payload                *out)
{
  VhostUserWireXenMemoryRegion region;
  guint index = 0;
  gboolean no_fd = FALSE, ok;
  const guint8 *data = NULL;

  memset (out, 0, sizeof *out);
  switch ((int) kind)
    {
    case VHOST_USER_PAYLOAD_U64:
      return vhost_user_message_get_u64 (msg, &out->u64);
    case VHOST_USER_PAYLOAD_VRING_STATE:
      return vhost_user_message_get_vring_state (msg, &out->state.index, &out->state.num);
    case VHOST_USER_PAYLOAD_VRING_ADDR:
      return vhost_user_message_get_vring_addr (msg, &out->addr);
    case VHOST_USER_PAYLOAD_VRING_FD:
      ok = vhost_user_message_get_vring_fd (msg, &index, &no_fd);
      out->u64 = index | (no_fd ? NOFD : 0);
      return ok;
    case VHOST_USER_PAYLOAD_VRING_AREA:
      ok = vhost_user_message_get_vring_area (msg, &index, &no_fd, &out->area.size, &out->area.offset);
      out->area.u64 = index | (no_fd ? NOFD : 0);
      return ok;
    case VHOST_USER_PAYLOAD_SINGLE_REGION:
      return vhost_user_message_get_single_region (msg, &region);
    case VHOST_USER_PAYLOAD_LOG:
      return vhost_user_message_get_log (msg, &out->log);
    case VHOST_USER_PAYLOAD_IOTLB:
      return vhost_user_message_get_iotlb (msg, &out->iotlb);
    case VHOST_USER_PAYLOAD_CONFIG:
      ok = vhost_user_message_get_config (msg, &out->config.header.offset, &out->config.header.flags,
                                          &data, &out->config.header.size);
      if (ok)
        memcpy (out->config.data, data, MIN (out->config.header.size, CONFIG_LEN));
      return ok;
    case VHOST_USER_PAYLOAD_INFLIGHT:
      return vhost_user_message_get_inflight (msg, &out->inflight);
    case VHOST_USER_PAYLOAD_UUID:
      return vhost_user_message_get_uuid (msg, out->bytes);
    case VHOST_USER_PAYLOAD_DEVICE_STATE:
      return vhost_user_message_get_device_state (msg, &out->transfer.direction, &out->transfer.phase);
    case VHOST_USER_PAYLOAD_SHMEM_MAP:
      return vhost_user_message_get_shmem_map (msg, &out->map);
    case VHOST_USER_PAYLOAD_SHMEM_CONFIG:
      return vhost_user_message_get_shmem_config (msg, &out->shmem);
    default:
      /* no getter, or a size it does not pin (the table: see
       * test_getters_mem_table_stride) */
      return FALSE;
    }
}

/* Regions come out of the getters in the Xen layout, Xen fields zeroed
 * (@got is poisoned first, so the getter must do it). */
static void
check_region (const VhostUserWireXenMemoryRegion *got,
              const VhostUserWireMemoryRegion    *want)
{
  g_assert_cmpmem (got, sizeof *want, want, sizeof *want);
  g_assert_cmphex (got->xen_mmap_flags, ==, 0);
  g_assert_cmphex (got->domid, ==, 0);
}

/* The typed getters return what expected_payload() made. */
static void
check_payload (const VhostUserMessage *msg,
               const Direction        *d,
               const Payload          *want)
{
  Payload got;
  VhostUserWireXenMemoryRegion region;
  guint n = want->table.header.nregions;

  switch (d->spec->kind)
    {
    case VHOST_USER_PAYLOAD_NONE:
    case VHOST_USER_PAYLOAD_OPAQUE:
      break;  /* no getter: the payload bytes are all there is */
    case VHOST_USER_PAYLOAD_MEM_TABLE:
      g_assert_cmpuint (vhost_user_message_get_mem_table_n_regions (msg), ==, n);
      for (guint i = 0; i < n; i++)
        {
          memset (&region, 0xff, sizeof region);
          g_assert_true (vhost_user_message_get_mem_table_region (msg, i, &region));
          check_region (&region, &want->table.regions[i]);
        }
      g_assert_false (vhost_user_message_get_mem_table_region (msg, n, &region));
      break;
    case VHOST_USER_PAYLOAD_SINGLE_REGION:
      memset (&region, 0xff, sizeof region);
      g_assert_true (vhost_user_message_get_single_region (msg, &region));
      check_region (&region, &want->single.region);
      break;
    default:
      g_assert_true (get_typed (msg, d->spec->kind, &got));
      g_assert_cmpmem (&got, msg->header.size, want, msg->header.size);
      break;
    }
}

static void
assert_same_file (int a,
                  int b)
{
  struct stat sa, sb;

  g_assert_true (test_fd_is_open (a));
  g_assert_cmpint (fstat (a, &sa), ==, 0);
  g_assert_cmpint (fstat (b, &sb), ==, 0);
  g_assert_cmpuint (sa.st_dev, ==, sb.st_dev);
  g_assert_cmpuint (sa.st_ino, ==, sb.st_ino);
}

static void
round_trip_one (const Direction *d,
                gboolean         with_fds)
{
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  VhostUserMessage out = VHOST_USER_MESSAGE_INIT;
  Payload want;
  guint8 buf[MAX_MESSAGE];
  int fds[VHOST_USER_MAX_FDS];
  g_autoptr(GError) error = NULL;
  gboolean ok;
  gsize len;

  announce (d, with_fds ? ", with fds" : ", without fds");
  build_message (&msg, d, with_fds, &want);

  len = vhost_user_message_serialize (&msg, buf, sizeof buf);
  g_assert_cmpuint (len, ==, VHOST_USER_HEADER_SIZE + msg.header.size);
  g_assert_cmpuint (vhost_user_message_serialize (&msg, buf, len - 1), ==, 0);
  /* the header at the protocol's offsets, whatever the struct says */
  g_assert_cmpuint (read_u32 (buf, 0), ==, d->info->number);
  g_assert_cmphex (read_u32 (buf, 4), ==, direction_flags (d));
  g_assert_cmpuint (read_u32 (buf, 8), ==, len - VHOST_USER_HEADER_SIZE);

  /* until the header is complete only the header's rest is known */
  for (gsize prefix = 0; prefix <= len; prefix++)
    {
      gsize rest = prefix < VHOST_USER_HEADER_SIZE ? VHOST_USER_HEADER_SIZE - prefix : len - prefix;

      g_assert_cmpint (vhost_user_message_bytes_needed (buf, prefix, &error), ==, (gssize) rest);
      g_assert_no_error (error);
    }

  for (guint i = 0; i < msg.n_fds; i++)
    {
      fds[i] = dup (msg.fds[i]);
      g_assert_cmpint (fds[i], >=, 0);
    }
  ok = vhost_user_message_parse (&out, buf, len, fds, msg.n_fds, d->channel, d->is_reply, 0, &error);
  g_assert_no_error (error);
  g_assert_true (ok);

  g_assert_cmpuint (out.header.request, ==, d->info->number);
  g_assert_cmphex (out.header.flags, ==, direction_flags (d));
  g_assert_cmpmem (out.payload, out.header.size, msg.payload, msg.header.size);
  g_assert_cmpuint (out.n_fds, ==, msg.n_fds);
  /* memfds have distinct inodes, so this also checks their order */
  for (guint i = 0; i < out.n_fds; i++)
    assert_same_file (out.fds[i], msg.fds[i]);
  check_payload (&out, d, &want);

  vhost_user_message_clear (&out);
  vhost_user_message_clear (&msg);
}

static void
round_trip_direction (const Direction *d)
{
  if (d->spec->max_fds > 0)
    round_trip_one (d, TRUE);
  if (d->spec->min_fds == 0)
    round_trip_one (d, FALSE);
}

/* Parses @buf with @n_fds fresh fds and expects error @code, or success
 * for ACCEPTED (into @out if given). A failing parse must close every fd
 * it was handed. */
static void
expect_parse (const char       *what,
              const guint8     *buf,
              gsize             len,
              guint             n_fds,
              VhostUserChannel  channel,
              gboolean          expect_reply,
              guint64           protocol_features,
              gint              code,
              VhostUserMessage *out)
{
  VhostUserMessage scratch = VHOST_USER_MESSAGE_INIT;
  VhostUserMessage *msg = out != NULL ? out : &scratch;
  int fds[VHOST_USER_MAX_FDS + 1];
  g_autoptr(GError) error = NULL;
  gboolean ok;

  g_assert_cmpuint (n_fds, <=, G_N_ELEMENTS (fds));
  for (guint i = 0; i < n_fds; i++)
    fds[i] = test_eventfd ();
  ok = vhost_user_message_parse (msg, buf, len, fds, n_fds, channel, expect_reply, protocol_features, &error);
  if (code == ACCEPTED ? !ok : ok || !g_error_matches (error, VHOST_USER_ERROR, code))
    g_test_message ("%s: %s", what, ok ? "accepted" : error->message);

  if (code == ACCEPTED)
    {
      g_assert_no_error (error);
      g_assert_true (ok);
      g_assert_cmpuint (msg->n_fds, ==, n_fds);
    }
  else
    {
      g_assert_error (error, VHOST_USER_ERROR, code);
      g_assert_false (ok);
      for (guint i = 0; i < n_fds; i++)
        g_assert_false (test_fd_is_open (fds[i]));
      g_assert_cmpuint (msg->n_fds, ==, 0);
    }
  vhost_user_message_clear (&scratch);
}

static void
hostile_direction (const Direction *d)
{
  static const guint32 oversized[] = { VHOST_USER_MAX_PAYLOAD + 1, G_MAXUINT32 };
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  Payload payload;
  guint8 buf[MAX_MESSAGE];
  guint8 bad[2 * MAX_MESSAGE];
  guint32 bad_sizes[2];
  guint n_bad_sizes = 0;
  guint32 flags = direction_flags (d);
  VhostUserChannel ch = d->channel;
  gboolean reply = d->is_reply;
  g_autoptr(GError) error = NULL;
  guint n_fds;
  gsize len;
  char what[64];

  announce (d, "");
  /* with fds wherever allowed, so every failure below must close them */
  build_message (&msg, d, d->spec->max_fds > 0, &payload);
  n_fds = msg.n_fds;
  len = vhost_user_message_serialize (&msg, buf, sizeof buf);
  /* the typed getter takes its layout's exact size only */
  for (int delta = -1; delta <= 1; delta += 2)
    {
      msg.header.size = len - VHOST_USER_HEADER_SIZE + delta;
      g_assert_false (get_typed (&msg, d->spec->kind, &payload));
    }
  vhost_user_message_clear (&msg);
  /* each failure below is then down to its one change */
  expect_parse ("as built", buf, len, n_fds, ch, reply, 0, ACCEPTED, NULL);

  if (d->spec->kind == VHOST_USER_PAYLOAD_NONE)
    bad_sizes[n_bad_sizes++] = 8;
  if (d->spec->min_size > 0)
    bad_sizes[n_bad_sizes++] = d->spec->min_size - 1;
  if (d->spec->kind != VHOST_USER_PAYLOAD_NONE && d->spec->max_size + 1 <= VHOST_USER_MAX_PAYLOAD)
    bad_sizes[n_bad_sizes++] = d->spec->max_size + 1;
  for (guint i = 0; i < n_bad_sizes; i++)
    {
      memset (bad, 0xee, sizeof bad);
      memcpy (bad, buf, len);
      write_u32 (bad, 8, bad_sizes[i]);
      g_snprintf (what, sizeof what, "payload size %u", bad_sizes[i]);
      expect_parse (what, bad, VHOST_USER_HEADER_SIZE + bad_sizes[i], n_fds, ch, reply, 0, INVALID, NULL);
    }

  memcpy (bad, buf, len);
  for (guint32 version = 0; version <= VHOST_USER_VERSION_MASK; version++)
    {
      write_u32 (bad, 4, (flags & ~VHOST_USER_VERSION_MASK) | version);
      if (version != VHOST_USER_PROTOCOL_VERSION)
        expect_parse ("version", bad, len, n_fds, ch, reply, 0, INVALID, NULL);
    }
  for (guint bit = 4; bit < 32; bit++)
    {
      write_u32 (bad, 4, flags | 1u << bit);
      g_snprintf (what, sizeof what, "reserved flag bit %u", bit);
      expect_parse (what, bad, len, n_fds, ch, reply, 0, INVALID, NULL);
    }

  /* the other direction's flags, and this message where the other is due */
  write_u32 (bad, 4, flags ^ REPLY);
  expect_parse ("direction flipped", bad, len, n_fds, ch, reply, 0, INVALID, NULL);
  expect_parse ("unexpected direction", buf, len, n_fds, ch, !reply, 0, INVALID, NULL);
  if (reply)
    {
      write_u32 (bad, 4, flags | VHOST_USER_FLAG_NEED_REPLY);
      expect_parse ("NEED_REPLY on a reply", bad, len, n_fds, ch, TRUE, 0, INVALID, NULL);
    }

  if (d->spec->max_fds == 0)
    expect_parse ("stray fd", buf, len, 1, ch, reply, 0, BAD_FDS, NULL);
  expect_parse ("too many fds", buf, len, VHOST_USER_MAX_FDS + 1, ch, reply, 0, BAD_FDS, NULL);

  memcpy (bad, buf, len);
  for (guint i = 0; i < G_N_ELEMENTS (oversized); i++)
    {
      write_u32 (bad, 8, oversized[i]);
      g_assert_cmpint (vhost_user_message_bytes_needed (bad, len, NULL), ==, -1);
      g_assert_cmpint (vhost_user_message_bytes_needed (bad, VHOST_USER_HEADER_SIZE, &error), ==, -1);
      g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_OVERSIZED_MESSAGE);
      g_clear_error (&error);
      expect_parse ("oversized", bad, len, n_fds, ch, reply, 0, VHOST_USER_ERROR_OVERSIZED_MESSAGE, NULL);
    }

  for (gsize cut = 0; cut < len; cut++)
    {
      gsize rest = cut < VHOST_USER_HEADER_SIZE ? VHOST_USER_HEADER_SIZE - cut : len - cut;

      g_assert_cmpint (vhost_user_message_bytes_needed (buf, cut, NULL), ==, (gssize) rest);
      g_snprintf (what, sizeof what, "truncated to %" G_GSIZE_FORMAT, cut);
      expect_parse (what, buf, cut, n_fds, ch, reply, 0, VHOST_USER_ERROR_PARTIAL_MESSAGE, NULL);
    }

  /* a stray byte, and a whole second message: parse takes exactly one */
  memcpy (bad, buf, len);
  memcpy (bad + len, buf, len);
  expect_parse ("stray byte", bad, len + 1, n_fds, ch, reply, 0, INVALID, NULL);
  expect_parse ("two messages", bad, 2 * len, n_fds, ch, reply, 0, INVALID, NULL);
  g_assert_cmpint (vhost_user_message_bytes_needed (bad, 2 * len, NULL), ==, 0);
}

/* Runs a row's test on its request and on each form of its reply; none
 * may leave an fd behind. */
static void
test_row (gconstpointer data)
{
  const Row *row = data;
  Direction dirs[3];
  guint n_dirs = row_directions (row, dirs);
  guint open_before = test_count_open_fds ();

  for (guint i = 0; i < n_dirs; i++)
    row->func (&dirs[i]);
  g_assert_cmpuint (test_count_open_fds (), ==, open_before);
}

/* Messages no row of the table describes, and payloads whose fields
 * contradict their size or their fds. Only the first 8 bytes are set
 * (nregions, the ring word, offset and size of config space). */
static const struct {
  const char       *what;
  VhostUserChannel  channel;
  guint32           request;
  guint32           flags;
  guint64           word;
  guint32           size;
  guint             n_fds;
  guint64           features;
  gint              code;
} cases[] = {
  { "unknown 0", MAIN, 0, 0, 0, 0, 0, 0, INVALID },
  { "unknown 45", MAIN, 45, 0, 0, 0, 1, 0, INVALID },
  { "unknown 1000", MAIN, 1000, REPLY, 0, 8, 0, 0, INVALID },
  { "unknown 2^32-1", MAIN, G_MAXUINT32, 0, 0, 8, 1, 0, INVALID },
  { "unknown back-end 0", BACKEND, 0, REPLY, 0, 0, 1, 0, INVALID },
  { "unknown back-end 11", BACKEND, 11, 0, 0, 8, 1, 0, INVALID },
  { "unknown back-end 1000", BACKEND, 1000, 0, 0, 0, 0, 0, INVALID },
  { "2 regions", MAIN, REQ (SET_MEM_TABLE), 0, 2, 8 + 2 * 32, 2, 0, ACCEPTED },
  { "9 regions", MAIN, REQ (SET_MEM_TABLE), 0, 9, 8 + 9 * 32, 8, 0, INVALID },
  { "count overflowing 32 bits", MAIN, REQ (SET_MEM_TABLE), 0, G_MAXUINT32 / 32 + 2, 8 + 32, 1, 0, INVALID },
  { "2 regions, 1 fd", MAIN, REQ (SET_MEM_TABLE), 0, 2, 8 + 2 * 32, 1, 0, BAD_FDS },
  { "2 regions, 3 fds", MAIN, REQ (SET_MEM_TABLE), 0, 2, 8 + 2 * 32, 3, 0, BAD_FDS },
  { "no regions, 1 fd", MAIN, REQ (SET_MEM_TABLE), 0, 0, 8, 1, 0, BAD_FDS },
  { "2 regions, size of 1", MAIN, REQ (SET_MEM_TABLE), 0, 2, 8 + 32, 2, 0, INVALID },
  { "2 regions, size of 3", MAIN, REQ (SET_MEM_TABLE), 0, 2, 8 + 3 * 32, 2, 0, INVALID },
  { "2 regions, 4 bytes over", MAIN, REQ (SET_MEM_TABLE), 0, 2, 8 + 2 * 32 + 4, 2, 0, INVALID },
  { "postcopy reply with fds", MAIN, REQ (SET_MEM_TABLE), REPLY, 2, 8 + 2 * 32, 2, 0, BAD_FDS },
  /* Xen regions are 40 bytes, and only once XEN_MMAP is negotiated */
  { "Xen regions", MAIN, REQ (SET_MEM_TABLE), 0, 2, 8 + 2 * 40, 2, 0, INVALID },
  { "Xen regions, XEN_MMAP", MAIN, REQ (SET_MEM_TABLE), 0, 2, 8 + 2 * 40, 2, XEN, ACCEPTED },
  { "8 Xen regions, XEN_MMAP", MAIN, REQ (SET_MEM_TABLE), 0, 8, 8 + 8 * 40, 8, XEN, ACCEPTED },
  { "plain regions, XEN_MMAP", MAIN, REQ (SET_MEM_TABLE), 0, 2, 8 + 2 * 32, 2, XEN, INVALID },
  { "ADD_MEM_REG Xen", MAIN, REQ (ADD_MEM_REG), 0, 0, 48, 1, 0, INVALID },
  { "ADD_MEM_REG Xen, XEN_MMAP", MAIN, REQ (ADD_MEM_REG), 0, 0, 48, 1, XEN, ACCEPTED },
  { "ADD_MEM_REG plain, XEN_MMAP", MAIN, REQ (ADD_MEM_REG), 0, 0, 40, 1, XEN, INVALID },
  { "ADD_MEM_REG postcopy reply Xen", MAIN, REQ (ADD_MEM_REG), REPLY, 0, 48, 0, 0, INVALID },
  { "ADD_MEM_REG postcopy reply Xen, XEN_MMAP", MAIN, REQ (ADD_MEM_REG), REPLY, 0, 48, 0, XEN, ACCEPTED },
  /* the ring word: index, the no-fd bit deciding the fd, nothing else */
  { "kick no-fd with fd", MAIN, REQ (SET_VRING_KICK), 0, 3 | NOFD, 8, 1, 0, BAD_FDS },
  { "kick without fd", MAIN, REQ (SET_VRING_KICK), 0, 3, 8, 0, 0, BAD_FDS },
  { "kick bit 9", MAIN, REQ (SET_VRING_KICK), 0, 3 | 0x200, 8, 1, 0, INVALID },
  { "kick bit 63", MAIN, REQ (SET_VRING_KICK), 0, 3 | G_GUINT64_CONSTANT (1) << 63, 8, 1, 0, INVALID },
  { "call ring 255, no fd", MAIN, REQ (SET_VRING_CALL), 0, 0xff | NOFD, 8, 0, 0, ACCEPTED },
  { "notifier no-fd with fd", BACKEND, BREQ (VRING_HOST_NOTIFIER_MSG), 0, 3 | NOFD, 24, 1, 0, BAD_FDS },
  { "notifier without fd", BACKEND, BREQ (VRING_HOST_NOTIFIER_MSG), 0, 3, 24, 0, 0, BAD_FDS },
  { "notifier bit 9", BACKEND, BREQ (VRING_HOST_NOTIFIER_MSG), 0, 3 | 0x200, 24, 1, 0, INVALID },
  /* config space: the size field must be what follows the header */
  { "config of 8", MAIN, REQ (GET_CONFIG), 0, (guint64) 8 << 32, 12 + 8, 0, 0, ACCEPTED },
  { "config of 7", MAIN, REQ (GET_CONFIG), 0, (guint64) 7 << 32, 12 + 8, 0, 0, INVALID },
  { "config of 9", MAIN, REQ (GET_CONFIG), 0, (guint64) 9 << 32, 12 + 8, 0, 0, INVALID },
  { "config of 2^32-1", MAIN, REQ (GET_CONFIG), 0, (guint64) G_MAXUINT32 << 32, 12 + 8, 0, 0, INVALID },
  { "config reply of 9", MAIN, REQ (GET_CONFIG), REPLY, (guint64) 9 << 32, 12 + 8, 0, 0, INVALID },
  { "set config of 0", MAIN, REQ (SET_CONFIG), 0, 0, 12 + 8, 0, 0, INVALID },
  /* one shared memory region per shmid at most */
  { "256 shmem regions", MAIN, REQ (GET_SHMEM_CONFIG), REPLY, 256, 2056, 0, 0, ACCEPTED },
  { "257 shmem regions", MAIN, REQ (GET_SHMEM_CONFIG), REPLY, 257, 2056, 0, 0, INVALID },
};

static void
test_cases (void)
{
  guint8 payload[VHOST_USER_MAX_PAYLOAD] = { 0 };
  guint8 buf[MAX_MESSAGE];
  guint open_before = test_count_open_fds ();

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gsize len;

      memcpy (payload, &cases[i].word, sizeof cases[i].word);
      len = raw_message (buf, cases[i].request, cases[i].flags, payload, cases[i].size);
      expect_parse (cases[i].what, buf, len, cases[i].n_fds, cases[i].channel,
                    (cases[i].flags & REPLY) != 0, cases[i].features, cases[i].code, NULL);
    }
  g_assert_cmpuint (test_count_open_fds (), ==, open_before);
}

/* The Xen layouts, written by the setters and read back by the getters. */
static void
test_xen_mmap (void)
{
  VhostUserWireXenMemoryRegion regions[2] = {
    { 0x1000, 0x2000, 0x3000, 0x4000, 0x101, 7 },
    { 0x5000, 0x6000, 0x7000, 0x8000, 0x002, 9 },
  };
  VhostUserWireXenMemoryRegion got;
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  guint8 buf[MAX_MESSAGE];

  vhost_user_message_init (&msg, VHOST_USER_REQUEST_SET_MEM_TABLE, 0);
  g_assert_true (vhost_user_message_set_mem_table (&msg, regions, 2, TRUE));
  /* domid of region 1, at the spec's offset */
  g_assert_cmpuint (read_u32 (msg.payload, 8 + 40 + 36), ==, 9);
  expect_parse ("Xen table", buf, vhost_user_message_serialize (&msg, buf, sizeof buf), 2, MAIN, FALSE,
                XEN, ACCEPTED, &msg);
  g_assert_true (vhost_user_message_get_mem_table_region (&msg, 1, &got));
  g_assert_cmpmem (&got, sizeof got, &regions[1], sizeof regions[1]);
  vhost_user_message_clear (&msg);

  vhost_user_message_init (&msg, VHOST_USER_REQUEST_ADD_MEM_REG, 0);
  vhost_user_message_set_single_region (&msg, &regions[1], TRUE);
  g_assert_cmpuint (msg.header.size, ==, 48);
  expect_parse ("Xen region", buf, vhost_user_message_serialize (&msg, buf, sizeof buf), 1, MAIN, FALSE,
                XEN, ACCEPTED, &msg);
  g_assert_true (vhost_user_message_get_single_region (&msg, &got));
  g_assert_cmpmem (&got, sizeof got, &regions[1], sizeof regions[1]);
  vhost_user_message_clear (&msg);
}

static void
assert_describes (const VhostUserMessage *msg,
                  VhostUserChannel        channel,
                  const char             *prefix,
                  const char             *fields)
{
  g_autoptr(GString) out = g_string_new (NULL);

  vhost_user_message_describe (msg, channel, out);
  g_test_message ("%s", out->str);
  g_assert_true (g_str_has_prefix (out->str, prefix));
  g_assert_nonnull (strstr (out->str, fields));
  g_assert_null (strchr (out->str, '\n'));
}

static void
test_describe (void)
{
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  VhostUserWireVringAddr addr = { 1, 1, 0x7f0000001000, 0x7f0000002000, 0x7f0000003000, 0x4000 };
  VhostUserWireXenMemoryRegion regions[2] = {
    { 0, 0x80000000, 0x7f1000000000, 0, 0, 0 },
    { 0x100000000, 0x40000000, 0x7f2000000000, 0x1000, 0, 0 },
  };
  VhostUserWireShmemMap map = { 3, { 0 }, 0x2000, 0x10000, 0x8000, 1 };

  vhost_user_message_init (&msg, VHOST_USER_REQUEST_SET_VRING_ADDR, 0);
  vhost_user_message_set_struct (&msg, &addr);
  assert_describes (&msg, MAIN, "SET_VRING_ADDR (9) flags=0x1 size=40 fds=0",
                    " index=1 flags=0x1 desc=0x7f0000001000 used=0x7f0000002000 avail=0x7f0000003000 log=0x4000");

  vhost_user_message_init (&msg, VHOST_USER_REQUEST_SET_VRING_KICK, VHOST_USER_FLAG_NEED_REPLY);
  vhost_user_message_set_vring_fd (&msg, 2, -1);
  assert_describes (&msg, MAIN, "SET_VRING_KICK (12) flags=0x9 [need-reply]", " index=2 no-fd");

  vhost_user_message_init (&msg, VHOST_USER_REQUEST_SET_MEM_TABLE, 0);
  g_assert_true (vhost_user_message_set_mem_table (&msg, regions, 2, FALSE));
  vhost_user_message_add_fd (&msg, test_memfd (4096));
  vhost_user_message_add_fd (&msg, test_memfd (4096));
  assert_describes (&msg, MAIN, "SET_MEM_TABLE (5) flags=0x1 size=72 fds=2",
                    " nregions=2 [0] gpa=0x0 size=0x80000000 uaddr=0x7f1000000000 offset=0x0"
                    " [1] gpa=0x100000000 size=0x40000000 uaddr=0x7f2000000000 offset=0x1000");
  vhost_user_message_clear (&msg);

  /* replies decode with the reply's layout, acks as a u64 */
  vhost_user_message_init (&msg, VHOST_USER_REQUEST_SET_FEATURES, REPLY);
  vhost_user_message_set_u64 (&msg, 1);
  assert_describes (&msg, MAIN, "SET_FEATURES reply (2)", " u64=0x1");

  /* the same number is another request on the back-end channel */
  vhost_user_message_init (&msg, VHOST_USER_BACKEND_REQUEST_SHMEM_MAP, 0);
  vhost_user_message_set_struct (&msg, &map);
  assert_describes (&msg, BACKEND, "BACKEND_SHMEM_MAP (9)",
                    " shmid=3 fd_offset=0x2000 shm_offset=0x10000 len=0x8000 flags=0x1");
  assert_describes (&msg, MAIN, "SET_VRING_ADDR (9)", " size=40");

  vhost_user_message_init (&msg, 200, 0);
  assert_describes (&msg, MAIN, "UNKNOWN (200)", " size=0 fds=0");
}

/* The largest payloads the table allows must fit the buffer whole. */
static void
test_ceiling (void)
{
  VhostUserWireShmemConfig config = { VHOST_USER_MAX_SHMEM_REGIONS, 0, { 0 } }, got;
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  guint8 buf[MAX_MESSAGE];
  gsize len;

  for (guint i = 0; i < VHOST_USER_MAX_SHMEM_REGIONS; i++)
    config.memory_sizes[i] = (guint64) (i + 1) << 12;
  len = raw_message (buf, VHOST_USER_REQUEST_GET_SHMEM_CONFIG, REPLY, &config, sizeof config);
  g_assert_cmpuint (len, ==, VHOST_USER_HEADER_SIZE + 2056);
  g_assert_cmpint (vhost_user_message_bytes_needed (buf, VHOST_USER_HEADER_SIZE, NULL), ==, 2056);
  expect_parse ("shmem config", buf, len, 0, MAIN, TRUE, 0, ACCEPTED, &msg);
  g_assert_true (vhost_user_message_get_shmem_config (&msg, &got));
  g_assert_cmpmem (&got, sizeof got, &config, sizeof config);
  assert_describes (&msg, MAIN, "GET_SHMEM_CONFIG reply (44)", " nregions=256 [0]=0x1000 [1]=0x2000");
  assert_describes (&msg, MAIN, "GET_SHMEM_CONFIG", " [254]=0xff000 [255]=0x100000");

  /* config space is the one payload that may fill the whole buffer */
  vhost_user_message_init (&msg, VHOST_USER_REQUEST_SET_CONFIG, 0);
  g_assert_false (vhost_user_message_set_config (&msg, 0, 0, NULL, VHOST_USER_MAX_CONFIG_SIZE + 1));
  g_assert_true (vhost_user_message_set_config (&msg, 0, 0, NULL, VHOST_USER_MAX_CONFIG_SIZE));
  len = vhost_user_message_serialize (&msg, buf, sizeof buf);
  g_assert_cmpuint (len, ==, MAX_MESSAGE);
  expect_parse ("whole config", buf, len, 0, MAIN, FALSE, 0, ACCEPTED, NULL);
  g_assert_false (vhost_user_message_set_payload (&msg, buf, VHOST_USER_MAX_PAYLOAD + 1));
}

static void
test_getters_wrong_size (void)
{
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  VhostUserWireXenMemoryRegion region;

  /* the fixed layouts are covered row by row in hostile_direction() */
  write_u32 (msg.payload, 0, 2);
  msg.header.size = 4;
  g_assert_cmpuint (vhost_user_message_get_mem_table_n_regions (&msg), ==, 0);
  g_assert_false (vhost_user_message_get_mem_table_region (&msg, 0, &region));
  msg.header.size = 8 + 2 * 32;
  g_assert_true (vhost_user_message_get_mem_table_region (&msg, 1, &region));
  g_assert_false (vhost_user_message_get_mem_table_region (&msg, 2, &region));
  msg.header.size = 8 + 2 * 36;
  g_assert_false (vhost_user_message_get_mem_table_region (&msg, 0, &region));
  write_u32 (msg.payload, 0, 9);
  msg.header.size = 8 + 9 * 32;
  g_assert_false (vhost_user_message_get_mem_table_region (&msg, 0, &region));
}

/* A size between two strides (8 + n * 32 + 1) is no table either. */
static void
test_getters_mem_table_stride (void)
{
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  VhostUserWireXenMemoryRegion region;

  write_u32 (msg.payload, 0, 2);
  msg.header.size = 8 + 2 * 32 + 1;
  g_assert_false (vhost_user_message_get_mem_table_region (&msg, 0, &region));
  write_u32 (msg.payload, 0, 3);
  msg.header.size = 8 + 3 * 32 + 2;
  g_assert_false (vhost_user_message_get_mem_table_region (&msg, 0, &region));
}

/* expect_reply is a gboolean: any true value means "a reply" */
static void
test_expect_reply_truthy (void)
{
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  VhostUserWireHeader header = { VHOST_USER_REQUEST_GET_FEATURES,
                                 VHOST_USER_PROTOCOL_VERSION | VHOST_USER_FLAG_REPLY, 8 };
  guint8 buf[sizeof header + 8] = { 0 };
  g_autoptr(GError) error = NULL;

  memcpy (buf, &header, sizeof header);
  g_assert_true (vhost_user_message_parse (&msg, buf, sizeof buf, NULL, 0, VHOST_USER_CHANNEL_MAIN,
                                           header.flags & VHOST_USER_FLAG_REPLY, 0, &error));
  g_assert_no_error (error);
}

int
main (int    argc,
      char **argv)
{
  static const VhostUserChannel channels[] = { MAIN, BACKEND };
  static const struct {
    const char  *name;
    void       (*func) (const Direction *d);
  } per_row[] = {
    { "round-trip", round_trip_direction },
    { "hostile", hostile_direction },
  };

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  for (guint t = 0; t < G_N_ELEMENTS (per_row); t++)
    for (guint c = 0; c < G_N_ELEMENTS (channels); c++)
      {
        guint n_rows;
        const VhostUserRequestInfo *table = vhost_user_request_table (channels[c], &n_rows);

        g_assert_cmpuint (n_rows, ==, channels[c] == MAIN ? VHOST_USER_LAST_REQUEST + 1 : VHOST_USER_LAST_BACKEND_REQUEST + 1);
        /* row 0 is the table's placeholder */
        for (guint i = 1; i < n_rows; i++)
          {
            Row *row = g_new (Row, 1);
            char *path = g_strdup_printf ("/codec/%s/%s/%s", per_row[t].name,
                                          channels[c] == MAIN ? "main" : "backend", table[i].name);

            /* the tests reach rows by number */
            g_assert_cmpuint (table[i].number, ==, i);
            *row = (Row) { channels[c], &table[i], per_row[t].func };
            g_test_add_data_func_full (path, row, test_row, g_free);
            g_free (path);
          }
      }
  g_test_add_func ("/codec/hostile/cases", test_cases);
  g_test_add_func ("/codec/xen-mmap", test_xen_mmap);
  g_test_add_func ("/codec/describe", test_describe);
  g_test_add_func ("/codec/ceiling", test_ceiling);
  g_test_add_func ("/codec/getters/wrong-size", test_getters_wrong_size);
  g_test_add_func ("/codec/getters/mem-table-stride", test_getters_mem_table_stride);
  g_test_add_func ("/codec/expect-reply-truthy", test_expect_reply_truthy);

  return g_test_run ();
}
