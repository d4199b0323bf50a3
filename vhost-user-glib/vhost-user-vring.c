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
#include "vhost-user-lock-private.h"
#include "vhost-user-vring-packed-private.h"
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

  /* the data plane (split rings) */
  GMainContext         *context;
  VhostUserMemoryTable *memory;
  gboolean              packed;
  gboolean              event_idx;       /* VIRTIO_RING_F_EVENT_IDX */
  guint16               signalled_used;  /* the used index at the last call */
  gboolean              signalled_used_valid;
  guint16               used_idx;
  gboolean              used_idx_known;  /* read from the ring on first use */
  gboolean              broken;          /* the driver broke the ring: touch it no more */
  GSource              *kick_source;
  VhostUserVringKickFunc kick_func;
  gpointer              kick_data;
  GDestroyNotify        kick_notify;

  VhostUserVringPacked  packed_ring;     /* vhost-user-vring-packed.c */
};

/* what the packed walker sees of a ring, for one call */
#define PACKED_VIEW(self) \
  ((VhostUserVringPackedView) { (self), &(self)->packed_ring, (self)->memory, &(self)->address, \
                                (self)->size, &(self)->base, (self)->event_idx })

/* A full barrier between our stores to the ring and the loads that
 * follow (event indices against the driver's). GCC refuses thread fences
 * under TSan; there a sequentially consistent RMW stands in, which TSan
 * understands and which is a full barrier on the architectures we run. */
#ifdef VHOST_USER_TSAN
static int barrier_word;
# define full_barrier() ((void) __atomic_fetch_add (&barrier_word, 0, __ATOMIC_SEQ_CST))
#else
# define full_barrier() __atomic_thread_fence (__ATOMIC_SEQ_CST)
#endif

/* split virtqueue layout (virtio 1.2, 2.7) */
#define VRING_DESC_F_NEXT      1
#define VRING_DESC_F_WRITE     2
#define VRING_DESC_F_INDIRECT  4

typedef struct {
  guint64 addr;
  guint32 len;
  guint16 flags;
  guint16 next;
} VringDesc;

G_STATIC_ASSERT (sizeof (VringDesc) == 16);

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

static void update_kick_watch (VhostUserVring *self);

static void
vhost_user_vring_finalize (GObject *object)
{
  VhostUserVring *self = VHOST_USER_VRING (object);

  if (self->kick_source != NULL)
    {
      g_source_destroy (self->kick_source);
      g_clear_pointer (&self->kick_source, g_source_unref);
    }
  if (self->kick_notify != NULL)
    self->kick_notify (self->kick_data);
  g_clear_pointer (&self->memory, vhost_user_memory_table_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
  vhost_user_vring_packed_resize (&self->packed_ring, 0);

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
   * `GET_VRING_BASE`). For packed rings bits 0–14 are the next available
   * position, bit 15 the driver's wrap counter, bits 16–30 the next used
   * position and bit 31 the device's wrap counter; popping and pushing
   * move them (without a notification each time).
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
vhost_user_vring_new (guint         index,
                      GMainContext *context)
{
  VhostUserVring *self = g_object_new (VHOST_USER_TYPE_VRING, NULL);

  self->index = index;
  self->context = context != NULL ? g_main_context_ref (context) : g_main_context_ref_thread_default ();
  return self;
}

/* The guest memory ring and buffer addresses are translated in; the ring
 * keeps the table it was given alive while it uses it. */
void
vhost_user_vring_set_memory_table (VhostUserVring       *self,
                                   VhostUserMemoryTable *table)
{
  g_clear_pointer (&self->memory, vhost_user_memory_table_unref);
  self->memory = table != NULL ? vhost_user_memory_table_ref (table) : NULL;
}

void
vhost_user_vring_set_features (VhostUserVring *self,
                               gboolean        packed,
                               gboolean        event_idx)
{
  /* a ring set up before the layout was known keeps its position */
  if (packed && !self->packed)
    {
      self->base = vhost_user_vring_packed_base (self->base);
      vhost_user_vring_packed_forget (&self->packed_ring);
    }
  self->packed = packed;
  self->event_idx = event_idx;
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
  if (self->size != size || self->packed_ring.chains == NULL)
    vhost_user_vring_packed_resize (&self->packed_ring, size);
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
 *
 * For a packed ring @base holds both halves (see
 * [property@VhostUser.Vring:base]); one whose used half (bits 16–31) is 0
 * means the device used all it took, so the used half is set equal to
 * the available one, as a front-end that sends only the available half
 * (DPDK) means. Requests popped before are forgotten.
 */
void
vhost_user_vring_set_base (VhostUserVring *self,
                           guint           base)
{
  g_return_if_fail (VHOST_USER_IS_VRING (self));
  self->used_idx_known = FALSE;
  if (self->packed)
    {
      base = vhost_user_vring_packed_base (base);
      vhost_user_vring_packed_forget (&self->packed_ring);
    }
  SET_AND_NOTIFY (self, base, base, PROP_BASE);
}

void
vhost_user_vring_set_address (VhostUserVring              *self,
                              const VhostUserVringAddress *address)
{
  self->address = *address;
  /* the spec: the used index is re-read from the ring after SET_VRING_ADDR */
  self->used_idx_known = FALSE;
  self->signalled_used_valid = FALSE;
  self->broken = FALSE;
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
    {
      VHOST_USER_NOTE (VRING, "vring %u %s", self->index, started ? "started" : "stopped");
      self->started = started;
      update_kick_watch (self);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STARTED]);
      /* a front-end need not kick a ring it starts: look at it once */
      if (started && self->kick_func != NULL)
        self->kick_func (self, self->kick_data);
    }
}

