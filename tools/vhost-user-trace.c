/* vhost-user-trace: a vhost-user session relayed, and shown decoded
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   vhost-user-trace --listen FRONT_SOCKET --connect BACK_SOCKET
 *                    [--json] [--output FILE] [--hexdump] [--once]
 *
 * The front-end (the VMM) connects to FRONT_SOCKET instead of the
 * back-end; for each front-end the proxy connects to BACK_SOCKET and
 * passes every message on, byte for byte and with the fds that came with
 * it, in both directions. SET_BACKEND_REQ_FD is the one message it
 * changes: the socket it carries is kept by the proxy and the back-end
 * gets one end of a socket pair of the proxy's instead, so that the
 * back-end channel is relayed and shown too.
 *
 * Each message is decoded by the library's own codec (the one
 * VHOST_USER_DEBUG=trace prints with) and checked against the request
 * table, but relayed whatever the check says: a message the proxy finds
 * invalid is exactly what the other side must be shown to reject.
 *
 * Nothing blocks: what a peer does not take at once waits in that peer's
 * queue, and while the queue is over a small cap the proxy stops reading
 * from the side that fills it. Both peers are untrusted, and one that
 * stops reading must hold up only the direction it would hold up
 * without the proxy, not the other one or the signals, and must not
 * make the proxy keep an unbounded amount for it. When a side hangs up,
 * on the main socket or on the back-end channel, what it sent before
 * still reaches the other side, as it would without the proxy, unless
 * that side takes none of it for --drain-timeout.
 *
 * The trace's own output is no different: a reader that stops reading
 * it (a pager not scrolling) has its lines wait in the proxy, and while
 * more than a cap of them wait the proxy reads from neither side. No
 * line is dropped then, and the proxy stays bounded and still answers
 * signals.
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib-unix.h>
#include <glib/gstdio.h>

#include "vhost-user-error.h"
#include "vhost-user-message-private.h"
#include "vhost-user-socket-private.h"

/* More than any message may carry, so that a peer sending too many is
 * relayed as it is and reported, not cut short. */
#define RX_FDS 64
/* What a peer that is slow to read may have waiting for it before the
 * proxy stops reading from the other side: a few hundred full messages,
 * far more than a session has in flight. Fullness is checked after each
 * message is queued, so a queue may go over by one message: up to
 * QUEUE_CAP_FDS + RX_FDS = 192 fds, and while a queue is under the cap
 * the message being read toward it holds at most RX_FDS more. Four
 * queues thus hold at most 768 fds, within the usual limit of 1024 with
 * the proxy's own sockets. */
#define QUEUE_CAP_BYTES (1024 * 1024)
#define QUEUE_CAP_FDS 128
/* Requests awaiting a reply that the proxy remembers, per channel: a
 * vhost-user peer waits for each reply before its next such request, so
 * more are a peer that never answers, and each reply is matched by a scan
 * of them. */
#define PENDING_CAP 128
/* What the trace's output may have waiting before the proxy stops
 * reading from the peers: a hundred lines of the longest kind (a
 * hexdump of a full message). */
#define OUTPUT_CAP_BYTES (1024 * 1024)

static char *listen_path;
static char *connect_path;
static gboolean json;
static char *output_path;
static gboolean hexdump;
static gboolean once;
static gint connect_timeout_ms = 10000;
static gint drain_timeout_ms = 30000;

static GOptionEntry entries[] = {
  { "listen", 'l', 0, G_OPTION_ARG_FILENAME, &listen_path,
    "The socket the front-end connects to (created)", "FRONT_SOCKET" },
  { "connect", 'c', 0, G_OPTION_ARG_FILENAME, &connect_path,
    "The back-end's socket, connected to for each front-end", "BACK_SOCKET" },
  { "json", 'j', 0, G_OPTION_ARG_NONE, &json, "One JSON object per line", NULL },
  { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output_path, "Write the trace to FILE (default: standard output)", "FILE" },
  { "hexdump", 'x', 0, G_OPTION_ARG_NONE, &hexdump, "Show each message's bytes too", NULL },
  { "once", '1', 0, G_OPTION_ARG_NONE, &once, "Exit when the first session ends", NULL },
  { "connect-timeout", 0, 0, G_OPTION_ARG_INT, &connect_timeout_ms,
    "How long to wait for the back-end's socket for each front-end (default 10000)", "MS" },
  { "drain-timeout", 0, 0, G_OPTION_ARG_INT, &drain_timeout_ms,
    "When one side hangs up, how long the other may take nothing of what is left for it (default 30000)", "MS" },
  { NULL }
};

typedef enum {
  FROM_FRONTEND,
  FROM_BACKEND,
} Direction;

static const char * const direction_names[] = { "front-end->back-end", "back-end->front-end" };
static const char * const direction_short[] = { "F->B", "B->F" };
static const char * const channel_names[] = { "main", "back-end" };

typedef struct _Session Session;

/* A message its peer has not taken all of yet. */
typedef struct {
  gsize  len;
  gsize  sent;
  guint  n_fds;   /* they go with the first byte, so 0 once any went */
  int    fds[RX_FDS];
  guint8 data[];
} Outgoing;

/* One of the proxy's four sockets in a session: toward the front-end or
 * the back-end, on the main channel or the back-end channel. */
typedef struct {
  Session          *session;
  const char       *name;
  VhostUserChannel  channel;
  Direction         reads;        /* who writes what this socket reads */
  gboolean          receives_replies;
  GSocket          *socket;       /* NULL while closed */
  GSource          *source;       /* NULL too while the peer's queue is full */
  /* while @source is paused: a hang-up still ends the session, when no
   * read would find it and no send might fail */
  GSource          *hup_source;
  gboolean          eof;          /* read to the end: never read again */
  guint             peer;         /* index of the endpoint messages go on to */

  /* messages to send on @socket, oldest first; @queued counts their
   * allocations, so that many small ones are not free */
  GQueue            queue;
  gsize             queued;
  guint             queued_fds;
  GSource          *out_source;   /* while @queue is not empty */

  /* the message being read; its own fds stay -1, the real ones are
   * below, however many came */
  VhostUserMessage  rx;
  gsize             rx_have;
  int               fds[RX_FDS];
  guint             n_fds;
  gboolean          fds_truncated;
} Endpoint;

enum {
  MAIN_FRONT,   /* the front-end's connection to us */
  MAIN_BACK,    /* ours to the back-end */
  CHAN_FRONT,   /* the socket the front-end passed in SET_BACKEND_REQ_FD */
  CHAN_BACK,    /* our socket pair's end; the back-end got the other */
  N_ENDPOINTS
};

typedef struct {
  guint32 request;
  gint64  received;   /* monotonic */
} Pending;

/* A channel one side of which hung up, while what that side sent is
 * still on its way to the other, which may be slow to read. */
typedef struct {
  Session          *session;
  VhostUserChannel  channel;
  Endpoint         *ending;   /* NULL while both sides are there */
  char             *reason;   /* why the channel (the session, for the main one) will end */
  GSource          *timeout;  /* no progress for drain_timeout_ms */
} Drain;

struct _Session {
  guint       number;
  gint64      started;
  Endpoint    endpoints[N_ENDPOINTS];
  guint64     protocol_features;
  /* requests awaiting a reply, oldest first, per channel */
  GQueue      pending[2];
  guint       pending_dropped;   /* the oldest, when over PENDING_CAP */

  guint       messages;
  guint64     bytes[2];
  guint       nacks;
  guint       invalid;
  gint64      longest_reply;
  const char *longest_name;
  VhostUserChannel longest_channel;
  GHashTable *requests[2];   /* name -> count, per channel */

  Drain       drains[2];   /* per channel */
};

static GMainLoop *loop;
static GSocket *listener;
static GSource *listen_source;
static Session *session;
static guint n_sessions;
/* a front-end accepted while the proxy tries to reach the back-end for
 * it, until connect_deadline (monotonic) */
