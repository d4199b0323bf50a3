/* vhost-user-memory-table.c: guest memory as the back-end maps it
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>

#include "vhost-user-debug-private.h"
#include "vhost-user-error.h"
#include "vhost-user-memory-table-private.h"
#include "vhost-user-peer-fd-private.h"
#include <glib/gstdio.h>
#include <unistd.h>

/**
 * VhostUserMemoryRegion:
 *
 * One region of guest memory, mapped into this process: its guest-physical
 * address, its size, the address the front-end itself uses for it (ring
 * addresses are given in that space) and where it lies in the mapping.
 *
 * Regions are immutable and reference counted; a [struct@VhostUser.MemoryTable]
 * holds them, and a region stays mapped while anybody holds a reference,
 * even after the front-end replaced the table.
 *
 * A region's file must hold the whole region when it is mapped. A
 * front-end that truncates it later (the file is shared) cannot make the
 * back-end take SIGBUS: a tmpfs memfd sealed with `F_SEAL_SHRINK` cannot
 * shrink (and a hole punched in it refaults as zeros), and any other
 * file, a sealed one on hugetlbfs included, is guarded by a SIGBUS
 * handler the library installs once (chained to the previous one), which
 * puts zero pages where the file was cut: the device then reads zeros
 * there and its writes are lost. The same holds for the dirty log and
 * the in-flight area. Memory the library allocates
 * ([ctor@VhostUser.MemoryRegion.new_memfd], in-flight areas, the dirty
 * log) is sealed against shrinking, growing and further seals: the peer
 * holds the same file, and one that added `F_SEAL_FUTURE_WRITE` would
 * make every later writable mapping of it fail, the next back-end's or
 * another device's.
 *
 * Since: 1.0
 */
struct _VhostUserMemoryRegion
{
  gatomicrefcount ref_count;
  gpointer        guard;       /* see vhost_user_mapping_guard_add() */
  guint64         guest_phys_addr;
  guint64         size;
  guint64         user_addr;
  guint64         mmap_offset;
  guint8         *mmap_base;
  gsize           mmap_len;
  int             fd;          /* kept only for memory we allocated ourselves */
};

/**
 * VhostUserMemoryTable:
 *
 * An immutable snapshot of the guest memory the front-end shared: the
 * regions of `SET_MEM_TABLE`, or those added one by one with
 * `ADD_MEM_REG`. Translation of guest-physical and front-end addresses to
 * pointers in this process is bounds- and overflow-checked.
 *
 * A new table replaces the old one on every change; whoever still holds
 * the old one keeps its mappings alive until they let go.
 *
 * Since: 1.0
 */
struct _VhostUserMemoryTable
{
  gatomicrefcount         ref_count;
  guint                   n_regions;
  /* sorted by guest-physical address */
  VhostUserMemoryRegion  *regions[];
};

G_DEFINE_BOXED_TYPE (VhostUserMemoryRegion, vhost_user_memory_region,
                     vhost_user_memory_region_ref, vhost_user_memory_region_unref)
G_DEFINE_BOXED_TYPE (VhostUserMemoryTable, vhost_user_memory_table,
                     vhost_user_memory_table_ref, vhost_user_memory_table_unref)

/* --- mappings the front-end can shrink under us ---
 *
 * A front-end that truncates a file after we mapped it (guest memory, the
 * log, an in-flight area) makes every access past the new end SIGBUS,
 * which would kill the back-end: the peer is not trusted that far. A
 * file sealed against shrinking (F_SEAL_SHRINK, QEMU's memfd backend by
 * default) cannot be truncated, and on tmpfs needs nothing: a hole
 * punched in it (the seal allows that) refaults as a zero page. Not so on
 * hugetlbfs, where QEMU seals too (memory-backend-memfd,hugetlb=on): the
 * punched huge page goes back to the pool, the peer can take it, and our
 * next touch finds none to fault in, which is SIGBUS. Any other is guarded:
 * a SIGBUS handler, installed once and chained to whatever was there,
 * finds the faulting address in a guarded mapping and puts a private
 * zero page there (mmap MAP_FIXED, as Wayland compositors do for client
 * pools), so the access is retried and succeeds: reads of the lost part
 * see zeros, writes to it go nowhere. Any other SIGBUS goes on to the
 * previous handler, or kills the process as it would have.
 *
 * The handler walks a list of nodes without locks: nodes are never
 * freed, only reused; a node is published by writing its length before
 * its base, and retired by clearing its base first. */