/* Takes @fd (or -1); a replaced fd is closed. */
void
vhost_user_vring_take_fd (VhostUserVring       *self,
                          VhostUserVringFdKind  kind,
                          int                   fd)
{
  int old = self->fds[kind];

  self->fds[kind] = fd;
  if (kind == VHOST_USER_VRING_FD_KICK)
    update_kick_watch (self);
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
  self->broken = FALSE;
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

/* Whether the driver wants to hear about the used entries pushed since the
 * last call: EVENT_IDX's used_event, or the NO_INTERRUPT flag. */
static gboolean
driver_wants_call (VhostUserVring *self)
{
  guint num = self->size;
  guint8 *avail, *used;
  guint16 old_used, used_event;

  if (!self->started || self->broken || num == 0 || self->memory == NULL)
    return TRUE;
  if (self->packed)
    return vhost_user_vring_packed_wants_call (&PACKED_VIEW (self));
  avail = vhost_user_memory_table_translate_user_addr (self->memory, self->address.avail_user_addr,
                                                       &(guint64) { 6 + 2 * (guint64) num });
  used = vhost_user_memory_table_translate_user_addr (self->memory, self->address.used_user_addr,
                                                      &(guint64) { 4 });
  if (avail == NULL || used == NULL || !self->used_idx_known)
    return TRUE;

  /* our used index is visible before we read what the driver asked for */
  full_barrier ();
  if (!self->event_idx)
    return !(__atomic_load_n ((guint16 *) avail, __ATOMIC_RELAXED) & 1);  /* VRING_AVAIL_F_NO_INTERRUPT */

  old_used = self->signalled_used;
  used_event = __atomic_load_n ((guint16 *) (avail + 4 + 2 * num), __ATOMIC_RELAXED);
  if (!self->signalled_used_valid)
    return TRUE;
  /* vring_need_event(): did used_idx step past used_event since the last call? */
  return (guint16) (self->used_idx - used_event - 1) < (guint16) (self->used_idx - old_used);
}

/**
 * vhost_user_vring_notify:
 * @self: a ring
 * @error: return location for a #GError
 *
 * Tells the driver that used buffers are waiting: signals the call
 * eventfd, unless the driver asked not to be told now (the
 * `NO_INTERRUPT` flag, or with `VIRTIO_RING_F_EVENT_IDX` a `used_event`
 * not yet reached; on a packed ring the driver area's flags, DISABLE, or
 * DESC with a descriptor event not yet reached). Does nothing if there
 * is no call fd.
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
  if (fd < 0 || !driver_wants_call (self))
    return TRUE;
  self->signalled_used = self->used_idx;
  self->signalled_used_valid = self->used_idx_known;
  vhost_user_vring_packed_called (&self->packed_ring);
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

/* --- the data plane: split rings --- */

static gboolean
on_kick (int          fd,
         GIOCondition condition,
         gpointer     user_data)
{
  VhostUserVring *self = user_data;
  guint64 count;

  /* clear the eventfd first: a kick after this read is a new one */
  while (read (fd, &count, sizeof count) < 0 && errno == EINTR)
    ;
  if (self->kick_func != NULL && self->started)
    self->kick_func (self, self->kick_data);
  return G_SOURCE_CONTINUE;
}

/* Kicks are watched while the ring is started, has a kick fd and a
 * handler to tell. */
static void
update_kick_watch (VhostUserVring *self)
{
  int fd = self->fds[VHOST_USER_VRING_FD_KICK];

  if (self->kick_source != NULL)
    {
      g_source_destroy (self->kick_source);
      g_clear_pointer (&self->kick_source, g_source_unref);
    }
  if (!self->started || fd < 0 || self->kick_func == NULL || self->context == NULL)
    return;
  self->kick_source = g_unix_fd_source_new (fd, G_IO_IN);
  g_source_set_static_name (self->kick_source, "VhostUserVring kick");
  g_source_set_callback (self->kick_source, (GSourceFunc) (void (*) (void)) on_kick, self, NULL);
  g_source_attach (self->kick_source, self->context);
}

/**
 * vhost_user_vring_set_kick_handler:
 * @self: a ring
 * @func: (nullable) (scope notified) (closure user_data): called on each kick
 * @user_data: data for @func
 * @notify: (nullable): frees @user_data
 *
 * Sets what processes the ring: @func runs in the back-end's context when
 * the driver kicks and once when the ring starts. It should pop until
 * vhost_user_vring_pop() says the ring is empty.
 */
void
vhost_user_vring_set_kick_handler (VhostUserVring         *self,
                                   VhostUserVringKickFunc  func,
                                   gpointer                user_data,
                                   GDestroyNotify          notify)
{
  g_return_if_fail (VHOST_USER_IS_VRING (self));

  if (self->kick_notify != NULL)
    self->kick_notify (self->kick_data);
  self->kick_func = func;
  self->kick_data = user_data;
  self->kick_notify = notify;
  update_kick_watch (self);
}

/* A pointer to @len bytes of the ring at front-end address @addr, or NULL
 * if they are not all in one mapped region. */
static guint8 *
ring_part (VhostUserVring *self,
           guint64         addr,
           guint64         len)
{
  guint64 got = len;
  guint8 *p;

  if (self->memory == NULL)
    return NULL;
  p = vhost_user_memory_table_translate_user_addr (self->memory, addr, &got);
  return p != NULL && got == len ? p : NULL;
}

static gboolean
broken (VhostUserVring  *self,
        GError         **error,
        const char      *what)
{
  self->broken = TRUE;
  g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
               "Queue %u: %s; the ring is not touched again until it is set up anew", self->index, what);
  return FALSE;
}

