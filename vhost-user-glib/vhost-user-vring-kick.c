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
#include "vhost-user-vring-state-private.h"

static void
run_kick_handler (VhostUserVring *self)
{
  VhostUserVringKickFunc func;
  gboolean started;

  LOCK (self);
  func = self->kick_func;
  started = self->started;
  UNLOCK (self);
  if (func != NULL && started)
    func (self, self->kick_data);
}

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

static gboolean
on_kick (int          fd,
         GIOCondition condition,
         gpointer     user_data)
{
  VhostUserVring *self = user_data;
  guint64 count;
  gboolean current;

  /* the fd is still the ring's (a replaced one is closed in this thread,
   * later); the lock also orders this read after the fd arrived */
  LOCK (self);
  current = self->fds[VHOST_USER_VRING_FD_KICK] == fd;
  UNLOCK (self);
  if (!current)
    return G_SOURCE_CONTINUE;
  /* clear the eventfd first: a kick after this read is a new one */
  while (read (fd, &count, sizeof count) < 0 && errno == EINTR)
    ;
  run_kick_handler (self);
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
  int fd;

  if (self->kick_source != NULL)
    {
      g_source_destroy (self->kick_source);
      g_clear_pointer (&self->kick_source, g_source_unref);
    }
  LOCK (self);
  fd = self->fds[VHOST_USER_VRING_FD_KICK];
  UNLOCK (self);
  if (!self->started || self->kick_func == NULL || where == NULL)
    return;
  if (fd >= 0)
    {
      self->kick_source = g_unix_fd_source_new (fd, G_IO_IN);
      g_source_set_static_name (self->kick_source, "VhostUserVring kick");
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


