/* control-plane.c: what a vhost-user back-end's control plane costs, seen
 * from a front-end written with libc alone (so that every back-end is
 * measured through the same code, none of it ours)
 *
 *   control-plane --rtt N SOCKET      N GET_FEATURES round trips on one connection
 *   control-plane --echo N            the same sizes through a plain AF_UNIX echo
 *   control-plane --setup N SOCKET    N whole device setups, each on a connection
 *                                     of its own: QEMU's order for a 2-queue
 *                                     vhost-user-blk, from connect to the last
 *                                     GET_VRING_BASE reply and close
 *   control-plane --setup-no-inflight N SOCKET
 *                                     the same without INFLIGHT_SHMFD even where
 *                                     the back-end offers it: the requests a
 *                                     back-end without in-flight tracking gets
 *                                     (qemu-storage-daemon 7.2 offers none), for
 *                                     a like-for-like comparison
 *   ... --steps                       after a setup option: the median time of
 *                                     each step too (a round trip, or requests
 *                                     sent without a reply), to see where a
 *                                     setup's time goes
 *
 * Prints one line, "bench: ... median X us", with the median over N (round
 * trips are timed in batches of 1000, so their median is of batch means).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define GET_FEATURES          1
#define SET_FEATURES          2
#define SET_OWNER             3
#define SET_MEM_TABLE         5
#define SET_VRING_NUM         8
#define SET_VRING_ADDR        9
#define SET_VRING_BASE        10
#define GET_VRING_BASE        11
#define SET_VRING_KICK        12
#define SET_VRING_CALL        13
#define GET_PROTOCOL_FEATURES 15
#define SET_PROTOCOL_FEATURES 16
#define GET_QUEUE_NUM         17
#define SET_VRING_ENABLE      18
#define GET_CONFIG            24
#define GET_INFLIGHT_FD       31
#define SET_INFLIGHT_FD       32

#define F_PROTOCOL_FEATURES   (1ull << 30)
#define F_VERSION_1           (1ull << 32)
#define PF_MQ                 (1ull << 0)
#define PF_REPLY_ACK          (1ull << 3)
#define PF_CONFIG             (1ull << 9)
#define PF_INFLIGHT_SHMFD     (1ull << 12)

#define VERSION    0x1
#define NEED_REPLY 0x8
#define RINGS      2
#define RING_SIZE  256
#define MEM_SIZE   (1u << 20)

typedef struct {
  uint32_t request, flags, size;
  uint8_t  payload[256];
} Msg;

static void
die (const char *what)
{
  fprintf (stderr, "control-plane: %s: %s\n", what, errno ? strerror (errno) : "unexpected reply");
  exit (1);
}

static double
now_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
dial (const char *path)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  strncpy (addr.sun_path, path, sizeof addr.sun_path - 1);
  if (fd < 0 || connect (fd, (struct sockaddr *) &addr, sizeof addr) != 0)
    die (path);
  return fd;
}

static void
send_msg (int         sock,
          uint32_t    request,
          uint32_t    flags,
          const void *payload,
          uint32_t    size,
          const int  *fds,
          int         n_fds)
{
  Msg m = { request, VERSION | flags, size, { 0 } };
  struct iovec iov = { &m, 12 + size };
  char control[CMSG_SPACE (sizeof (int) * 8)];
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

  if (size > 0)
    memcpy (m.payload, payload, size);
  if (n_fds > 0)
    {
      struct cmsghdr *c;

      memset (control, 0, sizeof control);
      mh.msg_control = control;
      mh.msg_controllen = CMSG_SPACE (sizeof (int) * n_fds);
      c = CMSG_FIRSTHDR (&mh);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN (sizeof (int) * n_fds);
      memcpy (CMSG_DATA (c), fds, sizeof (int) * n_fds);
    }
  if (sendmsg (sock, &mh, MSG_NOSIGNAL) != (ssize_t) iov.iov_len)
    die ("sendmsg");
}

/* A reply to @request; its fd, if any, in *@fd. */
static void
recv_reply (int       sock,
            uint32_t  request,
            Msg      *m,
            int      *fd)
{
  char control[CMSG_SPACE (sizeof (int) * 8)];
  struct iovec iov = { m, 12 };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                       .msg_controllen = sizeof control };
  struct cmsghdr *c;

  if (fd != NULL)
    *fd = -1;
  if (recvmsg (sock, &mh, MSG_CMSG_CLOEXEC | MSG_WAITALL) != 12)
    die ("recvmsg");
  for (c = CMSG_FIRSTHDR (&mh); c != NULL; c = CMSG_NXTHDR (&mh, c))
    if (c->cmsg_type == SCM_RIGHTS)
      {
        int got;

        memcpy (&got, CMSG_DATA (c), sizeof got);
        if (fd != NULL)
          *fd = got;
        else
          close (got);
      }
  if (m->request != request || m->size > sizeof m->payload ||
      (m->size > 0 && recv (sock, m->payload, m->size, MSG_WAITALL) != (ssize_t) m->size))
    die ("reply");
}

