/* test-connection.c: framing, fd passing and hang-ups over a socket pair
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <vhost-user-glib.h>

#include "test-util.h"
#include "vhost-user-connection-private.h"
#include "vhost-user-socket-private.h"

typedef struct {
  GMainContext        *context;
  GSocket             *front_socket;
  GSocket             *back_socket;
  VhostUserConnection *front;   /* sends requests, reads replies */
  VhostUserConnection *back;    /* reads requests */
  int                  raw_fd;  /* the front-end's fd, for writing bytes by hand */

  /* what the back-end saw */
  guint                n_messages;
  guint                n_invalid;
  GError              *last_invalid;
  VhostUserMessage     last;
  int                  stolen_fd;
  gboolean             closed;
  GError              *closed_error;
  gboolean             pause_after_each;
  guint32              expect_next_num;
  gboolean             out_of_order;
  guint                baseline_fds;
} Fixture;

static void
on_message (VhostUserConnection *connection,
            VhostUserMessage    *msg,
            const GError        *error,
            gpointer             user_data)
{
  Fixture *f = user_data;

  if (error != NULL)
    {
      f->n_invalid++;
      g_clear_error (&f->last_invalid);
      f->last_invalid = g_error_copy (error);
      /* rejected messages never reach a handler with fds */
      g_assert_cmpuint (msg->n_fds, ==, 0);
      return;
    }

  f->n_messages++;
  f->last.header = msg->header;
  memcpy (f->last.payload, msg->payload, msg->header.size);
  f->last.n_fds = msg->n_fds;

  if (msg->header.request == VHOST_USER_REQUEST_SET_VRING_NUM)
    {
      guint32 index, num;

      g_assert_true (vhost_user_message_get_vring_state (msg, &index, &num));
      if (num != f->expect_next_num)
        f->out_of_order = TRUE;
      f->expect_next_num = num + 1;
    }

  if (msg->n_fds > 0 && f->stolen_fd < 0)
    f->stolen_fd = vhost_user_message_steal_fd (msg, 0);

  if (f->pause_after_each)
    vhost_user_connection_set_receiving (connection, FALSE);
}

static void
on_closed (VhostUserConnection *connection,
           const GError        *error,
           gpointer             user_data)
{
  Fixture *f = user_data;

  f->closed = TRUE;
  if (error != NULL)
    f->closed_error = g_error_copy (error);
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  static const VhostUserMessage empty = VHOST_USER_MESSAGE_INIT;

  f->baseline_fds = test_count_open_fds ();
  f->stolen_fd = -1;
  f->last = empty;
  f->context = g_main_context_new ();

  g_assert_true (vhost_user_socket_pair (&f->front_socket, &f->back_socket, &error));
  g_assert_no_error (error);

  f->front = vhost_user_connection_new (f->front_socket, VHOST_USER_CHANNEL_MAIN, TRUE, f->context);
  f->back = vhost_user_connection_new (f->back_socket, VHOST_USER_CHANNEL_MAIN, FALSE, f->context);
  f->raw_fd = g_socket_get_fd (f->front_socket);
  vhost_user_connection_set_handlers (f->back, on_message, on_closed, f);
  vhost_user_connection_start (f->front);
  vhost_user_connection_start (f->back);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_object (&f->front);
  g_clear_object (&f->back);
  g_clear_object (&f->front_socket);
  g_clear_object (&f->back_socket);
  if (f->stolen_fd >= 0)
    g_close (f->stolen_fd, NULL);
  g_clear_error (&f->closed_error);
  g_clear_error (&f->last_invalid);
  /* let the destroyed sources go */
  while (g_main_context_iteration (f->context, FALSE))
    ;
  g_main_context_unref (f->context);

  /* nothing the connection received, queued or stole stays open */
  g_assert_cmpuint (test_count_open_fds (), ==, f->baseline_fds);
}

static gboolean
wait_for_messages (Fixture *f,
                   guint    n)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (f->n_messages + f->n_invalid < n && !f->closed && g_get_monotonic_time () < deadline)
    g_main_context_iteration (f->context, TRUE);
  return f->n_messages + f->n_invalid >= n;
}

static void
send_or_die (Fixture          *f,
             VhostUserMessage *msg)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_user_connection_send (f->front, msg, &error));
  g_assert_no_error (error);
}

