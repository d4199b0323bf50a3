/* vhost-user-connection.c: framed messages over a UNIX socket
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The connection owns a GSocket and turns its byte stream into whole
 * messages, each with the fds that came with it. The socket is watched by
 * a GSource of our own in the context the connection was made for; the
 * source asks for G_IO_IN while reading is wanted and G_IO_OUT only while
 * messages wait to be sent.
 *
 * The bytes go through sendmsg()/recvmsg() on the GSocket's fd rather
 * than g_socket_send_message(): GIO reports ENOBUFS and EINTR as
 * G_IO_ERROR_FAILED, and the protocol's error classification
 * (vhost_user_error_from_errno()) needs the errno itself. Received fds
 * land straight in the message that owns them; queued fds are held by a
 * GUnixFDList until they are sent.
 */

#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <gio/gunixfdlist.h>
#include <glib/gstdio.h>

#include "vhost-user-connection-private.h"
#include "vhost-user-debug-private.h"
#include "vhost-user-error.h"
#include "vhost-user-peer-fd-private.h"

#ifndef SCM_PIDFD
/* Linux 6.5: the sender's pidfd, for a socket with SO_PASSPIDFD set */
#define SCM_PIDFD 0x04
#endif

/* Room for far more fds than any message may carry, so that a peer
 * sending too many is seen and answered instead of truncated silently. */
#define RX_CMSG_FDS 64
/* Bytes read ahead: one recvmsg takes every message the socket holds (up
 * to this), not a header and then a payload each. */
#define RX_BUFFER 4096
/* Messages handled per dispatch before yielding to other sources. */
#define MAX_MESSAGES_PER_DISPATCH 64
/* Replies queued for a peer that does not read them: past this, stop
 * reading its requests until it catches up, so it cannot make us buffer
 * without bound. */
#define MAX_QUEUED_SENDS 256

typedef struct {
  guint8       *data;
  gsize         len;
  gsize         offset;
  GUnixFDList  *fds;   /* sent with the first byte, then dropped */
} SendEntry;

typedef struct {
  GSource              source;
  VhostUserConnection *connection;  /* not a ref: the connection destroys us first */
  gpointer             tag;         /* NULL while a nested iteration runs */
  int                  fd;
  GIOCondition         condition;   /* what the fd is watched for now */
  gboolean             dispatching;
} ConnectionSource;

struct _VhostUserConnection
{
  GObject           parent_instance;

  GSocket          *socket;
  int               fd;
  GMainContext     *context;
  GMainContext     *dispatch_context;  /* where the source is now: context, or a blocking call's own */
  GSource          *source;
  VhostUserChannel  channel;
  gboolean          receives_replies;
  guint64           protocol_features;

  VhostUserConnectionMessageFunc message_func;
  VhostUserConnectionClosedFunc  closed_func;
  gpointer                       user_data;

  guint             receiving : 1;
  guint             started : 1;
  guint             closed : 1;

  /* the message being received: header and payload bytes so far, and
   * every fd that came with them */
  VhostUserMessage  rx;
  gsize             rx_have;
  gboolean          rx_too_many_fds;

  /* bytes read and not yet taken into rx, and the fds that came with
   * them: they belong to the message holding the last byte of the read
   * (the kernel ends a read after the data that carried fds) */
  guint8           *rx_buf;
  gsize             rx_buf_pos;
  gsize             rx_buf_len;
  int               rx_fds[RX_CMSG_FDS];
  guint             rx_n_fds;
  gboolean          rx_fds_truncated;

  GQueue            send_queue;

  /* looking for the next message without sleeping, for a while after
   * the last one (vhost_user_connection_set_poll_window()) */
  guint             poll_window_us;
  GSource          *poll_source;
  gint64            poll_last;

  /* the source being dispatched, whose watch is brought up to date once,
   * after; a blocking call that moves the connection meanwhile gets a new
   * source, watched at once */
  GSource          *io_source;
};

G_DEFINE_FINAL_TYPE (VhostUserConnection, vhost_user_connection, G_TYPE_OBJECT)

static void
send_entry_free (SendEntry *entry)
{
  g_free (entry->data);
  g_clear_object (&entry->fds);
  g_free (entry);
}

static void
update_condition (VhostUserConnection *self)
{
  ConnectionSource *source = (ConnectionSource *) self->source;
  GIOCondition condition = G_IO_HUP | G_IO_ERR;

  if (source == NULL || self->io_source == self->source)
    return;
  if (self->receiving && self->send_queue.length < MAX_QUEUED_SENDS)
    condition |= G_IO_IN;
  if (!g_queue_is_empty (&self->send_queue))
    condition |= G_IO_OUT;
  /* each change wakes the context up (a write to its eventfd): only
   * real ones, so that a request answered at once costs none */
  if (condition == source->condition)
    return;
  source->condition = condition;
  if (source->tag != NULL)
    g_source_modify_unix_fd (self->source, source->tag, condition);
}

