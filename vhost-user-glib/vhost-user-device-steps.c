/* vhost-user-device-steps.c: how a device's operations run: queued and
 * run one at a time, each planned as steps in QEMU's order and the steps
 * sent one after the other
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Below vhost-user-device.c, which calls in here (an automatic reconnect
 * is an operation too, and the blocking forms wait for one) and is called
 * by nothing here: the object's property specs and signal ids reach this
 * file as data.
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <glib-unix.h>

#include "vhost-user-device.h"
#include "vhost-user-device-private.h"
#include "vhost-user-driver-ring-private.h"
#include "vhost-user-error.h"
#include "vhost-user-frontend-private.h"
#include "vhost-user-memory-table-private.h"
#include "vhost-user-peer-fd-private.h"
#include "vhost-user-state-copy-private.h"
#include "vhost-user-notify-private.h"

#define FIRST_DELAY_MS 10

/* virtio 1.2, 2.1: ACKNOWLEDGE | DRIVER | DRIVER_OK | FEATURES_OK */
#define STATUS_RUNNING 0xf

void
vhost_user_device_set_state (VhostUserDevice      *self,
                             VhostUserDeviceState  state)
{
  if (self->state == state)
    return;
  self->state = state;
  vhost_user_notify (G_OBJECT (self), vhost_user_device_properties[PROP_STATE]);
}

static gboolean
acked_protocol_features_bit (VhostUserDevice *self)
{
  return (vhost_user_frontend_get_acked_features (self->frontend) &
          VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_PROTOCOL_FEATURES)) != 0;
}

static gboolean
any_packed (VhostUserDevice *self)
{
  for (guint i = 0; i < self->n_rings; i++)
    if (self->rings[i].driver != NULL && vhost_user_driver_ring_get_packed (self->rings[i].driver))
      return TRUE;
  return FALSE;
}

static gboolean
packed_negotiated (VhostUserDevice *self)
{
  return (self->acked_features & VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_RING_PACKED)) != 0;
}

/* A stop that leaves requests in flight: plain GET_VRING_BASE where the
 * back-end records them in its in-flight area instead of draining
 * (GET_VRING_BASE_INFLIGHT), else the separate request. */
static gboolean
can_stop_without_draining (VhostUserDevice *self)
{
  return (acked_protocol (self, VHOST_USER_PROTOCOL_FEATURE_GET_VRING_BASE_INFLIGHT) &&
          acked_protocol (self, VHOST_USER_PROTOCOL_FEATURE_INFLIGHT_SHMFD)) ||
         acked_protocol (self, VHOST_USER_PROTOCOL_FEATURE_GET_VRING_BASE_SKIP_DRAIN);
}

static gboolean
uses_skip_drain_request (VhostUserDevice *self)
{
  return !self->drain_on_stop &&
         !(acked_protocol (self, VHOST_USER_PROTOCOL_FEATURE_GET_VRING_BASE_INFLIGHT) &&
           acked_protocol (self, VHOST_USER_PROTOCOL_FEATURE_INFLIGHT_SHMFD));
}

/* --- guest memory as this process sees it --- */

/* A pointer to @len bytes at a front-end (user) address, when one region
 * holds them all. */
static gpointer
host_pointer (VhostUserDevice *self,
              guint64          user_addr,
              guint64          len)
{
  for (guint i = 0; i < self->regions->len; i++)
    {
      VhostUserMemoryRegion *region = g_ptr_array_index (self->regions, i);
      guint64 start = vhost_user_memory_region_get_user_addr (region);
      guint64 size = vhost_user_memory_region_get_size (region);

      if (user_addr >= start && user_addr - start <= size && len <= size - (user_addr - start))
        return (guint8 *) vhost_user_memory_region_get_host_addr (region) + (user_addr - start);
    }
  return NULL;
}

/* Where a back-end that lost its state goes on from: for a split ring the
 * used index the old one left in shared memory (the spec's rule, and what
 * the in-flight area is relative to); a packed ring has no such index in
 * memory, so only a driver ring, which knows its positions, can say. */
static guint
restart_base (VhostUserDevice *self,
              Ring            *ring,
              gint            *outstanding)
{
  guint16 *idx;

  *outstanding = 0;
  if (ring->driver != NULL)
    {
      guint n;
      guint base = vhost_user_driver_ring_restart_base (ring->driver, &n);

      *outstanding = (gint) n;
      return base;
    }
  if (packed_negotiated (self))
    {
      *outstanding = -1;
      return ring->base;
    }
  idx = host_pointer (self, ring->used + 2, 2);
  if (idx == NULL)
    return ring->base;
  if (host_pointer (self, ring->avail + 2, 2) != NULL)
    *outstanding = (guint16) (__atomic_load_n ((guint16 *) host_pointer (self, ring->avail + 2, 2), __ATOMIC_ACQUIRE) -
                              __atomic_load_n (idx, __ATOMIC_ACQUIRE));
  return __atomic_load_n (idx, __ATOMIC_ACQUIRE);
}

/* --- operations: steps in order, one operation at a time --- */

typedef enum {
  STEP_DIAL,
  STEP_NEGOTIATE,
  STEP_CHECK_FEATURES,
  STEP_QUEUE_NUM,
  STEP_CHANNEL,
  STEP_MEMORY,          /* index: the region */
  STEP_GET_INFLIGHT,
  STEP_SET_INFLIGHT,
  STEP_SET_UP,
  STEP_AT_RISK,
  STEP_RING_NUM,        /* index: the ring, from here on */
  STEP_RING_BASE,
  STEP_RING_ADDR,
  STEP_RING_KICK,
  STEP_RING_CALL,
  STEP_RING_ENABLE,     /* value: enable or not */
  STEP_STATUS,          /* value: the status byte */
  STEP_RUNNING,
  STEP_KICK,
  STEP_GET_BASE,
  STEP_STOPPED,
  STEP_ADD_REGION,
  STEP_REMOVE_REGION,
  STEP_STATE_FD,        /* value: the direction */
  STEP_STATE_COPY,
  STEP_STATE_CHECK,
  STEP_LOG_BASE,
  STEP_LOG_FEATURES,    /* value: log or not */
  STEP_LOG_RING,        /* index: the ring; value: log or not */
  STEP_LOG_DONE,        /* value: log or not */
  STEP_FEATURES_AGAIN,
} StepKind;

typedef struct {
  StepKind kind;
  guint    index;
  guint64  value;
} Step;