/* SET_VRING_NUM for ring 0, @num the message's sequence number */
static void
send_vring_num (Fixture *f,
                guint32  num)
{
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;

  vhost_user_message_init (&msg, VHOST_USER_REQUEST_SET_VRING_NUM, 0);
  vhost_user_message_set_vring_state (&msg, 0, num);
  send_or_die (f, &msg);
}

/* Writes @len bytes of @data by hand, @fds on the first sendmsg. */
static void
raw_send (int           fd,
          const guint8 *data,
          gsize         len,
          const int    *fds,
          guint         n_fds)
{
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE (sizeof (int) * 16)];
  } control;
  struct msghdr mh = { 0 };
  struct iovec iov = { (void *) data, len };

  g_assert_cmpuint (n_fds, <=, 16);
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
  g_assert_cmpint (sendmsg (fd, &mh, MSG_NOSIGNAL), ==, (gssize) len);
}

static void
test_eventfd_passed (Fixture       *f,
                     gconstpointer  data)
{
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  int efd = test_eventfd ();
  guint64 value = 0;

  vhost_user_message_init (&msg, VHOST_USER_REQUEST_SET_VRING_CALL, 0);
  vhost_user_message_set_vring_fd (&msg, 1, dup (efd));
  send_or_die (f, &msg);
  g_assert_cmpuint (msg.n_fds, ==, 0);

  g_assert_true (wait_for_messages (f, 1));
  g_assert_cmpuint (f->n_invalid, ==, 0);
  g_assert_cmpuint (f->last.header.request, ==, VHOST_USER_REQUEST_SET_VRING_CALL);
  g_assert_cmpuint (f->last.n_fds, ==, 1);
  g_assert_cmpint (f->stolen_fd, >=, 0);

  /* the fd that arrived is the same eventfd: a write on our end is read
   * on theirs */
  value = 7;
  g_assert_cmpint (write (efd, &value, sizeof value), ==, sizeof value);
  value = 0;
  g_assert_cmpint (read (f->stolen_fd, &value, sizeof value), ==, sizeof value);
  g_assert_cmpuint (value, ==, 7);

  g_close (efd, NULL);
}

static void
test_one_byte_writes (Fixture       *f,
                      gconstpointer  data)
{
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  VhostUserWireVringAddr addr = { 3, 0, 0x1000, 0x2000, 0x3000, 0x4000 };
  const guint8 *bytes;
  gsize len;
  int memfd = test_memfd (4096);

  /* SET_LOG_BASE: a payload and an fd, which travels with the first byte */
  vhost_user_message_init (&msg, VHOST_USER_REQUEST_SET_VRING_ADDR, 0);
  vhost_user_message_set_struct (&msg, &addr);
  bytes = vhost_user_message_get_data (&msg, &len);

  for (gsize i = 0; i < len; i++)
    {
      raw_send (f->raw_fd, bytes + i, 1, NULL, 0);
      while (g_main_context_iteration (f->context, FALSE))
        ;
      /* nothing is delivered before the last byte */
      g_assert_cmpuint (f->n_messages, ==, i + 1 == len ? 1 : 0);
    }
  g_assert_cmpmem (f->last.payload, sizeof addr, &addr, sizeof addr);

  {
    VhostUserWireLog log = { 4096, 0 };

    vhost_user_message_init (&msg, VHOST_USER_REQUEST_SET_LOG_BASE, 0);
    vhost_user_message_set_struct (&msg, &log);
    bytes = vhost_user_message_get_data (&msg, &len);
    for (gsize i = 0; i < len; i++)
      {
        raw_send (f->raw_fd, bytes + i, 1, i == 0 ? &memfd : NULL, i == 0 ? 1 : 0);
        while (g_main_context_iteration (f->context, FALSE))
          ;
      }
    g_assert_true (wait_for_messages (f, 2));
    g_assert_cmpuint (f->n_invalid, ==, 0);
    g_assert_cmpuint (f->last.header.request, ==, VHOST_USER_REQUEST_SET_LOG_BASE);
    g_assert_cmpuint (f->last.n_fds, ==, 1);
  }

  g_close (memfd, NULL);
}