static void
trace (VhostUserConnection    *self,
       const char             *direction,
       const VhostUserMessage *msg,
       const GError           *error)
{
  g_autoptr(GString) line = g_string_new (NULL);
  /* the side that reads replies on the main socket is the front-end */
  const char *role = self->receives_replies == (self->channel == VHOST_USER_CHANNEL_MAIN)
                     ? "front-end" : "back-end";

  vhost_user_message_describe (msg, self->channel, line);
  if (error != NULL)
    VHOST_USER_NOTE (TRACE, "[%s] %s %s: %s: rejected: %s", role, direction,
                     vhost_user_channel_get_name (self->channel), line->str, error->message);
  else
    VHOST_USER_NOTE (TRACE, "[%s] %s %s: %s", role, direction,
                     vhost_user_channel_get_name (self->channel), line->str);
}

static void
close_with_error (VhostUserConnection *self,
                  GError              *error)
{
  vhost_user_connection_close (self, error);
  g_error_free (error);
}

static void
rx_reset (VhostUserConnection *self)
{
  vhost_user_message_clear (&self->rx);
  self->rx_have = 0;
  self->rx_too_many_fds = FALSE;
}

static void
rx_buffer_clear (VhostUserConnection *self)
{
  for (guint i = 0; i < self->rx_n_fds; i++)
    vhost_user_peer_fd_close (self->rx_fds[i]);
  self->rx_n_fds = 0;
  self->rx_fds_truncated = FALSE;
  self->rx_buf_pos = self->rx_buf_len = 0;
}

/* Takes the fds that came with a read (SCM_RIGHTS), and closes any
 * other fd the kernel installed for us: a peer holding a copy of our
 * socket (the back-end channel, a main socket passed with --fd) can set
 * SO_PASSPIDFD on it, and every recvmsg() then brings a pidfd in an
 * SCM_PIDFD message that nobody else would close. SCM_CREDENTIALS and
 * SCM_SECURITY carry no fds and are ignored. */
static void
collect_fds (VhostUserConnection *self,
             struct msghdr       *mh)
{
  for (struct cmsghdr *cmsg = CMSG_FIRSTHDR (mh); cmsg != NULL; cmsg = CMSG_NXTHDR (mh, cmsg))
    {
      const guint8 *data;
      gboolean take;
      gsize n;

      if (cmsg->cmsg_level != SOL_SOCKET ||
          (cmsg->cmsg_type != SCM_RIGHTS && cmsg->cmsg_type != SCM_PIDFD))
        continue;
      take = cmsg->cmsg_type == SCM_RIGHTS;

      data = CMSG_DATA (cmsg);
      n = (cmsg->cmsg_len - CMSG_LEN (0)) / sizeof (int);
      for (gsize i = 0; i < n; i++)
        {
          int fd;

          memcpy (&fd, data + i * sizeof (int), sizeof fd);
          if (!take)
            vhost_user_peer_fd_close (fd);
          else if (self->rx_n_fds < G_N_ELEMENTS (self->rx_fds))
            self->rx_fds[self->rx_n_fds++] = fd;
          else
            {
              vhost_user_peer_fd_close (fd);
              self->rx_fds_truncated = TRUE;
            }
        }
    }
  if (mh->msg_flags & MSG_CTRUNC)
    self->rx_fds_truncated = TRUE;
}

static gboolean
rx_buffered_ready (VhostUserConnection *self)
{
  return !self->closed && self->receiving && self->rx_buf_pos < self->rx_buf_len &&
         self->send_queue.length < MAX_QUEUED_SENDS;
}

/* The fds of the last read go to the message that takes its last byte. */
static void
hand_fds_to_rx (VhostUserConnection *self)
{
  for (guint i = 0; i < self->rx_n_fds; i++)
    if (!vhost_user_message_add_fd (&self->rx, self->rx_fds[i]))
      {
        vhost_user_peer_fd_close (self->rx_fds[i]);
        self->rx_too_many_fds = TRUE;
      }
  if (self->rx_fds_truncated)
    self->rx_too_many_fds = TRUE;
  self->rx_n_fds = 0;
  self->rx_fds_truncated = FALSE;
}