static GSocket *connecting_front;
static gint64 connect_deadline;
static GSource *connect_source;
/* the listener waits for room in the trace's output */
static gboolean listen_deferred;
static int exit_status = EXIT_SUCCESS;

static void session_end (const char *reason);
static void session_resume (Session *s);
static void close_channel (Session    *s,
                           const char *why);
static void drain_restart (Drain *d);
static gboolean drain_waits_for_output (Drain *d);
static void start_listening (void);

/* --- output --- */

static void
append_json_string (GString    *s,
                    const char *text)
{
  g_string_append_c (s, '"');
  for (const guchar *p = (const guchar *) text; *p != '\0'; p++)
    {
      if (*p == '"' || *p == '\\')
        g_string_append_printf (s, "\\%c", *p);
      else if (*p < 0x20)
        g_string_append_printf (s, "\\u%04x", *p);
      else
        g_string_append_c (s, *p);
    }
  g_string_append_c (s, '"');
}

/* JSON gets UTC in ISO 8601, people get the local time of day. */
static void
append_time (GString *s,
             gint64   real_us)
{
  g_autoptr(GDateTime) dt = json ? g_date_time_new_from_unix_utc (real_us / G_USEC_PER_SEC)
                                 : g_date_time_new_from_unix_local (real_us / G_USEC_PER_SEC);
  g_autofree char *text = g_date_time_format (dt, json ? "%Y-%m-%dT%H:%M:%S" : "%H:%M:%S");

  if (json)
    g_string_append (s, "\"time\": \"");
  g_string_append_printf (s, "%s.%06d", text, (int) (real_us % G_USEC_PER_SEC));
  if (json)
    g_string_append (s, "Z\"");
}

/* Where the trace goes, and the lines it has not taken yet: from
 * @out_written on in @out_pending. */
static int out_fd = -1;
static gboolean out_owned;       /* ours to close */
static gboolean out_is_socket;
static gboolean out_failed;      /* said so; the trace is dropped */
static GString *out_pending;
static gsize out_written;
static GSource *out_source;      /* while a line waits */
static gboolean out_retry;       /* @out_source is a pause, not a G_IO_OUT watch */
static gboolean stdout_closed;   /* at start-up; /dev/null holds its place */

/* With --once, the session has ended and the proxy exits once the
 * output has taken what is left; and the bound on that. */
static gboolean finishing;
static gboolean interrupted;
static GSource *finish_source;

static gboolean
output_is_full (void)
{
  return out_pending->len - out_written > OUTPUT_CAP_BYTES;
}

/* The proxy's output, made to take what it can at once and no more,
 * without changing anything that it shares with other processes. */
