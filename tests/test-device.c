/* test-device.c: VhostUserDevice against real back-ends
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The test is a VMM with no guest: a VhostUserDevice with memfd memory
 * and two driver rings (split or packed) in it, doing virtio-blk I/O
 * against the example device (examples/vhost-user-blk, serving an image
 * file) and against qemu-storage-daemon, both started here. What is
 * checked is the device's contract: start and stop with the rings'
 * bases kept and used again, memory added and removed while running
 * (ADD/REM_MEM_REG, or SET_MEM_TABLE without memory slots), reconnection
 * after SIGKILL with requests in flight, some answered out of order
 * (each completes once, with the right data), after a back-end that hangs
 * up mid-replay or stays away longer than a dial waits, refusal of a
 * back-end that came back narrower, requests at risk without an
 * in-flight area, and call watching. Most variants also run without the
 * in-flight area: a back-end with one may go on from the used index
 * whatever base it is given, so only without one do the bases show.
 *
 * The test binary is its own odd peers too: run as `test-device --peer
 * MODE SOCKET`, it serves a back-end that offers fewer features, or one
 * that hangs up after the first request. (Re-executed rather than forked:
 * by then the test process has GLib worker threads, and a child of fork()
 * may not run a main loop.)
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <vhost-user-glib.h>

#include "blk-device.h"
#include "test-util.h"

#define N_RINGS       2
#define RING_SIZE     64
#define PACKED_SIZE   61          /* packed rings need no power of two */
#define MEM_SIZE      (1 << 20)
#define RING_STRIDE   0x8000      /* ring i at i * RING_STRIDE */
#define SLOTS_OFF     0x20000
#define SLOT_SIZE     0x1000      /* header at 0, status at STATUS_AT, data at DATA_AT */
#define STATUS_AT     0x10
#define DATA_AT       0x200
#define N_SLOTS       64
#define SECTOR        512
#define REGION2_GPA   MEM_SIZE
#define REGION2_SIZE  (1 << 20)
#define IMAGE_SIZE    (8 * 1024 * 1024)
#define WAIT_MS       20000
#define LATENCY_MS    800         /* keeps requests in flight at a kill */

#define VIRTIO_BLK_T_IN  0
#define VIRTIO_BLK_T_OUT 1

typedef struct {
  guint32 type;
  guint32 reserved;
  guint64 sector;
} BlkHeader;

typedef struct {
  guint64 addr;
  guint32 len;
  guint16 flags;
  guint16 next;
} SplitDesc;

typedef struct {
  gboolean packed;
  gboolean mem_slots;
  gboolean no_inflight;    /* the device does not want INFLIGHT_SHMFD */
  gboolean out_of_order;   /* the back-end answers in any order (latency jitter) */
  gboolean by_address;     /* rings given by address, calls watched by the device */
} Variant;

static const Variant split_variant = { FALSE, TRUE, FALSE, FALSE };
static const Variant packed_variant = { TRUE, TRUE, FALSE, FALSE };
static const Variant table_variant = { FALSE, FALSE, FALSE, FALSE };
static const Variant split_no_inflight = { FALSE, TRUE, TRUE, FALSE };
static const Variant packed_no_inflight = { TRUE, TRUE, TRUE, FALSE };
static const Variant split_out_of_order = { FALSE, TRUE, FALSE, TRUE };
static const Variant packed_out_of_order = { TRUE, TRUE, FALSE, TRUE };
static const Variant by_address_no_inflight = { FALSE, TRUE, TRUE, FALSE, TRUE };

static char *self_exe;

/* One request: header, status byte and data in its slot of region 1
 * (its index in Fixture.reqs), unless its data lives in region 2. */
typedef struct {
  gboolean used;
  guint    ring;
  guint    head;
  guint32  type;
  guint64  sector;
  guint    round;
  guint8  *data;
  guint    completions;
  gboolean completed;
} Req;

typedef struct _Fixture Fixture;

typedef struct {
  Fixture *f;
  guint    index;
} RingRef;

struct _Fixture
{
  char                  *dir;
  char                  *sock;
  char                  *image;
  GSubprocess           *backend;
  guint                  n_starts;

  VhostUserFrontend     *frontend;
  VhostUserDevice       *device;
  VhostUserMemoryRegion *memory;
  guint8                *mem;
  VhostUserMemoryRegion *region2;
  VhostUserDriverRing   *rings[N_RINGS];
  GSource               *call_watch[N_RINGS];
  RingRef                refs[N_RINGS];
  gboolean               by_address;     /* the device's eventfds, not the driver rings' */

  Req                    reqs[N_SLOTS];
  Req                   *by_head[N_RINGS][RING_SIZE];
  guint                  done[N_RINGS];  /* requests completed on each ring, all told */
  guint                  descs[N_RINGS]; /* their descriptors */
  guint                  outstanding;
  gboolean               idle;
  gboolean               completed_any;
  guint                  stray;          /* used entries of no outstanding request */

  /* what the device said */
  GArray                *states;
  GArray                *attempts;
  gboolean               dialling;
  gboolean               second_attempt;
  guint                  reconnected;
  gboolean               reconnected_flag;
  guint                  lost;
  gboolean               lost_flag;
  GError                *lost_error;
  gboolean               lost_reconnecting;
  gint                   at_risk[N_RINGS];
  guint                  at_risk_signals;
  guint                  ring_calls[N_RINGS];
  guint                  ring_calls_detail0;
};

/* --- peers --- */

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  int fd;

  f->dir = g_dir_make_tmp ("vhost-user-device-XXXXXX", &error);
  g_assert_no_error (error);
  f->sock = g_build_filename (f->dir, "blk.sock", NULL);
  f->image = g_build_filename (f->dir, "disk.img", NULL);
  fd = g_open (f->image, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  g_assert_cmpint (fd, >=, 0);
  g_assert_no_errno (ftruncate (fd, IMAGE_SIZE));
  g_close (fd, NULL);
  f->states = g_array_new (FALSE, FALSE, sizeof (VhostUserDeviceState));
  f->attempts = g_array_new (FALSE, FALSE, sizeof (guint));
}

static void
stop_backend (Fixture *f,
              int      signum)
{
  if (f->backend == NULL)
    return;
  g_subprocess_send_signal (f->backend, signum);
  g_assert_true (g_subprocess_wait (f->backend, NULL, NULL));
  g_clear_object (&f->backend);
}

static void
device_teardown (Fixture *f)
{
  for (guint i = 0; i < N_RINGS; i++)
    if (f->call_watch[i] != NULL)
      {
        g_source_destroy (f->call_watch[i]);
        g_clear_pointer (&f->call_watch[i], g_source_unref);
      }
  g_clear_object (&f->device);
  if (f->frontend != NULL)
    vhost_user_frontend_close (f->frontend);
  g_clear_object (&f->frontend);
  for (guint i = 0; i < N_RINGS; i++)
    g_clear_object (&f->rings[i]);
  g_clear_pointer (&f->memory, vhost_user_memory_region_unref);
  g_clear_pointer (&f->region2, vhost_user_memory_region_unref);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GDir) dir = NULL;
  const char *name;

  device_teardown (f);
  stop_backend (f, SIGTERM);
  dir = g_dir_open (f->dir, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (f->dir, name, NULL);

      g_unlink (path);
    }
  g_rmdir (f->dir);
  g_free (f->sock);
  g_free (f->image);
  g_free (f->dir);
  g_array_unref (f->states);
  g_array_unref (f->attempts);
  g_clear_error (&f->lost_error);
}

/* Starts a back-end on the socket: argv, its output in a log of its own. */
static void
spawn_backend (Fixture            *f,
               const char * const *argv)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autoptr(GError) error = NULL;
  g_autofree char *log = g_strdup_printf ("%s/backend-%u.log", f->dir, ++f->n_starts);

  g_assert_null (f->backend);
  g_subprocess_launcher_set_stdout_file_path (launcher, log);
  f->backend = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
}

/* The example device on the image; @latency_ms keeps requests in flight. */
static void
start_example_jitter (Fixture *f,
                      guint    queues,
                      guint    latency_ms,
                      guint    jitter_ms)
{
  const char *blk = g_getenv ("VHOST_USER_BLK");
  g_autofree char *q = g_strdup_printf ("%u", queues);
  g_autofree char *l = g_strdup_printf ("%u", latency_ms);
  g_autofree char *j = g_strdup_printf ("%u", jitter_ms);
  const char *argv[] = { blk, "--socket", f->sock, "--image", f->image, "--queues", q, "--latency", l,
                         "--latency-jitter", j, NULL };

  g_assert_nonnull (blk);
  spawn_backend (f, argv);
}

