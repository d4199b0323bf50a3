/* test-trace.c: our front-end and our back-end talk through vhost-user-trace
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The proxy ($VHOST_USER_TRACE) runs as a program of its own between a
 * VhostUserFrontend and a VhostUserBackend of this process. What the
 * back-end receives must be what the front-end sent: a memory region
 * written through the front-end's mapping reads back through the
 * back-end's (the memfd went through the proxy), back-end requests cross
 * the back-end channel the proxy spliced in, a reply's fd arrives. The
 * JSON trace must then hold each of those messages, with its fd count, the
 * replies with their latency, and a summary that counts them.
 *
 * A message the library would reject (a payload and fds GET_FEATURES
 * does not take) crosses the proxy byte for byte with its fds, and the
 * trace says what is wrong with it.
 *
 * A back-end that reads nothing holds up only what is sent to it: the
 * proxy keeps a bounded amount for it, relays the other way meanwhile,
 * hands everything over once it reads, and still ends on SIGTERM or
 * when the front-end hangs up. Nobody reading the trace does the same
 * to both directions: the proxy pauses, bounded, ends on SIGTERM, and
 * once the trace is read again it goes on with no line lost. So does
 * a back-end whose socket takes no connection: SIGTERM still ends the
 * proxy that waits for it. While the trace waits, no next front-end is
 * taken; an output whose write() takes nothing is tried again after a
 * rest; a standard output closed at start is refused without --output.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <vhost-user-glib.h>

#include "test-util.h"
#include "vhost-user-socket-private.h"

typedef struct {
  char              *dir;
  char              *front;
  char              *back;
  char              *trace;
  GSocket           *listener;
  GSocket           *accepted;   /* the proxy's connection to the back-end */
  GSocket           *raw_front;  /* ours to the proxy, without a front-end */
  GSubprocess       *proxy;
  int                stdout_pipe;   /* the trace, without --output; else -1 */
  VhostUserFrontend *frontend;
  VhostUserBackend  *backend;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  const char *program = g_getenv ("VHOST_USER_TRACE");
  gboolean to_stdout = g_strcmp0 (data, "stdout") == 0;

  f->stdout_pipe = -1;
  if (program == NULL)
    {
      g_test_skip ("VHOST_USER_TRACE is not set (run through meson test)");
      return;
    }

  f->dir = g_dir_make_tmp ("vhost-user-trace-XXXXXX", &error);
  g_assert_no_error (error);
  f->front = g_build_filename (f->dir, "front.sock", NULL);
  f->back = g_build_filename (f->dir, "back.sock", NULL);
  f->trace = g_build_filename (f->dir, "trace.json", NULL);

  f->listener = vhost_user_socket_listen (f->back, 0, &error);
  g_assert_no_error (error);

  /* "stdout": the trace goes to a pipe of the test's instead of a file */
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  if (to_stdout)
    {
      int fds[2];

      g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, &error));
      g_assert_no_error (error);
      f->stdout_pipe = fds[0];
      g_subprocess_launcher_take_stdout_fd (launcher, fds[1]);
    }
  f->proxy = g_subprocess_launcher_spawn (launcher, &error, program,
                                          "--listen", f->front, "--connect", f->back,
                                          "--once", "--json", "--hexdump",
                                          /* a peer that takes nothing of what a hung-up one left
                                           * ends the session sooner than in 30 s */
                                          "--drain-timeout", "3000",
                                          to_stdout ? NULL : "--output", f->trace, NULL);
  g_assert_no_error (error);

  /* waits for the proxy's socket to appear; with @data, the test speaks
   * raw bytes on both ends */
  if (data == NULL)
    {
      f->frontend = vhost_user_frontend_new ();
      g_assert_true (vhost_user_frontend_connect_to_path (f->frontend, f->front, 10000, NULL, &error));
    }
  else
    f->raw_front = vhost_user_socket_connect (f->front, 10000, NULL, &error);
  g_assert_no_error (error);

  /* the proxy connects to us once the front-end is in */
  g_socket_set_blocking (f->listener, TRUE);
  g_socket_set_timeout (f->listener, 10);
  f->accepted = g_socket_accept (f->listener, NULL, &error);
  g_assert_no_error (error);
  g_socket_set_timeout (f->accepted, 0);
  if (data != NULL)
    return;

  f->backend = g_object_new (VHOST_USER_TYPE_BACKEND, "protocol-features", (guint64) VHOST_USER_PROTOCOL_FEATURE_BACKEND_REQ |
                             VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK | VHOST_USER_PROTOCOL_FEATURE_CONFIG |
                             VHOST_USER_PROTOCOL_FEATURE_SHARED_OBJECT | VHOST_USER_PROTOCOL_FEATURE_BACKEND_SEND_FD |
                             VHOST_USER_PROTOCOL_FEATURE_CONFIGURE_MEM_SLOTS, NULL);
  g_assert_true (vhost_user_backend_take_socket (f->backend, f->accepted, &error));
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_object (&f->frontend);
  g_clear_object (&f->backend);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  if (f->proxy != NULL)
    {
      g_subprocess_force_exit (f->proxy);
      g_subprocess_wait (f->proxy, NULL, NULL);
      g_clear_object (&f->proxy);
    }
  g_clear_object (&f->accepted);
  g_clear_object (&f->raw_front);
  g_clear_object (&f->listener);
  if (f->stdout_pipe >= 0)
    close (f->stdout_pipe);
  if (f->dir != NULL)
    {
      g_unlink (f->front);
      g_unlink (f->back);
      g_unlink (f->trace);
      g_rmdir (f->dir);
    }
  g_free (f->front);
  g_free (f->back);
  g_free (f->trace);
  g_free (f->dir);
}

static void
got (GObject      *source,
     GAsyncResult *result,
     gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static gboolean
lookup_answers_fd (VhostUserFrontend   *frontend,
                   VhostUserInvocation *invocation,
                   const char          *uuid,
                   gpointer             user_data)
{
  int fd = test_memfd (4096);

  g_assert_cmpint (ftruncate (fd, 12345), ==, 0);
  /* borrowed: the reply carries a copy */
  vhost_user_invocation_return_fd (invocation, 0, fd);
  close (fd);
  return TRUE;
}

static void
wait_for (GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
}

/* The trace's lines with every one of @needles in them */
static guint
count_lines (char       **lines,
             const char  *first,
             ...)
{
  guint n = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      gboolean all = TRUE;
      va_list args;

      va_start (args, first);
      for (const char *needle = first; needle != NULL && all; needle = va_arg (args, const char *))
        all = strstr (lines[i], needle) != NULL;
      va_end (args);
      if (all)
        n++;
    }
  return n;
}