/* A whole message is in self->rx: check it, trace it, hand it over. */
static void
deliver (VhostUserConnection *self)
{
  g_autoptr(GError) error = NULL;
  VhostUserMessage msg;
  gboolean valid;

  if (self->rx_too_many_fds)
    {
      g_set_error (&error, VHOST_USER_ERROR, VHOST_USER_ERROR_INCORRECT_FDS,
                   "Message %u carries more than %u file descriptors",
                   self->rx.header.request, VHOST_USER_MAX_FDS);
      valid = FALSE;
    }
  else
    {
      valid = vhost_user_message_check_header (&self->rx.header, self->receives_replies, &error) &&
              vhost_user_message_validate (&self->rx, self->channel, self->protocol_features, &error);
    }

  if (VHOST_USER_HAS_DEBUG (TRACE))
    trace (self, "recv", &self->rx, error);

  if (!valid)
    vhost_user_message_close_fds (&self->rx);

  /* Out of rx before anyone sees it: a handler may run the context again
   * (a blocking call moves the connection to a context of its own), and
   * the next message must then be read into an empty rx, not this one
   * found complete and delivered a second time. */
  vhost_user_message_move (&msg, &self->rx);
  rx_reset (self);
  if (self->message_func != NULL)
    self->message_func (self, &msg, error, self->user_data);
  vhost_user_message_clear (&msg);
}

/* Reads what the socket has into the read-ahead buffer. FALSE when there
 * is nothing more to do in this dispatch (nothing to read, or closed). */
static gboolean
fill_rx_buffer (VhostUserConnection *self)
{
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE (sizeof (int) * RX_CMSG_FDS)];
  } control;
  struct msghdr mh = { 0 };
  struct iovec iov;
  GError *error;
  gssize n;

  g_assert (self->rx_buf_pos == self->rx_buf_len && self->rx_n_fds == 0);
  if (self->rx_buf == NULL)
    self->rx_buf = g_malloc (RX_BUFFER);
  iov.iov_base = self->rx_buf;
  iov.iov_len = RX_BUFFER;
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control.buf;
  mh.msg_controllen = sizeof control.buf;

  do
    n = recvmsg (self->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);

  if (n < 0)
    {
      int errsv = errno;

      if (errsv == EAGAIN || errsv == EWOULDBLOCK)
        return FALSE;
      close_with_error (self, g_error_new (VHOST_USER_ERROR, vhost_user_error_from_errno (errsv),
                                           "Receiving on the %s channel failed: %s",
                                           vhost_user_channel_get_name (self->channel),
                                           g_strerror (errsv)));
      return FALSE;
    }

  collect_fds (self, &mh);

  if (n == 0)
    {
      if (self->rx_have == 0 && self->rx.n_fds == 0 && self->rx_n_fds == 0)
        error = g_error_new (VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_BROKEN,
                             "The peer closed the %s channel",
                             vhost_user_channel_get_name (self->channel));
      else
        error = g_error_new (VHOST_USER_ERROR, VHOST_USER_ERROR_PARTIAL_MESSAGE,
                             "The peer closed the %s channel in the middle of a message "
                             "(%" G_GSIZE_FORMAT " bytes received)",
                             vhost_user_channel_get_name (self->channel), self->rx_have);
      close_with_error (self, error);
      return FALSE;
    }

  self->rx_buf_pos = 0;
  self->rx_buf_len = n;
  return TRUE;
}

/* Takes the next message out of what was read, reading when that runs
 * out. FALSE once there is nothing more to do in this dispatch. */
static gboolean
receive_some (VhostUserConnection *self)
{
  guint8 *base = (guint8 *) &self->rx.header;
  GError *error = NULL;
  gssize needed;

  for (;;)
    {
      gsize take;

      needed = vhost_user_message_bytes_needed (base, self->rx_have, &error);
      if (needed < 0)
        {
          close_with_error (self, error);
          return FALSE;
        }
      if (needed == 0)
        break;
      if (self->rx_buf_pos == self->rx_buf_len && !fill_rx_buffer (self))
        return FALSE;
      take = MIN ((gsize) needed, self->rx_buf_len - self->rx_buf_pos);
      memcpy (base + self->rx_have, self->rx_buf + self->rx_buf_pos, take);
      self->rx_have += take;
      self->rx_buf_pos += take;
      if (self->rx_buf_pos == self->rx_buf_len && (self->rx_n_fds > 0 || self->rx_fds_truncated))
        hand_fds_to_rx (self);
    }

  deliver (self);
  return TRUE;
}

/* Sends @data from *@offset on, as much as the socket takes now, and
 * @fds with the first byte that gets through (*@fds_sent says they went:
 * the caller closes its copies then). FALSE if the socket failed. */