static gboolean
output_open (void)
{
  struct stat st;
  int fd;

  out_pending = g_string_new (NULL);
  out_fd = STDOUT_FILENO;
  if (output_path == NULL && stdout_closed)
    {
      g_printerr ("vhost-user-trace: the standard output is closed: give --output FILE\n");
      return FALSE;
    }
  if (output_path != NULL)
    {
      out_fd = g_open (output_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
      if (out_fd < 0)
        {
          g_printerr ("vhost-user-trace: %s: %s\n", output_path, g_strerror (errno));
          return FALSE;
        }
      out_owned = TRUE;
    }

  /* a write to a file returns when it is done, whatever O_NONBLOCK says */
  if (fstat (out_fd, &st) < 0 || S_ISREG (st.st_mode) || S_ISBLK (st.st_mode))
    return TRUE;
  /* a socket: non-blocking for each send () alone, as its flags may be
   * shared too (journald's socket, with a whole service) */
  if (S_ISSOCK (st.st_mode))
    {
      out_is_socket = TRUE;
      return TRUE;
    }
  /* a pipe or a terminal of the proxy's own opening */
  if (out_owned)
    {
      if (g_unix_set_fd_nonblocking (out_fd, TRUE, NULL))
        return TRUE;
    }
  else
    {
      /* An inherited pipe or terminal: O_NONBLOCK set on it would be seen
       * by every process that shares it (the shell reading the same
       * terminal gets EAGAIN), and stay set if the proxy is killed.
       * Opened again, as process substitution's /dev/fd names are, it is
       * a file description of the proxy's own. */
      fd = g_open ("/proc/self/fd/1", O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0);
      if (fd >= 0)
        {
          out_fd = fd;
          out_owned = TRUE;
          return TRUE;
        }
    }
  g_printerr ("vhost-user-trace: the output cannot be made non-blocking (%s): "
              "while it takes nothing, the proxy waits\n", g_strerror (errno));
  return TRUE;
}

static gboolean output_writable (gint         fd,
                                 GIOCondition condition,
                                 gpointer     user_data);
static gboolean output_retry (gpointer user_data);

/* How long the output rests after a write () that took nothing */
#define OUTPUT_RETRY_MS 100

static gboolean
finish_expired (gpointer user_data)
{
  g_main_loop_quit (loop);
  g_clear_pointer (&finish_source, g_source_unref);
  return G_SOURCE_REMOVE;
}

/* (Re)starts the bound on how long the output may take nothing when the
 * proxy is to exit. */
static void
finish_restart (void)
{
  if (finish_source != NULL)
    {
      g_source_destroy (finish_source);
      g_source_unref (finish_source);
    }
  finish_source = g_timeout_source_new (drain_timeout_ms);
  g_source_set_callback (finish_source, finish_expired, NULL, NULL);
  g_source_set_static_name (finish_source, "vhost-user-trace exit");
  g_source_attach (finish_source, NULL);
}

/* Writes what the output takes now, and waits for it to take more if
 * anything is left. */
static void
output_write (void)
{
  gboolean was_full = output_is_full ();
  gboolean progress = FALSE;
  gboolean took_nothing = FALSE;

  while (out_written < out_pending->len)
    {
      const char *data = out_pending->str + out_written;
      gsize len = out_pending->len - out_written;
      gssize n;

      do
        n = out_is_socket ? send (out_fd, data, len, MSG_DONTWAIT) : write (out_fd, data, len);
      while (n < 0 && errno == EINTR);

      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        break;
      if (n < 0)
        {
          g_printerr ("vhost-user-trace: writing the trace: %s; relaying on without it\n", g_strerror (errno));
          out_failed = TRUE;
          out_written = out_pending->len;
          break;
        }
      /* Nothing taken, and no error to say why (a file system's or a
       * driver's answer): writing again at once could loop for good,
       * and so could waiting for G_IO_OUT, which a regular file always
       * reports. No progress, as with EAGAIN, so that the bounds of an
       * output that takes nothing hold, and another try after a rest;
       * taking it for an error would drop the trace over what may pass. */
      if (n == 0)
        {
          took_nothing = TRUE;
          break;
        }
      out_written += n;
      progress = TRUE;
    }

  /* what is written goes once it is the larger part: moving the rest
   * then costs less than writing it did */
  if (out_written == out_pending->len)
    {
      g_string_truncate (out_pending, 0);
      out_written = 0;
    }
  else if (out_written >= out_pending->len / 2)
    {
      g_string_erase (out_pending, 0, out_written);
      out_written = 0;
    }

  if (out_source != NULL && (out_pending->len == 0 || out_retry != took_nothing))
    {
      g_source_destroy (out_source);
      g_clear_pointer (&out_source, g_source_unref);
    }
  if (out_pending->len > 0 && out_source == NULL)
    {
      out_retry = took_nothing;
      if (out_retry)
        {
          out_source = g_timeout_source_new (OUTPUT_RETRY_MS);
          g_source_set_callback (out_source, output_retry, NULL, NULL);
        }
      else
        {
          out_source = g_unix_fd_source_new (out_fd, G_IO_OUT);
          g_source_set_callback (out_source, G_SOURCE_FUNC (output_writable), NULL, NULL);
        }
      g_source_set_static_name (out_source, "vhost-user-trace output");
      g_source_attach (out_source, NULL);
    }

  if (finishing)
    {
      if (out_pending->len == 0)
        g_main_loop_quit (loop);
      else if (progress)
        finish_restart ();
    }
  if (session != NULL && was_full)
    {
      /* the proxy read from neither side: where that is what held up a
       * side left to take what a hung-up one sent, the output's progress
       * is the drain's */
      for (guint c = 0; c < 2; c++)
        if (progress && session->drains[c].ending != NULL && drain_waits_for_output (&session->drains[c]))
          drain_restart (&session->drains[c]);
      if (!output_is_full ())
        session_resume (session);
    }
  if (listen_deferred && !output_is_full ())
    {
      listen_deferred = FALSE;
      start_listening ();
    }
}

static gboolean
output_writable (gint         fd,
                 GIOCondition condition,
                 gpointer     user_data)
{
  /* a source that the write destroys is not dispatched again, whatever
   * this returns */
  output_write ();
  return G_SOURCE_CONTINUE;
}

static gboolean
output_retry (gpointer user_data)
{
  output_write ();
  return G_SOURCE_CONTINUE;
}

/* The proxy is to exit: it does once the output has taken what is left,
 * or has taken none of it for drain_timeout_ms; at once if interrupted,
 * with what the output takes now written. */
static void
finish (void)
{
  finishing = TRUE;
  if (interrupted || out_pending->len == 0)
    g_main_loop_quit (loop);
  else
    finish_restart ();
}

static void
emit (GString *line)
{
  if (out_failed)
    return;
  g_string_append_len (out_pending, line->str, line->len);
  g_string_append_c (out_pending, '\n');
  output_write ();
}

/* A line that is not a message: a session starting or ending, a socket
 * that failed. */
static void
note (guint       number,
      const char *event,
      const char *detail)
{
  g_autoptr(GString) line = g_string_new (NULL);

  if (json)
    {
      g_string_append_c (line, '{');
      append_time (line, g_get_real_time ());
      g_string_append_printf (line, ", \"session\": %u, \"event\": ", number);
      append_json_string (line, event);
      if (detail != NULL)
        {
          g_string_append (line, ", \"detail\": ");
          append_json_string (line, detail);
        }
      g_string_append_c (line, '}');
    }
  else
    {
      g_string_append (line, "# ");
      append_time (line, g_get_real_time ());
      g_string_append_printf (line, " #%u %s%s%s", number, event, detail != NULL ? ": " : "",
                              detail != NULL ? detail : "");
    }
  emit (line);
}

static void
append_hex (GString      *line,
            const guint8 *data,
            gsize         len)
{
  if (json)
    {
      g_string_append (line, ", \"hex\": \"");
      for (gsize i = 0; i < len; i++)
        g_string_append_printf (line, "%02x", data[i]);
      g_string_append_c (line, '"');
      return;
    }
  for (gsize row = 0; row < len; row += 16)
    {
      g_string_append_printf (line, "\n    %04" G_GSIZE_MODIFIER "x ", row);
      for (gsize i = row; i < row + 16; i++)
        {
          if (i % 8 == 0)
            g_string_append_c (line, ' ');
          if (i < len)
            g_string_append_printf (line, "%02x ", data[i]);
          else
            g_string_append (line, "   ");
        }
      g_string_append (line, " |");
      for (gsize i = row; i < row + 16 && i < len; i++)
        g_string_append_c (line, g_ascii_isprint (data[i]) ? data[i] : '.');
      g_string_append_c (line, '|');
    }
}

static void
trace_message (Endpoint     *ep,
               guint         n_fds,
               gint64        real_us,
               gint64        latency_us,
               gboolean      nack,
               const GError *invalid)
{
  const VhostUserMessage *msg = &ep->rx;
  const VhostUserRequestInfo *info = vhost_user_request_info_lookup (ep->channel, msg->header.request);
  g_autoptr(GString) line = g_string_new (NULL);
  g_autoptr(GString) fields = g_string_new (NULL);

  vhost_user_message_describe_fields (msg, ep->channel, fields);

  if (json)
    {
      gsize len;
      const guint8 *data = vhost_user_message_get_data (msg, &len);

      g_string_append_c (line, '{');
      append_time (line, real_us);
      g_string_append_printf (line, ", \"session\": %u, \"direction\": \"%s\", \"channel\": \"%s\", \"request\": ",
                              ep->session->number, direction_names[ep->reads], channel_names[ep->channel]);
      if (info != NULL)
        append_json_string (line, info->name);
      else
        g_string_append (line, "null");
      g_string_append_printf (line, ", \"number\": %u, \"reply\": %s, \"flags\": %u, \"need_reply\": %s"
                              ", \"size\": %u, \"fds\": %u, \"fields\": ",
                              msg->header.request, vhost_user_message_is_reply (msg) ? "true" : "false",
                              msg->header.flags, vhost_user_message_needs_reply (msg) ? "true" : "false",
                              msg->header.size, n_fds);
      /* the decoder writes " a=1 b=2": drop the leading space */
      append_json_string (line, fields->len > 0 ? fields->str + 1 : "");
      if (latency_us >= 0)
        g_string_append_printf (line, ", \"latency_us\": %" G_GINT64_FORMAT, latency_us);
      if (nack)
        g_string_append (line, ", \"nack\": true");
      if (invalid != NULL)
        {
          g_string_append (line, ", \"invalid\": ");
          append_json_string (line, invalid->message);
        }
      if (hexdump)
        append_hex (line, data, len);
      g_string_append_c (line, '}');
    }
  else
    {
      append_time (line, real_us);
      g_string_append_printf (line, " #%u %s %-8s ", ep->session->number,
                              direction_short[ep->reads], channel_names[ep->channel]);
      /* the same text VHOST_USER_DEBUG=trace shows, fds counted as relayed */
      ep->rx.n_fds = n_fds;
      vhost_user_message_describe (msg, ep->channel, line);
      ep->rx.n_fds = MIN (n_fds, VHOST_USER_MAX_FDS);
      if (latency_us >= 0)
        g_string_append_printf (line, " [%.3f ms]", latency_us / 1000.0);
      if (nack)
        g_string_append (line, " NACK");
      if (invalid != NULL)
        g_string_append_printf (line, " INVALID: %s", invalid->message);
      if (hexdump)
        {
          gsize len;
          const guint8 *data = vhost_user_message_get_data (msg, &len);

          append_hex (line, data, len);
        }
    }
  emit (line);
}

static int
compare_counts (gconstpointer a,
                gconstpointer b,
                gpointer      user_data)
{
  GHashTable *counts = user_data;
  guint ca = GPOINTER_TO_UINT (g_hash_table_lookup (counts, *(const char * const *) a));
  guint cb = GPOINTER_TO_UINT (g_hash_table_lookup (counts, *(const char * const *) b));

  if (ca != cb)
    return ca > cb ? -1 : 1;
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* requests of one channel, most frequent first */
static void
append_counts (GString    *line,
               GHashTable *counts)
{
  g_autofree gpointer *names = g_hash_table_get_keys_as_array (counts, NULL);
  guint n = g_hash_table_size (counts);

  g_qsort_with_data (names, n, sizeof *names, compare_counts, counts);
  if (json)
    g_string_append_c (line, '{');
  for (guint i = 0; i < n; i++)
    {
      guint count = GPOINTER_TO_UINT (g_hash_table_lookup (counts, names[i]));

      if (json)
        {
          if (i > 0)
            g_string_append (line, ", ");
          append_json_string (line, names[i]);
          g_string_append_printf (line, ": %u", count);
        }
      else
        g_string_append_printf (line, "%s%s %u", i > 0 ? ", " : "", (const char *) names[i], count);
    }
  if (json)
    g_string_append_c (line, '}');
  else if (n == 0)
    g_string_append (line, "none");
}

static void
print_summary (Session    *s,
               const char *reason)
{
  g_autoptr(GString) line = g_string_new (NULL);
  double seconds = (g_get_monotonic_time () - s->started) / (double) G_USEC_PER_SEC;

  if (json)
    {
      g_string_append_c (line, '{');
      append_time (line, g_get_real_time ());
      g_string_append_printf (line, ", \"session\": %u, \"event\": \"summary\", \"reason\": ", s->number);
      append_json_string (line, reason);
      g_string_append_printf (line, ", \"seconds\": %.6f, \"messages\": %u"
                              ", \"bytes\": {\"%s\": %" G_GUINT64_FORMAT ", \"%s\": %" G_GUINT64_FORMAT "}"
                              ", \"nacks\": %u, \"invalid\": %u, \"pending_dropped\": %u, \"longest_reply\": ",
                              seconds, s->messages, direction_names[FROM_FRONTEND], s->bytes[FROM_FRONTEND],
                              direction_names[FROM_BACKEND], s->bytes[FROM_BACKEND], s->nacks, s->invalid,
                              s->pending_dropped);
      if (s->longest_name != NULL)
        {
          g_string_append (line, "{\"request\": ");
          append_json_string (line, s->longest_name);
          g_string_append_printf (line, ", \"channel\": \"%s\", \"latency_us\": %" G_GINT64_FORMAT "}",
                                  channel_names[s->longest_channel], s->longest_reply);
        }
      else
        g_string_append (line, "null");
      g_string_append (line, ", \"requests\": {\"main\": ");
      append_counts (line, s->requests[VHOST_USER_CHANNEL_MAIN]);
      g_string_append (line, ", \"back-end\": ");
      append_counts (line, s->requests[VHOST_USER_CHANNEL_BACKEND]);
      g_string_append (line, "}}");
    }
  else
    {
      g_string_append_printf (line, "# session %u ended (%s) after %.3f s: %u messages, %" G_GUINT64_FORMAT
                              " bytes %s, %" G_GUINT64_FORMAT " bytes %s\n",
                              s->number, reason, seconds, s->messages,
                              s->bytes[FROM_FRONTEND], direction_names[FROM_FRONTEND],
                              s->bytes[FROM_BACKEND], direction_names[FROM_BACKEND]);
      g_string_append_printf (line, "#   NACKs: %u, invalid messages: %u, requests no longer awaited: %u, longest reply: ",
                              s->nacks, s->invalid, s->pending_dropped);
      if (s->longest_name != NULL)
        g_string_append_printf (line, "%.3f ms (%s%s)\n", s->longest_reply / 1000.0, s->longest_name,
                                s->longest_channel == VHOST_USER_CHANNEL_BACKEND ? ", back-end channel" : "");
      else
        g_string_append (line, "none\n");
      g_string_append (line, "#   requests: ");
      append_counts (line, s->requests[VHOST_USER_CHANNEL_MAIN]);
      g_string_append (line, "\n#   back-end channel requests: ");
      append_counts (line, s->requests[VHOST_USER_CHANNEL_BACKEND]);
    }
  emit (line);
}

/* --- relaying --- */

/* One sendmsg(): the bytes that went (0 if the socket takes none now),
 * -1 with @error if the peer is gone. */
static gssize
send_some (GSocket       *socket,
           const guint8  *data,
           gsize          len,
           const int     *fds,
           guint          n_fds,
           GError       **error)
{
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE (sizeof (int) * RX_FDS)];
  } control;
  struct msghdr mh = { 0 };
  struct iovec iov = { (guint8 *) data, len };
  gssize n;

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

  do
    n = sendmsg (g_socket_get_fd (socket), &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);

  if (n < 0)
    {
      int errsv = errno;

      if (errsv == EAGAIN || errsv == EWOULDBLOCK)
        return 0;
      g_set_error (error, VHOST_USER_ERROR, vhost_user_error_from_errno (errsv),
                   "Sending failed: %s", g_strerror (errsv));
      return -1;
    }
  return n;
}

