/* vhost-user-device-private.h: what the device's files share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * vhost-user-device.c            the object: properties, signals, calls
 *                                watched, the operations' blocking forms,
 *                                the back-end going away
 * vhost-user-device-steps.c      its operations run: queued one at a
 *                                time, planned as steps, each step sent
 * vhost-user-device-ops.c        the operations a VMM asks for
 * vhost-user-device-rings.c      the rings as the VMM configures them
 * vhost-user-device-migration.c  the migration's calls: dirty log, device
 *                                state, requests in flight
 */

#pragma once

#include "vhost-user-device.h"
#include "vhost-user-frontend.h"

G_BEGIN_DECLS

/* Where a ring's state comes from. */
typedef struct {
  VhostUserDevice     *device;
  guint                index;
  gboolean             configured;
  VhostUserDriverRing *driver;        /* or NULL: addresses in guest memory */
  guint                size;
  guint64              desc, avail, used;
  int                  kick_fd, call_fd;   /* ours (duplicated or made here); unused with a driver ring */
  gboolean             enabled;
  guint                base;          /* what the next start sends */
  GSource             *call_watch;
  GQuark               detail;
} Ring;

struct _VhostUserDevice
{
  GObject               parent_instance;

  VhostUserFrontend    *frontend;
  gulong                disconnected_id;
  GCancellable         *state_abort;   /* while a device state is copied: the back-end went */
  guint                 n_rings;
  Ring                 *rings;
  GPtrArray            *regions;

  guint64               features, protocol_features;
  /* from the first negotiation: a reconnected back-end must give the same */
  guint64               acked_features, acked_protocol_features;
  gboolean              negotiated;

  VhostUserDeviceState  state;
  gboolean              set_up;         /* this connection has features, memory and in-flight area */
  gboolean              want_running;
  gboolean              closing;
  gboolean              replaying;

  int                   inflight_fd;
  guint64               inflight_size, inflight_offset;
  guint                 inflight_queue_size;
  GBytes               *inflight_contents;   /* from a migration's source, for the next area */
  gboolean              drain_on_stop;
  guint64               max_state_size;   /* what a save takes from the back-end; 0: no limit */

  gboolean              auto_reconnect;
  guint                 reconnect_attempts;
  guint                 reconnect_delay_max;
  GCancellable         *reconnect_cancellable;
  GSource              *auto_reconnect_idle;
  gboolean              bases_stale;      /* lost while running: bases are in shared memory */
  guint                 close_serial;     /* bumped by close() */
  gboolean              watch_calls;

  /* dirty logging for a migration: a bit per 4 KiB guest page */
  gboolean              logging;
  int                   log_fd;
  guint64              *log;
  gsize                 log_size;

  GQueue                ops;
  gboolean              busy;
};

typedef enum {
  OP_START,
  OP_STOP,
  OP_ADD_MEMORY,
  OP_REMOVE_MEMORY,
  OP_ENABLE,
  OP_RECONNECT,
  OP_SAVE_STATE,
  OP_LOAD_STATE,
  OP_LOG,
} OpKind;

static inline int
ring_kick_fd (Ring *ring)
{
  return ring->driver != NULL ? vhost_user_driver_ring_get_kick_fd (ring->driver) : ring->kick_fd;
}

static inline int
ring_call_fd (Ring *ring)
{
  return ring->driver != NULL ? vhost_user_driver_ring_get_call_fd (ring->driver) : ring->call_fd;
}

static inline gboolean
acked_protocol (VhostUserDevice *self,
                guint64          bit)
{
  return (vhost_user_frontend_get_acked_protocol_features (self->frontend) & bit) != 0;
}

/* vhost-user-device.c */
enum {
  PROP_0,
  PROP_FRONTEND,
  PROP_N_RINGS,
  PROP_STATE,
  PROP_FEATURES,
  PROP_PROTOCOL_FEATURES,
  PROP_ACKED_FEATURES,
  PROP_ACKED_PROTOCOL_FEATURES,
  PROP_AUTO_RECONNECT,
  PROP_RECONNECT_ATTEMPTS,
  PROP_RECONNECT_DELAY_MAX,
  PROP_WATCH_CALLS,
  PROP_DRAIN_ON_STOP,
  PROP_LOGGING,
  PROP_MAX_STATE_SIZE,
  N_PROPS
};

enum {
  SIGNAL_BACKEND_LOST,
  SIGNAL_RECONNECTING,
  SIGNAL_RECONNECTED,
  SIGNAL_REQUESTS_AT_RISK,
  SIGNAL_RING_CALL,
  N_SIGNALS
};

/* its property specs and signal ids, as data for the steps: they notify
 * and emit some of them, and call nothing in vhost-user-device.c, which
 * calls them */
extern GParamSpec **const vhost_user_device_properties;
extern const guint *const vhost_user_device_signals;

void     vhost_user_device_update_call_watches (VhostUserDevice *self);
gboolean vhost_user_device_run_blocking    (VhostUserDevice       *self,
                                            OpKind                 kind,
                                            VhostUserMemoryRegion *region,
                                            guint                  index,
                                            gboolean               enabled,
                                            GObject               *stream,
                                            GCancellable          *cancellable,
                                            GError               **error);

/* vhost-user-device-log.c */
void     vhost_user_device_drop_log        (VhostUserDevice       *self);
gboolean vhost_user_device_make_log        (VhostUserDevice       *self,
                                            GError               **error);
gboolean vhost_user_device_fill_inflight   (VhostUserDevice       *self,
                                            GError               **error);

/* vhost-user-device-steps.c */
void     vhost_user_device_set_state       (VhostUserDevice       *self,
                                            VhostUserDeviceState   state);
gboolean vhost_user_device_op_finish       (VhostUserDevice       *self,
                                            GAsyncResult          *result,
                                            OpKind                 kind,
                                            GError               **error);
GTask   *vhost_user_device_queue_op        (VhostUserDevice       *self,
                                            OpKind                 kind,
                                            VhostUserMemoryRegion *region,
                                            guint                  index,
                                            gboolean               enabled,
                                            gboolean               automatic,
                                            GObject               *stream,
                                            GCancellable          *cancellable,
                                            GAsyncReadyCallback    callback,
                                            gpointer               user_data);

G_END_DECLS