static void
test_relay (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserMemoryRegion) region = NULL;
  g_autoptr(GBytes) uuid = g_bytes_new ("0123456789abcdef", 16);
  g_autoptr(GAsyncResult) result = NULL;
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  VhostUserMemoryTable *table;
  guint64 len = 25;
  const guint8 *seen;
  struct stat st;
  int fd = -1;

  if (f->proxy == NULL)
    return;

  /* Both roles live in this thread's default context and the proxy is
   * another process: every call is async, and we iterate until it is
   * answered. */
  vhost_user_frontend_negotiate_async (f->frontend, VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_VERSION_1),
                                       VHOST_USER_PROTOCOL_FEATURE_BACKEND_REQ | VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK |
                                       VHOST_USER_PROTOCOL_FEATURE_CONFIG | VHOST_USER_PROTOCOL_FEATURE_SHARED_OBJECT |
                                       VHOST_USER_PROTOCOL_FEATURE_BACKEND_SEND_FD |
                                       VHOST_USER_PROTOCOL_FEATURE_CONFIGURE_MEM_SLOTS,
                                       NULL, got, &result);
  wait_for (&result);
  g_assert_true (vhost_user_frontend_negotiate_finish (f->frontend, result, &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  vhost_user_frontend_setup_backend_channel_async (f->frontend, NULL, got, &result);
  wait_for (&result);
  g_assert_true (vhost_user_frontend_setup_backend_channel_finish (f->frontend, result, &error));
  g_assert_no_error (error);
  g_clear_object (&result);

  /* the memfd crossed the proxy: what the front-end writes, the back-end reads */
  region = vhost_user_memory_region_new_memfd (0x100000, 64 * 1024, &error);
  g_assert_no_error (error);
  memcpy (vhost_user_memory_region_get_host_addr (region), "written by the front-end", 25);
  vhost_user_frontend_add_mem_region_async (f->frontend, region, NULL, got, &result);
  wait_for (&result);
  g_assert_true (vhost_user_frontend_add_mem_region_finish (f->frontend, result, &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  table = vhost_user_backend_get_memory_table (f->backend);
  g_assert_nonnull (table);
  seen = vhost_user_memory_table_translate_gpa (table, 0x100000, &len);
  g_assert_nonnull (seen);
  g_assert_cmpuint (len, >=, 25);
  g_assert_cmpstr ((const char *) seen, ==, "written by the front-end");

  /* a back-end request through the spliced channel, answered by default */
  vhost_user_backend_notify_config_change_async (f->backend, NULL, got, &result);
  wait_for (&result);
  g_assert_true (vhost_user_backend_notify_config_change_finish (f->backend, result, &error));
  g_assert_no_error (error);
  g_clear_object (&result);

  /* and one whose reply carries an fd back to the back-end */
  g_signal_connect (f->frontend, "shared-object-lookup", G_CALLBACK (lookup_answers_fd), NULL);
  vhost_user_backend_send_backend_request_async (f->backend, VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_LOOKUP,
                                                 uuid, -1, NULL, got, &result);
  wait_for (&result);
  g_assert_cmpuint (vhost_user_backend_send_backend_request_finish (f->backend, result, &fd, &error), ==, 0);
  g_assert_no_error (error);
  g_clear_object (&result);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (fstat (fd, &st), ==, 0);
  g_assert_cmpint (st.st_size, ==, 12345);
  close (fd);

  /* the ring's stop */
  vhost_user_frontend_set_vring_state_async (f->frontend, VHOST_USER_REQUEST_SET_VRING_BASE, 0, 42, NULL, got, &result);
  wait_for (&result);
  g_assert_true (vhost_user_frontend_set_vring_state_finish (f->frontend, result, &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  vhost_user_frontend_get_vring_base_async (f->frontend, 0, NULL, got, &result);
  wait_for (&result);
  g_assert_cmpuint (vhost_user_frontend_get_vring_base_finish (f->frontend, result, &error), ==, 42);
  g_assert_no_error (error);

  /* the front-end leaves: with --once the proxy ends the session and exits */
  vhost_user_frontend_close (f->frontend);
  g_assert_true (g_subprocess_wait_check (f->proxy, NULL, &error));
  g_assert_no_error (error);

  g_assert_true (g_file_get_contents (f->trace, &contents, NULL, &error));
  g_assert_no_error (error);
  g_test_message ("%s", contents);
  lines = g_strsplit (contents, "\n", -1);

  g_assert_cmpuint (count_lines (lines, "\"event\": \"connected\"", NULL), ==, 1);
  /* the memory region with its fd, the channel's socket, both acked */
  g_assert_cmpuint (count_lines (lines, "\"direction\": \"front-end->back-end\", \"channel\": \"main\", "
                                 "\"request\": \"ADD_MEM_REG\", \"number\": 37, \"reply\": false",
                                 "\"fds\": 1, \"fields\": \"gpa=0x100000 size=0x10000", NULL), ==, 1);
  g_assert_cmpuint (count_lines (lines, "\"request\": \"ADD_MEM_REG\"", "\"reply\": true", "\"fds\": 0",
                                 "\"fields\": \"u64=0x0\", \"latency_us\": ", NULL), ==, 1);
  g_assert_cmpuint (count_lines (lines, "\"request\": \"SET_BACKEND_REQ_FD\"", "\"reply\": false", "\"fds\": 1", NULL), ==, 1);
  /* back-end requests, and the front-end's replies, one with an fd */
  g_assert_cmpuint (count_lines (lines, "\"direction\": \"back-end->front-end\", \"channel\": \"back-end\", "
                                 "\"request\": \"BACKEND_CONFIG_CHANGE_MSG\"", "\"reply\": false", NULL), ==, 1);
  g_assert_cmpuint (count_lines (lines, "\"direction\": \"front-end->back-end\", \"channel\": \"back-end\", "
                                 "\"request\": \"BACKEND_CONFIG_CHANGE_MSG\"", "\"reply\": true", "\"latency_us\": ", NULL), ==, 1);
  g_assert_cmpuint (count_lines (lines, "\"channel\": \"back-end\", \"request\": \"BACKEND_SHARED_OBJECT_LOOKUP\"",
                                 "\"reply\": false", "\"fields\": \"uuid=30313233-3435-3637-3839-616263646566\"", NULL), ==, 1);
  g_assert_cmpuint (count_lines (lines, "\"channel\": \"back-end\", \"request\": \"BACKEND_SHARED_OBJECT_LOOKUP\"",
                                 "\"reply\": true", "\"fds\": 1", NULL), ==, 1);
  /* the ring's base, set and read back */
  g_assert_cmpuint (count_lines (lines, "\"request\": \"GET_VRING_BASE\"", "\"reply\": true",
                                 "\"fields\": \"index=0 num=42 (0x2a)\"", "\"latency_us\": ", NULL), ==, 1);
  /* every message carries its bytes: the header of GET_FEATURES is 01 00 00 00 01 00 00 00 00 00 00 00 */
  g_assert_cmpuint (count_lines (lines, "\"request\": \"GET_FEATURES\", \"number\": 1, \"reply\": false",
                                 "\"hex\": \"010000000100000000000000\"", NULL), ==, 1);
  g_assert_cmpuint (count_lines (lines, "\"invalid\": \"", NULL), ==, 0);
  g_assert_cmpuint (count_lines (lines, "\"event\": \"summary\"", "\"reason\": \"the front-end hung up\"",
                                 "\"nacks\": 0, \"invalid\": 0", "\"ADD_MEM_REG\": 1", "\"GET_VRING_BASE\": 1",
                                 "\"back-end\": {", "\"BACKEND_CONFIG_CHANGE_MSG\": 1", "\"BACKEND_SHARED_OBJECT_LOOKUP\": 1", NULL), ==, 1);
}

/* one message, its fds with the first byte */
static void
send_raw (int           fd,
          const guint8 *data,
          gsize         len,
          const int    *fds,
          guint         n_fds)
{
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE (sizeof (int) * 8)];
  } control;
  struct iovec iov = { (gpointer) data, len };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

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
  g_assert_cmpint (sendmsg (fd, &mh, MSG_NOSIGNAL), ==, (gssize) len);
}

/* exactly @len bytes (blocking), and the fds that came with them */
static void
receive_raw (int     fd,
             guint8 *data,
             gsize   len,
             int    *fds,
             guint  *n_fds)
{
  gsize have = 0;

  *n_fds = 0;
  while (have < len)
    {
      union {
        struct cmsghdr align;
        char buf[CMSG_SPACE (sizeof (int) * 8)];
      } control;
      struct iovec iov = { data + have, len - have };
      struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
                           .msg_control = control.buf, .msg_controllen = sizeof control.buf };
      struct pollfd pfd = { fd, POLLIN, 0 };
      gssize n;

      g_assert_cmpint (poll (&pfd, 1, 10000), ==, 1);
      n = recvmsg (fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
      g_assert_cmpint (n, >, 0);
      for (struct cmsghdr *cmsg = CMSG_FIRSTHDR (&mh); cmsg != NULL; cmsg = CMSG_NXTHDR (&mh, cmsg))
        for (gsize i = 0; i < (cmsg->cmsg_len - CMSG_LEN (0)) / sizeof (int); i++)
          memcpy (&fds[(*n_fds)++], CMSG_DATA (cmsg) + i * sizeof (int), sizeof (int));
      have += n;
    }
}

/* A message our library would reject goes through as it is, fds and
 * all, and the trace says what is wrong with it. */
static void
test_invalid_relayed (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) front = NULL;
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  /* GET_FEATURES with a stray payload byte pattern and two fds: it takes neither */
  const guint8 request[] = { 1, 0, 0, 0,  1, 0, 0, 0,  4, 0, 0, 0,  0xde, 0xad, 0xbe, 0xef };
  /* its reply: features 0x1234 */
  const guint8 reply[] = { 1, 0, 0, 0,  5, 0, 0, 0,  8, 0, 0, 0,  0x34, 0x12, 0, 0, 0, 0, 0, 0 };
  guint8 got[sizeof reply];
  int fds[8], received[8];
  guint n_received;
  struct stat st;

  if (f->proxy == NULL)
    return;

  fds[0] = test_eventfd ();
  fds[1] = test_memfd (4096);
  send_raw (g_socket_get_fd (f->raw_front), request, sizeof request, fds, 2);
  close (fds[0]);

  /* the back-end side gets the same bytes and two fds, the memfd among them */
  {
    guint8 bytes[sizeof request];

    receive_raw (g_socket_get_fd (f->accepted), bytes, sizeof bytes, received, &n_received);
    g_assert_cmpmem (bytes, sizeof bytes, request, sizeof request);
    g_assert_cmpuint (n_received, ==, 2);
    g_assert_cmpint (fstat (received[1], &st), ==, 0);
    g_assert_cmpint (st.st_size, ==, 4096);
    close (received[0]);
    close (received[1]);
    close (fds[1]);
  }

  send_raw (g_socket_get_fd (f->accepted), reply, sizeof reply, NULL, 0);
  receive_raw (g_socket_get_fd (f->raw_front), got, sizeof got, received, &n_received);
  g_assert_cmpmem (got, sizeof got, reply, sizeof reply);
  g_assert_cmpuint (n_received, ==, 0);

  g_socket_close (f->raw_front, NULL);
  g_assert_true (g_subprocess_wait_check (f->proxy, NULL, &error));
  g_assert_no_error (error);

  g_assert_true (g_file_get_contents (f->trace, &contents, NULL, &error));
  g_assert_no_error (error);
  g_test_message ("%s", contents);
  lines = g_strsplit (contents, "\n", -1);
  g_assert_cmpuint (count_lines (lines, "\"request\": \"GET_FEATURES\", \"number\": 1, \"reply\": false",
                                 "\"size\": 4, \"fds\": 2", "\"invalid\": \"GET_FEATURES has a 4-byte payload, it takes 0\"",
                                 "\"hex\": \"010000000100000004000000deadbeef\"", NULL), ==, 1);
  g_assert_cmpuint (count_lines (lines, "\"request\": \"GET_FEATURES\"", "\"reply\": true",
                                 "\"fields\": \"u64=0x1234\"", "\"latency_us\": ", NULL), ==, 1);
  g_assert_cmpuint (count_lines (lines, "\"event\": \"summary\"", "\"invalid\": 1", NULL), ==, 1);
}

/* SET_FEATURES with a full-size payload (it takes 8 bytes, but the proxy
 * relays what comes) */
static guint8 flood_message[12 + 4096];

static void
flood_message_init (void)
{
  const guint32 header[] = { 2, 1, 4096 };

  memcpy (flood_message, header, sizeof header);
  for (gsize i = sizeof header; i < sizeof flood_message; i++)
    flood_message[i] = i % 251;
}

/* @flood_message again and again, with @pass_fd (unless it is -1) on
 * each one's first byte, sent without waiting until the proxy takes no
 * more for a second. Returns the bytes it took. */
static gsize
flood_until_stalled (int fd,
                     int pass_fd)
{
  gsize sent = 0;

  flood_message_init ();
  for (;;)
    {
      union {
        struct cmsghdr align;
        char buf[CMSG_SPACE (sizeof (int))];
      } control;
      struct pollfd pfd = { fd, POLLOUT, 0 };
      gsize at = sent % sizeof flood_message;
      struct iovec iov = { flood_message + at, sizeof flood_message - at };
      struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
      gssize n;

      if (at == 0 && pass_fd >= 0)
        {
          struct cmsghdr *cmsg;

          memset (control.buf, 0, sizeof control.buf);
          mh.msg_control = control.buf;
          mh.msg_controllen = sizeof control.buf;
          cmsg = CMSG_FIRSTHDR (&mh);
          cmsg->cmsg_level = SOL_SOCKET;
          cmsg->cmsg_type = SCM_RIGHTS;
          cmsg->cmsg_len = CMSG_LEN (sizeof (int));
          memcpy (CMSG_DATA (cmsg), &pass_fd, sizeof (int));
        }
      if (poll (&pfd, 1, 1000) == 0)
        return sent;
      n = sendmsg (fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno == EAGAIN)
        continue;
      g_assert_cmpint (n, >, 0);
      sent += n;
      /* what the proxy keeps for a peer that reads nothing is bounded */
      g_assert_cmpuint (sent, <, 16 * 1024 * 1024);
    }
}

/* The back-end reads nothing: the front-end's messages stop at the
 * proxy, the back-end's still cross it the other way. */
static void
test_stuck_peer_other_way (Fixture       *f,
                           gconstpointer  data)
{
  /* a GET_FEATURES reply, no request needed for the proxy to relay it */
  const guint8 reply[] = { 1, 0, 0, 0,  5, 0, 0, 0,  8, 0, 0, 0,  0x34, 0x12, 0, 0, 0, 0, 0, 0 };
  guint8 got[sizeof reply];
  int received[8];
  guint n_received;

  if (f->proxy == NULL)
    return;

  g_test_message ("%" G_GSIZE_FORMAT " bytes taken", flood_until_stalled (g_socket_get_fd (f->raw_front), -1));
  send_raw (g_socket_get_fd (f->accepted), reply, sizeof reply, NULL, 0);
  receive_raw (g_socket_get_fd (f->raw_front), got, sizeof got, received, &n_received);
  g_assert_cmpmem (got, sizeof got, reply, sizeof reply);
}

/* Reads @len bytes from @fd, each what @flood_message has there, and
 * returns how many fds came with them. */
static guint
drain_flood (int   fd,
             gsize len)
{
  gsize have = 0;
  guint n_fds = 0;

  while (have < len)
    {
      union {
        struct cmsghdr align;
        char buf[CMSG_SPACE (sizeof (int) * 8)];
      } control;
      guint8 buf[8192];
      struct iovec iov = { buf, MIN (sizeof buf, len - have) };
      struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
                           .msg_control = control.buf, .msg_controllen = sizeof control.buf };
      struct pollfd pfd = { fd, POLLIN, 0 };
      gssize n;

      g_assert_cmpint (poll (&pfd, 1, 10000), ==, 1);
      n = recvmsg (fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
      g_assert_cmpint (n, >, 0);
      for (struct cmsghdr *cmsg = CMSG_FIRSTHDR (&mh); cmsg != NULL; cmsg = CMSG_NXTHDR (&mh, cmsg))
        for (gsize i = 0; i < (cmsg->cmsg_len - CMSG_LEN (0)) / sizeof (int); i++)
          {
            int passed;

            memcpy (&passed, CMSG_DATA (cmsg) + i * sizeof (int), sizeof (int));
            close (passed);
            n_fds++;
          }
      for (gssize i = 0; i < n; i++)
        if (buf[i] != flood_message[(have + i) % sizeof flood_message])
          g_error ("byte %" G_GSIZE_FORMAT " is %u, not %u", have + i, buf[i],
                   flood_message[(have + i) % sizeof flood_message]);
      have += n;
    }
  return n_fds;
}

/* Everything that waited for a back-end slow to read reaches it once it
 * reads, in order, each message's fd with it; the proxy reads on from the
 * front-end then. */
static void
test_stuck_peer_drained (Fixture       *f,
                         gconstpointer  data)
{
  int pass_fd;
  gsize sent, whole;

  if (f->proxy == NULL)
    return;

  pass_fd = test_eventfd ();
  sent = flood_until_stalled (g_socket_get_fd (f->raw_front), pass_fd);
  g_test_message ("%" G_GSIZE_FORMAT " bytes taken", sent);
  /* the proxy relays whole messages only */
  whole = sent - sent % sizeof flood_message;
  g_assert_cmpuint (drain_flood (g_socket_get_fd (f->accepted), whole), ==, whole / sizeof flood_message);

  /* and the last one once it is whole */
  if (whole < sent)
    {
      g_socket_set_blocking (f->raw_front, TRUE);
      g_assert_cmpint (send (g_socket_get_fd (f->raw_front), flood_message + sent - whole,
                             sizeof flood_message - (sent - whole), MSG_NOSIGNAL),
                       ==, (gssize) (sizeof flood_message - (sent - whole)));
      g_assert_cmpuint (drain_flood (g_socket_get_fd (f->accepted), sizeof flood_message), ==, 1);
    }
  close (pass_fd);
}

static gboolean
set_flag (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* @proxy exits, with @status, within @seconds (generous: the machine
 * may be loaded; each caller's bound is far from what it rules out). */
static void
assert_exits_with_within (GSubprocess *proxy,
                          int          status,
                          guint        seconds)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  gboolean late = FALSE;
  guint timeout;

  g_subprocess_wait_async (proxy, NULL, got, &result);
  timeout = g_timeout_add_seconds (seconds, set_flag, &late);
  while (result == NULL && !late)
    g_main_context_iteration (NULL, TRUE);
  if (late)
    g_subprocess_force_exit (proxy);
  g_assert_false (late);
  g_source_remove (timeout);
  g_assert_true (g_subprocess_wait_finish (proxy, result, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (proxy));
  g_assert_cmpint (g_subprocess_get_exit_status (proxy), ==, status);
}

static void
assert_exits_within (GSubprocess *proxy,
                     guint        seconds)
{
  assert_exits_with_within (proxy, EXIT_SUCCESS, seconds);
}

/* The back-end reads nothing: SIGTERM still ends the proxy, at once and
 * with the session's summary. */
static void
test_stuck_peer_sigterm (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;

  if (f->proxy == NULL)
    return;

  g_test_message ("%" G_GSIZE_FORMAT " bytes taken", flood_until_stalled (g_socket_get_fd (f->raw_front), -1));
  g_subprocess_send_signal (f->proxy, SIGTERM);
  /* at once, on a loaded machine: far from a blocked send's 30 s */
  assert_exits_within (f->proxy, 10);

  g_assert_true (g_file_get_contents (f->trace, &contents, NULL, &error));
  g_assert_no_error (error);
  lines = g_strsplit (contents, "\n", -1);
  g_assert_cmpuint (count_lines (lines, "\"event\": \"summary\"", "\"reason\": \"interrupted\"", NULL), ==, 1);
}

/* The back-end reads nothing and the front-end, its messages stopped at
 * the proxy, hangs up: the session still ends (with --once, the proxy
 * exits) once the back-end has taken nothing for --drain-timeout, not
 * waiting for good for a back-end that says nothing. */
static void
test_stuck_peer_hang_up (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;

  if (f->proxy == NULL)
    return;

  g_test_message ("%" G_GSIZE_FORMAT " bytes taken", flood_until_stalled (g_socket_get_fd (f->raw_front), -1));
  g_socket_close (f->raw_front, NULL);
  /* the 3 s of --drain-timeout, and a loaded machine */
  assert_exits_within (f->proxy, 15);

  g_assert_true (g_file_get_contents (f->trace, &contents, NULL, &error));
  g_assert_no_error (error);
  lines = g_strsplit (contents, "\n", -1);
  g_assert_cmpuint (count_lines (lines, "\"event\": \"summary\"", "\"reason\": \"the front-end hung up; "
                                 "the back-end took nothing for 3000 ms", NULL), ==, 1);
}

/* The back-end side sends its last messages and hangs up while the
 * front-end is not reading: the front-end still gets every one of them
 * (more than the sockets hold, so most wait in the proxy), then EOF. */
static void
test_hang_up_drained (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  /* well within what the proxy keeps for a side, far beyond a socket's buffer */
  const guint n_messages = 200;
  int back = g_socket_get_fd (f->accepted);
  int front = g_socket_get_fd (f->raw_front);
  struct pollfd pfd = { front, POLLIN, 0 };
  gsize sent = 0;
  guint8 byte;

  if (f->proxy == NULL)
    return;

  flood_message_init ();
  while (sent < n_messages * sizeof flood_message)
    {
      struct pollfd out = { back, POLLOUT, 0 };
      gsize at = sent % sizeof flood_message;
      gssize n;

      g_assert_cmpint (poll (&out, 1, 10000), ==, 1);
      n = send (back, flood_message + at, sizeof flood_message - at, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno == EAGAIN)
        continue;
      g_assert_cmpint (n, >, 0);
      sent += n;
    }
  g_socket_close (f->accepted, NULL);
  /* time for the proxy to read the EOF before the front-end reads */
  g_usleep (G_USEC_PER_SEC / 2);

  g_assert_cmpuint (drain_flood (front, sent), ==, 0);
  g_assert_cmpint (poll (&pfd, 1, 10000), ==, 1);
  g_assert_cmpint (recv (front, &byte, 1, MSG_DONTWAIT), ==, 0);

  g_assert_true (g_subprocess_wait_check (f->proxy, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (f->trace, &contents, NULL, &error));
  g_assert_no_error (error);
  lines = g_strsplit (contents, "\n", -1);
  g_assert_cmpuint (count_lines (lines, "\"event\": \"summary\"", "\"reason\": \"the back-end hung up\"", NULL), ==, 1);
}

/* The same on the back-end channel: the back-end sends requests there
 * while the front-end is not reading its end, and hangs up on the
 * channel. The front-end still gets every one of them (most wait in the
 * proxy), then the channel's EOF; the session goes on. */
static void
test_channel_hang_up_drained (Fixture       *f,
                              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  const guint8 backend_req_fd[] = { 21, 0, 0, 0,  1, 0, 0, 0,  0, 0, 0, 0 };
  /* GET_FEATURES, on the main socket after the channel has gone */
  const guint8 request[] = { 1, 0, 0, 0,  1, 0, 0, 0,  0, 0, 0, 0 };
  guint8 bytes[sizeof backend_req_fd];
  int pair[2], received[8];
  guint n_received;
  struct pollfd pfd = { -1, POLLIN, 0 };
  gsize sent, whole;
  guint8 byte;

  if (f->proxy == NULL)
    return;

  /* the front-end's end of the channel is pair[0]; the back-end gets
   * the proxy's */
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), ==, 0);
  send_raw (g_socket_get_fd (f->raw_front), backend_req_fd, sizeof backend_req_fd, &pair[1], 1);
  close (pair[1]);
  receive_raw (g_socket_get_fd (f->accepted), bytes, sizeof bytes, received, &n_received);
  g_assert_cmpuint (n_received, ==, 1);

  sent = flood_until_stalled (received[0], -1);
  g_test_message ("%" G_GSIZE_FORMAT " bytes taken", sent);
  close (received[0]);
  /* time for the proxy to see the hang-up before the front-end reads */
  g_usleep (G_USEC_PER_SEC / 2);

  /* the proxy relays whole messages only: a cut last one is not sent on */
  whole = sent - sent % sizeof flood_message;
  g_assert_cmpuint (drain_flood (pair[0], whole), ==, 0);
  pfd.fd = pair[0];
  g_assert_cmpint (poll (&pfd, 1, 10000), ==, 1);
  g_assert_cmpint (recv (pair[0], &byte, 1, MSG_DONTWAIT), ==, 0);
  close (pair[0]);

  send_raw (g_socket_get_fd (f->raw_front), request, sizeof request, NULL, 0);
  receive_raw (g_socket_get_fd (f->accepted), bytes, sizeof request, received, &n_received);
  g_assert_cmpmem (bytes, sizeof request, request, sizeof request);

  g_socket_close (f->raw_front, NULL);
  g_assert_true (g_subprocess_wait_check (f->proxy, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (f->trace, &contents, NULL, &error));
  g_assert_no_error (error);
  lines = g_strsplit (contents, "\n", -1);
  g_assert_cmpuint (count_lines (lines, "\"direction\": \"back-end->front-end\", \"channel\": \"back-end\"", NULL),
                    ==, whole / sizeof flood_message);
  g_assert_cmpuint (count_lines (lines, "\"event\": \"back-end channel closed\"", "\"detail\": \"the back-end hung up", NULL),
                    ==, 1);
  g_assert_cmpuint (count_lines (lines, "\"event\": \"summary\"", "\"reason\": \"the front-end hung up\"", NULL), ==, 1);
}

/* Moves bytes until nothing has moved for a second: @flood_message again
 * and again into @front until @sent reaches @until, what reaches @back
 * out of it (checked, counted in @received), and unless @trace is -1
 * the trace out of it into @collected, to its end. */
static void
pump (int      front,
      gsize   *sent,
      gsize    until,
      int      back,
      gsize   *received,
      int      trace,
      GString *collected)
{
  flood_message_init ();
  for (;;)
    {
      struct pollfd pfd[3] = {
        { *sent < until ? front : -1, POLLOUT, 0 },
        { back, POLLIN, 0 },
        { trace, POLLIN, 0 },
      };
      guint8 buf[65536];
      gssize n;

      if (poll (pfd, G_N_ELEMENTS (pfd), 1000) == 0)
        return;
      if (pfd[0].revents != 0)
        {
          gsize at = *sent % sizeof flood_message;

          n = send (front, flood_message + at, MIN (sizeof flood_message - at, until - *sent),
                    MSG_NOSIGNAL | MSG_DONTWAIT);
          if (n < 0)
            g_assert_cmpint (errno, ==, EAGAIN);
          else
            *sent += n;
          /* what the proxy keeps while its output takes nothing is bounded */
          g_assert_cmpuint (*sent, <, 16 * 1024 * 1024);
        }
      if (pfd[1].revents != 0)
        {
          n = recv (back, buf, sizeof buf, MSG_DONTWAIT);
          if (n < 0)
            g_assert_cmpint (errno, ==, EAGAIN);
          g_assert_cmpint (n, !=, 0);
          for (gssize i = 0; i < n; i++)
            if (buf[i] != flood_message[(*received + i) % sizeof flood_message])
              g_error ("byte %" G_GSIZE_FORMAT " is %u, not %u", *received + i, buf[i],
                       flood_message[(*received + i) % sizeof flood_message]);
          if (n > 0)
            *received += n;
        }
      if (pfd[2].revents != 0)
        {
          n = read (trace, buf, sizeof buf);
          if (n < 0)
            g_assert_cmpint (errno, ==, EAGAIN);
          else if (n == 0)
            trace = -1;
          else
            g_string_append_len (collected, (const char *) buf, n);
        }
    }
}

/* Nobody reads the trace (its output, a pipe, is full): the proxy
 * relays until what it holds for the output is over its cap, then reads
 * from neither side, and what it took is bounded and relayed whole. */
static void
stall_output (int    front,
              int    back,
              gsize *sent,
              gsize *received)
{
  *sent = *received = 0;
  pump (front, sent, G_MAXSIZE, back, received, -1, NULL);
  g_test_message ("%" G_GSIZE_FORMAT " bytes taken, %" G_GSIZE_FORMAT " relayed", *sent, *received);
  g_assert_cmpuint (*received % sizeof flood_message, ==, 0);
  g_assert_cmpuint (*received, <, *sent);
}

/* The trace's lines, each one whole */
static char **
split_lines (GString *trace)
{
  char **lines;

  g_assert_cmpuint (trace->len, >, 0);
  g_assert_cmpint (trace->str[trace->len - 1], ==, '\n');
  g_string_truncate (trace, trace->len - 1);
  lines = g_strsplit (trace->str, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (!g_str_has_prefix (lines[i], "{\"time\": ") || !g_str_has_suffix (lines[i], "}"))
      g_error ("line %u is not a whole JSON object: %.200s", i, lines[i]);
  return lines;
}

/* The trace is read again after a stall: the proxy reads on from both
 * sides, and the trace has every message, each line whole. */
static void
test_output_stalled_resumed (Fixture       *f,
                             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) trace = g_string_new (NULL);
  g_auto(GStrv) lines = NULL;
  g_autofree char *summary = NULL;
  /* a GET_FEATURES reply, no request needed for the proxy to relay it */
  const guint8 reply[] = { 1, 0, 0, 0,  5, 0, 0, 0,  8, 0, 0, 0,  0x34, 0x12, 0, 0, 0, 0, 0, 0 };
  struct pollfd pfd = { -1, POLLIN, 0 };
  guint8 got[sizeof reply];
  int received_fds[8];
  guint n_received;
  gsize sent, received, whole;

  if (f->proxy == NULL)
    return;

  stall_output (g_socket_get_fd (f->raw_front), g_socket_get_fd (f->accepted), &sent, &received);
  /* nor does the other side get through meanwhile */
  send_raw (g_socket_get_fd (f->accepted), reply, sizeof reply, NULL, 0);
  pfd.fd = g_socket_get_fd (f->raw_front);
  g_assert_cmpint (poll (&pfd, 1, 200), ==, 0);

  /* the rest of the flood, to its last message's end, once the trace is read */
  whole = sent + (sizeof flood_message - sent % sizeof flood_message) % sizeof flood_message;
  pump (g_socket_get_fd (f->raw_front), &sent, whole, g_socket_get_fd (f->accepted), &received,
        f->stdout_pipe, trace);
  g_assert_cmpuint (sent, ==, whole);
  g_assert_cmpuint (received, ==, whole);
  receive_raw (g_socket_get_fd (f->raw_front), got, sizeof got, received_fds, &n_received);
  g_assert_cmpmem (got, sizeof got, reply, sizeof reply);

  /* the session's end, and the trace to its end */
  g_socket_close (f->raw_front, NULL);
  pump (-1, &sent, sent, -1, &received, f->stdout_pipe, trace);
  g_assert_true (g_subprocess_wait_check (f->proxy, NULL, &error));
  g_assert_no_error (error);

  lines = split_lines (trace);
  g_assert_cmpuint (count_lines (lines, "\"event\": \"connected\"", NULL), ==, 1);
  g_assert_cmpuint (count_lines (lines, "\"direction\": \"front-end->back-end\"", "\"request\": \"SET_FEATURES\"",
                                 "\"size\": 4096", NULL), ==, whole / sizeof flood_message);
  g_assert_cmpuint (count_lines (lines, "\"direction\": \"back-end->front-end\"", "\"request\": \"GET_FEATURES\"",
                                 "\"reply\": true", NULL), ==, 1);
  summary = g_strdup_printf ("\"messages\": %" G_GSIZE_FORMAT ",", whole / sizeof flood_message + 1);
  g_assert_cmpuint (count_lines (lines, "\"event\": \"summary\"", "\"reason\": \"the front-end hung up\"", summary, NULL),
                    ==, 1);
}

/* While nobody reads the trace, SIGTERM still ends the proxy at once;
 * what its output had taken is whole lines but maybe the last. */
static void
test_output_stalled_sigterm (Fixture       *f,
                             gconstpointer  data)
{
  g_autoptr(GString) trace = g_string_new (NULL);
  g_auto(GStrv) lines = NULL;
  gsize sent, received;
  char *last;

  if (f->proxy == NULL)
    return;

  stall_output (g_socket_get_fd (f->raw_front), g_socket_get_fd (f->accepted), &sent, &received);
  g_subprocess_send_signal (f->proxy, SIGTERM);
  /* at once, on a loaded machine: far from an output that is never read */
  assert_exits_within (f->proxy, 5);

  pump (-1, &sent, sent, -1, &received, f->stdout_pipe, trace);
  /* a line the output took only part of ends it */
  last = strrchr (trace->str, '\n');
  g_assert_nonnull (last);
  g_string_truncate (trace, last + 1 - trace->str);
  lines = split_lines (trace);
  g_assert_cmpuint (count_lines (lines, "\"event\": \"connected\"", NULL), ==, 1);
  g_assert_cmpuint (count_lines (lines, "\"request\": \"SET_FEATURES\"", NULL), >, 0);
}

/* (GLib's timers count from its loop's time, which may be a little
 * older than the moment a timer is set) */
#define TIMER_SLACK_US (G_USEC_PER_SEC / 10)

/* Nobody reads the trace and the front-end hangs up: the session ends
 * (the proxy closes the back-end's socket) once the output has taken
 * nothing for --drain-timeout, 3 s here, and not before. Sets @hung_up
 * and returns when the session was seen to end (monotonic). */
static gint64
hang_up_stalled (Fixture *f,
                 gint64  *hung_up)
{
  struct pollfd pfd = { g_socket_get_fd (f->accepted), POLLIN, 0 };
  gsize sent, received;
  gint64 ended;
  guint8 byte;

  stall_output (g_socket_get_fd (f->raw_front), g_socket_get_fd (f->accepted), &sent, &received);
  *hung_up = g_get_monotonic_time ();
  g_socket_close (f->raw_front, NULL);
  /* 3 s, and a loaded machine */
  g_assert_cmpint (poll (&pfd, 1, 15000), ==, 1);
  ended = g_get_monotonic_time ();
  g_assert_cmpint (recv (pfd.fd, &byte, 1, MSG_DONTWAIT), ==, 0);
  g_test_message ("the session ended %.3f s after the hang-up", (ended - *hung_up) / (double) G_USEC_PER_SEC);
  g_assert_cmpint (ended - *hung_up, >=, 3 * G_USEC_PER_SEC - TIMER_SLACK_US);
  return ended;
}

/* ... and with --once the proxy exits, the output given --drain-timeout
 * again to take something, no less. */
static void
test_output_stalled_exit (Fixture       *f,
                          gconstpointer  data)
{
  gint64 hung_up, exited;

  if (f->proxy == NULL)
    return;

  hang_up_stalled (f, &hung_up);
  /* 3 s more, and a loaded machine */
  assert_exits_within (f->proxy, 15);
  exited = g_get_monotonic_time ();
  g_test_message ("the proxy exited %.3f s after the hang-up", (exited - hung_up) / (double) G_USEC_PER_SEC);
  g_assert_cmpint (exited - hung_up, >=, 6 * G_USEC_PER_SEC - TIMER_SLACK_US);
}

/* ... but once the trace is read again, its rest is written, the
 * session's summary last, and the proxy exits then. */
static void
test_output_stalled_summary (Fixture       *f,
                             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) trace = g_string_new (NULL);
  g_auto(GStrv) lines = NULL;
  gint64 hung_up;
  gsize sent = 0, received = 0;
  guint n;

  if (f->proxy == NULL)
    return;

  hang_up_stalled (f, &hung_up);
  pump (-1, &sent, sent, -1, &received, f->stdout_pipe, trace);
  g_assert_true (g_subprocess_wait_check (f->proxy, NULL, &error));
  g_assert_no_error (error);
  lines = split_lines (trace);
  n = g_strv_length (lines);
  g_assert_cmpuint (count_lines (lines, "\"event\": \"summary\"", NULL), ==, 1);
  g_assert_nonnull (strstr (lines[n - 1], "\"event\": \"summary\", \"reason\": \"the front-end hung up; "
                                          "the trace's output took nothing for 3000 ms"));
}

/* As /trace/stuck-peer/hang-up, the back-end reading nothing and the
 * front-end hanging up, but the back-end sends on and the trace is read
 * slowly: each message it sends is a line ("dropped", and the message)
 * the output takes in its time. That the output takes lines is no
 * progress of the drain: the back-end took nothing, and the session
 * still ends once --drain-timeout has passed. */
static void
test_stuck_peer_hang_up_slow_output (Fixture       *f,
                                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) trace = g_string_new (NULL);
  g_auto(GStrv) lines = NULL;
  int back = g_socket_get_fd (f->accepted);
  gsize sent = 0, received = 0, back_sent = 0;
  gint64 hung_up, ended = -1;

  if (f->proxy == NULL)
    return;

  /* the back-end's queue in the proxy full, the trace read as it comes */
  pump (g_socket_get_fd (f->raw_front), &sent, G_MAXSIZE, -1, &received, f->stdout_pipe, trace);
  g_test_message ("%" G_GSIZE_FORMAT " bytes taken", sent);
  g_socket_close (f->raw_front, NULL);
  hung_up = g_get_monotonic_time ();
  /* time for the proxy to see the hang-up before the back-end sends */
  g_usleep (G_USEC_PER_SEC / 2);

  /* until the proxy closes the back-end's socket, or for much longer
   * than the 3 s of --drain-timeout: the back-end sends all its socket
   * takes, the trace is read 4 KiB at a time, every 10 ms */
  while (ended < 0 && g_get_monotonic_time () - hung_up < 15 * G_USEC_PER_SEC)
    {
      struct pollfd pfd = { back, POLLOUT, 0 };
      struct pollfd in = { f->stdout_pipe, POLLIN, 0 };

      while (ended < 0 && poll (&pfd, 1, 0) == 1)
        {
          gsize at = back_sent % sizeof flood_message;
          gssize n;

          if (pfd.revents & (POLLHUP | POLLERR))
            {
              ended = g_get_monotonic_time ();
              break;
            }
          n = send (back, flood_message + at, sizeof flood_message - at, MSG_NOSIGNAL | MSG_DONTWAIT);
          if (n < 0 && errno == EAGAIN)
            break;
          if (n < 0)
            {
              g_assert_true (errno == EPIPE || errno == ECONNRESET);
              ended = g_get_monotonic_time ();
              break;
            }
          back_sent += n;
        }
      if (poll (&in, 1, 0) == 1)
        {
          char buf[4096];
          gssize n = read (f->stdout_pipe, buf, sizeof buf);

          g_assert_cmpint (n, >, 0);
          g_string_append_len (trace, buf, n);
        }
      g_usleep (G_USEC_PER_SEC / 100);
    }
  g_test_message ("the back-end sent %" G_GSIZE_FORMAT " bytes after the hang-up", back_sent);
  g_assert_cmpint (ended, >=, 0);
  g_test_message ("the session ended %.3f s after the hang-up", (ended - hung_up) / (double) G_USEC_PER_SEC);

  /* the rest of the trace; with --once the proxy exits */
  pump (-1, &sent, sent, -1, &received, f->stdout_pipe, trace);
  g_assert_true (g_subprocess_wait_check (f->proxy, NULL, &error));
  g_assert_no_error (error);
  lines = split_lines (trace);
  g_assert_cmpuint (count_lines (lines, "\"event\": \"dropped\"", "\"detail\": \"the other side hung up\"", NULL), >, 0);
  g_assert_cmpuint (count_lines (lines, "\"event\": \"summary\"", "\"reason\": \"the front-end hung up; "
                                 "the back-end took nothing for 3000 ms", NULL), ==, 1);
}

/* Without REPLY_ACK, NEED_REPLY asks for nothing: the proxy awaits no
 * reply to it (a reply the back-end sends anyway has no latency). With
 * REPLY_ACK it awaits the ack. */
static void
test_need_reply_needs_reply_ack (Fixture       *f,
                                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  /* SET_FEATURES 0 with NEED_REPLY, and its ack */
  const guint8 request[] = { 2, 0, 0, 0,  9, 0, 0, 0,  8, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0, 0 };
  const guint8 ack[] = { 2, 0, 0, 0,  5, 0, 0, 0,  8, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0, 0 };
  /* SET_PROTOCOL_FEATURES REPLY_ACK */
  const guint8 reply_ack[] = { 16, 0, 0, 0,  1, 0, 0, 0,  8, 0, 0, 0,  8, 0, 0, 0, 0, 0, 0, 0 };
  guint8 bytes[sizeof request];
  int received[8];
  guint n_received;

  if (f->proxy == NULL)
    return;

  for (guint round = 0; round < 2; round++)
    {
      if (round == 1)
        {
          send_raw (g_socket_get_fd (f->raw_front), reply_ack, sizeof reply_ack, NULL, 0);
          receive_raw (g_socket_get_fd (f->accepted), bytes, sizeof reply_ack, received, &n_received);
        }
      send_raw (g_socket_get_fd (f->raw_front), request, sizeof request, NULL, 0);
      receive_raw (g_socket_get_fd (f->accepted), bytes, sizeof request, received, &n_received);
      send_raw (g_socket_get_fd (f->accepted), ack, sizeof ack, NULL, 0);
      receive_raw (g_socket_get_fd (f->raw_front), bytes, sizeof ack, received, &n_received);
    }

  g_socket_close (f->raw_front, NULL);
  g_assert_true (g_subprocess_wait_check (f->proxy, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (f->trace, &contents, NULL, &error));
  g_assert_no_error (error);
  g_test_message ("%s", contents);
  lines = g_strsplit (contents, "\n", -1);
  g_assert_cmpuint (count_lines (lines, "\"request\": \"SET_FEATURES\"", "\"reply\": true", NULL), ==, 2);
  g_assert_cmpuint (count_lines (lines, "\"request\": \"SET_FEATURES\"", "\"reply\": true", "\"latency_us\": ", NULL), ==, 1);
}

/* A front-end sending requests that await replies the back-end never
 * sends: the proxy remembers only so many, says so once, and counts the
 * ones it forgot. */
static void
test_pending_capped (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  /* GET_FEATURES, which always has a reply, a thousand times in one send */
  const guint8 request[] = { 1, 0, 0, 0,  1, 0, 0, 0,  0, 0, 0, 0 };
  const guint8 reply[] = { 1, 0, 0, 0,  5, 0, 0, 0,  8, 0, 0, 0,  0x34, 0x12, 0, 0, 0, 0, 0, 0 };
  guint8 requests[1000 * sizeof request];
  guint8 bytes[sizeof requests];
  int received[8];
  guint n_received;

  if (f->proxy == NULL)
    return;

  for (guint i = 0; i < 1000; i++)
    memcpy (requests + i * sizeof request, request, sizeof request);
  send_raw (g_socket_get_fd (f->raw_front), requests, sizeof requests, NULL, 0);
  /* all of them through the proxy before the reply */
  receive_raw (g_socket_get_fd (f->accepted), bytes, sizeof bytes, received, &n_received);
  /* which still finds a request it answers */
  send_raw (g_socket_get_fd (f->accepted), reply, sizeof reply, NULL, 0);
  receive_raw (g_socket_get_fd (f->raw_front), bytes, sizeof reply, received, &n_received);

  g_socket_close (f->raw_front, NULL);
  g_assert_true (g_subprocess_wait_check (f->proxy, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (f->trace, &contents, NULL, &error));
  g_assert_no_error (error);
  lines = g_strsplit (contents, "\n", -1);
  g_assert_cmpuint (count_lines (lines, "\"event\": \"replies not awaited\"", NULL), ==, 1);
  g_assert_cmpuint (count_lines (lines, "\"request\": \"GET_FEATURES\"", "\"reply\": true", "\"latency_us\": ", NULL), ==, 1);
  g_assert_cmpuint (count_lines (lines, "\"event\": \"summary\"", "\"pending_dropped\": 872,", NULL), ==, 1);
}

/* The back-end side sending what only the front-end sends changes
 * nothing in the proxy: SET_PROTOCOL_FEATURES does not change how it
 * decodes, SET_BACKEND_REQ_FD is relayed as it is and not taken for the
 * back-end channel. */
static void
test_backend_cannot_steer (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  /* SET_PROTOCOL_FEATURES REPLY_ACK */
  const guint8 reply_ack[] = { 16, 0, 0, 0,  1, 0, 0, 0,  8, 0, 0, 0,  8, 0, 0, 0, 0, 0, 0, 0 };
  /* SET_FEATURES 0 with NEED_REPLY, and its ack */
  const guint8 request[] = { 2, 0, 0, 0,  9, 0, 0, 0,  8, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0, 0 };
  const guint8 ack[] = { 2, 0, 0, 0,  5, 0, 0, 0,  8, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0, 0 };
  /* SET_BACKEND_REQ_FD */
  const guint8 backend_req_fd[] = { 21, 0, 0, 0,  1, 0, 0, 0,  0, 0, 0, 0 };
  guint8 bytes[sizeof request];
  int pair[2], received[8];
  guint n_received;
  struct stat sent_st, got_st;

  if (f->proxy == NULL)
    return;

  send_raw (g_socket_get_fd (f->accepted), reply_ack, sizeof reply_ack, NULL, 0);
  receive_raw (g_socket_get_fd (f->raw_front), bytes, sizeof reply_ack, received, &n_received);
  send_raw (g_socket_get_fd (f->raw_front), request, sizeof request, NULL, 0);
  receive_raw (g_socket_get_fd (f->accepted), bytes, sizeof request, received, &n_received);
  send_raw (g_socket_get_fd (f->accepted), ack, sizeof ack, NULL, 0);
  receive_raw (g_socket_get_fd (f->raw_front), bytes, sizeof ack, received, &n_received);

  /* the front-end gets the very socket the back-end side sent */
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), ==, 0);
  send_raw (g_socket_get_fd (f->accepted), backend_req_fd, sizeof backend_req_fd, &pair[0], 1);
  receive_raw (g_socket_get_fd (f->raw_front), bytes, sizeof backend_req_fd, received, &n_received);
  g_assert_cmpmem (bytes, sizeof backend_req_fd, backend_req_fd, sizeof backend_req_fd);
  g_assert_cmpuint (n_received, ==, 1);
  g_assert_cmpint (fstat (pair[0], &sent_st), ==, 0);
  g_assert_cmpint (fstat (received[0], &got_st), ==, 0);
  g_assert_cmpuint (got_st.st_ino, ==, sent_st.st_ino);
  close (received[0]);
  close (pair[0]);
  close (pair[1]);

  g_socket_close (f->raw_front, NULL);
  g_assert_true (g_subprocess_wait_check (f->proxy, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (f->trace, &contents, NULL, &error));
  g_assert_no_error (error);
  g_test_message ("%s", contents);
  lines = g_strsplit (contents, "\n", -1);
  /* REPLY_ACK was not set by the front-end: no ack awaited */
  g_assert_cmpuint (count_lines (lines, "\"request\": \"SET_FEATURES\"", "\"reply\": true", NULL), ==, 1);
  g_assert_cmpuint (count_lines (lines, "\"request\": \"SET_FEATURES\"", "\"reply\": true", "\"latency_us\": ", NULL), ==, 0);
  g_assert_cmpuint (count_lines (lines, "\"direction\": \"back-end->front-end\"", "\"request\": \"SET_BACKEND_REQ_FD\"",
                                 "\"fds\": 1", NULL), ==, 1);
  g_assert_cmpuint (count_lines (lines, "back-end channel", NULL), ==, 0);
}

/* SET_BACKEND_REQ_FD with something other than a UNIX stream socket: the
 * proxy relays it as it came, without making it its channel and without
 * changing the file description the front-end shares with it. */
static void
test_backend_req_fd_not_a_socket (Fixture       *f,
                                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  const guint8 backend_req_fd[] = { 21, 0, 0, 0,  1, 0, 0, 0,  0, 0, 0, 0 };
  guint8 bytes[sizeof backend_req_fd];
  int pipe_fds[2], dgram[2], received[8];
  guint n_received;
  struct stat sent_st, got_st;

  if (f->proxy == NULL)
    return;

  g_assert_cmpint (pipe (pipe_fds), ==, 0);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, dgram), ==, 0);

  for (guint i = 0; i < 2; i++)
    {
      int fd = i == 0 ? pipe_fds[1] : dgram[0];

      send_raw (g_socket_get_fd (f->raw_front), backend_req_fd, sizeof backend_req_fd, &fd, 1);
      receive_raw (g_socket_get_fd (f->accepted), bytes, sizeof bytes, received, &n_received);
      g_assert_cmpmem (bytes, sizeof bytes, backend_req_fd, sizeof backend_req_fd);
      g_assert_cmpuint (n_received, ==, 1);
      g_assert_cmpint (fstat (fd, &sent_st), ==, 0);
      g_assert_cmpint (fstat (received[0], &got_st), ==, 0);
      g_assert_cmpuint (got_st.st_dev, ==, sent_st.st_dev);
      g_assert_cmpuint (got_st.st_ino, ==, sent_st.st_ino);
      g_assert_cmpint (fcntl (fd, F_GETFL) & O_NONBLOCK, ==, 0);
      close (received[0]);
    }
  close (pipe_fds[0]);
  close (pipe_fds[1]);
  close (dgram[0]);
  close (dgram[1]);

  g_socket_close (f->raw_front, NULL);
  g_assert_true (g_subprocess_wait_check (f->proxy, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (f->trace, &contents, NULL, &error));
  g_assert_no_error (error);
  g_test_message ("%s", contents);
  lines = g_strsplit (contents, "\n", -1);
  g_assert_cmpuint (count_lines (lines, "\"event\": \"back-end channel not traced\"", NULL), ==, 2);
  g_assert_cmpuint (count_lines (lines, "\"event\": \"back-end channel closed\"", NULL), ==, 0);
}

/* A back-end socket at @path that takes no connection: its listener
 * never accepts, and its backlog is full (of the connections in @fillers,
 * up to 64, closed by the caller). Returns the listener. */
static int
listen_full (const char *path,
             GArray     *fillers)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpuint (strlen (path), <, sizeof addr.sun_path);
  strcpy (addr.sun_path, path);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  g_assert_cmpint (listen (fd, 0), ==, 0);
  for (;;)
    {
      int c = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

      g_assert_cmpint (c, >=, 0);
      if (connect (c, (struct sockaddr *) &addr, sizeof addr) < 0)
        {
          g_assert_cmpint (errno, ==, EAGAIN);
          close (c);
          return fd;
        }
      g_array_append_val (fillers, c);
      g_assert_cmpuint (fillers->len, <, 64);
    }
}

/* A proxy of a test's own, not the fixture's: its directory, with the
 * front-end's and back-end's socket paths and the trace's file. */
typedef struct {
  char *dir;
  char *front_path;
  char *back_path;
  char *trace_path;
} Paths;

/* FALSE, the test skipped, outside meson test */
static gboolean
paths_init (Paths *p)
{
  g_autoptr(GError) error = NULL;

  if (g_getenv ("VHOST_USER_TRACE") == NULL)
    {
      g_test_skip ("VHOST_USER_TRACE is not set (run through meson test)");
      return FALSE;
    }
  p->dir = g_dir_make_tmp ("vhost-user-trace-XXXXXX", &error);
  g_assert_no_error (error);
  p->front_path = g_build_filename (p->dir, "front.sock", NULL);
  p->back_path = g_build_filename (p->dir, "back.sock", NULL);
  p->trace_path = g_build_filename (p->dir, "trace.json", NULL);
  return TRUE;
}

static void
paths_clear (Paths *p)
{
  g_unlink (p->front_path);
  g_unlink (p->back_path);
  g_unlink (p->trace_path);
  g_rmdir (p->dir);
  g_free (p->dir);
  g_free (p->front_path);
  g_free (p->back_path);
  g_free (p->trace_path);
}

/* (in the child: a proxy that a failed test left behind goes with it) */
static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* (in the child: standard output closed, and die with the test) */
static void
close_stdout (gpointer user_data)
{
  die_with_parent (NULL);
  close (STDOUT_FILENO);
}

#if defined(__x86_64__)
#define SECCOMP_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SECCOMP_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef SECCOMP_ARCH
/* (in the child: write () to fd 1 returns 0, having taken nothing, as
 * a seccomp filter's "error" 0 does; exits 125 if it cannot be set) */
static void
stdout_takes_nothing (gpointer user_data)
{
  struct sock_filter filter[] = {
    BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, arch)),
    BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_ARCH, 1, 0),
    BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, nr)),
    BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, __NR_write, 0, 3),
    /* the fd's lower half, on these little-endian machines */
    BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, args[0])),
    BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, STDOUT_FILENO, 0, 1),
    BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 0),
    BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog program = { G_N_ELEMENTS (filter), filter };

  die_with_parent (NULL);
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      prctl (PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0)
    _exit (125);
}