static void
outgoing_free (Outgoing *o)
{
  for (guint i = 0; i < o->n_fds; i++)
    if (o->fds[i] >= 0)
      g_close (o->fds[i], NULL);
  g_free (o);
}

static void
endpoint_drop_queue (Endpoint *ep)
{
  if (ep->out_source != NULL)
    {
      g_source_destroy (ep->out_source);
      g_clear_pointer (&ep->out_source, g_source_unref);
    }
  g_queue_clear_full (&ep->queue, (GDestroyNotify) outgoing_free);
  ep->queued = 0;
  ep->queued_fds = 0;
}

static gboolean
queue_is_full (Endpoint *ep)
{
  return ep->queued > QUEUE_CAP_BYTES || ep->queued_fds > QUEUE_CAP_FDS;
}

static gboolean endpoint_ready (GSocket      *socket,
                                GIOCondition  condition,
                                gpointer      user_data);
static gboolean endpoint_writable (GSocket      *socket,
                                   GIOCondition  condition,
                                   gpointer      user_data);
static gboolean endpoint_hung_up (GSocket      *socket,
                                  GIOCondition  condition,
                                  gpointer      user_data);

static void
endpoint_unwatch_hup (Endpoint *ep)
{
  if (ep->hup_source == NULL)
    return;
  g_source_destroy (ep->hup_source);
  g_clear_pointer (&ep->hup_source, g_source_unref);
}

/* Reads from @ep again, if what it sends has room: in its peer's queue
 * and in the trace's output. */