typedef struct {
  OpKind                 kind;
  GArray                *steps;
  guint                  next;
  gboolean               sent;       /* something reached the back-end */
  VhostUserMemoryRegion *region;
  guint                  index;
  gboolean               enabled;
  guint                  attempt;
  gboolean               automatic;
  GSource               *delay;
  gboolean               replay;     /* rings' bases come from shared memory */
  GObject               *stream;     /* the caller's: where the state goes, or comes from */
  gboolean               was_running; /* want_running before a start */
  int                    pipe_fd;    /* our end of the state's pipe */
  gboolean               state_fd_accepted; /* the back-end has (or may have) the pipe: its end is the state's */
  gboolean               state_refused;     /* the back-end refused the state at CHECK_DEVICE_STATE */
  GError                *closed_early;      /* a load's copy: the back-end closed its end before ours */
} Op;

static void
op_free (Op *op)
{
  g_clear_object (&op->stream);
  g_clear_error (&op->closed_early);
  if (op->pipe_fd >= 0)
    vhost_user_peer_fd_close (op->pipe_fd);
  g_clear_pointer (&op->steps, g_array_unref);
  g_clear_pointer (&op->region, vhost_user_memory_region_unref);
  if (op->delay != NULL)
    {
      g_source_destroy (op->delay);
      g_source_unref (op->delay);
    }
  g_free (op);
}

static void
add_step (Op       *op,
          StepKind  kind,
          guint     index,
          guint64   value)
{
  Step step = { kind, index, value };

  g_array_append_val (op->steps, step);
}

/* Connection-wide state, in QEMU's order. */
static void
plan_setup (VhostUserDevice *self,
            Op              *op)
{
  add_step (op, STEP_NEGOTIATE, 0, 0);
  add_step (op, STEP_CHECK_FEATURES, 0, 0);
  add_step (op, STEP_QUEUE_NUM, 0, 0);
  add_step (op, STEP_CHANNEL, 0, 0);
  for (guint i = 0; i < self->regions->len; i++)
    add_step (op, STEP_MEMORY, i, 0);
  add_step (op, STEP_GET_INFLIGHT, 0, 0);
  add_step (op, STEP_SET_INFLIGHT, 0, 0);
  add_step (op, STEP_SET_UP, 0, 0);
}

/* Every ring started, then enabled, then the status: the order of
 * QEMU's vhost_dev_start(). */
static void
plan_rings (VhostUserDevice *self,
            Op              *op)
{
  for (guint i = 0; i < self->n_rings; i++)
    if (self->rings[i].configured)
      {
        add_step (op, STEP_RING_NUM, i, 0);
        add_step (op, STEP_RING_BASE, i, 0);
        add_step (op, STEP_RING_ADDR, i, 0);
        add_step (op, STEP_RING_KICK, i, 0);
        add_step (op, STEP_RING_CALL, i, 0);
      }
  for (guint i = 0; i < self->n_rings; i++)
    if (self->rings[i].configured)
      add_step (op, STEP_RING_ENABLE, i, self->rings[i].enabled);
  add_step (op, STEP_STATUS, 0, STATUS_RUNNING);
  add_step (op, STEP_RUNNING, 0, 0);
}

/* Logging on: the log first, then the feature, then each ring's used
 * ring logged (QEMU's vhost_dev_set_log()); off: the other way round. */
static void
plan_log (VhostUserDevice *self,
          Op              *op,
          gboolean         on)
{
  if (on)
    add_step (op, STEP_LOG_BASE, 0, 0);
  add_step (op, STEP_LOG_FEATURES, 0, on);
  for (guint i = 0; i < self->n_rings; i++)
    if (self->rings[i].configured)
      add_step (op, STEP_LOG_RING, i, on);
  add_step (op, STEP_LOG_DONE, 0, on);
}

/* The guest-physical address of a front-end address. */
static gboolean
guest_address (VhostUserDevice *self,
               guint64          user_addr,
               guint64         *gpa)
{
  for (guint i = 0; i < self->regions->len; i++)
    {
      VhostUserMemoryRegion *region = g_ptr_array_index (self->regions, i);
      guint64 start = vhost_user_memory_region_get_user_addr (region);

      if (user_addr >= start && user_addr - start < vhost_user_memory_region_get_size (region))
        {
          *gpa = vhost_user_memory_region_get_guest_phys_addr (region) + (user_addr - start);
          return TRUE;
        }
    }
  return FALSE;
}


static void
plan (VhostUserDevice *self,
      Op              *op)
{
  g_array_set_size (op->steps, 0);
  op->next = 0;
  switch (op->kind)
    {
    case OP_START:
      if (!self->set_up)
        plan_setup (self, op);
      else
        /* after a stop's status 0, which a back-end may take for a reset:
         * the features again, as QEMU's vhost_dev_start() sends them */
        add_step (op, STEP_FEATURES_AGAIN, 0, 0);
      plan_rings (self, op);
      break;
    case OP_STOP:
      for (guint i = 0; i < self->n_rings; i++)
        if (self->rings[i].configured)
          add_step (op, STEP_RING_ENABLE, i, FALSE);
      for (guint i = 0; i < self->n_rings; i++)
        if (self->rings[i].configured)
          add_step (op, STEP_GET_BASE, i, 0);
      /* after the bases: a back-end may take status 0 for a reset */
      add_step (op, STEP_STATUS, 0, 0);
      add_step (op, STEP_STOPPED, 0, 0);
      break;
    case OP_ADD_MEMORY:
      add_step (op, STEP_ADD_REGION, 0, 0);
      break;
    case OP_REMOVE_MEMORY:
      add_step (op, STEP_REMOVE_REGION, 0, 0);
      break;
    case OP_ENABLE:
      add_step (op, STEP_RING_ENABLE, op->index, op->enabled);
      break;
    case OP_LOG:
      plan_log (self, op, op->enabled);
      break;
    case OP_SAVE_STATE:
    case OP_LOAD_STATE:
      if (!self->set_up)
        plan_setup (self, op);
      add_step (op, STEP_STATE_FD, 0, op->kind == OP_SAVE_STATE ? 0 : 1);
      add_step (op, STEP_STATE_COPY, 0, 0);
      add_step (op, STEP_STATE_CHECK, 0, 0);
      break;
    case OP_RECONNECT:
      add_step (op, STEP_DIAL, 0, 0);
      plan_setup (self, op);
      add_step (op, STEP_AT_RISK, 0, 0);
      /* the log kept, and what it holds: the pages still to send; given
       * before any ring runs (LOG_ALL was negotiated already) */
      if (self->logging)
        add_step (op, STEP_LOG_BASE, 0, 0);
      if (self->want_running)
        plan_rings (self, op);
      add_step (op, self->want_running ? STEP_KICK : STEP_STOPPED, 0, 0);
      break;
    }
}

static gpointer
copy_region (gconstpointer region,
             gpointer      user_data)
{
  return vhost_user_memory_region_ref ((VhostUserMemoryRegion *) region);
}