typedef struct _GuardNode GuardNode;
struct _GuardNode
{
  GuardNode *next;
  guintptr   base;     /* 0: free */
  gsize      len;
  guint      faults;   /* pages replaced */
};

static GuardNode        *guard_list;
static GMutex            guard_lock;    /* writers only */
static struct sigaction  guard_previous;
static gsize             guard_page;

/* Replaces the block of @size at @addr's alignment by zeros, if it lies
 * inside the mapping. */
static gboolean
guard_replace (const GuardNode *node,
               guintptr         addr,
               gsize            size)
{
  guintptr block = addr & ~(guintptr) (size - 1);

  if (block < node->base || block + size > node->base + node->len)
    return FALSE;
  return mmap ((void *) block, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
               -1, 0) != MAP_FAILED;
}

static void
guard_handler (int        sig,
               siginfo_t *info,
               void      *context)
{
  guintptr addr = (guintptr) info->si_addr;

  for (GuardNode *node = __atomic_load_n (&guard_list, __ATOMIC_ACQUIRE); node != NULL; node = node->next)
    {
      guintptr base = __atomic_load_n (&node->base, __ATOMIC_ACQUIRE);
      gsize len = __atomic_load_n (&node->len, __ATOMIC_ACQUIRE);

      if (base == 0 || addr < base || addr - base >= len)
        continue;
      /* a hugetlbfs mapping is replaced a huge page at a time */
      if (guard_replace (node, addr, guard_page) || guard_replace (node, addr, 2 << 20) ||
          guard_replace (node, addr, 1 << 30))
        {
          __atomic_fetch_add (&node->faults, 1, __ATOMIC_RELAXED);
          return;
        }
      break;
    }

  /* not ours */
  if (guard_previous.sa_flags & SA_SIGINFO)
    guard_previous.sa_sigaction (sig, info, context);
  else if (guard_previous.sa_handler != SIG_DFL && guard_previous.sa_handler != SIG_IGN)
    guard_previous.sa_handler (sig);
  else
    {
      /* the access is retried and kills the process, as without us */
      struct sigaction dfl = { .sa_handler = SIG_DFL };

      sigaction (SIGBUS, &dfl, NULL);
    }
}

static void
guard_install (void)
{
  static gsize installed;

  if (g_once_init_enter (&installed))
    {
      struct sigaction action = { .sa_sigaction = guard_handler, .sa_flags = SA_SIGINFO | SA_NODEFER };

      guard_page = sysconf (_SC_PAGESIZE);
      sigemptyset (&action.sa_mask);
      sigaction (SIGBUS, &action, &guard_previous);
      g_once_init_leave (&installed, 1);
    }
}

/* Guards [@base, @base + @len), a shared mapping of @fd, to the end of
 * its last page, against the peer truncating @fd; NULL when there is no
 * need (a file sealed against shrinking, unless on hugetlbfs: see
 * above). Any other fd is guarded: a file may shrink, and what is not a
 * file (a device's memory, a secret memfd) may end before the size the
 * peer claimed, which nothing here can check. Pass the result to
 * vhost_user_mapping_guard_remove() before unmapping. */
gpointer
vhost_user_mapping_guard_add (void  *base,
                              gsize  len,
                              int    fd)
{
  GuardNode *node;
  struct stat st;
  struct statfs sfs;
  gboolean hugetlbfs;
  int seals;

  if (fstat (fd, &st) != 0)
    return NULL;
  hugetlbfs = fstatfs (fd, &sfs) == 0 && sfs.f_type == HUGETLBFS_MAGIC;
  seals = fcntl (fd, F_GET_SEALS);
  if (S_ISREG (st.st_mode) && !hugetlbfs && seals >= 0 && (seals & F_SEAL_SHRINK))
    return NULL;
  guard_install ();
  /* the mapping spans whole pages (a hugetlbfs one, whole huge pages)
   * and @len may end inside the last one (a log, an in-flight area, a
   * region the peer sized so): that page must be replaceable too */
  if (hugetlbfs && sfs.f_bsize > 0)
    len = (len + sfs.f_bsize - 1) / sfs.f_bsize * sfs.f_bsize;
  else
    len = (len + guard_page - 1) / guard_page * guard_page;
  g_mutex_lock (&guard_lock);
  for (node = guard_list; node != NULL && node->base != 0; node = node->next)
    ;
  if (node == NULL)
    {
      node = g_new0 (GuardNode, 1);
      node->next = guard_list;
      __atomic_store_n (&guard_list, node, __ATOMIC_RELEASE);
    }
  node->faults = 0;
  __atomic_store_n (&node->len, len, __ATOMIC_RELEASE);
  __atomic_store_n (&node->base, (guintptr) base, __ATOMIC_RELEASE);
  g_mutex_unlock (&guard_lock);
  return node;
}

