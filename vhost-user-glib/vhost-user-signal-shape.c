/* vhost-user-signal-shape.c: the arguments of request signals
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One row per shape: a signature string (one character per argument, as
 * GVariant writes types) and the decoder that fills those arguments from
 * a message. Roles register their signals from the signature and the
 * responder initializes the GValues from it before the decoder runs, so a
 * decoder that set a value of the wrong type would fail loudly in every
 * test that sends the request.
 */

#include "config.h"

#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vhost-user-signal-shape-private.h"
#include "vhost-user-marshal.h"

#include "vhost-user-error.h"
#include "vhost-user-features.h"
#include "vhost-user-memory-table-private.h"
#include "vhost-user-vring.h"

typedef gboolean (*DecodeFunc) (const VhostUserRequestInfo *info,
                                const VhostUserMessage     *msg,
                                const VhostUserShapeLimits *limits,
                                GValue                     *v,
                                GError                    **error);

static gboolean
check_index (const VhostUserRequestInfo  *info,
             const VhostUserShapeLimits  *limits,
             guint                        index,
             GError                     **error)
{
  if (index >= limits->num_queues)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "%s for queue %u, there are %u", info->name, index, limits->num_queues);
      return FALSE;
    }
  return TRUE;
}

static int
fd_at (const VhostUserMessage *msg,
       guint                   i)
{
  return i < msg->n_fds ? msg->fds[i] : -1;
}

static gboolean
decode_none (const VhostUserRequestInfo *info,
             const VhostUserMessage     *msg,
             const VhostUserShapeLimits *limits,
             GValue                     *v,
             GError                    **error)
{
  return TRUE;
}

static gboolean
decode_u64 (const VhostUserRequestInfo *info,
            const VhostUserMessage     *msg,
            const VhostUserShapeLimits *limits,
            GValue                     *v,
            GError                    **error)
{
  guint64 u64 = 0;

  vhost_user_message_get_u64 (msg, &u64);
  g_value_set_uint64 (&v[0], u64);
  return TRUE;
}

/* INDEX, INDEX_NUM, VRING_SIZE and INDEX_BOOL: a vring state */
static gboolean
decode_vring_state (const VhostUserRequestInfo *info,
                    const VhostUserMessage     *msg,
                    const VhostUserShapeLimits *limits,
                    GValue                     *v,
                    GError                    **error)
{
  guint32 index = 0, num = 0;

  vhost_user_message_get_vring_state (msg, &index, &num);
  if (!check_index (info, limits, index, error))
    return FALSE;
  g_value_set_uint (&v[0], index);
  if (G_VALUE_HOLDS_BOOLEAN (&v[1]))
    {
      if (num > 1)
        {
          g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                       "%s: %u is neither 0 nor 1", info->name, num);
          return FALSE;
        }
      g_value_set_boolean (&v[1], num == 1);
    }
  else if (G_VALUE_HOLDS_UINT (&v[1]))
    g_value_set_uint (&v[1], num);
  return TRUE;
}

/* Split rings need a power of two, packed ones any size. */
static gboolean
decode_vring_size (const VhostUserRequestInfo *info,
                   const VhostUserMessage     *msg,
                   const VhostUserShapeLimits *limits,
                   GValue                     *v,
                   GError                    **error)
{
  guint32 index = 0, num = 0;

  if (!decode_vring_state (info, msg, limits, v, error))
    return FALSE;
  vhost_user_message_get_vring_state (msg, &index, &num);
  if (num == 0 || num > limits->max_queue_size || (!limits->packed && (num & (num - 1)) != 0))
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "Queue %u: size %u is not %s up to %u", index, num,
                   limits->packed ? "between 1 and" : "a power of two", limits->max_queue_size);
      return FALSE;
    }
  return TRUE;
}