static void
endpoint_watch (Endpoint *ep)
{
  if (ep->socket == NULL || ep->source != NULL || ep->eof ||
      queue_is_full (&ep->session->endpoints[ep->peer]) || output_is_full ())
    return;
  endpoint_unwatch_hup (ep);
  ep->source = g_socket_create_source (ep->socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_callback (ep->source, G_SOURCE_FUNC (endpoint_ready), ep, NULL);
  g_source_set_static_name (ep->source, ep->name);
  g_source_attach (ep->source, NULL);
}

static void
endpoint_unwatch (Endpoint *ep)
{
  endpoint_unwatch_hup (ep);
  if (ep->source == NULL)
    return;
  g_source_destroy (ep->source);
  g_clear_pointer (&ep->source, g_source_unref);
}

/* Stops reading from @ep until its peer's queue has room, but not
 * watching it: a peer that hangs up meanwhile, while the other one takes
 * nothing, would otherwise hold the session (and every front-end after
 * it) for good. */
static void
endpoint_pause (Endpoint *ep)
{
  endpoint_unwatch (ep);
  ep->hup_source = g_socket_create_source (ep->socket, G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_callback (ep->hup_source, G_SOURCE_FUNC (endpoint_hung_up), ep, NULL);
  g_source_set_static_name (ep->hup_source, ep->name);
  g_source_attach (ep->hup_source, NULL);
}

/* Sends what @ep has queued until its socket takes no more, and waits
 * for it to take more if anything is left. FALSE with @error if the
 * peer is gone. */
static gboolean drain_expired (gpointer user_data);

/* (Re)starts the bound on how long a side may take nothing of what its
 * hung-up peer left for it. */
static void
drain_restart (Drain *d)
{
  if (d->timeout != NULL)
    {
      g_source_destroy (d->timeout);
      g_source_unref (d->timeout);
    }
  d->timeout = g_timeout_source_new (drain_timeout_ms);
  g_source_set_callback (d->timeout, drain_expired, d, NULL);
  g_source_set_static_name (d->timeout, "vhost-user-trace drain");
  g_source_attach (d->timeout, NULL);
}

static void
drain_clear (Drain *d)
{
  if (d->timeout != NULL)
    {
      g_source_destroy (d->timeout);
      g_clear_pointer (&d->timeout, g_source_unref);
    }
  g_clear_pointer (&d->reason, g_free);
  d->ending = NULL;
}

/* The side that is left, once its hung-up peer has sent its last. */
static Endpoint *
draining (Drain *d)
{
  return d->ending != NULL ? &d->session->endpoints[d->ending->peer] : NULL;
}

/* Whether a full output is what holds @d up: the hung-up side has more
 * to read, and the other side's queue has room for it. Otherwise that
 * side is what does, having taken nothing of a full queue or of all
 * there is; the lines the output takes meanwhile (a "dropped" one for
 * each message that side sends on, say) must not keep the channel
 * going for good. */
static gboolean
drain_waits_for_output (Drain *d)
{
  return !d->ending->eof && !queue_is_full (draining (d));
}

/* Ends @channel, and with the main one the session. */
static void
channel_end (Session          *s,
             VhostUserChannel  channel,
             const char       *reason)
{
  if (channel == VHOST_USER_CHANNEL_BACKEND)
    close_channel (s, reason);
  else
    session_end (reason);
}

static gboolean
endpoint_flush (Endpoint  *ep,
                GError   **error)
{
  Outgoing *o;
  gboolean progress = FALSE;

  while ((o = g_queue_peek_head (&ep->queue)) != NULL)
    {
      gssize n = send_some (ep->socket, o->data + o->sent, o->len - o->sent, o->fds, o->n_fds, error);

      if (n < 0)
        return FALSE;
      if (n == 0)
        break;
      progress = TRUE;
      /* the peer has its own copies of the fds now */
      ep->queued_fds -= o->n_fds;
      for (guint i = 0; i < o->n_fds; i++)
        g_close (o->fds[i], NULL);
      o->n_fds = 0;
      o->sent += n;
      if (o->sent < o->len)
        continue;
      ep->queued -= sizeof *o + o->len;
      g_queue_pop_head (&ep->queue);
      g_free (o);
    }

  if (g_queue_is_empty (&ep->queue))
    {
      if (ep->out_source != NULL)
        {
          g_source_destroy (ep->out_source);
          g_clear_pointer (&ep->out_source, g_source_unref);
        }
    }
  else if (ep->out_source == NULL)
    {
      ep->out_source = g_socket_create_source (ep->socket, G_IO_OUT, NULL);
      g_source_set_callback (ep->out_source, G_SOURCE_FUNC (endpoint_writable), ep, NULL);
      g_source_set_static_name (ep->out_source, ep->name);
      g_source_attach (ep->out_source, NULL);
    }

  if (progress && ep == draining (&ep->session->drains[ep->channel]))
    drain_restart (&ep->session->drains[ep->channel]);
  /* room again: the side that fills the queue may go on */
  if (!queue_is_full (ep))
    endpoint_watch (&ep->session->endpoints[ep->peer]);
  return TRUE;
}

/* Queues a message for @ep's peer, taking @fds, and sends what it can. */
static gboolean
endpoint_send (Endpoint      *ep,
               const guint8  *data,
               gsize          len,
               const int     *fds,
               guint          n_fds,
               GError       **error)
{
  Outgoing *o = g_malloc (sizeof *o + len);

  o->len = len;
  o->sent = 0;
  o->n_fds = n_fds;
  memcpy (o->fds, fds, sizeof (int) * n_fds);
  memcpy (o->data, data, len);
  g_queue_push_tail (&ep->queue, o);
  ep->queued += sizeof *o + len;
  ep->queued_fds += n_fds;
  return endpoint_flush (ep, error);
}

static void
endpoint_close (Endpoint *ep)
{
  endpoint_unwatch (ep);
  if (ep->socket != NULL)
    {
      g_socket_close (ep->socket, NULL);
      g_clear_object (&ep->socket);
    }
  endpoint_drop_queue (ep);
  ep->eof = FALSE;
  for (guint i = 0; i < ep->n_fds; i++)
    if (ep->fds[i] >= 0)
      g_close (ep->fds[i], NULL);
  ep->n_fds = 0;
  ep->rx_have = 0;
  ep->fds_truncated = FALSE;
}

static void
close_channel (Session    *s,
               const char *why)
{
  if (s->endpoints[CHAN_FRONT].socket == NULL && s->endpoints[CHAN_BACK].socket == NULL)
    return;
  endpoint_close (&s->endpoints[CHAN_FRONT]);
  endpoint_close (&s->endpoints[CHAN_BACK]);
  drain_clear (&s->drains[VHOST_USER_CHANNEL_BACKEND]);
  g_queue_clear_full (&s->pending[VHOST_USER_CHANNEL_BACKEND], g_free);
  note (s->number, "back-end channel closed", why);
}

static void
endpoint_open (Endpoint *ep,
               GSocket  *socket)
{
  ep->socket = g_object_ref (socket);
  ep->rx_have = 0;
  ep->n_fds = 0;
  endpoint_watch (ep);
}

/* What a back-end channel can be: a UNIX stream socket. Checked before
 * GSocket sees @fd, as it would set O_NONBLOCK on whatever it is, and
 * the front-end shares the file description. */
static gboolean
is_unix_stream_socket (int fd)
{
  struct stat st;
  int value;
  socklen_t len = sizeof value;

  if (fstat (fd, &st) < 0 || !S_ISSOCK (st.st_mode))
    return FALSE;
  if (getsockopt (fd, SOL_SOCKET, SO_DOMAIN, &value, &len) < 0 || value != AF_UNIX)
    return FALSE;
  len = sizeof value;
  return getsockopt (fd, SOL_SOCKET, SO_TYPE, &value, &len) == 0 && value == SOCK_STREAM;
}

/* SET_BACKEND_REQ_FD: the front-end's socket stays with us, the back-end
 * gets one end of our own pair, in its place among @ep's fds. If what
 * came is not a UNIX stream socket, the message goes on unchanged. */
static void
splice_backend_channel (Session  *s,
                        Endpoint *ep)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) front = NULL;
  g_autoptr(GSocket) ours = NULL;
  g_autoptr(GSocket) theirs = NULL;
  int fd;

  if (ep->n_fds != 1 || ep->fds[0] < 0)
    return;
  if (!is_unix_stream_socket (ep->fds[0]))
    {
      note (s->number, "back-end channel not traced", "SET_BACKEND_REQ_FD carries no UNIX stream socket");
      return;
    }

  front = g_socket_new_from_fd (dup (ep->fds[0]), &error);
  if (front == NULL || !vhost_user_socket_pair (&ours, &theirs, &error))
    {
      note (s->number, "back-end channel not traced", error->message);
      return;
    }
  /* the send queue owns the fds it sends, and @theirs closes its own */
  fd = dup (g_socket_get_fd (theirs));
  if (fd < 0)
    {
      note (s->number, "back-end channel not traced", g_strerror (errno));
      return;
    }

  close_channel (s, "replaced by a new SET_BACKEND_REQ_FD");
  endpoint_open (&s->endpoints[CHAN_FRONT], front);
  endpoint_open (&s->endpoints[CHAN_BACK], ours);
  g_close (ep->fds[0], NULL);
  ep->fds[0] = fd;
}

/* NEED_REPLY asks for an ack only where REPLY_ACK was negotiated; the
 * flag alone would have the proxy remember requests nobody answers. */
static gboolean
expects_reply (Session                    *s,
               const VhostUserRequestInfo *info,
               const VhostUserMessage     *msg)
{
  return (vhost_user_message_needs_reply (msg) &&
          (s->protocol_features & VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK) != 0) ||
         vhost_user_request_info_get_reply (info, s->protocol_features) == VHOST_USER_REPLY_ALWAYS;
}

/* Accounts for a whole message read on @ep, relays it, shows it. FALSE
 * when the session ended. */
