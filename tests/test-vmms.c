/* test-vmms.c: the example blk device under the front-ends of other VMMs
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * QEMU is one front-end of many. Each case here plays another one, as
 * its source sets a vhost-user-blk device up and drives it, against the
 * example device (examples/vhost-user-blk, $VHOST_USER_BLK) serving an
 * image file: the order of its requests, the features and protocol
 * features it asks for, whether it sets NEED_REPLY, its queue count and
 * size, how it lays out and describes guest memory, how it reads the
 * config space, how it stops, and where it does one, how it reconnects.
 * Then real block I/O on every queue, read back through the ring and
 * checked in the image file, and the device's log holds no refusal.
 *
 * The profiles were written from the front-ends' own code (read, not
 * copied):
 *
 * - cloud-hypervisor, virtio-devices/src/vhost_user/{blk,vu_common_ctrl,mod}.rs
 * - crosvm, devices/src/virtio/vhost_user_frontend/mod.rs and
 *   third_party/vmm_vhost/src/backend_client.rs, vm_memory/src/guest_memory.rs
 * - Firecracker, src/vmm/src/devices/virtio/vhost_user.rs,
 *   src/vmm/src/devices/virtio/block/vhost_user/, src/vmm/src/vstate/memory.rs
 * - OpenVMM, vm/devices/virtio/vhost_user_frontend/src/{lib,resolver}.rs
 * - SPDK's initiator, lib/virtio/virtio_vhost_user.c and lib/virtio/virtio.c
 * - DPDK's virtio_user, drivers/net/virtio/virtio_user/{vhost_user,virtio_user_dev}.c
 *   (a net front-end: its habits played on the blk device, two queues as
 *   one rx/tx pair)
 *
 * Each profile's steps are a short script; see run_step() for the words.
 */

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <vhost-user-glib.h>

#include "test-util.h"
#include "vhost-user-memory-table-private.h"
#include "vhost-user-wire-private.h"

#define REQ(name)     VHOST_USER_REQUEST_##name
#define F(bit)        (G_GUINT64_CONSTANT (1) << (bit))
#define PF(name)      VHOST_USER_PROTOCOL_FEATURE_##name

/* virtio and virtio-blk feature bits */
#define F_SIZE_MAX          F (1)
#define F_SEG_MAX           F (2)
#define F_GEOMETRY          F (4)
#define F_RO                F (5)
#define F_BLK_SIZE          F (6)
#define F_FLUSH             F (9)
#define F_TOPOLOGY          F (10)
#define F_CONFIG_WCE        F (11)
#define F_MQ                F (12)
#define F_DISCARD           F (13)
#define F_WRITE_ZEROES      F (14)
#define F_INDIRECT          F (28)
#define F_EVENT_IDX         F (29)
#define F_PROTOCOL_FEATURES F (30)
#define F_VERSION_1         F (32)
#define F_RING_PACKED       F (34)
#define F_IN_ORDER          F (35)
#define F_ORDER_PLATFORM    F (36)
#define F_NOTIFICATION_DATA F (38)
#define F_SUSPEND           F (42)

/* what a Linux guest's virtio-blk driver takes when offered */
#define LINUX_BLK (F_SIZE_MAX | F_SEG_MAX | F_GEOMETRY | F_RO | F_BLK_SIZE | F_FLUSH | F_TOPOLOGY | \
                   F_CONFIG_WCE | F_MQ | F_DISCARD | F_WRITE_ZEROES | F_INDIRECT | F_EVENT_IDX | F_VERSION_1)

#define IMAGE_MB      8
#define REGION_SIZE   (8 << 20)
#define BUFFERS_AT    (2 << 20)     /* in each region: rings below, requests' buffers above */
#define GIB4          G_GUINT64_CONSTANT (0x100000000)
#define REQUESTS      8             /* per queue and round */
#define SECTORS       8             /* per request */
#define DESCRIPTORS   3             /* per request: header, data, status */

typedef enum {
  MEM_FD_PER_REGION,  /* a memfd per region, host addresses */
  MEM_ONE_FD,         /* one memfd, regions at offsets in it, host addresses */
  MEM_GPA_2_52,       /* one memfd at offsets, front-end address = GPA + 2^52 */
  MEM_GPA_IS_VA,      /* one region whose guest address is its host address */
} MemLayout;

typedef enum {
  CONFIG_WHOLE,       /* one read from 0 of the blk config's size */
  CONFIG_FIELDS,      /* the fields a Linux guest reads, each by its own size */
  CONFIG_REGISTERS,   /* the guest's reads as 4-byte registers */
  CONFIG_ALL_256,     /* offset 0, size 256, for every field */
} ConfigReads;

typedef struct {
  const char  *name;
  guint64      features;           /* what the front-end (and its guest) would take */
  guint64      protocol_features;  /* what it asks for */
  gboolean     acks;               /* NEED_REPLY once REPLY_ACK is on (a step may say otherwise) */
  guint32      config_flags;       /* GET_CONFIG's flags field */
  guint        config_size;        /* CONFIG_WHOLE: how much */
  ConfigReads  config;
  MemLayout    memory;
  guint        n_regions;
  guint64      second_offset;      /* MEM_GPA_IS_VA: where in the memfd the region starts */
  guint        n_queues;
  guint        queue_size;
  gboolean     packed;
  const char  *open;               /* the device is created */
  const char  *start;              /* the driver starts it */
  const char  *stop;               /* it is stopped, or the front-end goes */
  const char  *reconnect;          /* a new connection's replay, or NULL */
} Vmm;

