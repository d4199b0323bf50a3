/* test-hardening.c: the known vulnerability classes of vhost-user peers,
 * one regression test each
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The front-end is a raw socket that sends crafted messages (and fds) to
 * a VhostUserBackend in this process; the driver is the test writing
 * descriptors into memfd guest memory it maps itself. Each test names the
 * class it guards against (the CVE of a peer where there is one) and
 * asserts the clean outcome: a NACK or a closed connection, a ring left
 * alone, no write outside a mapping, and no fd or mapping left behind
 * (counted from /proc/self/fd and /proc/self/maps around every test).
 */

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vhost-user-glib.h>

#include "test-util.h"
#include "vhost-user-message-private.h"
#include "vhost-user-socket-private.h"

#define REQ(name) VHOST_USER_REQUEST_##name
#define PF(name)  ((guint64) VHOST_USER_PROTOCOL_FEATURE_##name)
#define F(bit)    VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_##bit)
#define F_LOG_ALL VHOST_USER_FEATURE (26)

#define MEM_SIZE  0x10000
#define UADDR     G_GUINT64_CONSTANT (0x7f0000000000)
#define NUM       64
#define DESC      0x0000
#define AVAIL     0x1000
#define USED      0x2000
#define DATA      0x8000
#define WAIT_MS   10000

/* an in-flight area for a queue of @q: room for either layout, aligned */
#define AREA_SIZE(q) (((32 + 32 * (q)) + 63) & ~63)

#define PROTOCOL  (PF (MQ) | PF (REPLY_ACK) | PF (LOG_SHMFD) | PF (INFLIGHT_SHMFD) | PF (CONFIGURE_MEM_SLOTS))

typedef struct {
  guint64 addr;
  guint32 len;
  guint16 flags;
  guint16 next;
} Desc;

typedef struct {
  VhostUserBackend *backend;
  GSocket          *peer;
  guint             baseline_fds;
  guint             baseline_maps;
  gboolean          disconnected;
  gboolean          closed;      /* the back-end hung up on us */
  /* guest memory, as the driver sees it */
  int               mem_fd;
  guint8           *mem;
  guint16           avail_idx;
} Fixture;

/* Memfd mappings only: unlike the whole of /proc/self/maps, which the
 * sanitizers change on their own, their count is exact. */
static guint
count_memfd_mappings (void)
{
  g_autofree char *maps = NULL;
  guint n = 0;

  g_assert_true (g_file_get_contents ("/proc/self/maps", &maps, NULL, NULL));
  for (const char *p = maps; (p = strstr (p, "/memfd:")) != NULL; p++)
    n++;
  return n;
}

static void
on_disconnected (VhostUserBackend *backend,
                 const GError     *error,
                 gboolean          should_reconnect,
                 Fixture          *f)
{
  f->disconnected = TRUE;
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) ours = NULL;

  f->mem_fd = -1;
  f->baseline_fds = test_count_open_fds ();
  f->baseline_maps = count_memfd_mappings ();
  f->backend = g_object_new (VHOST_USER_TYPE_BACKEND, "num-queues", 2, "max-queue-size", 1024, NULL);
  vhost_user_backend_set_features (f->backend, vhost_user_backend_get_features (f->backend) | F_LOG_ALL);
  g_signal_connect (f->backend, "disconnected", G_CALLBACK (on_disconnected), f);
  g_assert_true (vhost_user_socket_pair (&ours, &f->peer, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_backend_take_socket (f->backend, ours, &error));
  g_assert_no_error (error);
}

/* What is open, to tell which fd leaked. */
static void
print_open_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  const char *name;

  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_strdup_printf ("/proc/self/fd/%s", name);
      g_autofree char *target = g_file_read_link (path, NULL);

      g_test_message ("fd %s: %s", name, target);
    }
}

/* Everything the test gave the back-end is gone once it is: fds and
 * mappings alike. */
static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_socket_close (f->peer, NULL);
  g_clear_object (&f->peer);
  g_assert_true (test_iterate_until (NULL, &f->disconnected, WAIT_MS));
  g_clear_object (&f->backend);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  if (f->mem != NULL)
    munmap (f->mem, 2 * MEM_SIZE);
  if (f->mem_fd >= 0)
    close (f->mem_fd);
  if (test_count_open_fds () != f->baseline_fds)
    print_open_fds ();
  g_assert_cmpuint (test_count_open_fds (), ==, f->baseline_fds);
  g_assert_cmpuint (count_memfd_mappings (), ==, f->baseline_maps);
}

/* --- the raw front-end --- */

/* Sends @msg as it is, with @fds (ours, closed once sent). */
static void
send_msg (Fixture          *f,
          VhostUserMessage *msg,
          const int        *fds,
          guint             n_fds)
{
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE (sizeof (int) * 16)];
  } control;
  struct msghdr mh = { 0 };
  struct iovec iov;
  gsize len;

  g_assert_cmpuint (n_fds, <=, 16);
  iov.iov_base = (void *) vhost_user_message_get_data (msg, &len);
  iov.iov_len = len;
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  if (n_fds > 0)
    {
      struct cmsghdr *cmsg;

      memset (control.buf, 0, sizeof control.buf);
      mh.msg_control = control.buf;
      mh.msg_controllen = CMSG_SPACE (sizeof (int) * n_fds);
      cmsg = CMSG_FIRSTHDR (&mh);
      cmsg->cmsg_level = SOL_SOCKET;
      cmsg->cmsg_type = SCM_RIGHTS;
      cmsg->cmsg_len = CMSG_LEN (sizeof (int) * n_fds);
      memcpy (CMSG_DATA (cmsg), fds, sizeof (int) * n_fds);
    }
  g_assert_cmpint (sendmsg (g_socket_get_fd (f->peer), &mh, MSG_NOSIGNAL), ==, (gssize) len);
  for (guint i = 0; i < n_fds; i++)
    close (fds[i]);
}

