/* vhost-user-vring.c: one virtqueue as the back-end sees it
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "vhost-user-debug-private.h"
#include "vhost-user-error.h"
#include "vhost-user-vring-private.h"

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
 */

struct _VhostUserVring
{
  GObject               parent_instance;

  guint                 index;
  guint                 size;
  guint                 base;
  VhostUserVringAddress address;
  gboolean              enabled;
  gboolean              started;
  int                   fds[3];
};

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
 */
void
vhost_user_vring_address_free (VhostUserVringAddress *address)
{
  g_free (address);
}

static void
vhost_user_vring_finalize (GObject *object)
{
  VhostUserVring *self = VHOST_USER_VRING (object);

  for (guint i = 0; i < G_N_ELEMENTS (self->fds); i++)
    if (self->fds[i] >= 0)
      g_close (self->fds[i], NULL);

  G_OBJECT_CLASS (vhost_user_vring_parent_class)->finalize (object);
}

static void
vhost_user_vring_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  VhostUserVring *self = VHOST_USER_VRING (object);

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
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
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
   */
  properties[PROP_INDEX] = g_param_spec_uint ("index", NULL, NULL, 0, G_MAXUINT, 0, ro);
  /**
   * VhostUserVring:size:
   *
   * The number of descriptors (`SET_VRING_NUM`); 0 until set.
   */
  properties[PROP_SIZE] = g_param_spec_uint ("size", NULL, NULL, 0, G_MAXUINT, 0, ro);
  /**
   * VhostUserVring:base:
   *
   * The next available index (`SET_VRING_BASE`, reported by
   * `GET_VRING_BASE`). For packed rings the wrap counters are in bit 15
   * and bit 31, the used index in bits 16–30.
   */
  properties[PROP_BASE] = g_param_spec_uint ("base", NULL, NULL, 0, G_MAXUINT, 0, ro);
  /**
   * VhostUserVring:address:
   *
   * Where the ring lives (`SET_VRING_ADDR`).
   */
  properties[PROP_ADDRESS] = g_param_spec_boxed ("address", NULL, NULL, VHOST_USER_TYPE_VRING_ADDRESS, ro);
  /**
   * VhostUserVring:enabled:
   *
   * Whether processing the ring may have side effects.
   */
  properties[PROP_ENABLED] = g_param_spec_boolean ("enabled", NULL, NULL, FALSE, ro);
  /**
   * VhostUserVring:started:
   *
   * Whether the ring may be touched at all.
   */
  properties[PROP_STARTED] = g_param_spec_boolean ("started", NULL, NULL, FALSE, ro);
  /**
   * VhostUserVring:kick-fd:
   *
   * The eventfd the driver kicks, or -1 (then the ring is polled).
   */
  properties[PROP_KICK_FD] = g_param_spec_int ("kick-fd", NULL, NULL, -1, G_MAXINT, -1, ro);
  /**
   * VhostUserVring:call-fd:
   *
   * The eventfd the device signals when it used buffers, or -1.
   */
  properties[PROP_CALL_FD] = g_param_spec_int ("call-fd", NULL, NULL, -1, G_MAXINT, -1, ro);
  /**
   * VhostUserVring:err-fd:
   *
   * The eventfd the device signals on errors, or -1.
   */
  properties[PROP_ERR_FD] = g_param_spec_int ("err-fd", NULL, NULL, -1, G_MAXINT, -1, ro);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
vhost_user_vring_init (VhostUserVring *self)
{
  for (guint i = 0; i < G_N_ELEMENTS (self->fds); i++)
    self->fds[i] = -1;
}

VhostUserVring *
vhost_user_vring_new (guint index)
{
  VhostUserVring *self = g_object_new (VHOST_USER_TYPE_VRING, NULL);

  self->index = index;
  return self;
}

#define SET_AND_NOTIFY(self, field, value, prop) \
  G_STMT_START { \
    if ((self)->field != (value)) \
      { \
        (self)->field = (value); \
        g_object_notify_by_pspec (G_OBJECT (self), properties[prop]); \
      } \
  } G_STMT_END

void
vhost_user_vring_set_size (VhostUserVring *self,
                           guint           size)
{
  SET_AND_NOTIFY (self, size, size, PROP_SIZE);
}

/**
 * vhost_user_vring_set_base:
 * @self: a ring
 * @base: the next available index (packed rings: with wrap counters)
 *
 * Records how far the device got, for a device that processes the ring
 * itself: `GET_VRING_BASE` reports this value, and a front-end resumes
 * from it after a stop, a migration or a reconnect.
 */
