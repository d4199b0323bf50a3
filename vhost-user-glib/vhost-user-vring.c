/* vhost-user-vring.c: one virtqueue as the back-end sees it
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <glib-unix.h>
#include <glib/gstdio.h>

#include "vhost-user-debug-private.h"
#include "vhost-user-error.h"
#include "vhost-user-peer-fd-private.h"
#include "vhost-user-lock-private.h"
#include "vhost-user-vring-state-private.h"
#include "vhost-user-notify-private.h"

/**
 * VhostUserVring:
 *
 * The state of one virtqueue, as the front-end set it up: its size, where
 * it lives, the next available index, the kick, call and error eventfds,
 * and the two independent bits the specification defines, *started* (the
 * ring may be touched at all) and *enabled* (processing has side effects).
 *
 * A back-end owns one per queue ([method@VhostUser.Backend.get_vring]);
 * observers watch its properties. A ring starts stopped and disabled; with
 * protocol features negotiated `SET_VRING_ENABLE` enables it, and
 * `SET_VRING_KICK` starts it; `GET_VRING_BASE` stops it again, keeping
 * its state.
 *
 * Since: 1.0
 */

enum {
  PROP_0,
  PROP_INDEX,
  PROP_SIZE,
  PROP_BASE,
  PROP_ADDRESS,
  PROP_ENABLED,
  PROP_STARTED,
  PROP_KICK_FD,
  PROP_CALL_FD,
  PROP_ERR_FD,
  PROP_POLL_WINDOW,
  PROP_BUDGET,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_BOXED_TYPE (VhostUserVringAddress, vhost_user_vring_address,
                     vhost_user_vring_address_copy, vhost_user_vring_address_free)
G_DEFINE_FINAL_TYPE (VhostUserVring, vhost_user_vring, G_TYPE_OBJECT)

/**
 * vhost_user_vring_address_copy:
 * @address: a ring address
 *
 * A copy of @address.
 *
 * Returns: (transfer full): a copy of @address
 *
 * Since: 1.0
 */
VhostUserVringAddress *
vhost_user_vring_address_copy (const VhostUserVringAddress *address)
{
  return g_memdup2 (address, sizeof *address);
}

/**
 * vhost_user_vring_address_free:
 * @address: (transfer full): a ring address
 *
 * Frees a copy made by vhost_user_vring_address_copy().
 *
 * Since: 1.0
 */
void
vhost_user_vring_address_free (VhostUserVringAddress *address)
{
  g_free (address);
}

static void
drop_drained (VhostUserVring *self)
{
  GDestroyNotify notify;
  gpointer data;

  LOCK (self);
  notify = self->drained_notify;
  data = self->drained_data;
  self->drained_func = NULL;
  self->drained_data = NULL;
  self->drained_notify = NULL;
  UNLOCK (self);
  if (notify != NULL)
    notify (data);
}

/* With the lock held: the requests out are given back (or forgotten):
 * an invalidation waiting for them waits no more. */
void
vhost_user_vring_release_fence (VhostUserVring *self,
               guint           head)
{
  VhostUserIotlbFence *fence;

  if (head >= self->n_fences || self->fences[head] == NULL)
    return;
  fence = self->fences[head];
  self->fences[head] = NULL;
  vhost_user_iotlb_fence_release (fence);
}

static void
release_fences (VhostUserVring *self)
{
  for (guint i = 0; i < self->n_fences; i++)
    vhost_user_vring_release_fence (self, i);
}

/* With the lock held: the IOTLB's per-head tables, as big as the ring,
 * made once there is an IOTLB: a fence holds a head out until an
 * invalidation may complete, a span says what a head's buffers cover.
 * Without one they would be 24 bytes per entry zeroed at every size
 * change for nothing. */
void
vhost_user_vring_size_fences (VhostUserVring *self)
{
  guint n = MAX (self->size, 1);

  if (self->xlat.iotlb == NULL || self->n_fences == n)
    return;
  release_fences (self);
  g_free (self->fences);
  g_free (self->spans);
  self->n_fences = n;
  self->fences = g_new0 (VhostUserIotlbFence *, n);
  self->spans = g_new0 (guint64, 2 * (gsize) n);
}

/* With the lock held: the ring's parts are translated again on next use. */
void
vhost_user_vring_forget_areas (VhostUserVring *self)
{
  memset (self->xlat.area, 0, sizeof self->xlat.area);
  self->xlat.stale = FALSE;
  self->xlat.window_size = 0;
}

/* A ring's fds are the peer's, but only eventfds get here (the request's
 * decoder refuses any other kind), and closing one never waits: no need
 * for vhost_user_peer_fd_close()'s fstat() to tell a pipe. */
static void
close_eventfd (int fd)
{
  if (fd >= 0)
    g_close (fd, NULL);
}

static void
vhost_user_vring_finalize (GObject *object)
{
  VhostUserVring *self = VHOST_USER_VRING (object);

  if (self->kick_source != NULL)
    {
      g_source_destroy (self->kick_source);
      g_clear_pointer (&self->kick_source, g_source_unref);
    }
  if (self->rerun_source != NULL)
    {
      g_source_destroy (self->rerun_source);
      g_clear_pointer (&self->rerun_source, g_source_unref);
    }
  if (self->kick_notify != NULL)
    self->kick_notify (self->kick_data);
  drop_drained (self);
  release_fences (self);
  g_free (self->fences);
  g_free (self->spans);
  g_clear_pointer (&self->xlat.memory, vhost_user_memory_table_unref);
  g_clear_pointer (&self->xlat.iotlb, vhost_user_iotlb_unref);
  g_clear_error (&self->pending_error);
  g_clear_pointer (&self->retired_memory, g_ptr_array_unref);
  g_free (self->split_out);
  g_free (self->split_written);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_pointer (&self->ring_context, g_main_context_unref);
  g_clear_pointer (&self->inflight, g_bytes_unref);
  g_clear_pointer (&self->log.bytes, g_bytes_unref);
  g_free (self->resubmit);
  vhost_user_vring_packed_resize (&self->packed_ring, 0);

  for (guint i = 0; i < G_N_ELEMENTS (self->fds); i++)
    close_eventfd (self->fds[i]);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (vhost_user_vring_parent_class)->finalize (object);
}

static void
vhost_user_vring_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  VhostUserVring *self = VHOST_USER_VRING (object);