/* Where /proc has the calling thread's fds: /proc/thread-self resolved
 * once per thread ("PID/task/TID" as /proc counts them, which need not be
 * as this process does: another PID namespace's /proc), since walking
 * that symbolic link was a fifth of each check's cost. Empty: /proc
 * cannot say. A child forked from this thread is another thread: the
 * cache is cleared in it. */
static __thread char thread_dir[48];

static void
forget_thread_dir (void)
{
  thread_dir[0] = '\0';
}

static const char *
proc_thread_dir (void)
{
  static gsize registered;
  gssize n;

  if (g_once_init_enter (&registered))
    {
      pthread_atfork (NULL, NULL, forget_thread_dir);
      g_once_init_leave (&registered, 1);
    }
  if (thread_dir[0] == '\0')
    {
      n = readlink ("/proc/thread-self", thread_dir, sizeof thread_dir - 1);
      thread_dir[n > 0 && (gsize) n < sizeof thread_dir - 1 ? n : 0] = '\0';
    }
  return thread_dir;
}

/* Kick, call, err and log fds are read and written as eventfds, and
 * any other kind misbehaves: a pipe whose writer is gone, a memfd or a
 * socket at EOF poll readable for ever and spin the ring's context; a
 * pipe whose reader is gone makes a call SIGPIPE. An eventfd is an
 * anonymous inode (no file type in st_mode), as timerfds, signalfds and
 * epoll fds are too: /proc tells them apart (one readlink(),
 * the only system call when /proc is mounted: a device setup checks
 * four), and where /proc is not mounted the file type alone decides. */
static gboolean
check_eventfd (const VhostUserRequestInfo  *info,
               int                          fd,
               GError                     **error)
{
  static const char eventfd_target[] = "anon_inode:[eventfd]";
  const char *dir = proc_thread_dir ();
  char path[80];
  char target[sizeof eventfd_target];
  struct stat st;
  gboolean anonymous;
  gssize n = -1;

  /* this thread's fd table (another thread may have unshared its own) */
  if (dir[0] != '\0')
    {
      g_snprintf (path, sizeof path, "/proc/%s/fd/%d", dir, fd);
      n = readlink (path, target, sizeof target);
    }
  if (n >= 0)
    {
      if ((gsize) n == strlen (eventfd_target) && memcmp (target, eventfd_target, n) == 0)
        return TRUE;
      anonymous = n >= (gssize) strlen ("anon_inode:") && memcmp (target, "anon_inode:", strlen ("anon_inode:")) == 0;
    }
  else if (fstat (fd, &st) == 0 && (st.st_mode & S_IFMT) == 0)
    return TRUE;
  else
    anonymous = FALSE;
  g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INCORRECT_FDS,
               "%s: the fd is not an eventfd (%s)", info->name,
               anonymous ? "another anonymous inode" : "a file, pipe, socket or device");
  return FALSE;
}

static gboolean
decode_index_fd (const VhostUserRequestInfo *info,
                 const VhostUserMessage     *msg,
                 const VhostUserShapeLimits *limits,
                 GValue                     *v,
                 GError                    **error)
{
  guint index = 0;
  gboolean no_fd = TRUE;

  vhost_user_message_get_vring_fd (msg, &index, &no_fd);
  if (!check_index (info, limits, index, error))
    return FALSE;
  if (!no_fd && !check_eventfd (info, fd_at (msg, 0), error))
    return FALSE;
  g_value_set_uint (&v[0], index);
  g_value_set_int (&v[1], no_fd ? -1 : fd_at (msg, 0));
  return TRUE;
}

static gboolean
decode_fd (const VhostUserRequestInfo *info,
           const VhostUserMessage     *msg,
           const VhostUserShapeLimits *limits,
           GValue                     *v,
           GError                    **error)
{
  g_value_set_int (&v[0], fd_at (msg, 0));
  return TRUE;
}