static const Vmm vmms[] = {
  {
    /* blk.rs: SET_OWNER and GET_FEATURES at connect; NEED_REPLY on every
     * request once REPLY_ACK is on (set_hdr_flags); a GET_CONFIG of the
     * whole config struct (offset 0 since 15d34ff). Activate: features,
     * memory, every ring's size first (for SPDK's sake), the in-flight
     * area, then per ring address, base, call, kick, and all enabled.
     * Guest memory is a memfd per region (create_anonymous_file), host
     * addresses. It offers LOG_ALL too, which no guest acks: that bit
     * goes out only while a migration logs. Reset: disable and
     * GET_VRING_BASE each. Reconnect:
     * SET_OWNER, GET_FEATURES, SET_PROTOCOL_FEATURES from what it had,
     * then the setup again from the used indices, the in-flight fd kept. */
    "cloud-hypervisor",
    F_SIZE_MAX | F_SEG_MAX | F_GEOMETRY | F_RO | F_BLK_SIZE | F_FLUSH | F_TOPOLOGY | F_CONFIG_WCE |
    F_DISCARD | F_WRITE_ZEROES | F_MQ | F_INDIRECT | F_EVENT_IDX | F_VERSION_1 | F_IN_ORDER |
    F_ORDER_PLATFORM | F_NOTIFICATION_DATA | F_PROTOCOL_FEATURES,
    PF (CONFIG) | PF (MQ) | PF (CONFIGURE_MEM_SLOTS) | PF (REPLY_ACK) | PF (INFLIGHT_SHMFD) | PF (LOG_SHMFD),
    TRUE, 1, 60, CONFIG_WHOLE, MEM_FD_PER_REGION, 2, 0, 2, 128, FALSE,
    "owner get-features get-protocol set-protocol queue-num config",
    "features mem num* inflight q:ABCK enable* io",
    "disable-base* io-check",
    "close owner get-features set-protocol features mem num* inflight q:ABCK enable* io disable-base*",
  },
  {
    /* mod.rs: SET_OWNER, GET_FEATURES, protocol features (REPLY_ACK
     * asked for, NEED_REPLY never set), the back-end channel, GET_QUEUE_NUM;
     * every queue Queue::MAX_SIZE, 32768. Config reads as the guest makes
     * them, each field by its size, flags WRITABLE. Activate: features,
     * memory (one shared memory object, regions at offsets in it, host
     * addresses), then per ring size, address, base, call, kick, enable.
     * Reset: disable and GET_VRING_BASE each. */
    "crosvm",
    LINUX_BLK | F_SUSPEND | F_PROTOCOL_FEATURES,
    PF (CONFIG) | PF (MQ) | PF (BACKEND_REQ) | PF (DEVICE_STATE) | PF (SHMEM) | PF (REPLY_ACK),
    FALSE, 1, 0, CONFIG_FIELDS, MEM_ONE_FD, 2, 0, 2, 32768, FALSE,
    "owner get-features get-protocol set-protocol backend-channel queue-num config",
    "features mem q:NABCKE io",
    "disable-base* io-check",
    NULL,
  },
  {
    /* vhost_user.rs and block/vhost_user: SET_OWNER at connect, only
     * CONFIG asked for (so no NEED_REPLY), GET_CONFIG(0, 60) with flags
     * WRITABLE at creation and again on a config update. Activate:
     * features, memory (one memfd, regions at offsets, host addresses),
     * every ring's size first, then per ring address, base, call, kick,
     * enable. One queue of 256. No reset to the back-end. */
    "firecracker",
    F_VERSION_1 | F_EVENT_IDX | F_PROTOCOL_FEATURES | F_RO | F_FLUSH,
    PF (CONFIG),
    TRUE, 1, 60, CONFIG_WHOLE, MEM_ONE_FD, 2, 0, 1, 256, FALSE,
    "owner get-features get-protocol set-protocol config",
    "features mem num* q:ABCKE io config",
    "io-check",
    NULL,
  },
  {
    /* lib.rs: GET_FEATURES, protocol features (MQ, REPLY_ACK, CONFIG,
     * RESET_DEVICE; SET_PROTOCOL_FEATURES without NEED_REPLY), SET_OWNER
     * after them and without NEED_REPLY, GET_QUEUE_NUM. Config reads are
     * the guest's 4-byte register reads, proxied, over 256 bytes. Start:
     * memory first (user address = GPA + 2^52), then features (its
     * transport adds RING_PACKED: a packed ring, base 0x80008000), then
     * per ring size, address, base, kick, call, enable, NEED_REPLY on each.
     * Stop: disable, GET_VRING_BASE, then RESET_DEVICE. */
    "openvmm",
    LINUX_BLK | F_RING_PACKED | F_PROTOCOL_FEATURES,
    PF (MQ) | PF (REPLY_ACK) | PF (CONFIG) | PF (RESET_DEVICE),
    TRUE, 0, 0, CONFIG_REGISTERS, MEM_GPA_2_52, 2, 0, 1, 128, TRUE,
    "get-features get-protocol set-protocol -owner queue-num config",
    "mem features q:NABKCE io",
    "disable-base* reset-device io-check",
    NULL,
  },
  {
    /* virtio_vhost_user.c and virtio.c: SET_OWNER at init; GET_FEATURES,
     * SET_FEATURES, then the protocol features (MQ and CONFIG only: no
     * REPLY_ACK); every config field read as GET_CONFIG(0, 256), whose
     * reply must be 268 bytes. Queues: each enabled as it is allocated,
     * then at DRIVER_OK GET_QUEUE_NUM, every ring's call, the memory
     * (its hugepage files, guest address = its virtual address), a
     * GET_FEATURES to know the table was taken, then per ring size, base
     * 0, address, kick. Stop: GET_VRING_BASE each. */
    "spdk",
    F_BLK_SIZE | F_TOPOLOGY | F_MQ | F_RO | F_DISCARD | F_EVENT_IDX | F_VERSION_1 | F_PROTOCOL_FEATURES,
    PF (MQ) | PF (CONFIG),
    FALSE, 0, 0, CONFIG_ALL_256, MEM_GPA_IS_VA, 1, 0, 2, 512, FALSE,
    "owner get-features features get-protocol set-protocol config",
    "enable* queue-num call* mem get-features q:NBAK io",
    "base* io-check",
    NULL,
  },
  {
    /* vhost_user.c and virtio_user_dev.c (22.11): SET_OWNER, GET_FEATURES,
     * protocol features (MQ, REPLY_ACK, STATUS), GET_QUEUE_NUM. NEED_REPLY
     * only on SET_MEM_TABLE and SET_STATUS. Start: every ring's call,
     * features, the status on its way, memory (its memfd segments merged
     * per fd, guest address = virtual address, an offset into the fd),
     * per ring size, base 0, address, kick, then the pair enabled and
     * DRIVER_OK. Stop: the pair disabled, GET_VRING_BASE each. */
    "dpdk",
    F_VERSION_1 | F_EVENT_IDX | F_INDIRECT | F_PROTOCOL_FEATURES,
    PF (MQ) | PF (REPLY_ACK) | PF (STATUS),
    FALSE, 0, 0, CONFIG_WHOLE, MEM_GPA_IS_VA, 1, REGION_SIZE, 2, 256, FALSE,
    "owner get-features get-protocol set-protocol queue-num",
    "call* features +status:11 get-status +mem q:NBAK enable* +status:15 get-status io",
    "disable* base* io-check",
    NULL,
  },
};