  LOCK (self);
  switch (prop_id)
    {
    case PROP_INDEX:
      g_value_set_uint (value, self->index);
      break;
    case PROP_SIZE:
      g_value_set_uint (value, self->size);
      break;
    case PROP_BASE:
      g_value_set_uint (value, self->base);
      break;
    case PROP_ADDRESS:
      g_value_set_boxed (value, &self->address);
      break;
    case PROP_ENABLED:
      g_value_set_boolean (value, self->enabled);
      break;
    case PROP_STARTED:
      g_value_set_boolean (value, self->started);
      break;
    case PROP_KICK_FD:
    case PROP_CALL_FD:
    case PROP_ERR_FD:
      g_value_set_int (value, self->fds[prop_id - PROP_KICK_FD]);
      break;
    case PROP_POLL_WINDOW:
      g_value_set_uint (value, self->poll_window_us);
      break;
    case PROP_BUDGET:
      g_value_set_uint (value, self->budget);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
  UNLOCK (self);
}

static void
vhost_user_vring_class_init (VhostUserVringClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->finalize = vhost_user_vring_finalize;
  object_class->get_property = vhost_user_vring_get_property;

  /**
   * VhostUserVring:index:
   *
   * The queue's index.
   *
   * Since: 1.0
   */
  properties[PROP_INDEX] = g_param_spec_uint ("index", NULL, NULL, 0, G_MAXUINT, 0, ro);
  /**
   * VhostUserVring:size:
   *
   * The number of descriptors (`SET_VRING_NUM`); 0 until set.
   *
   * Since: 1.0
   */
  properties[PROP_SIZE] = g_param_spec_uint ("size", NULL, NULL, 0, G_MAXUINT, 0, ro);
  /**
   * VhostUserVring:base:
   *
   * The next available index (`SET_VRING_BASE`, reported by
   * `GET_VRING_BASE`). For packed rings bits 0–14 are the next available
   * position, bit 15 the driver's wrap counter, bits 16–30 the next used
   * position and bit 31 the device's wrap counter. It is not notified as the
   * device consumes requests (that would be a signal per request); read
   * it when the ring stops.
   *
   * Since: 1.0
   */
  properties[PROP_BASE] = g_param_spec_uint ("base", NULL, NULL, 0, G_MAXUINT, 0, ro);
  /**
   * VhostUserVring:address:
   *
   * Where the ring lives (`SET_VRING_ADDR`).
   *
   * Since: 1.0
   */
  properties[PROP_ADDRESS] = g_param_spec_boxed ("address", NULL, NULL, VHOST_USER_TYPE_VRING_ADDRESS, ro);
  /**
   * VhostUserVring:enabled:
   *
   * Whether processing the ring may have side effects.
   *
   * Since: 1.0
   */
  properties[PROP_ENABLED] = g_param_spec_boolean ("enabled", NULL, NULL, FALSE, ro);
  /**
   * VhostUserVring:started:
   *
   * Whether the ring may be touched at all.
   *
   * Since: 1.0
   */
  properties[PROP_STARTED] = g_param_spec_boolean ("started", NULL, NULL, FALSE, ro);
  /**
   * VhostUserVring:kick-fd:
   *
   * The eventfd the driver kicks, or -1 (then the ring is polled).
   *
   * Since: 1.0
   */
  properties[PROP_KICK_FD] = g_param_spec_int ("kick-fd", NULL, NULL, -1, G_MAXINT, -1, ro);
  /**
   * VhostUserVring:call-fd:
   *
   * The eventfd the device signals when it used buffers, or -1.
   *
   * Since: 1.0
   */
  properties[PROP_CALL_FD] = g_param_spec_int ("call-fd", NULL, NULL, -1, G_MAXINT, -1, ro);
  /**
   * VhostUserVring:err-fd:
   *
   * The eventfd the device signals on errors, or -1.
   *
   * Since: 1.0
   */
  properties[PROP_ERR_FD] = g_param_spec_int ("err-fd", NULL, NULL, -1, G_MAXINT, -1, ro);
  /**
   * VhostUserVring:poll-window:
   *
   * The most, in microseconds, the ring busy-polls after a kick before it
   * sleeps on its kick fd again (the window adapts below it): see
   * vhost_user_vring_set_poll_window(). 0 (the default): no polling.
   *
   * Since: 1.0
   */
  properties[PROP_POLL_WINDOW] = g_param_spec_uint ("poll-window", NULL, NULL, 0, G_MAXUINT, 0, ro);
  /**
   * VhostUserVring:budget:
   *
   * The most requests one run of the kick handler pops before
   * vhost_user_vring_pop() says the ring is empty and the handler runs
   * again from an idle of the ring's context: see
   * vhost_user_vring_set_budget(). 0: no bound.
   *
   * Since: 1.0
   */
  properties[PROP_BUDGET] = g_param_spec_uint ("budget", NULL, NULL, 0, G_MAXUINT,
                                               VHOST_USER_VRING_DEFAULT_BUDGET, ro);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
vhost_user_vring_init (VhostUserVring *self)
{
  g_mutex_init (&self->lock);
  for (guint i = 0; i < G_N_ELEMENTS (self->fds); i++)
    self->fds[i] = -1;
  self->budget = VHOST_USER_VRING_DEFAULT_BUDGET;
  self->budget_left = G_MAXUINT;
  self->log.fd = -1;
}

VhostUserVring *
vhost_user_vring_new (guint         index,
                      GMainContext *context)
{
  VhostUserVring *self = g_object_new (VHOST_USER_TYPE_VRING, NULL);

  self->index = index;
  self->context = context != NULL ? g_main_context_ref (context) : g_main_context_ref_thread_default ();
  return self;
}

/* How many tables the ring keeps for requests the device still holds
 * (they go once none is out). */
guint
vhost_user_vring_get_n_retired_tables (VhostUserVring *self)
{
  guint n;

  LOCK (self);
  n = self->retired_memory != NULL ? self->retired_memory->len : 0;
  UNLOCK (self);
  return n;
}

/* The guest memory ring and buffer addresses are translated in; the ring
 * keeps the table it was given alive while it uses it. A request popped
 * from the old table keeps pointing into it: the regions are refcounted
 * by the tables that hold them, and the front-end does not take memory
 * away from requests it has in flight. */
void
vhost_user_vring_set_memory_table (VhostUserVring       *self,
                                   VhostUserMemoryTable *table)
{
  VhostUserMemoryTable *old;

  LOCK (self);
  old = self->xlat.memory;
  self->xlat.memory = table != NULL ? vhost_user_memory_table_ref (table) : NULL;
  /* (pointers into the old table) */
  vhost_user_vring_forget_areas (self);
  if (old != NULL && self->outstanding > 0)
    {
      /* a device thread may be copying into a request's buffers now */
      if (self->retired_memory == NULL)
        self->retired_memory = g_ptr_array_new_with_free_func ((GDestroyNotify) vhost_user_memory_table_unref);
      g_ptr_array_add (self->retired_memory, g_steal_pointer (&old));
    }
  UNLOCK (self);
  g_clear_pointer (&old, vhost_user_memory_table_unref);
}

/* With the lock held: a new session starts (or the ring is set up anew),
 * and what a session stopped without draining left out with the device
 * is no longer told apart: its pushes are refused like any head not out. */
static void
forget_abandoned (VhostUserVring *self)
{
  if (self->abandoned == 0)
    return;
  /* the device may still hold them, but the session they belong to is
   * over: an invalidation does not wait for them */
  for (guint i = 0; i < self->size; i++)
    if (self->packed ? vhost_user_vring_packed_is_abandoned (&self->packed_ring, i)
                     : self->split_out[i] == SPLIT_OUT_ABANDONED)
      vhost_user_vring_release_fence (self, i);
  if (self->packed)
    vhost_user_vring_packed_forget_abandoned (&self->packed_ring);
  else
    for (guint i = 0; i < self->size; i++)
      if (self->split_out[i] == SPLIT_OUT_ABANDONED)
        self->split_out[i] = SPLIT_OUT_NO;
  self->abandoned = 0;
}

/* With the lock held: the tables the ring's layout needs at its size,
 * and none for the other layout (at 32768 entries they are megabytes, and
 * a setup paid for both). The written records are not zeroed: each pop
 * writes its own before anything reads it. */
static void
size_tables (VhostUserVring *self,
             gboolean        resized)
{
  guint n = MAX (self->size, 1);

  if (self->packed)
    {
      g_clear_pointer (&self->split_out, g_free);
      g_clear_pointer (&self->split_written, g_free);
      if (resized || self->packed_ring.chains == NULL)
        vhost_user_vring_packed_resize (&self->packed_ring, self->size);
      return;
    }
  if (self->packed_ring.chains != NULL)
    vhost_user_vring_packed_resize (&self->packed_ring, 0);
  if (resized || self->split_out == NULL)
    {
      g_free (self->split_out);
      self->split_out = g_malloc0 (n);
      g_free (self->split_written);
      self->split_written = g_new (VhostUserVringWritten, n);
    }
}

void
vhost_user_vring_set_features (VhostUserVring *self,
                               gboolean        packed,
                               gboolean        event_idx)
{
  LOCK (self);
  /* a ring set up before the layout was known keeps its position */
  forget_abandoned (self);
  if (packed && !self->packed)
    self->base = vhost_user_vring_packed_base (self->base);
  if (self->packed != packed)
    {
      self->packed = packed;
      /* the new layout's tables, the old one's dropped */
      size_tables (self, FALSE);
    }
  self->event_idx = event_idx;
  UNLOCK (self);
}

/* Sets @field under the lock; notifies (outside it) if it changed. */
#define SET_AND_NOTIFY(self, field, value, prop) \
  G_STMT_START { \
    gboolean changed_; \
    LOCK (self); \
    changed_ = (self)->field != (value); \
    (self)->field = (value); \
    UNLOCK (self); \
    if (changed_) \
      vhost_user_notify (G_OBJECT (self), properties[prop]); \
  } G_STMT_END

/* A ring is resized only while it is stopped and the device holds none
 * of its requests: a head handed out belongs to the old size, and
 * GET_VRING_BASE waits for it (SET_VRING_NUM on a running ring used to
 * forget the requests in flight, and GET_VRING_BASE answered while the
 * device still wrote into their buffers). */
gboolean
vhost_user_vring_can_resize (VhostUserVring  *self,
                             GError         **error)
{
  gboolean started;
  guint in_flight;

  LOCK (self);
  started = self->started;
  in_flight = self->in_flight;
  UNLOCK (self);
  if (started || in_flight > 0)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                   "Queue %u cannot be resized while it %s", self->index,
                   started ? "is running" : "has requests in flight");
      return FALSE;
    }
  return TRUE;
}

