/* vhost-user-server.c: a listening socket with one back-end per front-end
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "vhost-user-error.h"
#include "vhost-user-lock-private.h"
#include "vhost-user-server.h"
#include "vhost-user-server-private.h"
#include "vhost-user-socket-private.h"
#include "vhost-user-notify-private.h"

/**
 * VhostUserServer:
 *
 * Listens on a UNIX socket path and serves every front-end that connects
 * (QEMU's default `-chardev socket,path=…`) with a new back-end of the
 * type it was given, so that a subclass of [class@VhostUser.Backend]
 * works as well as the base class.
 *
 * Without threads, every back-end lives in the server's main context. In
 * threaded mode each connection gets a worker thread running a new
 * `GMainContext`, pushed as that thread's default;
 * [signal@VhostUser.Server::backend-added] is emitted in the worker, so
 * handlers are connected where they will run. The thread ends when its
 * connection closes. [property@VhostUser.Server:max-threads] throttles:
 * while that many connections are served, no more are accepted.
 *
 * Bindings: PyGObject takes the GIL around every handler, so Python
 * handlers work in worker threads (one runs at a time). GJS runs
 * JavaScript only in its main thread, so a threaded server refuses to
 * listen in a GJS program; there, use an unthreaded server (every
 * back-end in the main loop), and keep long work off the loop with
 * asynchronous calls and deferred invocations
 * ([class@VhostUser.Invocation]).
 *
 * When the process runs out of fds (`EMFILE`, `ENFILE`) the server
 * pauses accepting, 100 ms at first and up to 1 s while it lasts, with one
 * warning, rather than spin on a listener that stays readable; the
 * front-ends waiting in the backlog are served once fds are free.
 *
 * A front-end that comes back after a disconnect is simply accepted
 * again. [method@VhostUser.Server.stop] closes the listener and every
 * connection, and joins the threads. A worker thread holds a reference
 * on the server, so the server outlives its last outside reference
 * until its connections end; disposing it never runs a main context.
 *
 * Since: 1.0
 */

/* Shared by the server's list and the thread (which hands its reference
 * to the idle that reports its end), so neither has to outlive the other. */
typedef struct {
  gint              ref_count;
  VhostUserServer  *server;
  int               fd;        /* accepted, until the worker's back-end takes it */
  GThread          *thread;
  GMainContext     *own_context; /* made by the acceptor, until the thread takes it */
  GMainContext     *context;   /* set by the worker, under the server's lock */
  GMainLoop        *loop;
} Worker;

struct _VhostUserServer
{
  GObject          parent_instance;

  GType            backend_type;
  gboolean         threaded;
  int              max_threads;
  GMainContext    *context;

  GSocket         *listener;
  char            *path;
  GSource         *accept_source;
  GSource         *backoff_source;  /* out of fds: accepting resumes when it fires */
  guint            backoff_ms;      /* the current pause, 0 when accept() works */
  gboolean         stopping;

  /* who may connect */
  guint            socket_mode;
  gint64           socket_group;    /* -1: the creator's */
  GVariant        *allowed_uids;    /* "au", or NULL: any */
  GVariant        *allowed_gids;

  GMutex           lock;
  GPtrArray       *workers;     /* threaded: Worker *, under lock */
  GPtrArray       *backends;    /* unthreaded: VhostUserBackend * */
  guint            n_connections;
};

enum {
  PROP_0,
  PROP_BACKEND_TYPE,
  PROP_THREADED,
  PROP_MAX_THREADS,
  PROP_MAIN_CONTEXT,
  PROP_PATH,
  PROP_SOCKET_MODE,
  PROP_SOCKET_GROUP,
  PROP_ALLOWED_UIDS,
  PROP_ALLOWED_GIDS,
  N_PROPS
};