typedef struct {
  int                    fd;          /* the memfd the region is in */
  guint64                gpa;
  guint64                uaddr;       /* its front-end address, as the VMM sends it */
  guint64                offset;      /* into the memfd */
  guint8                *vmm_map;     /* the VMM's own mapping of the memfd, or NULL */
  VhostUserMemoryRegion *region;      /* the same memory for the driver rings */
} Region;

typedef struct {
  const Vmm           *vmm;
  char                *dir;
  char                *image;
  char                *sock;
  char                *log;
  GSubprocess         *blk;
  VhostUserFrontend   *frontend;
  guint64              offered;
  guint64              acked;
  guint64              offered_protocol;
  guint64              acked_protocol;
  Region               regions[2];
  guint                n_regions;
  VhostUserDriverRing *rings[2];
  guint                n_rings;
  guint                round;        /* of I/O, for the patterns */
  int                  inflight_fd;
  guint64              inflight_size, inflight_offset;
} Fixture;

/* --- the device --- */

static void
start_blk (Fixture *f)
{
  const char *blk = g_getenv ("VHOST_USER_BLK");
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autoptr(GError) error = NULL;
  gint64 deadline;

  if (blk == NULL)
    {
      g_test_skip ("VHOST_USER_BLK is not set (run through meson test)");
      return;
    }
  /* --verbose: the log says every request, in order */
  g_subprocess_launcher_set_stdout_file_path (launcher, f->log);
  f->blk = g_subprocess_launcher_spawn (launcher, &error, blk, "--socket", f->sock, "--image", f->image,
                                        "--queues", "2", "--verbose", NULL);
  g_assert_no_error (error);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (!g_file_test (f->sock, G_FILE_TEST_EXISTS) && g_get_monotonic_time () < deadline)
    g_usleep (10000);
  g_assert_true (g_file_test (f->sock, G_FILE_TEST_EXISTS));
}

static char *
read_log (Fixture *f)
{
  g_autofree char *text = NULL;

  g_assert_true (g_file_get_contents (f->log, &text, NULL, NULL));
  return g_steal_pointer (&text);
}