static void op_run (GTask *task);
static void op_next (GTask *task);

static void
op_queue (VhostUserDevice *self,
          GTask           *task)
{
  g_queue_push_tail (&self->ops, task);
  if (!self->busy)
    {
      self->busy = TRUE;
      op_run (g_queue_pop_head (&self->ops));
    }
}

/* The operation ends; the next one in line starts. */
static void
op_done (GTask  *task,
         GError *error)
{
  VhostUserDevice *self = g_task_get_source_object (task);
  g_autoptr(VhostUserDevice) hold = g_object_ref (self);

  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);

  if (g_queue_is_empty (&self->ops))
    self->busy = FALSE;
  else
    op_run (g_queue_pop_head (&self->ops));
}

static gboolean retry_dial (gpointer user_data);

/* Worth another attempt: a connection that broke, or a dial that found
 * no back-end listening (yet: one restarting takes a while). */
static gboolean
worth_retrying (const GError *error)
{
  return vhost_user_error_should_reconnect (error) ||
         g_error_matches (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_CONNECT);
}

/* A failed operation: a setup that reached the back-end is undone by
 * closing the connection, so that nothing half-applied runs; so is a stop
 * that began, which may have left rings disabled, some stopped and others
 * not, and a back-end that answered it wrongly (or not in time) may still
 * be working on guest memory: hung up on, it stops every ring. So is a
 * load the back-end may have taken on and did not refuse itself (at
 * CHECK_DEVICE_STATE, asked after it closed its end early too): the pipe
 * cannot say "aborted", and the back-end would take our closing it for
 * the end of the state and then run on part of one; only the connection
 * can tell it. (The hang-up comes first: the copy's pipe end is closed
 * when its task is finalized, after this runs in its callback.) A
 * reconnect whose back-end went away again dials again. */
static void
op_fail (GTask  *task,
         GError *error)
{
  VhostUserDevice *self = g_task_get_source_object (task);
  Op *op = g_task_get_task_data (task);

  if (op->kind == OP_RECONNECT && !g_cancellable_is_cancelled (g_task_get_cancellable (task)) &&
      worth_retrying (error) &&
      (self->reconnect_attempts == 0 || op->attempt < self->reconnect_attempts))
    {
      guint delay = MIN ((guint64) FIRST_DELAY_MS << MIN (op->attempt, 20), self->reconnect_delay_max);

      g_debug ("vhost-user device: attempt %u failed (%s); again in %u ms", op->attempt, error->message, delay);
      g_error_free (error);
      if (vhost_user_frontend_get_connected (self->frontend))
        {
          self->closing = TRUE;
          vhost_user_frontend_close (self->frontend);
          self->closing = FALSE;
        }
      vhost_user_device_set_state (self, VHOST_USER_DEVICE_STATE_DISCONNECTED);
      op->delay = g_timeout_source_new (delay);
      g_source_set_callback (op->delay, retry_dial, task, NULL);
      g_source_set_static_name (op->delay, "vhost-user device reconnect");
      g_source_attach (op->delay, g_task_get_context (task));
      return;
    }

  if ((((op->kind == OP_START || op->kind == OP_RECONNECT) && op->sent) || (op->kind == OP_STOP && op->next > 0) ||
       (op->kind == OP_LOAD_STATE && op->state_fd_accepted && !op->state_refused)) &&
      vhost_user_frontend_get_connected (self->frontend))
    {
      self->closing = TRUE;
      vhost_user_frontend_close (self->frontend);
      self->closing = FALSE;
    }
  if (op->kind == OP_RECONNECT)
    {
      self->replaying = FALSE;
      self->set_up = FALSE;
      vhost_user_device_set_state (self, VHOST_USER_DEVICE_STATE_DISCONNECTED);
      if (!g_cancellable_is_cancelled (g_task_get_cancellable (task)))
        {
          if (op->attempt > 0 && worth_retrying (error))
            g_prefix_error (&error, "Gave up after %u attempts: ", op->attempt);
          g_signal_emit (self, vhost_user_device_signals[SIGNAL_BACKEND_LOST], 0, error, FALSE);
        }
    }
  else if (op->kind == OP_START)
    {
      /* a start refused or cancelled is not wanted by a later reconnect;
       * one whose back-end went away is */
      if (!worth_retrying (error) || g_cancellable_is_cancelled (g_task_get_cancellable (task)))
        self->want_running = op->was_running;
      vhost_user_device_set_state (self, vhost_user_frontend_get_connected (self->frontend) ?
                       VHOST_USER_DEVICE_STATE_STOPPED : VHOST_USER_DEVICE_STATE_DISCONNECTED);
    }
  op_done (task, error);
}

static gboolean
retry_dial (gpointer user_data)
{
  GTask *task = user_data;
  Op *op = g_task_get_task_data (task);
  VhostUserDevice *self = g_task_get_source_object (task);

  g_clear_pointer (&op->delay, g_source_unref);
  if (g_task_return_error_if_cancelled (task))
    {
      self->replaying = FALSE;
      g_object_unref (task);
      if (g_queue_is_empty (&self->ops))
        self->busy = FALSE;
      else
        op_run (g_queue_pop_head (&self->ops));
      return G_SOURCE_REMOVE;
    }
  plan (self, op);
  op_next (task);
  return G_SOURCE_REMOVE;
}

/* A stopped ring's base, as the back-end gave it, before it is kept for
 * the next start, reported, or handed to a migration's destination: a
 * split ring's is a 16-bit index (GET_VRING_BASE_SKIP_DRAIN's reply does
 * not pass the front-end's check of that); a packed ring's two 15-bit
 * positions (bits 0-14 and 16-30; bits 15 and 31 are the wrap counters)
 * lie inside the ring. */
static gboolean
check_base (VhostUserDevice  *self,
            guint             index,
            guint             base,
            GError          **error)
{
  guint size = self->rings[index].size;

  if (!packed_negotiated (self) && base > G_MAXUINT16)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
                   "The back-end stopped split ring %u at 0x%x, wider than its 16-bit index", index, base);
      return FALSE;
    }
  if (packed_negotiated (self) && ((base & 0x7fff) >= size || ((base >> 16) & 0x7fff) >= size))
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
                   "The back-end stopped packed ring %u at 0x%x: positions %u and %u, in a ring of %u",
                   index, base, base & 0x7fff, (base >> 16) & 0x7fff, size);
      return FALSE;
    }
  return TRUE;
}