enum {
  SIGNAL_BACKEND_ADDED,
  SIGNAL_BACKEND_REMOVED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (VhostUserServer, vhost_user_server, G_TYPE_OBJECT)

static void start_accepting (VhostUserServer *self);

static gboolean
at_thread_limit (VhostUserServer *self)
{
  gboolean full;

  vhost_user_mutex_lock (&self->lock);
  full = self->threaded && self->max_threads > 0 && self->n_connections >= (guint) self->max_threads;
  vhost_user_mutex_unlock (&self->lock);
  return full;
}

static void
stop_accepting (VhostUserServer *self)
{
  if (self->accept_source != NULL)
    {
      g_source_destroy (self->accept_source);
      g_clear_pointer (&self->accept_source, g_source_unref);
    }
  if (self->backoff_source != NULL)
    {
      g_source_destroy (self->backoff_source);
      g_clear_pointer (&self->backoff_source, g_source_unref);
    }
}

/* Whether accepting may start again: listening, not stopping, not at the
 * thread limit, not pausing for fds. */
static gboolean
may_accept (VhostUserServer *self)
{
  return self->listener != NULL && self->accept_source == NULL && self->backoff_source == NULL &&
         !self->stopping && !at_thread_limit (self);
}

/* --- unthreaded: back-ends in the server's context --- */

/* (after the back-end's "disconnected" has been emitted) */
static void
backend_disconnected (VhostUserBackend *backend,
                      gpointer          user_data)
{
  VhostUserServer *self = user_data;

  g_signal_emit (self, signals[SIGNAL_BACKEND_REMOVED], 0, backend);
  vhost_user_mutex_lock (&self->lock);
  self->n_connections--;
  vhost_user_mutex_unlock (&self->lock);
  g_ptr_array_remove_fast (self->backends, backend);
}

static void
serve_here (VhostUserServer *self,
            int              fd)
{
  g_autoptr(VhostUserBackend) backend = NULL;
  g_autoptr(GError) error = NULL;
  gboolean stopping;

  backend = g_object_new (self->backend_type, "main-context", self->context, NULL);
  g_signal_emit (self, signals[SIGNAL_BACKEND_ADDED], 0, backend);
  /* the handler may have turned the front-end away, or stopped us */
  vhost_user_mutex_lock (&self->lock);
  stopping = self->stopping;
  vhost_user_mutex_unlock (&self->lock);
  if (vhost_user_backend_take_refusal (backend) || stopping)
    {
      close (fd);
      g_signal_emit (self, signals[SIGNAL_BACKEND_REMOVED], 0, backend);
      return;
    }
  if (!vhost_user_backend_take_fd (backend, fd, &error))
    {
      g_debug ("Could not serve a front-end: %s", error->message);
      g_signal_emit (self, signals[SIGNAL_BACKEND_REMOVED], 0, backend);
      return;
    }
  vhost_user_mutex_lock (&self->lock);
  self->n_connections++;
  vhost_user_mutex_unlock (&self->lock);
  vhost_user_backend_set_closed_func (backend, backend_disconnected, self);
  g_ptr_array_add (self->backends, g_steal_pointer (&backend));
}

/* --- threaded: a worker per connection --- */

static void
worker_unref (Worker *worker)
{
  if (!g_atomic_int_dec_and_test (&worker->ref_count))
    return;
  if (worker->fd >= 0)
    g_close (worker->fd, NULL);
  g_clear_pointer (&worker->own_context, g_main_context_unref);
  g_clear_object (&worker->server);
  g_free (worker);
}

static void
worker_backend_disconnected (VhostUserBackend *backend,
                             gpointer          user_data)
{
  g_main_loop_quit (user_data);
}

/* Back in the server's context: the worker's thread has ended or is
 * about to; join it and accept again if we were full. The source holds
 * the thread's reference on the worker, dropped by its destroy notify. */
static gboolean
worker_finished (gpointer data)
{
  Worker *worker = data;
  VhostUserServer *self = worker->server;

  vhost_user_mutex_lock (&self->lock);
  /* stop() took the worker out of the list and joins it itself */
  if (g_ptr_array_remove_fast (self->workers, worker))
    {
      vhost_user_mutex_unlock (&self->lock);
      g_thread_join (g_steal_pointer (&worker->thread));
      if (may_accept (self))
        start_accepting (self);
      return G_SOURCE_REMOVE;
    }
  vhost_user_mutex_unlock (&self->lock);
  return G_SOURCE_REMOVE;
}

static gboolean
quit_worker_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static gpointer
worker_run (gpointer data)
{
  Worker *worker = data;
  VhostUserServer *self = worker->server;
  GMainContext *context = g_steal_pointer (&worker->own_context);
  GMainLoop *loop = g_main_loop_new (context, FALSE);
  VhostUserBackend *backend;
  gboolean run;

  g_main_context_push_thread_default (context);

  backend = g_object_new (self->backend_type, "main-context", context, NULL);
  g_signal_emit (self, signals[SIGNAL_BACKEND_ADDED], 0, backend);
  vhost_user_backend_set_closed_func (backend, worker_backend_disconnected, loop);

  vhost_user_mutex_lock (&self->lock);
  worker->context = context;
  worker->loop = loop;
  run = !self->stopping;
  vhost_user_mutex_unlock (&self->lock);
  /* the handler may have turned the front-end away: it hears so now */
  if (vhost_user_backend_take_refusal (backend))
    run = FALSE;
  if (!run && worker->fd >= 0)
    g_close (g_steal_fd (&worker->fd), NULL);

  if (run && vhost_user_backend_take_fd (backend, g_steal_fd (&worker->fd), NULL))
    g_main_loop_run (loop);

  vhost_user_backend_set_closed_func (backend, NULL, NULL);
  vhost_user_backend_close (backend);
  g_signal_emit (self, signals[SIGNAL_BACKEND_REMOVED], 0, backend);
  g_object_unref (backend);

  vhost_user_mutex_lock (&self->lock);
  worker->context = NULL;
  worker->loop = NULL;
  self->n_connections--;
  vhost_user_mutex_unlock (&self->lock);

  /* drain what the back-end left behind (idle completions) */
  while (g_main_context_iteration (context, FALSE))
    ;
  g_main_context_pop_thread_default (context);
  g_main_loop_unref (loop);
  g_main_context_unref (context);

  /* never run in place (invoke would, if it can take the context): the
   * handler joins this very thread. The idle takes the thread's
   * reference: if the context never runs again it is simply not freed. */
  {
    GSource *idle = g_idle_source_new ();

    g_source_set_callback (idle, worker_finished, worker, (GDestroyNotify) worker_unref);
    g_source_set_static_name (idle, "VhostUserServer worker finished");
    g_source_attach (idle, self->context);
    g_source_unref (idle);
  }
  return NULL;
}

/* GLib aborts the process when a context cannot make its wake-up fd, and
 * g_thread_new() when a thread cannot start: out of fds or threads, the
 * process serving every other front-end would die for one more. So the
 * acceptor makes the context, once an fd it opened and closed shows there
 * is one to make it with (only another thread opening fds in between can
 * take it), and starts the thread with g_thread_try_new(). */
static GMainContext *
worker_context_new (int *errsv)
{
  int probe = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);