static gboolean
relay (Endpoint *ep)
{
  Session *s = ep->session;
  Endpoint *peer = &s->endpoints[ep->peer];
  /* hung up: nothing sent to it can arrive */
  Endpoint *ending = s->drains[ep->channel].ending;
  VhostUserMessage *msg = &ep->rx;
  const VhostUserRequestInfo *info = vhost_user_request_info_lookup (ep->channel, msg->header.request);
  gboolean is_reply = vhost_user_message_is_reply (msg);
  gint64 now = g_get_monotonic_time ();
  gint64 real_us = g_get_real_time ();
  gint64 latency = -1;
  gboolean nack = FALSE;
  g_autoptr(GError) invalid = NULL;
  g_autoptr(GError) error = NULL;
  guint n_fds = ep->n_fds;
  const guint8 *data;
  gsize len;

  /* the codec's checks, for the trace only; fds as counted, never used */
  msg->n_fds = MIN (n_fds, VHOST_USER_MAX_FDS);
  if (ep->fds_truncated || n_fds > VHOST_USER_MAX_FDS)
    g_set_error (&invalid, VHOST_USER_ERROR, VHOST_USER_ERROR_INCORRECT_FDS,
                 "%u file descriptors%s, at most %u are allowed", n_fds,
                 ep->fds_truncated ? " (and more, dropped)" : "", VHOST_USER_MAX_FDS);
  else if (vhost_user_message_check_header (&msg->header, ep->receives_replies, &invalid))
    vhost_user_message_validate (msg, ep->channel, s->protocol_features, &invalid);
  if (invalid != NULL)
    s->invalid++;

  data = vhost_user_message_get_data (msg, &len);
  s->messages++;
  s->bytes[ep->reads] += len;

  if (!is_reply)
    {
      const char *name = info != NULL ? info->name : "UNKNOWN";
      GHashTable *counts = s->requests[ep->channel];

      g_hash_table_insert (counts, (gpointer) name,
                           GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (counts, name)) + 1));
      if (info != NULL && expects_reply (s, info, msg))
        {
          GQueue *pending = &s->pending[ep->channel];
          Pending *p;

          if (g_queue_get_length (pending) >= PENDING_CAP)
            {
              if (s->pending_dropped++ == 0)
                note (s->number, "replies not awaited",
                      "more than " G_STRINGIFY (PENDING_CAP) " requests await a reply, "
                      "the oldest are forgotten and their replies show no latency");
              g_free (g_queue_pop_head (pending));
            }
          p = g_new (Pending, 1);
          p->request = msg->header.request;
          p->received = now;
          g_queue_push_tail (pending, p);
        }

      /* only the front-end's word counts: a back-end sending these would
       * change how the session is decoded, or take over the channel */
      if (ep->channel == VHOST_USER_CHANNEL_MAIN && ep->reads == FROM_FRONTEND &&
          msg->header.request == VHOST_USER_REQUEST_SET_PROTOCOL_FEATURES)
        {
          guint64 features;

          if (vhost_user_message_get_u64 (msg, &features))
            s->protocol_features = features;
        }
      if (ep->channel == VHOST_USER_CHANNEL_MAIN && ep->reads == FROM_FRONTEND &&
          msg->header.request == VHOST_USER_REQUEST_SET_BACKEND_REQ_FD)
        splice_backend_channel (s, ep);
    }
  else
    {
      GQueue *pending = &s->pending[ep->channel];
      guint64 status;

      for (GList *l = pending->head; l != NULL; l = l->next)
        {
          Pending *p = l->data;

          if (p->request == msg->header.request)
            {
              latency = now - p->received;
              g_free (p);
              g_queue_delete_link (pending, l);
              break;
            }
        }
      if (latency > s->longest_reply && info != NULL)
        {
          s->longest_reply = latency;
          s->longest_name = info->name;
          s->longest_channel = ep->channel;
        }
      /* an ack's status, not a value that happens to be a u64 */
      if (info != NULL && vhost_user_request_info_get_reply (info, s->protocol_features) == VHOST_USER_REPLY_ACK &&
          vhost_user_message_get_u64 (msg, &status) && status != 0)
        {
          nack = TRUE;
          s->nacks++;
        }
    }

  if (peer->socket == NULL || peer == ending)
    {
      note (s->number, "dropped", peer->socket == NULL ? "the back-end channel is closed on the other side"
                                                       : "the other side hung up");
      for (guint i = 0; i < n_fds; i++)
        if (ep->fds[i] >= 0)
          g_close (ep->fds[i], NULL);
    }
  /* the queue takes the fds, whatever becomes of the send */
  ep->n_fds = 0;
  if (peer->socket != NULL && peer != ending && !endpoint_send (peer, data, len, ep->fds, n_fds, &error))
    {
      g_autofree char *reason = g_strdup_printf ("relaying to the %s: %s",
                                                 ep->reads == FROM_FRONTEND ? "back-end" : "front-end",
                                                 error->message);

      trace_message (ep, n_fds, real_us, latency, nack, invalid);
      if (ep->channel == VHOST_USER_CHANNEL_BACKEND)
        {
          close_channel (s, reason);
          return TRUE;
        }
      session_end (reason);
      return FALSE;
    }

  trace_message (ep, n_fds, real_us, latency, nack, invalid);

  ep->fds_truncated = FALSE;
  ep->rx_have = 0;
  msg->header.size = 0;
  msg->n_fds = 0;
  return TRUE;
}

typedef enum {
  READ_MORE,
  READ_WAIT,
  READ_CLOSED,
} ReadResult;

static ReadResult
read_some (Endpoint  *ep,
           GError   **error)
{
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE (sizeof (int) * RX_FDS)];
  } control;
  guint8 *base = (guint8 *) &ep->rx.header;
  struct msghdr mh = { 0 };
  struct iovec iov;
  gssize needed, n;

  needed = vhost_user_message_bytes_needed (base, ep->rx_have, error);
  if (needed < 0)
    return READ_CLOSED;

  iov.iov_base = base + ep->rx_have;
  iov.iov_len = needed;
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control.buf;
  mh.msg_controllen = sizeof control.buf;

  do
    n = recvmsg (g_socket_get_fd (ep->socket), &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);

  if (n < 0)
    {
      int errsv = errno;

      if (errsv == EAGAIN || errsv == EWOULDBLOCK)
        return READ_WAIT;
      g_set_error (error, VHOST_USER_ERROR, vhost_user_error_from_errno (errsv),
                   "%s", g_strerror (errsv));
      return READ_CLOSED;
    }

  for (struct cmsghdr *cmsg = CMSG_FIRSTHDR (&mh); cmsg != NULL; cmsg = CMSG_NXTHDR (&mh, cmsg))
    {
      gsize count;

      if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
        continue;
      count = (cmsg->cmsg_len - CMSG_LEN (0)) / sizeof (int);
      for (gsize i = 0; i < count; i++)
        {
          int fd;

          memcpy (&fd, CMSG_DATA (cmsg) + i * sizeof (int), sizeof fd);
          if (ep->n_fds < RX_FDS)
            ep->fds[ep->n_fds++] = fd;
          else
            {
              g_close (fd, NULL);
              ep->fds_truncated = TRUE;
            }
        }
    }
  if (mh.msg_flags & MSG_CTRUNC)
    ep->fds_truncated = TRUE;

  if (n == 0)
    {
      if (ep->rx_have > 0 || ep->n_fds > 0)
        g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_PARTIAL_MESSAGE,
                     "hung up in the middle of a message (%" G_GSIZE_FORMAT " bytes read)", ep->rx_have);
      else
        g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_BROKEN, "hung up");
      return READ_CLOSED;
    }

  ep->rx_have += n;
  needed = vhost_user_message_bytes_needed (base, ep->rx_have, error);
  if (needed < 0)
    return READ_CLOSED;
  if (needed == 0 && !relay (ep))
    return READ_CLOSED;
  /* a failed relay on the back-end channel closes it, @ep included */
  if (ep->socket == NULL)
    return READ_CLOSED;
  return READ_MORE;
}

static gboolean
endpoint_writable (GSocket      *socket,
                   GIOCondition  condition,
                   gpointer      user_data)
{
  Endpoint *ep = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *reason = NULL;

  /* a source that the flush destroys is not dispatched again, whatever
   * this returns */
  if (endpoint_flush (ep, &error))
    {
      Drain *d = &ep->session->drains[ep->channel];

      /* all that a hung-up peer sent is taken */
      if (ep == draining (d) && d->ending->eof && g_queue_is_empty (&ep->queue))
        {
          g_autofree char *why = g_strdup (d->reason);

          channel_end (ep->session, ep->channel, why);
        }
      return G_SOURCE_CONTINUE;
    }

  reason = g_strdup_printf ("relaying to the %s: %s", ep->reads == FROM_FRONTEND ? "front-end" : "back-end",
                            error->message);
  channel_end (ep->session, ep->channel, reason);
  return G_SOURCE_REMOVE;
}

