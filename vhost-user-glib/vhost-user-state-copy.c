/* vhost-user-state-copy.c: a device's state between its pipe and a stream
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The back-end holds the other end of the pipe, so the pipe is the peer:
 * it may stop reading or writing at any point, write without end, or
 * close its end early, or hold the pipe's lock. GIO's splice over GUnix
 * streams trusts it: on a blocking pipe a write larger than the free room
 * blocks the thread in the kernel (poll says writable once one page is
 * free), no cancellation reaches a thread blocked there. Here the pipe is
 * the relay's (see vhost-user-pipe-relay.c): our end of its own pipe is
 * non-blocking and only ever read or written when poll says so; the wait
 * for it is bounded (no progress for @idle_timeout_ms is an error) and
 * ends at @abort too (the device cancels it when the back-end goes). A
 * load is done once the relay has written the end of the state to the
 * back-end, within the same bound. A write after the relay
 * closed its end raises SIGPIPE: GIO ignores it once GSocket's class
 * exists, but a process need not have made a GSocket (a front-end can
 * take a plain fd) or may want SIGPIPE back, so it is blocked around each
 * write and taken back if the write raised it. The caller's stream is
 * the caller's: it is used with its own async calls, under a cancellable
 * of ours that the caller's cancellation and @abort both cancel, so that
 * a stream that stalls (a destination that takes nothing) does not keep
 * the copy going once the back-end has gone.
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <glib-unix.h>
#include <glib/gstdio.h>

#include "vhost-user-error.h"
#include "vhost-user-peer-fd-private.h"
#include "vhost-user-pipe-relay-private.h"
#include "vhost-user-state-copy-private.h"

#define CHUNK (64 * 1024)

typedef struct {
  int           fd;           /* our end of the relay's pipe */
  VhostUserPipeRelay *relay;
  gboolean      draining;     /* load: the stream's end reached, the relay's awaited */
  guint64       relayed;      /* the relay's bytes moved when last looked at */
  GObject      *stream;
  gboolean      save;         /* pipe to stream; else stream to pipe */
  guint         timeout_ms;
  GCancellable *abort;
  GCancellable *cancellable;  /* the caller's */
  GCancellable *stream_cancellable;  /* the stream's calls': either of the two */
  gulong        abort_id;
  gulong        cancellable_id;
  GSource      *wait;         /* for the pipe */
  guint8       *buf;
  gsize         len;          /* load: bytes in buf */
  gsize         done;         /* load: of which written */
  gint64        stalled_since; /* the pipe's last progress, 0 while it moves */
  guint64       max_bytes;    /* save: what the back-end may send; 0: no limit */
  guint64       total;
  gboolean      closed_early; /* load: the back-end closed its end (EPIPE) */
} Copy;

static void
copy_free (Copy *c)
{
  if (c->wait != NULL)
    {
      g_source_destroy (c->wait);
      g_source_unref (c->wait);
    }
  /* the task is finalized after its callback ran: a load that failed
   * has hung up on the back-end by now, so this close is not taken for
   * the end of the state */
  if (c->fd >= 0)
    g_close (c->fd, NULL);
  g_clear_pointer (&c->relay, vhost_user_pipe_relay_stop);
  g_clear_object (&c->stream);
  if (c->abort != NULL)
    g_cancellable_disconnect (c->abort, c->abort_id);
  if (c->cancellable != NULL)
    g_cancellable_disconnect (c->cancellable, c->cancellable_id);
  g_clear_object (&c->abort);
  g_clear_object (&c->cancellable);
  g_clear_object (&c->stream_cancellable);
  g_free (c->buf);
  g_free (c);
}

/* write(2) that cannot raise SIGPIPE: blocked for the call, and a SIGPIPE
 * it raised (directed at this thread) consumed before unblocking, unless
 * one was pending already. */