static gboolean
decode_eventfd (const VhostUserRequestInfo *info,
                const VhostUserMessage     *msg,
                const VhostUserShapeLimits *limits,
                GValue                     *v,
                GError                    **error)
{
  if (!check_eventfd (info, fd_at (msg, 0), error))
    return FALSE;
  return decode_fd (info, msg, limits, v, error);
}

static gboolean
decode_vring_addr (const VhostUserRequestInfo *info,
                   const VhostUserMessage     *msg,
                   const VhostUserShapeLimits *limits,
                   GValue                     *v,
                   GError                    **error)
{
  VhostUserWireVringAddr wire = { 0 };
  VhostUserVringAddress address;

  vhost_user_message_get_vring_addr (msg, &wire);
  if (!check_index (info, limits, wire.index, error))
    return FALSE;
  if ((wire.desc_user_addr & 15) || (wire.avail_user_addr & 1) || (wire.used_user_addr & 3))
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "Queue %u: ring addresses are not aligned", wire.index);
      return FALSE;
    }
  address.flags = wire.flags;
  address.desc_user_addr = wire.desc_user_addr;
  address.used_user_addr = wire.used_user_addr;
  address.avail_user_addr = wire.avail_user_addr;
  address.log_guest_addr = wire.log_guest_addr;
  g_value_set_uint (&v[0], wire.index);
  g_value_set_boxed (&v[1], &address);
  return TRUE;
}

static VhostUserMemoryRegion *
map_region (const VhostUserWireXenMemoryRegion  *r,
            int                                  fd,
            GError                             **error)
{
  return vhost_user_memory_region_new_map (r->guest_phys_addr, r->memory_size, r->userspace_addr,
                                           r->mmap_offset, fd, error);
}

/* Maps every region before the handler runs, so a table that cannot be
 * mapped is refused whole and handlers only ever see a usable one. */
static gboolean
decode_mem_table (const VhostUserRequestInfo *info,
                  const VhostUserMessage     *msg,
                  const VhostUserShapeLimits *limits,
                  GValue                     *v,
                  GError                    **error)
{
  guint n_regions = vhost_user_message_get_mem_table_n_regions (msg);
  VhostUserMemoryRegion *regions[VHOST_USER_MAX_MEM_TABLE_REGIONS];
  VhostUserMemoryTable *table;
  guint mapped = 0;

  if (n_regions > limits->max_mem_slots)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "%u memory regions, the device has %u slots", n_regions, limits->max_mem_slots);
      return FALSE;
    }
  for (; mapped < n_regions; mapped++)
    {
      VhostUserWireXenMemoryRegion r;

      vhost_user_message_get_mem_table_region (msg, mapped, &r);
      regions[mapped] = map_region (&r, fd_at (msg, mapped), error);
      if (regions[mapped] == NULL)
        break;
    }
  table = mapped == n_regions ? vhost_user_memory_table_new (regions, n_regions, error) : NULL;
  for (guint i = 0; i < mapped; i++)
    vhost_user_memory_region_unref (regions[i]);
  if (table == NULL)
    return FALSE;
  g_value_take_boxed (&v[0], table);
  return TRUE;
}

static gboolean
decode_region (const VhostUserRequestInfo *info,
               const VhostUserMessage     *msg,
               const VhostUserShapeLimits *limits,
               GValue                     *v,
               GError                    **error)
{
  VhostUserWireXenMemoryRegion r;
  VhostUserMemoryRegion *region;

  vhost_user_message_get_single_region (msg, &r);
  region = map_region (&r, fd_at (msg, 0), error);
  if (region == NULL)
    return FALSE;
  g_value_take_boxed (&v[0], region);
  return TRUE;
}

static gboolean
decode_region_desc (const VhostUserRequestInfo *info,
                    const VhostUserMessage     *msg,
                    const VhostUserShapeLimits *limits,
                    GValue                     *v,
                    GError                    **error)
{
  VhostUserWireXenMemoryRegion r;

  vhost_user_message_get_single_region (msg, &r);
  g_value_set_uint64 (&v[0], r.guest_phys_addr);
  g_value_set_uint64 (&v[1], r.memory_size);
  g_value_set_uint64 (&v[2], r.userspace_addr);
  return TRUE;
}