static void
start_example (Fixture *f,
               guint    queues,
               guint    latency_ms)
{
  start_example_jitter (f, queues, latency_ms, 0);
}

/* This binary as a peer (main() below). */
static void
start_peer (Fixture    *f,
            const char *mode)
{
  const char *argv[] = { self_exe, "--peer", mode, f->sock, NULL };

  spawn_backend (f, argv);
}

static gboolean
start_qsd (Fixture *f)
{
  g_autofree char *qsd = g_find_program_in_path ("qemu-storage-daemon");
  g_autofree char *blockdev = NULL;
  g_autofree char *export = NULL;

  if (qsd == NULL)
    {
      g_test_skip ("qemu-storage-daemon is not installed (Debian package qemu-system-common)");
      return FALSE;
    }
  /* it does not replace a socket left by one that was killed */
  g_unlink (f->sock);
  blockdev = g_strdup_printf ("driver=file,node-name=f0,filename=%s", f->image);
  export = g_strdup_printf ("type=vhost-user-blk,id=e0,node-name=f0,addr.type=unix,addr.path=%s,"
                            "writable=on,num-queues=%d", f->sock, N_RINGS);
  {
    const char *argv[] = { qsd, "--blockdev", blockdev, "--export", export, NULL };

    spawn_backend (f, argv);
  }
  return TRUE;
}

/* --- the device and its signals --- */

static void
on_state (VhostUserDevice *device,
          GParamSpec      *pspec,
          Fixture         *f)
{
  VhostUserDeviceState state = vhost_user_device_get_state (device);

  g_array_append_val (f->states, state);
}

static void
on_reconnecting (VhostUserDevice *device,
                 guint            attempt,
                 Fixture         *f)
{
  g_array_append_val (f->attempts, attempt);
  f->dialling = TRUE;
  if (attempt >= 2)
    f->second_attempt = TRUE;
}

static void
on_reconnected (VhostUserDevice *device,
                Fixture         *f)
{
  f->reconnected++;
  f->reconnected_flag = TRUE;
}

static void
on_backend_lost (VhostUserDevice *device,
                 GError          *reason,
                 gboolean         reconnecting,
                 Fixture         *f)
{
  g_assert_nonnull (reason);
  g_test_message ("backend-lost (%sreconnecting): %s", reconnecting ? "" : "not ", reason->message);
  g_clear_error (&f->lost_error);
  f->lost_error = g_error_copy (reason);
  f->lost_reconnecting = reconnecting;
  f->lost++;
  f->lost_flag = TRUE;
}

static void
on_at_risk (VhostUserDevice *device,
            guint            ring,
            guint            first,
            gint             count,
            Fixture         *f)
{
  g_assert_cmpuint (ring, <, N_RINGS);
  g_assert_cmpuint (first, <=, 0xffff);
  f->at_risk[ring] += count;
  f->at_risk_signals++;
}

static void collect (Fixture *f, guint ring);

static gboolean
call_ready (int           fd,
            GIOCondition  condition,
            gpointer      user_data)
{
  RingRef *ref = user_data;

  vhost_user_driver_ring_clear_call (ref->f->rings[ref->index]);
  collect (ref->f, ref->index);
  return G_SOURCE_CONTINUE;
}

static void
on_ring_call (VhostUserDevice *device,
              guint            ring,
              Fixture         *f)
{
  g_assert_cmpuint (ring, <, N_RINGS);
  f->ring_calls[ring]++;
  collect (f, ring);
}

static void
wait_ring_call (Fixture *f,
                guint    ring)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * G_TIME_SPAN_MILLISECOND;

  while (f->ring_calls[ring] == 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
}

static void
on_ring_call_detail0 (VhostUserDevice *device,
                      guint            ring,
                      Fixture         *f)
{
  g_assert_cmpuint (ring, ==, 0);
  f->ring_calls_detail0++;
}

/* Memory, two rings laid out in it, a front-end on the socket and the
 * device over them, stopped. With @by_address the device gets the rings'
 * addresses and makes eventfds of its own; the driver rings only lay
 * the rings out and collect the used entries. */
static void
device_setup (Fixture       *f,
              const Variant *variant,
              gboolean       by_address)
{
  g_autoptr(GError) error = NULL;
  guint size = variant->packed ? PACKED_SIZE : RING_SIZE;

  f->frontend = vhost_user_frontend_new ();
  g_assert_true (vhost_user_frontend_connect_to_path (f->frontend, f->sock, WAIT_MS, NULL, &error));
  g_assert_no_error (error);

  f->memory = vhost_user_memory_region_new_memfd (0, MEM_SIZE, &error);
  g_assert_no_error (error);
  f->mem = vhost_user_memory_region_get_host_addr (f->memory);

  f->device = vhost_user_device_new (f->frontend, N_RINGS);
  g_assert_cmpint (vhost_user_device_get_state (f->device), ==, VHOST_USER_DEVICE_STATE_STOPPED);
  vhost_user_device_set_features (f->device, VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_VERSION_1) |
                                             VHOST_USER_FEATURE (VIRTIO_BLK_F_FLUSH) |
                                             VHOST_USER_FEATURE (VIRTIO_BLK_F_MQ));
  if (!variant->mem_slots)
    vhost_user_device_set_protocol_features (f->device,
                                             vhost_user_device_get_protocol_features (f->device) &
                                             ~VHOST_USER_PROTOCOL_FEATURE_CONFIGURE_MEM_SLOTS);
  if (variant->no_inflight)
    vhost_user_device_set_protocol_features (f->device,
                                             vhost_user_device_get_protocol_features (f->device) &
                                             ~VHOST_USER_PROTOCOL_FEATURE_INFLIGHT_SHMFD);
  g_signal_connect (f->device, "notify::state", G_CALLBACK (on_state), f);
  g_signal_connect (f->device, "reconnecting", G_CALLBACK (on_reconnecting), f);
  g_signal_connect (f->device, "reconnected", G_CALLBACK (on_reconnected), f);
  g_signal_connect (f->device, "backend-lost", G_CALLBACK (on_backend_lost), f);
  g_signal_connect (f->device, "requests-at-risk", G_CALLBACK (on_at_risk), f);

  /* kept until the start gives it */
  g_assert_true (vhost_user_device_add_memory (f->device, f->memory, NULL, &error));
  g_assert_no_error (error);

  f->by_address = by_address;
  for (guint i = 0; i < N_RINGS; i++)
    {
      if (variant->packed)
        f->rings[i] = vhost_user_driver_ring_new_packed (f->memory, i * RING_STRIDE, size, &error);
      else
        f->rings[i] = vhost_user_driver_ring_new (f->memory, i * RING_STRIDE, size, &error);
      g_assert_no_error (error);
      f->refs[i] = (RingRef) { f, i };
      if (by_address)
        {
          g_assert_true (vhost_user_device_set_ring_addresses (f->device, i, size,
                                                               vhost_user_driver_ring_get_desc_addr (f->rings[i]),
                                                               vhost_user_driver_ring_get_avail_addr (f->rings[i]),
                                                               vhost_user_driver_ring_get_used_addr (f->rings[i]),
                                                               &error));
          g_assert_no_error (error);
          /* eventfds of its own */
          g_assert_cmpint (vhost_user_device_get_ring_kick_fd (f->device, i), >=, 0);
          g_assert_cmpint (vhost_user_device_get_ring_kick_fd (f->device, i), !=,
                           vhost_user_driver_ring_get_kick_fd (f->rings[i]));
          g_assert_cmpint (vhost_user_device_get_ring_call_fd (f->device, i), !=,
                           vhost_user_driver_ring_get_call_fd (f->rings[i]));
          continue;
        }
      g_assert_true (vhost_user_device_set_ring (f->device, i, f->rings[i], &error));
      g_assert_no_error (error);
      g_assert_cmpint (vhost_user_device_get_ring_kick_fd (f->device, i), ==,
                       vhost_user_driver_ring_get_kick_fd (f->rings[i]));
      f->call_watch[i] = g_unix_fd_source_new (vhost_user_driver_ring_get_call_fd (f->rings[i]), G_IO_IN);
      g_source_set_callback (f->call_watch[i], G_SOURCE_FUNC (call_ready), &f->refs[i], NULL);
      g_source_attach (f->call_watch[i], NULL);
    }
  f->idle = TRUE;
}

/* --- requests --- */