static gssize
write_quietly (int           fd,
               const guint8 *buf,
               gsize         len)
{
  sigset_t pipe_set, old, pending;
  gboolean was_pending;
  gssize n;
  int errsv;

  sigemptyset (&pipe_set);
  sigaddset (&pipe_set, SIGPIPE);
  pthread_sigmask (SIG_BLOCK, &pipe_set, &old);
  sigpending (&pending);
  was_pending = sigismember (&pending, SIGPIPE);
  n = vhost_user_pipe_write (fd, buf, len);
  errsv = errno;
  if (n < 0 && errsv == EPIPE && !was_pending)
    {
      static const struct timespec now = { 0, 0 };

      while (sigtimedwait (&pipe_set, NULL, &now) < 0 && errno == EINTR)
        ;
    }
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  errno = errsv;
  return n;
}

static void copy_step (GTask *task);

static gboolean
pipe_ready (int          fd,
            GIOCondition condition,
            gpointer     user_data)
{
  GTask *task = user_data;
  Copy *c = g_task_get_task_data (task);
  GMainContext *context = g_task_get_context (task);

  g_clear_pointer (&c->wait, g_source_unref);
  /* the stream's async calls complete where the task does, even if its
   * context is dispatched without being the thread's default */
  g_main_context_push_thread_default (context);
  copy_step (task);
  g_main_context_pop_thread_default (context);
  return G_SOURCE_REMOVE;
}

/* (a child source that fires dispatches its parent, pipe_ready(), which
 * then finds what ended the wait; GLib wants it a callback of its own) */
static gboolean
wait_ended (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

/* Until the pipe is ready (the relay done, while draining), @abort or
 * the caller cancels or @timeout_ms pass (the step then finds which). */
static void
wait_for_pipe (GTask *task,
               guint  timeout_ms)
{
  Copy *c = g_task_get_task_data (task);

  if (c->draining)
    c->wait = g_unix_fd_source_new (vhost_user_pipe_relay_get_done_fd (c->relay), G_IO_IN);
  else
    c->wait = g_unix_fd_source_new (c->fd, c->save ? G_IO_IN : G_IO_OUT);
  g_source_set_callback (c->wait, G_SOURCE_FUNC (pipe_ready), task, NULL);
  if (c->abort != NULL)
    {
      GSource *aborted = g_cancellable_source_new (c->abort);

      g_source_set_callback (aborted, wait_ended, NULL, NULL);
      g_source_add_child_source (c->wait, aborted);
      g_source_unref (aborted);
    }
  if (g_task_get_cancellable (task) != NULL)
    {
      GSource *cancelled = g_cancellable_source_new (g_task_get_cancellable (task));

      g_source_set_callback (cancelled, wait_ended, NULL, NULL);
      g_source_add_child_source (c->wait, cancelled);
      g_source_unref (cancelled);
    }
  if (timeout_ms > 0)
    {
      GSource *timer = g_timeout_source_new (timeout_ms);

      g_source_set_callback (timer, wait_ended, NULL, NULL);
      g_source_add_child_source (c->wait, timer);
      g_source_unref (timer);
    }
  g_source_set_static_name (c->wait, "vhost-user device state");
  g_source_attach (c->wait, g_task_get_context (task));
}

static void
fail_errno (GTask      *task,
            int         errsv,
            const char *what)
{
  g_task_return_new_error (task, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_ERROR,
                           "Could not %s the device's state: %s", what, g_strerror (errsv));
  g_object_unref (task);
}

/* The pipe would block: wait, unless it has made no progress for longer
 * than it may. */
static void
wait_or_time_out (GTask *task)
{
  Copy *c = g_task_get_task_data (task);
  gint64 now = g_get_monotonic_time ();
  gint64 left;

  if (c->stalled_since == 0)
    c->stalled_since = now;
  left = (gint64) c->timeout_ms * 1000 - (now - c->stalled_since);
  if (c->timeout_ms > 0 && left <= 0)
    {
      g_task_return_new_error (task, VHOST_USER_ERROR, VHOST_USER_ERROR_TIMED_OUT,
                               "The back-end %s no device state for %u ms", c->save ? "sent" : "took",
                               c->timeout_ms);
      g_object_unref (task);
      return;
    }
  /* (the relay's progress is looked at now and then: it has no fd that
   * says so) */
  wait_for_pipe (task, c->timeout_ms == 0 ? 0 : (guint) CLAMP ((left + 999) / 1000, 1, 100));
}

/* A stream's call failed: cancelled by us, it is the caller's
 * cancellation or the back-end's going, which copy_step() tells apart. */
static void
stream_failed (GTask  *task,
               GError *error)
{
  Copy *c = g_task_get_task_data (task);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
      g_cancellable_is_cancelled (c->stream_cancellable))
    {
      g_error_free (error);
      copy_step (task);
      return;
    }
  g_task_return_error (task, error);
  g_object_unref (task);
}

