/* vhost-user-vring-kick.c: where and when a ring's kick handler runs
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The kick eventfd watched in the ring's context, polling without one,
 * and the kick handler run there. Part of VhostUserVring (see
 * vhost-user-vring-state-private.h); calls nothing in vhost-user-vring.c.
 */

#include "config.h"

#include <errno.h>
#include <unistd.h>
#include <glib-unix.h>

#include "vhost-user-debug-private.h"
#include "vhost-user-peer-fd-private.h"
#include "vhost-user-vring-state-private.h"

/* Every run of the kick handler comes here. The handler pops until pop
 * says the ring is empty; with a budget (vhost_user_vring_set_budget())
 * pop says so once the run has popped that many, and the handler runs
 * again from rerun_source, at the priority of busy-polling: whatever else
 * is ready in the context (the connection's socket, other rings, timers,
 * idles, the library's own among them) has its turn first, and rings that
 * busy-poll go round with it, where a driver that keeps the ring full
 * would otherwise hold the context for as long as it keeps up. (A budget
 * cut leaves the driver not asked to kick: only the rerun brings the
 * handler back.) */
static void
run_kick_handler (VhostUserVring *self)
{
  VhostUserVringKickFunc func;
  gpointer data;
  gboolean started;
  GSource *rerun = NULL;

  LOCK (self);
  func = self->kick_func;
  data = self->kick_data;
  started = self->started;
  /* a run nested in the handler (an iteration it makes dispatches
   * polling, or a start) goes on with the outer run's budget. A packet
   * into merged receive buffers takes up to VHOST_USER_VRING_MAX_UNPOP
   * pops at once: a smaller budget would never let it through. */
  if (self->handler_runs++ == 0)
    {
      self->budget_left = self->budget > 0 ? MAX (self->budget, VHOST_USER_VRING_MAX_UNPOP) : G_MAXUINT;
      self->budget_thread = g_thread_self ();
      self->budget_spent = FALSE;
    }
  UNLOCK (self);
  if (func != NULL && started)
    func (self, data);
  LOCK (self);
  if (--self->handler_runs == 0)
    {
      /* the wish outlives the source: a new kick watch made meanwhile
       * (another fd, handler or context) takes it over */
      if (self->budget_spent && self->started)
        {
          self->rerun_wanted = TRUE;
          if (self->rerun_source != NULL)
            rerun = g_source_ref (self->rerun_source);
        }
      self->budget_left = G_MAXUINT;
      self->budget_thread = NULL;
      self->budget_spent = FALSE;
    }
  UNLOCK (self);
  if (rerun != NULL)
    {
      g_source_set_ready_time (rerun, 0);
      g_source_unref (rerun);
    }
}

/* A kick or a rerun seen by an iteration nested in the handler runs it
 * again after, not inside itself. FALSE when it was such a nested one
 * (only the wish is kept), TRUE once the handler has run. */
static gboolean
run_guarded (VhostUserVring *self)
{
  if (self->in_kick)
    {
      self->kick_again = TRUE;
      return FALSE;
    }
  self->in_kick = TRUE;
  do
    {
      self->kick_again = FALSE;
      run_kick_handler (self);
    }
  while (self->kick_again);
  self->in_kick = FALSE;
  return TRUE;
}