/* Before the mapping goes. Returns how many pages had to be replaced
 * (the front-end truncated the file under us). */
guint
vhost_user_mapping_guard_remove (gpointer guard)
{
  GuardNode *node = guard;
  guint faults;

  if (node == NULL)
    return 0;
  g_mutex_lock (&guard_lock);
  faults = __atomic_load_n (&node->faults, __ATOMIC_RELAXED);
  __atomic_store_n (&node->base, 0, __ATOMIC_RELEASE);
  __atomic_store_n (&node->len, 0, __ATOMIC_RELEASE);
  g_mutex_unlock (&guard_lock);
  return faults;
}

/* Maps @fd from offset 0 for mmap_offset + size bytes, as the spec says
 * (hugepage fds need aligned offsets, so the offset is applied to the
 * pointer, not to mmap()). The caller keeps @fd. */
VhostUserMemoryRegion *
vhost_user_memory_region_new_map (guint64   guest_phys_addr,
                                  guint64   size,
                                  guint64   user_addr,
                                  guint64   mmap_offset,
                                  int       fd,
                                  GError  **error)
{
  VhostUserMemoryRegion *region;
  struct stat st;
  guint64 len;
  void *base;

  if (size == 0)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "Memory region at 0x%" G_GINT64_MODIFIER "x has size 0", guest_phys_addr);
      return NULL;
    }
  if (guest_phys_addr + size < guest_phys_addr || user_addr + size < user_addr ||
      mmap_offset + size < mmap_offset || mmap_offset + size > G_MAXSIZE)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "Memory region at 0x%" G_GINT64_MODIFIER "x of size 0x%" G_GINT64_MODIFIER "x"
                   " (offset 0x%" G_GINT64_MODIFIER "x) overflows the address space",
                   guest_phys_addr, size, mmap_offset);
      return NULL;
    }
  len = mmap_offset + size;

  if (fd < 0 || fstat (fd, &st) != 0)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INCORRECT_FDS,
                   "Memory region at 0x%" G_GINT64_MODIFIER "x has no usable file descriptor",
                   guest_phys_addr);
      return NULL;
    }
  /* a regular file (memfd, hugetlbfs, shm) must hold the whole range, or
   * touching its end would SIGBUS */
  if (S_ISREG (st.st_mode) && (guint64) st.st_size < len)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "Memory region at 0x%" G_GINT64_MODIFIER "x needs 0x%" G_GINT64_MODIFIER "x bytes"
                   " of its file, which has 0x%" G_GINT64_MODIFIER "x",
                   guest_phys_addr, len, (guint64) st.st_size);
      return NULL;
    }

  base = mmap (NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
  if (base == MAP_FAILED)
    {
      int errsv = errno;

      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL,
                   "Could not map memory region at 0x%" G_GINT64_MODIFIER "x: %s",
                   guest_phys_addr, g_strerror (errsv));
      return NULL;
    }

  region = g_new0 (VhostUserMemoryRegion, 1);
  g_atomic_ref_count_init (&region->ref_count);
  region->guest_phys_addr = guest_phys_addr;
  region->size = size;
  region->user_addr = user_addr;
  region->mmap_offset = mmap_offset;
  region->mmap_base = base;
  region->mmap_len = len;
  region->fd = -1;
  region->guard = vhost_user_mapping_guard_add (base, len, fd);

  VHOST_USER_NOTE (MEMORY, "mapped gpa 0x%" G_GINT64_MODIFIER "x size 0x%" G_GINT64_MODIFIER "x"
                   " uaddr 0x%" G_GINT64_MODIFIER "x at %p",
                   guest_phys_addr, size, user_addr, base);
  return region;
}