static void
step_done (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  GTask *task = user_data;
  VhostUserDevice *self = g_task_get_source_object (task);
  VhostUserFrontend *fe = self->frontend;
  Op *op = g_task_get_task_data (task);
  const Step *step = &g_array_index (op->steps, Step, op->next - 1);
  GError *error = NULL;
  gboolean ok = TRUE;

  switch (step->kind)
    {
    case STEP_DIAL:
      ok = vhost_user_frontend_reconnect_finish (fe, result, &error);
      break;
    case STEP_NEGOTIATE:
      ok = vhost_user_frontend_negotiate_finish (fe, result, &error);
      break;
    case STEP_QUEUE_NUM:
      {
        guint64 n = vhost_user_frontend_get_u64_finish (fe, result, &error);
        guint wanted = 0;

        ok = error == NULL;
        for (guint i = 0; i < self->n_rings; i++)
          if (self->rings[i].configured)
            wanted = i + 1;
        if (ok && n < wanted)
          {
            g_set_error (&error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                         "The back-end has %" G_GUINT64_FORMAT " queues; the device runs %u", n, wanted);
            ok = FALSE;
          }
      }
      break;
    case STEP_CHANNEL:
      ok = vhost_user_frontend_setup_backend_channel_finish (fe, result, &error);
      break;
    case STEP_MEMORY:
    case STEP_ADD_REGION:
      ok = acked_protocol (self, VHOST_USER_PROTOCOL_FEATURE_CONFIGURE_MEM_SLOTS) ?
           vhost_user_frontend_add_mem_region_finish (fe, result, &error) :
           vhost_user_frontend_set_mem_table_finish (fe, result, &error);
      if (!ok && step->kind == STEP_ADD_REGION)
        g_ptr_array_remove (self->regions, op->region);
      break;
    case STEP_REMOVE_REGION:
      ok = acked_protocol (self, VHOST_USER_PROTOCOL_FEATURE_CONFIGURE_MEM_SLOTS) ?
           vhost_user_frontend_rem_mem_region_finish (fe, result, &error) :
           vhost_user_frontend_set_mem_table_finish (fe, result, &error);
      if (ok)
        g_ptr_array_remove (self->regions, op->region);
      break;
    case STEP_GET_INFLIGHT:
      self->inflight_fd = vhost_user_frontend_get_inflight_fd_finish (fe, result, &self->inflight_size,
                                                                      &self->inflight_offset, &error);
      ok = self->inflight_fd >= 0 && (self->inflight_contents == NULL || vhost_user_device_fill_inflight (self, &error));
      break;
    case STEP_SET_INFLIGHT:
      ok = vhost_user_frontend_set_inflight_fd_finish (fe, result, &error);
      break;
    case STEP_RING_NUM:
    case STEP_RING_BASE:
    case STEP_RING_ENABLE:
      ok = vhost_user_frontend_set_vring_state_finish (fe, result, &error);
      /* what the device wants; a stop's disabling is not */
      if (ok && step->kind == STEP_RING_ENABLE && op->kind == OP_ENABLE)
        self->rings[step->index].enabled = step->value;
      break;
    case STEP_RING_ADDR:
      ok = vhost_user_frontend_set_vring_addr_finish (fe, result, &error);
      break;
    case STEP_RING_KICK:
    case STEP_RING_CALL:
      ok = vhost_user_frontend_set_vring_fd_finish (fe, result, &error);
      break;
    case STEP_STATUS:
      ok = vhost_user_frontend_set_u64_finish (fe, result, &error);
      break;
    case STEP_STATE_FD:
      {
        int backend_fd = -1;

        ok = vhost_user_frontend_set_device_state_fd_finish (fe, result, &backend_fd, &error);
        /* from here the back-end reads (or writes) the state, even on an
         * fd of its own that we then refuse: closing it is an end. A
         * request cancelled in flight may have been taken all the same
         * (its reply is dropped unread); only a refusal was not. */
        op->state_fd_accepted = ok || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        /* a back-end that wants its own fd used gets it used, if it is a
         * pipe: anything else (a file, a device) may block a read or a
         * write, or never end (and the copy never trusts its flags,
         * which the back-end shares) */
        if (ok && backend_fd >= 0)
          {
            struct stat st;

            vhost_user_peer_fd_close (op->pipe_fd);
            op->pipe_fd = backend_fd;
            if (fstat (backend_fd, &st) != 0 || !S_ISFIFO (st.st_mode))
              {
                g_set_error (&error, VHOST_USER_ERROR, VHOST_USER_ERROR_INCORRECT_FDS,
                             "The back-end answered SET_DEVICE_STATE_FD with an fd that is not a pipe");
                ok = FALSE;
              }
          }
      }
      break;
    case STEP_STATE_COPY:
      {
        gboolean closed_early = FALSE;

        ok = vhost_user_state_copy_finish (result, &closed_early, &error);
        g_clear_object (&self->state_abort);
        /* a back-end that stops reading a load on purpose (a state it
         * cannot take) knows the state was cut short, and says why at
         * CHECK_DEVICE_STATE: asked, as for a state that fit in the pipe
         * (whether the refusal fit should not decide the connection) */
        if (!ok && closed_early)
          {
            op->closed_early = g_steal_pointer (&error);
            ok = TRUE;
          }
      }
      break;
    case STEP_LOG_BASE:
      ok = vhost_user_frontend_set_log_base_finish (fe, result, &error);
      break;
    case STEP_LOG_FEATURES:
    case STEP_FEATURES_AGAIN:
      ok = vhost_user_frontend_set_u64_finish (fe, result, &error);
      break;
    case STEP_LOG_RING:
      ok = vhost_user_frontend_set_vring_addr_finish (fe, result, &error);
      break;
    case STEP_STATE_CHECK:
      {
        guint64 status = vhost_user_frontend_get_u64_finish (fe, result, &error);

        ok = error == NULL;
        if (ok && status != 0)
          {
            op->state_refused = TRUE;
            g_set_error (&error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL,
                         "The back-end says the device's state did not %s (status %" G_GUINT64_FORMAT ")%s",
                         op->kind == OP_SAVE_STATE ? "save" : "load", status,
                         op->closed_early != NULL ? ", and closed the pipe before the state's end" : "");
            ok = FALSE;
          }
        else if (op->closed_early != NULL)
          {
            /* not refused (0), or no answer: the state was cut short
             * all the same, and the hang-up says so */
            if (error != NULL)
              g_debug ("vhost-user device: CHECK_DEVICE_STATE after a load cut short: %s", error->message);
            g_clear_error (&error);
            error = g_steal_pointer (&op->closed_early);
            ok = FALSE;
          }
      }
      break;
    case STEP_GET_BASE:
      {
        guint base = 0;

        if (!uses_skip_drain_request (self))
          base = vhost_user_frontend_get_vring_base_finish (fe, result, &error);
        else
          {
            g_autoptr(GBytes) reply = vhost_user_frontend_request_finish (fe, result, NULL, &error);
            guint32 state[2];

            if (reply != NULL && g_bytes_get_size (reply) == sizeof state)
              {
                memcpy (state, g_bytes_get_data (reply, NULL), sizeof state);
                base = state[1];
                /* the base of another ring would be kept for this one */
                if (state[0] != step->index)
                  g_set_error (&error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
                               "GET_VRING_BASE_SKIP_DRAIN for queue %u answered for queue %u",
                               step->index, state[0]);
              }
            else if (reply != NULL)
              g_set_error (&error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
                           "GET_VRING_BASE_SKIP_DRAIN answered with %" G_GSIZE_FORMAT " bytes",
                           g_bytes_get_size (reply));
          }
        if (error == NULL)
          check_base (self, step->index, base, &error);
        ok = error == NULL;
        if (ok)
          self->rings[step->index].base = base;
      }
      break;
    default:
      g_assert_not_reached ();
    }

  if (!ok)
    {
      if (step->kind == STEP_DIAL)
        op->attempt++;
      op_fail (task, error);
      return;
    }
  if (step->kind == STEP_DIAL)
    op->attempt++;
  else
    op->sent = TRUE;
  op_next (task);
}