static gboolean
rerun_dispatch (GSource     *source,
                GSourceFunc  callback,
                gpointer     user_data)
{
  VhostUserVring *self = user_data;

  g_source_set_ready_time (source, -1);
  LOCK (self);
  self->rerun_wanted = FALSE;
  UNLOCK (self);
  run_guarded (self);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs rerun_funcs = { NULL, NULL, rerun_dispatch, NULL, NULL, NULL };

static gboolean
initial_kick (gpointer user_data)
{
  run_kick_handler (user_data);
  return G_SOURCE_REMOVE;
}

/* Runs the kick handler where kicks are handled: at once in the
 * back-end's context, soon in a ring context of its own. An in-band kick
 * (VRING_KICK) and a ring that starts come here. */
void
vhost_user_vring_kick (VhostUserVring *self)
{
  GSource *source;

  if (self->ring_context == NULL)
    {
      initial_kick (self);
      return;
    }
  source = g_idle_source_new ();
  g_source_set_static_name (source, "VhostUserVring kick");
  g_source_set_callback (source, initial_kick, g_object_ref (self), g_object_unref);
  g_source_attach (source, self->ring_context);
  g_source_unref (source);
}

/* Busy-polling (vhost_user_vring_set_poll_window()): after a kick the
 * handler runs on every iteration of the ring's context, while pops of an
 * empty ring ask the driver not to kick, until it has found nothing for
 * the window; then polling stops, the handler runs once more (its empty
 * pop asks for kicks again and looks once more, for a request made
 * available meanwhile) and the ring sleeps on its kick fd.
 *
 * The window adapts as QEMU's (aio-poll-max-ns) does, between 0 and the
 * one set: a kick that comes after polling ran out says whether polling
 * that much longer would have caught it. Had the set window caught it,
 * the window doubles (from POLL_GROW_START_US); had it not, polling was
 * CPU spent for nothing and the window drops to 0. Work found while
 * polling leaves it as it is. It starts at the set window. */
#define POLL_GROW_START_US 4

/* With the lock held, on a kick: what the wait since polling ran out
 * says of the window. */
static void
adapt_window (VhostUserVring *self,
              gint64          now)
{
  guint64 waited;

  if (self->poll_ran_out == 0 || self->poll_window_us == 0)
    return;
  waited = self->poll_now_us + (guint64) MAX (now - self->poll_ran_out, 0);
  self->poll_ran_out = 0;
  if (waited > self->poll_window_us)
    self->poll_now_us = 0;
  else if (self->poll_now_us < self->poll_window_us)
    self->poll_now_us = MIN (MAX ((guint64) self->poll_now_us * 2, POLL_GROW_START_US), self->poll_window_us);
}

/* From the ring's context or the control plane's: the source is taken
 * under the lock, so that exactly one of them destroys it. */
static gboolean
stop_polling (VhostUserVring *self)
{
  GSource *source;

  LOCK (self);
  self->polling = FALSE;
  source = g_steal_pointer (&self->poll_source);
  UNLOCK (self);
  if (source == NULL)
    return FALSE;
  g_source_destroy (source);
  g_source_unref (source);
  return TRUE;
}

static gboolean
busy_prepare (GSource *source,
              gint    *timeout)
{
  *timeout = 0;
  return TRUE;
}

static gboolean
busy_dispatch (GSource     *source,
               GSourceFunc  callback,
               gpointer     user_data)
{
  VhostUserVring *self = user_data;
  gint64 now;
  guint before, after, window;

  LOCK (self);
  before = self->base;
  UNLOCK (self);
  run_kick_handler (self);
  now = g_get_monotonic_time ();
  LOCK (self);
  after = self->base;
  window = self->poll_now_us;
  UNLOCK (self);
  if (after != before)
    self->poll_last_work = now;
  else if (now - self->poll_last_work >= window)
    {
      LOCK (self);
      self->poll_ran_out = now;
      UNLOCK (self);
      stop_polling (self);
      run_kick_handler (self);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs busy_funcs = { busy_prepare, NULL, busy_dispatch, NULL, NULL, NULL };

static void
start_polling (VhostUserVring *self)
{
  GMainContext *where = self->ring_context != NULL ? self->ring_context : self->context;
  GSource *source;

  LOCK (self);
  if (self->poll_source != NULL || self->poll_window_us == 0 || !self->started || where == NULL)
    {
      UNLOCK (self);
      return;
    }
  /* a window shrunk to nothing: no polling, but the next kick still
   * tells whether some would have paid */
  if (self->poll_now_us == 0)
    {
      self->poll_ran_out = g_get_monotonic_time ();
      UNLOCK (self);
      return;
    }
  self->polling = TRUE;
  self->poll_last_work = g_get_monotonic_time ();
  source = g_source_new (&busy_funcs, sizeof (GSource));
  g_source_set_static_name (source, "VhostUserVring busy-poll");
  /* always ready: below everything else in the context (idles too: the
   * library's own, an in-band call or a drained ring's answer, wait for
   * nothing), so it runs on every iteration after what else is ready */
  g_source_set_priority (source, G_PRIORITY_LOW);
  g_source_set_callback (source, NULL, g_object_ref (self), g_object_unref);
  /* attached under the lock: a stop meanwhile finds it attached */
  g_source_attach (source, where);
  self->poll_source = source;
  UNLOCK (self);
}

static gboolean
on_kick (int          fd,
         GIOCondition condition,
         gpointer     user_data)
{
  VhostUserVring *self = user_data;
  gboolean current;

  /* the fd is still the ring's (a replaced one is closed in this thread,
   * later); the lock also orders this read after the fd arrived */
  LOCK (self);
  current = self->fds[VHOST_USER_VRING_FD_KICK] == fd;
  UNLOCK (self);
  if (!current)
    return G_SOURCE_CONTINUE;
  /* clear the eventfd first: a kick after this read is a new one (and
   * never wait: the front-end may have taken the count back) */
  vhost_user_eventfd_drain (fd, NULL);
  LOCK (self);
  adapt_window (self, g_get_monotonic_time ());
  UNLOCK (self);
  /* polling starts after the outermost run only */
  if (run_guarded (self))
    start_polling (self);
  return G_SOURCE_CONTINUE;
}

/* Without a kick fd the device polls: the handler runs every
 * POLL_INTERVAL_US in the ring's context. */
#define POLL_INTERVAL_US 1000

static gboolean
poll_dispatch (GSource     *source,
               GSourceFunc  callback,
               gpointer     user_data)
{
  g_source_set_ready_time (source, g_get_monotonic_time () + POLL_INTERVAL_US);
  run_kick_handler (user_data);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs poll_funcs = { NULL, NULL, poll_dispatch, NULL, NULL, NULL };

/* Kicks are watched while the ring is started and has a handler to tell:
 * on the kick fd, or by polling when the front-end gave none. The watch
 * holds a reference on the ring, dropped when the ring stops. */
void
vhost_user_vring_update_kick_watch (VhostUserVring *self)
{
  GMainContext *where = self->ring_context != NULL ? self->ring_context : self->context;
  gboolean was_polling;
  int fd;

  GSource *rerun;

  if (self->kick_source != NULL)
    {
      g_source_destroy (self->kick_source);
      g_clear_pointer (&self->kick_source, g_source_unref);
    }
  was_polling = stop_polling (self);
  LOCK (self);
  fd = self->fds[VHOST_USER_VRING_FD_KICK];
  rerun = g_steal_pointer (&self->rerun_source);
  UNLOCK (self);
  if (rerun != NULL)
    {
      g_source_destroy (rerun);
      g_source_unref (rerun);
    }
  if (!self->started || self->kick_func == NULL || where == NULL)
    {
      LOCK (self);
      self->rerun_wanted = FALSE;
      UNLOCK (self);
      return;
    }
  /* ready only when a run spent its budget (no allocation then) */
  rerun = g_source_new (&rerun_funcs, sizeof (GSource));
  g_source_set_static_name (rerun, "VhostUserVring rerun");
  g_source_set_priority (rerun, G_PRIORITY_LOW);
  g_source_set_callback (rerun, NULL, g_object_ref (self), g_object_unref);
  g_source_attach (rerun, where);
  LOCK (self);
  self->rerun_source = rerun;
  if (self->rerun_wanted)
    g_source_set_ready_time (rerun, 0);
  UNLOCK (self);
  /* a poll cut short (a new kick fd, handler or context on a running
   * ring) left the driver told not to kick: the handler runs once more,
   * and its empty pop asks for kicks again and looks once more */
  if (was_polling)
    vhost_user_vring_kick (self);
  if (fd >= 0)
    {
      self->kick_source = g_unix_fd_source_new (fd, G_IO_IN);
      g_source_set_static_name (self->kick_source, "VhostUserVring kick");
      /* GLib takes a source that may not recurse out of the poll set for
       * its dispatch and puts it back after, each time waking the context
       * up (an eventfd write and one more poll per kick); on_kick() copes
       * with a nested iteration itself */
      g_source_set_can_recurse (self->kick_source, TRUE);
      g_source_set_callback (self->kick_source, (GSourceFunc) (void (*) (void)) on_kick,
                             g_object_ref (self), g_object_unref);
    }
  else
    {
      VHOST_USER_NOTE (VRING, "vring %u has no kick fd: polling", self->index);
      self->kick_source = g_source_new (&poll_funcs, sizeof (GSource));
      g_source_set_static_name (self->kick_source, "VhostUserVring poll");
      g_source_set_callback (self->kick_source, NULL, g_object_ref (self), g_object_unref);
      g_source_set_ready_time (self->kick_source, g_get_monotonic_time () + POLL_INTERVAL_US);
    }
  g_source_attach (self->kick_source, where);
}