void
vhost_user_vring_set_size (VhostUserVring *self,
                           guint           size)
{
  gboolean changed;

  LOCK (self);
  forget_abandoned (self);
  changed = self->size != size;
  self->size = size;
  size_tables (self, changed);
  if (changed)
    {
      /* heads of the old size: released, and the tables made again */
      release_fences (self);
      self->n_fences = 0;
      g_clear_pointer (&self->fences, g_free);
      g_clear_pointer (&self->spans, g_free);
      vhost_user_vring_size_fences (self);
      vhost_user_vring_forget_areas (self);
      /* heads handed out, or to be resubmitted, were of the old size */
      self->in_flight = 0;
      self->n_resubmit = self->next_resubmit = 0;
    }
  UNLOCK (self);
  if (changed)
    vhost_user_notify (G_OBJECT (self), properties[PROP_SIZE]);
}

/**
 * vhost_user_vring_set_base:
 * @self: a ring
 * @base: the next available index (packed rings: with wrap counters)
 *
 * Records how far the device got, for a device that processes the ring
 * itself: `GET_VRING_BASE` reports this value, and a front-end resumes
 * from it after a stop, a migration or a reconnect.
 *
 * For a packed ring @base holds both halves (see
 * [property@VhostUser.Vring:base]); one whose used half (bits 16–31) is 0
 * means the device used all it took, so the used half is set equal to
 * the available one, as a front-end that sends only the available half
 * (DPDK) means. Requests popped before are forgotten.
 *
 * Since: 1.0
 */
