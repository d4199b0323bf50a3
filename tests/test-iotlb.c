/* test-iotlb.c: a device behind the guest's IOMMU
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Our front-end plays the IOMMU (it answers the back-end's misses with
 * updates, or refuses them) for our back-end, whose rings translate every
 * address through the IOTLB once VIRTIO_F_ACCESS_PLATFORM is acked: ring
 * addresses and descriptors are IOVAs. The driver is a driver ring in
 * memfd memory; the device a kick handler that fills every writable
 * buffer. Then the table itself, with what a front-end may send it that
 * it must refuse.
 */

#include <string.h>
#include <vhost-user-glib.h>

#include "test-util.h"
#include "vhost-user-iotlb-private.h"
#include "vhost-user-wire-private.h"

#define RING_SIZE 16
#define MEM_SIZE  (1024 * 1024)
#define RING_OFF  0           /* the ring's parts, in its first 0x8000 bytes */
#define BUF_OFF   0x40000     /* the driver's buffers (as IOVAs: their offsets) */
#define REMAP     0x40000     /* the IOMMU maps a buffer's IOVA this far up */
#define PAGE      0x1000
#define WAIT_MS   20000
#define FILL      0xa5

#define F(bit)    VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_##bit)

typedef enum {
  IOMMU_MAP,      /* answer a miss with the mapping */
  IOMMU_FAIL,     /* answer it with an access failure */
  IOMMU_NACK,     /* refuse the miss itself (QEMU's answer to an IOVA it cannot map) */
} IommuMode;

typedef struct {
  VhostUserServer       *server;
  VhostUserBackend      *backend;
  char                  *path;
  VhostUserFrontend     *frontend;
  VhostUserMemoryRegion *memory;
  VhostUserDriverRing   *ring;
  guint8                *mem;
  guint64                user_base;   /* the region's front-end address: the rings' IOVAs */
  gboolean               packed;

  /* the IOMMU (the front-end) */
  IommuMode              mode;
  guint                  buffer_perm; /* what it grants buffers */
  guint                  misses;
  guint64                miss_iova[128];
  guint                  miss_perm[128];
  guint                  updates_pending;

  /* the device */
  gboolean               hold;        /* keep what it pops */
  guint                  held[RING_SIZE];
  guint                  n_held;
  guint                  pushed;
  GError                *pop_error;

  /* threaded: the ring served in a thread of its own */
  gboolean               threaded;
  GMainContext          *worker_context;
  GMainLoop             *worker_loop;
  GThread               *worker;
  gint                   pushed_atomic;
} Fixture;

/* --- the IOMMU: ring IOVAs map to themselves (they are the region's
 * front-end addresses), buffer IOVAs (offsets into the region) REMAP
 * bytes up from where the region has them --- */

static guint64
iommu_user_addr (Fixture *f,
                 guint64  page,
                 guint   *perm)
{
  if (page >= f->user_base && page < f->user_base + MEM_SIZE)
    {
      *perm = VHOST_USER_IOTLB_PERM_RW;
      return page;
    }
  *perm = f->buffer_perm;
  return f->user_base + page + REMAP;
}

typedef struct {
  Fixture             *f;
  VhostUserInvocation *miss;   /* acknowledged once the update is through, or NULL */
} Answer;

/* As QEMU does: the miss is acknowledged once the back-end took the
 * update. */
static void
update_sent (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Answer *answer = user_data;
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_user_frontend_send_iotlb_msg_finish (VHOST_USER_FRONTEND (source), result, &error));
  g_assert_no_error (error);
  if (answer->miss != NULL)
    {
      vhost_user_invocation_return_ack (answer->miss);
      g_object_unref (answer->miss);
    }
  answer->f->updates_pending--;
  g_free (answer);
}

static gboolean
on_iotlb_miss (VhostUserFrontend   *frontend,
               VhostUserInvocation *invocation,
               guint64              iova,
               guint64              size,
               guint64              user_addr,
               guint                perm,
               guint                type,
               Fixture             *f)
{
  guint64 page = iova & ~(guint64) (PAGE - 1);
  guint granted;
  guint64 mapped = iommu_user_addr (f, page, &granted);
  Answer *answer = g_new0 (Answer, 1);

  g_assert_cmpuint (type, ==, VHOST_USER_IOTLB_MISS);
  g_assert_cmpuint (f->misses, <, G_N_ELEMENTS (f->miss_iova));
  f->miss_iova[f->misses] = iova;
  f->miss_perm[f->misses] = perm;
  f->misses++;

  switch (f->mode)
    {
    case IOMMU_NACK:
      g_free (answer);
      vhost_user_invocation_return_error_literal (invocation, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                                                  "no such IOVA");
      return TRUE;
    case IOMMU_FAIL:
      answer->f = f;
      vhost_user_invocation_return_ack (invocation);
      f->updates_pending++;
      vhost_user_frontend_send_iotlb_msg_async (frontend, page, PAGE, 0, perm, VHOST_USER_IOTLB_ACCESS_FAIL, NULL,
                                                update_sent, answer);
      return TRUE;
    case IOMMU_MAP:
    default:
      answer->f = f;
      answer->miss = g_object_ref (invocation);
      f->updates_pending++;
      vhost_user_frontend_send_iotlb_msg_async (frontend, page, PAGE, mapped, granted, VHOST_USER_IOTLB_UPDATE,
                                                NULL, update_sent, answer);
      return TRUE;
    }
}

/* --- the device --- */

