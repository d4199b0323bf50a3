/* test-dataplane.c: the rings' life beside the control plane
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A front-end with no guest (a driver ring in memfd memory) against a
 * back-end in this process: GET_VRING_BASE waits for requests a device
 * still holds; rings served from worker threads of their own while the
 * control plane goes on; a back-end that dies with requests in flight and
 * a new one that resubmits them from the in-flight area; dirty-page
 * logging of what the device wrote; in-band kicks and calls; polling
 * when the front-end gives no kick fd.
 */

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <vhost-user-glib.h>

#include "test-util.h"

#define RING_SIZE 16
#define MEM_SIZE  (1024 * 1024)
#define BUF_OFF   0x40000     /* request i writes at BUF_OFF + i * 0x1000 */
#define WAIT_MS   20000

typedef struct {
  VhostUserServer       *server;
  VhostUserBackend      *backend;
  char                  *path;
  VhostUserFrontend     *frontend;
  VhostUserMemoryRegion *memory;
  VhostUserDriverRing   *rings[2];
  guint8                *mem;
  guint64                backend_features;          /* added to the back-end's offer */
  guint64                backend_protocol_features;
  guint                  num_queues;
  gboolean               packed;                    /* VIRTIO_F_RING_PACKED */
  VhostUserVringKickFunc handler;
  gpointer               handler_data;
} Fixture;

static void
on_backend_added (VhostUserServer  *server,
                  VhostUserBackend *backend,
                  Fixture          *f)
{
  g_set_object (&f->backend, backend);
  vhost_user_backend_set_features (backend, vhost_user_backend_get_features (backend) | f->backend_features);
  vhost_user_backend_set_protocol_features (backend,
                                            vhost_user_backend_get_protocol_features (backend) |
                                            f->backend_protocol_features);
  vhost_user_backend_set_num_queues (backend, f->num_queues);
  for (guint i = 0; i < f->num_queues; i++)
    vhost_user_vring_set_kick_handler (vhost_user_backend_get_vring (backend, i), f->handler, f->handler_data, NULL);
}

static void
start_server (Fixture    *f,
              const char *name)
{
  g_autoptr(GError) error = NULL;

  f->server = vhost_user_server_new (VHOST_USER_TYPE_BACKEND, FALSE);
  f->path = test_socket_path_new (name);
  g_signal_connect (f->server, "backend-added", G_CALLBACK (on_backend_added), f);
  g_assert_true (vhost_user_server_listen (f->server, f->path, &error));
  g_assert_no_error (error);
}

static void
stop_server (Fixture *f)
{
  vhost_user_server_stop (f->server);
  g_clear_object (&f->server);
  g_clear_object (&f->backend);
  test_socket_path_free (f->path);
  f->path = NULL;
}

static void
connect_frontend (Fixture *f,
                  guint64  features,
                  guint64  protocol_features)
{
  g_autoptr(GError) error = NULL;

  g_clear_object (&f->frontend);
  f->frontend = vhost_user_frontend_new ();
  g_assert_true (vhost_user_frontend_connect_to_path (f->frontend, f->path, WAIT_MS, NULL, &error));
  g_assert_no_error (error);
  if (f->packed)
    features |= VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_RING_PACKED);
  g_assert_true (vhost_user_frontend_negotiate (f->frontend,
                                                VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_VERSION_1) | features,
                                                VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK |
                                                VHOST_USER_PROTOCOL_FEATURE_CONFIGURE_MEM_SLOTS | protocol_features,
                                                NULL, &error));
  g_assert_no_error (error);
  if (f->memory == NULL)
    {
      f->memory = vhost_user_memory_region_new_memfd (0, MEM_SIZE, &error);
      g_assert_no_error (error);
      f->mem = vhost_user_memory_region_get_host_addr (f->memory);
      for (guint i = 0; i < f->num_queues; i++)
        {
          f->rings[i] = (f->packed ? vhost_user_driver_ring_new_packed : vhost_user_driver_ring_new) (
            f->memory, i * 0x8000, RING_SIZE, &error);
          g_assert_no_error (error);
        }
    }
  g_assert_true (vhost_user_frontend_add_mem_region (f->frontend, f->memory, NULL, &error));
  g_assert_no_error (error);
}

/* NUM, BASE, ADDR (with @addr_flags and @log_addr), CALL and KICK (-1:
 * none, the no-fd flag), ENABLE. */
static void
setup_ring (Fixture *f,
            guint    index,
            guint    base,
            guint    addr_flags,
            guint64  log_addr,
            gboolean call_fd,
            gboolean kick_fd)
{
  VhostUserDriverRing *ring = f->rings[index];
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_user_frontend_set_vring_state (f->frontend, VHOST_USER_REQUEST_SET_VRING_NUM, index, RING_SIZE,
                                                      NULL, &error) &&
                 vhost_user_frontend_set_vring_state (f->frontend, VHOST_USER_REQUEST_SET_VRING_BASE, index, base,
                                                      NULL, &error) &&
                 vhost_user_frontend_set_vring_addr (f->frontend, index, addr_flags,
                                                     vhost_user_driver_ring_get_desc_addr (ring),
                                                     vhost_user_driver_ring_get_used_addr (ring),
                                                     vhost_user_driver_ring_get_avail_addr (ring), log_addr,
                                                     NULL, &error) &&
                 vhost_user_frontend_set_vring_fd (f->frontend, VHOST_USER_REQUEST_SET_VRING_CALL, index,
                                                   call_fd ? vhost_user_driver_ring_get_call_fd (ring) : -1,
                                                   NULL, &error) &&
                 vhost_user_frontend_set_vring_fd (f->frontend, VHOST_USER_REQUEST_SET_VRING_KICK, index,
                                                   kick_fd ? vhost_user_driver_ring_get_kick_fd (ring) : -1,
                                                   NULL, &error) &&
                 vhost_user_frontend_set_vring_state (f->frontend, VHOST_USER_REQUEST_SET_VRING_ENABLE, index, 1,
                                                      NULL, &error));
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture *f)
{
  if (f->frontend != NULL)
    vhost_user_frontend_close (f->frontend);
  g_clear_object (&f->frontend);
  if (f->server != NULL)
    stop_server (f);
  for (guint i = 0; i < G_N_ELEMENTS (f->rings); i++)
    g_clear_object (&f->rings[i]);
  g_clear_pointer (&f->memory, vhost_user_memory_region_unref);
}

/* Request @i of ring @index: one writable 8-byte buffer of its own. */
static guint
add_request (Fixture *f,
             guint    index,
             guint    i,
             gboolean kick)
{
  g_autoptr(GError) error = NULL;
  guint64 off = BUF_OFF + (index * 2 * RING_SIZE + i % (2 * RING_SIZE)) * 0x1000;
  guint32 len = 8;
  guint head;

  memset (f->mem + off, 0, 8);
  g_assert_true (vhost_user_driver_ring_add (f->rings[index], NULL, NULL, 0, &off, &len, 1, &head, &error));
  g_assert_no_error (error);
  if (kick)
    g_assert_true (vhost_user_driver_ring_kick (f->rings[index], NULL));
  return head;
}

/* Waits (running this thread's default context, where the back-end may
 * be) for a used entry. */
static gboolean
wait_used (Fixture *f,
           guint    index,
           guint   *head,
           guint   *len)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * 1000;

  while (!vhost_user_driver_ring_get_used (f->rings[index], head, len))
    {
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      g_main_context_iteration (NULL, FALSE);
      g_usleep (200);
    }
  return TRUE;
}

static void
iterate_until (gboolean *flag)
{
  g_assert_true (test_iterate_until (NULL, flag, WAIT_MS));
}

/* --- GET_VRING_BASE drains --- */

typedef struct {
  VhostUserVring        *vring;
  VhostUserVringElement  element;
  gboolean               held;
  gboolean               pushed;
} Holder;

static void
hold_one (VhostUserVring *vring,
          gpointer        user_data)
{
  Holder *h = user_data;

  if (!h->held && vhost_user_vring_pop (vring, &h->element, NULL))
    {
      h->vring = vring;
      h->held = TRUE;
    }
}

static gboolean
complete_held (gpointer user_data)
{
  Holder *h = user_data;

  g_assert_cmpuint (vhost_user_vring_element_write (&h->element, 0, (const guint8 *) "drained", 8), ==, 8);
  g_assert_true (vhost_user_vring_push (h->vring, h->element.head, 8, NULL));
  g_assert_true (vhost_user_vring_call (h->vring, NULL));
  h->pushed = TRUE;
  return G_SOURCE_REMOVE;
}