static gboolean
send_bytes (VhostUserConnection  *self,
            const guint8         *data,
            gsize                 len,
            gsize                *offset,
            const int            *fds,
            int                   n_fds,
            gboolean             *fds_sent,
            GError              **error)
{
  while (*offset < len)
    {
      union {
        struct cmsghdr align;
        char buf[CMSG_SPACE (sizeof (int) * VHOST_USER_MAX_FDS)];
      } control;
      struct msghdr mh = { 0 };
      struct iovec iov;
      gssize n;

      iov.iov_base = (guint8 *) data + *offset;
      iov.iov_len = len - *offset;
      mh.msg_iov = &iov;
      mh.msg_iovlen = 1;

      if (n_fds > 0 && !*fds_sent)
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

      do
        n = sendmsg (self->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
      while (n < 0 && errno == EINTR);

      if (n < 0)
        {
          int errsv = errno;

          if (errsv == EAGAIN || errsv == EWOULDBLOCK)
            return TRUE;
          g_set_error (error, VHOST_USER_ERROR, vhost_user_error_from_errno (errsv),
                       "Sending on the %s channel failed: %s",
                       vhost_user_channel_get_name (self->channel), g_strerror (errsv));
          return FALSE;
        }

      /* the fds went with the first byte that got through */
      *fds_sent = TRUE;
      *offset += n;
    }
  return TRUE;
}

static gboolean
send_entry (VhostUserConnection *self,
            SendEntry           *entry,
            GError             **error)
{
  const int *fds = NULL;
  int n_fds = 0;
  gboolean fds_sent = FALSE;
  gboolean ok;

  if (entry->fds != NULL)
    fds = g_unix_fd_list_peek_fds (entry->fds, &n_fds);
  ok = send_bytes (self, entry->data, entry->len, &entry->offset, fds, n_fds, &fds_sent, error);
  if (fds_sent)
    g_clear_object (&entry->fds);
  return ok;
}

static void
flush_send_queue (VhostUserConnection *self)
{
  SendEntry *entry;

  while ((entry = g_queue_peek_head (&self->send_queue)) != NULL)
    {
      GError *error = NULL;

      if (!send_entry (self, entry, &error))
        {
          close_with_error (self, error);
          return;
        }
      if (entry->offset < entry->len)
        break;
      send_entry_free (g_queue_pop_head (&self->send_queue));
    }
  update_condition (self);
}

/* While it is attached the context polls without sleeping: the next
 * message of a burst is seen by the connection's own source, without a
 * wake-up. It goes once the window passed with no message. */
typedef struct {
  GSource              source;
  VhostUserConnection *connection;  /* not a ref: the connection destroys us first */
} PollSource;

static gboolean
poll_source_prepare (GSource *source,
                     gint    *timeout)
{
  VhostUserConnection *self = ((PollSource *) source)->connection;

  *timeout = 0;
  return self == NULL ||
         g_get_monotonic_time () - self->poll_last >= (gint64) self->poll_window_us;
}

static gboolean
poll_source_dispatch (GSource     *source,
                      GSourceFunc  callback,
                      gpointer     user_data)
{
  VhostUserConnection *self = ((PollSource *) source)->connection;

  if (self != NULL && self->poll_source == source)
    g_clear_pointer (&self->poll_source, g_source_unref);
  return G_SOURCE_REMOVE;
}

static GSourceFuncs poll_source_funcs = {
  poll_source_prepare, NULL, poll_source_dispatch, NULL, NULL, NULL,
};

static void
stop_polling (VhostUserConnection *self)
{
  if (self->poll_source != NULL)
    {
      ((PollSource *) self->poll_source)->connection = NULL;
      g_source_destroy (self->poll_source);
      g_clear_pointer (&self->poll_source, g_source_unref);
    }
}

static void
keep_polling (VhostUserConnection *self)
{
  self->poll_last = g_get_monotonic_time ();
  if (self->poll_source != NULL || self->source == NULL || self->closed)
    return;
  self->poll_source = g_source_new (&poll_source_funcs, sizeof (PollSource));
  g_source_set_static_name (self->poll_source, "VhostUserConnection poll");
  /* below everything: what else is ready runs first */
  g_source_set_priority (self->poll_source, G_PRIORITY_LOW);
  ((PollSource *) self->poll_source)->connection = self;
  g_source_attach (self->poll_source, g_source_get_context (self->source));
}

static void
connection_io (VhostUserConnection *self,
               GIOCondition         condition)
{
  g_autoptr(VhostUserConnection) hold G_GNUC_UNUSED = g_object_ref (self);  /* handlers may drop the last ref */
  GSource *dispatching = self->source;

  /* a handler that pauses and resumes receiving (a request answered at
   * once) leaves the watch as it was: it is set once, at the end */
  self->io_source = dispatching;
  if (condition & G_IO_OUT)
    flush_send_queue (self);

  if (condition & (G_IO_IN | G_IO_HUP | G_IO_ERR))
    {
      if (self->receiving)
        {
          guint i;

          for (i = 0; i < MAX_MESSAGES_PER_DISPATCH && !self->closed && self->receiving &&
                      self->send_queue.length < MAX_QUEUED_SENDS; i++)
            if (!receive_some (self))
              break;
          if (i > 0 && self->poll_window_us > 0 && !self->closed)
            keep_polling (self);
        }
      else if (condition & (G_IO_HUP | G_IO_ERR))
        {
          /* Not reading (a request is still being answered), yet poll keeps
           * reporting the hang-up: nobody is left to read our reply. */
          close_with_error (self, g_error_new (VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_BROKEN,
                                               "The peer closed the %s channel",
                                               vhost_user_channel_get_name (self->channel)));
        }
    }
  if (self->io_source == dispatching)
    self->io_source = NULL;
  update_condition (self);
}

static gboolean
connection_source_dispatch (GSource     *source,
                            GSourceFunc  callback,
                            gpointer     user_data)
{
  ConnectionSource *cs = (ConnectionSource *) source;
  GIOCondition condition;

  /* The source may recurse, so that GLib does not take its fd out of the
   * poll set and put it back around every dispatch (each a wake-up of the
   * context: an eventfd write and one more poll per message). An
   * iteration nested in a handler gets what GLib's blocking would give:
   * the fd unwatched until the outer dispatch is over. */
  if (cs->dispatching)
    {
      if (cs->tag != NULL)
        {
          g_source_remove_unix_fd (source, cs->tag);
          cs->tag = NULL;
        }
      return G_SOURCE_CONTINUE;
    }
  if (cs->tag == NULL)
    return G_SOURCE_CONTINUE;
  condition = g_source_query_unix_fd (source, cs->tag);
  if (cs->connection != NULL && rx_buffered_ready (cs->connection))
    condition |= G_IO_IN;
  if (cs->connection != NULL && condition != 0)
    {
      cs->dispatching = TRUE;
      connection_io (cs->connection, condition);
      cs->dispatching = FALSE;
    }
  if (cs->tag == NULL && !g_source_is_destroyed (source))
    cs->tag = g_source_add_unix_fd (source, cs->fd, cs->condition);
  return G_SOURCE_CONTINUE;
}

/* Messages already read are not on the socket for poll to see: the
 * source is ready while they can be taken. A resume comes in this
 * context's thread (completions run there), so the next iteration sees it. */
static gboolean
connection_source_prepare (GSource *source,
                           gint    *timeout)
{
  ConnectionSource *cs = (ConnectionSource *) source;

  *timeout = -1;
  return cs->connection != NULL && !cs->dispatching && cs->tag != NULL &&
         rx_buffered_ready (cs->connection);
}

static GSourceFuncs connection_source_funcs = {
  connection_source_prepare, NULL, connection_source_dispatch, NULL, NULL, NULL,
};

static void
vhost_user_connection_dispose (GObject *object)
{
  VhostUserConnection *self = VHOST_USER_CONNECTION (object);

  /* a connection dropped without close() gives no closed notification:
   * its owner is the one dropping it */
  self->closed_func = NULL;
  self->message_func = NULL;
  vhost_user_connection_close (self, NULL);

  G_OBJECT_CLASS (vhost_user_connection_parent_class)->dispose (object);
}

static void
vhost_user_connection_finalize (GObject *object)
{
  VhostUserConnection *self = VHOST_USER_CONNECTION (object);

  g_clear_object (&self->socket);
  g_free (self->rx_buf);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_pointer (&self->dispatch_context, g_main_context_unref);

  G_OBJECT_CLASS (vhost_user_connection_parent_class)->finalize (object);
}

static void
vhost_user_connection_class_init (VhostUserConnectionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vhost_user_connection_dispose;
  object_class->finalize = vhost_user_connection_finalize;
}

static void
vhost_user_connection_init (VhostUserConnection *self)
{
  static const VhostUserMessage empty = VHOST_USER_MESSAGE_INIT;

  self->rx = empty;
  self->receiving = TRUE;
  g_queue_init (&self->send_queue);
}

static VhostUserConnection *
connection_new (GSocket          *socket,
                int               fd,
                VhostUserChannel  channel,
                gboolean          receives_replies,
                GMainContext     *context)
{
  VhostUserConnection *self = g_object_new (VHOST_USER_TYPE_CONNECTION, NULL);

  self->socket = socket;
  self->fd = fd;
  self->channel = channel;
  self->receives_replies = receives_replies;
  self->context = context != NULL ? g_main_context_ref (context)
                                  : g_main_context_ref_thread_default ();
  return self;
}

/* @receives_replies: TRUE on the side that sends requests (the front-end
 * on the main socket, the back-end on the back-end channel). @context:
 * where the socket is watched and the handlers run; NULL for the
 * thread-default context of the caller. */
VhostUserConnection *
vhost_user_connection_new (GSocket          *socket,
                           VhostUserChannel  channel,
                           gboolean          receives_replies,
                           GMainContext     *context)
{
  g_return_val_if_fail (G_IS_SOCKET (socket), NULL);

  g_socket_set_blocking (socket, FALSE);
  return connection_new (g_object_ref (socket), g_socket_get_fd (socket), channel, receives_replies, context);
}

/* The same for a non-blocking socket @fd, which the connection owns from
 * now on: no GSocket, whose making costs six syscalls (a server accepts
 * this way). */
VhostUserConnection *
vhost_user_connection_new_for_fd (int               fd,
                                  VhostUserChannel  channel,
                                  gboolean          receives_replies,
                                  GMainContext     *context)
{
  g_return_val_if_fail (fd >= 0, NULL);

  return connection_new (NULL, fd, channel, receives_replies, context);
}

void
vhost_user_connection_set_handlers (VhostUserConnection            *self,
                                    VhostUserConnectionMessageFunc  message_func,
                                    VhostUserConnectionClosedFunc   closed_func,
                                    gpointer                        user_data)
{
  g_return_if_fail (VHOST_USER_IS_CONNECTION (self));

  self->message_func = message_func;
  self->closed_func = closed_func;
  self->user_data = user_data;
}

static void
attach_source (VhostUserConnection *self)
{
  ConnectionSource *cs;

  self->source = g_source_new (&connection_source_funcs, sizeof (ConnectionSource));
  g_source_set_static_name (self->source, "VhostUserConnection");
  cs = (ConnectionSource *) self->source;
  cs->connection = self;
  cs->condition = G_IO_HUP | G_IO_ERR;
  cs->fd = self->fd;
  cs->tag = g_source_add_unix_fd (self->source, self->fd, cs->condition);
  g_source_set_can_recurse (self->source, TRUE);
  update_condition (self);
  g_source_attach (self->source, self->dispatch_context != NULL ? self->dispatch_context : self->context);
}

static void
detach_source (VhostUserConnection *self)
{
  stop_polling (self);
  if (self->source != NULL)
    {
      ((ConnectionSource *) self->source)->connection = NULL;
      g_source_destroy (self->source);
      g_clear_pointer (&self->source, g_source_unref);
    }
}

/* Attaches the watch: handlers run from the next iteration of the
 * connection's context on. */
void
vhost_user_connection_start (VhostUserConnection *self)
{
  g_return_if_fail (VHOST_USER_IS_CONNECTION (self));

  if (self->started || self->closed)
    return;
  self->started = TRUE;
  attach_source (self);
}

/* Watches the socket from @context for a while (NULL: the connection's
 * own context again). A blocking request runs a private context that holds
 * only what its wait needs; a GSource cannot move between contexts, so the
 * watch is made again there. Call it from the thread that owns both. */
void
vhost_user_connection_set_dispatch_context (VhostUserConnection *self,
                                            GMainContext        *context)
{
  g_return_if_fail (VHOST_USER_IS_CONNECTION (self));

  if (context == self->context)
    context = NULL;
  if (context == self->dispatch_context)
    return;
  g_clear_pointer (&self->dispatch_context, g_main_context_unref);
  if (context != NULL)
    self->dispatch_context = g_main_context_ref (context);
  if (self->source != NULL)
    {
      detach_source (self);
      attach_source (self);
    }
}

/* Queues @msg, taking its fds, and sends as much as the socket takes now.
 * Fails only if the connection is (or just became) unusable. */
gboolean
vhost_user_connection_send (VhostUserConnection  *self,
                            VhostUserMessage     *msg,
                            GError              **error)
{
  SendEntry *entry;
  GError *local_error = NULL;
  const guint8 *data;
  gsize len;

  g_return_val_if_fail (VHOST_USER_IS_CONNECTION (self), FALSE);
  g_return_val_if_fail (msg->n_fds <= VHOST_USER_MAX_FDS, FALSE);

  if (self->closed)
    {
      vhost_user_message_close_fds (msg);
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_BROKEN,
                   "The %s channel is closed", vhost_user_channel_get_name (self->channel));
      return FALSE;
    }

  if (VHOST_USER_HAS_DEBUG (TRACE))
    trace (self, "send", msg, NULL);

  data = vhost_user_message_get_data (msg, &len);
  if (g_queue_is_empty (&self->send_queue))
    {
      /* straight from @msg: a copy and a queue entry only for what the
       * socket does not take now (nearly never) */
      gboolean fds_sent = FALSE;
      gsize offset = 0;

      if (!send_bytes (self, data, len, &offset, msg->fds, msg->n_fds, &fds_sent, &local_error))
        {
          g_autoptr(VhostUserConnection) hold G_GNUC_UNUSED = g_object_ref (self);

          vhost_user_message_close_fds (msg);
          g_propagate_error (error, g_error_copy (local_error));
          close_with_error (self, local_error);
          return FALSE;
        }
      if (fds_sent)
        vhost_user_message_close_fds (msg);
      if (offset == len)
        return TRUE;
      data += offset;
      len -= offset;
    }

  entry = g_new0 (SendEntry, 1);
  entry->data = g_memdup2 (data, len);
  entry->len = len;
  if (msg->n_fds > 0)
    {
      /* takes ownership of the fds */
      entry->fds = g_unix_fd_list_new_from_array (msg->fds, msg->n_fds);
      for (guint i = 0; i < msg->n_fds; i++)
        msg->fds[i] = -1;
      msg->n_fds = 0;
    }
  g_queue_push_tail (&self->send_queue, entry);
  update_condition (self);
  return TRUE;
}