static void
on_kick (VhostUserVring *vring,
         gpointer        user_data)
{
  Fixture *f = user_data;
  g_autofree VhostUserVringElement *e = g_new0 (VhostUserVringElement, 1);
  GError *error = NULL;

  while (vhost_user_vring_pop (vring, e, &error))
    {
      for (guint i = 0; i < e->n_in; i++)
        memset (e->in[i].base, FILL, e->in[i].len);
      if (f->hold)
        {
          f->held[f->n_held++] = e->head;
          continue;
        }
      g_assert_true (vhost_user_vring_push (vring, e->head, e->in_len, NULL));
      g_assert_true (vhost_user_vring_call (vring, NULL));
      f->pushed++;
    }
  if (error != NULL)
    {
      g_clear_error (&f->pop_error);
      f->pop_error = error;
    }
}

/* The device in its own thread: it pushes whatever it pops at once. */
static void
on_kick_threaded (VhostUserVring *vring,
                  gpointer        user_data)
{
  Fixture *f = user_data;
  g_autofree VhostUserVringElement *e = g_new0 (VhostUserVringElement, 1);
  g_autoptr(GError) error = NULL;

  while (vhost_user_vring_pop (vring, e, &error))
    {
      for (guint i = 0; i < e->n_in; i++)
        memset (e->in[i].base, FILL, e->in[i].len);
      /* a slow device: an invalidation may come meanwhile, and its
       * answer then comes from this thread's push */
      g_usleep (2000);
      g_assert_true (vhost_user_vring_push (vring, e->head, e->in_len, NULL));
      g_assert_true (vhost_user_vring_call (vring, NULL));
      g_atomic_int_inc (&f->pushed_atomic);
    }
  g_assert_no_error (error);
}

static gpointer
worker_run (gpointer data)
{
  Fixture *f = data;

  g_main_context_push_thread_default (f->worker_context);
  g_main_loop_run (f->worker_loop);
  g_main_context_pop_thread_default (f->worker_context);
  return NULL;
}

static void
on_backend_added (VhostUserServer  *server,
                  VhostUserBackend *backend,
                  Fixture          *f)
{
  VhostUserVring *vring;

  g_set_object (&f->backend, backend);
  vhost_user_backend_set_num_queues (backend, 1);
  vring = vhost_user_backend_get_vring (backend, 0);
  if (!f->threaded)
    {
      vhost_user_vring_set_kick_handler (vring, on_kick, f, NULL);
      return;
    }
  f->worker_context = g_main_context_new ();
  f->worker_loop = g_main_loop_new (f->worker_context, FALSE);
  f->worker = g_thread_new ("iotlb-ring", worker_run, f);
  vhost_user_vring_set_context (vring, f->worker_context);
  vhost_user_vring_set_kick_handler (vring, on_kick_threaded, f, NULL);
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  guint64 features = F (VERSION_1) | F (ACCESS_PLATFORM);

  f->packed = GPOINTER_TO_INT (data);
  f->buffer_perm = VHOST_USER_IOTLB_PERM_RW;
  f->server = vhost_user_server_new (VHOST_USER_TYPE_BACKEND, FALSE);
  f->path = test_socket_path_new ("iotlb");
  g_signal_connect (f->server, "backend-added", G_CALLBACK (on_backend_added), f);
  g_assert_true (vhost_user_server_listen (f->server, f->path, &error));
  g_assert_no_error (error);

  f->frontend = vhost_user_frontend_new ();
  g_signal_connect (f->frontend, "iotlb-msg", G_CALLBACK (on_iotlb_miss), f);
  g_assert_true (vhost_user_frontend_connect_to_path (f->frontend, f->path, WAIT_MS, NULL, &error));
  g_assert_no_error (error);
  if (f->packed)
    features |= F (RING_PACKED);
  g_assert_true (vhost_user_frontend_negotiate (f->frontend, features,
                                                VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK |
                                                VHOST_USER_PROTOCOL_FEATURE_BACKEND_REQ |
                                                VHOST_USER_PROTOCOL_FEATURE_CONFIGURE_MEM_SLOTS,
                                                NULL, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_frontend_setup_backend_channel (f->frontend, NULL, &error));
  g_assert_no_error (error);

  f->memory = vhost_user_memory_region_new_memfd (0, MEM_SIZE, &error);
  g_assert_no_error (error);
  f->mem = vhost_user_memory_region_get_host_addr (f->memory);
  f->user_base = vhost_user_memory_region_get_user_addr (f->memory);
  f->ring = (f->packed ? vhost_user_driver_ring_new_packed : vhost_user_driver_ring_new) (f->memory, RING_OFF,
                                                                                         RING_SIZE, &error);
  g_assert_no_error (error);
  g_assert_true (vhost_user_frontend_add_mem_region (f->frontend, f->memory, NULL, &error));
  g_assert_no_error (error);
}

static void
start_ring (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_user_frontend_set_vring_state (f->frontend, VHOST_USER_REQUEST_SET_VRING_NUM, 0, RING_SIZE,
                                                      NULL, &error) &&
                 /* (packed: both wrap counters start at 1) */
                 vhost_user_frontend_set_vring_state (f->frontend, VHOST_USER_REQUEST_SET_VRING_BASE, 0,
                                                      f->packed ? 0x80008000 : 0, NULL, &error) &&
                 vhost_user_frontend_set_vring_addr (f->frontend, 0, 0,
                                                     vhost_user_driver_ring_get_desc_addr (f->ring),
                                                     vhost_user_driver_ring_get_used_addr (f->ring),
                                                     vhost_user_driver_ring_get_avail_addr (f->ring), 0,
                                                     NULL, &error) &&
                 vhost_user_frontend_set_vring_fd (f->frontend, VHOST_USER_REQUEST_SET_VRING_CALL, 0,
                                                   vhost_user_driver_ring_get_call_fd (f->ring), NULL, &error) &&
                 vhost_user_frontend_set_vring_fd (f->frontend, VHOST_USER_REQUEST_SET_VRING_KICK, 0,
                                                   vhost_user_driver_ring_get_kick_fd (f->ring), NULL, &error) &&
                 vhost_user_frontend_set_vring_state (f->frontend, VHOST_USER_REQUEST_SET_VRING_ENABLE, 0, 1,
                                                      NULL, &error));
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  /* what was asked for was answered */
  while (f->updates_pending > 0)
    g_main_context_iteration (NULL, TRUE);
  vhost_user_frontend_close (f->frontend);
  g_clear_object (&f->frontend);
  vhost_user_server_stop (f->server);
  g_clear_object (&f->server);
  if (f->worker != NULL)
    {
      vhost_user_vring_set_kick_handler (vhost_user_backend_get_vring (f->backend, 0), NULL, NULL, NULL);
      vhost_user_vring_set_context (vhost_user_backend_get_vring (f->backend, 0), NULL);
      g_main_loop_quit (f->worker_loop);
      g_thread_join (f->worker);
      g_main_loop_unref (f->worker_loop);
      g_main_context_unref (f->worker_context);
    }
  g_clear_object (&f->backend);
  test_socket_path_free (f->path);
  g_clear_object (&f->ring);
  g_clear_pointer (&f->memory, vhost_user_memory_region_unref);
  g_clear_error (&f->pop_error);
}