static gboolean
decode_log (const VhostUserRequestInfo *info,
            const VhostUserMessage     *msg,
            const VhostUserShapeLimits *limits,
            GValue                     *v,
            GError                    **error)
{
  VhostUserWireLog log = { 0 };

  vhost_user_message_get_log (msg, &log);
  g_value_set_uint64 (&v[0], log.mmap_size);
  g_value_set_uint64 (&v[1], log.mmap_offset);
  g_value_set_int (&v[2], fd_at (msg, 0));
  return TRUE;
}

static gboolean
decode_iotlb (const VhostUserRequestInfo *info,
              const VhostUserMessage     *msg,
              const VhostUserShapeLimits *limits,
              GValue                     *v,
              GError                    **error)
{
  VhostUserWireIotlb iotlb = { 0 };

  vhost_user_message_get_iotlb (msg, &iotlb);
  g_value_set_uint64 (&v[0], iotlb.iova);
  g_value_set_uint64 (&v[1], iotlb.size);
  g_value_set_uint64 (&v[2], iotlb.uaddr);
  g_value_set_uint (&v[3], iotlb.perm);
  g_value_set_uint (&v[4], iotlb.type);
  return TRUE;
}

/* GET_CONFIG: offset, size, flags; SET_CONFIG: offset, flags, data */
static gboolean
decode_config (const VhostUserRequestInfo *info,
               const VhostUserMessage     *msg,
               const VhostUserShapeLimits *limits,
               GValue                     *v,
               GError                    **error)
{
  guint32 offset = 0, flags = 0, size = 0;
  const guint8 *data = NULL;

  vhost_user_message_get_config (msg, &offset, &flags, &data, &size);
  g_value_set_uint (&v[0], offset);
  if (G_VALUE_HOLDS (&v[2], G_TYPE_BYTES))
    {
      g_value_set_uint (&v[1], flags);
      g_value_take_boxed (&v[2], g_bytes_new (data, size));
    }
  else
    {
      g_value_set_uint (&v[1], size);
      g_value_set_uint (&v[2], flags);
    }
  return TRUE;
}

static gboolean
decode_bytes (const VhostUserRequestInfo *info,
              const VhostUserMessage     *msg,
              const VhostUserShapeLimits *limits,
              GValue                     *v,
              GError                    **error)
{
  g_value_take_boxed (&v[0], g_bytes_new (msg->payload, msg->header.size));
  return TRUE;
}

static gboolean
decode_inflight_get (const VhostUserRequestInfo *info,
                     const VhostUserMessage     *msg,
                     const VhostUserShapeLimits *limits,
                     GValue                     *v,
                     GError                    **error)
{
  VhostUserWireInflight inflight = { 0 };

  vhost_user_message_get_inflight (msg, &inflight);
  g_value_set_uint (&v[0], inflight.num_queues);
  g_value_set_uint (&v[1], inflight.queue_size);
  return TRUE;
}

static gboolean
decode_inflight_set (const VhostUserRequestInfo *info,
                     const VhostUserMessage     *msg,
                     const VhostUserShapeLimits *limits,
                     GValue                     *v,
                     GError                    **error)
{
  VhostUserWireInflight inflight = { 0 };

  vhost_user_message_get_inflight (msg, &inflight);
  g_value_set_uint64 (&v[0], inflight.mmap_size);
  g_value_set_uint64 (&v[1], inflight.mmap_offset);
  g_value_set_uint (&v[2], inflight.num_queues);
  g_value_set_uint (&v[3], inflight.queue_size);
  g_value_set_int (&v[4], fd_at (msg, 0));
  return TRUE;
}