/* Waits up to 5 s for @needle in the device's log. */
static gboolean
log_shows (Fixture    *f,
           const char *needle)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  do
    {
      g_autofree char *text = read_log (f);

      if (strstr (text, needle) != NULL)
        return TRUE;
      g_usleep (10000);
    }
  while (g_get_monotonic_time () < deadline);
  return FALSE;
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  int fd;

  f->vmm = data;
  f->inflight_fd = -1;
  f->dir = g_dir_make_tmp ("vhost-user-vmms-XXXXXX", &error);
  g_assert_no_error (error);
  f->image = g_build_filename (f->dir, "disk.img", NULL);
  f->sock = g_build_filename (f->dir, "blk.sock", NULL);
  f->log = g_build_filename (f->dir, "blk.log", NULL);
  fd = g_open (f->image, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, IMAGE_MB << 20), ==, 0);
  g_close (fd, NULL);
  start_blk (f);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  for (guint i = 0; i < f->n_rings; i++)
    g_clear_object (&f->rings[i]);
  if (f->frontend != NULL)
    vhost_user_frontend_close (f->frontend);
  g_clear_object (&f->frontend);
  for (guint i = 0; i < f->n_regions; i++)
    {
      Region *r = &f->regions[i];

      g_clear_pointer (&r->region, vhost_user_memory_region_unref);
      if (r->vmm_map != NULL)
        munmap (r->vmm_map, REGION_SIZE);
      /* regions of one memfd share it: the first closes it */
      if (r->fd >= 0 && (i == 0 || r->fd != f->regions[0].fd))
        g_close (r->fd, NULL);
    }
  if (f->inflight_fd >= 0)
    g_close (f->inflight_fd, NULL);
  if (f->blk != NULL)
    {
      g_subprocess_send_signal (f->blk, SIGTERM);
      g_subprocess_wait (f->blk, NULL, NULL);
      g_clear_object (&f->blk);
    }
  g_unlink (f->image);
  g_unlink (f->log);
  g_unlink (f->sock);
  g_rmdir (f->dir);
  g_free (f->image);
  g_free (f->sock);
  g_free (f->log);
  g_free (f->dir);
}

/* --- guest memory, laid out as the VMM does --- */

static void
setup_memory (Fixture *f)
{
  const Vmm *vmm = f->vmm;
  g_autoptr(GError) error = NULL;
  int shared = -1;

  f->n_regions = vmm->n_regions;
  if (vmm->memory != MEM_FD_PER_REGION)
    shared = test_memfd (vmm->memory == MEM_GPA_IS_VA ? vmm->second_offset + REGION_SIZE
                                                      : (gsize) vmm->n_regions * REGION_SIZE);
  for (guint i = 0; i < f->n_regions; i++)
    {
      Region *r = &f->regions[i];

      r->fd = shared >= 0 ? shared : test_memfd (REGION_SIZE);
      r->gpa = i * GIB4;
      r->offset = vmm->memory == MEM_FD_PER_REGION ? 0 :
                  vmm->memory == MEM_GPA_IS_VA ? vmm->second_offset : i * (guint64) REGION_SIZE;
      if (vmm->memory != MEM_GPA_2_52)
        {
          r->vmm_map = mmap (NULL, REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, r->offset);
          g_assert_true (r->vmm_map != MAP_FAILED);
        }
      switch (vmm->memory)
        {
        case MEM_FD_PER_REGION:
        case MEM_ONE_FD:
          r->uaddr = (guint64) (guintptr) r->vmm_map;
          break;
        case MEM_GPA_2_52:
          r->uaddr = r->gpa + (G_GUINT64_CONSTANT (1) << 52);
          break;
        case MEM_GPA_IS_VA:
          r->gpa = r->uaddr = (guint64) (guintptr) r->vmm_map;
          break;
        }
      /* the driver rings write through a mapping of their own; their
       * addresses are the VMM's */
      r->region = vhost_user_memory_region_new_map (r->gpa, REGION_SIZE, r->uaddr, r->offset, r->fd, &error);
      g_assert_no_error (error);
    }
}

static void
setup_rings (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  f->n_rings = MIN (f->vmm->n_queues, 2);
  for (guint q = 0; q < f->n_rings; q++)
    {
      VhostUserMemoryRegion *region = f->regions[q % f->n_regions].region;
      /* two rings in one region: the second 1 MiB after the first */
      guint64 at = q < f->n_regions ? 0 : (1 << 20);

      f->rings[q] = f->vmm->packed ? vhost_user_driver_ring_new_packed (region, at, f->vmm->queue_size, &error)
                                   : vhost_user_driver_ring_new (region, at, f->vmm->queue_size, &error);
      g_assert_no_error (error);
      vhost_user_driver_ring_set_event_idx (f->rings[q], (f->acked & F_EVENT_IDX) != 0);
    }
}

static void
send_mem_table (Fixture *f)
{
  g_autoptr(GUnixFDList) fds = g_unix_fd_list_new ();
  g_autoptr(GByteArray) payload = g_byte_array_new ();
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GError) error = NULL;
  VhostUserWireMemoryTableHeader header = { f->n_regions, 0 };

  g_byte_array_append (payload, (guint8 *) &header, sizeof header);
  for (guint i = 0; i < f->n_regions; i++)
    {
      Region *r = &f->regions[i];
      VhostUserWireMemoryRegion wire = { r->gpa, REGION_SIZE, r->uaddr, r->offset };

      g_byte_array_append (payload, (guint8 *) &wire, sizeof wire);
      g_unix_fd_list_append (fds, r->fd, &error);
      g_assert_no_error (error);
    }
  bytes = g_byte_array_free_to_bytes (g_steal_pointer (&payload));
  reply = vhost_user_frontend_request (f->frontend, REQ (SET_MEM_TABLE), bytes, fds, NULL, NULL, &error);
  g_assert_no_error (error);
}