/* Whether this process may set a seccomp filter: a container or a
 * sandbox may forbid it, which is no fault of the proxy's. */
static gboolean
seccomp_allowed (void)
{
  int status;
  pid_t pid = fork ();

  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      stdout_takes_nothing (NULL);
      _exit (0);
    }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  return WIFEXITED (status) && WEXITSTATUS (status) == 0;
}
#endif

/* The proxy between @p's sockets, started by @launcher, the JSON trace
 * to its file unless @to_stdout; @extra: more options, NULL-terminated.
 * (@launcher's child setup is to call die_with_parent ().) */
static GSubprocess *
paths_spawn_with (const Paths         *p,
                  GSubprocessLauncher *launcher,
                  gboolean             to_stdout,
                  const char          *extra[])
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  GSubprocess *proxy;

  g_ptr_array_add (argv, (gpointer) g_getenv ("VHOST_USER_TRACE"));
  g_ptr_array_add (argv, (gpointer) "--listen");
  g_ptr_array_add (argv, p->front_path);
  g_ptr_array_add (argv, (gpointer) "--connect");
  g_ptr_array_add (argv, p->back_path);
  g_ptr_array_add (argv, (gpointer) "--json");
  if (!to_stdout)
    {
      g_ptr_array_add (argv, (gpointer) "--output");
      g_ptr_array_add (argv, p->trace_path);
    }
  for (guint i = 0; extra[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) extra[i]);
  g_ptr_array_add (argv, NULL);
  proxy = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  return proxy;
}