/* Checks what the back-end agreed to: the first time, that it covers
 * what the rings need; after a reconnect, that it is what it was. */
static gboolean
check_features (VhostUserDevice *self,
                GError         **error)
{
  /* logging is the migration's, not the device's; and a stop that does
   * not drain is asked for by drain-on-stop: neither is what the
   * back-end must give again */
  const guint64 not_compared = VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_LOG_ALL);
  const guint64 protocol_not_compared = VHOST_USER_PROTOCOL_FEATURE_GET_VRING_BASE_INFLIGHT;
  guint64 features = vhost_user_frontend_get_acked_features (self->frontend) & ~not_compared;
  guint64 protocol = vhost_user_frontend_get_acked_protocol_features (self->frontend);
  gboolean event_idx;

  if (self->negotiated && (features != self->acked_features ||
                           (protocol & ~protocol_not_compared) !=
                           (self->acked_protocol_features & ~protocol_not_compared)))
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FEATURE_MISMATCH,
                   "The back-end came back with other features: 0x%" G_GINT64_MODIFIER "x (protocol 0x%"
                   G_GINT64_MODIFIER "x), where it had 0x%" G_GINT64_MODIFIER "x (0x%" G_GINT64_MODIFIER "x); "
                   "the device will not run with a different set", features, protocol, self->acked_features,
                   self->acked_protocol_features);
      return FALSE;
    }
  if (any_packed (self) && !(features & VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_RING_PACKED)))
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FEATURE_MISMATCH,
                   "The device's rings are packed; the back-end does not offer VIRTIO_F_RING_PACKED");
      return FALSE;
    }
  if (!self->negotiated)
    {
      self->negotiated = TRUE;
      self->acked_features = features;
      self->acked_protocol_features = protocol;
      vhost_user_notify (G_OBJECT (self), vhost_user_device_properties[PROP_ACKED_FEATURES]);
      vhost_user_notify (G_OBJECT (self), vhost_user_device_properties[PROP_ACKED_PROTOCOL_FEATURES]);
    }
  event_idx = (features & VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_EVENT_IDX)) != 0;
  for (guint i = 0; i < self->n_rings; i++)
    if (self->rings[i].driver != NULL)
      vhost_user_driver_ring_set_event_idx (self->rings[i].driver, event_idx);
  return TRUE;
}


static void
report_at_risk (VhostUserDevice *self)
{
  if (!self->want_running || acked_protocol (self, VHOST_USER_PROTOCOL_FEATURE_INFLIGHT_SHMFD))
    return;
  for (guint i = 0; i < self->n_rings; i++)
    {
      gint outstanding;
      guint base, first;

      if (!self->rings[i].configured)
        continue;
      base = restart_base (self, &self->rings[i], &outstanding);
      /* split: the available index; packed: the descriptor position */
      first = packed_negotiated (self) ? base & 0x7fff : base & 0xffff;
      if (outstanding != 0)
        g_signal_emit (self, vhost_user_device_signals[SIGNAL_REQUESTS_AT_RISK], 0, i, first, outstanding);
    }
}

static void
kick_all (VhostUserDevice *self)
{
  for (guint i = 0; i < self->n_rings; i++)
    {
      /* a back-end need not look at a ring before a kick, and what the
       * driver made available is all there already */
      if (self->rings[i].configured && self->rings[i].enabled && ring_kick_fd (&self->rings[i]) >= 0 &&
          !vhost_user_eventfd_signal (ring_kick_fd (&self->rings[i])))
        g_debug ("vhost-user device: kicking ring %u: %s", i, g_strerror (errno));
    }
}

static guint
inflight_queue_size (VhostUserDevice *self)
{
  guint size = 0;

  for (guint i = 0; i < self->n_rings; i++)
    if (self->rings[i].configured)
      size = MAX (size, self->rings[i].size);
  return size;
}

/* Starts @step; FALSE when it was done here and then (nothing to send,
 * or only local state), with @error set if it failed. */