void
vhost_user_vring_set_base (VhostUserVring *self,
                           guint           base)
{
  g_return_if_fail (VHOST_USER_IS_VRING (self));

  LOCK (self);
  self->used_idx_known = FALSE;
  forget_abandoned (self);
  if (self->packed)
    {
      base = vhost_user_vring_packed_base (base);
      vhost_user_vring_packed_forget (&self->packed_ring);
    }
  UNLOCK (self);
  SET_AND_NOTIFY (self, base, base, PROP_BASE);
}

void
vhost_user_vring_set_address (VhostUserVring              *self,
                              const VhostUserVringAddress *address)
{
  LOCK (self);
  self->address = *address;
  vhost_user_vring_forget_areas (self);
  self->parked = FALSE;
  /* the spec: the used index is re-read from the ring after SET_VRING_ADDR */
  self->used_idx_known = FALSE;
  self->signalled_used_valid = FALSE;
  self->broken = FALSE;
  UNLOCK (self);
  vhost_user_notify (G_OBJECT (self), properties[PROP_ADDRESS]);
}

void
vhost_user_vring_set_enabled (VhostUserVring *self,
                              gboolean        enabled)
{
  enabled = !!enabled;
  if (self->enabled != enabled)
    VHOST_USER_NOTE (VRING, "vring %u %s", self->index, enabled ? "enabled" : "disabled");
  SET_AND_NOTIFY (self, enabled, enabled, PROP_ENABLED);
}

void
vhost_user_vring_set_started (VhostUserVring *self,
                              gboolean        started)
{
  started = !!started;
  if (self->started == started)
    return;

  VHOST_USER_NOTE (VRING, "vring %u %s", self->index, started ? "started" : "stopped");
  LOCK (self);
  self->started = started;
  self->unpoppable = 0;
  if (started)
    {
      forget_abandoned (self);
      vhost_user_vring_inflight_recover (self);
    }
  UNLOCK (self);
  vhost_user_vring_update_kick_watch (self);
  vhost_user_notify (G_OBJECT (self), properties[PROP_STARTED]);
  /* a front-end need not kick a ring it starts: look at it once */
  if (started && self->kick_func != NULL)
    vhost_user_vring_kick (self);
}

static gboolean
do_nothing (gpointer user_data)
{
  return G_SOURCE_REMOVE;
}

/* (a destroy notify: it runs even if the context is dropped unrun) */
static void
close_fd (gpointer user_data)
{
  close_eventfd (GPOINTER_TO_INT (user_data));
}

/* Takes @fd (or -1); a replaced fd is closed. */
void
vhost_user_vring_take_fd (VhostUserVring       *self,
                          VhostUserVringFdKind  kind,
                          int                   fd)
{
  gboolean kick_elsewhere;
  int old;

  LOCK (self);
  old = self->fds[kind];
  self->fds[kind] = fd;
  /* a call fd is closed under the lock notify writes it under */
  kick_elsewhere = kind == VHOST_USER_VRING_FD_KICK && self->ring_context != NULL;
  if (old >= 0 && old != fd && !kick_elsewhere)
    close_eventfd (old);
  UNLOCK (self);
  if (kind == VHOST_USER_VRING_FD_KICK)
    vhost_user_vring_update_kick_watch (self);
  if (old >= 0 && old != fd && kick_elsewhere)
    {
      /* the ring's thread may be reading the old kick fd right now: it is
       * closed there, after the watch on it is gone, not under its feet */
      GSource *source = g_idle_source_new ();

      g_source_set_static_name (source, "VhostUserVring close kick fd");
      g_source_set_callback (source, do_nothing, GINT_TO_POINTER (old), close_fd);
      g_source_attach (source, self->ring_context);
      g_source_unref (source);
    }
  if (old != fd)
    vhost_user_notify (G_OBJECT (self), properties[PROP_KICK_FD + kind]);
}