/* The proxy between @p's sockets, the JSON trace to its file; @extra:
 * more options, NULL-terminated. */
static GSubprocess *
paths_spawn (const Paths *p,
             const char  *extra[])
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  return paths_spawn_with (p, launcher, FALSE, extra);
}

/* The lowest fd number @pid has free: the one its next open would get */
static int
lowest_free_fd (const char *pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/fd", pid);
  g_autoptr(GHashTable) used = g_hash_table_new (NULL, NULL);
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;
  int fd = 0;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    g_hash_table_add (used, GINT_TO_POINTER (atoi (name)));
  while (g_hash_table_contains (used, GINT_TO_POINTER (fd)))
    fd++;
  return fd;
}

/* Waits for the proxy's socket at @p's front_path, and a little more:
 * all it keeps open for good is open then (its context, its signals'
 * worker, the listener). */
static void
paths_wait_listening (const Paths *p)
{
  for (guint i = 0; i < 1000 && !g_file_test (p->front_path, G_FILE_TEST_EXISTS); i++)
    g_usleep (10000);
  g_assert_true (g_file_test (p->front_path, G_FILE_TEST_EXISTS));
  g_usleep (G_USEC_PER_SEC / 5);
}

/* While the proxy waits for a back-end that takes no connection (for
 * --connect-timeout, a minute here), SIGTERM still ends it at once:
 * with @data "full", the back-end's socket is there but its backlog
 * full; with "missing", it is not there (yet). */