/* Adds @len bytes at guest-physical @gpa to @element, split where guest
 * memory is split. */
static gboolean
add_buffer (VhostUserVring        *self,
            VhostUserVringElement *element,
            guint64                gpa,
            guint32                len,
            gboolean               writable,
            GError               **error)
{
  guint64 done = 0;

  while (done < len)
    {
      guint64 chunk = len - done;
      guint8 *p;
      VhostUserVringBuffer *iov;
      guint *n;

      if (gpa + done < gpa)
        return broken (self, error, "a buffer wraps around the address space");
      p = vhost_user_memory_table_translate_gpa (self->memory, gpa + done, &chunk);
      if (p == NULL)
        return broken (self, error, "a buffer is outside guest memory");
      n = writable ? &element->n_in : &element->n_out;
      if (*n >= VHOST_USER_VRING_MAX_IOV)
        return broken (self, error, "a request has too many pieces");
      iov = writable ? &element->in[*n] : &element->out[*n];
      iov->base = p;
      iov->len = chunk;
      (*n)++;
      if (writable)
        element->in_len += chunk;
      else
        element->out_len += chunk;
      done += chunk;
    }
  return TRUE;
}

/* The two above, for the packed walker (vhost-user-vring-packed.c). */
gboolean
vhost_user_vring_mark_broken (VhostUserVring  *self,
                              GError         **error,
                              const char      *what)
{
  return broken (self, error, what);
}