/* While not receiving, requests stay in the socket: a request answered
 * later holds back the next one, as the protocol's ordering needs. */
void
vhost_user_connection_set_receiving (VhostUserConnection *self,
                                     gboolean             receiving)
{
  g_return_if_fail (VHOST_USER_IS_CONNECTION (self));

  receiving = !!receiving;
  if (self->receiving == (guint) receiving)
    return;
  self->receiving = receiving;
  update_condition (self);
}

/* After a message, the context keeps looking for the next one for
 * @window_us without sleeping (0: it sleeps at once), so that a burst of
 * requests costs no wake-up each; at most @window_us of CPU per burst. */
void
vhost_user_connection_set_poll_window (VhostUserConnection *self,
                                       guint                window_us)
{
  g_return_if_fail (VHOST_USER_IS_CONNECTION (self));

  self->poll_window_us = window_us;
  if (window_us == 0)
    stop_polling (self);
}

/* What was negotiated changes how payloads are laid out (XEN_MMAP). */
void
vhost_user_connection_set_protocol_features (VhostUserConnection *self,
                                             guint64              protocol_features)
{
  g_return_if_fail (VHOST_USER_IS_CONNECTION (self));

  self->protocol_features = protocol_features;
}

/* Stops watching, closes the socket, closes every fd still held (the
 * message half received, the messages never sent) and tells the owner
 * once. Safe to call from a handler and more than once. */