static void
iotlb_msg (Fixture *f,
           guint64  iova,
           guint64  size,
           guint64  user_addr,
           guint    perm,
           guint    type)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_user_frontend_send_iotlb_msg (f->frontend, iova, size, user_addr, perm, type, NULL, &error));
  g_assert_no_error (error);
}

/* An IOTLB_MSG as it is on the wire, through the generic request (the
 * typed one refuses values the protocol does not know); its status. */
static guint64
raw_iotlb_msg (Fixture *f,
               guint64  iova,
               guint64  size,
               guint64  user_addr,
               guint8   perm,
               guint8   type)
{
  VhostUserWireIotlb msg = { iova, size, user_addr, perm, type, { 0 } };
  g_autoptr(GBytes) payload = g_bytes_new (&msg, sizeof msg);
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GError) error = NULL;
  guint64 status = 0;

  reply = vhost_user_frontend_request (f->frontend, VHOST_USER_REQUEST_IOTLB_MSG, payload, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (reply), ==, sizeof status);
  memcpy (&status, g_bytes_get_data (reply, NULL), sizeof status);
  return status;
}

/* The IOMMU's mapping of the ring's parts, as an update would give them. */
static void
map_ring (Fixture *f)
{
  iotlb_msg (f, f->user_base + RING_OFF, 0x8000, f->user_base + RING_OFF, VHOST_USER_IOTLB_PERM_RW,
             VHOST_USER_IOTLB_UPDATE);
}

/* One request: a writable buffer of @len bytes at IOVA @iova. */
static void
add_request (Fixture *f,
             guint64  iova,
             guint32  len)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_user_driver_ring_add (f->ring, NULL, NULL, 0, &iova, &len, 1, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_driver_ring_kick (f->ring, NULL));
}

typedef gboolean (*Condition) (Fixture *f);

static void
wait_for (Fixture   *f,
          Condition  done)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * 1000;

  while (!done (f))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (100);
    }
}

/* Runs the loop for a while: for what must not happen. */
static void
spin (guint ms)
{
  gint64 until = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < until)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (100);
    }
}

static gboolean
one_pushed (Fixture *f)
{
  return f->pushed >= 1;
}

static gboolean
broke (Fixture *f)
{
  return f->pop_error != NULL;
}

static gboolean
used_one (Fixture *f,
          guint    expected_len)
{
  guint head = 0, len = 0;

  wait_for (f, one_pushed);
  g_assert_true (vhost_user_driver_ring_get_used (f->ring, &head, &len));
  return len == expected_len;
}

/* The data lands where the IOMMU says, not at the guest-physical address
 * the IOVA would be without it; nothing is asked for what is mapped. */
static void
test_translate (Fixture       *f,
                gconstpointer  data)
{
  guint8 zero[2 * PAGE] = { 0 };

  map_ring (f);
  iotlb_msg (f, BUF_OFF, 2 * PAGE, f->user_base + BUF_OFF + REMAP, VHOST_USER_IOTLB_PERM_RW, VHOST_USER_IOTLB_UPDATE);
  start_ring (f);
  memset (f->mem + BUF_OFF, 0, 2 * PAGE);
  memset (f->mem + BUF_OFF + REMAP, 0, 2 * PAGE);
  /* crossing from one page to the next, within one mapping */
  add_request (f, BUF_OFF + PAGE - 16, 32);
  g_assert_true (used_one (f, 32));
  g_assert_cmpuint (f->misses, ==, 0);
  g_assert_cmpmem (f->mem + BUF_OFF, 2 * PAGE, zero, sizeof zero);
  for (guint i = 0; i < 32; i++)
    g_assert_cmphex (f->mem[BUF_OFF + REMAP + PAGE - 16 + i], ==, FILL);
  g_assert_cmphex (f->mem[BUF_OFF + REMAP + PAGE - 17], ==, 0);
  g_assert_cmphex (f->mem[BUF_OFF + REMAP + PAGE + 16], ==, 0);
  g_assert_no_error (f->pop_error);
}