/* Sector @sector as round @round writes it: every word says where and when. */
static void
fill_pattern (guint8  *buf,
              guint64  sector,
              guint    round)
{
  for (guint i = 0; i < SECTOR; i += 8)
    {
      guint64 word = GUINT64_TO_LE (sector << 32 | (guint64) round << 16 | i);

      memcpy (buf + i, &word, 8);
    }
}

static void
assert_pattern (const guint8 *buf,
                guint64       sector,
                guint         round)
{
  guint8 expected[SECTOR];

  fill_pattern (expected, sector, round);
  g_assert_cmpmem (buf, SECTOR, expected, SECTOR);
}

static guint8 *
slot_ctrl (Fixture *f,
           guint    slot)
{
  return f->mem + SLOTS_OFF + slot * SLOT_SIZE;
}

static guint8
req_status (Fixture *f,
            Req     *req)
{
  return slot_ctrl (f, req - f->reqs)[STATUS_AT];
}

/* Makes request @slot available on @ring (not kicked): a write of
 * @sector as round @round writes it, or a read of it. With @data_gpa
 * nonzero the data buffer is there (region 2) instead of in the slot. */
static Req *
submit (Fixture *f,
        guint    ring,
        guint    slot,
        guint32  type,
        guint64  sector,
        guint    round,
        guint64  data_gpa)
{
  g_autoptr(GError) error = NULL;
  Req *req = &f->reqs[slot];
  guint8 *ctrl = slot_ctrl (f, slot);
  guint64 ctrl_off = ctrl - f->mem;
  BlkHeader header = { GUINT32_TO_LE (type), 0, GUINT64_TO_LE (sector) };
  guint64 out_off[2] = { ctrl_off, ctrl_off + DATA_AT };
  guint32 out_len[2] = { sizeof header, SECTOR };
  guint64 in_off[2] = { ctrl_off + DATA_AT, ctrl_off + STATUS_AT };
  guint32 in_len[2] = { SECTOR, 1 };
  gboolean write = type == VIRTIO_BLK_T_OUT;

  g_assert_false (req->used && req->completions == 0);
  *req = (Req) { TRUE, ring, 0, type, sector, round, ctrl + DATA_AT, 0, FALSE };
  if (data_gpa != 0)
    {
      g_assert_nonnull (f->region2);
      req->data = (guint8 *) vhost_user_memory_region_get_host_addr (f->region2) + (data_gpa - REGION2_GPA);
    }
  memcpy (ctrl, &header, sizeof header);
  ctrl[STATUS_AT] = 0xff;
  if (write)
    fill_pattern (req->data, sector, round);
  else
    memset (req->data, 0, SECTOR);

  if (write)
    g_assert_true (vhost_user_driver_ring_add (f->rings[ring], out_off, out_len, 2, in_off + 1, in_len + 1, 1,
                                               &req->head, &error));
  else
    g_assert_true (vhost_user_driver_ring_add (f->rings[ring], out_off, out_len, 1, in_off, in_len, 2,
                                               &req->head, &error));
  g_assert_no_error (error);

  if (data_gpa != 0)
    {
      /* The driver ring addresses its own region only: point the data
       * descriptor (the second of the chain) at region 2 by hand. The
       * back-end looks at the ring only when kicked, and the caller
       * kicks after this. */
      guint64 desc_off = vhost_user_driver_ring_get_desc_addr (f->rings[ring]) -
                         vhost_user_memory_region_get_user_addr (f->memory);
      SplitDesc *table = (SplitDesc *) (f->mem + desc_off);
      guint64 addr = GUINT64_TO_LE (data_gpa);

      g_assert_false (vhost_user_driver_ring_get_packed (f->rings[ring]));
      memcpy (&table[GUINT16_FROM_LE (table[req->head].next)].addr, &addr, sizeof addr);
    }

  g_assert_cmpuint (req->head, <, RING_SIZE);
  g_assert_null (f->by_head[ring][req->head]);
  f->by_head[ring][req->head] = req;
  f->outstanding++;
  f->idle = FALSE;
  return req;
}

static void
kick (Fixture *f,
      guint    ring)
{
  g_autoptr(GError) error = NULL;

  if (f->by_address)
    g_assert_true (vhost_user_device_kick (f->device, ring, &error));
  else
    g_assert_true (vhost_user_driver_ring_kick (f->rings[ring], &error));
  g_assert_no_error (error);
}

/* Takes every used entry there is on @ring. */
static void
collect (Fixture *f,
         guint    ring)
{
  guint head, len;

  while (vhost_user_driver_ring_get_used (f->rings[ring], &head, &len))
    {
      Req *req = head < RING_SIZE ? f->by_head[ring][head] : NULL;

      if (req == NULL)
        {
          g_test_message ("ring %u: a used entry for head %u, which is not in flight", ring, head);
          f->stray++;
          continue;
        }
      f->by_head[ring][head] = NULL;
      req->completions++;
      req->completed = TRUE;
      f->completed_any = TRUE;
      f->outstanding--;
      f->done[ring]++;
      f->descs[ring] += 3;
    }
  f->idle = f->outstanding == 0;
}

/* One request done, whatever else is outstanding. */
static void
wait_req (Fixture *f,
          Req     *req)
{
  collect (f, req->ring);
  g_assert_true (test_iterate_until (NULL, &req->completed, WAIT_MS));
  g_assert_cmpuint (f->stray, ==, 0);
}

static void
wait_idle (Fixture *f)
{
  for (guint i = 0; i < N_RINGS; i++)
    collect (f, i);
  g_assert_true (test_iterate_until (NULL, &f->idle, WAIT_MS));
  g_assert_cmpuint (f->stray, ==, 0);
}

/* The request completed once, fine, with the data it should have. */
static void
assert_done (Fixture *f,
             Req     *req)
{
  g_assert_cmpuint (req->completions, ==, 1);
  g_assert_cmpuint (req_status (f, req), ==, 0);
  if (req->type == VIRTIO_BLK_T_IN)
    assert_pattern (req->data, req->sector, req->round);
}

/* On every ring, @per_ring writes of round @round, then reads of the
 * same sectors: the pattern comes back. Ring r writes sectors from
 * 1000 r + @first. */
static void
write_read_round (Fixture *f,
                  guint    per_ring,
                  guint64  first,
                  guint    round)
{
  Req *reqs[N_SLOTS];
  guint n = 0;

  g_assert_cmpuint (per_ring * N_RINGS, <=, N_SLOTS);
  for (guint pass = 0; pass < 2; pass++)
    {
      n = 0;
      for (guint r = 0; r < N_RINGS; r++)
        {
          for (guint k = 0; k < per_ring; k++, n++)
            reqs[n] = submit (f, r, n, pass == 0 ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, 1000 * r + first + k,
                              round, 0);
          kick (f, r);
        }
      wait_idle (f);
      for (guint i = 0; i < n; i++)
        assert_done (f, reqs[i]);
    }
}