static gboolean
step_start (GTask       *task,
            const Step  *step,
            GError     **error)
{
  VhostUserDevice *self = g_task_get_source_object (task);
  VhostUserFrontend *fe = self->frontend;
  Op *op = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  Ring *ring = step->index < self->n_rings ? &self->rings[step->index] : NULL;

  switch (step->kind)
    {
    case STEP_DIAL:
      self->replaying = TRUE;
      vhost_user_device_set_state (self, VHOST_USER_DEVICE_STATE_DISCONNECTED);
      g_signal_emit (self, vhost_user_device_signals[SIGNAL_RECONNECTING], 0, op->attempt + 1);
      vhost_user_frontend_reconnect_async (fe, cancellable, step_done, task);
      return TRUE;

    case STEP_NEGOTIATE:
      vhost_user_device_set_state (self, VHOST_USER_DEVICE_STATE_NEGOTIATING);
      /* while logging (a reconnect in the middle of a migration), the
       * back-end logs from the first request on */
      vhost_user_frontend_negotiate_async (fe,
                                           self->features |
                                           (any_packed (self) ?
                                            VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_RING_PACKED) : 0) |
                                           (self->logging ?
                                            VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_LOG_ALL) : 0),
                                           self->protocol_features |
                                           (self->drain_on_stop ? 0 :
                                            VHOST_USER_PROTOCOL_FEATURE_GET_VRING_BASE_INFLIGHT),
                                           cancellable, step_done, task);
      return TRUE;

    case STEP_CHECK_FEATURES:
      check_features (self, error);
      return FALSE;

    case STEP_QUEUE_NUM:
      if (!acked_protocol (self, VHOST_USER_PROTOCOL_FEATURE_MQ))
        return FALSE;
      vhost_user_frontend_get_u64_async (fe, VHOST_USER_REQUEST_GET_QUEUE_NUM, cancellable, step_done, task);
      return TRUE;

    case STEP_CHANNEL:
      if (!acked_protocol (self, VHOST_USER_PROTOCOL_FEATURE_BACKEND_REQ))
        return FALSE;
      vhost_user_frontend_setup_backend_channel_async (fe, cancellable, step_done, task);
      return TRUE;

    case STEP_MEMORY:
      if (step->index >= self->regions->len)
        return FALSE;
      if (acked_protocol (self, VHOST_USER_PROTOCOL_FEATURE_CONFIGURE_MEM_SLOTS))
        {
          vhost_user_frontend_add_mem_region_async (fe, g_ptr_array_index (self->regions, step->index),
                                                    cancellable, step_done, task);
          return TRUE;
        }
      if (step->index > 0)
        return FALSE;
      G_GNUC_FALLTHROUGH;
    case STEP_ADD_REGION:
    case STEP_REMOVE_REGION:
      {
        g_autoptr(VhostUserMemoryTable) table = NULL;
        g_autoptr(GPtrArray) regions = g_ptr_array_copy (self->regions, copy_region, NULL);

        if (step->kind != STEP_MEMORY && !self->set_up)
          {
            /* kept for the next setup */
            if (step->kind == STEP_REMOVE_REGION)
              g_ptr_array_remove (self->regions, op->region);
            return FALSE;
          }
        if (step->kind != STEP_MEMORY && acked_protocol (self, VHOST_USER_PROTOCOL_FEATURE_CONFIGURE_MEM_SLOTS))
          {
            if (step->kind == STEP_ADD_REGION)
              vhost_user_frontend_add_mem_region_async (fe, op->region, cancellable, step_done, task);
            else
              vhost_user_frontend_rem_mem_region_async (fe, op->region, cancellable, step_done, task);
            return TRUE;
          }
        if (step->kind == STEP_REMOVE_REGION)
          g_ptr_array_remove (regions, op->region);
        table = vhost_user_memory_table_new ((VhostUserMemoryRegion **) regions->pdata, regions->len, error);
        if (table == NULL)
          {
            if (step->kind == STEP_ADD_REGION)
              g_ptr_array_remove (self->regions, op->region);
            return FALSE;
          }
        vhost_user_frontend_set_mem_table_async (fe, table, cancellable, step_done, task);
        return TRUE;
      }

    case STEP_GET_INFLIGHT:
      if (!acked_protocol (self, VHOST_USER_PROTOCOL_FEATURE_INFLIGHT_SHMFD) || self->inflight_fd >= 0 ||
          inflight_queue_size (self) == 0)
        return FALSE;
      self->inflight_queue_size = inflight_queue_size (self);
      vhost_user_frontend_get_inflight_fd_async (fe, self->n_rings, self->inflight_queue_size, cancellable,
                                                 step_done, task);
      return TRUE;

    case STEP_SET_INFLIGHT:
      if (!acked_protocol (self, VHOST_USER_PROTOCOL_FEATURE_INFLIGHT_SHMFD) || self->inflight_fd < 0)
        return FALSE;
      vhost_user_frontend_set_inflight_fd_async (fe, self->inflight_size, self->inflight_offset, self->n_rings,
                                                 self->inflight_queue_size, self->inflight_fd, cancellable,
                                                 step_done, task);
      return TRUE;

    case STEP_SET_UP:
      self->set_up = TRUE;
      return FALSE;

    case STEP_AT_RISK:
      report_at_risk (self);
      return FALSE;

    case STEP_RING_NUM:
      vhost_user_device_set_state (self, VHOST_USER_DEVICE_STATE_NEGOTIATING);
      vhost_user_frontend_set_vring_state_async (fe, VHOST_USER_REQUEST_SET_VRING_NUM, step->index, ring->size,
                                                 cancellable, step_done, task);
      return TRUE;

    case STEP_RING_BASE:
      {
        gint outstanding;
        guint base = op->replay || self->bases_stale ? restart_base (self, ring, &outstanding) : ring->base;

        vhost_user_frontend_set_vring_state_async (fe, VHOST_USER_REQUEST_SET_VRING_BASE, step->index, base,
                                                   cancellable, step_done, task);
        return TRUE;
      }

    case STEP_RING_ADDR:
      {
        guint64 used_gpa = 0;
        gboolean log = self->logging;

        if (log && !guest_address (self, ring->used, &used_gpa))
          {
            g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                         "Ring %u: its used ring is in none of the device's memory regions", step->index);
            return FALSE;
          }
        vhost_user_frontend_set_vring_addr_async (fe, step->index, log ? 1 : 0, ring->desc, ring->used, ring->avail,
                                                  used_gpa, cancellable, step_done, task);
        return TRUE;
      }

    case STEP_LOG_BASE:
      if (!vhost_user_device_make_log (self, error))
        return FALSE;
      vhost_user_frontend_set_log_base_async (fe, self->log_size, 0, self->log_fd, cancellable, step_done, task);
      return TRUE;

    case STEP_LOG_FEATURES:
      {
        guint64 features = vhost_user_frontend_get_acked_features (fe);

        if (step->value)
          features |= VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_LOG_ALL);
        else
          features &= ~VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_LOG_ALL);
        vhost_user_frontend_set_u64_async (fe, VHOST_USER_REQUEST_SET_FEATURES, features, cancellable, step_done,
                                           task);
        return TRUE;
      }

    case STEP_LOG_RING:
      {
        guint64 used_gpa = 0;

        /* a ring not running gets the flag when it starts */
        if (self->state != VHOST_USER_DEVICE_STATE_RUNNING)
          return FALSE;
        if (step->value && !guest_address (self, ring->used, &used_gpa))
          {
            g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                         "Ring %u: its used ring is in none of the device's memory regions", step->index);
            return FALSE;
          }
        vhost_user_frontend_set_vring_addr_async (fe, step->index, step->value ? 1 : 0, ring->desc, ring->used,
                                                  ring->avail, used_gpa, cancellable, step_done, task);
        return TRUE;
      }

    case STEP_FEATURES_AGAIN:
      if (!acked_protocol (self, VHOST_USER_PROTOCOL_FEATURE_STATUS))
        return FALSE;
      vhost_user_frontend_set_u64_async (fe, VHOST_USER_REQUEST_SET_FEATURES,
                                         vhost_user_frontend_get_acked_features (fe), cancellable, step_done, task);
      return TRUE;

    case STEP_LOG_DONE:
      if (self->logging != (gboolean) step->value)
        {
          self->logging = step->value;
          vhost_user_notify (G_OBJECT (self), vhost_user_device_properties[PROP_LOGGING]);
        }
      if (!self->logging)
        vhost_user_device_drop_log (self);
      return FALSE;

    case STEP_RING_KICK:
    case STEP_RING_CALL:
      vhost_user_frontend_set_vring_fd_async (fe, step->kind == STEP_RING_KICK ? VHOST_USER_REQUEST_SET_VRING_KICK :
                                                                                 VHOST_USER_REQUEST_SET_VRING_CALL,
                                              step->index,
                                              step->kind == STEP_RING_KICK ? ring_kick_fd (ring) : ring_call_fd (ring),
                                              cancellable, step_done, task);
      return TRUE;

    case STEP_RING_ENABLE:
      /* without protocol features a ring runs from its kick: nothing to send */
      if (!self->set_up || !acked_protocol_features_bit (self) ||
          (op->kind == OP_ENABLE && self->state != VHOST_USER_DEVICE_STATE_RUNNING))
        {
          if (op->kind == OP_ENABLE)
            ring->enabled = step->value;
          return FALSE;
        }
      vhost_user_frontend_set_vring_state_async (fe, VHOST_USER_REQUEST_SET_VRING_ENABLE, step->index, step->value,
                                                 cancellable, step_done, task);
      return TRUE;

    case STEP_STATUS:
      if (!acked_protocol (self, VHOST_USER_PROTOCOL_FEATURE_STATUS))
        return FALSE;
      vhost_user_frontend_set_u64_async (fe, VHOST_USER_REQUEST_SET_STATUS, step->value, cancellable, step_done, task);
      return TRUE;

    case STEP_RUNNING:
      self->want_running = TRUE;
      self->bases_stale = FALSE;
      vhost_user_device_set_state (self, VHOST_USER_DEVICE_STATE_RUNNING);
      return FALSE;

    case STEP_KICK:
      kick_all (self);
      return FALSE;

    case STEP_GET_BASE:
      if (self->state == VHOST_USER_DEVICE_STATE_DISCONNECTED)
        return FALSE;
      if (uses_skip_drain_request (self))
        {
          guint32 state[2] = { step->index, 0 };
          g_autoptr(GBytes) payload = g_bytes_new (state, sizeof state);

          vhost_user_frontend_request_async (fe, VHOST_USER_REQUEST_GET_VRING_BASE_SKIP_DRAIN, payload, NULL,
                                             cancellable, step_done, task);
          return TRUE;
        }
      vhost_user_frontend_get_vring_base_async (fe, step->index, cancellable, step_done, task);
      return TRUE;

    case STEP_STOPPED:
      if (op->kind == OP_STOP)
        self->want_running = FALSE;
      vhost_user_device_set_state (self, VHOST_USER_DEVICE_STATE_STOPPED);
      return FALSE;

    case STEP_STATE_FD:
      {
        int fds[2];

        if (!acked_protocol (self, VHOST_USER_PROTOCOL_FEATURE_DEVICE_STATE))
          {
            g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FEATURE_MISMATCH,
                         "The back-end does not transfer device state (no DEVICE_STATE protocol feature)");
            return FALSE;
          }
        if (!g_unix_open_pipe (fds, FD_CLOEXEC, error))
          return FALSE;
        /* save: the back-end writes, we read; load: the other way */
        op->pipe_fd = fds[step->value == 0 ? 0 : 1];
        vhost_user_device_set_state (self, VHOST_USER_DEVICE_STATE_STOPPED);
        vhost_user_frontend_set_device_state_fd_async (fe, step->value, 0, fds[step->value == 0 ? 1 : 0],
                                                       cancellable, step_done, task);
        /* the front-end sent a duplicate: the back-end's end is not ours */
        vhost_user_peer_fd_close (fds[step->value == 0 ? 1 : 0]);
        return TRUE;
      }

    case STEP_STATE_COPY:
      /* the pipe is the back-end's too: a wait on it ends when the
       * back-end goes (or makes no progress for a request's timeout);
       * gone already, the reply's completion having come after the
       * disconnection, there is nothing to wait for */
      if (!vhost_user_frontend_get_connected (fe))
        {
          g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_CLOSED,
                       "The back-end went before its state was %s", op->kind == OP_SAVE_STATE ? "saved" : "loaded");
          return FALSE;
        }
      self->state_abort = g_cancellable_new ();
      vhost_user_state_copy_async (g_steal_fd (&op->pipe_fd), op->stream, vhost_user_frontend_get_timeout (fe),
                                   self->max_state_size, cancellable, self->state_abort, step_done, task);
      return TRUE;

    case STEP_STATE_CHECK:
      vhost_user_frontend_get_u64_async (fe, VHOST_USER_REQUEST_CHECK_DEVICE_STATE, cancellable, step_done, task);
      return TRUE;
    }
  g_assert_not_reached ();
}