  if (probe < 0)
    {
      *errsv = errno;
      return NULL;
    }
  close (probe);
  return g_main_context_new ();
}

/* FALSE (and @fd closed) if there was no fd or thread for it; @errsv
 * then says which. */
static gboolean
serve_in_thread (VhostUserServer *self,
                 int              fd,
                 int             *errsv)
{
  g_autoptr(GError) error = NULL;
  GMainContext *context;
  Worker *worker;

  *errsv = 0;
  context = worker_context_new (errsv);
  if (context == NULL)
    {
      g_warning ("Turned a front-end away on %s: no fd for its thread's context (%s)", self->path,
                 g_strerror (*errsv));
      close (fd);
      return FALSE;
    }

  worker = g_new0 (Worker, 1);
  /* one reference for the list, one for the thread */
  worker->ref_count = 2;
  worker->server = g_object_ref (self);
  worker->fd = fd;
  worker->own_context = context;

  vhost_user_mutex_lock (&self->lock);
  self->n_connections++;
  g_ptr_array_add (self->workers, worker);
  worker->thread = g_thread_try_new ("vhost-user-backend", worker_run, worker, &error);
  if (worker->thread == NULL)
    {
      self->n_connections--;
      g_ptr_array_remove_fast (self->workers, worker);
      vhost_user_mutex_unlock (&self->lock);
      g_warning ("Turned a front-end away on %s: %s", self->path, error->message);
      *errsv = EAGAIN;
      /* the thread's reference: closes the fd */
      worker_unref (worker);
      return FALSE;
    }
  vhost_user_mutex_unlock (&self->lock);
  return TRUE;
}

static gboolean
in_list (GVariant *list,
         guint32   id)
{
  gsize n = 0;
  const guint32 *ids = list != NULL ? g_variant_get_fixed_array (list, &n, sizeof (guint32)) : NULL;

  for (gsize i = 0; i < n; i++)
    if (ids[i] == id)
      return TRUE;
  return FALSE;
}

/* The allow-lists, against the credentials the kernel gives for the
 * connecting process (SO_PEERCRED, taken at connect(): the peer cannot
 * pick them). A peer refused is closed before a byte is read. */