/* --- the config space, read as the VMM reads it --- */

static GBytes *
get_config (Fixture *f,
            guint32  offset,
            guint32  size)
{
  g_autofree guint8 *request = g_malloc0 (VHOST_USER_CONFIG_HEADER_SIZE + size);
  VhostUserWireConfigHeader header = { offset, size, f->vmm->config_flags };
  g_autoptr(GBytes) payload = NULL;
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GError) error = NULL;
  VhostUserWireConfigHeader answer;
  gsize len;

  /* rust-vmm's front-ends, SPDK and OpenVMM send the header and room
   * for the bytes; the reply must be exactly that long */
  memcpy (request, &header, sizeof header);
  payload = g_bytes_new (request, VHOST_USER_CONFIG_HEADER_SIZE + size);
  reply = vhost_user_frontend_request (f->frontend, REQ (GET_CONFIG), payload, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (reply), ==, VHOST_USER_CONFIG_HEADER_SIZE + size);
  memcpy (&answer, g_bytes_get_data (reply, &len), sizeof answer);
  g_assert_cmpuint (answer.offset, ==, offset);
  g_assert_cmpuint (answer.size, ==, size);
  return g_bytes_new_from_bytes (reply, VHOST_USER_CONFIG_HEADER_SIZE, size);
}

static guint64
le (const guint8 *p,
    guint         width)
{
  guint64 value = 0;

  for (guint i = width; i-- > 0;)
    value = value << 8 | p[i];
  return value;
}

static void
read_config (Fixture *f)
{
  /* the fields a Linux virtio-blk driver reads: offset, size */
  static const struct { guint offset, size; } fields[] = {
    { 0, 8 }, { 8, 4 }, { 12, 4 }, { 20, 4 }, { 24, 1 }, { 25, 1 }, { 26, 2 }, { 28, 4 }, { 32, 1 }, { 34, 2 },
    { 36, 4 }, { 40, 4 }, { 44, 4 }, { 48, 4 }, { 52, 4 }, { 56, 1 },
  };
  guint8 config[256] = { 0 };
  gboolean seen[256] = { FALSE };
  guint64 capacity;

  switch (f->vmm->config)
    {
    case CONFIG_WHOLE:
      {
        g_autoptr(GBytes) bytes = get_config (f, 0, f->vmm->config_size);

        memcpy (config, g_bytes_get_data (bytes, NULL), f->vmm->config_size);
        memset (seen, TRUE, f->vmm->config_size);
      }
      break;
    case CONFIG_FIELDS:
    case CONFIG_REGISTERS:
    case CONFIG_ALL_256:
      for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
        {
          guint offset = fields[i].offset, size = fields[i].size;
          g_autoptr(GBytes) bytes = NULL;

          if (f->vmm->config == CONFIG_REGISTERS)
            {
              /* 4-byte aligned registers, an 8-byte field as two */
              offset &= ~3u;
              size = 4;
              for (guint k = 0; k < fields[i].size; k += 4)
                {
                  g_autoptr(GBytes) word = get_config (f, offset + k, 4);

                  memcpy (config + offset + k, g_bytes_get_data (word, NULL), 4);
                  memset (seen + offset + k, TRUE, 4);
                }
              continue;
            }
          if (f->vmm->config == CONFIG_ALL_256)
            {
              bytes = get_config (f, 0, 256);
              memcpy (config + offset, (const guint8 *) g_bytes_get_data (bytes, NULL) + offset, size);
            }
          else
            {
              bytes = get_config (f, offset, size);
              memcpy (config + offset, g_bytes_get_data (bytes, NULL), size);
            }
          memset (seen + offset, TRUE, size);
        }
      if (f->vmm->config == CONFIG_REGISTERS)
        {
          /* a register past the device's config reads as zero */
          g_autoptr(GBytes) past = get_config (f, 252, 4);

          g_assert_cmpuint (le (g_bytes_get_data (past, NULL), 4), ==, 0);
        }
      break;
    }

  /* what the device says of itself: the image's size; 2 queues */
  g_assert_true (seen[0]);
  capacity = le (config, 8);
  g_assert_cmpuint (capacity, ==, (IMAGE_MB << 20) / 512);
  if (seen[34])
    g_assert_cmpuint (le (config + 34, 2), ==, 2);
}

/* --- block I/O through the rings, checked in the image --- */

static void
fill (guint8  *buf,
      guint64  sector,
      guint    round,
      guint    queue)
{
  for (guint s = 0; s < SECTORS; s++)
    for (guint i = 0; i < 512; i += 8)
      {
        guint64 word = GUINT64_TO_LE (((sector + s) << 24) | ((guint64) round << 16) | ((guint64) queue << 12) | i |
                                      G_GUINT64_CONSTANT (0x5a00000000000000));

        memcpy (buf + s * 512 + i, &word, 8);
      }
}