static void
op_next (GTask *task)
{
  VhostUserDevice *self = g_task_get_source_object (task);
  Op *op = g_task_get_task_data (task);

  while (op->next < op->steps->len)
    {
      const Step *step = &g_array_index (op->steps, Step, op->next++);
      GError *error = NULL;

      if (g_cancellable_set_error_if_cancelled (g_task_get_cancellable (task), &error) ||
          step_start (task, step, &error))
        {
          if (error != NULL)
            op_fail (task, error);
          return;
        }
      if (error != NULL)
        {
          op_fail (task, error);
          return;
        }
    }

  if (op->kind == OP_RECONNECT)
    {
      self->replaying = FALSE;
      g_signal_emit (self, vhost_user_device_signals[SIGNAL_RECONNECTED], 0);
    }
  op_done (task, NULL);
}

/* Checks what can be checked before anything is sent, then plans. */
static void
op_run (GTask *task)
{
  VhostUserDevice *self = g_task_get_source_object (task);
  Op *op = g_task_get_task_data (task);
  GError *error = NULL;

  switch (op->kind)
    {
    case OP_START:
      /* refused before want_running is set: a later reconnect must not
       * start what the caller was told did not (say, after a load that
       * hung up, rings on a back-end with no state) */
      if (!vhost_user_frontend_get_connected (self->frontend))
        {
          g_set_error (&error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                       "The device's front-end is not connected: connect it (or reconnect the device) first");
          break;
        }
      /* wanted from now on: a back-end lost during the start is started
       * by the reconnect */
      op->was_running = self->want_running;
      self->want_running = TRUE;
      if (self->state == VHOST_USER_DEVICE_STATE_RUNNING)
        {
          op_done (task, NULL);
          return;
        }
      break;
    case OP_STOP:
      if (!self->drain_on_stop && self->state == VHOST_USER_DEVICE_STATE_RUNNING &&
          !can_stop_without_draining (self))
        {
          /* said before anything is sent: the rings go on running */
          g_set_error (&error, VHOST_USER_ERROR, VHOST_USER_ERROR_FEATURE_MISMATCH,
                       "The back-end cannot stop a ring without draining it (neither GET_VRING_BASE_INFLIGHT "
                       "with an in-flight area nor GET_VRING_BASE_SKIP_DRAIN): set drain-on-stop, or set it "
                       "before the first start");
          break;
        }
      /* a device lost now will not start again on a reconnect either */
      self->want_running = FALSE;
      if (self->state != VHOST_USER_DEVICE_STATE_RUNNING)
        {
          /* lost while running: where the rings stand is in shared memory */
          if (self->bases_stale)
            for (guint i = 0; i < self->n_rings; i++)
              if (self->rings[i].configured)
                {
                  gint outstanding;

                  self->rings[i].base = restart_base (self, &self->rings[i], &outstanding);
                }
          op_done (task, NULL);
          return;
        }
      break;
    case OP_ADD_MEMORY:
      for (guint i = 0; i < self->regions->len && error == NULL; i++)
        {
          VhostUserMemoryRegion *r = g_ptr_array_index (self->regions, i);
          guint64 a = vhost_user_memory_region_get_guest_phys_addr (r);
          guint64 b = vhost_user_memory_region_get_guest_phys_addr (op->region);

          if (a < b + vhost_user_memory_region_get_size (op->region) &&
              b < a + vhost_user_memory_region_get_size (r))
            g_set_error (&error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                         "Guest memory at 0x%" G_GINT64_MODIFIER "x overlaps the device's region at 0x%"
                         G_GINT64_MODIFIER "x", b, a);
        }
      if (error == NULL && self->logging &&
          (vhost_user_memory_region_get_guest_phys_addr (op->region) +
           vhost_user_memory_region_get_size (op->region) + 4095) / 4096 > self->log_size * 8)
        g_set_error (&error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                     "The dirty log does not cover guest memory at 0x%" G_GINT64_MODIFIER "x: add it before "
                     "logging starts", vhost_user_memory_region_get_guest_phys_addr (op->region));
      if (error == NULL)
        g_ptr_array_add (self->regions, vhost_user_memory_region_ref (op->region));
      break;
    case OP_REMOVE_MEMORY:
      if (!g_ptr_array_find (self->regions, op->region, NULL))
        g_set_error (&error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                     "That memory region is not the device's");
      else if (self->state == VHOST_USER_DEVICE_STATE_RUNNING)
        for (guint i = 0; i < self->n_rings && error == NULL; i++)
          {
            Ring *ring = &self->rings[i];
            guint64 start = vhost_user_memory_region_get_user_addr (op->region);
            guint64 end = start + vhost_user_memory_region_get_size (op->region);

            if (ring->configured && ((ring->desc >= start && ring->desc < end) ||
                                     (ring->avail >= start && ring->avail < end) ||
                                     (ring->used >= start && ring->used < end)))
              g_set_error (&error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                           "Ring %u runs in that memory region: stop the device first", i);
          }
      break;
    case OP_ENABLE:
      break;
    case OP_LOG:
      if (!self->set_up)
        g_set_error (&error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                     "Dirty logging needs a device set up: start it first");
      else if (op->enabled == self->logging)
        {
          op_done (task, NULL);
          return;
        }
      break;
    case OP_SAVE_STATE:
    case OP_LOAD_STATE:
      if (!vhost_user_frontend_get_connected (self->frontend))
        g_set_error (&error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                     "The device's front-end is not connected");
      else if (self->state == VHOST_USER_DEVICE_STATE_RUNNING)
        g_set_error (&error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                     "The device's state moves with its rings stopped: stop the device first");
      break;
    case OP_RECONNECT:
      if (vhost_user_frontend_get_connected (self->frontend) && self->set_up)
        {
          /* nothing was lost */
          op_done (task, NULL);
          return;
        }
      op->replay = TRUE;
      break;
    }
  if (error != NULL)
    {
      op_done (task, error);
      return;
    }
  plan (self, op);
  op_next (task);
}