void
vhost_user_connection_close (VhostUserConnection *self,
                             const GError        *reason)
{
  VhostUserConnectionClosedFunc closed_func;
  g_autoptr(VhostUserConnection) hold = NULL;

  g_return_if_fail (VHOST_USER_IS_CONNECTION (self));

  if (self->closed)
    return;
  self->closed = TRUE;
  hold = g_object_ref (self);

  detach_source (self);

  rx_reset (self);
  rx_buffer_clear (self);
  g_queue_clear_full (&self->send_queue, (GDestroyNotify) send_entry_free);
  if (self->socket != NULL)
    g_socket_close (self->socket, NULL);
  else if (self->fd >= 0)
    vhost_user_peer_fd_close (g_steal_fd (&self->fd));

  if (reason != NULL && VHOST_USER_HAS_DEBUG (TRACE))
    VHOST_USER_NOTE (TRACE, "closed %s channel: %s",
                     vhost_user_channel_get_name (self->channel), reason->message);

  closed_func = self->closed_func;
  self->closed_func = NULL;
  self->message_func = NULL;
  if (closed_func != NULL)
    closed_func (self, reason, self->user_data);
}

gboolean
vhost_user_connection_is_closed (VhostUserConnection *self)
{
  g_return_val_if_fail (VHOST_USER_IS_CONNECTION (self), TRUE);

  return self->closed;
}