/* Runs the back-end until it answers (TRUE, @reply filled, any fds it
 * sent closed) or hangs up (FALSE). */
static gboolean
recv_reply (Fixture          *f,
            VhostUserMessage *reply)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * 1000;
  struct pollfd pfd = { g_socket_get_fd (f->peer), POLLIN, 0 };
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE (sizeof (int) * 8)];
  } control;
  struct msghdr mh = { 0 };
  struct iovec iov = { &reply->header, VHOST_USER_HEADER_SIZE };
  gssize n;

  while (poll (&pfd, 1, 0) == 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (200);
    }
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control.buf;
  mh.msg_controllen = sizeof control.buf;
  n = recvmsg (g_socket_get_fd (f->peer), &mh, MSG_CMSG_CLOEXEC);
  if (n <= 0)
    {
      f->closed = TRUE;
      return FALSE;
    }
  for (struct cmsghdr *c = CMSG_FIRSTHDR (&mh); c != NULL; c = CMSG_NXTHDR (&mh, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      for (guint i = 0; i < (c->cmsg_len - CMSG_LEN (0)) / sizeof (int); i++)
        close (((int *) CMSG_DATA (c))[i]);
  g_assert_cmpint (n, ==, VHOST_USER_HEADER_SIZE);
  g_assert_cmpuint (reply->header.size, <=, sizeof reply->payload);
  if (reply->header.size > 0)
    g_assert_cmpint (recv (g_socket_get_fd (f->peer), reply->payload, reply->header.size, MSG_WAITALL), ==,
                     (gssize) reply->header.size);
  return TRUE;
}

/* What a request got: 0 for an ack, non-zero for a NACK (a u64 reply's
 * value otherwise), or -1 when the back-end hung up. Every request asks
 * for an answer. */
static gint64
call (Fixture    *f,
      guint32     request,
      const void *payload,
      gsize       size,
      const int  *fds,
      guint       n_fds)
{
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  VhostUserMessage reply = VHOST_USER_MESSAGE_INIT;
  guint64 value = 0;

  vhost_user_message_init (&msg, request, VHOST_USER_FLAG_NEED_REPLY);
  if (size > 0)
    g_assert_true (vhost_user_message_set_payload (&msg, payload, size));
  send_msg (f, &msg, fds, n_fds);
  if (!recv_reply (f, &reply))
    return -1;
  g_assert_cmpuint (reply.header.request, ==, request);
  if (reply.header.size == 8)
    memcpy (&value, reply.payload, 8);
  else
    value = 0;
  return (gint64) MIN (value, G_MAXINT64);
}

static gint64
call_u64 (Fixture *f,
          guint32  request,
          guint64  value)
{
  return call (f, request, &value, sizeof value, NULL, 0);
}

static gint64
call_state (Fixture *f,
            guint32  request,
            guint32  index,
            guint32  num)
{
  VhostUserWireVringState state = { index, num };

  return call (f, request, &state, sizeof state, NULL, 0);
}

#define expect_ok(f, result)      g_assert_cmpint ((result), ==, 0)
#define expect_refused(f, result) G_STMT_START { gint64 r_ = (result); g_assert_cmpint (r_, !=, 0); } G_STMT_END

/* GET_FEATURES, SET_FEATURES (with @features), the protocol features
 * (with REPLY_ACK: every later request is answered), SET_OWNER. */
static void
negotiate (Fixture *f,
           guint64  features)
{
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  VhostUserMessage reply = VHOST_USER_MESSAGE_INIT;

  vhost_user_message_init (&msg, REQ (GET_FEATURES), 0);
  send_msg (f, &msg, NULL, 0);
  g_assert_true (recv_reply (f, &reply));
  vhost_user_message_init (&msg, REQ (SET_PROTOCOL_FEATURES), 0);
  vhost_user_message_set_u64 (&msg, PROTOCOL);
  send_msg (f, &msg, NULL, 0);
  expect_ok (f, call_u64 (f, REQ (SET_FEATURES), F (VERSION_1) | F (PROTOCOL_FEATURES) | features));
  expect_ok (f, call (f, REQ (SET_OWNER), NULL, 0, NULL, 0));
}

/* Guest memory: one region of MEM_SIZE at gpa 0 (and, with @second, a
 * second one at @second_gpa), both in one memfd the test maps too. */
static gint64
set_memory (Fixture *f,
            gboolean second,
            guint64  second_gpa)
{
  VhostUserWireMemoryRegion regions[2] = {
    { 0, MEM_SIZE, UADDR, 0 },
    { second_gpa, MEM_SIZE, UADDR + MEM_SIZE, MEM_SIZE },
  };
  guint8 payload[8 + sizeof regions];
  VhostUserWireMemoryTableHeader header = { second ? 2 : 1, 0 };
  int fds[2];

  if (f->mem_fd < 0)
    {
      f->mem_fd = test_memfd (2 * MEM_SIZE);
      f->mem = mmap (NULL, 2 * MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->mem_fd, 0);
      g_assert_true (f->mem != MAP_FAILED);
    }
  memcpy (payload, &header, 8);
  memcpy (payload + 8, regions, sizeof regions);
  for (guint i = 0; i < header.nregions; i++)
    fds[i] = dup (f->mem_fd);
  return call (f, REQ (SET_MEM_TABLE), payload, 8 + header.nregions * sizeof regions[0], fds, header.nregions);
}

/* Ring 0 in guest memory, started (a kick eventfd), with @addr_flags. */
static VhostUserVring *
setup_ring (Fixture *f,
            guint    addr_flags,
            guint64  log_addr)
{
  VhostUserWireVringAddr addr = { 0, addr_flags, UADDR + DESC, UADDR + USED, UADDR + AVAIL, log_addr };
  VhostUserWireVringState enable = { 0, 1 };
  guint64 kick = 0;
  int fd = test_eventfd ();

  expect_ok (f, call_state (f, REQ (SET_VRING_NUM), 0, NUM));
  expect_ok (f, call_state (f, REQ (SET_VRING_BASE), 0, 0));
  expect_ok (f, call (f, REQ (SET_VRING_ADDR), &addr, sizeof addr, NULL, 0));
  expect_ok (f, call (f, REQ (SET_VRING_ENABLE), &enable, sizeof enable, NULL, 0));
  expect_ok (f, call (f, REQ (SET_VRING_KICK), &kick, sizeof kick, &fd, 1));
  return vhost_user_backend_get_vring (f->backend, 0);
}

static void
set_desc (Fixture *f,
          guint    i,
          guint64  addr,
          guint32  len,
          guint16  flags,
          guint16  next)
{
  Desc d = { addr, len, flags, next };

  memcpy (f->mem + DESC + i * sizeof d, &d, sizeof d);
}

static void
make_available (Fixture *f,
                guint16  head)
{
  memcpy (f->mem + AVAIL + 4 + 2 * (f->avail_idx % NUM), &head, 2);
  f->avail_idx++;
  __atomic_store_n ((guint16 *) (f->mem + AVAIL + 2), f->avail_idx, __ATOMIC_RELEASE);
}

/* The driver broke the ring: the pop says so, and the ring is left
 * alone from then on. */
static void
expect_broken (VhostUserVring *vring)
{
  g_autoptr(GError) error = NULL;
  VhostUserVringElement e;

  g_assert_false (vhost_user_vring_pop (vring, &e, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);
  g_assert_false (vhost_user_vring_pop (vring, &e, &error));
  g_assert_no_error (error);
}

/* --- the classes --- */

/* DPDK CVE-2020-10722: SET_LOG_BASE's mmap_offset + size overflowed, and
 * a huge log was mapped short. Every such log is refused before mmap. */
static void
test_log_offset_overflow (Fixture       *f,
                          gconstpointer  data)
{
  static const VhostUserWireLog bad[] = {
    { 0x1000, G_MAXUINT64 - 0x800 },   /* offset + size wraps */
    { G_MAXUINT64, 0x1000 },           /* size + offset wraps */
    { 0x1000, 0x2000 },                /* past the file's end */
    { 0, 0 },                          /* no log at all */
  };

  negotiate (f, F_LOG_ALL);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      int fd = test_memfd (0x2000);

      expect_refused (f, call (f, REQ (SET_LOG_BASE), &bad[i], sizeof bad[i], &fd, 1));
      g_assert_false (f->closed);
    }
}

/* A log offset applied twice (to the mapping and again to the pointer)
 * marks pages outside the log, or the wrong ones: the bit of a written
 * page lands at the offset the front-end gave, exactly once. */
static void
test_log_offset_applied_once (Fixture       *f,
                              gconstpointer  data)
{
  VhostUserWireLog log = { 0x1000, 0x1000 };
  g_autoptr(GError) error = NULL;
  VhostUserVringElement e;
  VhostUserVring *vring;
  guint8 *map;
  int fd = test_memfd (0x3000), ours = dup (fd);

  negotiate (f, F_LOG_ALL);
  expect_ok (f, set_memory (f, FALSE, 0));
  expect_ok (f, call (f, REQ (SET_LOG_BASE), &log, sizeof log, &fd, 1));
  vring = setup_ring (f, 0, 0);

  set_desc (f, 0, DATA + 0x3000, 16, 2, 0);   /* page 11 */
  make_available (f, 0);
  g_assert_true (vhost_user_vring_pop (vring, &e, &error));
  g_assert_true (vhost_user_vring_push (vring, e.head, 16, &error));
  g_assert_no_error (error);

  map = mmap (NULL, 0x3000, PROT_READ, MAP_SHARED, ours, 0);
  g_assert_true (map != MAP_FAILED);
  for (guint i = 0; i < 0x3000; i++)
    g_assert_cmphex (map[i], ==, i == 0x1000 + 11 / 8 ? 1u << (11 % 8) : 0);
  munmap (map, 0x3000);
  close (ours);
}

/* A log smaller than the memory it covers (one byte: pages 0-7) is the
 * front-end's mistake, which costs it stale pages: a write to page 11 is
 * not logged, the ring goes on, and nothing lands past the log's end
 * inside its page. */
static void
test_log_smaller_than_memory (Fixture       *f,
                              gconstpointer  data)
{
  VhostUserWireLog log = { 1, 0 };
  g_autoptr(GError) error = NULL;
  VhostUserVringElement e;
  VhostUserVring *vring;
  guint8 *map;
  int fd = test_memfd (0x1000), ours = dup (fd);

  negotiate (f, F_LOG_ALL);
  expect_ok (f, set_memory (f, FALSE, 0));
  expect_ok (f, call (f, REQ (SET_LOG_BASE), &log, sizeof log, &fd, 1));
  vring = setup_ring (f, 0, 0);

  set_desc (f, 0, DATA + 0x3000, 16, 2, 0);   /* page 11 */
  make_available (f, 0);
  g_assert_true (vhost_user_vring_pop (vring, &e, &error));
  g_assert_true (vhost_user_vring_push (vring, e.head, 16, &error));
  g_assert_no_error (error);

  map = mmap (NULL, 0x1000, PROT_READ, MAP_SHARED, ours, 0);
  g_assert_true (map != MAP_FAILED);
  for (guint i = 1; i < 0x1000; i++)
    g_assert_cmphex (map[i], ==, 0);
  munmap (map, 0x1000);
  close (ours);
}

/* DPDK CVE-2020-10723: a ring index truncated from 32 to 16 (or 8) bits
 * before it was checked named ring 0. Every index is checked whole. */
static void
test_ring_index_truncated (Fixture       *f,
                           gconstpointer  data)
{
  VhostUserWireVringAddr addr = { 0x10000, 0, UADDR, UADDR, UADDR, 0 };
  VhostUserVring *ring0 = vhost_user_backend_get_vring (f->backend, 0);
  guint64 kick = 0x10000 | 0x100;   /* index bits above the 8 the layout has */

  negotiate (f, 0);
  expect_refused (f, call_state (f, REQ (SET_VRING_NUM), 0x10000, NUM));
  expect_refused (f, call_state (f, REQ (SET_VRING_NUM), 0x100000000 - 1, NUM));
  expect_refused (f, call_state (f, REQ (SET_VRING_BASE), 0x10002, 5));
  expect_refused (f, call (f, REQ (SET_VRING_ADDR), &addr, sizeof addr, NULL, 0));
  g_assert_cmpuint (vhost_user_vring_get_size (ring0), ==, 0);
  g_assert_cmpuint (vhost_user_vring_get_base (ring0), ==, 0);
  /* the fd layout: a malformed word is the end of the connection */
  g_assert_cmpint (call (f, REQ (SET_VRING_KICK), &kick, sizeof kick, NULL, 0), !=, 0);
  g_assert_false (vhost_user_vring_get_started (ring0));
}

/* DPDK CVE-2020-10725: translated addresses were used without checking
 * their length was mapped. A ring part past its region is refused; a
 * buffer that leaves guest memory breaks the ring before anything is
 * written. */
static void
test_translated_address_unchecked (Fixture       *f,
                                   gconstpointer  data)
{
  /* the used ring's last bytes past the region */
  VhostUserWireVringAddr addr = { 0, 0, UADDR + DESC, UADDR + MEM_SIZE - 8, UADDR + AVAIL, 0 };
  VhostUserVring *vring;

  negotiate (f, 0);
  expect_ok (f, set_memory (f, FALSE, 0));
  expect_ok (f, call_state (f, REQ (SET_VRING_NUM), 0, NUM));
  expect_refused (f, call (f, REQ (SET_VRING_ADDR), &addr, sizeof addr, NULL, 0));

  vring = setup_ring (f, 0, 0);
  set_desc (f, 0, MEM_SIZE - 8, 16, 2, 0);
  make_available (f, 0);
  expect_broken (vring);
}

/* CVE-2018-1059 (DPDK): a buffer's guest-physical range was not checked
 * to be mapped and contiguous. Across two adjacent regions a buffer is
 * split in two; across a hole it breaks the ring. */
static void
test_gpa_not_contiguous (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  VhostUserVringElement e;
  VhostUserVring *vring;

  negotiate (f, 0);
  expect_ok (f, set_memory (f, TRUE, MEM_SIZE));
  vring = setup_ring (f, 0, 0);
  set_desc (f, 0, MEM_SIZE - 8, 16, 2, 0);
  make_available (f, 0);
  g_assert_true (vhost_user_vring_pop (vring, &e, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (e.n_in, ==, 2);
  g_assert_true (vhost_user_vring_push (vring, e.head, 0, &error));

  /* the second region moved: a hole between them */
  g_assert_cmpint (call_state (f, REQ (GET_VRING_BASE), 0, 0), >=, 0);
  expect_ok (f, set_memory (f, TRUE, 4 * MEM_SIZE));
  vring = setup_ring (f, 0, 0);
  f->avail_idx = 0;
  memset (f->mem + AVAIL, 0, 4);
  memset (f->mem + USED, 0, 4);
  set_desc (f, 0, MEM_SIZE - 8, 16, 2, 0);
  make_available (f, 0);
  expect_broken (vring);
}

/* DPDK CVE-2020-10726, CVE-2022-0669: fds and mappings leaked on error
 * paths. A table with one bad region maps none and keeps no fd; a
 * request that takes no fd closes those it came with; in-flight areas
 * asked for again and again replace each other. (The fixture counts fds
 * and mappings.) */
static void
test_fd_leak_on_error (Fixture       *f,
                       gconstpointer  data)
{
  VhostUserWireMemoryRegion regions[3] = {
    { 0, 0x1000, UADDR, 0 },
    { 0x10000, 0x100000, UADDR + 0x10000, 0 },   /* larger than its file */
    { 0x200000, 0x1000, UADDR + 0x200000, 0 },
  };
  guint8 payload[8 + sizeof regions];
  VhostUserWireMemoryTableHeader header = { 3, 0 };
  VhostUserWireInflight inflight = { 0, 0, 1, 64 };
  VhostUserWireInflight tiny = { 0x100000, 0, 1, 64 };
  guint n_fds;
  int fds[3];

  negotiate (f, 0);
  memcpy (payload, &header, 8);
  memcpy (payload + 8, regions, sizeof regions);
  for (guint i = 0; i < 3; i++)
    fds[i] = test_memfd (0x1000);
  expect_refused (f, call (f, REQ (SET_MEM_TABLE), payload, sizeof payload, fds, 3));
  g_assert_true (vhost_user_backend_get_memory_table (f->backend) == NULL ||
                 vhost_user_memory_table_get_n_regions (vhost_user_backend_get_memory_table (f->backend)) == 0);
  g_assert_cmpuint (count_memfd_mappings (), ==, f->baseline_maps);

  /* GET_INFLIGHT_FD takes no fd (CVE-2022-0669): one sent with it is
   * closed, whatever the answer */
  n_fds = test_count_open_fds ();
  fds[0] = test_memfd (0x1000);
  call (f, REQ (GET_INFLIGHT_FD), &inflight, sizeof inflight, fds, 1);
  g_assert_cmpuint (test_count_open_fds (), ==, n_fds);
  if (f->closed)
    return;
  for (guint i = 0; i < 50; i++)
    g_assert_cmpint (call (f, REQ (GET_INFLIGHT_FD), &inflight, sizeof inflight, NULL, 0), >=, 0);
  g_assert_cmpuint (count_memfd_mappings (), <=, f->baseline_maps + 1);
  /* an area larger than its file */
  fds[0] = test_memfd (0x1000);
  expect_refused (f, call (f, REQ (SET_INFLIGHT_FD), &tiny, sizeof tiny, fds, 1));
}

/* CVE-2022-2132 (DPDK): descriptor chains too small for the device's
 * header were copied from as if they held one. The element's copies
 * stop at what the chain holds, and never write past a buffer. */
static void
test_chain_too_small_for_header (Fixture       *f,
                                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  VhostUserVringElement e;
  VhostUserVring *vring;
  guint8 header[16];

  negotiate (f, 0);
  expect_ok (f, set_memory (f, FALSE, 0));
  vring = setup_ring (f, 0, 0);

  /* a 4-byte "header" and a 1-byte writable buffer at the very end of
   * guest memory */
  set_desc (f, 0, DATA, 4, 1, 1);
  set_desc (f, 1, MEM_SIZE - 1, 1, 2, 0);
  memset (f->mem + DATA, 0xab, 16);
  make_available (f, 0);
  g_assert_true (vhost_user_vring_pop (vring, &e, &error));
  g_assert_no_error (error);
  memset (header, 0, sizeof header);
  g_assert_cmpuint (vhost_user_vring_element_copy_out (&e, 0, header, sizeof header), ==, 4);
  g_assert_cmpuint (header[4], ==, 0);
  g_assert_cmpuint (vhost_user_vring_element_copy_out (&e, 8, header, sizeof header), ==, 0);
  g_assert_cmpuint (vhost_user_vring_element_write (&e, 0, (const guint8 *) "0123456789abcdef", 16), ==, 1);
  g_assert_cmpuint (f->mem[MEM_SIZE - 1], ==, '0');
  g_assert_cmpuint (vhost_user_vring_element_write (&e, 5, (const guint8 *) "x", 1), ==, 0);
  g_assert_true (vhost_user_vring_push (vring, e.head, 1, &error));
}

/* A runt receive descriptor (DPDK, 2026): a writable buffer shorter than
 * the header the device writes first made `len - header` underflow. A
 * write that starts past the chain's writable bytes writes nothing, one
 * that runs past them stops at their end. */
static void
test_runt_rx_descriptor (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  VhostUserVringElement e;
  VhostUserVring *vring;
  guint8 used[8];
  guint32 used_len;

  negotiate (f, 0);
  expect_ok (f, set_memory (f, FALSE, 0));
  vring = setup_ring (f, 0, 0);
  set_desc (f, 0, DATA, 2, 2, 0);
  memset (f->mem + DATA, 0, 8);
  make_available (f, 0);
  g_assert_true (vhost_user_vring_pop (vring, &e, &error));
  g_assert_cmpuint (e.in_len, ==, 2);
  g_assert_cmpuint (vhost_user_vring_element_write (&e, 12, (const guint8 *) "payload", 7), ==, 0);
  g_assert_cmpuint (vhost_user_vring_element_write (&e, 0, (const guint8 *) "header+payload", 14), ==, 2);
  g_assert_cmpmem (f->mem + DATA, 4, "he\0\0", 4);
  g_assert_true (vhost_user_vring_push (vring, e.head, 2, &error));
  g_assert_no_error (error);
  memcpy (used, f->mem + USED + 4, 8);
  memcpy (&used_len, used + 4, 4);
  g_assert_cmpuint (used_len, ==, 2);
}

/* libvhost-user copied an indirect table that crossed regions into a
 * fixed buffer, overflowing it. A table must lie whole in one region,
 * and be a bounded number of whole descriptors. */
static void
test_indirect_copy_overflow (Fixture       *f,
                             gconstpointer  data)
{
  VhostUserVring *vring;

  negotiate (f, F (INDIRECT_DESC));
  expect_ok (f, set_memory (f, TRUE, MEM_SIZE));
  vring = setup_ring (f, 0, 0);
  /* 64 descriptors, half in each region */
  set_desc (f, 0, MEM_SIZE - 32 * 16, 64 * 16, 4, 0);
  make_available (f, 0);
  expect_broken (vring);
}

/* SET_INFLIGHT_FD for a queue size out of step with SET_VRING_NUM
 * (laid out for 8 descriptors), and a hostile area for the ring's own
 * size (libvhost-user's vu_check_queue_inflights overflowed its resubmit
 * list): an area is used only where it fits the ring, and recovery hands
 * out no more than the ring holds, each checked as a pop is. Every byte
 * of either is 0xff: every entry "in flight", counters and lists
 * garbage. */
static const VhostUserWireInflight inflight_out_of_step = { AREA_SIZE (8), 0, 1, 8 };
static const VhostUserWireInflight inflight_hostile = { AREA_SIZE (NUM), 0, 1, NUM };

static void
test_inflight_area (Fixture       *f,
                    gconstpointer  data)
{
  const VhostUserWireInflight *area = data;
  g_autoptr(GError) error = NULL;
  VhostUserVringElement e;
  VhostUserVring *vring;
  guint heads[2 * NUM];
  guint popped = 0;
  int fd = test_memfd (area->mmap_size);
  guint8 *map;
  guint16 version = 1, desc_num = NUM;

  negotiate (f, 0);
  expect_ok (f, set_memory (f, FALSE, 0));
  /* the driver made every head available */
  for (guint i = 0; i < NUM; i++)
    {
      set_desc (f, i, DATA + i * 16, 16, 2, 0);
      make_available (f, i);
    }

  map = mmap (NULL, area->mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  g_assert_true (map != MAP_FAILED);
  memset (map, 0xff, area->mmap_size);
  if (area->queue_size == NUM)
    {
      /* a plausible header, every entry in flight, the rest garbage:
       * recovery runs, and resubmits */
      memcpy (map + 8, &version, 2);
      memcpy (map + 10, &desc_num, 2);
      for (guint i = 0; i < NUM; i++)
        map[16 + 16 * i] = 1;
    }
  munmap (map, area->mmap_size);

  expect_ok (f, call (f, REQ (SET_INFLIGHT_FD), area, sizeof *area, &fd, 1));
  vring = setup_ring (f, 0, 0);
  while (popped < G_N_ELEMENTS (heads) && vhost_user_vring_pop (vring, &e, &error))
    {
      g_assert_cmpuint (e.head, <, NUM);
      heads[popped++] = e.head;
    }
  g_test_message ("area for %u entries: %u requests popped (%s)", area->queue_size, popped,
                  error != NULL ? error->message : "then the ring was empty");
  g_clear_error (&error);
  /* never more out with the device than the ring holds */
  g_assert_cmpuint (popped, <=, NUM);
  for (guint i = 0; i < popped; i++)
    vhost_user_vring_push (vring, heads[i], 0, NULL);
  g_assert_cmpint (call_state (f, REQ (GET_VRING_BASE), 0, 0), >=, 0);
  g_assert_false (f->closed);
}

/* Whether freed memory leaves the resident set as it would in
 * production: not in ASan's quarantine nor in valgrind's queue of freed
 * blocks (20 MB before reuse), where the leak checkers watch instead. */
static gboolean
resident_size_is_ours (void)
{
#ifdef __SANITIZE_ADDRESS__
  return FALSE;
#else
  const char *preload = g_getenv ("LD_PRELOAD");

  return preload == NULL || strstr (preload, "vgpreload") == NULL;
#endif
}

/* CVE-2019-14818 (DPDK): SET_VRING_NUM sent over and over leaked memory
 * each time. Resizing a stopped ring any number of times keeps one
 * allocation; a running one is not resized at all. */
static void
test_set_vring_num_dos (Fixture       *f,
                        gconstpointer  data)
{
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  guint64 rss_before, rss_after;

  negotiate (f, 0);
  expect_ok (f, call_state (f, REQ (SET_VRING_NUM), 0, 1024));
  g_assert_true (g_file_get_contents ("/proc/self/statm", &before, NULL, NULL));
  for (guint i = 0; i < 2000; i++)
    expect_ok (f, call_state (f, REQ (SET_VRING_NUM), i % 2, i % 3 == 0 ? 1024 : 512));
  g_assert_true (g_file_get_contents ("/proc/self/statm", &after, NULL, NULL));
  rss_before = g_ascii_strtoull (strchr (before, ' ') + 1, NULL, 10);
  rss_after = g_ascii_strtoull (strchr (after, ' ') + 1, NULL, 10);
  /* (pages; 2000 leaked rings of 1024 would be hundreds of MiB) */
  if (!resident_size_is_ours ())
    g_test_message ("resident: %" G_GUINT64_FORMAT " pages, then %" G_GUINT64_FORMAT " (not checked under "
                    "ASan or valgrind)", rss_before, rss_after);
  else
    g_assert_cmpuint (rss_after, <, rss_before + 4096);

  expect_ok (f, set_memory (f, FALSE, 0));
  setup_ring (f, 0, 0);
  expect_refused (f, call_state (f, REQ (SET_VRING_NUM), 0, 16));
  g_assert_cmpuint (vhost_user_vring_get_size (vhost_user_backend_get_vring (f->backend, 0)), ==, NUM);
}

/* A region whose size was not checked against its file before mmap
 * (DPDK, libvhost-user): touching its end was SIGBUS. Refused. */
static void
test_region_size_unchecked (Fixture       *f,
                            gconstpointer  data)
{
  VhostUserWireSingleRegion bad[] = {
    { 0, { 0, 0x100000, UADDR, 0 } },                 /* larger than its file */
    { 0, { 0, 0x1000, UADDR, 0x1000 } },              /* mmap_offset at the file's end */
    { 0, { 0, 0, UADDR, 0 } },                        /* empty */
    { 0, { 0, 0x1000, UADDR, G_MAXUINT64 - 0x800 } }, /* offset + size wraps */
  };

  negotiate (f, 0);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      int fd = test_memfd (0x1000);

      expect_refused (f, call (f, REQ (ADD_MEM_REG), &bad[i], sizeof bad[i], &fd, 1));
      g_assert_false (f->closed);
    }
  g_assert_cmpuint (count_memfd_mappings (), ==, f->baseline_maps);
}

/* --- files the front-end truncates once the back-end mapped them ---
 *
 * Guest memory is covered in test-vring.c; the dirty log and the
 * in-flight area are written from the data path too, each push or pop a
 * store into the front-end's file. Every access past the new end of a
 * truncated file is SIGBUS, which the library must absorb: the test runs
 * in a child, so that SIGBUS fails it rather than ending the suite. */

static guint16
used_idx (Fixture *f)
{
  return __atomic_load_n ((guint16 *) (f->mem + USED + 2), __ATOMIC_ACQUIRE);
}

/* The driver offers @head, a 16-byte writable buffer at @gpa; the
 * device pops it and hands it back written. */
static void
process_one (Fixture        *f,
             VhostUserVring *vring,
             guint16         head,
             guint64         gpa)
{
  g_autoptr(GError) error = NULL;
  VhostUserVringElement e;

  set_desc (f, head, gpa, 16, 2, 0);
  make_available (f, head);
  g_assert_true (vhost_user_vring_pop (vring, &e, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (e.head, ==, head);
  g_assert_true (vhost_user_vring_push (vring, e.head, 16, &error));
  g_assert_no_error (error);
}

/* @len bytes of @fd at @offset, as pread() finds them (short past the
 * end): the test looks at what the back-end wrote without a mapping of
 * its own, which would take the SIGBUS it is testing for. */
static gsize
peek (int      fd,
      guint8  *buf,
      gsize    len,
      goffset  offset)
{
  gssize n = pread (fd, buf, len, offset);

  g_assert_cmpint (n, >=, 0);
  return n;
}

/* The log is @size bytes at 0x1000 in its file. */
static void
log_truncated (Fixture *f,
               gsize    size)
{
  VhostUserWireLog log = { size, 0x1000 };
  VhostUserVring *vring;
  guint8 bits[2];
  int fd = test_memfd (0x1000 + size), ours = dup (fd);

  negotiate (f, F_LOG_ALL);
  expect_ok (f, set_memory (f, FALSE, 0));
  expect_ok (f, call (f, REQ (SET_LOG_BASE), &log, sizeof log, &fd, 1));
  /* the used ring's writes are logged too */
  vring = setup_ring (f, 1, USED);

  /* the log is live: the buffer's page 11 and the used ring's page 2 */
  process_one (f, vring, 0, DATA + 0x3000);
  g_assert_cmpuint (peek (ours, bits, 2, 0x1000), ==, 2);
  g_assert_cmphex (bits[0], ==, 1u << 2);
  g_assert_cmphex (bits[1], ==, 1u << (11 % 8));

  /* cut inside the mapping's first page: the log's pages are gone */
  g_assert_cmpint (ftruncate (ours, 0x800), ==, 0);

  /* the device's writes are still logged, into nothing */
  process_one (f, vring, 1, DATA + 0x4000);
  vhost_user_backend_log_write (f->backend, DATA, 0x1000);
  g_assert_cmpuint (used_idx (f), ==, 2);
  g_assert_cmpuint (peek (ours, bits, 2, 0x1000), ==, 0);

  /* the back-end still answers, and logs into a log that holds */
  close (ours);
  fd = test_memfd (0x1000 + size);
  ours = dup (fd);
  expect_ok (f, call (f, REQ (SET_LOG_BASE), &log, sizeof log, &fd, 1));
  process_one (f, vring, 2, DATA + 0x5000);
  g_assert_cmpuint (peek (ours, bits, 2, 0x1000), ==, 2);
  g_assert_cmphex (bits[0], ==, 1u << 2);
  g_assert_cmphex (bits[1], ==, 1u << (13 % 8));
  close (ours);
}

/* The area is @size bytes, a page at most: truncating the file to 0
 * takes all of it. */
static void
inflight_truncated (Fixture *f,
                    gsize    size)
{
  VhostUserWireInflight area = { size, 0, 1, NUM };
  VhostUserVring *vring;
  guint8 header[16];
  guint8 entry;
  int fd = test_memfd (size), ours = dup (fd);

  negotiate (f, 0);
  expect_ok (f, set_memory (f, FALSE, 0));
  expect_ok (f, call (f, REQ (SET_INFLIGHT_FD), &area, sizeof area, &fd, 1));
  vring = setup_ring (f, 0, 0);

  /* the area is live: new (all holes), it is laid out at the first pop,
   * and written at each */
  process_one (f, vring, 0, DATA);
  g_assert_cmpuint (peek (ours, header, sizeof header, 0), ==, sizeof header);
  g_assert_cmpuint (header[8] | header[9] << 8, ==, 1);       /* version */
  g_assert_cmpuint (header[10] | header[11] << 8, ==, NUM);   /* desc_num */
  g_assert_cmpuint (peek (ours, &entry, 1, 16), ==, 1);
  g_assert_cmpuint (entry, ==, 0);    /* in flight, then done */

  g_assert_cmpint (ftruncate (ours, 0), ==, 0);

  /* each pop and push records into it, into nothing */
  for (guint i = 1; i < 4; i++)
    process_one (f, vring, i, DATA + 0x100 * i);
  g_assert_cmpuint (used_idx (f), ==, 4);
  g_assert_cmpuint (peek (ours, header, sizeof header, 0), ==, 0);

  /* the back-end still answers: the ring stops where it was */
  g_assert_cmpint (call_state (f, REQ (GET_VRING_BASE), 0, 0), ==, (gint64) 4 << 32);
  g_assert_false (f->closed);
  close (ours);
}

typedef struct {
  const char  *path;
  void       (*body) (Fixture *f, gsize size);
  gsize        size;
} Truncated;

/* A front-end truncates the log it gave (SET_LOG_BASE) or the in-flight
 * area (SET_INFLIGHT_FD): marking a page dirty, or recording a request,
 * would be SIGBUS unguarded. In whole pages, and ending inside a page
 * (a log sized in 64-bit words, as QEMU's; an area laid out as ours, 64
 * bytes aligned): the mapping's last page then lies partly past the size
 * asked for, and was left unguarded. */
static const Truncated truncated[] = {
  { "/hardening/log-truncated-after-mapping/whole-pages", log_truncated, 0x1000 },
  { "/hardening/log-truncated-after-mapping/partial-page", log_truncated, 0x808 },
  { "/hardening/inflight-truncated-after-mapping/whole-pages", inflight_truncated, 0x1000 },
  { "/hardening/inflight-truncated-after-mapping/partial-page", inflight_truncated, AREA_SIZE (NUM) },
};

/* In a child, against a back-end of its own: SIGBUS fails the test, not
 * the suite. */
static void
test_truncated (gconstpointer data)
{
  const Truncated *t = data;

  if (g_test_subprocess ())
    {
      Fixture f = { 0 };

      fixture_setup (&f, NULL);
      t->body (&f, t->size);
      fixture_teardown (&f, NULL);
      return;
    }
  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  /* the default context's own eventfd, before any test counts fds */
  g_main_context_iteration (NULL, FALSE);

#define ADD(path, func) g_test_add ("/hardening/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("cve-2020-10722-log-offset-overflow", test_log_offset_overflow);
  ADD ("log-offset-applied-once", test_log_offset_applied_once);
  ADD ("log-smaller-than-memory", test_log_smaller_than_memory);
  ADD ("cve-2020-10723-ring-index-truncated", test_ring_index_truncated);
  ADD ("cve-2020-10725-translated-address-unchecked", test_translated_address_unchecked);
  ADD ("cve-2018-1059-gpa-not-contiguous", test_gpa_not_contiguous);
  ADD ("cve-2020-10726-cve-2022-0669-fd-leak-on-error", test_fd_leak_on_error);
  ADD ("cve-2022-2132-chain-too-small-for-header", test_chain_too_small_for_header);
  ADD ("region-size-unchecked-before-mmap", test_region_size_unchecked);
  g_test_add ("/hardening/inflight-out-of-step-with-queue-size", Fixture, &inflight_out_of_step, fixture_setup,
              test_inflight_area, fixture_teardown);
  g_test_add ("/hardening/libvhost-user-check-queue-inflights-overflow", Fixture, &inflight_hostile, fixture_setup,
              test_inflight_area, fixture_teardown);
  ADD ("runt-rx-descriptor-copy-underflow", test_runt_rx_descriptor);
  ADD ("libvhost-user-indirect-copy-overflow", test_indirect_copy_overflow);
  ADD ("cve-2019-14818-set-vring-num-dos", test_set_vring_num_dos);
  for (guint i = 0; i < G_N_ELEMENTS (truncated); i++)
    g_test_add_data_func (truncated[i].path, &truncated[i], test_truncated);

  return g_test_run ();
}