void
vhost_user_vring_set_base (VhostUserVring *self,
                           guint           base)
{
  g_return_if_fail (VHOST_USER_IS_VRING (self));
  SET_AND_NOTIFY (self, base, base, PROP_BASE);
}

void
vhost_user_vring_set_address (VhostUserVring              *self,
                              const VhostUserVringAddress *address)
{
  self->address = *address;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ADDRESS]);
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
  if (self->started != started)
    VHOST_USER_NOTE (VRING, "vring %u %s", self->index, started ? "started" : "stopped");
  SET_AND_NOTIFY (self, started, started, PROP_STARTED);
}

/* Takes @fd (or -1); a replaced fd is closed. */
void
vhost_user_vring_take_fd (VhostUserVring       *self,
                          VhostUserVringFdKind  kind,
                          int                   fd)
{
  int old = self->fds[kind];

  self->fds[kind] = fd;
  if (old >= 0 && old != fd)
    g_close (old, NULL);
  if (old != fd)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_KICK_FD + kind]);
}

/* Back to what a new connection sees: stopped, disabled, no fds. */
void
vhost_user_vring_reset (VhostUserVring *self)
{
  static const VhostUserVringAddress zero = { 0 };

  g_object_freeze_notify (G_OBJECT (self));
  vhost_user_vring_set_started (self, FALSE);
  vhost_user_vring_set_enabled (self, FALSE);
  vhost_user_vring_set_size (self, 0);
  vhost_user_vring_set_base (self, 0);
  vhost_user_vring_set_address (self, &zero);
  for (guint kind = 0; kind < G_N_ELEMENTS (self->fds); kind++)
    vhost_user_vring_take_fd (self, kind, -1);
  g_object_thaw_notify (G_OBJECT (self));
}

/**
 * vhost_user_vring_get_index:
 * @self: a ring
 *
 * Gets the queue's index.
 *
 * Returns: the queue's index
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
 */
guint
vhost_user_vring_get_size (VhostUserVring *self)
{
  g_return_val_if_fail (VHOST_USER_IS_VRING (self), 0);
  return self->size;
}

/**
 * vhost_user_vring_get_base:
 * @self: a ring
 *
 * Gets the next available index (see [property@VhostUser.Vring:base]).
 *
 * Returns: the next available index (see [property@VhostUser.Vring:base])
 */
guint
vhost_user_vring_get_base (VhostUserVring *self)
{
  g_return_val_if_fail (VHOST_USER_IS_VRING (self), 0);
  return self->base;
}

/**
 * vhost_user_vring_get_address:
 * @self: a ring
 *
 * Gets where the ring lives.
 *
 * Returns: (transfer none): where the ring lives
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
 */
gboolean
vhost_user_vring_get_enabled (VhostUserVring *self)
{
  g_return_val_if_fail (VHOST_USER_IS_VRING (self), FALSE);
  return self->enabled;
}

/**
 * vhost_user_vring_get_started:
 * @self: a ring
 *
 * Gets whether the ring is started.
 *
 * Returns: whether the ring is started
 */
gboolean
vhost_user_vring_get_started (VhostUserVring *self)
{
  g_return_val_if_fail (VHOST_USER_IS_VRING (self), FALSE);
  return self->started;
}

/**
 * vhost_user_vring_get_kick_fd:
 * @self: a ring
 *
 * Gets the kick eventfd (owned by the ring), or -1.
 *
 * Returns: the kick eventfd (owned by the ring), or -1
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
 */
int
vhost_user_vring_get_err_fd (VhostUserVring *self)
{
  g_return_val_if_fail (VHOST_USER_IS_VRING (self), -1);
  return self->fds[VHOST_USER_VRING_FD_ERR];
}

/**
 * vhost_user_vring_notify:
 * @self: a ring
 * @error: return location for a #GError
 *
 * Signals the call eventfd: the driver is told that used buffers are
 * waiting. Does nothing if there is no call fd.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_vring_notify (VhostUserVring  *self,
                         GError         **error)
{
  guint64 one = 1;
  int fd;

  g_return_val_if_fail (VHOST_USER_IS_VRING (self), FALSE);

  fd = self->fds[VHOST_USER_VRING_FD_CALL];
  if (fd < 0)
    return TRUE;
  while (write (fd, &one, sizeof one) < 0)
    {
      int errsv = errno;

      /* a full counter still wakes the driver */
      if (errsv == EAGAIN)
        return TRUE;
      if (errsv != EINTR)
        {
          g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED,
                       "Could not signal vring %u: %s", self->index, g_strerror (errsv));
          return FALSE;
        }
    }
  return TRUE;
}