static void
written_to_stream (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  GTask *task = user_data;
  GError *error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      stream_failed (task, error);
      return;
    }
  copy_step (task);
}

static void
read_from_stream (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  GTask *task = user_data;
  Copy *c = g_task_get_task_data (task);
  GError *error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  if (n < 0)
    {
      stream_failed (task, error);
      return;
    }
  if (n == 0)
    {
      /* closing our end is the end of the state: the relay passes it on,
       * with what it still holds */
      g_close (g_steal_fd (&c->fd), NULL);
      c->draining = TRUE;
      copy_step (task);
      return;
    }
  c->len = n;
  c->done = 0;
  copy_step (task);
}

/* The relay ended at the end of the state (its result then returned),
 * or failed, which is the copy's failure. */
static void
relay_ended (GTask *task)
{
  Copy *c = g_task_get_task_data (task);
  int errsv;

  if (vhost_user_pipe_relay_propagate (c->relay, &errsv))
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
    }
  else if (errsv == EPIPE)
    {
      c->closed_early = TRUE;
      g_task_return_new_error (task, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_BROKEN,
                               "The back-end closed the device state's pipe before its end");
      g_object_unref (task);
    }
  else
    fail_errno (task, errsv, c->save ? "read" : "write");
}

/* As far as the pipe goes without waiting: a save reads a chunk and hands
 * it to the stream; a load writes what it has, then reads the stream. */