/**
 * vhost_user_memory_region_new_memfd:
 * @guest_phys_addr: the guest-physical address the region will have
 * @size: its size in bytes
 * @error: return location for a #GError
 *
 * Allocates guest memory for a front-end that is not a VMM (a test, a
 * benchmark, a user-space driver): a memfd of @size bytes, mapped here.
 * Its front-end address ([method@VhostUser.MemoryRegion.get_user_addr])
 * is where it is mapped in this process, so ring addresses are plain
 * pointers; its fd ([method@VhostUser.MemoryRegion.get_fd]) is what
 * `SET_MEM_TABLE` and `ADD_MEM_REG` pass to the back-end.
 *
 * Returns: (transfer full): the region, or %NULL with @error set
 *
 * Since: 1.0
 */
VhostUserMemoryRegion *
vhost_user_memory_region_new_memfd (guint64   guest_phys_addr,
                                    guint64   size,
                                    GError  **error)
{
  VhostUserMemoryRegion *region;
  int fd;
  int errsv;

  if (size == 0 || size > G_MAXSIZE || guest_phys_addr + size < guest_phys_addr)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "No region of 0x%" G_GINT64_MODIFIER "x bytes at 0x%" G_GINT64_MODIFIER "x",
                   size, guest_phys_addr);
      return NULL;
    }
  fd = memfd_create ("vhost-user-guest", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  /* sealed: a back-end that checks can map it without fear of SIGBUS,
   * and none can seal it against the writable mappings of those after it */
  if (fd < 0 || ftruncate (fd, size) != 0 || fcntl (fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
    {
      errsv = errno;
      if (fd >= 0)
        vhost_user_peer_fd_close (fd);
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED,
                   "Could not allocate guest memory: %s", g_strerror (errsv));
      return NULL;
    }
  /* the user address is only known once mapped: map with 0, then set it */
  region = vhost_user_memory_region_new_map (guest_phys_addr, size, 0, 0, fd, error);
  if (region == NULL)
    {
      vhost_user_peer_fd_close (fd);
      return NULL;
    }
  region->user_addr = (guint64) (guintptr) region->mmap_base;
  region->fd = fd;
  return region;
}

/**
 * vhost_user_memory_region_get_fd:
 * @region: a region
 *
 * Gets the fd of memory allocated with vhost_user_memory_region_new_memfd();
 * regions mapped from a peer keep none.
 *
 * Returns: the fd (owned by the region), or -1
 *
 * Since: 1.0
 */
int
vhost_user_memory_region_get_fd (const VhostUserMemoryRegion *region)
{
  g_return_val_if_fail (region != NULL, -1);
  return region->fd;
}

/**
 * vhost_user_memory_region_ref:
 * @region: a region
 *
 * Takes a reference.
 *
 * Returns: (transfer full): @region
 *
 * Since: 1.0
 */
VhostUserMemoryRegion *
vhost_user_memory_region_ref (VhostUserMemoryRegion *region)
{
  g_return_val_if_fail (region != NULL, NULL);

  g_atomic_ref_count_inc (&region->ref_count);
  return region;
}

/**
 * vhost_user_memory_region_unref:
 * @region: (transfer full): a region
 *
 * Drops a reference; the last one unmaps the region.
 *
 * Since: 1.0
 */
void
vhost_user_memory_region_unref (VhostUserMemoryRegion *region)
{
  g_return_if_fail (region != NULL);

  if (!g_atomic_ref_count_dec (&region->ref_count))
    return;

  VHOST_USER_NOTE (MEMORY, "unmapped gpa 0x%" G_GINT64_MODIFIER "x size 0x%" G_GINT64_MODIFIER "x",
                   region->guest_phys_addr, region->size);
  if (vhost_user_mapping_guard_remove (region->guard) > 0)
    VHOST_USER_NOTE (MEMORY, "gpa 0x%" G_GINT64_MODIFIER "x: the front-end truncated the region's file while it "
                     "was mapped; what was past its end read as zeros", region->guest_phys_addr);
  munmap (region->mmap_base, region->mmap_len);
  if (region->fd >= 0)
    vhost_user_peer_fd_close (region->fd);
  g_free (region);
}

gboolean
vhost_user_memory_region_matches (const VhostUserMemoryRegion *region,
                                  guint64                      guest_phys_addr,
                                  guint64                      size,
                                  guint64                      user_addr)
{
  return region->guest_phys_addr == guest_phys_addr && region->size == size &&
         region->user_addr == user_addr;
}

/**
 * vhost_user_memory_region_get_guest_phys_addr:
 * @region: a region
 *
 * Gets the guest-physical address the region starts at.
 *
 * Returns: the guest-physical address the region starts at
 *
 * Since: 1.0
 */
guint64
vhost_user_memory_region_get_guest_phys_addr (const VhostUserMemoryRegion *region)
{
  g_return_val_if_fail (region != NULL, 0);
  return region->guest_phys_addr;
}

/**
 * vhost_user_memory_region_get_size:
 * @region: a region
 *
 * Gets the region's size in bytes.
 *
 * Returns: the region's size in bytes
 *
 * Since: 1.0
 */
guint64
vhost_user_memory_region_get_size (const VhostUserMemoryRegion *region)
{
  g_return_val_if_fail (region != NULL, 0);
  return region->size;
}

/**
 * vhost_user_memory_region_get_user_addr:
 * @region: a region
 *
 * The address the front-end maps the region at in its own process; ring
 * addresses in `SET_VRING_ADDR` are given in this space.
 *
 * Returns: the front-end's address of the region
 *
 * Since: 1.0
 */
guint64
vhost_user_memory_region_get_user_addr (const VhostUserMemoryRegion *region)
{
  g_return_val_if_fail (region != NULL, 0);
  return region->user_addr;
}

/**
 * vhost_user_memory_region_get_mmap_offset:
 * @region: a region
 *
 * Gets where the region starts in the file the front-end passed.
 *
 * Returns: where the region starts in the file the front-end passed
 *
 * Since: 1.0
 */
guint64
vhost_user_memory_region_get_mmap_offset (const VhostUserMemoryRegion *region)
{
  g_return_val_if_fail (region != NULL, 0);
  return region->mmap_offset;
}

/**
 * vhost_user_memory_region_get_host_addr: (skip)
 * @region: a region
 *
 * Where the region's first byte is mapped in this process.
 *
 * Returns: the region's host address
 *
 * Since: 1.0
 */
gpointer
vhost_user_memory_region_get_host_addr (const VhostUserMemoryRegion *region)
{
  g_return_val_if_fail (region != NULL, NULL);
  return region->mmap_base + region->mmap_offset;
}

static gint
compare_regions (gconstpointer a,
                 gconstpointer b)
{
  const VhostUserMemoryRegion *ra = *(VhostUserMemoryRegion * const *) a;
  const VhostUserMemoryRegion *rb = *(VhostUserMemoryRegion * const *) b;

  return ra->guest_phys_addr < rb->guest_phys_addr ? -1 : ra->guest_phys_addr > rb->guest_phys_addr;
}

static gboolean
ranges_overlap (guint64 a, guint64 a_size, guint64 b, guint64 b_size)
{
  return a < b + b_size && b < a + a_size;
}

/**
 * vhost_user_memory_table_new:
 * @regions: (array length=n_regions): the regions
 * @n_regions: how many
 * @error: return location for a #GError
 *
 * A table of regions (each referenced), for a front-end to send with
 * `SET_MEM_TABLE`. Regions may not overlap, neither in guest-physical nor
 * in front-end address space.
 *
 * Returns: (transfer full): the table, or %NULL with @error set
 *
 * Since: 1.0
 */
VhostUserMemoryTable *
vhost_user_memory_table_new (VhostUserMemoryRegion **regions,
                             guint                   n_regions,
                             GError                **error)
{
  VhostUserMemoryTable *table;

  for (guint i = 0; i < n_regions; i++)
    for (guint j = i + 1; j < n_regions; j++)
      {
        const VhostUserMemoryRegion *a = regions[i], *b = regions[j];

        if (ranges_overlap (a->guest_phys_addr, a->size, b->guest_phys_addr, b->size) ||
            ranges_overlap (a->user_addr, a->size, b->user_addr, b->size))
          {
            g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                         "Memory regions at 0x%" G_GINT64_MODIFIER "x and 0x%" G_GINT64_MODIFIER "x overlap",
                         a->guest_phys_addr, b->guest_phys_addr);
            return NULL;
          }
      }

  table = g_malloc0 (sizeof *table + n_regions * sizeof table->regions[0]);
  g_atomic_ref_count_init (&table->ref_count);
  table->n_regions = n_regions;
  for (guint i = 0; i < n_regions; i++)
    table->regions[i] = vhost_user_memory_region_ref (regions[i]);
  qsort (table->regions, n_regions, sizeof table->regions[0], compare_regions);
  return table;
}