static gboolean
decode_uuid (const VhostUserRequestInfo *info,
             const VhostUserMessage     *msg,
             const VhostUserShapeLimits *limits,
             GValue                     *v,
             GError                    **error)
{
  /* the codec checked the payload's size */
  g_value_take_string (&v[0], vhost_user_message_get_uuid_string (msg));
  return TRUE;
}

static gboolean
decode_device_state (const VhostUserRequestInfo *info,
                     const VhostUserMessage     *msg,
                     const VhostUserShapeLimits *limits,
                     GValue                     *v,
                     GError                    **error)
{
  guint32 direction = 0, phase = 0;

  vhost_user_message_get_device_state (msg, &direction, &phase);
  g_value_set_uint (&v[0], direction);
  g_value_set_uint (&v[1], phase);
  g_value_set_int (&v[2], fd_at (msg, 0));
  return TRUE;
}

static gboolean
decode_vring_area (const VhostUserRequestInfo *info,
                   const VhostUserMessage     *msg,
                   const VhostUserShapeLimits *limits,
                   GValue                     *v,
                   GError                    **error)
{
  guint index = 0;
  gboolean no_fd = TRUE;
  guint64 size = 0, offset = 0;

  vhost_user_message_get_vring_area (msg, &index, &no_fd, &size, &offset);
  if (!check_index (info, limits, index, error))
    return FALSE;
  g_value_set_uint (&v[0], index);
  g_value_set_uint64 (&v[1], size);
  g_value_set_uint64 (&v[2], offset);
  g_value_set_int (&v[3], no_fd ? -1 : fd_at (msg, 0));
  return TRUE;
}

/* SHMEM_MAP: shmid, fd offset, shm offset, len, flags, fd;
 * SHMEM_UNMAP: shmid, shm offset, len */
static gboolean
decode_shmem (const VhostUserRequestInfo *info,
              const VhostUserMessage     *msg,
              const VhostUserShapeLimits *limits,
              GValue                     *v,
              GError                    **error)
{
  VhostUserWireShmemMap map = { 0 };
  gboolean unmap = !G_IS_VALUE (&v[3]);

  vhost_user_message_get_shmem_map (msg, &map);
  g_value_set_uint (&v[0], map.shmid);
  if (unmap)
    {
      g_value_set_uint64 (&v[1], map.shm_offset);
      g_value_set_uint64 (&v[2], map.len);
      return TRUE;
    }
  g_value_set_uint64 (&v[1], map.fd_offset);
  g_value_set_uint64 (&v[2], map.shm_offset);
  g_value_set_uint64 (&v[3], map.len);
  g_value_set_uint64 (&v[4], map.flags);
  g_value_set_int (&v[5], fd_at (msg, 0));
  return TRUE;
}

/* Emission with C arguments, not GValues: g_signal_emit() then takes
 * GLib's fast path (the va marshaller, no GValue per argument) whenever
 * only the class handler would run; with handlers connected it collects
 * GValues as g_signal_emitv() would. One emitter per signature, reading
 * the decoded values back, and beside it a caller of the class handler
 * itself, for when nothing else would run: vhost_user_shape_call(). */
typedef void (*EmitFunc) (gpointer             instance,
                          guint                signal_id,
                          VhostUserInvocation *invocation,
                          const GValue        *v,
                          gboolean            *handled);
typedef gboolean (*CallFunc) (GCallback            func,
                              gpointer             instance,
                              VhostUserInvocation *invocation,
                              const GValue        *v);

#define T(i) g_value_get_uint64 (&v[i])
#define U(i) g_value_get_uint (&v[i])
#define Z(i) g_value_get_boolean (&v[i])
#define H(i) g_value_get_int (&v[i])
#define S(i) g_value_get_string (&v[i])
#define P(i) g_value_get_boxed (&v[i])

/* @params: the C types after the invocation, in parentheses, each with
 * a leading comma */