/* The bytes of the image file at @sector. */
static void
assert_image (Fixture *f,
              guint64  sector,
              guint    round)
{
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  gsize length;

  g_assert_true (g_file_get_contents (f->image, &contents, &length, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (length, ==, IMAGE_SIZE);
  assert_pattern ((guint8 *) contents + sector * SECTOR, sector, round);
}

/* What GET_VRING_BASE says after @requests requests of three
 * descriptors: split rings the available index; packed rings both
 * positions with their wrap counters (which start at 1). */
static guint
expected_base (Fixture *f,
               guint    ring)
{
  VhostUserDriverRing *r = f->rings[ring];
  guint size, pos, half;

  if (!vhost_user_driver_ring_get_packed (r))
    return (guint16) f->done[ring];
  size = vhost_user_driver_ring_get_size (r);
  pos = f->descs[ring] % size;
  half = pos | (((f->descs[ring] / size) % 2 == 0) ? 0x8000 : 0);
  return half | half << 16;
}

static void
assert_bases (Fixture *f)
{
  for (guint i = 0; i < N_RINGS; i++)
    g_assert_cmphex (vhost_user_device_get_ring_base (f->device, i), ==, expected_base (f, i));
}

static void
assert_states (Fixture                    *f,
               const VhostUserDeviceState *expected,
               guint                       n)
{
  g_autoptr(GString) seen = g_string_new (NULL);

  for (guint i = 0; i < f->states->len; i++)
    g_string_append_printf (seen, " %d", g_array_index (f->states, VhostUserDeviceState, i));
  g_test_message ("states:%s", seen->str);
  g_assert_cmpuint (f->states->len, ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpint (g_array_index (f->states, VhostUserDeviceState, i), ==, expected[i]);
}

static void
assert_attempts_count_up (Fixture *f)
{
  g_assert_cmpuint (f->attempts->len, >=, 1);
  for (guint i = 0; i < f->attempts->len; i++)
    g_assert_cmpuint (g_array_index (f->attempts, guint, i), ==, i + 1);
}

/* --- async forms, each waited for in a main loop --- */

typedef struct {
  GMainLoop    *loop;
  GAsyncResult *result;
} AsyncWait;

static void
got_result (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  AsyncWait *w = user_data;

  g_assert_null (w->result);
  w->result = g_object_ref (result);
  g_main_loop_quit (w->loop);
}

static gboolean
async_timed_out (gpointer user_data)
{
  g_assert_not_reached ();
  return G_SOURCE_REMOVE;
}

static void
async_run (AsyncWait *w)
{
  guint timeout = g_timeout_add (WAIT_MS, async_timed_out, NULL);

  if (w->result == NULL)
    g_main_loop_run (w->loop);
  g_source_remove (timeout);
}

static void
async_init (AsyncWait *w)
{
  w->loop = g_main_loop_new (NULL, FALSE);
  w->result = NULL;
}

static void
async_clear (AsyncWait *w)
{
  g_clear_object (&w->result);
  g_main_loop_unref (w->loop);
}

/* --- 1. start, I/O, stop with the bases, start again --- */

static void
test_start_stop (Fixture       *f,
                 gconstpointer  data)
{
  const Variant *variant = data;
  g_autoptr(GError) error = NULL;
  guint64 packed_bit = VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_RING_PACKED);

  start_example (f, N_RINGS, 0);
  device_setup (f, variant, FALSE);

  g_assert_true (vhost_user_device_start (f->device, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (vhost_user_device_get_state (f->device), ==, VHOST_USER_DEVICE_STATE_RUNNING);
  /* the layout the rings need was asked for and had */
  g_assert_cmphex (vhost_user_device_get_acked_features (f->device) & packed_bit, ==,
                   variant->packed ? packed_bit : 0);
  g_assert_true (vhost_user_device_get_acked_features (f->device) &
                 VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_VERSION_1));

  write_read_round (f, 4, 0, 1);
  assert_image (f, 0, 1);
  assert_image (f, 1003, 1);

  g_assert_true (vhost_user_device_stop (f->device, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (vhost_user_device_get_state (f->device), ==, VHOST_USER_DEVICE_STATE_STOPPED);
  g_assert_cmpuint (f->done[0], ==, 8);
  assert_bases (f);
  /* stopping disabled the rings for the while; they are still wanted
   * enabled at the next start */
  for (guint i = 0; i < N_RINGS; i++)
    g_assert_true (vhost_user_device_get_ring_enabled (f->device, i));

  /* the rings go on where they stopped: a ring restarted at 0 would
   * give back entries already taken, or none */
  g_assert_true (vhost_user_device_start (f->device, NULL, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < N_RINGS; i++)
    g_assert_true (vhost_user_device_get_ring_enabled (f->device, i));
  /* a running device's rings are not configured */
  g_assert_false (vhost_user_device_set_ring (f->device, 0, f->rings[0], &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION);
  g_clear_error (&error);
  for (guint round = 2; round < 5; round++)
    write_read_round (f, 8, 100, round);
  assert_image (f, 1107, 4);

  g_assert_true (vhost_user_device_stop (f->device, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (f->done[1], ==, 8 + 3 * 16);
  assert_bases (f);
  g_assert_cmpuint (f->lost, ==, 0);
}

/* --- 2. memory at run time --- */

static void
test_memory (Fixture       *f,
             gconstpointer  data)
{
  const Variant *variant = data;
  g_autoptr(GError) error = NULL;
  AsyncWait w, w2;
  Req *req;

  start_example (f, N_RINGS, 0);
  device_setup (f, variant, FALSE);

  /* two operations queued at once run in order */
  f->region2 = vhost_user_memory_region_new_memfd (REGION2_GPA, REGION2_SIZE, &error);
  g_assert_no_error (error);
  async_init (&w);
  async_init (&w2);
  vhost_user_device_start_async (f->device, NULL, got_result, &w);
  vhost_user_device_add_memory_async (f->device, f->region2, NULL, got_result, &w2);
  async_run (&w);
  g_assert_true (vhost_user_device_start_finish (f->device, w.result, &error));
  g_assert_no_error (error);
  g_assert_cmpint (vhost_user_device_get_state (f->device), ==, VHOST_USER_DEVICE_STATE_RUNNING);
  async_run (&w2);
  g_assert_true (vhost_user_device_add_memory_finish (f->device, w2.result, &error));
  g_assert_no_error (error);
  async_clear (&w);
  async_clear (&w2);
  g_assert_cmphex (vhost_user_device_get_acked_protocol_features (f->device) &
                   VHOST_USER_PROTOCOL_FEATURE_CONFIGURE_MEM_SLOTS, ==,
                   variant->mem_slots ? VHOST_USER_PROTOCOL_FEATURE_CONFIGURE_MEM_SLOTS : 0);

  /* the new region carries data both ways */
  req = submit (f, 0, 0, VIRTIO_BLK_T_OUT, 77, 1, REGION2_GPA + 0x1000);
  kick (f, 0);
  wait_idle (f);
  assert_done (f, req);
  assert_image (f, 77, 1);
  req = submit (f, 0, 0, VIRTIO_BLK_T_IN, 77, 1, REGION2_GPA + 0x3000);
  kick (f, 0);
  wait_idle (f);
  assert_done (f, req);
  assert_pattern ((guint8 *) vhost_user_memory_region_get_host_addr (f->region2) + 0x3000, 77, 1);

  /* overlapping guest memory is refused */
  {
    g_autoptr(VhostUserMemoryRegion) overlap = vhost_user_memory_region_new_memfd (REGION2_GPA + 0x1000, 0x1000,
                                                                                     &error);

    g_assert_no_error (error);
    g_assert_false (vhost_user_device_add_memory (f->device, overlap, NULL, &error));
    g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
    g_clear_error (&error);
  }

  /* the region the rings run in stays */
  async_init (&w);
  vhost_user_device_remove_memory_async (f->device, f->memory, NULL, got_result, &w);
  async_run (&w);
  g_assert_false (vhost_user_device_remove_memory_finish (f->device, w.result, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION);
  g_clear_error (&error);
  async_clear (&w);
  g_assert_cmpint (vhost_user_device_get_state (f->device), ==, VHOST_USER_DEVICE_STATE_RUNNING);
  write_read_round (f, 2, 0, 2);

  async_init (&w);
  vhost_user_device_remove_memory_async (f->device, f->region2, NULL, got_result, &w);
  async_run (&w);
  g_assert_true (vhost_user_device_remove_memory_finish (f->device, w.result, &error));
  g_assert_no_error (error);
  async_clear (&w);
  /* not the device's any more */
  g_assert_false (vhost_user_device_remove_memory (f->device, f->region2, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);

  /* A request into the removed region cannot succeed: the back-end
   * breaks the ring (or answers an error). It is waited for behind a
   * request on the other ring, in the same back-end loop. */
  req = submit (f, 0, 0, VIRTIO_BLK_T_IN, 77, 1, REGION2_GPA + 0x5000);
  kick (f, 0);
  {
    Req *other = submit (f, 1, 1, VIRTIO_BLK_T_IN, 77, 1, 0);

    kick (f, 1);
    wait_req (f, other);
    assert_done (f, other);
  }
  g_test_message ("the request into removed memory: %u completions, status %u", req->completions,
                  req_status (f, req));
  g_assert_true (req->completions == 0 || req_status (f, req) != 0);
  g_assert_cmphex (*(guint64 *) ((guint8 *) vhost_user_memory_region_get_host_addr (f->region2) + 0x5000), ==, 0);
  /* the device is still up, and ring 1 does I/O in region 1 */
  g_assert_cmpuint (f->lost, ==, 0);
  g_assert_cmpint (vhost_user_device_get_state (f->device), ==, VHOST_USER_DEVICE_STATE_RUNNING);
  g_assert_true (vhost_user_frontend_get_connected (f->frontend));
  for (guint round = 3; round < 5; round++)
    {
      Req *wr = submit (f, 1, 2, VIRTIO_BLK_T_OUT, 1500 + round, round, 0);
      Req *rd;

      kick (f, 1);
      wait_req (f, wr);
      assert_done (f, wr);
      rd = submit (f, 1, 2, VIRTIO_BLK_T_IN, 1500 + round, round, 0);
      kick (f, 1);
      wait_req (f, rd);
      assert_done (f, rd);
    }

  async_init (&w);
  vhost_user_device_stop_async (f->device, NULL, got_result, &w);
  async_run (&w);
  g_assert_true (vhost_user_device_stop_finish (f->device, w.result, &error));
  g_assert_no_error (error);
  async_clear (&w);
  g_assert_cmpint (vhost_user_device_get_state (f->device), ==, VHOST_USER_DEVICE_STATE_STOPPED);
  g_assert_cmpuint (vhost_user_device_get_ring_base (f->device, 1), ==, f->done[1]);
}

/* --- 3. reconnect with requests in flight --- */

static gboolean
all_taken (Fixture *f,
           Req    **reqs,
           guint    n)
{
  for (guint i = 0; i < n; i++)
    if (__atomic_load_n (&slot_ctrl (f, reqs[i] - f->reqs)[STATUS_AT], __ATOMIC_ACQUIRE) == 0xff)
      return FALSE;
  return TRUE;
}

/* Until the back-end took every request: the example does the I/O, and
 * writes the status byte, as it takes a request, and answers late. The
 * back-end says nothing when it takes one, so shared memory is looked at. */
static void
wait_taken (Fixture *f,
            Req    **reqs,
            guint    n)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * G_TIME_SPAN_MILLISECOND;

  while (!all_taken (f, reqs, n) && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  g_assert_true (all_taken (f, reqs, n));
}

static void
wait_lost (Fixture *f)
{
  f->lost_flag = FALSE;
  g_assert_true (test_iterate_until (NULL, &f->lost_flag, WAIT_MS));
}

static void
wait_reconnected (Fixture *f)
{
  g_assert_true (test_iterate_until (NULL, &f->reconnected_flag, WAIT_MS));
  f->reconnected_flag = FALSE;
}

static void
enable_reconnect (Fixture *f)
{
  g_object_set (f->device, "auto-reconnect", TRUE, "reconnect-delay-max", 100, NULL);
}

static void
start_device (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_user_device_start (f->device, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (vhost_user_device_get_state (f->device), ==, VHOST_USER_DEVICE_STATE_RUNNING);
}

static void
stop_device (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_user_device_stop (f->device, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (vhost_user_device_get_state (f->device), ==, VHOST_USER_DEVICE_STATE_STOPPED);
}

/* The back-end is killed while it holds requests it took and did not
 * answer; the device dials the new one, replays with the in-flight area
 * and kicks; the new back-end resubmits them. Without the in-flight
 * area the device says which requests are at risk, and the new back-end,
 * starting from the used index, does them again (this one answered none,
 * so each still completes once). */
static void
test_reconnect (Fixture       *f,
                gconstpointer  data)
{
  const Variant *variant = data;
  static const VhostUserDeviceState expected[] = {
    VHOST_USER_DEVICE_STATE_DISCONNECTED, VHOST_USER_DEVICE_STATE_NEGOTIATING, VHOST_USER_DEVICE_STATE_RUNNING,
  };
  Req *reqs[N_SLOTS];
  guint n = 0, jitter = variant->out_of_order ? LATENCY_MS - 100 : 0;

  start_example_jitter (f, N_RINGS, LATENCY_MS, jitter);
  device_setup (f, variant, variant->by_address);
  if (variant->by_address)
    {
      g_object_set (f->device, "watch-calls", TRUE, NULL);
      g_signal_connect (f->device, "ring-call", G_CALLBACK (on_ring_call), f);
    }
  enable_reconnect (f);
  start_device (f);
  g_assert_cmphex (vhost_user_device_get_acked_protocol_features (f->device) &
                   VHOST_USER_PROTOCOL_FEATURE_INFLIGHT_SHMFD, ==,
                   variant->no_inflight ? 0 : VHOST_USER_PROTOCOL_FEATURE_INFLIGHT_SHMFD);

  /* what the reads will find */
  for (guint r = 0; r < N_RINGS; r++)
    {
      for (guint k = 0; k < 4; k++)
        submit (f, r, 4 * r + k, VIRTIO_BLK_T_OUT, 1000 * r + k, 1, 0);
      kick (f, r);
    }
  wait_idle (f);

  /* on each ring: reads of those, writes of others */
  for (guint r = 0; r < N_RINGS; r++)
    {
      for (guint k = 0; k < 4; k++, n++)
        reqs[n] = submit (f, r, n, VIRTIO_BLK_T_IN, 1000 * r + k, 1, 0);
      for (guint k = 0; k < 4; k++, n++)
        reqs[n] = submit (f, r, n, VIRTIO_BLK_T_OUT, 1000 * r + 100 + k, 2, 0);
      kick (f, r);
    }
  wait_taken (f, reqs, n);
  if (variant->out_of_order)
    {
      /* killed once some were answered, out of order */
      f->completed_any = FALSE;
      g_assert_true (test_iterate_until (NULL, &f->completed_any, WAIT_MS));
    }
  g_array_set_size (f->states, 0);
  stop_backend (f, SIGKILL);
  for (guint r = 0; r < N_RINGS; r++)
    collect (f, r);
  if (!variant->out_of_order)
    {
      /* none was answered: all were in flight */
      g_assert_cmpuint (f->outstanding, ==, n);
    }
  else
    {
      gboolean gap = FALSE;

      /* some were answered, and after one that was not: the used index
       * alone cannot say which are left */
      g_assert_cmpuint (f->outstanding, >, 0);
      g_assert_cmpuint (f->outstanding, <, n);
      for (guint i = 0; i + 1 < n; i++)
        if (reqs[i]->ring == reqs[i + 1]->ring && reqs[i]->completions == 0 && reqs[i + 1]->completions == 1)
          gap = TRUE;
      g_test_message ("killed with %u of %u requests in flight", f->outstanding, n);
      g_assert_true (gap);
    }
  /* what the dead back-end did is undone here: only a resubmission can
   * do it again */
  for (guint i = 0; i < n; i++)
    if (reqs[i]->completions == 0)
      {
        slot_ctrl (f, reqs[i] - f->reqs)[STATUS_AT] = 0xff;
        if (reqs[i]->type == VIRTIO_BLK_T_IN)
          memset (reqs[i]->data, 0, SECTOR);
      }

  wait_lost (f);
  g_assert_true (f->lost_reconnecting);
  g_assert_true (vhost_user_error_should_reconnect (f->lost_error));
  g_assert_cmpint (vhost_user_device_get_state (f->device), ==, VHOST_USER_DEVICE_STATE_DISCONNECTED);

  start_example_jitter (f, N_RINGS, LATENCY_MS, jitter);
  wait_reconnected (f);
  wait_idle (f);
  for (guint i = 0; i < n; i++)
    assert_done (f, reqs[i]);
  g_assert_cmpuint (f->at_risk_signals, ==, variant->no_inflight ? N_RINGS : 0);
  for (guint r = 0; r < N_RINGS; r++)
    g_assert_cmpint (f->at_risk[r], ==, variant->no_inflight ? (gint) n / N_RINGS : 0);
  g_assert_cmpuint (f->lost, ==, 1);
  g_assert_cmpuint (f->reconnected, ==, 1);
  assert_states (f, expected, G_N_ELEMENTS (expected));
  assert_attempts_count_up (f);

  /* it carries on; the writes that were in flight are on the disk */
  n = 0;
  for (guint r = 0; r < N_RINGS; r++)
    {
      for (guint k = 0; k < 4; k++, n++)
        reqs[n] = submit (f, r, n, VIRTIO_BLK_T_IN, 1000 * r + 100 + k, 2, 0);
      kick (f, r);
    }
  wait_idle (f);
  for (guint i = 0; i < n; i++)
    assert_done (f, reqs[i]);
  stop_device (f);
  assert_bases (f);
}

/* --- 4. a back-end that comes back narrower, or goes away again --- */

static void
lose_backend (Fixture *f)
{
  g_array_set_size (f->states, 0);
  stop_backend (f, SIGKILL);
  wait_lost (f);
  g_assert_true (f->lost_reconnecting);
}

/* The reconnect was refused for good, with @code, and nothing runs. */
static void
assert_refused (Fixture    *f,
                gint        code,
                const char *words)
{
  wait_lost (f);
  g_assert_cmpuint (f->lost, ==, 2);
  g_assert_false (f->lost_reconnecting);
  g_assert_error (f->lost_error, VHOST_USER_ERROR, code);
  g_assert_nonnull (strstr (f->lost_error->message, words));
  g_assert_cmpuint (f->reconnected, ==, 0);
  g_assert_cmpint (vhost_user_device_get_state (f->device), ==, VHOST_USER_DEVICE_STATE_DISCONNECTED);
  g_assert_false (vhost_user_frontend_get_connected (f->frontend));
}

/* Once the right back-end is back, an explicit reconnect gives it the
 * device's state again. */
static void
recover (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  stop_backend (f, SIGKILL);
  start_example (f, N_RINGS, 0);
  g_assert_true (vhost_user_device_reconnect (f->device, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (vhost_user_device_get_state (f->device), ==, VHOST_USER_DEVICE_STATE_RUNNING);
  write_read_round (f, 2, 200, 9);
}

static void
test_fewer_queues (Fixture       *f,
                   gconstpointer  data)
{
  start_example (f, N_RINGS, 0);
  device_setup (f, &split_variant, FALSE);
  enable_reconnect (f);
  start_device (f);
  write_read_round (f, 2, 0, 1);

  lose_backend (f);
  start_example (f, 1, 0);
  assert_refused (f, VHOST_USER_ERROR_INVALID_PARAM, "queues");
  recover (f);
}

static void
test_fewer_features (Fixture       *f,
                     gconstpointer  data)
{
  start_example (f, N_RINGS, 0);
  device_setup (f, &split_variant, FALSE);
  enable_reconnect (f);
  start_device (f);
  write_read_round (f, 2, 0, 1);
  g_assert_true (vhost_user_device_get_acked_features (f->device) & VHOST_USER_FEATURE (VIRTIO_BLK_F_FLUSH));

  lose_backend (f);
  start_peer (f, "fewer-features");
  assert_refused (f, VHOST_USER_ERROR_FEATURE_MISMATCH, "features");
  recover (f);
}

static void
peer_exited (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (g_subprocess_wait_check_finish (G_SUBPROCESS (source), result, &error));
  g_assert_no_error (error);
  *(gboolean *) user_data = TRUE;
}

/* The first back-end to answer the reconnect hangs up after the first
 * request; the device dials again and gets the real one. */
static void
test_dropped_mid_replay (Fixture       *f,
                         gconstpointer  data)
{
  static const VhostUserDeviceState expected[] = {
    VHOST_USER_DEVICE_STATE_DISCONNECTED, VHOST_USER_DEVICE_STATE_NEGOTIATING,
    VHOST_USER_DEVICE_STATE_DISCONNECTED, VHOST_USER_DEVICE_STATE_NEGOTIATING, VHOST_USER_DEVICE_STATE_RUNNING,
  };
  g_autoptr(GError) error = NULL;
  gboolean exited = FALSE;
  Req *req;

  start_example (f, N_RINGS, 0);
  device_setup (f, &split_variant, FALSE);
  enable_reconnect (f);
  start_device (f);
  write_read_round (f, 2, 0, 1);
  /* memory added at run time is replayed too */
  f->region2 = vhost_user_memory_region_new_memfd (REGION2_GPA, REGION2_SIZE, &error);
  g_assert_no_error (error);
  g_assert_true (vhost_user_device_add_memory (f->device, f->region2, NULL, &error));
  g_assert_no_error (error);

  lose_backend (f);
  start_peer (f, "hang-up");
  g_subprocess_wait_check_async (f->backend, NULL, peer_exited, &exited);
  g_assert_true (test_iterate_until (NULL, &exited, WAIT_MS));
  g_clear_object (&f->backend);
  g_assert_cmpuint (f->reconnected, ==, 0);

  start_example (f, N_RINGS, 0);
  wait_reconnected (f);
  g_assert_cmpuint (f->lost, ==, 1);
  g_assert_cmpuint (f->attempts->len, >=, 2);
  assert_attempts_count_up (f);
  assert_states (f, expected, G_N_ELEMENTS (expected));
  write_read_round (f, 2, 0, 2);
  req = submit (f, 0, 0, VIRTIO_BLK_T_IN, 1, 2, REGION2_GPA + 0x1000);
  kick (f, 0);
  wait_idle (f);
  assert_done (f, req);
}

/* close() lets the back-end go, says nothing of it (no backend-lost),
 * and stops an automatic reconnect under way; reconnect() gives the
 * state again, behind the cancelled one. */
static void
test_close (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  AsyncWait w;

  start_example (f, N_RINGS, 0);
  device_setup (f, &split_variant, FALSE);
  enable_reconnect (f);
  start_device (f);
  write_read_round (f, 2, 0, 1);

  vhost_user_device_close (f->device);
  g_assert_cmpint (vhost_user_device_get_state (f->device), ==, VHOST_USER_DEVICE_STATE_DISCONNECTED);
  g_assert_false (vhost_user_frontend_get_connected (f->frontend));
  g_assert_true (vhost_user_device_reconnect (f->device, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (vhost_user_device_get_state (f->device), ==, VHOST_USER_DEVICE_STATE_RUNNING);
  g_assert_cmpuint (f->lost, ==, 0);
  g_assert_cmpuint (f->reconnected, ==, 1);
  write_read_round (f, 2, 0, 2);

  /* now while the device dials a back-end that is not there */
  lose_backend (f);
  g_assert_true (test_iterate_until (NULL, &f->dialling, WAIT_MS));
  vhost_user_device_close (f->device);
  g_assert_cmpint (vhost_user_device_get_state (f->device), ==, VHOST_USER_DEVICE_STATE_DISCONNECTED);
  start_example (f, N_RINGS, 0);
  async_init (&w);
  vhost_user_device_reconnect_async (f->device, NULL, got_result, &w);
  async_run (&w);
  g_assert_true (vhost_user_device_reconnect_finish (f->device, w.result, &error));
  g_assert_no_error (error);
  async_clear (&w);
  g_assert_cmpint (vhost_user_device_get_state (f->device), ==, VHOST_USER_DEVICE_STATE_RUNNING);
  /* the cancelled reconnect said nothing more */
  g_assert_cmpuint (f->lost, ==, 1);
  g_assert_cmpuint (f->reconnected, ==, 2);
  write_read_round (f, 2, 0, 3);
  stop_device (f);
  assert_bases (f);
}

/* --- 5. qemu-storage-daemon --- */

static void
test_qsd_io (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  Req *req;

  if (!start_qsd (f))
    return;
  device_setup (f, &split_variant, FALSE);
  start_device (f);
  write_read_round (f, 4, 0, 1);
  assert_image (f, 1002, 1);
  stop_device (f);
  assert_bases (f);
  start_device (f);
  write_read_round (f, 4, 0, 2);

  f->region2 = vhost_user_memory_region_new_memfd (REGION2_GPA, REGION2_SIZE, &error);
  g_assert_no_error (error);
  g_assert_true (vhost_user_device_add_memory (f->device, f->region2, NULL, &error));
  g_assert_no_error (error);
  req = submit (f, 1, 0, VIRTIO_BLK_T_OUT, 55, 3, REGION2_GPA + 0x2000);
  kick (f, 1);
  wait_idle (f);
  assert_done (f, req);
  assert_image (f, 55, 3);
  req = submit (f, 1, 0, VIRTIO_BLK_T_IN, 55, 3, REGION2_GPA + 0x4000);
  kick (f, 1);
  wait_idle (f);
  assert_done (f, req);
  g_assert_true (vhost_user_device_remove_memory (f->device, f->region2, NULL, &error));
  g_assert_no_error (error);
  write_read_round (f, 4, 0, 4);
  stop_device (f);
  assert_bases (f);
}

/* qemu-storage-daemon has no in-flight area: a request made available
 * and not yet used when it dies is at risk, and the device says so. */
static void
test_qsd_killed (Fixture       *f,
                 gconstpointer  data)
{
  static const VhostUserDeviceState expected[] = {
    VHOST_USER_DEVICE_STATE_DISCONNECTED, VHOST_USER_DEVICE_STATE_NEGOTIATING, VHOST_USER_DEVICE_STATE_RUNNING,
  };
  Req *req;

  if (!start_qsd (f))
    return;
  device_setup (f, &split_variant, FALSE);
  enable_reconnect (f);
  start_device (f);
  g_assert_false (vhost_user_device_get_acked_protocol_features (f->device) &
                  VHOST_USER_PROTOCOL_FEATURE_INFLIGHT_SHMFD);
  write_read_round (f, 2, 0, 1);

  /* qemu-storage-daemon reads a ring only when kicked: this one stays
   * outstanding until the device kicks after the reconnect */
  req = submit (f, 0, 0, VIRTIO_BLK_T_IN, 1, 1, 0);
  lose_backend (f);
  g_assert_cmpuint (req->completions, ==, 0);
  g_assert_true (start_qsd (f));
  wait_reconnected (f);
  g_assert_cmpuint (f->at_risk_signals, ==, 1);
  g_assert_cmpint (f->at_risk[0], ==, 1);
  g_assert_cmpint (f->at_risk[1], ==, 0);
  wait_idle (f);
  assert_done (f, req);
  assert_states (f, expected, G_N_ELEMENTS (expected));
  write_read_round (f, 2, 0, 2);
  stop_device (f);
  assert_bases (f);
}

/* --- 6. calls turned into signals --- */

static void
test_watch_calls (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  guint fds;
  Req *req;

  start_example (f, N_RINGS, 0);
  fds = test_count_open_fds ();
  device_setup (f, &split_variant, TRUE);
  g_object_set (f->device, "watch-calls", TRUE, NULL);
  g_signal_connect (f->device, "ring-call", G_CALLBACK (on_ring_call), f);
  g_signal_connect (f->device, "ring-call::0", G_CALLBACK (on_ring_call_detail0), f);
  start_device (f);

  req = submit (f, 0, 0, VIRTIO_BLK_T_OUT, 9, 1, 0);
  kick (f, 0);
  wait_req (f, req);
  assert_done (f, req);
  /* the used ring may be seen before the call's watch runs */
  wait_ring_call (f, 0);
  g_assert_cmpuint (f->ring_calls[0], >=, 1);
  g_assert_cmpuint (f->ring_calls[1], ==, 0);
  g_assert_cmpuint (f->ring_calls_detail0, ==, f->ring_calls[0]);

  req = submit (f, 1, 1, VIRTIO_BLK_T_IN, 9, 1, 0);
  kick (f, 1);
  wait_req (f, req);
  assert_done (f, req);
  wait_ring_call (f, 1);
  g_assert_cmpuint (f->ring_calls[1], >=, 1);
  g_assert_cmpuint (f->ring_calls_detail0, ==, f->ring_calls[0]);
  stop_device (f);
  assert_bases (f);

  /* everything the device opened is closed with it */
  device_teardown (f);
  g_assert_cmpuint (test_count_open_fds (), ==, fds);
}

/* --- 7. what the back-end is handed --- */

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

/* A memfd the peer holds the same file of: no further seal can be added
 * (one against writes would keep whoever maps it next from mapping it
 * writable). */
static void
assert_sealed (int         fd,
               const char *what)
{
  int seals = fcntl (fd, F_GET_SEALS);

  g_test_message ("%s: seals 0x%x", what, seals);
  g_assert_cmpint (seals, >=, 0);
  g_assert_cmpint (seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), ==, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
  g_assert_cmpint (fcntl (fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE), ==, -1);
  g_assert_cmpint (errno, ==, EPERM);
}

/* The dirty log is a memfd the back-end gets: one that truncates it must
 * not kill the VMM at its next look at the log (SIGBUS). The test
 * truncates its own fd of the file, as the back-end would its copy. In a
 * child, so that a SIGBUS fails the test rather than the whole program.
 * The log, guest memory and the back-end's in-flight area are sealed
 * against further seals too. */
static void
test_log_truncated (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) log = NULL;
  g_autoptr(GDir) fds = NULL;
  const char *name;
  gboolean truncated;
  int log_fd = -1, errsv;
  guint memory_fds = 0, inflight_fds = 0;
  Req *req;

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }

  start_example (f, N_RINGS, 0);
  device_setup (f, &split_variant, FALSE);
  start_device (f);
  g_assert_true (vhost_user_device_set_logging (f->device, TRUE, NULL, &error));
  g_assert_no_error (error);
  req = submit (f, 0, 0, VIRTIO_BLK_T_OUT, 1, 1, 0);
  kick (f, 0);
  wait_req (f, req);
  assert_done (f, req);

  fds = g_dir_open ("/proc/self/fd", 0, &error);
  g_assert_no_error (error);
  while ((name = g_dir_read_name (fds)) != NULL)
    {
      g_autofree char *path = g_build_filename ("/proc/self/fd", name, NULL);
      g_autofree char *target = g_file_read_link (path, NULL);

      if (target != NULL && strstr (target, "memfd:vhost-user-log") != NULL)
        log_fd = atoi (name);
      if (target != NULL && strstr (target, "memfd:vhost-user-guest") != NULL && ++memory_fds)
        assert_sealed (atoi (name), "guest memory");
      if (target != NULL && strstr (target, "memfd:vhost-user-inflight") != NULL && ++inflight_fds)
        assert_sealed (atoi (name), "in-flight area");
    }
  g_assert_cmpint (log_fd, >=, 0);
  g_assert_cmpuint (memory_fds, >, 0);
  g_assert_cmpuint (inflight_fds, >, 0);
  assert_sealed (log_fd, "dirty log");
  truncated = ftruncate (log_fd, 0) == 0;
  errsv = errno;

  log = vhost_user_device_take_dirty_log (f->device);
  g_assert_nonnull (log);
  /* (the status byte the back-end wrote marks a page) */
  g_assert_cmpuint (g_bytes_get_size (log), >, 0);
  g_assert_false (truncated);
  g_assert_cmpint (errsv, ==, EPERM);
  stop_device (f);
}

/* The back-end stays away longer than one dial waits for it (the
 * front-end's timeout): the device dials again, with no limit by
 * default, and gets it once it is back. */
static void
test_long_outage (Fixture       *f,
                  gconstpointer  data)
{
  start_example (f, N_RINGS, 0);
  device_setup (f, &split_variant, FALSE);
  enable_reconnect (f);
  start_device (f);
  write_read_round (f, 2, 0, 1);
  vhost_user_frontend_set_timeout (f->frontend, 200);

  lose_backend (f);
  /* a dial gave up, and another one is on its way */
  g_assert_true (test_iterate_until (NULL, &f->second_attempt, WAIT_MS));
  g_assert_cmpuint (f->lost, ==, 1);
  start_example (f, N_RINGS, 0);
  wait_reconnected (f);
  g_assert_cmpuint (f->lost, ==, 1);
  assert_attempts_count_up (f);
  write_read_round (f, 2, 0, 2);
}

/* With a limit, the device gives up after that many dials, and says so. */
static void
test_attempts_limit (Fixture       *f,
                     gconstpointer  data)
{
  start_example (f, N_RINGS, 0);
  device_setup (f, &split_variant, FALSE);
  enable_reconnect (f);
  g_object_set (f->device, "reconnect-attempts", 2, NULL);
  start_device (f);
  /* short dials from here on (after the start: a loaded machine takes
   * longer than that to answer a request) */
  vhost_user_frontend_set_timeout (f->frontend, 100);

  lose_backend (f);
  wait_lost (f);
  g_assert_cmpuint (f->lost, ==, 2);
  g_assert_false (f->lost_reconnecting);
  g_assert_error (f->lost_error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_CONNECT);
  g_assert_nonnull (strstr (f->lost_error->message, "2 attempts"));
  g_assert_cmpuint (f->attempts->len, ==, 2);
  assert_attempts_count_up (f);
  g_assert_cmpuint (f->reconnected, ==, 0);
  g_assert_cmpint (vhost_user_device_get_state (f->device), ==, VHOST_USER_DEVICE_STATE_DISCONNECTED);
  vhost_user_frontend_set_timeout (f->frontend, WAIT_MS);
  recover (f);
}

/* Lost while stopped: the device comes back stopped (setup replayed,
 * no ring started), and starts from the bases it collected. */
static void
test_reconnect_stopped (Fixture       *f,
                        gconstpointer  data)
{
  static const VhostUserDeviceState expected[] = {
    VHOST_USER_DEVICE_STATE_DISCONNECTED, VHOST_USER_DEVICE_STATE_NEGOTIATING, VHOST_USER_DEVICE_STATE_STOPPED,
  };

  start_example (f, N_RINGS, 0);
  device_setup (f, &split_variant, FALSE);
  enable_reconnect (f);
  start_device (f);
  write_read_round (f, 2, 0, 1);
  stop_device (f);
  assert_bases (f);

  lose_backend (f);
  start_example (f, N_RINGS, 0);
  wait_reconnected (f);
  assert_states (f, expected, G_N_ELEMENTS (expected));
  start_device (f);
  write_read_round (f, 2, 0, 2);
  stop_device (f);
  assert_bases (f);
}

/* A back-end that answers a stop wrongly (@peer: see wild_base()),
 * whether by GET_VRING_BASE or, for a stop that does not drain without
 * an in-flight area, GET_VRING_BASE_SKIP_DRAIN: the stop fails, the
 * rings keep the bases they had, and the device hangs up, rather than
 * staying "running" with its rings disabled, some stopped, and a start
 * that would do nothing (from two reviews); reconnected, it is stopped. */
static void
assert_stop_refused (Fixture       *f,
                     const Variant *variant,
                     const char    *peer)
{
  g_autoptr(GError) error = NULL;

  start_peer (f, peer);
  device_setup (f, variant, FALSE);
  if (variant->no_inflight)
    {
      g_object_set (f->device, "drain-on-stop", FALSE, NULL);
      vhost_user_device_set_protocol_features (f->device, vhost_user_device_get_protocol_features (f->device) |
                                                          VHOST_USER_PROTOCOL_FEATURE_GET_VRING_BASE_SKIP_DRAIN);
    }
  start_device (f);
  g_assert_false (vhost_user_device_stop (f->device, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE);
  g_test_message ("%s", error->message);
  for (guint i = 0; i < N_RINGS; i++)
    g_assert_cmphex (vhost_user_device_get_ring_base (f->device, i), ==, variant->packed ? 0x80008000 : 0);
  g_assert_cmpint (vhost_user_device_get_state (f->device), ==, VHOST_USER_DEVICE_STATE_DISCONNECTED);
  g_clear_error (&error);
  g_assert_true (vhost_user_device_reconnect (f->device, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (vhost_user_device_get_state (f->device), ==, VHOST_USER_DEVICE_STATE_STOPPED);
}

static void
test_wild_base (Fixture       *f,
                gconstpointer  data)
{
  assert_stop_refused (f, data, "wild-base");
}

/* GET_VRING_BASE_SKIP_DRAIN answered, with a base a ring may have, for
 * the other ring: the stop fails, rather than keeping that base for the
 * ring asked about (GET_VRING_BASE's answer was checked, this one not). */
static void
test_other_ring (Fixture       *f,
                 gconstpointer  data)
{
  assert_stop_refused (f, data, "other-ring");
}

/* --- peers of our own: this binary, re-executed --- */

/* Accepts one front-end, reads its first request, hangs up. */
static int
peer_hang_up (const char *path)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  guint32 header[3];
  guint8 payload[256];
  int listener, fd;

  g_unlink (path);
  listener = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  strncpy (addr.sun_path, path, sizeof addr.sun_path - 1);
  if (listener < 0 || bind (listener, (struct sockaddr *) &addr, sizeof addr) != 0 || listen (listener, 1) != 0 ||
      (fd = accept (listener, NULL, NULL)) < 0)
    return 1;
  close (listener);
  if (read (fd, header, sizeof header) != sizeof header ||
      (header[2] > 0 && read (fd, payload, MIN (header[2], sizeof payload)) <= 0))
    return 2;
  close (fd);
  g_unlink (path);
  return 0;
}

static void
fewer_features_added (VhostUserServer  *server,
                      VhostUserBackend *backend,
                      gpointer          user_data)
{
  example_blk_device_set_geometry (EXAMPLE_BLK_DEVICE (backend), IMAGE_SIZE, 512, N_RINGS);
  vhost_user_backend_set_features (backend, vhost_user_backend_get_features (backend) &
                                            ~VHOST_USER_FEATURE (VIRTIO_BLK_F_FLUSH));
}

/* The example device as the library builds it, less FLUSH. */
static int
peer_fewer_features (const char *path)
{
  g_autoptr(VhostUserServer) server = vhost_user_server_new (EXAMPLE_TYPE_BLK_DEVICE, FALSE);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GError) error = NULL;

  g_signal_connect (server, "backend-added", G_CALLBACK (fewer_features_added), NULL);
  if (!vhost_user_server_listen (server, path, &error))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  g_main_loop_run (loop);
  return 0;
}

/* Stops no ring: says each stands at 0x7fff7fff, or (other_ring) that
 * the other one stands at 0. */
static gboolean other_ring;

static gboolean
wild_base (VhostUserBackend    *backend,
           VhostUserInvocation *invocation,
           guint                index,
           gpointer             user_data)
{
  const guint32 state[2] = { other_ring ? index ^ 1 : index, other_ring ? 0 : 0x7fff7fff };
  g_autoptr(GBytes) payload = g_bytes_new (state, sizeof state);

  vhost_user_invocation_return_bytes (invocation, payload, -1);
  return TRUE;
}

static void
wild_base_added (VhostUserServer  *server,
                 VhostUserBackend *backend,
                 gpointer          user_data)
{
  example_blk_device_set_geometry (EXAMPLE_BLK_DEVICE (backend), IMAGE_SIZE, 512, N_RINGS);
  g_signal_connect (backend, "get-vring-base", G_CALLBACK (wild_base), NULL);
  g_signal_connect (backend, "get-vring-base-skip-drain", G_CALLBACK (wild_base), NULL);
}

/* The example device, but for the bases it gives. */
static int
peer_wild_base (const char *path)
{
  g_autoptr(VhostUserServer) server = vhost_user_server_new (EXAMPLE_TYPE_BLK_DEVICE, FALSE);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GError) error = NULL;

  g_signal_connect (server, "backend-added", G_CALLBACK (wild_base_added), NULL);
  if (!vhost_user_server_listen (server, path, &error))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  g_main_loop_run (loop);
  return 0;
}

int
main (int   argc,
      char *argv[])
{
  if (argc == 4 && g_str_equal (argv[1], "--peer"))
    {
      if (g_str_equal (argv[2], "hang-up"))
        return peer_hang_up (argv[3]);
      if (g_str_equal (argv[2], "fewer-features"))
        return peer_fewer_features (argv[3]);
      if (g_str_equal (argv[2], "wild-base"))
        return peer_wild_base (argv[3]);
      if (g_str_equal (argv[2], "other-ring"))
        {
          other_ring = TRUE;
          return peer_wild_base (argv[3]);
        }
      return 3;
    }

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  self_exe = g_file_read_link ("/proc/self/exe", NULL);
  g_assert_nonnull (self_exe);
  /* not leaks of any test: the default context's wake-up fd, GTask's
   * worker context */
  g_main_context_default ();
  g_type_ensure (G_TYPE_TASK);

#define ADD(path, data, func) g_test_add ("/device/" path, Fixture, data, fixture_setup, func, fixture_teardown)
  ADD ("start-stop/split", &split_variant, test_start_stop);
  ADD ("start-stop/packed", &packed_variant, test_start_stop);
  /* a back-end with an in-flight area may go on from the used index
   * whatever base it is given: without one, only the base says where */
  ADD ("start-stop/split-no-inflight", &split_no_inflight, test_start_stop);
  ADD ("start-stop/packed-no-inflight", &packed_no_inflight, test_start_stop);
  ADD ("memory/mem-slots", &split_variant, test_memory);
  ADD ("memory/mem-table", &table_variant, test_memory);
  ADD ("reconnect/split", &split_variant, test_reconnect);
  ADD ("reconnect/packed", &packed_variant, test_reconnect);
  ADD ("reconnect/split-no-inflight", &split_no_inflight, test_reconnect);
  ADD ("reconnect/packed-no-inflight", &packed_no_inflight, test_reconnect);
  ADD ("reconnect/split-out-of-order", &split_out_of_order, test_reconnect);
  ADD ("reconnect/packed-out-of-order", &packed_out_of_order, test_reconnect);
  /* bases and requests at risk from the rings in shared memory */
  ADD ("reconnect/by-address-no-inflight", &by_address_no_inflight, test_reconnect);
  ADD ("reconnect/dropped-mid-replay", NULL, test_dropped_mid_replay);
  ADD ("reconnect/long-outage", NULL, test_long_outage);
  ADD ("reconnect/attempts-limit", NULL, test_attempts_limit);
  ADD ("reconnect/stopped", NULL, test_reconnect_stopped);
  ADD ("reconnect/close", NULL, test_close);
  ADD ("refused/fewer-queues", NULL, test_fewer_queues);
  ADD ("refused/fewer-features", NULL, test_fewer_features);
  ADD ("refused/wild-base/split", &split_variant, test_wild_base);
  ADD ("refused/wild-base/packed", &packed_variant, test_wild_base);
  ADD ("refused/wild-base/skip-drain", &split_no_inflight, test_wild_base);
  ADD ("refused/other-ring/skip-drain", &split_no_inflight, test_other_ring);
  ADD ("qsd/io", NULL, test_qsd_io);
  ADD ("qsd/killed", NULL, test_qsd_killed);
  ADD ("watch-calls", NULL, test_watch_calls);
  ADD ("log-truncated", NULL, test_log_truncated);

#undef ADD

  return g_test_run ();
}