/* @ep's peer hung up (or failed); @unread if it may have sent more than
 * the proxy has read. The channel (the session, for the main one) ends
 * once the other side has taken all that was sent before (a peer's
 * last reply or request among it), or has hung up too, or has taken
 * nothing for drain_timeout_ms: a side that is behind in reading must
 * not lose what the proxy holds for it, nor keep the channel for good. */
static void
endpoint_closed (Endpoint   *ep,
                 const char *reason,
                 gboolean    unread)
{
  Session *s = ep->session;
  Drain *d = &s->drains[ep->channel];
  Endpoint *peer = &s->endpoints[ep->peer];

  if ((d->ending != NULL && d->ending != ep) ||
      (!unread && (peer->socket == NULL || g_queue_is_empty (&peer->queue))))
    {
      g_autofree char *why = g_strdup (d->reason != NULL ? d->reason : reason);

      channel_end (s, ep->channel, why);
      return;
    }
  if (d->ending == NULL)
    {
      d->ending = ep;
      d->reason = g_strdup (reason);
      drain_restart (d);
      /* nothing sent to it can arrive: the other side is not held up by
       * it any more, and is read on for its own hang-up */
      endpoint_drop_queue (ep);
      endpoint_watch (peer);
    }
  if (unread)
    {
      /* read on as room allows, to the end */
      endpoint_unwatch_hup (ep);
      return;
    }
  ep->eof = TRUE;
  endpoint_unwatch (ep);
}

static gboolean
drain_expired (gpointer user_data)
{
  Drain *d = user_data;
  Endpoint *left = draining (d);
  const char *who = output_is_full () && drain_waits_for_output (d) ? "trace's output"
                                                                    : left->reads == FROM_FRONTEND ? "front-end" : "back-end";
  g_autofree char *reason = g_strdup_printf ("%s; the %s took nothing for %d ms, %" G_GSIZE_FORMAT " bytes dropped",
                                             d->reason, who, drain_timeout_ms, left->queued);

  /* destroys this source too */
  channel_end (d->session, d->channel, reason);
  return G_SOURCE_REMOVE;
}

/* The peer of a paused @ep is gone: what it sent before still goes on,
 * as far as the side it goes to takes it. */
static gboolean
endpoint_hung_up (GSocket      *socket,
                  GIOCondition  condition,
                  gpointer      user_data)
{
  Endpoint *ep = user_data;
  const char *who = ep->reads == FROM_FRONTEND ? "the front-end" : "the back-end";
  g_autofree char *reason = g_strdup_printf ("%s %s", who, (condition & G_IO_ERR) ? "failed" : "hung up");

  /* closes @ep, and with it this source, or stops watching it */
  endpoint_closed (ep, reason, TRUE);
  return G_SOURCE_REMOVE;
}

static gboolean
endpoint_ready (GSocket      *socket,
                GIOCondition  condition,
                gpointer      user_data)
{
  Endpoint *ep = user_data;
  Session *s = ep->session;

  /* a few messages at a time, so that the other sockets get their turn */
  for (guint i = 0; i < 64; i++)
    {
      g_autoptr(GError) error = NULL;

      switch (read_some (ep, &error))
        {
        case READ_MORE:
          /* enough waits for the peer, or the output: read on when it
           * has taken some */
          if (queue_is_full (&s->endpoints[ep->peer]) || output_is_full ())
            {
              endpoint_pause (ep);
              return G_SOURCE_REMOVE;
            }
          continue;
        case READ_WAIT:
          return G_SOURCE_CONTINUE;
        case READ_CLOSED:
        default:
          if (error != NULL)
            {
              const char *who = ep->reads == FROM_FRONTEND ? "the front-end" : "the back-end";
              g_autofree char *reason = g_strdup_printf ("%s %s", who, error->message);

              endpoint_closed (ep, reason, FALSE);
            }
          /* without an error @ep is closed already (and its session, if
           * it was a main socket) */
          return G_SOURCE_REMOVE;
        }
    }
  return G_SOURCE_CONTINUE;
}

/* --- sessions --- */

static Session *
session_new (GSocket *front,
             GSocket *back)
{
  static const struct {
    const char *name;
    VhostUserChannel channel;
    Direction reads;
    guint peer;
  } layout[N_ENDPOINTS] = {
    [MAIN_FRONT] = { "vhost-user-trace front-end", VHOST_USER_CHANNEL_MAIN, FROM_FRONTEND, MAIN_BACK },
    [MAIN_BACK] = { "vhost-user-trace back-end", VHOST_USER_CHANNEL_MAIN, FROM_BACKEND, MAIN_FRONT },
    [CHAN_FRONT] = { "vhost-user-trace channel front-end", VHOST_USER_CHANNEL_BACKEND, FROM_FRONTEND, CHAN_BACK },
    [CHAN_BACK] = { "vhost-user-trace channel back-end", VHOST_USER_CHANNEL_BACKEND, FROM_BACKEND, CHAN_FRONT },
  };
  Session *s = g_new0 (Session, 1);

  s->number = ++n_sessions;
  s->started = g_get_monotonic_time ();
  for (guint i = 0; i < N_ENDPOINTS; i++)
    {
      Endpoint *ep = &s->endpoints[i];
      VhostUserMessage init = VHOST_USER_MESSAGE_INIT;

      ep->session = s;
      ep->name = layout[i].name;
      ep->channel = layout[i].channel;
      ep->reads = layout[i].reads;
      ep->peer = layout[i].peer;
      /* the main socket carries replies to the front-end, the channel
       * replies to the back-end */
      ep->receives_replies = (ep->channel == VHOST_USER_CHANNEL_MAIN) != (ep->reads == FROM_FRONTEND);
      ep->rx = init;
    }
  for (guint c = 0; c < 2; c++)
    {
      g_queue_init (&s->pending[c]);
      s->requests[c] = g_hash_table_new (g_str_hash, g_str_equal);
      s->drains[c].session = s;
      s->drains[c].channel = c;
    }
  endpoint_open (&s->endpoints[MAIN_FRONT], front);
  endpoint_open (&s->endpoints[MAIN_BACK], back);
  return s;
}

/* Room in the trace's output again */
static void
session_resume (Session *s)
{
  for (guint i = 0; i < N_ENDPOINTS; i++)
    endpoint_watch (&s->endpoints[i]);
}

static void
session_end (const char *reason)
{
  Session *s = session;

  if (s == NULL)
    return;
  session = NULL;
  for (guint i = 0; i < N_ENDPOINTS; i++)
    endpoint_close (&s->endpoints[i]);
  print_summary (s, reason);
  for (guint c = 0; c < 2; c++)
    {
      g_queue_clear_full (&s->pending[c], g_free);
      g_hash_table_unref (s->requests[c]);
    }
  for (guint c = 0; c < 2; c++)
    drain_clear (&s->drains[c]);
  g_free (s);

  if (once)
    finish ();
  else
    start_listening ();
}

/* One connect (), which a UNIX socket answers at once: connected,
 * refused, or, the listener's backlog full, EAGAIN. NULL with @retry
 * set if another try may do: no socket yet, or nobody accepting. (The
 * library's vhost_user_socket_connect() does the same, but waits between
 * tries, and the proxy must not.) */
static GSocket *
try_connect (gboolean  *retry,
             GError   **error)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int fd, errsv;

  *retry = FALSE;
  if (strlen (connect_path) >= sizeof addr.sun_path)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "Socket path “%s” is longer than %" G_GSIZE_FORMAT " bytes",
                   connect_path, sizeof addr.sun_path - 1);
      return NULL;
    }
  strcpy (addr.sun_path, connect_path);

  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    {
      errsv = errno;
      g_set_error (error, VHOST_USER_ERROR, vhost_user_error_from_errno (errsv),
                   "Could not create a socket: %s", g_strerror (errsv));
      return NULL;
    }
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0)
    return g_socket_new_from_fd (fd, error);

  errsv = errno;
  g_close (fd, NULL);
  *retry = errsv == ENOENT || errsv == ECONNREFUSED || errsv == EAGAIN;
  g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_CONNECT,
               "Could not connect to “%s”: %s", connect_path, g_strerror (errsv));
  return NULL;
}