static void
test_connect_stalled_sigterm (gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) proxy = NULL;
  g_autoptr(GSocket) front = NULL;
  g_autoptr(GArray) fillers = g_array_new (FALSE, FALSE, sizeof (int));
  const char *extra[] = { "--once", "--connect-timeout", "60000", NULL };
  const char *pid;
  Paths p;
  int listener = -1, free_fd;
  guint8 byte;

  if (!paths_init (&p))
    return;
  if (g_strcmp0 (data, "full") == 0)
    listener = listen_full (p.back_path, fillers);

  proxy = paths_spawn (&p, extra);
  pid = g_subprocess_get_identifier (proxy);
  paths_wait_listening (&p);
  free_fd = lowest_free_fd (pid);
  front = vhost_user_socket_connect (p.front_path, 10000, NULL, &error);
  g_assert_no_error (error);
  /* taken, the front-end's socket its next fd: still in the backlog, it
   * would be reset when the proxy exits, not closed */
  for (guint i = 0; i < 1000 && lowest_free_fd (pid) == free_fd; i++)
    g_usleep (10000);
  g_assert_cmpint (lowest_free_fd (pid), >, free_fd);
  /* and time to try the back-end a few times */
  g_usleep (G_USEC_PER_SEC / 10);

  g_subprocess_send_signal (proxy, SIGTERM);
  /* at once, on a loaded machine: far from --connect-timeout */
  assert_exits_within (proxy, 5);
  /* the front-end's connection went with it */
  g_socket_set_blocking (front, TRUE);
  g_assert_cmpint (g_socket_receive (front, (char *) &byte, 1, NULL, &error), ==, 0);
  g_assert_no_error (error);

  for (guint i = 0; i < fillers->len; i++)
    close (g_array_index (fillers, int, i));
  if (listener >= 0)
    close (listener);
  paths_clear (&p);
}