/* Each operation's task is tagged with the name of the call that made
 * it (names, not the functions: the migration's calls live in a file
 * above this one). */
static const char *const source_tags[] = {
  [OP_START] = "vhost_user_device_start_async",
  [OP_STOP] = "vhost_user_device_stop_async",
  [OP_ADD_MEMORY] = "vhost_user_device_add_memory_async",
  [OP_REMOVE_MEMORY] = "vhost_user_device_remove_memory_async",
  [OP_ENABLE] = "vhost_user_device_set_ring_enabled_async",
  [OP_RECONNECT] = "vhost_user_device_reconnect_async",
  [OP_SAVE_STATE] = "vhost_user_device_save_state_async",
  [OP_LOAD_STATE] = "vhost_user_device_load_state_async",
  [OP_LOG] = "vhost_user_device_set_logging_async",
};

static GTask *
op_new (VhostUserDevice     *self,
        OpKind               kind,
        gpointer             source_tag,
        GCancellable        *cancellable,
        GAsyncReadyCallback  callback,
        gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  Op *op = g_new0 (Op, 1);

  g_task_set_source_tag (task, source_tag);
  op->kind = kind;
  op->pipe_fd = -1;
  op->steps = g_array_new (FALSE, FALSE, sizeof (Step));
  g_task_set_task_data (task, op, (GDestroyNotify) op_free);
  return task;
}

gboolean
vhost_user_device_op_finish (VhostUserDevice  *self,
                             GAsyncResult     *result,
                             OpKind            kind,
                             GError          **error)
{
  g_return_val_if_fail (VHOST_USER_IS_DEVICE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tags[kind], FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

GTask *
vhost_user_device_queue_op (VhostUserDevice       *self,
                            OpKind                 kind,
                            VhostUserMemoryRegion *region,
                            guint                  index,
                            gboolean               enabled,
                            gboolean               automatic,
                            GObject               *stream,
                            GCancellable          *cancellable,
                            GAsyncReadyCallback    callback,
                            gpointer               user_data)
{
  GTask *task = op_new (self, kind, (gpointer) source_tags[kind], cancellable, callback, user_data);
  Op *op = g_task_get_task_data (task);

  op->region = region != NULL ? vhost_user_memory_region_ref (region) : NULL;
  op->index = index;
  op->enabled = enabled;
  op->automatic = automatic;
  op->stream = stream != NULL ? g_object_ref (stream) : NULL;
  op_queue (self, task);
  return task;
}