static guint8 *
host_at (Fixture *f,
         guint    queue,
         guint64  offset)
{
  return (guint8 *) vhost_user_memory_region_get_host_addr (f->regions[queue % f->n_regions].region) + offset;
}

/* One request on ring @q: header, data, status; waited for. */
static void
blk_request (Fixture *f,
             guint    q,
             guint32  type,
             guint64  sector,
             guint    slot)
{
  g_autoptr(GError) error = NULL;
  guint64 ctrl = BUFFERS_AT + (q < f->n_regions ? 0 : (1 << 20)) + slot * 0x2000, data = ctrl + 0x1000;
  guint64 header[2] = { GUINT64_TO_LE (type), GUINT64_TO_LE (sector) };
  guint64 out_off[2] = { ctrl, data };
  guint32 out_len[2] = { 16, SECTORS * 512 };
  guint64 in_off[2] = { data, ctrl + 0xfff };
  guint32 in_len[2] = { SECTORS * 512, 1 };
  guint8 *mem = host_at (f, q, 0);
  guint head, used_head, len;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  memcpy (mem + ctrl, header, 16);
  mem[ctrl + 0xfff] = 0xff;
  if (type == 1)
    g_assert_true (vhost_user_driver_ring_add (f->rings[q], out_off, out_len, 2, in_off + 1, in_len + 1, 1, &head, &error));
  else
    g_assert_true (vhost_user_driver_ring_add (f->rings[q], out_off, out_len, 1, in_off, in_len, 2, &head, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_driver_ring_kick (f->rings[q], &error));
  g_assert_no_error (error);
  while (!vhost_user_driver_ring_get_used (f->rings[q], &used_head, &len))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (100);
    }
  vhost_user_driver_ring_clear_call (f->rings[q]);
  g_assert_cmpuint (used_head, ==, head);
  g_assert_cmpuint (mem[ctrl + 0xfff], ==, 0);
}

static guint64
sector_of (guint q,
           guint r)
{
  return ((guint64) q * REQUESTS + r) * SECTORS;
}

/* Writes a pattern through every ring, reads it back through the ring. */
static void
do_io (Fixture *f)
{
  f->round++;
  for (guint q = 0; q < f->n_rings; q++)
    {
      for (guint r = 0; r < REQUESTS; r++)
        {
          guint64 data = BUFFERS_AT + (q < f->n_regions ? 0 : (1 << 20)) + r * 0x2000 + 0x1000;

          fill (host_at (f, q, data), sector_of (q, r), f->round, q);
          blk_request (f, q, 1, sector_of (q, r), r);
        }
      for (guint r = 0; r < REQUESTS; r++)
        {
          guint64 data = BUFFERS_AT + (q < f->n_regions ? 0 : (1 << 20)) + r * 0x2000 + 0x1000;
          guint8 expected[SECTORS * 512];

          memset (host_at (f, q, data), 0, SECTORS * 512);
          blk_request (f, q, 0, sector_of (q, r), r);
          fill (expected, sector_of (q, r), f->round, q);
          g_assert_cmpmem (host_at (f, q, data), SECTORS * 512, expected, SECTORS * 512);
        }
    }
}