/* Back to what a new connection sees: stopped, disabled, no fds, nothing
 * in flight (a request a device still holds is refused when pushed). */
void
vhost_user_vring_reset (VhostUserVring *self)
{
  static const VhostUserVringAddress zero = { 0 };
  VhostUserNotifyBatch batch;

  vhost_user_notify_batch_begin (&batch, self);
  vhost_user_vring_set_started (self, FALSE);
  vhost_user_vring_set_enabled (self, FALSE);
  vhost_user_vring_set_size (self, 0);
  vhost_user_vring_set_base (self, 0);
  vhost_user_vring_set_address (self, &zero);
  LOCK (self);
  self->broken = FALSE;
  self->in_flight = 0;
  self->n_resubmit = self->next_resubmit = 0;
  UNLOCK (self);
  /* (its destroy notify is not ours) */
  vhost_user_notify_batch_suspend (&batch);
  drop_drained (self);
  vhost_user_notify_batch_resume (&batch);
  for (guint kind = 0; kind < G_N_ELEMENTS (self->fds); kind++)
    vhost_user_vring_take_fd (self, kind, -1);
  vhost_user_notify_batch_end (&batch);
}

static gboolean
run_drained (gpointer user_data)
{
  VhostUserVring *self = user_data;
  VhostUserVringDrainedFunc func;
  GDestroyNotify notify;
  gpointer data;

  LOCK (self);
  func = self->in_flight == 0 && !self->started ? self->drained_func : NULL;
  data = self->drained_data;
  notify = self->drained_notify;
  if (func != NULL)
    self->drained_func = NULL, self->drained_data = NULL, self->drained_notify = NULL;
  UNLOCK (self);
  if (func != NULL)
    {
      func (self, data);
      if (notify != NULL)
        notify (data);
    }
  return G_SOURCE_REMOVE;
}

/* Calls @func in the back-end's context once the ring is stopped and
 * every request popped from it was pushed: at once if that is so now.
 * GET_VRING_BASE answers through it. */
void
vhost_user_vring_when_drained (VhostUserVring            *self,
                               VhostUserVringDrainedFunc  func,
                               gpointer                   user_data,
                               GDestroyNotify             notify)
{
  drop_drained (self);
  LOCK (self);
  self->drained_func = func;
  self->drained_data = user_data;
  self->drained_notify = notify;
  if (self->in_flight > 0)
    VHOST_USER_NOTE (VRING, "vring %u: waiting for %u requests in flight", self->index, self->in_flight);
  UNLOCK (self);
  run_drained (self);
}


/* GET_VRING_BASE_SKIP_DRAIN: stops the ring now, without waiting for the
 * requests in flight, and stores where it stands in @base. Those
 * requests stay recorded in the in-flight area (split and packed), so a
 * successor back-end given the area (SET_INFLIGHT_FD) resubmits them;
 * @base counts them as consumed, as after a crash. The device still
 * holds them: a later push of one is dropped quietly (TRUE, nothing
 * written to the used ring or the area), since it belongs to the stopped
 * session; its memory stays mapped until then. Without an in-flight area
 * the requests are lost to the driver, as in a crash. A GET_VRING_BASE
 * waiting for the ring to drain is answered. If the ring is started
 * again in this process, the requests of the stopped session are
 * forgotten first (a push of one is then refused, not dropped). */
void
vhost_user_vring_stop_skip_drain (VhostUserVring *self,
                                  guint32        *base)
{
  guint n = 0;

  /* no pop from here on */
  vhost_user_vring_set_started (self, FALSE);
  LOCK (self);
  if (self->packed)
    n = self->packed_ring.chains != NULL ? vhost_user_vring_packed_abandon (&self->packed_ring) : 0;
  else
    for (guint i = 0; i < self->size && self->split_out != NULL; i++)
      if (self->split_out[i] == SPLIT_OUT_YES)
        {
          self->split_out[i] = SPLIT_OUT_ABANDONED;
          n++;
        }
  if (n > 0 || self->in_flight > 0)
    VHOST_USER_NOTE (VRING, "vring %u stopped with %u requests in flight, left in the in-flight area",
                     self->index, n);
  self->abandoned += n;
  self->in_flight = 0;
  *base = self->base;
  vhost_user_vring_schedule_drained (self);
  UNLOCK (self);
}

/* Called with the lock held when a push emptied a stopped ring. */
void
vhost_user_vring_schedule_drained (VhostUserVring *self)
{
  GSource *source;

  if (self->drained_func == NULL)
    return;
  source = g_idle_source_new ();
  g_source_set_static_name (source, "VhostUserVring drained");
  g_source_set_callback (source, run_drained, g_object_ref (self), g_object_unref);
  g_source_attach (source, self->context);
  g_source_unref (source);
}

/**
 * vhost_user_vring_get_in_flight:
 * @self: a ring
 *
 * Gets how many requests the device popped and has not pushed back yet.
 * A stopping ring (`GET_VRING_BASE`) is reported to the front-end only
 * once this is 0: a device that completes requests later keeps the
 * protocol waiting, as the specification asks, not the requests lost.
 *
 * Returns: the number of requests in flight
 *
 * Since: 1.0
 */