#define STRIP(...) __VA_ARGS__
#define EMITTER(name, params, ...) \
  static void \
  emit_##name (gpointer             instance, \
               guint                signal_id, \
               VhostUserInvocation *invocation, \
               const GValue        *v, \
               gboolean            *handled) \
  { \
    g_signal_emit (instance, signal_id, 0, invocation, ##__VA_ARGS__, handled); \
  } \
  static gboolean \
  call_##name (GCallback            func, \
               gpointer             instance, \
               VhostUserInvocation *invocation, \
               const GValue        *v) \
  { \
    return ((gboolean (*) (gpointer, VhostUserInvocation * STRIP params)) func) (instance, invocation, ##__VA_ARGS__); \
  }

EMITTER (none, ())
EMITTER (t, (, guint64), T (0))
EMITTER (u, (, guint), U (0))
EMITTER (uu, (, guint, guint), U (0), U (1))
EMITTER (ub, (, guint, gboolean), U (0), Z (1))
EMITTER (uh, (, guint, int), U (0), H (1))
EMITTER (h, (, int), H (0))
EMITTER (uA, (, guint, gpointer), U (0), P (1))
EMITTER (P, (, gpointer), P (0))
EMITTER (ttt, (, guint64, guint64, guint64), T (0), T (1), T (2))
EMITTER (tth, (, guint64, guint64, int), T (0), T (1), H (2))
EMITTER (tttuu, (, guint64, guint64, guint64, guint, guint), T (0), T (1), T (2), U (3), U (4))
EMITTER (uuu, (, guint, guint, guint), U (0), U (1), U (2))
EMITTER (uuB, (, guint, guint, gpointer), U (0), U (1), P (2))
EMITTER (ttuuh, (, guint64, guint64, guint, guint, int), T (0), T (1), U (2), U (3), H (4))
EMITTER (s, (, const char *), S (0))
EMITTER (uuh, (, guint, guint, int), U (0), U (1), H (2))
EMITTER (utth, (, guint, guint64, guint64, int), U (0), T (1), T (2), H (3))
EMITTER (utttth, (, guint, guint64, guint64, guint64, guint64, int), U (0), T (1), T (2), T (3), T (4), H (5))
EMITTER (utt, (, guint, guint64, guint64), U (0), T (1), T (2))

/* t guint64, u guint, b gboolean, h an fd (int), s string, B GBytes,
 * A VhostUserVringAddress, M VhostUserMemoryTable, R VhostUserMemoryRegion */
#define M(args) _vhost_user_marshal_BOOLEAN__##args, _vhost_user_marshal_BOOLEAN__##args##v

static const struct {
  const char           *signature;
  DecodeFunc            decode;
  GSignalCMarshaller    marshal;   /* BOOLEAN:OBJECT and the signature */
  GSignalCVaMarshaller  va_marshal;
  EmitFunc              emit;
  CallFunc              call;
} shapes[] = {
  [VHOST_USER_SHAPE_NONE]        = { "",       decode_none,          M (OBJECT),                    emit_none, call_none },
  [VHOST_USER_SHAPE_U64]         = { "t",      decode_u64,           M (OBJECT_UINT64),             emit_t, call_t },
  [VHOST_USER_SHAPE_INDEX]       = { "u",      decode_vring_state,   M (OBJECT_UINT),               emit_u, call_u },
  [VHOST_USER_SHAPE_INDEX_NUM]   = { "uu",     decode_vring_state,   M (OBJECT_UINT_UINT),          emit_uu, call_uu },
  [VHOST_USER_SHAPE_VRING_SIZE]  = { "uu",     decode_vring_size,    M (OBJECT_UINT_UINT),          emit_uu, call_uu },
  [VHOST_USER_SHAPE_INDEX_BOOL]  = { "ub",     decode_vring_state,   M (OBJECT_UINT_BOOLEAN),       emit_ub, call_ub },
  [VHOST_USER_SHAPE_INDEX_FD]    = { "uh",     decode_index_fd,      M (OBJECT_UINT_INT),           emit_uh, call_uh },
  [VHOST_USER_SHAPE_FD]          = { "h",      decode_fd,            M (OBJECT_INT),                emit_h, call_h },
  [VHOST_USER_SHAPE_EVENTFD]     = { "h",      decode_eventfd,       M (OBJECT_INT),                emit_h, call_h },
  [VHOST_USER_SHAPE_VRING_ADDR]  = { "uA",     decode_vring_addr,    M (OBJECT_UINT_BOXED),         emit_uA, call_uA },
  [VHOST_USER_SHAPE_MEM_TABLE]   = { "M",      decode_mem_table,     M (OBJECT_BOXED),              emit_P, call_P },
  [VHOST_USER_SHAPE_REGION]      = { "R",      decode_region,        M (OBJECT_BOXED),              emit_P, call_P },
  [VHOST_USER_SHAPE_REGION_DESC] = { "ttt",    decode_region_desc,   M (OBJECT_UINT64_UINT64_UINT64), emit_ttt, call_ttt },
  [VHOST_USER_SHAPE_LOG]         = { "tth",    decode_log,           M (OBJECT_UINT64_UINT64_INT),  emit_tth, call_tth },
  [VHOST_USER_SHAPE_IOTLB]       = { "tttuu",  decode_iotlb,         M (OBJECT_UINT64_UINT64_UINT64_UINT_UINT), emit_tttuu, call_tttuu },
  [VHOST_USER_SHAPE_CONFIG_GET]  = { "uuu",    decode_config,        M (OBJECT_UINT_UINT_UINT),     emit_uuu, call_uuu },
  [VHOST_USER_SHAPE_CONFIG_SET]  = { "uuB",    decode_config,        M (OBJECT_UINT_UINT_BOXED),    emit_uuB, call_uuB },
  [VHOST_USER_SHAPE_BYTES]       = { "B",      decode_bytes,         M (OBJECT_BOXED),              emit_P, call_P },
  [VHOST_USER_SHAPE_INFLIGHT_GET] = { "uu",     decode_inflight_get,  M (OBJECT_UINT_UINT),          emit_uu, call_uu },
  [VHOST_USER_SHAPE_INFLIGHT_SET] = { "ttuuh",  decode_inflight_set,  M (OBJECT_UINT64_UINT64_UINT_UINT_INT), emit_ttuuh, call_ttuuh },
  [VHOST_USER_SHAPE_UUID]        = { "s",      decode_uuid,          M (OBJECT_STRING),             emit_s, call_s },
  [VHOST_USER_SHAPE_DEVICE_STATE] = { "uuh",    decode_device_state,  M (OBJECT_UINT_UINT_INT),     emit_uuh, call_uuh },
  [VHOST_USER_SHAPE_VRING_AREA]  = { "utth",   decode_vring_area,    M (OBJECT_UINT_UINT64_UINT64_INT), emit_utth, call_utth },
  [VHOST_USER_SHAPE_SHMEM_MAP]   = { "utttth", decode_shmem,         M (OBJECT_UINT_UINT64_UINT64_UINT64_UINT64_INT), emit_utttth, call_utttth },
  [VHOST_USER_SHAPE_SHMEM_UNMAP] = { "utt",    decode_shmem,         M (OBJECT_UINT_UINT64_UINT64), emit_utt, call_utt },
};

G_STATIC_ASSERT (G_N_ELEMENTS (shapes) == VHOST_USER_N_SHAPES);

static GType
type_of (char code)
{
  switch (code)
    {
    case 't': return G_TYPE_UINT64;
    case 'u': return G_TYPE_UINT;
    case 'b': return G_TYPE_BOOLEAN;
    case 'h': return G_TYPE_INT;
    case 's': return G_TYPE_STRING;
    case 'B': return G_TYPE_BYTES;
#if VHOST_USER_HAS_BACKEND
    /* only the back-end's signals carry a ring address */
    case 'A': return VHOST_USER_TYPE_VRING_ADDRESS;
#endif
    case 'M': return VHOST_USER_TYPE_MEMORY_TABLE;
    case 'R': return VHOST_USER_TYPE_MEMORY_REGION;
    default: g_assert_not_reached ();
    }
}

GSignalCMarshaller
vhost_user_shape_get_marshaller (VhostUserShape shape)
{
  g_return_val_if_fail (shape < VHOST_USER_N_SHAPES, NULL);
  return shapes[shape].marshal;
}

GSignalCVaMarshaller
vhost_user_shape_get_va_marshaller (VhostUserShape shape)
{
  g_return_val_if_fail (shape < VHOST_USER_N_SHAPES, NULL);
  return shapes[shape].va_marshal;
}

/* Emits @signal_id on @instance with @invocation and the @values that
 * vhost_user_shape_decode() filled for @shape; *@handled is what the
 * handlers returned. */
void
vhost_user_shape_emit (VhostUserShape       shape,
                       gpointer             instance,
                       guint                signal_id,
                       VhostUserInvocation *invocation,
                       const GValue        *values,
                       gboolean            *handled)
{
  g_return_if_fail (shape < VHOST_USER_N_SHAPES);
  shapes[shape].emit (instance, signal_id, invocation, values, handled);
}

/* Calls @func, a class handler of @shape's signature (the instance, the
 * invocation, the arguments), with the @values vhost_user_shape_decode()
 * filled; returns what it returned. */
gboolean
vhost_user_shape_call (VhostUserShape       shape,
                       GCallback            func,
                       gpointer             instance,
                       VhostUserInvocation *invocation,
                       const GValue        *values)
{
  g_return_val_if_fail (shape < VHOST_USER_N_SHAPES, FALSE);
  return shapes[shape].call (func, instance, invocation, values);
}

/* Fills @types (room for VHOST_USER_SHAPE_MAX_ARGS) with the GTypes of the
 * signal's arguments after the invocation; returns how many. */
guint
vhost_user_shape_get_param_types (VhostUserShape  shape,
                                  GType          *types)
{
  const char *sig;
  guint n = 0;

  g_return_val_if_fail (shape < VHOST_USER_N_SHAPES, 0);

  for (sig = shapes[shape].signature; *sig != '\0'; sig++)
    {
      types[n] = type_of (*sig);
      /* the address lives on the decoder's stack for the emission only */
      if (*sig == 'A')
        types[n] |= G_SIGNAL_TYPE_STATIC_SCOPE;
      n++;
    }
  g_assert (n <= VHOST_USER_SHAPE_MAX_ARGS);
  return n;
}

/* Decodes @msg into @values (zeroed, room for VHOST_USER_SHAPE_MAX_ARGS),
 * checking what handlers may rely on: ring indices in range, sizes sane,
 * memory mapped. On success *n_values values are set and the caller
 * unsets them; on failure none are left set. */
gboolean
vhost_user_shape_decode (VhostUserShape               shape,
                         const VhostUserRequestInfo  *info,
                         const VhostUserMessage      *msg,
                         const VhostUserShapeLimits  *limits,
                         GValue                      *values,
                         guint                       *n_values,
                         GError                     **error)
{
  GType types[VHOST_USER_SHAPE_MAX_ARGS];
  guint n;

  g_return_val_if_fail (shape < VHOST_USER_N_SHAPES, FALSE);

  n = vhost_user_shape_get_param_types (shape, types);
  for (guint i = 0; i < n; i++)
    g_value_init (&values[i], types[i] & ~G_SIGNAL_TYPE_STATIC_SCOPE);

  if (!shapes[shape].decode (info, msg, limits, values, error))
    {
      for (guint i = 0; i < n; i++)
        g_value_unset (&values[i]);
      *n_values = 0;
      return FALSE;
    }
  *n_values = n;
  return TRUE;
}