gboolean
vhost_user_vring_add_buffer (VhostUserVring        *self,
                             VhostUserVringElement *element,
                             guint64                gpa,
                             guint32                len,
                             gboolean               writable,
                             GError               **error)
{
  return add_buffer (self, element, gpa, len, writable, error);
}

/**
 * vhost_user_vring_pop:
 * @self: a started ring
 * @element: (out caller-allocates): where to put the request
 * @error: return location for a #GError
 *
 * Takes the next request the driver made available: its descriptor chain
 * (indirect tables included), translated to buffers in this process. The
 * driver is not trusted: a head or next index out of range, a loop, an
 * indirect table that is not whole descriptors, a buffer outside guest
 * memory, readable buffers after writable ones, or more outstanding
 * requests than the ring holds are an error, and the ring is left alone
 * from then on (until the front-end sets it up again). Never allocates.
 *
 * Split and packed rings (`VIRTIO_F_RING_PACKED`) alike: for a packed
 * ring [field@VhostUser.VringElement.head] is the buffer id, a chain runs
 * over consecutive descriptors, and an id out of range or already out
 * with the device, or a chain longer than the ring, breaks it too.
 *
 * Returns: %TRUE with @element filled, %FALSE when the ring is empty (no
 *   @error) or broken (@error set)
 */
gboolean
vhost_user_vring_pop (VhostUserVring         *self,
                      VhostUserVringElement  *element,
                      GError                **error)
{
  guint num = self->size;
  guint16 last_avail = self->base & 0xffff;
  guint16 avail_idx;
  guint8 *avail, *desc_table;
  const VringDesc *table;
  guint table_len, i, seen = 0, total = 0;
  gboolean indirect = FALSE, writable_seen = FALSE;

  g_return_val_if_fail (VHOST_USER_IS_VRING (self), FALSE);
  g_return_val_if_fail (element != NULL, FALSE);

  element->n_in = element->n_out = 0;
  element->in_len = element->out_len = 0;

  if (!self->started || self->broken || num == 0)
    return FALSE;
  if (self->packed)
    return vhost_user_vring_packed_pop (&PACKED_VIEW (self), element, error);

  /* with event idx the rings end with used_event / avail_event */
  avail = ring_part (self, self->address.avail_user_addr, 6 + 2 * (guint64) num);
  desc_table = ring_part (self, self->address.desc_user_addr, 16 * (guint64) num);
  if (avail == NULL || desc_table == NULL)
    return broken (self, error, "the ring is not in guest memory");

  avail_idx = __atomic_load_n ((guint16 *) (avail + 2), __ATOMIC_ACQUIRE);
  if (avail_idx == last_avail && self->event_idx)
    {
      /* ask for a kick at the next request, then look once more: one made
       * available before the driver saw our request would go unkicked */
      guint8 *used = ring_part (self, self->address.used_user_addr, 6 + 8 * (guint64) num);

      if (used == NULL)
        return broken (self, error, "the used ring is not in guest memory");
      __atomic_store_n ((guint16 *) (used + 4 + 8 * num), last_avail, __ATOMIC_RELAXED);
      full_barrier ();
      avail_idx = __atomic_load_n ((guint16 *) (avail + 2), __ATOMIC_ACQUIRE);
    }
  if ((guint16) (avail_idx - last_avail) > num)
    return broken (self, error, "more requests available than the ring holds");
  if (avail_idx == last_avail)
    return FALSE;

  /* read the head only after the index that published it */
  element->head = __atomic_load_n ((guint16 *) (avail + 4 + 2 * (last_avail % num)), __ATOMIC_RELAXED);
  if (element->head >= num)
    return broken (self, error, "a request's head is outside the ring");

  table = (const VringDesc *) desc_table;
  table_len = num;
  i = element->head;
  for (;;)
    {
      VringDesc d;

      /* one copy: the driver may change the ring under us */
      memcpy (&d, &table[i], sizeof d);

      if (d.flags & VRING_DESC_F_INDIRECT)
        {
          guint64 len = d.len;

          if (indirect || (d.flags & VRING_DESC_F_NEXT))
            return broken (self, error, "an indirect descriptor in a chain or an indirect table");
          if (d.len == 0 || d.len % sizeof (VringDesc) != 0 || d.len / sizeof (VringDesc) > 65536)
            return broken (self, error, "an indirect table that is not whole descriptors");
          table = vhost_user_memory_table_translate_gpa (self->memory, d.addr, &len);
          if (table == NULL || len != d.len)
            return broken (self, error, "an indirect table outside guest memory");
          table_len = d.len / sizeof (VringDesc);
          indirect = TRUE;
          seen = 0;
          i = 0;
          continue;
        }

      if (d.flags & VRING_DESC_F_WRITE)
        writable_seen = TRUE;
      else if (writable_seen)
        return broken (self, error, "a readable buffer after a writable one");

      if (!add_buffer (self, element, d.addr, d.len, (d.flags & VRING_DESC_F_WRITE) != 0, error))
        return FALSE;
      /* a chain visits each descriptor at most once: more is a loop */
      if (++seen > table_len || ++total > num + 65536)
        return broken (self, error, "a descriptor chain loops");

      if (!(d.flags & VRING_DESC_F_NEXT))
        break;
      i = d.next;
      if (i >= table_len)
        return broken (self, error, "a descriptor chain leaves its table");
    }

  /* the base is how far the device got: GET_VRING_BASE reports it */
  self->base = (guint16) (last_avail + 1);
  return TRUE;
}