gsize
vhost_user_connection_get_send_queue_length (VhostUserConnection *self)
{
  g_return_val_if_fail (VHOST_USER_IS_CONNECTION (self), 0);

  return self->send_queue.length;
}

GSocket *
vhost_user_connection_get_socket (VhostUserConnection *self)
{
  g_return_val_if_fail (VHOST_USER_IS_CONNECTION (self), NULL);

  return self->socket;
}

GMainContext *
vhost_user_connection_get_context (VhostUserConnection *self)
{
  g_return_val_if_fail (VHOST_USER_IS_CONNECTION (self), NULL);

  return self->context;
}

VhostUserChannel
vhost_user_connection_get_channel (VhostUserConnection *self)
{
  g_return_val_if_fail (VHOST_USER_IS_CONNECTION (self), VHOST_USER_CHANNEL_MAIN);

  return self->channel;
}

/* The inode of the socket at the other end of @fd (sock_diag's
 * UNIX_DIAG_PEER), or 0 where the kernel does not say. */
static guint64
peer_inode (int fd)
{
  struct {
    struct nlmsghdr     nlh;
    struct unix_diag_req req;
  } request = { 0 };
  union {
    struct nlmsghdr nlh;
    guint8          buf[4096];
  } reply;
  struct stat st;
  guint64 peer = 0;
  ssize_t n;
  int nl;

  if (fstat (fd, &st) != 0)
    return 0;
  nl = socket (AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (nl < 0)
    return 0;
  request.nlh.nlmsg_len = sizeof request;
  request.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  request.nlh.nlmsg_flags = NLM_F_REQUEST;
  request.req.sdiag_family = AF_UNIX;
  request.req.udiag_states = G_MAXUINT32;
  request.req.udiag_ino = st.st_ino;
  request.req.udiag_show = UDIAG_SHOW_PEER;
  request.req.udiag_cookie[0] = request.req.udiag_cookie[1] = G_MAXUINT32;   /* no cookie */
  if (send (nl, &request, sizeof request, 0) == sizeof request &&
      (n = TEMP_FAILURE_RETRY (recv (nl, &reply, sizeof reply, 0))) > 0 &&
      NLMSG_OK (&reply.nlh, (guint) n) && reply.nlh.nlmsg_type == SOCK_DIAG_BY_FAMILY &&
      reply.nlh.nlmsg_len >= NLMSG_LENGTH (sizeof (struct unix_diag_msg)))
    {
      struct unix_diag_msg *msg = NLMSG_DATA (&reply.nlh);
      struct rtattr *attr = (struct rtattr *) (msg + 1);
      int len = reply.nlh.nlmsg_len - NLMSG_LENGTH (sizeof *msg);

      for (; RTA_OK (attr, len); attr = RTA_NEXT (attr, len))
        if (attr->rta_type == UNIX_DIAG_PEER && RTA_PAYLOAD (attr) >= sizeof (guint32))
          peer = *(guint32 *) RTA_DATA (attr);
    }
  close (nl);
  return peer;
}

/* Whether a socket of inode @ino is open in this process; TRUE where
 * /proc cannot say, as SO_PEERCRED alone would have. */
static gboolean
socket_open_here (guint64 ino)
{
  g_autofree char *wanted = g_strdup_printf ("socket:[%" G_GUINT64_FORMAT "]", ino);
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  const char *name;

  if (dir == NULL)
    return TRUE;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename ("/proc/self/fd", name, NULL);
      g_autofree char *target = g_file_read_link (path, NULL);

      if (g_strcmp0 (target, wanted) == 0)
        return TRUE;
    }
  return FALSE;
}

/* Whether the peer is this very process. A blocking wait does not isolate
 * itself from such a peer: it may be served by the very context the wait
 * would take away (tests, simulations, a demo with both ends in one loop),
 * and isolating would deadlock it. A VMM's device, or a device's VMM, is
 * another process.
 *
 * SO_PEERCRED names the process that connected, listened or made the
 * pair, which may have handed its end to another process since (a VMM
 * spawning its device on a socket pair): where the kernel names the peer
 * socket, it must also be open here. */
gboolean
vhost_user_connection_peer_is_this_process (VhostUserConnection *self)
{
  struct ucred cred;
  socklen_t len = sizeof cred;
  guint64 peer;
  int fd;

  g_return_val_if_fail (VHOST_USER_IS_CONNECTION (self), FALSE);

  if (self->closed)
    return FALSE;
  fd = self->fd;
  if (getsockopt (fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.pid != getpid ())
    return FALSE;
  peer = peer_inode (fd);
  return peer == 0 || socket_open_here (peer);
}