static void
test_ten_thousand_in_order (Fixture       *f,
                            gconstpointer  data)
{
  /* far more than the socket buffer holds: the send queue takes the rest
   * and drains as the reader catches up */
  for (guint32 i = 0; i < 10000; i++)
    send_vring_num (f, i);
  g_assert_cmpuint (vhost_user_connection_get_send_queue_length (f->front), >, 0);

  g_assert_true (wait_for_messages (f, 10000));
  g_assert_cmpuint (f->n_messages, ==, 10000);
  g_assert_false (f->out_of_order);
  g_assert_cmpuint (f->expect_next_num, ==, 10000);
  g_assert_cmpuint (vhost_user_connection_get_send_queue_length (f->front), ==, 0);
}

static void
test_hangup_mid_message (Fixture       *f,
                         gconstpointer  data)
{
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  const guint8 *bytes;
  gsize len;
  int efd = test_eventfd ();

  /* header, fd and half the payload, then the peer is gone */
  vhost_user_message_init (&msg, VHOST_USER_REQUEST_SET_VRING_CALL, 0);
  vhost_user_message_set_vring_fd (&msg, 0, -1);
  msg.header.size = 8;
  bytes = vhost_user_message_get_data (&msg, &len);
  raw_send (f->raw_fd, bytes, len - 4, &efd, 1);
  g_close (efd, NULL);
  g_clear_object (&f->front);
  g_socket_close (f->front_socket, NULL);

  g_assert_true (test_iterate_until (f->context, &f->closed, 5000));
  g_assert_error (f->closed_error, VHOST_USER_ERROR, VHOST_USER_ERROR_PARTIAL_MESSAGE);
  g_assert_true (vhost_user_error_should_reconnect (f->closed_error));
  g_assert_cmpuint (f->n_messages, ==, 0);
  g_assert_true (vhost_user_connection_is_closed (f->back));
}