/* Tries to reach the back-end for @connecting_front, and again every
 * 10 ms until connect_timeout_ms has passed, the main loop (and the
 * signals) going on meanwhile. */
static gboolean
connect_backend (gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) back = NULL;
  g_autoptr(GSocket) front = NULL;
  gboolean retry;

  back = try_connect (&retry, &error);
  if (back == NULL && retry && g_get_monotonic_time () < connect_deadline)
    {
      if (connect_source == NULL)
        {
          connect_source = g_timeout_source_new (10);
          g_source_set_callback (connect_source, connect_backend, NULL, NULL);
          g_source_set_static_name (connect_source, "vhost-user-trace connect");
          g_source_attach (connect_source, NULL);
        }
      return G_SOURCE_CONTINUE;
    }

  if (connect_source != NULL)
    {
      g_source_destroy (connect_source);
      g_clear_pointer (&connect_source, g_source_unref);
    }
  front = g_steal_pointer (&connecting_front);
  if (back == NULL)
    {
      if (retry && connect_timeout_ms > 0)
        g_prefix_error (&error, "Gave up after %d ms: ", connect_timeout_ms);
      /* the front-end sees its connection close, as if the back-end had
       * refused it */
      note (n_sessions + 1, "back-end unreachable", error->message);
      g_socket_close (front, NULL);
      if (once)
        {
          exit_status = EXIT_FAILURE;
          finish ();
        }
      else
        start_listening ();
      return G_SOURCE_REMOVE;
    }

  session = session_new (front, back);
  note (session->number, "connected", connect_path);
  return G_SOURCE_REMOVE;
}

/* How long the listener rests after accept () failed, growing while it
 * keeps failing: out of fds, say, the front-end waiting in the backlog
 * stays readable, and trying again at once would spin a CPU and fill
 * the trace with the same line. */
#define ACCEPT_BACKOFF_MIN_MS 100
#define ACCEPT_BACKOFF_MAX_MS 5000
static guint accept_backoff_ms;

static gboolean
listen_again (gpointer user_data)
{
  g_clear_pointer (&listen_source, g_source_unref);
  start_listening ();
  return G_SOURCE_REMOVE;
}

static gboolean
accept_frontend (GSocket      *socket,
                 GIOCondition  condition,
                 gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  /* one session at a time: the next front-end waits in the backlog */
  g_source_destroy (listen_source);
  g_clear_pointer (&listen_source, g_source_unref);

  connecting_front = g_socket_accept (listener, NULL, &error);
  if (connecting_front == NULL)
    {
      g_autofree char *detail = NULL;

      accept_backoff_ms = CLAMP (accept_backoff_ms * 2, ACCEPT_BACKOFF_MIN_MS, ACCEPT_BACKOFF_MAX_MS);
      detail = g_strdup_printf ("%s; trying again in %u ms", error->message, accept_backoff_ms);
      note (n_sessions + 1, "accept failed", detail);
      listen_source = g_timeout_source_new (accept_backoff_ms);
      g_source_set_callback (listen_source, listen_again, NULL, NULL);
      g_source_set_static_name (listen_source, "vhost-user-trace accept back-off");
      g_source_attach (listen_source, NULL);
      return G_SOURCE_REMOVE;
    }
  accept_backoff_ms = 0;

  connect_deadline = g_get_monotonic_time () + (gint64) connect_timeout_ms * G_TIME_SPAN_MILLISECOND;
  connect_backend (NULL);
  return G_SOURCE_REMOVE;
}

static void
start_listening (void)
{
  /* A front-end taken now would add its lines (a session's, or that
   * its back-end is unreachable) to an output that is over its cap, as
   * would each one after it, and its session would not be read, not
   * even for a hang-up, until the output has room. It waits in the
   * backlog instead, as it does during a session. */
  if (output_is_full ())
    {
      listen_deferred = TRUE;
      return;
    }
  listen_source = g_socket_create_source (listener, G_IO_IN, NULL);
  g_source_set_callback (listen_source, G_SOURCE_FUNC (accept_frontend), NULL, NULL);
  g_source_set_static_name (listen_source, "vhost-user-trace listener");
  g_source_attach (listen_source, NULL);
}

static gboolean
on_signal (gpointer user_data)
{
  /* the summary is written as far as the output takes it at once */
  interrupted = TRUE;
  session_end ("interrupted");
  g_main_loop_quit (loop);
  return G_SOURCE_CONTINUE;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) options = NULL;
  g_autoptr(GError) error = NULL;

  /* A standard stream that was closed for the proxy would have its
   * number go to the next fd opened (GLib's wake-up eventfd, a peer's
   * socket), and what is meant for it would be written into that:
   * /dev/null holds its place, before anything is opened. */
  for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++)
    if (fcntl (fd, F_GETFD) < 0 && errno == EBADF)
      {
        if (open ("/dev/null", O_RDWR) != fd)
          {
            g_printerr ("vhost-user-trace: /dev/null: %s\n", g_strerror (errno));
            return EXIT_FAILURE;
          }
        if (fd == STDOUT_FILENO)
          stdout_closed = TRUE;
      }

  options = g_option_context_new ("- show a vhost-user session, relayed between a front-end and a back-end");
  g_option_context_set_summary (options,
    "Listens on FRONT_SOCKET for a front-end (the VMM, \"master\" in older texts) and, for\n"
    "each one, connects to the back-end (the device, \"slave\") at BACK_SOCKET. Every\n"
    "message passes through unchanged, with its file descriptors, on the main socket\n"
    "and on the back-end channel, and is printed decoded: one line per message, and\n"
    "a summary when the session ends.");
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error) || argc != 1 ||
      listen_path == NULL || connect_path == NULL)
    {
      g_printerr ("%s\n", error != NULL ? error->message
                                        : "vhost-user-trace: give --listen and --connect (see --help)");
      return 2;
    }
  if (connect_timeout_ms < 0 || drain_timeout_ms < 0)
    {
      g_printerr ("vhost-user-trace: --connect-timeout and --drain-timeout are at least 0\n");
      return 2;
    }

  if (!output_open ())
    return EXIT_FAILURE;

  /* Everything the proxy keeps open for its whole life (the context's
   * wake-up fd, the signal handlers' worker thread and its own) before
   * the socket appears: whoever waits for the socket may count our fds
   * then, or send SIGTERM. */
  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, on_signal, NULL);
  g_unix_signal_add (SIGTERM, on_signal, NULL);

  listener = vhost_user_socket_listen (listen_path, 0, &error);
  if (listener == NULL)
    {
      g_printerr ("vhost-user-trace: %s\n", error->message);
      g_main_loop_unref (loop);
      return EXIT_FAILURE;
    }
  start_listening ();
  g_main_loop_run (loop);

  if (listen_source != NULL)
    {
      g_source_destroy (listen_source);
      g_source_unref (listen_source);
    }
  /* interrupted while it waited for the back-end */
  if (connect_source != NULL)
    {
      g_source_destroy (connect_source);
      g_source_unref (connect_source);
    }
  g_clear_object (&connecting_front);
  g_socket_close (listener, NULL);
  g_object_unref (listener);
  g_unlink (listen_path);
  g_main_loop_unref (loop);
  if (out_pending->len > out_written)
    g_printerr ("vhost-user-trace: %" G_GSIZE_FORMAT " bytes of the trace not written: its output takes no more\n",
                out_pending->len - out_written);
  if (finish_source != NULL)
    {
      g_source_destroy (finish_source);
      g_source_unref (finish_source);
    }
  if (out_source != NULL)
    {
      g_source_destroy (out_source);
      g_source_unref (out_source);
    }
  g_string_free (out_pending, TRUE);
  if (out_owned)
    g_close (out_fd, NULL);
  return exit_status;
}