VhostUserMemoryTable *
vhost_user_memory_table_new_empty (void)
{
  return vhost_user_memory_table_new (NULL, 0, NULL);
}

VhostUserMemoryTable *
vhost_user_memory_table_add (const VhostUserMemoryTable  *table,
                             VhostUserMemoryRegion       *region,
                             guint                        max_regions,
                             GError                     **error)
{
  g_autofree VhostUserMemoryRegion **regions = NULL;

  if (table->n_regions >= max_regions)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "All %u memory slots are in use", max_regions);
      return NULL;
    }
  regions = g_new (VhostUserMemoryRegion *, table->n_regions + 1);
  memcpy (regions, table->regions, table->n_regions * sizeof regions[0]);
  regions[table->n_regions] = region;
  return vhost_user_memory_table_new (regions, table->n_regions + 1, error);
}

/* REM_MEM_REG matches guest address, size and front-end address; the
 * mmap offset does not take part. */
VhostUserMemoryTable *
vhost_user_memory_table_remove (const VhostUserMemoryTable  *table,
                                guint64                      guest_phys_addr,
                                guint64                      size,
                                guint64                      user_addr,
                                GError                     **error)
{
  g_autofree VhostUserMemoryRegion **regions = g_new (VhostUserMemoryRegion *, table->n_regions + 1);
  guint n = 0;
  gboolean found = FALSE;

  for (guint i = 0; i < table->n_regions; i++)
    {
      if (!found && vhost_user_memory_region_matches (table->regions[i], guest_phys_addr, size, user_addr))
        found = TRUE;
      else
        regions[n++] = table->regions[i];
    }
  if (!found)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "No memory region at 0x%" G_GINT64_MODIFIER "x of size 0x%" G_GINT64_MODIFIER "x",
                   guest_phys_addr, size);
      return NULL;
    }
  return vhost_user_memory_table_new (regions, n, error);
}