guint
vhost_user_vring_get_in_flight (VhostUserVring *self)
{
  guint n;

  g_return_val_if_fail (VHOST_USER_IS_VRING (self), 0);
  LOCK (self);
  n = self->in_flight;
  UNLOCK (self);
  return n;
}

/**
 * vhost_user_vring_set_context:
 * @self: a ring
 * @context: (nullable): where kicks are handled, or %NULL for the
 *   back-end's context
 *
 * Moves the ring's data path to @context: the kick handler (see
 * vhost_user_vring_set_kick_handler()) runs there, on each kick and when
 * the ring starts. A multi-queue device gives each queue a thread of its
 * own this way, running a #GMainLoop on @context.
 *
 * vhost_user_vring_pop(), vhost_user_vring_push() and
 * vhost_user_vring_call() may then be called from that thread (one
 * thread at a time per ring) while the back-end keeps handling the
 * front-end's requests in its own: the ring locks itself against them.
 * Set the context and the handler before the ring starts.
 *
 * Since: 1.0
 */
void
vhost_user_vring_set_context (VhostUserVring *self,
                              GMainContext   *context)
{
  g_return_if_fail (VHOST_USER_IS_VRING (self));

  if (context == self->context)
    context = NULL;
  if (context == self->ring_context)
    return;
  g_clear_pointer (&self->ring_context, g_main_context_unref);
  if (context != NULL)
    self->ring_context = g_main_context_ref (context);
  vhost_user_vring_update_kick_watch (self);
}

/**
 * vhost_user_vring_get_context:
 * @self: a ring
 *
 * Gets where the ring's kicks are handled: the context its kick watch
 * (or polling) is attached to, and where the kick handler runs.
 *
 * Returns: (transfer none): the one given to
 *   vhost_user_vring_set_context(), or else the back-end's
 *   ([property@VhostUser.Backend:main-context], or the thread-default
 *   context where the back-end was made)
 *
 * Since: 1.0
 */
GMainContext *
vhost_user_vring_get_context (VhostUserVring *self)
{
  g_return_val_if_fail (VHOST_USER_IS_VRING (self), NULL);
  return self->ring_context != NULL ? self->ring_context : self->context;
}

/**
 * vhost_user_vring_get_index:
 * @self: a ring
 *
 * Gets the queue's index.
 *
 * Returns: the queue's index
 *
 * Since: 1.0
 */
guint
vhost_user_vring_get_index (VhostUserVring *self)
{
  g_return_val_if_fail (VHOST_USER_IS_VRING (self), 0);
  return self->index;
}

/**
 * vhost_user_vring_get_size:
 * @self: a ring
 *
 * Gets the number of descriptors, 0 until the front-end set it.
 *
 * Returns: the number of descriptors, 0 until the front-end set it
 *
 * Since: 1.0
 */
guint
vhost_user_vring_get_size (VhostUserVring *self)
{
  guint size;

  g_return_val_if_fail (VHOST_USER_IS_VRING (self), 0);
  LOCK (self);
  size = self->size;
  UNLOCK (self);
  return size;
}

/**
 * vhost_user_vring_get_base:
 * @self: a ring
 *
 * Gets the next available index (see [property@VhostUser.Vring:base]).
 *
 * Returns: the next available index (see [property@VhostUser.Vring:base])
 *
 * Since: 1.0
 */
guint
vhost_user_vring_get_base (VhostUserVring *self)
{
  guint base;

  g_return_val_if_fail (VHOST_USER_IS_VRING (self), 0);
  LOCK (self);
  base = self->base;
  UNLOCK (self);
  return base;
}

/**
 * vhost_user_vring_get_address:
 * @self: a ring
 *
 * Gets where the ring lives.
 *
 * Returns: (transfer none): where the ring lives
 *
 * Since: 1.0
 */
const VhostUserVringAddress *
vhost_user_vring_get_address (VhostUserVring *self)
{
  g_return_val_if_fail (VHOST_USER_IS_VRING (self), NULL);
  return &self->address;
}

/**
 * vhost_user_vring_get_enabled:
 * @self: a ring
 *
 * Gets whether the ring is enabled.
 *
 * Returns: whether the ring is enabled
 *
 * Since: 1.0
 */
gboolean
vhost_user_vring_get_enabled (VhostUserVring *self)
{
  gboolean enabled;

  g_return_val_if_fail (VHOST_USER_IS_VRING (self), FALSE);
  LOCK (self);
  enabled = self->enabled;
  UNLOCK (self);
  return enabled;
}

/**
 * vhost_user_vring_get_started:
 * @self: a ring
 *
 * Gets whether the ring is started.
 *
 * Returns: whether the ring is started
 *
 * Since: 1.0
 */
gboolean
vhost_user_vring_get_started (VhostUserVring *self)
{
  gboolean started;

  g_return_val_if_fail (VHOST_USER_IS_VRING (self), FALSE);
  LOCK (self);
  started = self->started;
  UNLOCK (self);
  return started;
}

/**
 * vhost_user_vring_get_kick_fd:
 * @self: a ring
 *
 * Gets the kick eventfd (owned by the ring), or -1.
 *
 * Returns: the kick eventfd (owned by the ring), or -1
 *
 * Since: 1.0
 */
int
vhost_user_vring_get_kick_fd (VhostUserVring *self)
{
  g_return_val_if_fail (VHOST_USER_IS_VRING (self), -1);
  return self->fds[VHOST_USER_VRING_FD_KICK];
}

/**
 * vhost_user_vring_get_call_fd:
 * @self: a ring
 *
 * Gets the call eventfd (owned by the ring), or -1.
 *
 * Returns: the call eventfd (owned by the ring), or -1
 *
 * Since: 1.0
 */