static void
test_hangup_between_messages (Fixture       *f,
                              gconstpointer  data)
{
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  g_autoptr(GError) error = NULL;

  vhost_user_message_init (&msg, VHOST_USER_REQUEST_SET_OWNER, 0);
  send_or_die (f, &msg);
  g_clear_object (&f->front);
  g_socket_close (f->front_socket, NULL);

  /* the message sent before the hang-up is still delivered */
  g_assert_true (test_iterate_until (f->context, &f->closed, 5000));
  g_assert_cmpuint (f->n_messages, ==, 1);
  g_assert_error (f->closed_error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_BROKEN);
  g_assert_true (vhost_user_error_should_reconnect (f->closed_error));

  /* and sending to nobody is an error, not a crash */
  vhost_user_message_init (&msg, VHOST_USER_REQUEST_GET_FEATURES, VHOST_USER_FLAG_REPLY);
  g_assert_false (vhost_user_connection_send (f->back, &msg, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_BROKEN);
}

static void
test_send_to_closed_peer (Fixture       *f,
                          gconstpointer  data)
{
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  g_autoptr(GError) error = NULL;
  gboolean front_closed = FALSE;
  int efd = test_eventfd ();

  g_clear_object (&f->back);
  g_socket_close (f->back_socket, NULL);

  /* EPIPE: the message's fd is closed with it, and the error says to
   * reconnect */
  vhost_user_message_init (&msg, VHOST_USER_REQUEST_SET_VRING_KICK, 0);
  vhost_user_message_set_vring_fd (&msg, 0, efd);
  g_assert_false (vhost_user_connection_send (f->front, &msg, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_BROKEN);
  g_assert_true (vhost_user_error_should_reconnect (error));
  g_assert_false (test_fd_is_open (efd));
  front_closed = vhost_user_connection_is_closed (f->front);
  g_assert_true (front_closed);
}

static void
test_invalid_keeps_framing (Fixture       *f,
                            gconstpointer  data)
{
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  const guint8 *bytes;
  gsize len;
  int fds[2] = { test_eventfd (), test_eventfd () };

  /* GET_FEATURES takes no fds: refused, fds closed, next message fine */
  vhost_user_message_init (&msg, VHOST_USER_REQUEST_GET_FEATURES, 0);
  bytes = vhost_user_message_get_data (&msg, &len);
  raw_send (f->raw_fd, bytes, len, fds, 2);
  g_close (fds[0], NULL);
  g_close (fds[1], NULL);

  /* a bad version */
  vhost_user_message_init (&msg, VHOST_USER_REQUEST_SET_OWNER, 0);
  msg.header.flags = 2;
  bytes = vhost_user_message_get_data (&msg, &len);
  raw_send (f->raw_fd, bytes, len, NULL, 0);

  vhost_user_message_init (&msg, VHOST_USER_REQUEST_SET_FEATURES, 0);
  vhost_user_message_set_u64 (&msg, 0x1234);
  send_or_die (f, &msg);

  g_assert_true (wait_for_messages (f, 3));
  g_assert_cmpuint (f->n_invalid, ==, 2);
  g_assert_error (f->last_invalid, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE);
  g_assert_cmpuint (f->n_messages, ==, 1);
  g_assert_cmpuint (f->last.header.request, ==, VHOST_USER_REQUEST_SET_FEATURES);
  g_assert_false (f->closed);
}

static void
test_too_many_fds (Fixture       *f,
                   gconstpointer  data)
{
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  VhostUserWireXenMemoryRegion regions[8] = { { 0 } };
  const guint8 *bytes;
  gsize len;
  int fds[12];

  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    fds[i] = test_memfd (4096);

  vhost_user_message_init (&msg, VHOST_USER_REQUEST_SET_MEM_TABLE, 0);
  vhost_user_message_set_mem_table (&msg, regions, 8, FALSE);
  bytes = vhost_user_message_get_data (&msg, &len);
  raw_send (f->raw_fd, bytes, len, fds, G_N_ELEMENTS (fds));
  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    g_close (fds[i], NULL);

  g_assert_true (wait_for_messages (f, 1));
  g_assert_cmpuint (f->n_invalid, ==, 1);
  g_assert_error (f->last_invalid, VHOST_USER_ERROR, VHOST_USER_ERROR_INCORRECT_FDS);
  g_assert_false (f->closed);
}

static void
test_oversized_closes (Fixture       *f,
                       gconstpointer  data)
{
  VhostUserWireHeader header = { VHOST_USER_REQUEST_SET_CONFIG, 1, VHOST_USER_MAX_PAYLOAD + 1 };

  raw_send (f->raw_fd, (const guint8 *) &header, sizeof header, NULL, 0);
  g_assert_true (test_iterate_until (f->context, &f->closed, 5000));
  g_assert_error (f->closed_error, VHOST_USER_ERROR, VHOST_USER_ERROR_OVERSIZED_MESSAGE);
  g_assert_false (vhost_user_error_should_reconnect (f->closed_error));
}

static void
test_pause_receiving (Fixture       *f,
                      gconstpointer  data)
{
  f->pause_after_each = TRUE;
  for (guint32 i = 0; i < 3; i++)
    send_vring_num (f, i);

  /* a request being answered holds back the next one */
  g_assert_true (wait_for_messages (f, 1));
  for (guint i = 0; i < 10; i++)
    g_main_context_iteration (f->context, FALSE);
  g_assert_cmpuint (f->n_messages, ==, 1);

  vhost_user_connection_set_receiving (f->back, TRUE);
  g_assert_true (wait_for_messages (f, 2));
  g_assert_cmpuint (f->n_messages, ==, 2);
  vhost_user_connection_set_receiving (f->back, TRUE);
  g_assert_true (wait_for_messages (f, 3));
  g_assert_false (f->out_of_order);
}

static void
test_paused_sees_hangup (Fixture       *f,
                         gconstpointer  data)
{
  vhost_user_connection_set_receiving (f->back, FALSE);
  g_clear_object (&f->front);
  g_socket_close (f->front_socket, NULL);

  /* no busy loop on a hang-up nobody reads: the connection closes */
  g_assert_true (test_iterate_until (f->context, &f->closed, 5000));
  g_assert_error (f->closed_error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_BROKEN);
}

static void
test_own_context (Fixture       *f,
                  gconstpointer  data)
{
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;

  vhost_user_message_init (&msg, VHOST_USER_REQUEST_SET_OWNER, 0);
  send_or_die (f, &msg);

  /* the default context never dispatches it */
  for (guint i = 0; i < 5; i++)
    g_main_context_iteration (NULL, FALSE);
  g_usleep (10000);
  for (guint i = 0; i < 5; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (f->n_messages, ==, 0);

  g_assert_true (wait_for_messages (f, 1));
  g_assert_true (vhost_user_connection_get_context (f->back) == f->context);
}

/* A message answered in its dispatch leaves the context asleep: the
 * connection's watch is not taken out of the poll set and put back
 * around the dispatch, each a wake-up of the context (an eventfd write
 * and one more poll per message). */
static void
test_no_wakeup_per_message (Fixture       *f,
                            gconstpointer  data)
{
  for (guint32 i = 0; i < 3; i++)
    {
      send_vring_num (f, i);
      g_assert_true (wait_for_messages (f, i + 1));
      g_assert_true (test_context_is_asleep (f->context));
    }
  g_assert_false (f->out_of_order);
}

typedef struct {
  Fixture *f;
  guint    n;
  guint32  request[8];
  guint    n_fds[8];
} Arrivals;

static void
on_message_record (VhostUserConnection *connection,
                   VhostUserMessage    *msg,
                   const GError        *error,
                   gpointer             user_data)
{
  Arrivals *a = user_data;

  g_assert_no_error (error);
  g_assert_cmpuint (a->n, <, G_N_ELEMENTS (a->request));
  a->request[a->n] = msg->header.request;
  a->n_fds[a->n] = msg->n_fds;
  a->n++;
  on_message (connection, msg, error, a->f);
}

static gsize
put_message (guint8  *out,
             guint32  request,
             guint64  payload)
{
  guint32 header[3] = { request, 0x1, sizeof payload };

  memcpy (out, header, sizeof header);
  memcpy (out + sizeof header, &payload, sizeof payload);
  return sizeof header + sizeof payload;
}

/* Messages are read ahead, many to a read: the fds still go to the
 * message they came with, whether it is alone in its read, last in it,
 * or written in two parts; several messages in one write all arrive. */
static void
test_fds_go_to_their_message (Fixture       *f,
                              gconstpointer  data)
{
  Arrivals a = { f, 0 };
  guint8 buf[4 * 20];
  gsize len = 0;
  int kick = test_eventfd ();

  vhost_user_connection_set_handlers (f->back, on_message_record, on_closed, &a);
  /* (a ring state: the number in the upper half) two in one write, then one with an fd, then one whose fd rides on its
   * header and whose payload follows alone, then one more */
  len += put_message (buf + len, VHOST_USER_REQUEST_SET_VRING_NUM, 0);
  len += put_message (buf + len, VHOST_USER_REQUEST_SET_VRING_NUM, (guint64) 1 << 32);
  raw_send (f->raw_fd, buf, len, NULL, 0);
  len = put_message (buf, VHOST_USER_REQUEST_SET_VRING_KICK, 0);
  raw_send (f->raw_fd, buf, len, &kick, 1);
  len = put_message (buf, VHOST_USER_REQUEST_SET_VRING_CALL, 1);
  raw_send (f->raw_fd, buf, 12, &kick, 1);
  raw_send (f->raw_fd, buf + 12, len - 12, NULL, 0);
  len = put_message (buf, VHOST_USER_REQUEST_SET_VRING_NUM, (guint64) 2 << 32);
  raw_send (f->raw_fd, buf, len, NULL, 0);

  g_assert_true (wait_for_messages (f, 5));
  g_assert_cmpuint (a.n, ==, 5);
  g_assert_cmpuint (a.request[2], ==, VHOST_USER_REQUEST_SET_VRING_KICK);
  g_assert_cmpuint (a.request[3], ==, VHOST_USER_REQUEST_SET_VRING_CALL);
  g_assert_cmpuint (a.n_fds[0], ==, 0);
  g_assert_cmpuint (a.n_fds[1], ==, 0);
  g_assert_cmpuint (a.n_fds[2], ==, 1);
  g_assert_cmpuint (a.n_fds[3], ==, 1);
  g_assert_cmpuint (a.n_fds[4], ==, 0);
  g_assert_false (f->out_of_order);
  close (kick);
}

typedef struct {
  Fixture *f;
  guint    depth;
  guint    max_depth;
} Nesting;

static void
on_message_nesting (VhostUserConnection *connection,
                    VhostUserMessage    *msg,
                    const GError        *error,
                    gpointer             user_data)
{
  Nesting *n = user_data;

  n->depth++;
  n->max_depth = MAX (n->max_depth, n->depth);
  on_message (connection, msg, error, n->f);
  /* a handler that runs its context (a blocking call of its own, say)
   * with the next requests already in the socket */
  if (n->f->n_messages == 1)
    for (guint i = 0; i < 20; i++)
      g_main_context_iteration (n->f->context, FALSE);
  n->depth--;
}

/* An iteration nested in a handler does not deliver the connection's next
 * message inside the one being handled; they all come after, in order. */
static void
test_nested_iteration (Fixture       *f,
                       gconstpointer  data)
{
  Nesting n = { f, 0, 0 };

  vhost_user_connection_set_handlers (f->back, on_message_nesting, on_closed, &n);
  for (guint32 i = 0; i < 5; i++)
    send_vring_num (f, i);
  g_assert_true (wait_for_messages (f, 5));
  g_assert_cmpuint (n.max_depth, ==, 1);
  g_assert_false (f->out_of_order);
  /* putting the watch back woke the context up once; then it sleeps */
  while (g_main_context_iteration (f->context, FALSE))
    ;
  g_assert_true (test_context_is_asleep (f->context));
}

/* With a poll window the context keeps looking after a message, then
 * sleeps again once the window passed without one; a connection closed
 * meanwhile takes its polling with it. */
static void
test_poll_window (Fixture       *f,
                  gconstpointer  data)
{
  gboolean passed = FALSE;
  gint64 start;

  vhost_user_connection_set_poll_window (f->back, 50 * 1000);
  send_vring_num (f, 0);
  start = g_get_monotonic_time ();
  g_assert_true (wait_for_messages (f, 1));
  g_assert_false (test_context_is_asleep (f->context));
  while (!test_context_is_asleep (f->context))
    g_main_context_iteration (f->context, FALSE);
  passed = g_get_monotonic_time () - start >= 50 * 1000;
  g_assert_true (passed);

  /* polling again, then closed: nothing of it is left */
  send_vring_num (f, 1);
  g_assert_true (wait_for_messages (f, 2));
  g_assert_false (test_context_is_asleep (f->context));
  vhost_user_connection_close (f->back, NULL);
  while (g_main_context_iteration (f->context, FALSE))
    ;
  g_assert_true (test_context_is_asleep (f->context));
  g_assert_false (f->out_of_order);
}

#if VHOST_USER_HAS_BACKEND
static void
on_notify_count (GObject    *object,
                 GParamSpec *pspec,
                 gpointer    user_data)
{
  (*(guint *) user_data)++;
}

static void
test_backend_poll_window_property (void)
{
  g_autoptr(VhostUserBackend) backend = g_object_new (VHOST_USER_TYPE_BACKEND, NULL);
  guint notified = 0, window = 1;

  g_signal_connect (backend, "notify::poll-window", G_CALLBACK (on_notify_count), &notified);
  g_object_get (backend, "poll-window", &window, NULL);
  g_assert_cmpuint (window, ==, 0);
  vhost_user_backend_set_poll_window (backend, 50);
  vhost_user_backend_set_poll_window (backend, 50);
  g_assert_cmpuint (notified, ==, 1);
  g_object_set (backend, "poll-window", 20, NULL);
  g_assert_cmpuint (vhost_user_backend_get_poll_window (backend), ==, 20);
  g_assert_cmpuint (notified, ==, 2);
}
#endif

static void
test_local_close (Fixture       *f,
                  gconstpointer  data)
{
  vhost_user_connection_close (f->back, NULL);
  g_assert_true (f->closed);
  g_assert_null (f->closed_error);
  /* twice is harmless */
  vhost_user_connection_close (f->back, NULL);
}

/* A peer that sends requests and never reads the replies: the connection
 * stops reading once too many replies wait, so memory stays bounded, and
 * goes on when the peer catches up. */
static void
echo_reply (VhostUserConnection *connection,
            VhostUserMessage    *msg,
            const GError        *error,
            gpointer             user_data)
{
  VhostUserMessage reply = VHOST_USER_MESSAGE_INIT;
  guint *n = user_data;

  (*n)++;
  vhost_user_message_init_reply (&reply, msg);
  vhost_user_message_set_u64 (&reply, 0x1234);
  vhost_user_connection_send (connection, &reply, NULL);
}

static void
test_backpressure (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(VhostUserConnection) back = NULL;
  g_autoptr(GSocket) a = NULL;
  g_autoptr(GSocket) b = NULL;
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  const guint8 *bytes;
  gsize len;
  guint handled = 0, sent = 0, max_queue = 0;
  char sink[65536];

  g_assert_true (vhost_user_socket_pair (&a, &b, NULL));
  back = vhost_user_connection_new (b, VHOST_USER_CHANNEL_MAIN, FALSE, context);
  vhost_user_connection_set_handlers (back, echo_reply, NULL, &handled);
  vhost_user_connection_start (back);

  vhost_user_message_init (&msg, VHOST_USER_REQUEST_GET_FEATURES, 0);
  bytes = vhost_user_message_get_data (&msg, &len);
  for (guint round = 0; round < 2000; round++)
    {
      /* as many requests as the socket takes, never reading a reply */
      while (send (g_socket_get_fd (a), bytes, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (gssize) len)
        sent++;
      while (g_main_context_iteration (context, FALSE))
        ;
      max_queue = MAX (max_queue, vhost_user_connection_get_send_queue_length (back));
    }
  g_test_message ("sent %u, handled %u, longest send queue %u", sent, handled, max_queue);
  g_assert_cmpuint (max_queue, <=, 256 + 64);
  g_assert_cmpuint (handled, <, sent);

  /* the peer reads again: everything it sent is answered */
  while (handled < sent)
    {
      while (recv (g_socket_get_fd (a), sink, sizeof sink, MSG_DONTWAIT) > 0)
        ;
      g_main_context_iteration (context, FALSE);
    }
  g_assert_cmpuint (handled, ==, sent);
  g_assert_false (vhost_user_connection_is_closed (back));
}

static void
test_trace (void)
{
  if (g_test_subprocess ())
    {
      Fixture f = { 0 };
      VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
      VhostUserWireVringAddr addr = { 1, 0, 0xd000, 0xe000, 0xa000, 0 };

      g_setenv ("VHOST_USER_DEBUG", "trace", TRUE);
      fixture_setup (&f, NULL);

      vhost_user_message_init (&msg, VHOST_USER_REQUEST_SET_VRING_ADDR, VHOST_USER_FLAG_NEED_REPLY);
      vhost_user_message_set_struct (&msg, &addr);
      send_or_die (&f, &msg);
      vhost_user_message_init (&msg, VHOST_USER_REQUEST_SET_VRING_CALL, 0);
      vhost_user_message_set_vring_fd (&msg, 1, test_eventfd ());
      send_or_die (&f, &msg);
      g_assert_true (wait_for_messages (&f, 2));
      fixture_teardown (&f, NULL);
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*send main: SET_VRING_ADDR (9) flags=0x9 [need-reply] size=40 fds=0 index=1 flags=0x0 desc=0xd000 used=0xe000 avail=0xa000 log=0x0*");
  g_test_trap_assert_stderr ("*recv main: SET_VRING_ADDR (9)*");
  g_test_trap_assert_stderr ("*recv main: SET_VRING_CALL (13) flags=0x1 size=8 fds=1 index=1*");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  /* the default context's wake-up fd is not a leak of any test */
  g_main_context_default ();

#define ADD(path, func) g_test_add ("/connection/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("eventfd-passed", test_eventfd_passed);
  ADD ("one-byte-writes", test_one_byte_writes);
  ADD ("ten-thousand-in-order", test_ten_thousand_in_order);
  ADD ("hangup/mid-message", test_hangup_mid_message);
  ADD ("hangup/between-messages", test_hangup_between_messages);
  ADD ("hangup/send-to-closed-peer", test_send_to_closed_peer);
  ADD ("hangup/while-paused", test_paused_sees_hangup);
  ADD ("invalid-keeps-framing", test_invalid_keeps_framing);
  ADD ("too-many-fds", test_too_many_fds);
  ADD ("oversized-closes", test_oversized_closes);
  ADD ("pause-receiving", test_pause_receiving);
  ADD ("own-context", test_own_context);
  ADD ("no-wakeup-per-message", test_no_wakeup_per_message);
  ADD ("nested-iteration", test_nested_iteration);
  ADD ("fds-go-to-their-message", test_fds_go_to_their_message);
  ADD ("poll-window", test_poll_window);
  ADD ("local-close", test_local_close);
#undef ADD
  g_test_add_func ("/connection/trace", test_trace);
  g_test_add_func ("/connection/backpressure", test_backpressure);
#if VHOST_USER_HAS_BACKEND
  g_test_add_func ("/connection/backend-poll-window-property", test_backend_poll_window_property);
#endif

  return g_test_run ();
}