/**
 * vhost_user_memory_table_ref:
 * @table: a memory table
 *
 * Takes a reference.
 *
 * Returns: (transfer full): @table
 *
 * Since: 1.0
 */
VhostUserMemoryTable *
vhost_user_memory_table_ref (VhostUserMemoryTable *table)
{
  g_return_val_if_fail (table != NULL, NULL);

  g_atomic_ref_count_inc (&table->ref_count);
  return table;
}

/**
 * vhost_user_memory_table_unref:
 * @table: (transfer full): a memory table
 *
 * Drops a reference; regions no other table holds are unmapped.
 *
 * Since: 1.0
 */
void
vhost_user_memory_table_unref (VhostUserMemoryTable *table)
{
  g_return_if_fail (table != NULL);

  if (!g_atomic_ref_count_dec (&table->ref_count))
    return;
  for (guint i = 0; i < table->n_regions; i++)
    vhost_user_memory_region_unref (table->regions[i]);
  g_free (table);
}

/**
 * vhost_user_memory_table_get_n_regions:
 * @table: a memory table
 *
 * Gets how many regions the table has.
 *
 * Returns: how many regions the table has
 *
 * Since: 1.0
 */
guint
vhost_user_memory_table_get_n_regions (const VhostUserMemoryTable *table)
{
  g_return_val_if_fail (table != NULL, 0);
  return table->n_regions;
}

/**
 * vhost_user_memory_table_get_region:
 * @table: a memory table
 * @index: a region index, below vhost_user_memory_table_get_n_regions()
 *
 * Regions are ordered by guest-physical address.
 *
 * Returns: (transfer none): the region
 *
 * Since: 1.0
 */