/* Nothing mapped: the ring's parts, then the buffer, are asked for one
 * miss at a time; the ring waits (parked, not broken) and goes on when
 * each update comes. */
static void
test_miss (Fixture       *f,
           gconstpointer  data)
{
  start_ring (f);
  add_request (f, BUF_OFF, 64);
  g_assert_true (used_one (f, 64));
  g_assert_no_error (f->pop_error);
  /* the ring (its parts are in its first pages) and the buffer, each once */
  g_assert_cmpuint (f->misses, >=, 2);
  for (guint i = 0; i + 1 < f->misses; i++)
    {
      g_assert_cmphex (f->miss_iova[i], >=, f->user_base);
      g_assert_cmphex (f->miss_iova[i], <, f->user_base + 0x8000);
      g_assert_cmpuint (f->miss_iova[i] & ~(guint64) (PAGE - 1), !=, f->miss_iova[i + 1] & ~(guint64) (PAGE - 1));
    }
  g_assert_cmphex (f->miss_iova[f->misses - 1], ==, BUF_OFF);
  g_assert_cmpuint (f->miss_perm[f->misses - 1], ==, VHOST_USER_IOTLB_PERM_WO);
  g_assert_cmphex (f->mem[BUF_OFF + REMAP], ==, FILL);

  /* mapped now: the next request asks for nothing */
  f->pushed = 0;
  add_request (f, BUF_OFF + 64, 64);
  g_assert_true (used_one (f, 64));
  g_assert_cmpuint (f->misses, <=, 4);
}

/* A device write into what the IOMMU maps read-only: refused, and the
 * ring breaks with a clear error; nothing was written. */
static void
test_read_only (Fixture       *f,
                gconstpointer  data)
{
  map_ring (f);
  f->buffer_perm = VHOST_USER_IOTLB_PERM_RO;
  start_ring (f);
  memset (f->mem + BUF_OFF + REMAP, 0, PAGE);
  add_request (f, BUF_OFF, 64);
  wait_for (f, broke);
  g_assert_error (f->pop_error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE);
  g_assert_nonnull (strstr (f->pop_error->message, "IOMMU allows it only to read"));
  g_assert_cmpuint (f->pushed, ==, 0);
  g_assert_cmphex (f->mem[BUF_OFF + REMAP], ==, 0);
}

/* The IOMMU says the IOVA is not mapped: the waiting ring breaks, and
 * says why. */
static void
test_access_fail (Fixture       *f,
                  gconstpointer  data)
{
  map_ring (f);
  f->mode = IOMMU_FAIL;
  start_ring (f);
  add_request (f, BUF_OFF, 64);
  wait_for (f, broke);
  g_assert_cmpuint (f->misses, ==, 1);
  g_assert_error (f->pop_error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE);
  g_assert_nonnull (strstr (f->pop_error->message, "IOTLB access failure"));
  g_assert_cmpuint (f->pushed, ==, 0);
}

/* The front-end refuses the miss itself (REPLY_ACK's NACK: what QEMU
 * answers for an IOVA its IOMMU cannot translate). */
static void
test_miss_refused (Fixture       *f,
                   gconstpointer  data)
{
  map_ring (f);
  f->mode = IOMMU_NACK;
  start_ring (f);
  add_request (f, BUF_OFF, 64);
  wait_for (f, broke);
  g_assert_cmpuint (f->misses, ==, 1);
  g_assert_nonnull (strstr (f->pop_error->message, "could not be served"));
}