static uint64_t
call_u64 (int      sock,
          uint32_t request)
{
  Msg m;
  uint64_t v;

  send_msg (sock, request, 0, NULL, 0, NULL, 0);
  recv_reply (sock, request, &m, NULL);
  memcpy (&v, m.payload, sizeof v);
  return v;
}

static void
send_u64 (int      sock,
          uint32_t request,
          uint64_t value)
{
  send_msg (sock, request, 0, &value, sizeof value, NULL, 0);
}

static void
send_state (int      sock,
            uint32_t request,
            uint32_t index,
            uint32_t num)
{
  uint32_t state[2] = { index, num };

  send_msg (sock, request, 0, state, sizeof state, NULL, 0);
}

static int
cmp_double (const void *a,
            const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

static double
median (double *v,
        int     n)
{
  qsort (v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Whether a setup takes the in-flight area where the back-end offers it
 * (QEMU does). */
static int ask_inflight = 1;

/* --steps: when each step of the current setup ended (from its start),
 * and the names of the steps (the requests answered, the last request
 * of the ones that are not) */
enum { STEP_CONNECT_FEATURES, STEP_PROTOCOL, STEP_QUEUE_NUM, STEP_CONFIG, STEP_MEM_TABLE, STEP_INFLIGHT,
       STEP_RINGS, STEP_VRING_BASE_0, STEP_VRING_BASE_1, STEP_CLOSE, N_STEPS };
static const char *const step_names[N_STEPS] = {
  "connect, GET_FEATURES", "GET_PROTOCOL_FEATURES", "GET_QUEUE_NUM", "SET_OWNER, GET_CONFIG",
  "SET_FEATURES, SET_MEM_TABLE (ack)", "GET_INFLIGHT_FD", "[SET_INFLIGHT_FD,] 2 rings set up, no reply",
  "GET_VRING_BASE 0", "GET_VRING_BASE 1", "close",
};
static double step_end[N_STEPS];

#define STEP(t0, s) (step_end[s] = now_us () - (t0))

/* One setup as QEMU 7.2 does it for vhost-user-blk with 2 queues. */
static double
setup_once (const char *path,
            int         memfd,
            uint8_t    *mem)
{
  double t0 = now_us ();
  int sock = dial (path);
  uint64_t features, protocol, want;
  int inflight_fd = -1;
  Msg m;

  memset (step_end, 0, sizeof step_end);
  features = call_u64 (sock, GET_FEATURES);
  STEP (t0, STEP_CONNECT_FEATURES);
  protocol = 0;
  if (features & F_PROTOCOL_FEATURES)
    {
      protocol = call_u64 (sock, GET_PROTOCOL_FEATURES) &
                 (PF_MQ | PF_REPLY_ACK | PF_CONFIG | (ask_inflight ? PF_INFLIGHT_SHMFD : 0));
      STEP (t0, STEP_PROTOCOL);
      send_u64 (sock, SET_PROTOCOL_FEATURES, protocol);
    }
  if (protocol & PF_MQ)
    {
      call_u64 (sock, GET_QUEUE_NUM);
      STEP (t0, STEP_QUEUE_NUM);
    }
  send_msg (sock, SET_OWNER, 0, NULL, 0, NULL, 0);
  if (protocol & PF_CONFIG)
    {
      uint32_t cfg[3] = { 0, 60, 0 };   /* offset, size, flags; then the bytes */
      uint8_t buf[12 + 60] = { 0 };

      memcpy (buf, cfg, sizeof cfg);
      send_msg (sock, GET_CONFIG, 0, buf, sizeof buf, NULL, 0);
      recv_reply (sock, GET_CONFIG, &m, NULL);
      STEP (t0, STEP_CONFIG);
    }
  want = features & (F_VERSION_1 | F_PROTOCOL_FEATURES);
  send_u64 (sock, SET_FEATURES, want);
  {
    struct { uint32_t n, pad; uint64_t gpa, size, uaddr, offset; } table =
      { 1, 0, 0, MEM_SIZE, (uint64_t) (uintptr_t) mem, 0 };

    send_msg (sock, SET_MEM_TABLE, (protocol & PF_REPLY_ACK) ? NEED_REPLY : 0, &table, sizeof table, &memfd, 1);
    if (protocol & PF_REPLY_ACK)
      recv_reply (sock, SET_MEM_TABLE, &m, NULL);
    STEP (t0, STEP_MEM_TABLE);
  }
  if (protocol & PF_INFLIGHT_SHMFD)
    {
      uint64_t req[3] = { 0, 0, 0 };
      uint16_t *q = (uint16_t *) &req[2];

      q[0] = RINGS;
      q[1] = RING_SIZE;
      send_msg (sock, GET_INFLIGHT_FD, 0, req, sizeof req, NULL, 0);
      recv_reply (sock, GET_INFLIGHT_FD, &m, &inflight_fd);
      STEP (t0, STEP_INFLIGHT);
      if (inflight_fd < 0)
        die ("GET_INFLIGHT_FD without an fd");
      send_msg (sock, SET_INFLIGHT_FD, 0, m.payload, 24, &inflight_fd, 1);
      close (inflight_fd);
    }
  for (uint32_t i = 0; i < RINGS; i++)
    {
      uint64_t base = (uint64_t) (uintptr_t) mem + i * 0x10000;
      struct { uint32_t index, flags; uint64_t desc, used, avail, log; } addr =
        { i, 0, base, base + 0x2000, base + 0x1000, 0 };
      int kick = eventfd (0, EFD_CLOEXEC), call = eventfd (0, EFD_CLOEXEC);
      uint64_t word = i;

      send_state (sock, SET_VRING_NUM, i, RING_SIZE);
      send_state (sock, SET_VRING_BASE, i, 0);
      send_msg (sock, SET_VRING_ADDR, 0, &addr, sizeof addr, NULL, 0);
      send_msg (sock, SET_VRING_KICK, 0, &word, sizeof word, &kick, 1);
      send_msg (sock, SET_VRING_CALL, 0, &word, sizeof word, &call, 1);
      if (want & F_PROTOCOL_FEATURES)
        send_state (sock, SET_VRING_ENABLE, i, 1);
      close (kick);
      close (call);
    }
  STEP (t0, STEP_RINGS);
  for (uint32_t i = 0; i < RINGS; i++)
    {
      send_state (sock, GET_VRING_BASE, i, 0);
      recv_reply (sock, GET_VRING_BASE, &m, NULL);
      STEP (t0, STEP_VRING_BASE_0 + i);
    }
  close (sock);
  return STEP (t0, STEP_CLOSE);
}

/* The floor: a child that answers every 12-byte message with 20 bytes. */
static int
start_echo (pid_t *child)
{
  int pair[2];

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
    die ("socketpair");
  *child = fork ();
  if (*child == 0)
    {
      uint8_t buf[20] = { 0 };

      close (pair[0]);
      while (recv (pair[1], buf, 12, MSG_WAITALL) == 12)
        {
          buf[8] = 8;
          if (send (pair[1], buf, 20, MSG_NOSIGNAL) != 20)
            break;
        }
      _exit (0);
    }
  close (pair[1]);
  return pair[0];
}

int
main (int    argc,
      char **argv)
{
  const char *mode = argc > 1 ? argv[1] : "";
  int n = argc > 2 ? atoi (argv[2]) : 0;
  double *samples;

  if (n <= 0 || (strcmp (mode, "--echo") != 0 && argc < 4))
    {
      fprintf (stderr, "usage: control-plane --rtt N SOCKET | --echo N | --setup N SOCKET [--steps] |"
                       " --setup-no-inflight N SOCKET [--steps]\n");
      return 2;
    }
  samples = calloc (n, sizeof *samples);

  if (strcmp (mode, "--setup") == 0 || strcmp (mode, "--setup-no-inflight") == 0)
    {
      int memfd = memfd_create ("guest", MFD_CLOEXEC);
      int steps = argc > 4 && strcmp (argv[4], "--steps") == 0;
      double *step_samples = calloc ((size_t) n * N_STEPS, sizeof *step_samples);
      uint8_t *mem;

      if (memfd < 0 || ftruncate (memfd, MEM_SIZE) != 0)
        die ("memfd");
      mem = mmap (NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
      if (mem == MAP_FAILED)
        die ("mmap");
      ask_inflight = strcmp (mode, "--setup") == 0;
      setup_once (argv[3], memfd, mem);   /* warm-up */
      for (int i = 0; i < n; i++)
        {
          samples[i] = setup_once (argv[3], memfd, mem);
          /* each step's own time: from the end of the step before it */
          for (int s = 0, prev = -1; s < N_STEPS; s++)
            if (step_end[s] > 0)
              {
                step_samples[(size_t) s * n + i] = step_end[s] - (prev >= 0 ? step_end[prev] : 0);
                prev = s;
              }
            else
              step_samples[(size_t) s * n + i] = -1;
        }
      if (steps)
        for (int s = 0; s < N_STEPS; s++)
          if (step_samples[(size_t) s * n] >= 0)
            printf ("step: %-45s median %7.1f us\n", step_names[s], median (step_samples + (size_t) s * n, n));
      printf ("bench: %d device setups (2 queues%s): median %.1f us\n", n,
              ask_inflight ? "" : ", no in-flight area", median (samples, n));
      free (step_samples);
    }
  else if (strcmp (mode, "--rtt") == 0 || strcmp (mode, "--echo") == 0)
    {
      int echo = strcmp (mode, "--echo") == 0;
      pid_t child = -1;
      int sock = echo ? start_echo (&child) : dial (argv[3]);
      int batches = n < 1000 ? 1 : n / 1000, each = n / batches;

      for (int i = 0; i < 1000; i++)   /* warm-up */
        call_u64 (sock, GET_FEATURES);
      for (int b = 0; b < batches; b++)
        {
          double t0 = now_us ();

          for (int i = 0; i < each; i++)
            call_u64 (sock, GET_FEATURES);
          samples[b] = (now_us () - t0) / each;
        }
      close (sock);
      if (child > 0)
        waitpid (child, NULL, 0);
      printf ("bench: %d round trips (%s): median %.2f us\n", batches * each,
              echo ? "raw AF_UNIX echo" : "GET_FEATURES", median (samples, batches));
    }
  else
    return 2;
  free (samples);
  return 0;
}