static void
test_drain (void)
{
  Fixture f = { .num_queues = 1 };
  Holder h = { 0 };
  g_autoptr(GError) error = NULL;
  guint head, used_head, len, base = 99;

  f.handler = hold_one;
  f.handler_data = &h;
  start_server (&f, "drain.sock");
  connect_frontend (&f, 0, 0);
  setup_ring (&f, 0, 0, 0, 0, TRUE, TRUE);

  head = add_request (&f, 0, 0, TRUE);
  iterate_until (&h.held);
  g_assert_cmpuint (vhost_user_vring_get_in_flight (h.vring), ==, 1);

  /* the device completes the request later; the answer waits for it */
  g_timeout_add (100, complete_held, &h);
  base = vhost_user_frontend_get_vring_base (f.frontend, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (h.pushed);
  g_assert_cmpuint (base, ==, 1);
  g_assert_false (vhost_user_vring_get_started (h.vring));
  g_assert_cmpuint (vhost_user_vring_get_in_flight (h.vring), ==, 0);

  g_assert_true (vhost_user_driver_ring_get_used (f.rings[0], &used_head, &len));
  g_assert_cmpuint (used_head, ==, head);
  g_assert_cmpuint (len, ==, 8);
  g_assert_cmpstr ((const char *) f.mem + BUF_OFF, ==, "drained");

  /* a stopped ring with nothing in flight takes nothing back */
  g_assert_false (vhost_user_vring_push (h.vring, head, 0, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION);

  fixture_teardown (&f);
}

/* A request held while the driver breaks the ring: GET_VRING_BASE still
 * answers once the device is done with it (its push is refused). */
static void
hold_then_pop (VhostUserVring *vring,
               gpointer        user_data)
{
  Holder *h = user_data;
  VhostUserVringElement other;

  if (!h->held)
    hold_one (vring, user_data);
  else
    vhost_user_vring_pop (vring, &other, NULL);
}

static gboolean
push_refused (gpointer user_data)
{
  Holder *h = user_data;

  g_assert_false (vhost_user_vring_push (h->vring, h->element.head, 0, NULL));
  h->pushed = TRUE;
  return G_SOURCE_REMOVE;
}

static void
test_drain_broken (void)
{
  Fixture f = { .num_queues = 1 };
  Holder h = { 0 };
  g_autoptr(GError) error = NULL;
  guint8 *avail;
  guint16 idx = 2, bad_head = RING_SIZE + 1;

  f.handler = hold_then_pop;
  f.handler_data = &h;
  start_server (&f, "drain-broken.sock");
  connect_frontend (&f, 0, 0);
  setup_ring (&f, 0, 0, 0, 0, TRUE, TRUE);
  add_request (&f, 0, 0, TRUE);
  iterate_until (&h.held);

  avail = f.mem + (vhost_user_driver_ring_get_avail_addr (f.rings[0]) - vhost_user_memory_region_get_user_addr (f.memory));
  memcpy (avail + 4 + 2, &bad_head, 2);
  memcpy (avail + 2, &idx, 2);
  g_assert_true (vhost_user_driver_ring_kick (f.rings[0], NULL));
  for (guint i = 0; i < 50; i++)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }

  g_timeout_add (50, push_refused, &h);
  vhost_user_frontend_get_vring_base (f.frontend, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (h.pushed);
  g_assert_cmpuint (vhost_user_vring_get_in_flight (h.vring), ==, 0);
  fixture_teardown (&f);
}

/* SET_VRING_NUM while a request is out with the device: refused (the
 * ring is running), and the request still counts, so GET_VRING_BASE
 * waits for it (the resize used to zero the count: GET_VRING_BASE then
 * answered while the device still wrote into guest memory). */
static void
test_resize_running (void)
{
  Fixture f = { .num_queues = 1 };
  Holder h = { 0 };
  g_autoptr(GError) error = NULL;
  guint base;

  f.handler = hold_one;
  f.handler_data = &h;
  start_server (&f, "resize.sock");
  connect_frontend (&f, 0, 0);
  setup_ring (&f, 0, 0, 0, 0, TRUE, TRUE);
  add_request (&f, 0, 0, TRUE);
  iterate_until (&h.held);

  g_assert_false (vhost_user_frontend_set_vring_state (f.frontend, VHOST_USER_REQUEST_SET_VRING_NUM, 0,
                                                       RING_SIZE / 2, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL);
  g_clear_error (&error);
  g_assert_cmpuint (vhost_user_vring_get_size (h.vring), ==, RING_SIZE);
  g_assert_cmpuint (vhost_user_vring_get_in_flight (h.vring), ==, 1);

  /* stopped, it still waits for the request; resized only once drained */
  g_timeout_add (100, complete_held, &h);
  base = vhost_user_frontend_get_vring_base (f.frontend, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (h.pushed);
  g_assert_cmpuint (base, ==, 1);
  g_assert_true (vhost_user_frontend_set_vring_state (f.frontend, VHOST_USER_REQUEST_SET_VRING_NUM, 0,
                                                      RING_SIZE / 2, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (vhost_user_vring_get_size (h.vring), ==, RING_SIZE / 2);
  fixture_teardown (&f);
}

/* --- a worker thread per ring --- */

typedef struct {
  GMainContext *context;
  GMainLoop    *loop;
  GThread      *thread;
  guint         served;     /* only the worker writes it */
  guint         poll_us;    /* the ring's busy-poll window */
} Worker;

static gpointer
worker_run (gpointer data)
{
  Worker *w = data;

  g_main_context_push_thread_default (w->context);
  g_main_loop_run (w->loop);
  g_main_context_pop_thread_default (w->context);
  return NULL;
}

static void
serve_all (VhostUserVring *vring,
           gpointer        user_data)
{
  Worker *workers = user_data;
  Worker *w = &workers[vhost_user_vring_get_index (vring)];
  VhostUserVringElement element;
  gboolean any = FALSE;

  /* it runs in the ring's own thread */
  g_assert_true (g_main_context_is_owner (w->context));
  while (vhost_user_vring_pop (vring, &element, NULL))
    {
      guint64 n = ++w->served;

      vhost_user_vring_element_write (&element, 0, (const guint8 *) &n, sizeof n);
      g_assert_true (vhost_user_vring_push (vring, element.head, sizeof n, NULL));
      any = TRUE;
    }
  if (any)
    vhost_user_vring_call (vring, NULL);
}

static void
on_threaded_backend (VhostUserServer  *server,
                     VhostUserBackend *backend,
                     Worker           *workers)
{
  for (guint i = 0; i < 2; i++)
    {
      vhost_user_vring_set_context (vhost_user_backend_get_vring (backend, i), workers[i].context);
      vhost_user_vring_set_poll_window (vhost_user_backend_get_vring (backend, i), workers[i].poll_us);
    }
}

/* With @data, each ring busy-polls in its thread (and is stopped from
 * the control plane's while it does). */
static void
test_threads (gconstpointer data)
{
  Fixture f = { .num_queues = 2 };
  Worker workers[2];
  g_autoptr(GError) error = NULL;
  const guint n_requests = 3000;
  guint done[2] = { 0, 0 }, sent[2] = { 0, 0 }, base;
  gint64 deadline;

  for (guint i = 0; i < 2; i++)
    {
      workers[i].context = g_main_context_new ();
      workers[i].loop = g_main_loop_new (workers[i].context, FALSE);
      workers[i].served = 0;
      workers[i].poll_us = GPOINTER_TO_UINT (data);
      workers[i].thread = g_thread_new ("ring worker", worker_run, &workers[i]);
    }
  f.handler = serve_all;
  f.handler_data = workers;
  start_server (&f, "threads.sock");
  g_signal_connect (f.server, "backend-added", G_CALLBACK (on_threaded_backend), workers);
  connect_frontend (&f, 0, VHOST_USER_PROTOCOL_FEATURE_MQ);
  for (guint i = 0; i < 2; i++)
    setup_ring (&f, i, 0, 0, 0, TRUE, TRUE);

  /* both rings busy at once, while the control plane keeps talking */
  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while ((done[0] < n_requests || done[1] < n_requests) && g_get_monotonic_time () < deadline)
    {
      for (guint i = 0; i < 2; i++)
        {
          guint head, len;

          while (sent[i] < n_requests && sent[i] - done[i] < RING_SIZE)
            add_request (&f, i, sent[i]++, TRUE);
          while (vhost_user_driver_ring_get_used (f.rings[i], &head, &len))
            {
              g_assert_cmpuint (len, ==, 8);
              done[i]++;
            }
        }
      if ((done[0] + done[1]) % 64 == 0)
        {
          g_assert_true (vhost_user_frontend_set_vring_state (f.frontend, VHOST_USER_REQUEST_SET_VRING_ENABLE, 1, 1,
                                                              NULL, &error));
          g_assert_no_error (error);
        }
      g_main_context_iteration (NULL, FALSE);
    }
  g_assert_cmpuint (done[0], ==, n_requests);
  g_assert_cmpuint (done[1], ==, n_requests);

  for (guint i = 0; i < 2; i++)
    {
      base = vhost_user_frontend_get_vring_base (f.frontend, i, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (base, ==, n_requests % 65536);
    }

  fixture_teardown (&f);
  for (guint i = 0; i < 2; i++)
    {
      g_main_loop_quit (workers[i].loop);
      g_thread_join (workers[i].thread);
      g_assert_cmpuint (workers[i].served, ==, n_requests);
      g_main_loop_unref (workers[i].loop);
      g_main_context_unref (workers[i].context);
    }
}

/* --- a back-end dies with requests in flight; the next resubmits them --- */

typedef struct {
  guint    popped[RING_SIZE * 2];
  guint    n_popped;
  gboolean push_all;      /* the first back-end only pushes its second request */
  guint    pushed;
} Recorder;

static void
record (VhostUserVring *vring,
        gpointer        user_data)
{
  Recorder *r = user_data;
  VhostUserVringElement element;

  while (vhost_user_vring_pop (vring, &element, NULL))
    {
      g_assert_cmpuint (r->n_popped, <, G_N_ELEMENTS (r->popped));
      r->popped[r->n_popped++] = element.head;
      if (r->push_all || r->n_popped == 2)
        {
          vhost_user_vring_element_write (&element, 0, (const guint8 *) "done", 5);
          g_assert_true (vhost_user_vring_push (vring, element.head, 5, NULL));
          vhost_user_vring_call (vring, NULL);
          r->pushed++;
        }
    }
}

/* How the first back-end of test_inflight_restart stops. */
enum {
  STOP_KILLED,            /* it goes away without GET_VRING_BASE */
  STOP_RECORDED,          /* GET_VRING_BASE with GET_VRING_BASE_INFLIGHT */
  STOP_SKIP_DRAIN,        /* GET_VRING_BASE_SKIP_DRAIN */
};
#define INFLIGHT_CASE(packed, stop) GINT_TO_POINTER ((packed) | (stop) << 1)

/* The base of ring 0 from the first back-end, which holds requests it
 * will never complete: it answers without waiting for them. */
static guint
stop_recording (Fixture *f,
                int      stop)
{
  g_autoptr(GError) error = NULL;
  struct { guint32 index, num; } state = { 0, 0 };   /* the spec's vring state */
  g_autoptr(GBytes) payload = NULL;
  g_autoptr(GBytes) reply = NULL;
  guint base = 0;

  if (stop == STOP_RECORDED)
    {
      base = vhost_user_frontend_get_vring_base (f->frontend, 0, NULL, &error);
      g_assert_no_error (error);
      return base;
    }

  /* no typed call: the generic one, as a VMM would send it */
  payload = g_bytes_new (&state, sizeof state);
  reply = vhost_user_frontend_request (f->frontend, VHOST_USER_REQUEST_GET_VRING_BASE_SKIP_DRAIN, payload, NULL,
                                       NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (reply), ==, sizeof state);
  memcpy (&state, g_bytes_get_data (reply, NULL), sizeof state);
  g_assert_cmpuint (state.index, ==, 0);
  return state.num;
}

/* Split rings, or packed (@data): QEMU, which cannot ask a dead
 * back-end, resumes a split ring from the used index in guest memory,
 * and a packed one from the base of the last clean stop, here the very
 * first; the new back-end must find the right positions either way. A
 * back-end that was stopped without draining gave a base of its own. */
static void
test_inflight_restart (gconstpointer data)
{
  int stop = GPOINTER_TO_INT (data) >> 1;
  Fixture f = { .num_queues = 1, .packed = GPOINTER_TO_INT (data) & 1 };
  guint64 recording = stop == STOP_KILLED ? 0 :
                      stop == STOP_RECORDED ? VHOST_USER_PROTOCOL_FEATURE_GET_VRING_BASE_INFLIGHT :
                      VHOST_USER_PROTOCOL_FEATURE_GET_VRING_BASE_SKIP_DRAIN;
  guint stopped_base = 0;
  guint first_base = f.packed ? 0x80008000 : 0;
  Recorder first = { .push_all = FALSE }, second = { .push_all = TRUE };
  g_autoptr(GError) error = NULL;
  guint64 mmap_size = 0, mmap_offset = 0;
  guint heads[5], head, len, seen = 0;
  gboolean used[RING_SIZE] = { FALSE };
  int inflight_fd;

  f.handler = record;
  f.handler_data = &first;
  start_server (&f, "inflight1.sock");
  connect_frontend (&f, 0, VHOST_USER_PROTOCOL_FEATURE_INFLIGHT_SHMFD | recording);
  inflight_fd = vhost_user_frontend_get_inflight_fd (f.frontend, 1, RING_SIZE, &mmap_size, &mmap_offset, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (inflight_fd, >=, 0);
  /* handed back before the ring starts, as QEMU does */
  g_assert_true (vhost_user_frontend_set_inflight_fd (f.frontend, mmap_size, mmap_offset, 1, RING_SIZE, inflight_fd,
                                                      NULL, &error));
  g_assert_no_error (error);
  setup_ring (&f, 0, first_base, 0, 0, TRUE, TRUE);
  /* a split ring started on a new area leaves its pages alone (nothing
   * faulted in) until it records a request */
  if (!f.packed)
    {
      g_assert_cmpint (lseek (inflight_fd, 0, SEEK_DATA), ==, -1);
      g_assert_cmpint (errno, ==, ENXIO);
    }

  for (guint i = 0; i < 4; i++)
    heads[i] = add_request (&f, 0, i, TRUE);
  while (first.n_popped < 4)
    g_assert_true (g_main_context_iteration (NULL, TRUE));
  g_assert_true (wait_used (&f, 0, &head, &len));
  g_assert_cmpuint (head, ==, heads[1]);
  seen++;

  /* three requests are lost with the back-end, unless the next one finds
   * them in the area */
  if (stop != STOP_KILLED)
    stopped_base = stop_recording (&f, stop);
  vhost_user_frontend_close (f.frontend);
  stop_server (&f);

  f.handler_data = &second;
  start_server (&f, "inflight2.sock");
  connect_frontend (&f, 0, VHOST_USER_PROTOCOL_FEATURE_INFLIGHT_SHMFD);
  g_assert_true (vhost_user_frontend_set_inflight_fd (f.frontend, mmap_size, mmap_offset, 1, RING_SIZE, inflight_fd,
                                                      NULL, &error));
  g_assert_no_error (error);
  /* a front-end that could not ask the dead back-end resumes from what
   * it saw used (split), or from where it last stopped (packed); one that
   * could, from the base it was given, which counts all four as taken */
  if (stop == STOP_KILLED)
    setup_ring (&f, 0, f.packed ? first_base : 1, 0, 0, TRUE, TRUE);
  else
    setup_ring (&f, 0, stopped_base, 0, 0, TRUE, TRUE);
  /* (the driver may give the new request the descriptor it got back) */
  heads[4] = add_request (&f, 0, 4, TRUE);

  while (seen < 5)
    {
      g_assert_true (wait_used (&f, 0, &head, &len));
      g_assert_false (used[head]);
      used[head] = TRUE;
      seen++;
    }
  /* the lost ones first, in the order they were first popped, then the new one */
  g_assert_cmpuint (second.n_popped, ==, 4);
  g_assert_cmpuint (second.popped[0], ==, heads[0]);
  g_assert_cmpuint (second.popped[1], ==, heads[2]);
  g_assert_cmpuint (second.popped[2], ==, heads[3]);
  g_assert_cmpuint (second.popped[3], ==, heads[4]);
  for (guint i = 0; i < 5; i++)
    g_assert_cmpstr ((const char *) f.mem + BUF_OFF + i * 0x1000, ==, "done");

  close (inflight_fd);
  fixture_teardown (&f);
}

/* --- dirty-page logging --- */

typedef struct {
  gsize written;
} Writer;

static void
write_pages (VhostUserVring *vring,
             gpointer        user_data)
{
  Writer *w = user_data;
  VhostUserVringElement element;
  static guint8 data[0x3000];

  while (vhost_user_vring_pop (vring, &element, NULL))
    {
      memset (data, 0xaa, sizeof data);
      /* two pages and a bit of the three offered */
      w->written = vhost_user_vring_element_write (&element, 0, data, 0x1800);
      g_assert_true (vhost_user_vring_push (vring, element.head, w->written, NULL));
      vhost_user_vring_call (vring, NULL);
    }
}

static gboolean
page_dirty (const guint8 *log,
            guint64       gpa)
{
  guint64 page = gpa / 4096;

  return (log[page / 8] >> (page % 8)) & 1;
}

/* Split rings, or packed (@data): there the used descriptors are
 * written into the descriptor ring, and logged at its address. */
static void
test_dirty_log (gconstpointer data)
{
  Fixture f = { .num_queues = 1, .packed = GPOINTER_TO_INT (data) };
  Writer w = { 0 };
  g_autoptr(GError) error = NULL;
  gsize log_size = MEM_SIZE / 4096 / 8;
  int log_fd = test_memfd (log_size);
  guint8 *log = mmap (NULL, log_size, PROT_READ | PROT_WRITE, MAP_SHARED, log_fd, 0);
  guint64 used_gpa, desc_gpa, head, buf = 0xa0000;
  guint32 buf_len = 0x3000;
  guint used_head, len, n_dirty = 0;

  g_assert_true (log != MAP_FAILED);
  f.handler = write_pages;
  f.handler_data = &w;
  f.backend_features = VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_LOG_ALL);
  start_server (&f, "log.sock");
  connect_frontend (&f, VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_LOG_ALL),
                    VHOST_USER_PROTOCOL_FEATURE_LOG_SHMFD);
  g_assert_true (vhost_user_frontend_set_log_base (f.frontend, log_size, 0, log_fd, NULL, &error));
  g_assert_no_error (error);
  /* guest memory starts at gpa 0 in the region: the used ring's gpa is
   * its offset there */
  used_gpa = vhost_user_driver_ring_get_used_addr (f.rings[0]) - vhost_user_memory_region_get_user_addr (f.memory);
  desc_gpa = vhost_user_driver_ring_get_desc_addr (f.rings[0]) - vhost_user_memory_region_get_user_addr (f.memory);
  setup_ring (&f, 0, f.packed ? 0x80008000 : 0, 1 /* VHOST_VRING_F_LOG */, used_gpa, TRUE, TRUE);
  memset (log, 0, log_size);

  g_assert_true (vhost_user_driver_ring_add (f.rings[0], NULL, NULL, 0, &buf, &buf_len, 1, (guint *) &head, &error));
  g_assert_true (vhost_user_driver_ring_kick (f.rings[0], NULL));
  g_assert_true (wait_used (&f, 0, &used_head, &len));
  g_assert_cmpuint (len, ==, 0x1800);

  /* what the device wrote, and the used ring; not the page it did not */
  g_assert_true (page_dirty (log, buf));
  g_assert_true (page_dirty (log, buf + 0x1000));
  g_assert_false (page_dirty (log, buf + 0x2000));
  g_assert_true (page_dirty (log, f.packed ? desc_gpa : used_gpa + 4));
  for (guint64 gpa = 0; gpa < MEM_SIZE; gpa += 4096)
    n_dirty += page_dirty (log, gpa);
  g_assert_cmpuint (n_dirty, ==, 3);

  fixture_teardown (&f);
  munmap (log, log_size);
  close (log_fd);
}

/* --- in-band notifications, and polling without a kick fd --- */

static void
serve_one_by_one (VhostUserVring *vring,
                  gpointer        user_data)
{
  VhostUserVringElement element;

  while (vhost_user_vring_pop (vring, &element, NULL))
    {
      vhost_user_vring_element_write (&element, 0, (const guint8 *) "served", 7);
      g_assert_true (vhost_user_vring_push (vring, element.head, 7, NULL));
      g_assert_true (vhost_user_vring_call (vring, NULL));
    }
}

static gboolean
on_vring_call (VhostUserFrontend   *frontend,
               VhostUserInvocation *invocation,
               guint                index,
               gboolean            *called)
{
  g_assert_cmpuint (index, ==, 0);
  *called = TRUE;
  return FALSE;  /* the default acknowledges it */
}

static void
test_inband (void)
{
  Fixture f = { .num_queues = 1 };
  g_autoptr(GError) error = NULL;
  gboolean called = FALSE;
  guint head, used_head, len;

  f.handler = serve_one_by_one;
  f.backend_protocol_features = VHOST_USER_PROTOCOL_FEATURE_INBAND_NOTIFICATIONS;
  start_server (&f, "inband.sock");
  connect_frontend (&f, 0, VHOST_USER_PROTOCOL_FEATURE_BACKEND_REQ | VHOST_USER_PROTOCOL_FEATURE_INBAND_NOTIFICATIONS);
  g_assert_true (vhost_user_frontend_setup_backend_channel (f.frontend, NULL, &error));
  g_assert_no_error (error);
  g_signal_connect (f.frontend, "vring-call", G_CALLBACK (on_vring_call), &called);
  /* no call fd: the back-end calls in-band; the kick fd is never written */
  setup_ring (&f, 0, 0, 0, 0, FALSE, TRUE);

  head = add_request (&f, 0, 0, FALSE);
  g_assert_true (vhost_user_frontend_set_vring_state (f.frontend, VHOST_USER_REQUEST_VRING_KICK, 0, 0, NULL, &error));
  g_assert_no_error (error);
  iterate_until (&called);
  g_assert_true (vhost_user_driver_ring_get_used (f.rings[0], &used_head, &len));
  g_assert_cmpuint (used_head, ==, head);
  g_assert_cmpstr ((const char *) f.mem + BUF_OFF, ==, "served");

  fixture_teardown (&f);
}

static void
test_poll (void)
{
  Fixture f = { .num_queues = 1 };
  guint used_head, len;

  f.handler = serve_one_by_one;
  start_server (&f, "poll.sock");
  connect_frontend (&f, 0, 0);
  setup_ring (&f, 0, 0, 0, 0, TRUE, FALSE);

  /* never kicked: the back-end finds the requests by looking */
  for (guint i = 0; i < 3; i++)
    {
      guint head = add_request (&f, 0, i, FALSE);

      g_assert_true (wait_used (&f, 0, &used_head, &len));
      g_assert_cmpuint (used_head, ==, head);
      g_assert_cmpuint (len, ==, 7);
    }
  fixture_teardown (&f);
}

/* --- indirect tables --- */

/* A request's chain in a table of its own, split and packed: served as
 * one; a table misaligned, past the region or empty is refused. */
static void
test_indirect (gconstpointer data)
{
  Fixture f = { .num_queues = 1, .packed = GPOINTER_TO_INT (data) };
  g_autoptr(GError) error = NULL;
  guint64 out[1] = { BUF_OFF }, in[1] = { BUF_OFF + 0x1000 }, table = BUF_OFF + 0x2000;
  guint32 len[1] = { 8 };
  guint head, used_head, used_len, free_before;

  f.handler = serve_one_by_one;
  start_server (&f, "indirect.sock");
  connect_frontend (&f, VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_INDIRECT_DESC), 0);
  setup_ring (&f, 0, f.packed ? 0x80008000 : 0, 0, 0, TRUE, TRUE);

  free_before = vhost_user_driver_ring_get_free (f.rings[0]);
  g_assert_true (vhost_user_driver_ring_add_indirect (f.rings[0], table, out, len, 1, in, len, 1, &head, &error));
  g_assert_no_error (error);
  /* one ring descriptor for a chain of two */
  g_assert_cmpuint (vhost_user_driver_ring_get_free (f.rings[0]), ==, free_before - 1);
  g_assert_true (vhost_user_driver_ring_kick (f.rings[0], NULL));
  g_assert_true (wait_used (&f, 0, &used_head, &used_len));
  g_assert_cmpuint (used_head, ==, head);
  g_assert_cmpuint (used_len, ==, 7);
  /* the device wrote the writable buffer, the second in the table */
  g_assert_cmpstr ((const char *) f.mem + BUF_OFF + 0x1000, ==, "served");

  g_assert_false (vhost_user_driver_ring_add_indirect (f.rings[0], table + 8, out, len, 1, in, len, 1, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  g_assert_false (vhost_user_driver_ring_add_indirect (f.rings[0], MEM_SIZE - 16, out, len, 1, in, len, 1, NULL,
                                                       &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  g_assert_false (vhost_user_driver_ring_add_indirect (f.rings[0], table, NULL, NULL, 0, NULL, NULL, 0, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_assert_cmpuint (vhost_user_driver_ring_get_free (f.rings[0]), ==, free_before);
  fixture_teardown (&f);
}

/* --- guest memory in several regions --- */

/* Buffers by guest-physical address in two regions (the ring's, and one
 * far above it), as a VMM's memory is: served; one outside both refused. */
static void
test_two_regions (gconstpointer data)
{
  Fixture f = { .num_queues = 1, .packed = GPOINTER_TO_INT (data) };
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserMemoryRegion) high = NULL;
  const guint64 high_gpa = G_GUINT64_CONSTANT (0x100000000);
  guint64 out[1] = { BUF_OFF }, in[1] = { high_gpa + 0x3000 }, nowhere[1] = { high_gpa + MEM_SIZE - 4 };
  guint32 len[1] = { 8 };
  guint head, used_head, used_len;
  guint8 *high_mem;

  f.handler = serve_one_by_one;
  start_server (&f, "regions.sock");
  connect_frontend (&f, 0, 0);
  high = vhost_user_memory_region_new_memfd (high_gpa, MEM_SIZE, &error);
  g_assert_no_error (error);
  high_mem = vhost_user_memory_region_get_host_addr (high);
  g_assert_true (vhost_user_frontend_add_mem_region (f.frontend, high, NULL, &error));
  g_assert_no_error (error);
  vhost_user_driver_ring_add_region (f.rings[0], high);
  setup_ring (&f, 0, f.packed ? 0x80008000 : 0, 0, 0, TRUE, TRUE);

  g_assert_true (vhost_user_driver_ring_add_gpa (f.rings[0], out, len, 1, in, len, 1, &head, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_driver_ring_kick (f.rings[0], NULL));
  g_assert_true (wait_used (&f, 0, &used_head, &used_len));
  g_assert_cmpuint (used_head, ==, head);
  g_assert_cmpstr ((const char *) high_mem + 0x3000, ==, "served");

  g_assert_false (vhost_user_driver_ring_add_gpa (f.rings[0], out, len, 1, nowhere, len, 1, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  fixture_teardown (&f);
}

/* --- packets into receive buffers (vhost_user_vring_receive) --- */

#define RX_BUF   100
#define RX_HDR   12       /* a VERSION_1 virtio-net header: num_buffers at 10 */

/* A writable RX_BUF-byte buffer, the @i th posted. */
static guint
post_rx (Fixture *f,
         guint    i)
{
  g_autoptr(GError) error = NULL;
  guint64 off = BUF_OFF + (i % (2 * RING_SIZE)) * 0x1000;
  guint32 len = RX_BUF;
  guint head;

  memset (f->mem + off, 0xee, RX_BUF);
  g_assert_true (vhost_user_driver_ring_add (f->rings[0], NULL, NULL, 0, &off, &len, 1, &head, &error));
  g_assert_no_error (error);
  return head;
}

static gboolean
ring_started (VhostUserVring *vring)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * 1000;

  while (!vhost_user_vring_get_started (vring) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  return vhost_user_vring_get_started (vring);
}

/* A packet spread over as many buffers as it takes, num_buffers filled
 * in; a ring too short for it left as it was (and asked for a kick), then
 * filled once the driver posts more; one request per packet without
 * merged buffers, a packet too large for it dropped and the buffer kept.
 * Split and packed, with and without event idx. */
static void
test_receive (gconstpointer data)
{
  Fixture f = { .num_queues = 1, .packed = GPOINTER_TO_INT (data) & 1 };
  gboolean event_idx = (GPOINTER_TO_INT (data) & 2) != 0;
  VhostUserVringElement *scratch = g_new (VhostUserVringElement, 4);
  g_autoptr(GError) error = NULL;
  guint8 header[RX_HDR] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 0 }, packet[250];
  guint posted = 0, n_used, heads[3], head, len;
  VhostUserVring *vring;
  guint16 num_buffers;

  for (guint i = 0; i < sizeof packet; i++)
    packet[i] = i;
  start_server (&f, "receive.sock");
  connect_frontend (&f, event_idx ? VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_EVENT_IDX) : 0, 0);
  vhost_user_driver_ring_set_event_idx (f.rings[0], event_idx);
  setup_ring (&f, 0, f.packed ? 0x80008000 : 0, 0, 0, TRUE, TRUE);
  vring = vhost_user_backend_get_vring (f.backend, 0);
  g_assert_true (ring_started (vring));

  /* 262 bytes into three 100-byte buffers */
  for (guint i = 0; i < 3; i++)
    heads[i] = post_rx (&f, posted++);
  g_assert_true (vhost_user_vring_receive (vring, scratch, 4, header, RX_HDR, 10, packet, sizeof packet, &n_used,
                                           &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_used, ==, 3);
  for (guint i = 0; i < 3; i++)
    {
      g_assert_true (vhost_user_driver_ring_get_used (f.rings[0], &head, &len));
      g_assert_cmpuint (head, ==, heads[i]);
      g_assert_cmpuint (len, ==, i < 2 ? RX_BUF : RX_HDR + sizeof packet - 2 * RX_BUF);
    }
  g_assert_cmpmem (f.mem + BUF_OFF, 10, header, 10);
  memcpy (&num_buffers, f.mem + BUF_OFF + 10, 2);
  g_assert_cmpuint (GUINT16_FROM_LE (num_buffers), ==, 3);
  g_assert_cmpmem (f.mem + BUF_OFF + RX_HDR, RX_BUF - RX_HDR, packet, RX_BUF - RX_HDR);
  g_assert_cmpmem (f.mem + BUF_OFF + 0x1000, RX_BUF, packet + RX_BUF - RX_HDR, RX_BUF);
  g_assert_cmpmem (f.mem + BUF_OFF + 0x2000, 62, packet + 2 * RX_BUF - RX_HDR, 62);
  g_assert_cmpuint (f.mem[BUF_OFF + 0x2000 + 62], ==, 0xee);

  /* two buffers are not enough: nothing taken, nothing used */
  heads[0] = post_rx (&f, posted++);
  heads[1] = post_rx (&f, posted++);
  g_assert_false (vhost_user_vring_receive (vring, scratch, 4, header, RX_HDR, 10, packet, sizeof packet, &n_used,
                                            &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_used, ==, 0);
  g_assert_cmpuint (vhost_user_vring_get_in_flight (vring), ==, 0);
  g_assert_false (vhost_user_driver_ring_get_used (f.rings[0], &head, &len));
  /* and the driver is asked to kick when it posts the next */
  {
    const guint8 *used = (const guint8 *) (guintptr) vhost_user_driver_ring_get_used_addr (f.rings[0]);
    const guint8 *avail = (const guint8 *) (guintptr) vhost_user_driver_ring_get_avail_addr (f.rings[0]);
    guint16 flags, avail_event, avail_idx;

    if (f.packed)
      {
        memcpy (&flags, used + 2, 2);
        g_assert_cmpuint (flags, ==, 0 /* enable */);
      }
    else if (event_idx)
      {
        memcpy (&avail_event, used + 4 + 8 * RING_SIZE, 2);
        memcpy (&avail_idx, avail + 2, 2);
        g_assert_cmpuint (avail_event, ==, avail_idx);
      }
    else
      {
        memcpy (&flags, used, 2);
        g_assert_cmpuint (flags & 1 /* NO_NOTIFY */, ==, 0);
      }
  }
  /* a third is: the same two come first */
  heads[2] = post_rx (&f, posted++);
  g_assert_true (vhost_user_vring_receive (vring, scratch, 4, header, RX_HDR, 10, packet, sizeof packet, &n_used,
                                           &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_used, ==, 3);
  for (guint i = 0; i < 3; i++)
    {
      g_assert_true (vhost_user_driver_ring_get_used (f.rings[0], &head, &len));
      g_assert_cmpuint (head, ==, heads[i]);
    }

  /* more than the scratch holds can never fit: dropped, buffers kept */
  for (guint i = 0; i < 3; i++)
    heads[i] = post_rx (&f, posted++);
  g_assert_false (vhost_user_vring_receive (vring, scratch, 2, header, RX_HDR, 10, packet, sizeof packet, &n_used,
                                            &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);

  /* one request per packet: too large for one is dropped, the buffer
   * stays for the next packet, which fits */
  g_assert_false (vhost_user_vring_receive (vring, scratch, 4, header, RX_HDR, -1, packet, sizeof packet, &n_used,
                                            &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  g_assert_true (vhost_user_vring_receive (vring, scratch, 4, header, RX_HDR, -1, packet, 50, &n_used, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_used, ==, 1);
  g_assert_true (vhost_user_driver_ring_get_used (f.rings[0], &head, &len));
  g_assert_cmpuint (head, ==, heads[0]);
  g_assert_cmpuint (len, ==, RX_HDR + 50);

  /* unpop is for the newest requests, with no push since */
  {
    guint n_popped;

    g_assert_true (vhost_user_vring_pop_batch (vring, scratch, 4, &n_popped, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (n_popped, ==, 2);
    g_assert_false (vhost_user_vring_unpop (vring, scratch[0].head, &error));
    g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION);
    g_clear_error (&error);
    g_assert_true (vhost_user_vring_unpop (vring, scratch[1].head, &error));
    g_assert_no_error (error);
    g_assert_true (vhost_user_vring_push (vring, scratch[0].head, 0, &error));
    g_assert_no_error (error);
    g_assert_true (vhost_user_vring_pop (vring, &scratch[1], &error));
    g_assert_cmpuint (scratch[1].head, ==, heads[2]);
    g_assert_true (vhost_user_vring_push (vring, scratch[1].head, 0, &error));
    g_assert_false (vhost_user_vring_unpop (vring, scratch[1].head, &error));
    g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION);
    g_clear_error (&error);
  }
  g_assert_cmpuint (vhost_user_vring_get_in_flight (vring), ==, 0);

  g_free (scratch);
  fixture_teardown (&f);
}

/* --- busy-polling --- */

/* Whether the back-end asks the driver not to kick: the used ring's
 * NO_NOTIFY, or the packed device area's DISABLE. */
static gboolean
kicks_suppressed (Fixture *f)
{
  guint16 flags;

  if (f->packed)
    {
      /* the device area: off_wrap, then flags (1: disable) */
      memcpy (&flags, (const guint8 *) (guintptr) vhost_user_driver_ring_get_used_addr (f->rings[0]) + 2,
              sizeof flags);
      return flags == 1;
    }
  memcpy (&flags, (const guint8 *) (guintptr) vhost_user_driver_ring_get_used_addr (f->rings[0]), sizeof flags);
  return (flags & 1) != 0;
}

static gboolean
kicks_wanted (gpointer data)
{
  return !kicks_suppressed (data);
}

/* After a kick the ring busy-polls: requests made available without a
 * kick are served, and the driver is asked not to kick; once nothing
 * came for the window, the ring asks for kicks again and sleeps: a
 * request not kicked waits, a kick serves it. */
static void
test_busy_poll (gconstpointer data)
{
  Fixture f = { .num_queues = 1, .packed = GPOINTER_TO_INT (data) };
  VhostUserVring *vring;
  guint used_head, len, head;
  gint64 deadline;

  f.handler = serve_one_by_one;
  start_server (&f, "busy-poll.sock");
  connect_frontend (&f, 0, 0);
  vring = vhost_user_backend_get_vring (f.backend, 0);
  vhost_user_vring_set_poll_window (vring, 200 * 1000);
  g_assert_cmpuint (vhost_user_vring_get_poll_window (vring), ==, 200 * 1000);
  /* (a packed ring starts with both wrap counters set) */
  setup_ring (&f, 0, f.packed ? 0x80008000 : 0, 0, 0, TRUE, TRUE);

  head = add_request (&f, 0, 0, TRUE);
  g_assert_true (wait_used (&f, 0, &used_head, &len));
  g_assert_cmpuint (used_head, ==, head);
  for (guint i = 1; i < 8; i++)
    {
      /* every dispatch of the poll finds the next one: no window ends */
      head = add_request (&f, 0, i, FALSE);
      g_assert_true (wait_used (&f, 0, &used_head, &len));
      g_assert_cmpuint (used_head, ==, head);
      g_assert_true (kicks_suppressed (&f));
    }

  /* nothing for the window: kicks are wanted again */
  deadline = g_get_monotonic_time () + WAIT_MS * 1000;
  while (!kicks_wanted (&f) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_true (kicks_wanted (&f));

  /* and the ring sleeps: a request not kicked waits for its kick */
  head = add_request (&f, 0, 8, FALSE);
  deadline = g_get_monotonic_time () + 100 * 1000;
  while (g_get_monotonic_time () < deadline)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
  g_assert_false (vhost_user_driver_ring_get_used (f.rings[0], &used_head, &len));
  g_assert_true (vhost_user_driver_ring_kick (f.rings[0], NULL));
  g_assert_true (wait_used (&f, 0, &used_head, &len));
  g_assert_cmpuint (used_head, ==, head);
  fixture_teardown (&f);
}

/* A running ring given its kick fd again while it busy-polls (from a
 * review): the poll ends there, and the driver, told not to kick while
 * it ran, must be asked to again, or the next request waits for ever. */
static void
test_busy_poll_kick_replaced (gconstpointer data)
{
  Fixture f = { .num_queues = 1, .packed = GPOINTER_TO_INT (data) };
  g_autoptr(GError) error = NULL;
  guint used_head, len, head;

  f.handler = serve_one_by_one;
  start_server (&f, "busy-poll-kick.sock");
  connect_frontend (&f, 0, 0);
  vhost_user_vring_set_poll_window (vhost_user_backend_get_vring (f.backend, 0), 200 * 1000);
  setup_ring (&f, 0, f.packed ? 0x80008000 : 0, 0, 0, TRUE, TRUE);

  add_request (&f, 0, 0, TRUE);
  g_assert_true (wait_used (&f, 0, &used_head, &len));
  add_request (&f, 0, 1, FALSE);
  g_assert_true (wait_used (&f, 0, &used_head, &len));
  g_assert_true (kicks_suppressed (&f));

  g_assert_true (vhost_user_frontend_set_vring_fd (f.frontend, VHOST_USER_REQUEST_SET_VRING_KICK, 0,
                                                   vhost_user_driver_ring_get_kick_fd (f.rings[0]), NULL, &error));
  g_assert_no_error (error);

  /* a driver that kicks only when asked */
  head = add_request (&f, 0, 2, FALSE);
  g_assert_true (vhost_user_driver_ring_kick (f.rings[0], NULL));
  g_assert_true (wait_used (&f, 0, &used_head, &len));
  g_assert_cmpuint (used_head, ==, head);
  fixture_teardown (&f);
}

/* The window adapts (QEMU's way): it starts at the one set; a kick
 * long after polling ran out drops it to 0, as that polling caught
 * nothing; kicks that polling the set window would have caught grow it
 * again, doubling from 4 us. */
static void
test_busy_poll_adaptive (void)
{
  const guint max = 400 * 1000;
  Fixture f = { .num_queues = 1 };
  VhostUserVring *vring;
  guint used_head, len;
  gint64 deadline;

  f.handler = serve_one_by_one;
  start_server (&f, "busy-poll-adaptive.sock");
  connect_frontend (&f, 0, 0);
  vring = vhost_user_backend_get_vring (f.backend, 0);
  vhost_user_vring_set_poll_window (vring, max);
  g_assert_cmpuint (vhost_user_vring_get_current_poll_window (vring), ==, max);
  setup_ring (&f, 0, 0, 0, 0, TRUE, TRUE);

  add_request (&f, 0, 0, TRUE);
  g_assert_true (wait_used (&f, 0, &used_head, &len));
  g_assert_cmpuint (vhost_user_vring_get_current_poll_window (vring), ==, max);

  /* polling runs out, and the next kick comes a window later still */
  deadline = g_get_monotonic_time () + 3 * max;
  while (g_get_monotonic_time () < deadline)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
  g_assert_true (kicks_wanted (&f));
  add_request (&f, 0, 1, TRUE);
  g_assert_true (wait_used (&f, 0, &used_head, &len));
  g_assert_cmpuint (vhost_user_vring_get_current_poll_window (vring), ==, 0);
  g_assert_true (kicks_wanted (&f));

  /* kicks close together: each would have been caught, the window grows */
  for (guint i = 0, expect = 4; i < 4; i++, expect *= 2)
    {
      add_request (&f, 0, 2 + i, TRUE);
      g_assert_true (wait_used (&f, 0, &used_head, &len));
      g_assert_cmpuint (vhost_user_vring_get_current_poll_window (vring), ==, expect);
      /* a window of microseconds runs out at the poll's first look (a
       * kick before that finds it polling: no news of the window) */
      for (guint j = 0; j < 10; j++)
        {
          g_usleep (1000);
          g_main_context_iteration (NULL, FALSE);
        }
      g_assert_true (kicks_wanted (&f));
    }

  /* set again, it starts again from the top */
  vhost_user_vring_set_poll_window (vring, max / 2);
  g_assert_cmpuint (vhost_user_vring_get_current_poll_window (vring), ==, max / 2);
  fixture_teardown (&f);
}

/* A ring that busy-polls in the back-end's context leaves the context's
 * other sources their turn (from a review): the in-band call of a
 * completion (an idle) is sent while the poll goes on, not when its
 * window ends, here long after the test would have given up. */
static void
test_busy_poll_inband (void)
{
  Fixture f = { .num_queues = 1 };
  g_autoptr(GError) error = NULL;
  gboolean called = FALSE;

  f.handler = serve_one_by_one;
  f.backend_protocol_features = VHOST_USER_PROTOCOL_FEATURE_INBAND_NOTIFICATIONS;
  start_server (&f, "inband-poll.sock");
  connect_frontend (&f, 0, VHOST_USER_PROTOCOL_FEATURE_BACKEND_REQ | VHOST_USER_PROTOCOL_FEATURE_INBAND_NOTIFICATIONS);
  g_assert_true (vhost_user_frontend_setup_backend_channel (f.frontend, NULL, &error));
  g_assert_no_error (error);
  g_signal_connect (f.frontend, "vring-call", G_CALLBACK (on_vring_call), &called);
  vhost_user_vring_set_poll_window (vhost_user_backend_get_vring (f.backend, 0), 10 * WAIT_MS * 1000);
  setup_ring (&f, 0, 0, 0, 0, FALSE, TRUE);

  add_request (&f, 0, 0, TRUE);
  iterate_until (&called);
  fixture_teardown (&f);
}

/* In-band calls of a ring polled without a kick fd: three completions in
 * one go are one BACKEND_VRING_CALL, as an eventfd adds them up, not
 * three queued messages (a fuzzer's ring that polled and called faster
 * than the front-end answered had thousands waiting). */
static gboolean
count_vring_calls (VhostUserFrontend   *frontend,
                   VhostUserInvocation *invocation,
                   guint                index,
                   guint               *calls)
{
  (*calls)++;
  return FALSE;  /* the default acknowledges it */
}

static void
test_inband_polled_merged (void)
{
  Fixture f = { .num_queues = 1 };
  g_autoptr(GError) error = NULL;
  guint calls = 0, used = 0, used_head, len;

  f.handler = serve_one_by_one;
  f.backend_protocol_features = VHOST_USER_PROTOCOL_FEATURE_INBAND_NOTIFICATIONS;
  start_server (&f, "inband-polled.sock");
  connect_frontend (&f, 0, VHOST_USER_PROTOCOL_FEATURE_BACKEND_REQ | VHOST_USER_PROTOCOL_FEATURE_INBAND_NOTIFICATIONS);
  g_assert_true (vhost_user_frontend_setup_backend_channel (f.frontend, NULL, &error));
  g_assert_no_error (error);
  g_signal_connect (f.frontend, "vring-call", G_CALLBACK (count_vring_calls), &calls);
  /* neither fd: polled, and called in band */
  setup_ring (&f, 0, 0, 0, 0, FALSE, FALSE);

  for (guint i = 0; i < 3; i++)
    add_request (&f, 0, i, FALSE);
  g_assert_true (test_iterate_until (NULL, (gboolean *) &calls, WAIT_MS));
  while (vhost_user_driver_ring_get_used (f.rings[0], &used_head, &len))
    used++;
  g_assert_cmpuint (used, ==, 3);
  /* a request in flight would show up here: there is none */
  for (guint i = 0; i < 100; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (calls, ==, 1);

  fixture_teardown (&f);
}

/* --- memory a device still uses --- */

/* The front-end takes the memory away while the device holds a request
 * (a front-end should not; a session that ends does it too): the device
 * can still finish writing the request's buffers, the ring keeps the old
 * mapping until the request comes back. */
static void
test_memory_outlives_requests (void)
{
  Fixture f = { .num_queues = 1 };
  Holder h = { 0 };
  g_autoptr(GError) error = NULL;
  VhostUserMemoryTable *table;

  f.handler = hold_one;
  f.handler_data = &h;
  start_server (&f, "memory.sock");
  connect_frontend (&f, 0, 0);
  setup_ring (&f, 0, 0, 0, 0, TRUE, TRUE);
  add_request (&f, 0, 0, TRUE);
  iterate_until (&h.held);

  g_assert_true (vhost_user_frontend_rem_mem_region (f.frontend, f.memory, NULL, &error));
  g_assert_no_error (error);
  table = vhost_user_backend_get_memory_table (f.backend);
  g_assert_cmpuint (vhost_user_memory_table_get_n_regions (table), ==, 0);

  /* still mapped here (a write to an unmapped page would kill the test) */
  g_assert_cmpuint (vhost_user_vring_element_write (&h.element, 0, (const guint8 *) "late", 5), ==, 5);
  g_assert_cmpstr ((const char *) f.mem + BUF_OFF, ==, "late");
  /* the ring is no longer in guest memory: refused, and the mapping goes */
  g_assert_false (vhost_user_vring_push (h.vring, h.element.head, 5, &error));
  g_assert_nonnull (error);

  fixture_teardown (&f);
}

/* Each memory change while the device holds a request leaves the ring a
 * table to keep (the request may point into it) until the request is
 * done: a front-end that keeps changing it while a ring is busy is
 * refused after 64, not given memory without end. */
static void
test_memory_changes_bounded (void)
{
  Fixture f = { .num_queues = 1 };
  Holder h = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserMemoryRegion) extra = NULL;
  guint changes = 0;

  f.handler = hold_one;
  f.handler_data = &h;
  start_server (&f, "changes.sock");
  connect_frontend (&f, 0, 0);
  setup_ring (&f, 0, 0, 0, 0, TRUE, TRUE);
  add_request (&f, 0, 0, TRUE);
  iterate_until (&h.held);
  extra = vhost_user_memory_region_new_memfd (G_GUINT64_CONSTANT (0x100000000), 0x1000, &error);
  g_assert_no_error (error);

  while ((changes % 2 == 0 ? vhost_user_frontend_add_mem_region : vhost_user_frontend_rem_mem_region) (
           f.frontend, extra, NULL, &error))
    {
      changes++;
      g_assert_cmpuint (changes, <=, 64);
    }
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL);
  g_clear_error (&error);
  g_assert_cmpuint (changes, ==, 64);

  /* the request done, the kept tables go: the memory may change again */
  g_assert_true (vhost_user_vring_push (h.vring, h.element.head, 0, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_frontend_add_mem_region (f.frontend, extra, NULL, &error));
  g_assert_no_error (error);

  fixture_teardown (&f);
}

/* --- a driver that breaks its ring --- */

static void
test_broken_ring (void)
{
  Fixture f = { .num_queues = 1 };
  g_autoptr(GError) error = NULL;
  int err = test_eventfd ();
  guint8 *avail;
  guint16 idx = 1, bad_head = RING_SIZE + 3;
  guint64 status, count = 0;
  gint64 deadline;

  f.handler = serve_one_by_one;
  start_server (&f, "broken.sock");
  connect_frontend (&f, 0, VHOST_USER_PROTOCOL_FEATURE_STATUS);
  g_assert_true (vhost_user_frontend_set_u64 (f.frontend, VHOST_USER_REQUEST_SET_STATUS, 0x0f /* DRIVER_OK and before */,
                                              NULL, &error));
  setup_ring (&f, 0, 0, 0, 0, TRUE, TRUE);
  g_assert_true (vhost_user_frontend_set_vring_fd (f.frontend, VHOST_USER_REQUEST_SET_VRING_ERR, 0, err, NULL, &error));
  g_assert_no_error (error);

  /* a head past the ring's end, made available behind the driver ring's back */
  avail = f.mem + (vhost_user_driver_ring_get_avail_addr (f.rings[0]) - vhost_user_memory_region_get_user_addr (f.memory));
  memcpy (avail + 4, &bad_head, 2);
  memcpy (avail + 2, &idx, 2);
  g_assert_true (vhost_user_driver_ring_kick (f.rings[0], NULL));

  /* the front-end hears of it on the error eventfd, and in the status */
  deadline = g_get_monotonic_time () + WAIT_MS * 1000;
  while (read (err, &count, sizeof count) != sizeof count && g_get_monotonic_time () < deadline)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (500);
    }
  g_assert_cmpuint (count, ==, 1);
  for (guint i = 0; i < 10; i++)
    g_main_context_iteration (NULL, FALSE);
  status = vhost_user_frontend_get_u64 (f.frontend, VHOST_USER_REQUEST_GET_STATUS, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmphex (status, ==, 0x0f | 0x40 /* DEVICE_NEEDS_RESET */);

  fixture_teardown (&f);
  close (err);
}

typedef struct {
  gboolean heard;
  guint    count;
  guint    index;
} ErrHeard;

static gboolean
record_vring_err (VhostUserFrontend   *frontend,
                  VhostUserInvocation *invocation,
                  guint                index,
                  gpointer             user_data)
{
  ErrHeard *seen = user_data;

  seen->heard = TRUE;
  seen->count++;
  seen->index = index;
  return FALSE;   /* the default acknowledges */
}

/* The same, without an error eventfd: the back-end says it in band
 * (BACKEND_VRING_ERR), by itself, once. */
static void
test_broken_ring_inband (void)
{
  Fixture f = { .num_queues = 1 };
  g_autoptr(GError) error = NULL;
  guint8 *avail;
  guint16 idx = 1, bad_head = RING_SIZE + 3;
  ErrHeard seen = { FALSE, 0, G_MAXUINT };

  f.handler = serve_one_by_one;
  f.backend_protocol_features = VHOST_USER_PROTOCOL_FEATURE_INBAND_NOTIFICATIONS;
  start_server (&f, "broken-inband.sock");
  connect_frontend (&f, 0, VHOST_USER_PROTOCOL_FEATURE_BACKEND_REQ | VHOST_USER_PROTOCOL_FEATURE_INBAND_NOTIFICATIONS);
  g_assert_true (vhost_user_frontend_setup_backend_channel (f.frontend, NULL, &error));
  g_assert_no_error (error);
  g_signal_connect (f.frontend, "vring-err", G_CALLBACK (record_vring_err), &seen);
  setup_ring (&f, 0, 0, 0, 0, TRUE, TRUE);
  g_assert_cmpint (vhost_user_vring_get_err_fd (vhost_user_backend_get_vring (f.backend, 0)), ==, -1);

  avail = f.mem + (vhost_user_driver_ring_get_avail_addr (f.rings[0]) - vhost_user_memory_region_get_user_addr (f.memory));
  memcpy (avail + 4, &bad_head, 2);
  memcpy (avail + 2, &idx, 2);
  g_assert_true (vhost_user_driver_ring_kick (f.rings[0], NULL));

  g_assert_true (test_iterate_until (NULL, &seen.heard, WAIT_MS));
  g_assert_cmpuint (seen.count, ==, 1);
  g_assert_cmpuint (seen.index, ==, 0);

  /* broken once: another kick says nothing more */
  seen.heard = FALSE;
  g_assert_true (vhost_user_driver_ring_kick (f.rings[0], NULL));
  g_assert_false (test_iterate_until (NULL, &seen.heard, 200));
  g_assert_cmpuint (seen.count, ==, 1);

  fixture_teardown (&f);
}

/* A device that never completes a request: GET_VRING_BASE answers once
 * the back-end's drain-timeout passes, with a warning, and the request
 * counts as taken (as with GET_VRING_BASE_SKIP_DRAIN): its late push is
 * dropped, and the ring is not left waiting forever. The front-end hears
 * of it on the ring's error eventfd, or without one in band
 * (BACKEND_VRING_ERR) where that was negotiated. */
static void
test_drain_timeout (gconstpointer data)
{
  gboolean inband = GPOINTER_TO_INT (data);
  Fixture f = { .num_queues = 1 };
  Holder h = { 0 };
  g_autoptr(GError) error = NULL;
  guint base, timeout = 0;
  gint64 start;
  guint64 errors = 0;
  int err = -1;
  ErrHeard seen = { FALSE, 0, G_MAXUINT };

  f.handler = hold_one;
  f.handler_data = &h;
  if (inband)
    f.backend_protocol_features = VHOST_USER_PROTOCOL_FEATURE_INBAND_NOTIFICATIONS;
  start_server (&f, "drain-timeout.sock");
  if (inband)
    {
      connect_frontend (&f, 0, VHOST_USER_PROTOCOL_FEATURE_BACKEND_REQ |
                                   VHOST_USER_PROTOCOL_FEATURE_INBAND_NOTIFICATIONS);
      g_assert_true (vhost_user_frontend_setup_backend_channel (f.frontend, NULL, &error));
      g_assert_no_error (error);
      g_signal_connect (f.frontend, "vring-err", G_CALLBACK (record_vring_err), &seen);
    }
  else
    connect_frontend (&f, 0, 0);
  setup_ring (&f, 0, 0, 0, 0, TRUE, TRUE);
  if (!inband)
    {
      err = test_eventfd ();
      g_assert_true (vhost_user_frontend_set_vring_fd (f.frontend, VHOST_USER_REQUEST_SET_VRING_ERR, 0, err, NULL,
                                                       &error));
      g_assert_no_error (error);
    }
  g_object_get (f.backend, "drain-timeout", &timeout, NULL);
  g_assert_cmpuint (timeout, ==, 30000);
  g_object_set (f.backend, "drain-timeout", 200, NULL);
  add_request (&f, 0, 0, TRUE);
  iterate_until (&h.held);

  g_test_expect_message ("VhostUser", G_LOG_LEVEL_WARNING, "*Queue 0*1 request*200 ms*");
  start = g_get_monotonic_time ();
  base = vhost_user_frontend_get_vring_base (f.frontend, 0, NULL, &error);
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 190 * 1000);
  g_assert_false (h.pushed);
  g_assert_cmpuint (base, ==, 1);
  g_assert_false (vhost_user_vring_get_started (h.vring));
  g_assert_cmpuint (vhost_user_vring_get_in_flight (h.vring), ==, 0);
  if (inband)
    {
      g_assert_true (test_iterate_until (NULL, &seen.heard, WAIT_MS));
      g_assert_cmpuint (seen.count, ==, 1);
      g_assert_cmpuint (seen.index, ==, 0);
    }
  else
    {
      g_assert_cmpint (read (err, &errors, sizeof errors), ==, sizeof errors);
      g_assert_cmpuint (errors, ==, 1);
      close (err);
    }

  /* the device finishes at last: dropped quietly, the ring untouched */
  g_assert_true (vhost_user_vring_push (h.vring, h.element.head, 0, &error));
  g_assert_no_error (error);
  g_assert_false (vhost_user_driver_ring_get_used (f.rings[0], &base, &timeout));
  fixture_teardown (&f);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/dataplane/drain", test_drain);
  g_test_add_func ("/dataplane/drain-broken", test_drain_broken);
  g_test_add_func ("/dataplane/resize-running", test_resize_running);
  g_test_add_data_func ("/dataplane/drain-timeout", GINT_TO_POINTER (FALSE), test_drain_timeout);
  g_test_add_data_func ("/dataplane/drain-timeout/inband", GINT_TO_POINTER (TRUE), test_drain_timeout);
  g_test_add_data_func ("/dataplane/threads", GUINT_TO_POINTER (0), test_threads);
  g_test_add_data_func ("/dataplane/threads/busy-poll", GUINT_TO_POINTER (100), test_threads);
  g_test_add_data_func ("/dataplane/inflight-restart", INFLIGHT_CASE (FALSE, STOP_KILLED), test_inflight_restart);
  g_test_add_data_func ("/dataplane/inflight-restart-packed", INFLIGHT_CASE (TRUE, STOP_KILLED),
                        test_inflight_restart);
  g_test_add_data_func ("/dataplane/inflight-recorded", INFLIGHT_CASE (FALSE, STOP_RECORDED),
                        test_inflight_restart);
  g_test_add_data_func ("/dataplane/inflight-recorded-packed", INFLIGHT_CASE (TRUE, STOP_RECORDED),
                        test_inflight_restart);
  g_test_add_data_func ("/dataplane/inflight-skip-drain", INFLIGHT_CASE (FALSE, STOP_SKIP_DRAIN),
                        test_inflight_restart);
  g_test_add_data_func ("/dataplane/inflight-skip-drain-packed", INFLIGHT_CASE (TRUE, STOP_SKIP_DRAIN),
                        test_inflight_restart);
  g_test_add_data_func ("/dataplane/dirty-log", GINT_TO_POINTER (FALSE), test_dirty_log);
  g_test_add_data_func ("/dataplane/dirty-log-packed", GINT_TO_POINTER (TRUE), test_dirty_log);
  g_test_add_func ("/dataplane/inband", test_inband);
  g_test_add_func ("/dataplane/poll", test_poll);
  g_test_add_data_func ("/dataplane/two-regions/split", GINT_TO_POINTER (FALSE), test_two_regions);
  g_test_add_data_func ("/dataplane/two-regions/packed", GINT_TO_POINTER (TRUE), test_two_regions);
  g_test_add_data_func ("/dataplane/indirect/split", GINT_TO_POINTER (FALSE), test_indirect);
  g_test_add_data_func ("/dataplane/indirect/packed", GINT_TO_POINTER (TRUE), test_indirect);
  g_test_add_data_func ("/dataplane/busy-poll/split", GINT_TO_POINTER (FALSE), test_busy_poll);
  g_test_add_data_func ("/dataplane/busy-poll/packed", GINT_TO_POINTER (TRUE), test_busy_poll);
  g_test_add_data_func ("/dataplane/busy-poll/kick-replaced/split", GINT_TO_POINTER (FALSE),
                        test_busy_poll_kick_replaced);
  g_test_add_data_func ("/dataplane/busy-poll/kick-replaced/packed", GINT_TO_POINTER (TRUE),
                        test_busy_poll_kick_replaced);
  g_test_add_func ("/dataplane/busy-poll/inband", test_busy_poll_inband);
  g_test_add_func ("/dataplane/busy-poll/adaptive", test_busy_poll_adaptive);
  g_test_add_func ("/dataplane/inband/polled-merged", test_inband_polled_merged);
  g_test_add_func ("/dataplane/broken-ring", test_broken_ring);
  g_test_add_data_func ("/dataplane/receive/split", GINT_TO_POINTER (0), test_receive);
  g_test_add_data_func ("/dataplane/receive/packed", GINT_TO_POINTER (1), test_receive);
  g_test_add_data_func ("/dataplane/receive/split-event-idx", GINT_TO_POINTER (2), test_receive);
  g_test_add_data_func ("/dataplane/receive/packed-event-idx", GINT_TO_POINTER (3), test_receive);
  g_test_add_func ("/dataplane/broken-ring-inband", test_broken_ring_inband);
  g_test_add_func ("/dataplane/memory-outlives-requests", test_memory_outlives_requests);
  g_test_add_func ("/dataplane/memory-changes-bounded", test_memory_changes_bounded);

  return g_test_run ();
}