/**
 * vhost_user_vring_push:
 * @self: a started ring
 * @head: the head of a request vhost_user_vring_pop() gave
 * @len: how many bytes the device wrote into the request's buffers
 * @error: return location for a #GError
 *
 * Hands a request back to the driver (the used ring). Tell the driver
 * with vhost_user_vring_notify() once a batch is pushed.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_vring_push (VhostUserVring  *self,
                       guint            head,
                       guint            len,
                       GError         **error)
{
  return vhost_user_vring_push_batch (self, &head, &len, 1, error);
}

/**
 * vhost_user_vring_push_batch:
 * @self: a started ring
 * @heads: (array length=n): heads of requests vhost_user_vring_pop() gave
 * @lens: (array length=n): how many bytes the device wrote into each
 * @n: how many requests
 * @error: return location for a #GError
 *
 * Hands several requests back at once: every entry is written first and
 * the used index moves once, so the driver sees the whole batch or none
 * of it (and one store-release instead of @n). Either every head is valid
 * and all are pushed, or none is.
 *
 * Requests may be pushed in any order. On a packed ring each head is a
 * buffer id out with the device, named once; its used descriptor moves
 * the used position by as many descriptors as its chain took.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_vring_push_batch (VhostUserVring  *self,
                             const guint     *heads,
                             const guint     *lens,
                             guint            n,
                             GError         **error)
{
  guint num = self->size;
  guint8 *used;

  g_return_val_if_fail (VHOST_USER_IS_VRING (self), FALSE);
  g_return_val_if_fail (n == 0 || (heads != NULL && lens != NULL), FALSE);

  if (!self->started || self->broken || num == 0)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                   "Queue %u is not running", self->index);
      return FALSE;
    }
  if (n > num)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "Queue %u holds %u requests, not %u", self->index, num, n);
      return FALSE;
    }
  for (guint i = 0; i < n; i++)
    if (heads[i] >= num)
      {
        g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                     "Queue %u has no descriptor %u", self->index, heads[i]);
        return FALSE;
      }
  if (self->packed)
    return vhost_user_vring_packed_push (&PACKED_VIEW (self), heads, lens, n, error);
  used = ring_part (self, self->address.used_user_addr, 6 + 8 * (guint64) num);
  if (used == NULL)
    return broken (self, error, "the used ring is not in guest memory");

  if (!self->used_idx_known)
    {
      self->used_idx = __atomic_load_n ((guint16 *) (used + 2), __ATOMIC_RELAXED);
      self->used_idx_known = TRUE;
    }

  for (guint i = 0; i < n; i++)
    {
      guint32 entry[2] = { heads[i], lens[i] };

      memcpy (used + 4 + 8 * ((guint16) (self->used_idx + i) % num), entry, sizeof entry);
    }
  self->used_idx += n;
  /* the entries are visible before the index that publishes them */
  __atomic_store_n ((guint16 *) (used + 2), self->used_idx, __ATOMIC_RELEASE);
  return TRUE;
}