/* The back-end's socket appears only after the front-end has come: the
 * proxy tries again until it is there, and relays. */
static void
test_connect_retried (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) proxy = NULL;
  g_autoptr(GSocket) front = NULL;
  g_autoptr(GSocket) listener = NULL;
  g_autoptr(GSocket) back = NULL;
  const char *extra[] = { "--once", NULL };
  /* GET_FEATURES */
  const guint8 request[] = { 1, 0, 0, 0,  1, 0, 0, 0,  0, 0, 0, 0 };
  guint8 bytes[sizeof request];
  int received[8];
  guint n_received;
  Paths p;

  if (!paths_init (&p))
    return;

  proxy = paths_spawn (&p, extra);
  front = vhost_user_socket_connect (p.front_path, 10000, NULL, &error);
  g_assert_no_error (error);
  g_usleep (G_USEC_PER_SEC / 2);

  listener = vhost_user_socket_listen (p.back_path, 0, &error);
  g_assert_no_error (error);
  g_socket_set_blocking (listener, TRUE);
  g_socket_set_timeout (listener, 10);
  back = g_socket_accept (listener, NULL, &error);
  g_assert_no_error (error);
  g_socket_set_timeout (back, 0);

  send_raw (g_socket_get_fd (front), request, sizeof request, NULL, 0);
  receive_raw (g_socket_get_fd (back), bytes, sizeof bytes, received, &n_received);
  g_assert_cmpmem (bytes, sizeof bytes, request, sizeof request);

  g_socket_close (front, NULL);
  g_assert_true (g_subprocess_wait_check (proxy, NULL, &error));
  g_assert_no_error (error);
  paths_clear (&p);
}