static gboolean
peer_allowed (VhostUserServer *self,
              int              fd)
{
  struct ucred cred;
  socklen_t len = sizeof cred;

  if (self->allowed_uids == NULL && self->allowed_gids == NULL)
    return TRUE;
  if (getsockopt (fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred)
    {
      g_debug ("Refused a front-end on %s: its credentials are unknown (%s)", self->path, g_strerror (errno));
      return FALSE;
    }
  /* what the kernel reports for a socket without credentials: an entry
   * 4294967295 in a list must not let in whoever that is */
  if (cred.uid == (uid_t) -1 || cred.gid == (gid_t) -1)
    {
      g_debug ("Refused a front-end on %s: pid %d, its credentials are unknown", self->path, (int) cred.pid);
      return FALSE;
    }
  if (in_list (self->allowed_uids, cred.uid) || in_list (self->allowed_gids, cred.gid))
    return TRUE;
  g_debug ("Refused a front-end on %s: pid %d, uid %u, gid %u is not allowed", self->path, (int) cred.pid,
           (guint) cred.uid, (guint) cred.gid);
  return FALSE;
}

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS   1000

static gboolean
backoff_done (gpointer user_data)
{
  VhostUserServer *self = user_data;

  g_clear_pointer (&self->backoff_source, g_source_unref);
  if (may_accept (self))
    start_accepting (self);
  return G_SOURCE_REMOVE;
}

/* accept() failed for want of fds (or memory): the connection stays in
 * the backlog and the listener readable, so retrying at once would spin
 * a CPU until something else frees an fd. Pause, 100 ms at first and up
 * to 1 s while it lasts; say so once per episode. */
static void
back_off (VhostUserServer *self,
          int              errsv)
{
  if (self->backoff_ms == 0)
    g_warning ("Could not accept or serve a front-end on %s: %s; retrying every %u to %u ms until it works",
               self->path, g_strerror (errsv), BACKOFF_FIRST_MS, BACKOFF_MAX_MS);
  self->backoff_ms = self->backoff_ms == 0 ? BACKOFF_FIRST_MS : MIN (self->backoff_ms * 2, BACKOFF_MAX_MS);
  self->backoff_source = g_timeout_source_new (self->backoff_ms);
  g_source_set_static_name (self->backoff_source, "VhostUserServer accept backoff");
  /* the server destroys it before it goes (stop_accepting) */
  g_source_set_callback (self->backoff_source, backoff_done, self, NULL);
  g_source_attach (self->backoff_source, self->context);
}

static gboolean
on_incoming (GSocket      *listener,
             GIOCondition  condition,
             gpointer      user_data)
{
  /* a backend-added handler may drop the last reference to us */
  g_autoptr(VhostUserServer) self = g_object_ref (user_data);
  int fd;

  /* accept4() here rather than g_socket_accept(): the fd is CLOEXEC from
   * the start, and sanitizers see where it came from */
  fd = accept4 (g_socket_get_fd (listener), NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0)
    {
      int errsv = errno;

      if (errsv == EMFILE || errsv == ENFILE || errsv == ENOBUFS || errsv == ENOMEM)
        {
          /* (being dispatched: the source goes once we return) */
          g_clear_pointer (&self->accept_source, g_source_unref);
          back_off (self, errsv);
          return G_SOURCE_REMOVE;
        }
      if (errsv != EAGAIN && errsv != EWOULDBLOCK && errsv != EINTR)
        g_debug ("accept() on %s failed: %s", self->path, g_strerror (errsv));
      return G_SOURCE_CONTINUE;
    }
  if (!peer_allowed (self, fd))
    {
      close (fd);
      return G_SOURCE_CONTINUE;
    }
  /* (no GSocket: the connection needs only the fd, and making one costs
   * six syscalls) */
  if (self->threaded)
    {
      int errsv = 0;

      if (!serve_in_thread (self, fd, &errsv))
        {
          /* the next one would fare no better yet */
          g_clear_pointer (&self->accept_source, g_source_unref);
          back_off (self, errsv);
          return G_SOURCE_REMOVE;
        }
    }
  else
    serve_here (self, fd);
  /* (only now: a front-end turned away for want of a thread is no end
   * of the shortage) */
  if (self->backoff_ms != 0)
    g_debug ("Accepting on %s again", self->path);
  self->backoff_ms = 0;

  if (at_thread_limit (self))
    {
      g_clear_pointer (&self->accept_source, g_source_unref);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

/* GJS runs JavaScript only in the thread that owns its context: a JS
 * handler called from a worker fails deep inside the engine ("too much
 * recursion", or a crash). Nothing tells a handler's language apart, but
 * a GJS context in the process is enough to refuse threaded mode with an
 * error JavaScript can catch. Looked up, not linked: gjs is not ours. */
static gboolean
in_gjs_process (void)
{
  gpointer (*get_current) (void);

  get_current = (gpointer (*) (void)) dlsym (RTLD_DEFAULT, "gjs_context_get_current");
  return get_current != NULL && get_current () != NULL;
}

static void
start_accepting (VhostUserServer *self)
{
  self->accept_source = g_socket_create_source (self->listener, G_IO_IN, NULL);
  g_source_set_static_name (self->accept_source, "VhostUserServer");
  /* GLib 2.74 takes a source that may not recurse out of the poll set
   * while it runs and writes its context's eventfd to put it back: a
   * wake-up of our own per connection. Accepting again from a nested
   * iteration is harmless. */
  g_source_set_can_recurse (self->accept_source, TRUE);
  g_source_set_callback (self->accept_source, (GSourceFunc) (void (*) (void)) on_incoming, self, NULL);
  g_source_attach (self->accept_source, self->context);
}

/* --- object --- */

static void
vhost_user_server_dispose (GObject *object)
{
  vhost_user_server_stop (VHOST_USER_SERVER (object));

  G_OBJECT_CLASS (vhost_user_server_parent_class)->dispose (object);
}

static void
vhost_user_server_finalize (GObject *object)
{
  VhostUserServer *self = VHOST_USER_SERVER (object);

  g_ptr_array_unref (self->workers);
  g_ptr_array_unref (self->backends);
  g_free (self->path);
  g_clear_pointer (&self->allowed_uids, g_variant_unref);
  g_clear_pointer (&self->allowed_gids, g_variant_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (vhost_user_server_parent_class)->finalize (object);
}

static void
vhost_user_server_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  VhostUserServer *self = VHOST_USER_SERVER (object);

  switch (prop_id)
    {
    case PROP_BACKEND_TYPE:
      g_value_set_gtype (value, self->backend_type);
      break;
    case PROP_THREADED:
      g_value_set_boolean (value, self->threaded);
      break;
    case PROP_MAX_THREADS:
      g_value_set_int (value, self->max_threads);
      break;
    case PROP_MAIN_CONTEXT:
      g_value_set_boxed (value, self->context);
      break;
    case PROP_PATH:
      g_value_set_string (value, self->path);
      break;
    case PROP_SOCKET_MODE:
      g_value_set_uint (value, self->socket_mode);
      break;
    case PROP_SOCKET_GROUP:
      g_value_set_int64 (value, self->socket_group);
      break;
    case PROP_ALLOWED_UIDS:
      g_value_set_variant (value, self->allowed_uids);
      break;
    case PROP_ALLOWED_GIDS:
      g_value_set_variant (value, self->allowed_gids);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vhost_user_server_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  VhostUserServer *self = VHOST_USER_SERVER (object);

  switch (prop_id)
    {
    case PROP_BACKEND_TYPE:
      self->backend_type = g_value_get_gtype (value);
      break;
    case PROP_THREADED:
      self->threaded = g_value_get_boolean (value);
      break;
    case PROP_MAX_THREADS:
      vhost_user_server_set_max_threads (self, g_value_get_int (value));
      break;
    case PROP_MAIN_CONTEXT:
      self->context = g_value_dup_boxed (value);
      if (self->context == NULL)
        self->context = g_main_context_ref_thread_default ();
      break;
    case PROP_SOCKET_MODE:
      self->socket_mode = g_value_get_uint (value);
      break;
    case PROP_SOCKET_GROUP:
      self->socket_group = g_value_get_int64 (value);
      break;
    case PROP_ALLOWED_UIDS:
      vhost_user_server_set_allowed_uids (self, g_value_get_variant (value));
      break;
    case PROP_ALLOWED_GIDS:
      vhost_user_server_set_allowed_gids (self, g_value_get_variant (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vhost_user_server_class_init (VhostUserServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vhost_user_server_dispose;
  object_class->finalize = vhost_user_server_finalize;
  object_class->get_property = vhost_user_server_get_property;
  object_class->set_property = vhost_user_server_set_property;

  /**
   * VhostUserServer:backend-type:
   *
   * The type of back-end made for each connection: #VhostUserBackend or
   * a subclass.
   *
   * Since: 1.0
   */
  properties[PROP_BACKEND_TYPE] =
    g_param_spec_gtype ("backend-type", NULL, NULL, VHOST_USER_TYPE_BACKEND,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * VhostUserServer:threaded:
   *
   * Whether each connection runs in a worker thread with its own context.
   *
   * Since: 1.0
   */
  properties[PROP_THREADED] =
    g_param_spec_boolean ("threaded", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * VhostUserServer:max-threads:
   *
   * In threaded mode, how many connections are served at once; -1 (or 0)
   * for no limit. While the limit is reached no connection is accepted.
   *
   * Since: 1.0
   */
  properties[PROP_MAX_THREADS] =
    g_param_spec_int ("max-threads", NULL, NULL, -1, G_MAXINT, 10,
                      G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * VhostUserServer:main-context:
   *
   * The context the listener is watched in (and, unthreaded, the
   * back-ends run in); the thread-default context at construction if
   * unset.
   *
   * Since: 1.0
   */
  properties[PROP_MAIN_CONTEXT] =
    g_param_spec_boxed ("main-context", NULL, NULL, G_TYPE_MAIN_CONTEXT,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * VhostUserServer:path:
   *
   * The socket path listened on, once listening.
   *
   * Since: 1.0
   */
  properties[PROP_PATH] =
    g_param_spec_string ("path", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * VhostUserServer:socket-mode:
   *
   * The permissions the socket file gets when the server listens: 0600
   * (only the server's user may connect) unless set otherwise before
   * vhost_user_server_listen(), e.g. 0660 with
   * [property@VhostUser.Server:socket-group]. They are in place before
   * anybody can connect.
   *
   * Since: 1.0
   */
  properties[PROP_SOCKET_MODE] =
    g_param_spec_uint ("socket-mode", NULL, NULL, 0, 0777, 0600,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS);
  /**
   * VhostUserServer:socket-group:
   *
   * The group the socket file gets when the server listens: a group id
   * from 0 to 4294967294, or -1 to keep the server's own. 4294967295 is
   * `(gid_t) -1`, which chown() takes for "no change": it is refused by
   * vhost_user_server_listen() (%VHOST_USER_ERROR_INVALID_PARAM), rather
   * than leave the socket in the server's group with the group bits of
   * [property@VhostUser.Server:socket-mode].
   *
   * Since: 1.0
   */
  /* 4294967295 is in range so that it reaches listen(): one GObject
   * refused would be dropped with a warning, leaving -1, the very
   * outcome refused */
  properties[PROP_SOCKET_GROUP] =
    g_param_spec_int64 ("socket-group", NULL, NULL, -1, G_MAXUINT32, -1,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS);
  /**
   * VhostUserServer:allowed-uids:
   *
   * The user ids (an `au` variant) a front-end may connect as, checked
   * with the kernel's credentials of the connecting process
   * (`SO_PEERCRED`) beside the socket file's permissions; %NULL (the
   * default), with [property@VhostUser.Server:allowed-gids] %NULL too,
   * lets in whoever can open the socket. A front-end whose uid is not
   * listed, and whose gid is not in allowed-gids, is closed at once
   * (with a debug message).
   *
   * The uid is the peer's effective uid at connect(), as seen from our
   * user namespace: one the kernel cannot map into it comes as the
   * overflow id (65534, "nobody" on most systems), so listing 65534 lets
   * in every such front-end. 4294967295 (`(uid_t) -1`, what the kernel
   * gives for unknown credentials) never matches: a front-end whose uid
   * or gid is unknown is refused whatever either list says.
   *
   * Since: 1.0
   */
  properties[PROP_ALLOWED_UIDS] =
    g_param_spec_variant ("allowed-uids", NULL, NULL, G_VARIANT_TYPE ("au"), NULL,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * VhostUserServer:allowed-gids:
   *
   * The group ids (an `au` variant) a front-end may connect as: matched
   * against its effective gid at connect(), which is what `SO_PEERCRED`
   * gives (not its supplementary groups, nor its real gid if that
   * differs); see [property@VhostUser.Server:allowed-uids], which says
   * how unmapped ids come, and that 4294967295 never matches.
   *
   * Since: 1.0
   */
  properties[PROP_ALLOWED_GIDS] =
    g_param_spec_variant ("allowed-gids", NULL, NULL, G_VARIANT_TYPE ("au"), NULL,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * VhostUserServer::backend-added:
   * @self: the server
   * @backend: the new back-end, not yet serving
   *
   * A front-end connected. Emitted in the context the back-end will run
   * in (the worker thread in threaded mode) before it starts serving:
   * set its offer and connect its signals here. To turn the front-end
   * away (a device that cannot serve it), call
   * vhost_user_backend_close() on @backend here: its connection is
   * closed unserved, and [signal@VhostUser.Server::backend-removed]
   * follows.
   *
   * Since: 1.0
   */
  signals[SIGNAL_BACKEND_ADDED] =
    g_signal_new ("backend-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, VHOST_USER_TYPE_BACKEND);

  /**
   * VhostUserServer::backend-removed:
   * @self: the server
   * @backend: the back-end whose connection ended
   *
   * A connection ended; emitted in the back-end's context, after its
   * [signal@VhostUser.Backend::disconnected] (none for a front-end turned
   * away in [signal@VhostUser.Server::backend-added], or that could not be
   * served).
   *
   * Since: 1.0
   */
  signals[SIGNAL_BACKEND_REMOVED] =
    g_signal_new ("backend-removed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, VHOST_USER_TYPE_BACKEND);
}

static void
vhost_user_server_init (VhostUserServer *self)
{
  g_mutex_init (&self->lock);
  self->workers = g_ptr_array_new_with_free_func ((GDestroyNotify) worker_unref);
  self->backends = g_ptr_array_new_with_free_func (g_object_unref);
  self->backend_type = VHOST_USER_TYPE_BACKEND;
  /* a value out of range given to g_object_new() is not set, and the
   * default is not set instead: the field keeps this (not 0, root's
   * group) */
  self->socket_group = -1;
}

/**
 * vhost_user_server_new:
 * @backend_type: #VhostUserBackend or a subclass
 * @threaded: whether each connection gets a worker thread
 *
 * Creates a server in the thread-default main context.
 *
 * Returns: (transfer full): a new server
 *
 * Since: 1.0
 */
VhostUserServer *
vhost_user_server_new (GType    backend_type,
                       gboolean threaded)
{
  g_return_val_if_fail (g_type_is_a (backend_type, VHOST_USER_TYPE_BACKEND), NULL);

  return g_object_new (VHOST_USER_TYPE_SERVER,
                       "backend-type", backend_type,
                       "threaded", threaded,
                       NULL);
}

/**
 * vhost_user_server_listen:
 * @self: a server
 * @path: where to create the socket
 * @error: return location for a #GError
 *
 * Listens on @path (mode [property@VhostUser.Server:socket-mode], 0600
 * by default, and [property@VhostUser.Server:socket-group]) and accepts
 * front-ends from the next iteration of the server's context on, those
 * the allow-lists let in ([property@VhostUser.Server:allowed-uids]). A
 * stale socket file (nobody listens on it) is replaced; a live socket,
 * or anything that is not a socket, is an error
 * (%VHOST_USER_ERROR_SOCKET_CONNECT) and is left alone. A socket-group
 * of 4294967295 is %VHOST_USER_ERROR_INVALID_PARAM, before anything is
 * created.
 *
 * In a GJS program a threaded server fails here with
 * %VHOST_USER_ERROR_INVALID_OPERATION: its handlers would have to run
 * JavaScript in worker threads, which GJS cannot do (see
 * [class@VhostUser.Server]).
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
vhost_user_server_listen (VhostUserServer  *self,
                          const char       *path,
                          GError          **error)
{
  g_return_val_if_fail (VHOST_USER_IS_SERVER (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  if (self->listener != NULL)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                   "The server already listens on %s", self->path);
      return FALSE;
    }
  if (self->threaded && in_gjs_process ())
    {
      g_set_error_literal (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                           "A threaded server runs its back-ends' signals in worker threads, and GJS "
                           "runs JavaScript in its main thread only: use an unthreaded server");
      return FALSE;
    }

  self->listener = vhost_user_socket_listen_full (path, self->socket_mode, self->socket_group, error);
  if (self->listener == NULL)
    return FALSE;
  g_socket_set_blocking (self->listener, FALSE);
  self->backoff_ms = 0;
  vhost_user_mutex_lock (&self->lock);
  self->stopping = FALSE;
  vhost_user_mutex_unlock (&self->lock);
  g_free (self->path);
  self->path = g_strdup (path);
  vhost_user_notify (G_OBJECT (self), properties[PROP_PATH]);
  start_accepting (self);
  return TRUE;
}

/**
 * vhost_user_server_stop:
 * @self: a server
 *
 * Stops listening (removing the socket file), closes every connection
 * and, in threaded mode, waits for the worker threads to end.
 *
 * It runs no main context while it waits (it only joins the threads), so
 * it is safe to call, and to drop the last reference, from anywhere,
 * interpreter shutdown included. Each ended worker leaves a report queued
 * in the server's context that keeps a reference on the server until the
 * context runs it (or forever, if it never runs again).
 *
 * Since: 1.0
 */
void
vhost_user_server_stop (VhostUserServer *self)
{
  g_autoptr(GPtrArray) workers = NULL;

  g_return_if_fail (VHOST_USER_IS_SERVER (self));

  vhost_user_mutex_lock (&self->lock);
  self->stopping = TRUE;
  vhost_user_mutex_unlock (&self->lock);
  stop_accepting (self);
  if (self->listener != NULL)
    {
      /* unlinked first: once closed, another server may take the path
       * for a stale socket and bind it, and we would unlink that */
      if (self->path != NULL)
        g_unlink (self->path);
      g_socket_close (self->listener, NULL);
      g_clear_object (&self->listener);
      g_clear_pointer (&self->path, g_free);
      vhost_user_notify (G_OBJECT (self), properties[PROP_PATH]);
    }

  /* unthreaded back-ends: disconnecting removes them (synchronously,
   * from the disconnected handler); one already closed would not, so
   * walk a copy rather than wait for the list to empty */
  {
    g_autoptr(GPtrArray) backends = g_ptr_array_copy (self->backends, (GCopyFunc) (void (*) (void)) g_object_ref, NULL);

    g_ptr_array_set_free_func (backends, g_object_unref);
    for (guint i = backends->len; i > 0; i--)
      vhost_user_backend_close (g_ptr_array_index (backends, i - 1));
  }

  vhost_user_mutex_lock (&self->lock);
  /* the list's references move here: a worker_finished still queued in
   * our context finds its worker gone and only drops the thread's */
  workers = g_steal_pointer (&self->workers);
  self->workers = g_ptr_array_new_with_free_func ((GDestroyNotify) worker_unref);
  for (guint i = 0; i < workers->len; i++)
    {
      Worker *worker = g_ptr_array_index (workers, i);

      /* not g_main_loop_quit(): a loop about to run would forget it; a
       * source waits in the worker's context until the loop runs */
      if (worker->context != NULL)
        {
          GSource *quit = g_idle_source_new ();

          g_source_set_callback (quit, quit_worker_loop, g_main_loop_ref (worker->loop),
                                 (GDestroyNotify) g_main_loop_unref);
          g_source_attach (quit, worker->context);
          g_source_unref (quit);
        }
    }
  vhost_user_mutex_unlock (&self->lock);

  /* Joining blocks but runs nothing: no source of our context (or any
   * other) is dispatched here, so stop() is safe from dispose and at
   * interpreter shutdown. A worker needs nothing from our context to end. */
  for (guint i = 0; i < workers->len; i++)
    {
      Worker *worker = g_ptr_array_index (workers, i);

      g_thread_join (g_steal_pointer (&worker->thread));
    }
}

/**
 * vhost_user_server_get_path:
 * @self: a server
 *
 * Gets the path listened on.
 *
 * Returns: (nullable): the path, or %NULL before listening
 *
 * Since: 1.0
 */
const char *
vhost_user_server_get_path (VhostUserServer *self)
{
  g_return_val_if_fail (VHOST_USER_IS_SERVER (self), NULL);
  return self->path;
}

/**
 * vhost_user_server_get_n_connections:
 * @self: a server
 *
 * Gets how many front-ends are being served.
 *
 * Returns: the number of connections
 *
 * Since: 1.0
 */
guint
vhost_user_server_get_n_connections (VhostUserServer *self)
{
  guint n;

  g_return_val_if_fail (VHOST_USER_IS_SERVER (self), 0);
  vhost_user_mutex_lock (&self->lock);
  n = self->n_connections;
  vhost_user_mutex_unlock (&self->lock);
  return n;
}

/**
 * vhost_user_server_get_threaded:
 * @self: a server
 *
 * Gets whether connections run in worker threads.
 *
 * Returns: %TRUE in threaded mode
 *
 * Since: 1.0
 */
gboolean
vhost_user_server_get_threaded (VhostUserServer *self)
{
  g_return_val_if_fail (VHOST_USER_IS_SERVER (self), FALSE);
  return self->threaded;
}

/**
 * vhost_user_server_get_max_threads:
 * @self: a server
 *
 * Gets [property@VhostUser.Server:max-threads].
 *
 * Returns: the limit, or -1 or 0 for none
 *
 * Since: 1.0
 */
int
vhost_user_server_get_max_threads (VhostUserServer *self)
{
  g_return_val_if_fail (VHOST_USER_IS_SERVER (self), -1);
  return self->max_threads;
}

/**
 * vhost_user_server_set_max_threads:
 * @self: a server
 * @max_threads: the limit, or -1 (or 0) for none
 *
 * Sets [property@VhostUser.Server:max-threads].
 *
 * Since: 1.0
 */
void
vhost_user_server_set_max_threads (VhostUserServer *self,
                                   int              max_threads)
{
  g_return_if_fail (VHOST_USER_IS_SERVER (self));
  g_return_if_fail (max_threads >= -1);

  if (self->max_threads == max_threads)
    return;
  vhost_user_mutex_lock (&self->lock);
  self->max_threads = max_threads;
  vhost_user_mutex_unlock (&self->lock);
  vhost_user_notify (G_OBJECT (self), properties[PROP_MAX_THREADS]);
  if (may_accept (self))
    start_accepting (self);
}

static void
set_id_list (VhostUserServer  *self,
             GVariant        **field,
             GVariant         *ids,
             guint             prop)
{
  gboolean changed;

  g_return_if_fail (ids == NULL || g_variant_is_of_type (ids, G_VARIANT_TYPE ("au")));

  if (ids != NULL)
    g_variant_ref_sink (ids);
  changed = ids == NULL || *field == NULL ? ids != *field : !g_variant_equal (ids, *field);
  g_clear_pointer (field, g_variant_unref);
  *field = ids;
  if (changed)
    vhost_user_notify (G_OBJECT (self), properties[prop]);
}

/**
 * vhost_user_server_set_allowed_uids:
 * @self: a server
 * @uids: (nullable): an `au` variant of user ids, or %NULL
 *
 * Sets [property@VhostUser.Server:allowed-uids]; it applies to the front-ends
 * accepted from then on. A floating @uids is sunk.
 *
 * Since: 1.0
 */
void
vhost_user_server_set_allowed_uids (VhostUserServer *self,
                                    GVariant        *uids)
{
  g_return_if_fail (VHOST_USER_IS_SERVER (self));
  set_id_list (self, &self->allowed_uids, uids, PROP_ALLOWED_UIDS);
}

/**
 * vhost_user_server_set_allowed_gids:
 * @self: a server
 * @gids: (nullable): an `au` variant of group ids, or %NULL
 *
 * Sets [property@VhostUser.Server:allowed-gids]; it applies to the
 * front-ends accepted from then on. A floating @gids is sunk.
 *
 * Since: 1.0
 */
void
vhost_user_server_set_allowed_gids (VhostUserServer *self,
                                    GVariant        *gids)
{
  g_return_if_fail (VHOST_USER_IS_SERVER (self));
  set_id_list (self, &self->allowed_gids, gids, PROP_ALLOWED_GIDS);
}