/* Copies between @data and the pieces of one direction, from @offset on;
 * returns how much fit. */
static gsize
copy_pieces (const VhostUserVringBuffer *pieces,
             guint                       n,
             gsize                       offset,
             guint8                     *data,
             gsize                       len,
             gboolean                    to_pieces)
{
  gsize done = 0;

  for (guint i = 0; i < n && done < len; i++)
    {
      gsize piece;

      if (offset >= pieces[i].len)
        {
          offset -= pieces[i].len;
          continue;
        }
      piece = MIN (pieces[i].len - offset, len - done);
      if (to_pieces)
        memcpy ((guint8 *) pieces[i].base + offset, data + done, piece);
      else
        memcpy (data + done, (guint8 *) pieces[i].base + offset, piece);
      done += piece;
      offset = 0;
    }
  return done;
}

/**
 * vhost_user_vring_element_copy_out:
 * @element: a request from vhost_user_vring_pop()
 * @offset: where to start in the device-readable bytes
 * @dest: (out caller-allocates) (array length=len) (element-type guint8): where to copy
 * @len: the size of @dest
 *
 * Copies what the driver gave the device to read into @dest, across
 * pieces, from @offset on: a header in one piece, or a payload straight
 * to where it goes. Does not allocate.
 *
 * Returns: how many bytes were copied: @len, or fewer when the buffers
 *   end first
 */
gsize
vhost_user_vring_element_copy_out (const VhostUserVringElement *element,
                                   gsize                        offset,
                                   guint8                      *dest,
                                   gsize                        len)
{
  g_return_val_if_fail (element != NULL, 0);
  g_return_val_if_fail (dest != NULL || len == 0, 0);
  g_return_val_if_fail (element->n_out <= VHOST_USER_VRING_MAX_IOV, 0);

  return copy_pieces (element->out, element->n_out, offset, dest, len, FALSE);
}

/**
 * vhost_user_vring_element_read:
 * @element: a request from vhost_user_vring_pop()
 * @offset: where to start in the device-readable bytes
 * @len: how many bytes, at most
 *
 * Copies out what the driver gave the device to read, as one block,
 * whatever pieces it came in. This is the view for bindings; it
 * allocates, so the data path of a C device uses
 * vhost_user_vring_element_copy_out() or reads
 * [field@VhostUser.VringElement.out] directly.
 *
 * Returns: (transfer full): up to @len bytes from @offset; fewer (maybe
 *   none) when the buffers end first
 */
GBytes *
vhost_user_vring_element_read (const VhostUserVringElement *element,
                               gsize                        offset,
                               gsize                        len)
{
  guint8 *data;

  g_return_val_if_fail (element != NULL, NULL);

  if (offset >= element->out_len)
    return g_bytes_new (NULL, 0);
  len = MIN (len, element->out_len - offset);
  data = g_malloc (MAX (len, 1));
  return g_bytes_new_take (data, vhost_user_vring_element_copy_out (element, offset, data, len));
}

/**
 * vhost_user_vring_element_write:
 * @element: a request from vhost_user_vring_pop()
 * @offset: where to start in the device-writable bytes
 * @data: (array length=len) (element-type guint8): what to write
 * @len: the length of @data
 *
 * Copies @data into the buffers the driver gave the device to write,
 * across pieces; nothing is written past them. For bindings, and for
 * code that writes a reply in one go; it does not allocate.
 *
 * Returns: how many bytes were written: @len, or fewer when the buffers
 *   end first
 */
gsize
vhost_user_vring_element_write (VhostUserVringElement *element,
                                gsize                  offset,
                                const guint8          *data,
                                gsize                  len)
{
  g_return_val_if_fail (element != NULL, 0);
  g_return_val_if_fail (data != NULL || len == 0, 0);
  g_return_val_if_fail (element->n_in <= VHOST_USER_VRING_MAX_IOV, 0);

  return copy_pieces (element->in, element->n_in, offset, (guint8 *) data, len, TRUE);
}