int
vhost_user_vring_get_call_fd (VhostUserVring *self)
{
  g_return_val_if_fail (VHOST_USER_IS_VRING (self), -1);
  return self->fds[VHOST_USER_VRING_FD_CALL];
}

/**
 * vhost_user_vring_get_err_fd:
 * @self: a ring
 *
 * Gets the error eventfd (owned by the ring), or -1.
 *
 * Returns: the error eventfd (owned by the ring), or -1
 *
 * Since: 1.0
 */
int
vhost_user_vring_get_err_fd (VhostUserVring *self)
{
  g_return_val_if_fail (VHOST_USER_IS_VRING (self), -1);
  return self->fds[VHOST_USER_VRING_FD_ERR];
}

/* --- dirty-page logging --- */

void
vhost_user_vring_set_logging (VhostUserVring *self,
                              gboolean        log_all,
                              GBytes         *log,
                              int             log_fd)
{
  GBytes *old;

  LOCK (self);
  old = self->log.bytes;
  self->log.bytes = log != NULL ? g_bytes_ref (log) : NULL;
  self->log.all = log_all;
  self->log.fd = log_fd;
  UNLOCK (self);
  g_clear_pointer (&old, g_bytes_unref);
}

/* Whether the driver wants to hear about the used entries pushed since the
 * last call: EVENT_IDX's used_event, or the NO_INTERRUPT flag. */
static gboolean
driver_wants_call (VhostUserVring *self)
{
  if (!self->started || self->broken || self->size == 0 || self->xlat.memory == NULL)
    return TRUE;
  if (self->packed)
    return vhost_user_vring_packed_wants_call (&PACKED_VIEW (self));
  return vhost_user_vring_split_wants_call (self);
}

void
vhost_user_vring_set_broken_func (VhostUserVring           *self,
                                  VhostUserVringBrokenFunc  func,
                                  gpointer                  user_data)
{
  LOCK (self);
  self->broken_func = func;
  self->broken_data = user_data;
  UNLOCK (self);
}

void
vhost_user_vring_set_call_func (VhostUserVring         *self,
                                VhostUserVringCallFunc  func,
                                gpointer                user_data)
{
  LOCK (self);
  self->call_func = func;
  self->call_data = user_data;
  UNLOCK (self);
}

/**
 * vhost_user_vring_call:
 * @self: a ring
 * @error: return location for a #GError
 *
 * Tells the driver that used buffers are waiting: signals the call
 * eventfd, unless the driver asked not to be told now (the
 * `NO_INTERRUPT` flag, or with `VIRTIO_RING_F_EVENT_IDX` a `used_event`
 * not yet reached; on a packed ring the driver area's flags, DISABLE, or
 * DESC with a descriptor event not yet reached). Without a call fd the
 * back-end sends an in-band `BACKEND_VRING_CALL` when in-band
 * notifications were negotiated, and otherwise does nothing (the driver
 * polls).
 *
 * (Named after the call eventfd it signals; it was `notify` before 1.0,
 * which hid [method@GObject.Object.notify] in bindings.)
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
vhost_user_vring_call (VhostUserVring  *self,
                       GError         **error)
{
  gboolean ok = TRUE;
  int fd;

  g_return_val_if_fail (VHOST_USER_IS_VRING (self), FALSE);

  LOCK (self);
  fd = self->fds[VHOST_USER_VRING_FD_CALL];
  if ((fd < 0 && self->call_func == NULL) || !driver_wants_call (self))
    goto out;
  self->signalled_used = self->used_idx;
  self->signalled_used_valid = self->used_idx_known;
  vhost_user_vring_packed_called (&self->packed_ring);
  if (fd < 0)
    {
      /* under the lock: the back-end clears it before it goes away, and
       * the function only queues work to the back-end's context */
      self->call_func (self, self->call_data);
      goto out;
    }
  /* (under the lock, so never a write that could wait: the front-end
   * shares the fd's O_NONBLOCK) */
  if (!vhost_user_eventfd_signal (fd))
    {
      int errsv = errno;

      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED,
                   "Could not signal vring %u: %s", self->index, g_strerror (errsv));
      ok = FALSE;
    }
out:
  UNLOCK (self);
  return ok;
}

/**
 * vhost_user_vring_set_kick_handler:
 * @self: a ring
 * @func: (nullable) (scope notified) (closure user_data): called on each kick
 * @user_data: data for @func
 * @notify: (nullable): frees @user_data
 *
 * Sets what processes the ring: @func runs in the ring's context (see
 * vhost_user_vring_set_context()) when the driver kicks, once when the
 * ring starts, and every millisecond when the front-end gave no kick fd
 * (polling). It should pop until vhost_user_vring_pop() says the ring is
 * empty; past the ring's budget (vhost_user_vring_set_budget()) pop says
 * so early, and the handler runs again soon. Set it before the ring
 * starts.
 *
 * Since: 1.0
 */
void
vhost_user_vring_set_kick_handler (VhostUserVring         *self,
                                   VhostUserVringKickFunc  func,
                                   gpointer                user_data,
                                   GDestroyNotify          notify)
{
  GDestroyNotify old_notify;
  gpointer old_data;

  g_return_if_fail (VHOST_USER_IS_VRING (self));

  LOCK (self);
  old_notify = self->kick_notify;
  old_data = self->kick_data;
  self->kick_func = func;
  self->kick_data = user_data;
  self->kick_notify = notify;
  UNLOCK (self);
  if (old_notify != NULL)
    old_notify (old_data);
  vhost_user_vring_update_kick_watch (self);
}