VhostUserMemoryRegion *
vhost_user_memory_table_get_region (const VhostUserMemoryTable *table,
                                    guint                       index)
{
  g_return_val_if_fail (table != NULL, NULL);
  g_return_val_if_fail (index < table->n_regions, NULL);
  return table->regions[index];
}

/**
 * vhost_user_memory_table_get_total_size:
 * @table: a memory table
 *
 * Gets the sum of the regions' sizes.
 *
 * Returns: the sum of the regions' sizes
 *
 * Since: 1.0
 */
guint64
vhost_user_memory_table_get_total_size (const VhostUserMemoryTable *table)
{
  guint64 total = 0;

  g_return_val_if_fail (table != NULL, 0);
  for (guint i = 0; i < table->n_regions; i++)
    total += table->regions[i]->size;
  return total;
}

/**
 * vhost_user_memory_table_translate_gpa: (skip)
 * @table: a memory table
 * @guest_phys_addr: a guest-physical address
 * @len: (inout): on input the length wanted; on output how much of it is
 *   contiguous in this process (at most the input)
 *
 * Translates a guest-physical address to a pointer in this process. A
 * buffer that spans two regions comes back shortened to the first; ask
 * again for the rest. Never allocates.
 *
 * Returns: (nullable): the host address, or %NULL if @guest_phys_addr is
 *   in no region
 *
 * Since: 1.0
 */
gpointer
vhost_user_memory_table_translate_gpa (const VhostUserMemoryTable *table,
                                       guint64                     guest_phys_addr,
                                       guint64                    *len)
{
  guint lo = 0, hi;

  g_return_val_if_fail (table != NULL, NULL);
  g_return_val_if_fail (len != NULL, NULL);

  /* binary search: the last region starting at or below the address */
  hi = table->n_regions;
  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;

      if (table->regions[mid]->guest_phys_addr <= guest_phys_addr)
        lo = mid + 1;
      else
        hi = mid;
    }
  if (lo == 0)
    return NULL;
  {
    const VhostUserMemoryRegion *r = table->regions[lo - 1];
    guint64 offset = guest_phys_addr - r->guest_phys_addr;

    if (offset >= r->size)
      return NULL;
    *len = MIN (*len, r->size - offset);
    return r->mmap_base + r->mmap_offset + offset;
  }
}

/* The whole region holding @guest_phys_addr: where it starts, its size,
 * and where it starts here; NULL if none does. For the rings' one-region
 * cache (a ring's buffers are mostly in one region). */
guint8 *
vhost_user_memory_table_gpa_region (const VhostUserMemoryTable *table,
                                    guint64                     guest_phys_addr,
                                    guint64                    *start,
                                    guint64                    *size)
{
  guint64 len = 1;
  guint8 *p = vhost_user_memory_table_translate_gpa (table, guest_phys_addr, &len);
  guint lo = 0, hi = table->n_regions;

  if (p == NULL)
    return NULL;
  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;

      if (table->regions[mid]->guest_phys_addr <= guest_phys_addr)
        lo = mid + 1;
      else
        hi = mid;
    }
  *start = table->regions[lo - 1]->guest_phys_addr;
  *size = table->regions[lo - 1]->size;
  return p - (guest_phys_addr - *start);
}

/**
 * vhost_user_memory_table_translate_user_addr: (skip)
 * @table: a memory table
 * @user_addr: an address in the front-end's address space, as ring
 *   addresses are given
 * @len: (inout): on input the length wanted; on output how much of it is
 *   contiguous in this process (at most the input)
 *
 * Like vhost_user_memory_table_translate_gpa() for front-end addresses.
 *
 * Returns: (nullable): the host address, or %NULL if @user_addr is in no
 *   region
 *
 * Since: 1.0
 */