static void
got_result (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static gboolean
two_held (Fixture *f)
{
  return f->n_held == 2;
}

/* Invalidation while the device holds buffers: the answer waits until
 * the device gave them back (it may still write into them until then),
 * and what it removed is asked for again by the next request. */
static void
test_invalidate_held (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  VhostUserVring *vring;
  guint misses;

  map_ring (f);
  iotlb_msg (f, BUF_OFF, 4 * PAGE, f->user_base + BUF_OFF + REMAP, VHOST_USER_IOTLB_PERM_RW, VHOST_USER_IOTLB_UPDATE);
  start_ring (f);
  f->hold = TRUE;
  add_request (f, BUF_OFF, 64);
  add_request (f, BUF_OFF + PAGE, 64);
  wait_for (f, two_held);
  misses = f->misses;

  /* a range that was never mapped forgets nothing: answered at once */
  iotlb_msg (f, 0x7000000, PAGE, 0, 0, VHOST_USER_IOTLB_INVALIDATE);
  /* nor does one no held buffer is in (it takes the whole entry, the
   * held buffers' included, but their IOVAs stay mapped in the guest) */
  iotlb_msg (f, BUF_OFF + 3 * PAGE, PAGE, 0, 0, VHOST_USER_IOTLB_INVALIDATE);

  /* the second buffer's page: waits for it alone */
  vhost_user_frontend_send_iotlb_msg_async (f->frontend, BUF_OFF + PAGE, PAGE, 0xdeadbeef, 0,
                                            VHOST_USER_IOTLB_INVALIDATE, NULL, got_result, &result);
  spin (200);
  g_assert_null (result);
  vring = vhost_user_backend_get_vring (f->backend, 0);
  g_assert_true (vhost_user_vring_push (vring, f->held[0], 64, NULL));
  spin (100);
  g_assert_null (result);
  g_assert_true (vhost_user_vring_push (vring, f->held[1], 64, NULL));
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (vhost_user_frontend_send_iotlb_msg_finish (f->frontend, result, &error));
  g_assert_no_error (error);
  g_assert_no_error (f->pop_error);

  /* the ring's own parts: a push writes there, so every request out is
   * waited for */
  g_clear_object (&result);
  f->n_held = 0;
  map_ring (f);
  iotlb_msg (f, BUF_OFF, 4 * PAGE, f->user_base + BUF_OFF + REMAP, VHOST_USER_IOTLB_PERM_RW, VHOST_USER_IOTLB_UPDATE);
  add_request (f, BUF_OFF, 64);
  add_request (f, BUF_OFF + PAGE, 64);
  wait_for (f, two_held);
  vhost_user_frontend_send_iotlb_msg_async (f->frontend, f->user_base + RING_OFF, PAGE, 0, 0,
                                            VHOST_USER_IOTLB_INVALIDATE, NULL, got_result, &result);
  spin (100);
  g_assert_null (result);
  g_assert_true (vhost_user_vring_push (vring, f->held[1], 64, NULL));
  spin (100);
  g_assert_null (result);
  g_assert_true (vhost_user_vring_push (vring, f->held[0], 64, NULL));
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (vhost_user_frontend_send_iotlb_msg_finish (f->frontend, result, &error));
  g_assert_no_error (error);

  /* the ring's mapping went: the next pop asks for it again (and only
   * for it: the buffers' mapping is there) */
  g_assert_cmpuint (f->misses, ==, misses);
  f->hold = FALSE;
  add_request (f, BUF_OFF + 2 * PAGE, 64);
  wait_for (f, one_pushed);
  g_assert_cmpuint (f->misses, >, misses);
  for (guint i = misses; i < f->misses; i++)
    g_assert_cmphex (f->miss_iova[i], >=, f->user_base);
}

/* The front-end goes away while an invalidation waits for a request the
 * device holds: the invalidation is never answered, nothing is left
 * behind (the device gives the request back to a ring that ended). */
static void
test_invalidate_held_at_close (Fixture       *f,
                               gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  VhostUserVring *vring;

  map_ring (f);
  iotlb_msg (f, BUF_OFF, PAGE, f->user_base + BUF_OFF + REMAP, VHOST_USER_IOTLB_PERM_RW, VHOST_USER_IOTLB_UPDATE);
  start_ring (f);
  f->hold = TRUE;
  add_request (f, BUF_OFF, 64);
  while (f->n_held < 1)
    g_main_context_iteration (NULL, TRUE);
  vhost_user_frontend_send_iotlb_msg_async (f->frontend, BUF_OFF, PAGE, 0, 0, VHOST_USER_IOTLB_INVALIDATE, NULL,
                                            got_result, &result);
  spin (100);
  g_assert_null (result);
  vhost_user_frontend_close (f->frontend);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (vhost_user_frontend_send_iotlb_msg_finish (f->frontend, result, &error));
  g_assert_nonnull (error);
  spin (100);
  vring = vhost_user_backend_get_vring (f->backend, 0);
  vhost_user_vring_push (vring, f->held[0], 64, NULL);
  spin (50);
}

/* QEMU's lazy flush with ATS: iova 0xfef00000, size 0xffffffff01100000,
 * whose end wraps to 0, means everything from 0xfef00000 up, with
 * garbage in the other fields. The rings' IOVAs (front-end addresses,
 * far above) go; the buffers' (below) stay. */
static void
test_invalidate_wrapping (Fixture       *f,
                          gconstpointer  data)
{
  guint misses;

  if (f->user_base <= 0xfef00000)
    {
      /* the invalidation would take the buffers' translations too */
      g_test_skip ("guest memory is mapped below 0xfef00000 here (valgrind maps low)");
      return;
    }
  map_ring (f);
  iotlb_msg (f, BUF_OFF, 4 * PAGE, f->user_base + BUF_OFF + REMAP, VHOST_USER_IOTLB_PERM_RW, VHOST_USER_IOTLB_UPDATE);
  start_ring (f);
  add_request (f, BUF_OFF, 64);
  g_assert_true (used_one (f, 64));
  g_assert_cmpuint (f->misses, ==, 0);

  g_assert_cmphex (raw_iotlb_msg (f, 0xfef00000, 0xffffffff01100000, 0x5555aaaa5555aaaa, 0xff,
                                  VHOST_USER_IOTLB_INVALIDATE), ==, 0);
  misses = f->misses;
  f->pushed = 0;
  add_request (f, BUF_OFF + PAGE, 64);
  g_assert_true (used_one (f, 64));
  /* the ring's parts were asked for again, never the buffer */
  g_assert_cmpuint (f->misses, >, misses);
  for (guint i = misses; i < f->misses; i++)
    g_assert_cmphex (f->miss_iova[i], >=, f->user_base);
  g_assert_cmphex (f->mem[BUF_OFF + REMAP + PAGE], ==, FILL);
}

/* A stopped ring (GET_VRING_BASE) leaves nothing in the IOTLB: the guest
 * may remap its IOVAs before the next start, without an invalidation
 * reaching the back-end. The restarted ring asks again. */
static void
test_stop_forgets (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  guint misses;

  map_ring (f);
  iotlb_msg (f, BUF_OFF, 4 * PAGE, f->user_base + BUF_OFF + REMAP, VHOST_USER_IOTLB_PERM_RW, VHOST_USER_IOTLB_UPDATE);
  start_ring (f);
  add_request (f, BUF_OFF, 64);
  g_assert_true (used_one (f, 64));
  g_assert_cmpuint (f->misses, ==, 0);

  vhost_user_frontend_get_vring_base (f->frontend, 0, NULL, &error);
  g_assert_no_error (error);
  misses = f->misses;
  f->pushed = 0;
  g_clear_object (&f->ring);
  f->ring = (f->packed ? vhost_user_driver_ring_new_packed : vhost_user_driver_ring_new) (f->memory, RING_OFF,
                                                                                         RING_SIZE, &error);
  g_assert_no_error (error);
  start_ring (f);
  add_request (f, BUF_OFF, 64);
  g_assert_true (used_one (f, 64));
  /* the ring's parts and the buffer, all asked for again */
  g_assert_cmpuint (f->misses, >=, misses + 2);
  g_assert_cmphex (f->miss_iova[f->misses - 1], ==, BUF_OFF);
}

/* The back-end's typed miss, blocking and async, for a device that reads
 * guest memory other than through a ring: the update has come when the
 * blocking one returns; a permission the protocol has not is refused
 * before anything is sent. */
static void
test_typed_miss (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  map_ring (f);
  start_ring (f);
  g_assert_true (vhost_user_backend_send_iotlb_miss (f->backend, BUF_OFF + 0x10, VHOST_USER_IOTLB_PERM_WO, NULL,
                                                     &error));
  g_assert_no_error (error);
  g_assert_cmpuint (f->misses, ==, 1);
  g_assert_cmphex (f->miss_iova[0], ==, BUF_OFF + 0x10);
  g_assert_cmpuint (f->miss_perm[0], ==, VHOST_USER_IOTLB_PERM_WO);
  /* mapped: the ring asks for nothing */
  add_request (f, BUF_OFF, 64);
  g_assert_true (used_one (f, 64));
  g_assert_cmpuint (f->misses, ==, 1);

  vhost_user_backend_send_iotlb_miss_async (f->backend, BUF_OFF + PAGE, VHOST_USER_IOTLB_PERM_RO, NULL, got_result,
                                            &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (vhost_user_backend_send_iotlb_miss_finish (f->backend, result, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (f->misses, ==, 2);
  g_assert_cmpuint (f->miss_perm[1], ==, VHOST_USER_IOTLB_PERM_RO);

  g_assert_false (vhost_user_backend_send_iotlb_miss (f->backend, BUF_OFF, 0, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_assert_cmpuint (f->misses, ==, 2);
}

/* What a front-end may send that is refused (NACK), over the socket;
 * nothing of it is kept, and the ring goes on with what was mapped. */
static void
test_bad_messages (Fixture       *f,
                   gconstpointer  data)
{
  static const struct {
    const char *what;
    guint64     iova, size, user_addr;
    guint8      perm, type;
    gboolean    inside;   /* @user_addr is an offset into the region */
  } bad[] = {
    { "size 0", BUF_OFF, 0, BUF_OFF, 3, 2, TRUE },
    { "wrapping IOVA", G_MAXUINT64 - PAGE + 1, 2 * PAGE, BUF_OFF, 3, 2, TRUE },
    { "wrapping address", BUF_OFF, PAGE, G_MAXUINT64 - 16, 3, 2, FALSE },
    { "no permission", BUF_OFF, PAGE, BUF_OFF, 0, 2, TRUE },
    { "unknown permission", BUF_OFF, PAGE, BUF_OFF, 4, 2, TRUE },
    { "a miss, from the front-end", BUF_OFF, PAGE, BUF_OFF, 3, 1, TRUE },
    { "unknown type", BUF_OFF, PAGE, BUF_OFF, 3, 9, TRUE },
    { "outside guest memory", BUF_OFF, PAGE, 0x1000, 3, 2, FALSE },
    { "running past guest memory", BUF_OFF, 2 * PAGE, MEM_SIZE - PAGE, 3, 2, TRUE },
    { "overlapping another mapping", 0x20000 + PAGE, 2 * PAGE, 0x10000, 3, 2, TRUE },
    { "invalidation of size 0", 0x20000, 0, 0, 0, 3, TRUE },
  };
  guint fds = test_count_open_fds ();

  /* one mapping there to overlap */
  iotlb_msg (f, 0x20000, 2 * PAGE, f->user_base + 0x30000, VHOST_USER_IOTLB_PERM_RO, VHOST_USER_IOTLB_UPDATE);
  /* the same one again is no error (two rings missing one page get it twice) */
  iotlb_msg (f, 0x20000, 2 * PAGE, f->user_base + 0x30000, VHOST_USER_IOTLB_PERM_RO, VHOST_USER_IOTLB_UPDATE);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_test_message ("%s", bad[i].what);
      g_assert_cmphex (raw_iotlb_msg (f, bad[i].iova, bad[i].size,
                                      bad[i].inside ? f->user_base + bad[i].user_addr : bad[i].user_addr,
                                      bad[i].perm, bad[i].type), !=, 0);
    }
  g_assert_cmpuint (test_count_open_fds (), ==, fds);

  /* the one good mapping is still there, unchanged: read-only */
  map_ring (f);
  start_ring (f);
  add_request (f, 0x20000, 64);
  wait_for (f, broke);
  g_assert_cmpuint (f->misses, ==, 0);
  g_assert_nonnull (strstr (f->pop_error->message, "IOMMU allows it only to read"));
}

static void
fixture_setup_threaded (Fixture       *f,
                        gconstpointer  data)
{
  f->threaded = TRUE;
  fixture_setup (f, data);
}

/* The ring in a thread of its own while this one is the IOMMU: misses
 * sent from the ring's thread, answered here; invalidations of pages the
 * ring is using, each answered once what it held is pushed back. */
static void
test_threaded (Fixture       *f,
               gconstpointer  data)
{
  const guint rounds = 64;

  map_ring (f);
  start_ring (f);
  for (guint round = 0; round < rounds; round++)
    {
      g_autoptr(GAsyncResult) result = NULL;
      g_autoptr(GError) error = NULL;
      guint64 iova = BUF_OFF + (round % 8) * PAGE;
      gint64 deadline = g_get_monotonic_time () + WAIT_MS * 1000;
      guint head, len;

      add_request (f, iova, 64);
      if (round % 2 == 1)
        {
          vhost_user_frontend_send_iotlb_msg_async (f->frontend, iova & ~(guint64) (PAGE - 1), PAGE, 0, 0,
                                                    VHOST_USER_IOTLB_INVALIDATE, NULL, got_result, &result);
          while (result == NULL)
            g_main_context_iteration (NULL, TRUE);
          g_assert_true (vhost_user_frontend_send_iotlb_msg_finish (f->frontend, result, &error));
          g_assert_no_error (error);
        }
      while ((guint) g_atomic_int_get (&f->pushed_atomic) < round + 1)
        {
          g_assert_cmpint (g_get_monotonic_time (), <, deadline);
          g_main_context_iteration (NULL, FALSE);
          g_usleep (100);
        }
      g_assert_true (vhost_user_driver_ring_get_used (f->ring, &head, &len));
      g_assert_cmpuint (len, ==, 64);
      g_assert_cmphex (f->mem[iova + REMAP], ==, FILL);
      f->mem[iova + REMAP] = 0;
    }
  /* each page asked for at least once, again after its invalidations */
  g_assert_cmpuint (f->misses, >=, 8);
}

/* --- the table by itself --- */

static void
test_table (void)
{
  g_autoptr(VhostUserIotlb) iotlb = vhost_user_iotlb_new (4);
  g_autoptr(GError) error = NULL;
  guint64 len, user_addr;
  guint n_removed;

  g_assert_true (vhost_user_iotlb_update (iotlb, 0x1000, 0x1000, 0x10000, VHOST_USER_IOTLB_PERM_RO, &error));
  g_assert_true (vhost_user_iotlb_update (iotlb, 0x2000, 0x1000, 0x30000, VHOST_USER_IOTLB_PERM_RW, &error));
  /* a range to the very end of the address space */
  g_assert_true (vhost_user_iotlb_update (iotlb, G_MAXUINT64 - 0xfff, 0x1000, 0x50000, VHOST_USER_IOTLB_PERM_WO,
                                          &error));
  g_assert_no_error (error);

  /* a lookup stops where its entry does; the next one is another entry */
  len = 0x2000;
  g_assert_cmpint (vhost_user_iotlb_translate (iotlb, 0x1800, &len, VHOST_USER_IOTLB_PERM_RO, &user_addr), ==,
                   VHOST_USER_IOTLB_HIT);
  g_assert_cmphex (len, ==, 0x800);
  g_assert_cmphex (user_addr, ==, 0x10800);
  len = 0x10;
  g_assert_cmpint (vhost_user_iotlb_translate (iotlb, 0x1800, &len, VHOST_USER_IOTLB_PERM_WO, &user_addr), ==,
                   VHOST_USER_IOTLB_DENIED);
  g_assert_cmpint (vhost_user_iotlb_translate (iotlb, 0x3000, &len, VHOST_USER_IOTLB_PERM_RO, &user_addr), ==,
                   VHOST_USER_IOTLB_NOT_CACHED);
  len = G_MAXUINT64;
  g_assert_cmpint (vhost_user_iotlb_translate (iotlb, G_MAXUINT64, &len, VHOST_USER_IOTLB_PERM_WO, &user_addr), ==,
                   VHOST_USER_IOTLB_HIT);
  g_assert_cmphex (len, ==, 1);
  g_assert_cmphex (user_addr, ==, 0x50fff);

  /* never mapped: nothing removed */
  g_assert_true (vhost_user_iotlb_invalidate (iotlb, 0x8000, 0x1000, &n_removed, &error));
  g_assert_cmpuint (n_removed, ==, 0);
  g_assert_cmpuint (vhost_user_iotlb_get_n_entries (iotlb), ==, 3);
  /* partly covered: the entry goes whole */
  g_assert_true (vhost_user_iotlb_invalidate (iotlb, 0x2800, 0x10, &n_removed, &error));
  g_assert_cmpuint (n_removed, ==, 1);
  g_assert_false (vhost_user_iotlb_covers (iotlb, 0x2000));
  g_assert_true (vhost_user_iotlb_covers (iotlb, 0x1000));
  /* the wrapping whole-space flush: all from 0x1fff up, not nothing */
  g_assert_true (vhost_user_iotlb_invalidate (iotlb, 0x1fff, G_MAXUINT64 - 0x1fff + 1, &n_removed, &error));
  g_assert_cmpuint (n_removed, ==, 2);
  g_assert_no_error (error);
  g_assert_cmpuint (vhost_user_iotlb_get_n_entries (iotlb), ==, 0);
  /* and the one QEMU sends, on a table with entries on both sides */
  g_assert_true (vhost_user_iotlb_update (iotlb, 0xfee00000, 0x1000, 0x1000, 3, &error));
  g_assert_true (vhost_user_iotlb_update (iotlb, 0xfef00000, 0x1000, 0x2000, 3, &error));
  g_assert_true (vhost_user_iotlb_update (iotlb, 0x7f0000000000, 0x1000, 0x3000, 3, &error));
  g_assert_true (vhost_user_iotlb_invalidate (iotlb, 0xfef00000, 0xffffffff01100000, &n_removed, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (vhost_user_iotlb_get_n_entries (iotlb), ==, 1);
  g_assert_true (vhost_user_iotlb_covers (iotlb, 0xfee00000));
  /* one that runs past the end: up to the end */
  g_assert_true (vhost_user_iotlb_update (iotlb, G_MAXUINT64 - 0xfff, 0x1000, 0x50000, 3, &error));
  g_assert_true (vhost_user_iotlb_invalidate (iotlb, 0xfef00000, G_MAXUINT64, &n_removed, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_removed, ==, 1);
  g_assert_cmpuint (vhost_user_iotlb_get_n_entries (iotlb), ==, 1);

  /* bad input, each refused with nothing kept */
  g_assert_false (vhost_user_iotlb_update (iotlb, 0x10000, 0, 0x1000, 3, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  g_assert_false (vhost_user_iotlb_update (iotlb, 0x10000, 0x1000, 0x1000, 0, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  g_assert_false (vhost_user_iotlb_update (iotlb, G_MAXUINT64, 2, 0x1000, 3, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  g_assert_false (vhost_user_iotlb_update (iotlb, 0xfedff800, 0x1000, 0x9000, 3, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  g_assert_false (vhost_user_iotlb_invalidate (iotlb, 0x1000, 0, &n_removed, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  g_assert_cmpuint (vhost_user_iotlb_get_n_entries (iotlb), ==, 1);

  /* full: one goes, never the table past its bound */
  for (guint i = 0; i < 8; i++)
    g_assert_true (vhost_user_iotlb_update (iotlb, 0x100000 + i * 0x1000, 0x1000, 0x1000, 3, &error));
  g_assert_cmpuint (vhost_user_iotlb_get_n_entries (iotlb), ==, 4);
  /* and a flush (a ring stops) forgets all */
  vhost_user_iotlb_flush (iotlb);
  g_assert_cmpuint (vhost_user_iotlb_get_n_entries (iotlb), ==, 0);
}

static void
fence_done (gpointer user_data)
{
  GString *order = user_data;

  g_string_append_c (order, 'x');
}

static void
fence_done_second (gpointer user_data)
{
  GString *order = user_data;

  g_string_append_c (order, 'y');
}

/* Fences complete in the order they were made, once each is released. */
static void
test_fences (void)
{
  g_autoptr(VhostUserIotlb) iotlb = vhost_user_iotlb_new (4);
  g_autoptr(GString) order = g_string_new (NULL);
  VhostUserIotlbFence *first = vhost_user_iotlb_fence_new (iotlb, fence_done, order);
  VhostUserIotlbFence *second = vhost_user_iotlb_fence_new (iotlb, fence_done_second, order);

  vhost_user_iotlb_fence_hold (first);
  vhost_user_iotlb_fence_release (first);
  vhost_user_iotlb_fence_release (second);
  g_assert_cmpstr (order->str, ==, "");
  vhost_user_iotlb_fence_release (first);
  g_assert_cmpstr (order->str, ==, "xy");
}

/* Eight fences, as many as one release completes at a time, that
 * outlive their table's owner: the last release completes them all and
 * frees the table, and must not touch it after (ASan and valgrind saw it
 * lock the freed table for another round). */
static void
test_fences_outlive_table (void)
{
  VhostUserIotlb *iotlb = vhost_user_iotlb_new (4);
  g_autoptr(GString) order = g_string_new (NULL);
  VhostUserIotlbFence *fences[8];

  for (guint i = 0; i < G_N_ELEMENTS (fences); i++)
    fences[i] = vhost_user_iotlb_fence_new (iotlb, fence_done, order);
  vhost_user_iotlb_unref (iotlb);
  for (guint i = 1; i < G_N_ELEMENTS (fences); i++)
    vhost_user_iotlb_fence_release (fences[i]);
  g_assert_cmpstr (order->str, ==, "");
  vhost_user_iotlb_fence_release (fences[0]);
  g_assert_cmpstr (order->str, ==, "xxxxxxxx");
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(name, func) \
  G_STMT_START { \
    g_test_add ("/iotlb/split/" name, Fixture, GINT_TO_POINTER (FALSE), fixture_setup, func, fixture_teardown); \
    g_test_add ("/iotlb/packed/" name, Fixture, GINT_TO_POINTER (TRUE), fixture_setup, func, fixture_teardown); \
  } G_STMT_END
  ADD ("translate", test_translate);
  ADD ("miss", test_miss);
  ADD ("read-only", test_read_only);
  ADD ("access-fail", test_access_fail);
  ADD ("miss-refused", test_miss_refused);
  ADD ("invalidate-held", test_invalidate_held);
  ADD ("invalidate-held-at-close", test_invalidate_held_at_close);
  ADD ("invalidate-wrapping", test_invalidate_wrapping);
  ADD ("bad-messages", test_bad_messages);
  ADD ("stop-forgets", test_stop_forgets);
  ADD ("typed-miss", test_typed_miss);
#undef ADD
  g_test_add ("/iotlb/split/threaded", Fixture, GINT_TO_POINTER (FALSE), fixture_setup_threaded, test_threaded,
              fixture_teardown);
  g_test_add ("/iotlb/packed/threaded", Fixture, GINT_TO_POINTER (TRUE), fixture_setup_threaded, test_threaded,
              fixture_teardown);
  g_test_add_func ("/iotlb/table", test_table);
  g_test_add_func ("/iotlb/fences", test_fences);
  g_test_add_func ("/iotlb/fences-outlive-table", test_fences_outlive_table);

  return g_test_run ();
}