/**
 * vhost_user_vring_set_poll_window:
 * @self: a ring
 * @usecs: how long to busy-poll after the last request, in microseconds;
 *   0 not to
 *
 * Trades a CPU for latency: after a kick, the ring's kick handler runs on
 * every iteration of the ring's main context (see
 * vhost_user_vring_set_context()) instead of waiting for the next kick,
 * and the driver is asked not to kick (the used ring's `NO_NOTIFY`,
 * `avail_event` left behind with `VIRTIO_RING_F_EVENT_IDX`, or the packed
 * device area's `DISABLE`), until the handler has found nothing for
 * @usecs; then kicks are asked for again and the ring sleeps on its kick
 * fd. A driver that busy-polls its used ring then never waits for a
 * wake-up on either side. Best with the ring in a thread of its own: the
 * context spins while it polls.
 *
 * @usecs is the most the ring polls: the window adapts, as QEMU's
 * `aio-poll-max-ns` does. It starts at @usecs; a kick that comes after
 * polling ran out doubles it (from 4 µs, up to @usecs) if polling @usecs
 * would have caught it, and drops it to 0 if not, polling having been
 * CPU spent for nothing; work found while polling leaves it. So a ring
 * the driver kicks seldom stops polling, and one it kicks often polls.
 * vhost_user_vring_get_current_poll_window() tells where it is.
 *
 * Since: 1.0
 */
void
vhost_user_vring_set_poll_window (VhostUserVring *self,
                                  guint           usecs)
{
  gboolean changed;

  g_return_if_fail (VHOST_USER_IS_VRING (self));

  LOCK (self);
  changed = self->poll_window_us != usecs;
  self->poll_window_us = usecs;
  /* adapting starts again, from the window set */
  self->poll_now_us = usecs;
  self->poll_ran_out = 0;
  UNLOCK (self);
  if (changed)
    vhost_user_notify (G_OBJECT (self), properties[PROP_POLL_WINDOW]);
}

/**
 * vhost_user_vring_get_current_poll_window:
 * @self: a ring
 *
 * How long the ring polls after its next kick, as the window adapts
 * between 0 and vhost_user_vring_get_poll_window() (see
 * vhost_user_vring_set_poll_window()). It moves with the kicks, from the
 * ring's context: a snapshot, and not a property (nothing is notified).
 *
 * Returns: the window now, in microseconds
 *
 * Since: 1.0
 */
guint
vhost_user_vring_get_current_poll_window (VhostUserVring *self)
{
  guint usecs;

  g_return_val_if_fail (VHOST_USER_IS_VRING (self), 0);

  LOCK (self);
  usecs = self->poll_now_us;
  UNLOCK (self);
  return usecs;
}

/**
 * vhost_user_vring_get_poll_window:
 * @self: a ring
 *
 * See vhost_user_vring_set_poll_window().
 *
 * Returns: the busy-poll window, in microseconds
 *
 * Since: 1.0
 */
guint
vhost_user_vring_get_poll_window (VhostUserVring *self)
{
  guint usecs;

  g_return_val_if_fail (VHOST_USER_IS_VRING (self), 0);

  LOCK (self);
  usecs = self->poll_window_us;
  UNLOCK (self);
  return usecs;
}

/**
 * vhost_user_vring_set_budget:
 * @self: a ring
 * @max_requests: the most requests a run of the kick handler pops; 0 for
 *   no bound
 *
 * Bounds what one run of the kick handler takes off the ring, so that a
 * driver that keeps the ring full (a guest sending at line rate, or one
 * whose driver busy-polls its used ring and makes each request available
 * again at once) cannot hold the ring's context: once the run has popped
 * @max_requests, vhost_user_vring_pop() (and pop_batch) says the ring is
 * empty without looking at it, the handler returns as it does on an
 * empty ring, and the ring runs it again from a source of the ring's
 * context at %G_PRIORITY_LOW, the priority of busy-polling. Between the
 * two runs the context dispatches what else is ready: the connection's
 * socket, other rings, timers, idles. Linux's vhost-net bounds its runs
 * the same way.
 *
 * A handler that pops until pop says the ring is empty, as every handler
 * must, needs nothing else. Pops outside a run of the handler (a network
 * device filling receive buffers from its tap's watch), or from another
 * thread during one, are not bounded, and a request handed back
 * (vhost_user_vring_unpop()) does not count. A bound below
 * %VHOST_USER_VRING_MAX_UNPOP acts as that one (a packet into merged
 * receive buffers may take that many pops at once). The default is 256;
 * the bound takes effect from the next run.
 *
 * Since: 1.0
 */
void
vhost_user_vring_set_budget (VhostUserVring *self,
                             guint           max_requests)
{
  gboolean changed;

  g_return_if_fail (VHOST_USER_IS_VRING (self));

  LOCK (self);
  changed = self->budget != max_requests;
  self->budget = max_requests;
  UNLOCK (self);
  if (changed)
    vhost_user_notify (G_OBJECT (self), properties[PROP_BUDGET]);
}

/**
 * vhost_user_vring_get_budget:
 * @self: a ring
 *
 * See vhost_user_vring_set_budget().
 *
 * Returns: the most requests a run of the kick handler pops, 0 for no
 *   bound
 *
 * Since: 1.0
 */
guint
vhost_user_vring_get_budget (VhostUserVring *self)
{
  guint max_requests;

  g_return_val_if_fail (VHOST_USER_IS_VRING (self), 0);

  LOCK (self);
  max_requests = self->budget;
  UNLOCK (self);
  return max_requests;
}