/* accept () keeps failing (the proxy is out of fds): the proxy rests
 * between tries, growing the pause, instead of spinning on a listener
 * that stays readable; once fds are free again it takes the front-end. */
static void
test_accept_backoff (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) proxy = NULL;
  g_autoptr(GSocket) front = NULL;
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  /* the back-end is never there: a front-end taken is let go soon */
  const char *extra[] = { "--connect-timeout", "100", NULL };
  struct rlimit saved, limit;
  guint failed, byte;
  const char *pid;
  Paths p;

  if (!paths_init (&p))
    return;

  proxy = paths_spawn (&p, extra);
  pid = g_subprocess_get_identifier (proxy);
  paths_wait_listening (&p);
  g_assert_cmpint (prlimit (atoi (pid), RLIMIT_NOFILE, NULL, &saved), ==, 0);
  limit = saved;
  limit.rlim_cur = lowest_free_fd (pid);
  g_assert_cmpint (prlimit (atoi (pid), RLIMIT_NOFILE, &limit, NULL), ==, 0);

  front = vhost_user_socket_connect (p.front_path, 10000, NULL, &error);
  g_assert_no_error (error);
  /* 100 + 200 + 400 + 800 ms of back-off fit in 2 s */
  g_usleep (2 * G_USEC_PER_SEC);
  g_assert_true (g_file_get_contents (p.trace_path, &contents, NULL, &error));
  g_assert_no_error (error);
  lines = g_strsplit (contents, "\n", -1);
  failed = count_lines (lines, "\"event\": \"accept failed\"", NULL);
  g_test_message ("%u failed accepts in 2 s", failed);
  g_assert_cmpuint (failed, >=, 1);
  g_assert_cmpuint (failed, <=, 6);

  /* fds again: taken within the last pause (at most 1.6 s by now), and
   * let go as the back-end cannot be reached */
  g_assert_cmpint (prlimit (atoi (pid), RLIMIT_NOFILE, &saved, NULL), ==, 0);
  g_socket_set_blocking (front, TRUE);
  g_socket_set_timeout (front, 10);
  g_assert_cmpint (g_socket_receive (front, (char *) &byte, 1, NULL, &error), ==, 0);
  g_assert_no_error (error);

  g_subprocess_send_signal (proxy, SIGTERM);
  assert_exits_within (proxy, 10);
  g_clear_pointer (&lines, g_strfreev);
  g_clear_pointer (&contents, g_free);
  g_assert_true (g_file_get_contents (p.trace_path, &contents, NULL, &error));
  g_assert_no_error (error);
  lines = g_strsplit (contents, "\n", -1);
  g_assert_cmpuint (count_lines (lines, "\"event\": \"back-end unreachable\"", NULL), ==, 1);
  paths_clear (&p);
}

/* While the trace's output is full, a session that ends lets no next
 * front-end in: the lines of each one (here, that its back-end cannot
 * be reached) would go over the output's cap. It waits in the backlog
 * until the trace is read again. */
static void
test_output_stalled_no_accept (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) proxy = NULL;
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GSocket) listener = NULL;
  g_autoptr(GSocket) front = NULL;
  g_autoptr(GSocket) back = NULL;
  g_autoptr(GSocket) next = NULL;
  g_autoptr(GString) trace = g_string_new (NULL);
  g_auto(GStrv) lines = NULL;
  /* not --once; with the back-end gone, a front-end is let go at once;
   * the output stalls sooner with each message's bytes */
  const char *extra[] = { "--connect-timeout", "0", "--hexdump", NULL };
  struct pollfd pfd = { -1, POLLIN, 0 };
  gsize sent, received;
  const char *pid;
  int fds[2], busy_fd;
  guint8 byte;
  Paths p;

  if (!paths_init (&p))
    return;

  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, &error));
  g_assert_no_error (error);
  g_subprocess_launcher_take_stdout_fd (launcher, fds[1]);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  listener = vhost_user_socket_listen (p.back_path, 0, &error);
  g_assert_no_error (error);
  proxy = paths_spawn_with (&p, launcher, TRUE, extra);
  pid = g_subprocess_get_identifier (proxy);
  front = vhost_user_socket_connect (p.front_path, 10000, NULL, &error);
  g_assert_no_error (error);
  g_socket_set_blocking (listener, TRUE);
  g_socket_set_timeout (listener, 10);
  back = g_socket_accept (listener, NULL, &error);
  g_assert_no_error (error);
  g_socket_close (listener, NULL);
  g_unlink (p.back_path);

  stall_output (g_socket_get_fd (front), g_socket_get_fd (back), &sent, &received);
  /* both sides hang up: the session ends, its summary waiting, and the
   * proxy closes its sockets; only then is the listener what is tested
   * (a proxy slow to see the hang-ups would leave the next front-end in
   * the backlog whatever it does) */
  busy_fd = lowest_free_fd (pid);
  g_socket_close (front, NULL);
  g_socket_close (back, NULL);
  for (guint i = 0; i < 1000 && lowest_free_fd (pid) >= busy_fd; i++)
    g_usleep (10000);
  g_assert_cmpint (lowest_free_fd (pid), <, busy_fd);

  next = vhost_user_socket_connect (p.front_path, 10000, NULL, &error);
  g_assert_no_error (error);
  pfd.fd = g_socket_get_fd (next);
  /* taken, it would be let go at once */
  g_assert_cmpint (poll (&pfd, 1, 1000), ==, 0);

  /* the trace read: it is taken, and let go */
  pump (-1, &sent, sent, -1, &received, fds[0], trace);
  g_assert_cmpint (poll (&pfd, 1, 10000), ==, 1);
  g_assert_cmpint (recv (pfd.fd, &byte, 1, 0), ==, 0);

  g_subprocess_send_signal (proxy, SIGTERM);
  assert_exits_within (proxy, 10);
  pump (-1, &sent, sent, -1, &received, fds[0], trace);
  close (fds[0]);
  lines = split_lines (trace);
  g_assert_cmpuint (count_lines (lines, "\"session\": 1, \"event\": \"summary\"", NULL), ==, 1);
  g_assert_cmpuint (count_lines (lines, "\"session\": 2, \"event\": \"back-end unreachable\"", NULL), ==, 1);
  paths_clear (&p);
}