/* The last round's data is in the image file itself. */
static void
check_image (Fixture *f)
{
  int fd = g_open (f->image, O_RDONLY | O_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  for (guint q = 0; q < f->n_rings; q++)
    for (guint r = 0; r < REQUESTS; r++)
      {
        guint8 expected[SECTORS * 512], found[SECTORS * 512];

        fill (expected, sector_of (q, r), f->round, q);
        g_assert_cmpint (pread (fd, found, sizeof found, sector_of (q, r) * 512), ==, sizeof found);
        g_assert_cmpmem (found, sizeof found, expected, sizeof expected);
      }
  g_close (fd, NULL);
}

/* --- the steps --- */

/* The used index the device left in guest memory (split rings). */
static guint16
used_index (Fixture *f,
            guint    q)
{
  Region *r = &f->regions[q % f->n_regions];
  guint64 used = vhost_user_driver_ring_get_used_addr (f->rings[q]) - r->uaddr;
  guint16 idx;

  memcpy (&idx, host_at (f, q, used) + 2, 2);
  return GUINT16_FROM_LE (idx);
}

static guint
ring_base (Fixture *f,
           guint    q)
{
  if (f->vmm->packed)
    return 0x80008000;   /* both wrap counters 1, both indices 0 */
  /* a fresh ring starts at 0; a replay (cloud-hypervisor) at the used index */
  return used_index (f, q);
}

static void
ring_step (Fixture *f,
           guint    q,
           char     what)
{
  VhostUserDriverRing *ring = f->rings[q];
  g_autoptr(GError) error = NULL;
  gboolean ok = FALSE;

  switch (what)
    {
    case 'N':
      ok = vhost_user_frontend_set_vring_state (f->frontend, REQ (SET_VRING_NUM), q, f->vmm->queue_size, NULL, &error);
      break;
    case 'A':
      ok = vhost_user_frontend_set_vring_addr (f->frontend, q, 0, vhost_user_driver_ring_get_desc_addr (ring),
                                               vhost_user_driver_ring_get_used_addr (ring),
                                               vhost_user_driver_ring_get_avail_addr (ring), 0, NULL, &error);
      break;
    case 'B':
      ok = vhost_user_frontend_set_vring_state (f->frontend, REQ (SET_VRING_BASE), q, ring_base (f, q), NULL, &error);
      break;
    case 'C':
      ok = vhost_user_frontend_set_vring_fd (f->frontend, REQ (SET_VRING_CALL), q,
                                             vhost_user_driver_ring_get_call_fd (ring), NULL, &error);
      break;
    case 'K':
      ok = vhost_user_frontend_set_vring_fd (f->frontend, REQ (SET_VRING_KICK), q,
                                             vhost_user_driver_ring_get_kick_fd (ring), NULL, &error);
      break;
    case 'E':
    case 'D':
      ok = vhost_user_frontend_set_vring_state (f->frontend, REQ (SET_VRING_ENABLE), q, what == 'E', NULL, &error);
      break;
    case 'G':
      {
        guint base = vhost_user_frontend_get_vring_base (f->frontend, q, NULL, &error);
        guint requests = 2 * REQUESTS * f->round;

        g_assert_no_error (error);
        /* every request was taken: the next available is past them all
         * (packed: the used half too, wrap counters still 1) */
        if (f->vmm->packed)
          g_assert_cmphex (base, ==, 0x80008000 | (requests * DESCRIPTORS) | (requests * DESCRIPTORS) << 16);
        else
          g_assert_cmpuint (base, ==, requests);
        ok = TRUE;
      }
      break;
    default:
      g_assert_not_reached ();
    }
  g_assert_no_error (error);
  g_assert_true (ok);
}

static void
run_step (Fixture    *f,
          const char *word)
{
  const Vmm *vmm = f->vmm;
  g_autoptr(GError) error = NULL;
  gboolean acks = vmm->acks;
  const char *step = word;

  /* +word: with NEED_REPLY; -word: without (once REPLY_ACK is on) */
  if (*step == '+' || *step == '-')
    acks = *step++ == '+';
  vhost_user_frontend_set_request_acks (f->frontend, acks);

  if (g_str_equal (step, "owner"))
    g_assert_true (vhost_user_frontend_command (f->frontend, REQ (SET_OWNER), NULL, &error));
  else if (g_str_equal (step, "get-features"))
    {
      f->offered = vhost_user_frontend_get_u64 (f->frontend, REQ (GET_FEATURES), NULL, &error);
      f->acked = vmm->features & f->offered;
    }
  else if (g_str_equal (step, "get-protocol"))
    {
      g_assert_true (f->acked & F_PROTOCOL_FEATURES);
      f->offered_protocol = vhost_user_frontend_get_u64 (f->frontend, REQ (GET_PROTOCOL_FEATURES), NULL, &error);
      f->acked_protocol = vmm->protocol_features & f->offered_protocol;
    }
  else if (g_str_equal (step, "set-protocol"))
    g_assert_true (vhost_user_frontend_set_u64 (f->frontend, REQ (SET_PROTOCOL_FEATURES), f->acked_protocol, NULL,
                                                &error));
  else if (g_str_equal (step, "queue-num"))
    {
      if (f->acked_protocol & PF (MQ))
        g_assert_cmpuint (vhost_user_frontend_get_u64 (f->frontend, REQ (GET_QUEUE_NUM), NULL, &error), ==, 2);
    }
  else if (g_str_equal (step, "backend-channel"))
    {
      if (f->acked_protocol & PF (BACKEND_REQ))
        g_assert_true (vhost_user_frontend_setup_backend_channel (f->frontend, NULL, &error));
    }
  else if (g_str_equal (step, "config"))
    read_config (f);
  else if (g_str_equal (step, "features"))
    g_assert_true (vhost_user_frontend_set_u64 (f->frontend, REQ (SET_FEATURES), f->acked, NULL, &error));
  else if (g_str_equal (step, "mem"))
    send_mem_table (f);
  else if (g_str_equal (step, "inflight"))
    {
      if (f->acked_protocol & PF (INFLIGHT_SHMFD))
        {
          /* fetched once, then kept across reconnections */
          if (f->inflight_fd < 0)
            f->inflight_fd = vhost_user_frontend_get_inflight_fd (f->frontend, f->n_rings, vmm->queue_size,
                                                                  &f->inflight_size, &f->inflight_offset,
                                                                  NULL, &error);
          g_assert_no_error (error);
          g_assert_true (vhost_user_frontend_set_inflight_fd (f->frontend, f->inflight_size, f->inflight_offset,
                                                              f->n_rings, vmm->queue_size, f->inflight_fd,
                                                              NULL, &error));
        }
    }
  else if (g_str_has_prefix (step, "status:"))
    {
      if (f->acked_protocol & PF (STATUS))
        g_assert_true (vhost_user_frontend_set_u64 (f->frontend, REQ (SET_STATUS), atoi (step + 7), NULL, &error));
    }
  else if (g_str_equal (step, "get-status"))
    {
      if (f->acked_protocol & PF (STATUS))
        g_assert_cmphex (vhost_user_frontend_get_u64 (f->frontend, REQ (GET_STATUS), NULL, &error) & 0xb, ==, 0xb);
    }
  else if (g_str_equal (step, "reset-device"))
    {
      if (f->acked_protocol & PF (RESET_DEVICE))
        g_assert_true (vhost_user_frontend_command (f->frontend, REQ (RESET_DEVICE), NULL, &error));
    }
  else if (g_str_has_prefix (step, "q:"))
    for (guint q = 0; q < f->n_rings; q++)
      for (const char *p = step + 2; *p != '\0'; p++)
        ring_step (f, q, *p);
  else if (g_str_equal (step, "num*") || g_str_equal (step, "call*") || g_str_equal (step, "enable*") ||
           g_str_equal (step, "disable*") || g_str_equal (step, "base*"))
    for (guint q = 0; q < f->n_rings; q++)
      ring_step (f, q, *step == 'n' ? 'N' : *step == 'c' ? 'C' : *step == 'e' ? 'E' : *step == 'd' ? 'D' : 'G');
  else if (g_str_equal (step, "disable-base*"))
    for (guint q = 0; q < f->n_rings; q++)
      {
        ring_step (f, q, 'D');
        ring_step (f, q, 'G');
      }
  else if (g_str_equal (step, "io"))
    do_io (f);
  else if (g_str_equal (step, "io-check"))
    check_image (f);
  else if (g_str_equal (step, "close"))
    {
      /* the connection drops; the VMM dials again and replays */
      vhost_user_frontend_close (f->frontend);
      g_assert_true (vhost_user_frontend_reconnect (f->frontend, NULL, &error));
    }
  else
    g_error ("unknown step %s", word);
  g_assert_no_error (error);
}

static void
run_script (Fixture    *f,
            const char *script)
{
  g_auto(GStrv) words = g_strsplit (script, " ", -1);

  for (guint i = 0; words[i] != NULL; i++)
    if (*words[i] != '\0')
      run_step (f, words[i]);
}

/* What the device process holds (for the record: rings of 32768 must
 * not cost it their size in memory). */
static void
report_memory (Fixture *f)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/status", g_subprocess_get_identifier (f->blk));
  g_autofree char *status = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents (path, &status, NULL, NULL))
    return;
  lines = g_strsplit (status, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], "VmRSS:") || g_str_has_prefix (lines[i], "VmHWM:"))
      g_test_message ("%s: device %s", f->vmm->name, lines[i]);
}