static void
copy_step (GTask *task)
{
  Copy *c = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  GError *error = NULL;
  guint64 moved;
  gssize n;

  if (g_cancellable_set_error_if_cancelled (cancellable, &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  if (c->abort != NULL && g_cancellable_is_cancelled (c->abort))
    {
      g_task_return_new_error (task, VHOST_USER_ERROR, VHOST_USER_ERROR_CLOSED,
                               "The back-end went before its state was %s", c->save ? "saved" : "loaded");
      g_object_unref (task);
      return;
    }
  /* (cancelled by neither, which cannot be: not a reason to copy on) */
  if (g_cancellable_is_cancelled (c->stream_cancellable))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Operation was cancelled");
      g_object_unref (task);
      return;
    }

  /* the back-end takes or gives through the relay: progress, though our
   * end of the relay's pipe may not move (the relay writes to the
   * back-end a chunk at a time, as it takes it) */
  moved = vhost_user_pipe_relay_get_moved (c->relay);
  if (moved != c->relayed)
    {
      c->relayed = moved;
      c->stalled_since = 0;
    }

  if (c->draining)
    {
      if (vhost_user_pipe_relay_is_done (c->relay))
        relay_ended (task);
      else
        wait_or_time_out (task);
      return;
    }

  if (c->save)
    {
      n = vhost_user_pipe_read (c->fd, c->buf, CHUNK);
      if (n > 0 && c->max_bytes > 0 && (guint64) n > c->max_bytes - c->total)
        {
          g_task_return_new_error (task, VHOST_USER_ERROR, VHOST_USER_ERROR_OVERSIZED_MESSAGE,
                                   "The back-end's device state is larger than %" G_GUINT64_FORMAT
                                   " bytes (the device's max-state-size)", c->max_bytes);
          g_object_unref (task);
        }
      else if (n > 0)
        {
          c->total += n;
          c->stalled_since = 0;
          g_output_stream_write_all_async (G_OUTPUT_STREAM (c->stream), c->buf, n, G_PRIORITY_DEFAULT,
                                           c->stream_cancellable, written_to_stream, task);
        }
      else if (n == 0)
        relay_ended (task);
      else if (errno == EAGAIN)
        wait_or_time_out (task);
      else
        fail_errno (task, errno, "read");
      return;
    }

  while (c->done < c->len)
    {
      n = write_quietly (c->fd, c->buf + c->done, c->len - c->done);
      if (n > 0)
        {
          c->done += n;
          c->stalled_since = 0;
        }
      else if (n < 0 && errno == EINTR)
        continue;
      else if (n < 0 && errno == EAGAIN)
        {
          wait_or_time_out (task);
          return;
        }
      else if (n < 0 && errno == EPIPE)
        {
          /* the relay has ended */
          relay_ended (task);
          return;
        }
      else
        {
          fail_errno (task, errno, "write");
          return;
        }
    }
  g_input_stream_read_async (G_INPUT_STREAM (c->stream), c->buf, CHUNK, G_PRIORITY_DEFAULT, c->stream_cancellable,
                             read_from_stream, task);
}

static void
cancel_stream (GCancellable *cancelled,
               GCancellable *stream_cancellable)
{
  g_cancellable_cancel (stream_cancellable);
}

/*
 * vhost_user_state_copy_async:
 * @fd: (transfer full): our end of the state's pipe: read for a save,
 *   written for a load (then closed at the end of @stream)
 * @stream: a #GOutputStream for a save, a #GInputStream for a load
 * @idle_timeout_ms: how long the pipe may make no progress; 0 for ever
 * @max_bytes: a save's limit; 0 for none
 * @cancellable: (nullable): the caller's
 * @abort: (nullable): cancelled when the back-end goes
 *
 * Copies the state until the back-end's end of the pipe is closed (a
 * save) or @stream ends (a load). @fd goes to the relay, which reads or writes it.
 */
void
vhost_user_state_copy_async (int                  fd,
                             GObject             *stream,
                             guint                idle_timeout_ms,
                             guint64              max_bytes,
                             GCancellable        *cancellable,
                             GCancellable        *abort,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  Copy *c = g_new0 (Copy, 1);
  GError *error = NULL;

  g_task_set_source_tag (task, vhost_user_state_copy_async);
  c->stream = g_object_ref (stream);
  c->save = G_IS_OUTPUT_STREAM (stream);
  c->timeout_ms = idle_timeout_ms;
  c->max_bytes = max_bytes;
  c->abort = abort != NULL ? g_object_ref (abort) : NULL;
  c->cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;
  c->stream_cancellable = g_cancellable_new ();
  if (c->abort != NULL)
    c->abort_id = g_cancellable_connect (c->abort, G_CALLBACK (cancel_stream), c->stream_cancellable, NULL);
  if (c->cancellable != NULL)
    c->cancellable_id = g_cancellable_connect (c->cancellable, G_CALLBACK (cancel_stream), c->stream_cancellable,
                                               NULL);
  c->buf = g_malloc (CHUNK);
  c->fd = -1;
  g_task_set_task_data (task, c, (GDestroyNotify) copy_free);
  c->relay = vhost_user_pipe_relay_new (fd, !c->save, &c->fd, &error);
  if (c->relay == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  if (c->save)
    copy_step (task);
  else
    g_input_stream_read_async (G_INPUT_STREAM (stream), c->buf, CHUNK, G_PRIORITY_DEFAULT, c->stream_cancellable,
                               read_from_stream, task);
}

/*
 * vhost_user_state_copy_finish:
 * @closed_early: (out) (optional): whether a load failed because the
 *   back-end closed its end of the pipe before the end of @stream (and
 *   not for the stream, a cancellation or a timeout)
 *
 * Returns: %TRUE, or %FALSE with @error set
 */
gboolean
vhost_user_state_copy_finish (GAsyncResult  *result,
                              gboolean      *closed_early,
                              GError       **error)
{
  Copy *c;

  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  c = g_task_get_task_data (G_TASK (result));
  if (closed_early != NULL)
    *closed_early = c->closed_early;
  return g_task_propagate_boolean (G_TASK (result), error);
}