/* The CPU time @proxy has used, in seconds */
static double
cpu_seconds (GSubprocess *proxy)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/stat", g_subprocess_get_identifier (proxy));
  g_autofree char *contents = NULL;
  g_auto(GStrv) fields = NULL;

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  /* from the state on (after the name, which may hold spaces): utime
   * and stime are the 12th and 13th */
  fields = g_strsplit (strrchr (contents, ')') + 2, " ", -1);
  g_assert_cmpuint (g_strv_length (fields), >, 12);
  return (g_ascii_strtoull (fields[11], NULL, 10) + g_ascii_strtoull (fields[12], NULL, 10)) /
         (double) sysconf (_SC_CLK_TCK);
}

/* The output's write () returns 0, taking nothing without an error: the
 * proxy neither loops on it nor spins on G_IO_OUT (a regular file, as
 * here, always reports it); it relays, and SIGTERM ends it. */
static void
test_output_takes_nothing (void)
{
#ifdef SECCOMP_ARCH
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) proxy = NULL;
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GSocket) listener = NULL;
  g_autoptr(GSocket) front = NULL;
  g_autoptr(GSocket) back = NULL;
  g_autofree char *contents = NULL;
  const char *extra[] = { "--once", NULL };
  /* GET_FEATURES */
  const guint8 request[] = { 1, 0, 0, 0,  1, 0, 0, 0,  0, 0, 0, 0 };
  guint8 bytes[sizeof request];
  int received[8];
  guint n_received;
  double cpu;
  gsize len;
  Paths p;

  if (!seccomp_allowed ())
    {
      g_test_skip ("seccomp filters cannot be set here");
      return;
    }
  if (!paths_init (&p))
    return;

  g_subprocess_launcher_set_stdout_file_path (launcher, p.trace_path);
  g_subprocess_launcher_set_child_setup (launcher, stdout_takes_nothing, NULL, NULL);
  listener = vhost_user_socket_listen (p.back_path, 0, &error);
  g_assert_no_error (error);
  proxy = paths_spawn_with (&p, launcher, TRUE, extra);
  front = vhost_user_socket_connect (p.front_path, 10000, NULL, &error);
  g_assert_no_error (error);
  g_socket_set_blocking (listener, TRUE);
  g_socket_set_timeout (listener, 10);
  back = g_socket_accept (listener, NULL, &error);
  g_assert_no_error (error);

  /* past the "connected" line the output did not take */
  send_raw (g_socket_get_fd (front), request, sizeof request, NULL, 0);
  receive_raw (g_socket_get_fd (back), bytes, sizeof bytes, received, &n_received);
  g_assert_cmpmem (bytes, sizeof bytes, request, sizeof request);

  /* a try every 100 ms, not a CPU's worth */
  cpu = cpu_seconds (proxy);
  g_usleep (2 * G_USEC_PER_SEC);
  cpu = cpu_seconds (proxy) - cpu;
  g_test_message ("%.2f s of CPU in 2 s", cpu);
  g_assert_cmpfloat (cpu, <, 0.5);

  g_subprocess_send_signal (proxy, SIGTERM);
  assert_exits_within (proxy, 10);
  /* (and the filter did its part) */
  g_assert_true (g_file_get_contents (p.trace_path, &contents, &len, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (len, ==, 0);
  paths_clear (&p);
#else
  g_test_skip ("no seccomp filter for this architecture here");
#endif
}

/* Started with its standard output closed, the proxy says so and
 * exits, unless it has --output; then it runs, /dev/null in place of
 * the standard output, so that no fd of its own gets that number (GLib's
 * wake-up eventfd would, and take the trace). */
static void
test_stdout_closed (void)
{
  g_autoptr(GError) error = NULL;
  const char *extra[] = { "--once", "--connect-timeout", "0", NULL };
  Paths p;

  if (!paths_init (&p))
    return;

  for (guint with_output = 0; with_output < 2; with_output++)
    {
      g_autoptr(GSubprocess) proxy = NULL;
      g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_PIPE);
      g_autofree char *err = NULL;

      g_subprocess_launcher_set_child_setup (launcher, close_stdout, NULL, NULL);
      proxy = paths_spawn_with (&p, launcher, !with_output, extra);
      if (with_output)
        {
          g_autoptr(GSocket) front = NULL;
          g_autofree char *fd1 = g_strdup_printf ("/proc/%s/fd/1", g_subprocess_get_identifier (proxy));
          g_autofree char *target = NULL;
          g_autofree char *contents = NULL;
          g_auto(GStrv) lines = NULL;
          guint8 byte;

          front = vhost_user_socket_connect (p.front_path, 10000, NULL, &error);
          g_assert_no_error (error);
          target = g_file_read_link (fd1, &error);
          g_assert_no_error (error);
          g_assert_cmpstr (target, ==, "/dev/null");
          /* no back-end there: let go, and with --once, the proxy exits */
          g_socket_set_blocking (front, TRUE);
          g_socket_set_timeout (front, 10);
          g_assert_cmpint (g_socket_receive (front, (char *) &byte, 1, NULL, &error), ==, 0);
          g_assert_no_error (error);
          assert_exits_with_within (proxy, EXIT_FAILURE, 10);
          g_assert_true (g_file_get_contents (p.trace_path, &contents, NULL, &error));
          g_assert_no_error (error);
          lines = g_strsplit (contents, "\n", -1);
          g_assert_cmpuint (count_lines (lines, "\"event\": \"back-end unreachable\"", NULL), ==, 1);
        }
      else
        {
          /* at once, without the socket */
          assert_exits_with_within (proxy, EXIT_FAILURE, 10);
          g_assert_false (g_file_test (p.front_path, G_FILE_TEST_EXISTS));
        }
      g_assert_true (g_subprocess_communicate_utf8 (proxy, NULL, NULL, NULL, &err, &error));
      g_assert_no_error (error);
      g_test_message ("with%s --output: %s", with_output ? "" : "out", err);
      if (with_output)
        g_assert_cmpstr (err, ==, "");
      else
        g_assert_cmpstr (err, ==, "vhost-user-trace: the standard output is closed: give --output FILE\n");
    }
  paths_clear (&p);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add ("/trace/relay", Fixture, NULL, fixture_setup, test_relay, fixture_teardown);
  g_test_add ("/trace/invalid-relayed", Fixture, "raw", fixture_setup, test_invalid_relayed, fixture_teardown);
  g_test_add ("/trace/need-reply-needs-reply-ack", Fixture, "raw", fixture_setup, test_need_reply_needs_reply_ack,
              fixture_teardown);
  g_test_add ("/trace/pending-capped", Fixture, "raw", fixture_setup, test_pending_capped, fixture_teardown);
  g_test_add ("/trace/backend-cannot-steer", Fixture, "raw", fixture_setup, test_backend_cannot_steer, fixture_teardown);
  g_test_add ("/trace/backend-req-fd-not-a-socket", Fixture, "raw", fixture_setup, test_backend_req_fd_not_a_socket,
              fixture_teardown);
  g_test_add ("/trace/stuck-peer/other-way", Fixture, "raw", fixture_setup, test_stuck_peer_other_way, fixture_teardown);
  g_test_add ("/trace/stuck-peer/drained", Fixture, "raw", fixture_setup, test_stuck_peer_drained, fixture_teardown);
  g_test_add ("/trace/stuck-peer/sigterm", Fixture, "raw", fixture_setup, test_stuck_peer_sigterm, fixture_teardown);
  g_test_add ("/trace/stuck-peer/hang-up", Fixture, "raw", fixture_setup, test_stuck_peer_hang_up, fixture_teardown);
  g_test_add ("/trace/stuck-peer/hang-up-slow-output", Fixture, "stdout", fixture_setup,
              test_stuck_peer_hang_up_slow_output, fixture_teardown);
  g_test_add ("/trace/hang-up-drained", Fixture, "raw", fixture_setup, test_hang_up_drained, fixture_teardown);
  g_test_add ("/trace/channel-hang-up-drained", Fixture, "raw", fixture_setup, test_channel_hang_up_drained,
              fixture_teardown);
  g_test_add ("/trace/output-stalled/resumed", Fixture, "stdout", fixture_setup, test_output_stalled_resumed,
              fixture_teardown);
  g_test_add ("/trace/output-stalled/sigterm", Fixture, "stdout", fixture_setup, test_output_stalled_sigterm,
              fixture_teardown);
  g_test_add ("/trace/output-stalled/exit", Fixture, "stdout", fixture_setup, test_output_stalled_exit,
              fixture_teardown);
  g_test_add ("/trace/output-stalled/summary", Fixture, "stdout", fixture_setup, test_output_stalled_summary,
              fixture_teardown);
  g_test_add_func ("/trace/output-stalled/no-accept", test_output_stalled_no_accept);
  g_test_add_func ("/trace/output-takes-nothing", test_output_takes_nothing);
  g_test_add_func ("/trace/stdout-closed", test_stdout_closed);
  g_test_add_data_func ("/trace/connect/stalled-sigterm", "full", test_connect_stalled_sigterm);
  g_test_add_data_func ("/trace/connect/missing-sigterm", "missing", test_connect_stalled_sigterm);
  g_test_add_func ("/trace/connect/retried", test_connect_retried);
  g_test_add_func ("/trace/accept-backoff", test_accept_backoff);

  return g_test_run ();
}