gpointer
vhost_user_memory_table_translate_user_addr (const VhostUserMemoryTable *table,
                                             guint64                     user_addr,
                                             guint64                    *len)
{
  g_return_val_if_fail (table != NULL, NULL);
  g_return_val_if_fail (len != NULL, NULL);

  for (guint i = 0; i < table->n_regions; i++)
    {
      const VhostUserMemoryRegion *r = table->regions[i];

      if (user_addr >= r->user_addr && user_addr - r->user_addr < r->size)
        {
          guint64 offset = user_addr - r->user_addr;

          *len = MIN (*len, r->size - offset);
          return r->mmap_base + r->mmap_offset + offset;
        }
    }
  return NULL;
}

/**
 * vhost_user_memory_table_read_gpa:
 * @table: a memory table
 * @guest_phys_addr: a guest-physical address
 * @len: how many bytes to read
 * @error: return location for a #GError
 *
 * Copies guest memory out, across region boundaries; for bindings and
 * tests (the data path uses the pointers directly).
 *
 * Returns: (transfer full): the bytes, or %NULL if part of the range is
 *   not guest memory
 *
 * Since: 1.0
 */
GBytes *
vhost_user_memory_table_read_gpa (const VhostUserMemoryTable  *table,
                                  guint64                      guest_phys_addr,
                                  gsize                        len,
                                  GError                     **error)
{
  g_autofree guint8 *buf = NULL;
  gsize done = 0;

  g_return_val_if_fail (table != NULL, NULL);

  /* a binding can ask for any length: no allocation for what cannot be */
  if (len > vhost_user_memory_table_get_total_size (table) || guest_phys_addr + len < guest_phys_addr)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "0x%" G_GSIZE_MODIFIER "x bytes at guest address 0x%" G_GINT64_MODIFIER "x are not in guest memory",
                   len, guest_phys_addr);
      return NULL;
    }
  buf = g_malloc (len > 0 ? len : 1);
  while (done < len)
    {
      guint64 chunk = len - done;
      const guint8 *src = vhost_user_memory_table_translate_gpa (table, guest_phys_addr + done, &chunk);

      if (src == NULL || guest_phys_addr + done < guest_phys_addr)
        {
          g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                       "Guest address 0x%" G_GINT64_MODIFIER "x is not in guest memory",
                       guest_phys_addr + done);
          return NULL;
        }
      memcpy (buf + done, src, chunk);
      done += chunk;
    }
  return g_bytes_new_take (g_steal_pointer (&buf), len);
}

/**
 * vhost_user_memory_table_write_gpa:
 * @table: a memory table
 * @guest_phys_addr: a guest-physical address
 * @data: what to write
 * @error: return location for a #GError
 *
 * Copies @data into guest memory at @guest_phys_addr, across region
 * boundaries: the counterpart of vhost_user_memory_table_read_gpa(), for
 * bindings and tests (the data path writes through the pointers
 * vhost_user_memory_table_translate_gpa() gives, or through a request's
 * buffers). Nothing is written unless the whole range is guest memory:
 * a range that leaves it, or wraps around the address space, is an
 * error. Guest memory is shared with the driver: write only where the
 * device may (a buffer the driver gave it to write, or memory a test
 * owns).
 *
 * Returns: %TRUE on success, %FALSE with @error set if part of the range
 *   is not guest memory
 *
 * Since: 1.0
 */
gboolean
vhost_user_memory_table_write_gpa (const VhostUserMemoryTable  *table,
                                   guint64                      guest_phys_addr,
                                   GBytes                      *data,
                                   GError                     **error)
{
  const guint8 *src;
  gsize len, done;

  g_return_val_if_fail (table != NULL, FALSE);
  g_return_val_if_fail (data != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  src = g_bytes_get_data (data, &len);
  /* the whole range first: a write that fails leaves guest memory alone */
  for (done = 0; done < len;)
    {
      guint64 chunk = len - done;

      if (guest_phys_addr + done < guest_phys_addr ||
          vhost_user_memory_table_translate_gpa (table, guest_phys_addr + done, &chunk) == NULL)
        {
          g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                       "Guest address 0x%" G_GINT64_MODIFIER "x is not in guest memory",
                       guest_phys_addr + done);
          return FALSE;
        }
      done += chunk;
    }
  for (done = 0; done < len;)
    {
      guint64 chunk = len - done;
      guint8 *dest = vhost_user_memory_table_translate_gpa (table, guest_phys_addr + done, &chunk);

      memcpy (dest, src + done, chunk);
      done += chunk;
    }
  return TRUE;
}