static void
test_vmm (Fixture       *f,
          gconstpointer  data)
{
  const Vmm *vmm = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *log = NULL;

  if (f->blk == NULL)
    return;
  f->frontend = vhost_user_frontend_new ();
  g_assert_true (vhost_user_frontend_connect_to_path (f->frontend, f->sock, 5000, NULL, &error));
  g_assert_no_error (error);

  run_script (f, vmm->open);
  setup_memory (f);
  setup_rings (f);
  run_script (f, vmm->start);
  run_script (f, vmm->stop);
  if (vmm->reconnect != NULL)
    {
      run_script (f, vmm->reconnect);
      check_image (f);
    }
  g_assert_true (vhost_user_frontend_get_connected (f->frontend));
  report_memory (f);

  /* nothing was refused on the way */
  vhost_user_frontend_close (f->frontend);
  g_assert_true (log_shows (f, "disconnected:"));
  log = read_log (f);
  g_assert_null (strstr (log, "closing the connection"));
  g_assert_null (strstr (log, "refus"));
  if (g_test_verbose ())
    g_printerr ("%s", log);
}

/* A refusal the front-end asked not to hear: crosvm's way (REPLY_ACK
 * negotiated, NEED_REPLY never set) with a ring size past the protocol's
 * largest. The device hangs up rather than leave the ring half set up,
 * and its log says why. */
static void
test_unheard_refusal (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  if (f->blk == NULL)
    return;
  f->frontend = vhost_user_frontend_new ();
  g_assert_true (vhost_user_frontend_connect_to_path (f->frontend, f->sock, 5000, NULL, &error));
  g_assert_no_error (error);
  run_script (f, "owner get-features get-protocol set-protocol queue-num");
  g_assert_true (f->acked_protocol & PF (REPLY_ACK));

  vhost_user_frontend_set_request_acks (f->frontend, FALSE);
  g_assert_true (vhost_user_frontend_set_vring_state (f->frontend, REQ (SET_VRING_NUM), 0, 65536, NULL, &error));
  g_assert_no_error (error);
  /* the next request finds the connection gone */
  vhost_user_frontend_get_u64 (f->frontend, REQ (GET_FEATURES), NULL, &error);
  g_assert_nonnull (error);
  g_assert_false (vhost_user_frontend_get_connected (f->frontend));

  g_assert_true (log_shows (f, "closing the connection: SET_VRING_NUM refused, and the front-end asked for no "
                               "reply to hear it"));
  g_assert_true (log_shows (f, "disconnected: SET_VRING_NUM refused"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (vmms); i++)
    {
      g_autofree char *path = g_strconcat ("/vmms/", vmms[i].name, NULL);

      g_test_add (path, Fixture, &vmms[i], fixture_setup, test_vmm, fixture_teardown);
    }
  g_test_add ("/vmms/refusal/unheard", Fixture, &vmms[1], fixture_setup, test_unheard_refusal, fixture_teardown);
  return g_test_run ();
}
