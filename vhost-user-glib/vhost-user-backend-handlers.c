/* vhost-user-backend-handlers.c: the protocol's own behaviour
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The class closures of VhostUserBackend's request signals, each beside
 * its signal's documentation: what a back-end does when no handler takes
 * a request. The ones that map memory are in vhost-user-backend-memory.c,
 * the back-end channel's in vhost-user-backend-channel.c, those of shared
 * objects and memory regions in vhost-user-backend-shared.c.
 */

#include "config.h"

#include <string.h>

#include "vhost-user-backend-private.h"
#include "vhost-user-debug-private.h"
#include "vhost-user-error.h"
#include "vhost-user-peer-fd-private.h"
#include "vhost-user-notify-private.h"

#define VIRTIO_STATUS_NEEDS_RESET 0x40

/* The driver broke a ring: where the front-end reads the device status,
 * it says the device needs a reset (virtio 1.2, 2.1.1); a ring without an
 * error eventfd reports it in band (BACKEND_VRING_ERR) where it can. */
void
vhost_user_backend_ring_broken (VhostUserVring *vring,
                                gpointer        user_data)
{
  VhostUserBackend *self = user_data;
  VhostUserBackendPrivate *priv = priv_of (self);

  if (priv->acked_protocol_features & VHOST_USER_PROTOCOL_FEATURE_STATUS)
    vhost_user_backend_update_status (self, priv->status | VIRTIO_STATUS_NEEDS_RESET);
  vhost_user_backend_ring_err_inband (self, vring);
}

/* Without a call fd a ring calls in-band when that was negotiated. */
void
vhost_user_backend_update_inband (VhostUserBackend *self)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  gboolean inband = (priv->acked_protocol_features & VHOST_USER_PROTOCOL_FEATURE_INBAND_NOTIFICATIONS) != 0;

  for (guint i = 0; i < priv->vrings->len; i++)
    vhost_user_vring_set_call_func (vring_at (self, i), inband ? vhost_user_backend_inband_call : NULL, self);
}

void
vhost_user_backend_update_status (VhostUserBackend *self,
                                  guint64           status)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  if (priv->status != status)
    {
      priv->status = status;
      vhost_user_notify (G_OBJECT (self), vhost_user_backend_pspecs[PROP_STATUS]);
    }
}

/* The IOTLB holds at most this many mappings; past it the one used least
 * recently goes (a cache: it is asked for again). QEMU maps a page at a
 * time; DPDK keeps 2048. */
#define IOTLB_MAX_ENTRIES 65536

/* With VIRTIO_F_ACCESS_PLATFORM acked every address the driver gives is
 * an IOVA: the rings translate through the IOTLB from now on. A new
 * session starts with an empty one. */
void
vhost_user_backend_update_iotlb (VhostUserBackend *self)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  gboolean on = (priv->acked_features & VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_ACCESS_PLATFORM)) != 0;

  if (on == (priv->iotlb != NULL))
    return;
  if (priv->iotlb != NULL)
    {
      /* invalidations still held are not answered: the session ended */
      GSList *held = vhost_user_iotlb_cancel_fences (priv->iotlb);

      for (GSList *l = held; l != NULL; l = l->next)
        {
          g_source_destroy (l->data);
          g_source_unref (l->data);
        }
      g_slist_free (held);
    }
  g_clear_pointer (&priv->iotlb, vhost_user_iotlb_unref);
  if (on)
    priv->iotlb = vhost_user_iotlb_new (IOTLB_MAX_ENTRIES);
  for (guint i = 0; i < priv->vrings->len; i++)
    vhost_user_vring_set_iotlb (vring_at (self, i), priv->iotlb);
}

/**
 * VhostUserBackend::get-features:
 * @self: the back-end
 * @invocation: the request, to answer
 *
 * The front-end asks which virtio features the device offers. Default:
 * [property@VhostUser.Backend:features].
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
static gboolean
real_get_features (VhostUserBackend    *self,
                   VhostUserInvocation *invocation)
{
  vhost_user_invocation_return_u64 (invocation, priv_of (self)->features);
  return TRUE;
}

/**
 * VhostUserBackend::set-features:
 * @self: the back-end
 * @invocation: the request, to answer
 * @features: the virtio features acknowledged
 *
 * The front-end acknowledges the virtio features in use. Default: refuse bits never offered
 * (%VHOST_USER_ERROR_FEATURE_MISMATCH), else record them in
 * [property@VhostUser.Backend:acked-features]; without `VHOST_USER_F_PROTOCOL_FEATURES`
 * every ring is enabled at once.
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
static gboolean
real_set_features (VhostUserBackend    *self,
                   VhostUserInvocation *invocation,
                   guint64              features)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  if (features & ~priv->features)
    {
      vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_FEATURE_MISMATCH,
                                           "Features 0x%" G_GINT64_MODIFIER "x were never offered (offered 0x%" G_GINT64_MODIFIER "x)",
                                           features & ~priv->features, priv->features);
      return TRUE;
    }

  if (priv->acked_features != features)
    {
      priv->acked_features = features;
      vhost_user_notify (G_OBJECT (self), vhost_user_backend_pspecs[PROP_ACKED_FEATURES]);
    }
  for (guint i = 0; i < priv->vrings->len; i++)
    vhost_user_vring_set_features (vring_at (self, i),
                                   (features & VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_RING_PACKED)) != 0,
                                   (features & VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_EVENT_IDX)) != 0);
  vhost_user_backend_update_logging (self);
  vhost_user_backend_update_iotlb (self);

  /* without protocol features there is no SET_VRING_ENABLE: every ring
   * is enabled at once */
  if (!(features & VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_PROTOCOL_FEATURES)))
    for (guint i = 0; i < priv->vrings->len; i++)
      vhost_user_vring_set_enabled (vring_at (self, i), TRUE);

  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

/**
 * VhostUserBackend::set-owner:
 * @self: the back-end
 * @invocation: the request, to answer
 *
 * The front-end takes ownership: the session starts. Default: a second `SET_OWNER` is
 * refused.
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
static gboolean
real_set_owner (VhostUserBackend    *self,
                VhostUserInvocation *invocation)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  if (priv->owner)
    {
      vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_OPERATION,
                                           "The session already has an owner");
      return TRUE;
    }
  priv->owner = TRUE;
  vhost_user_notify (G_OBJECT (self), vhost_user_backend_pspecs[PROP_OWNER]);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

static void
stop_all_rings (VhostUserBackend *self)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  for (guint i = 0; i < priv->vrings->len; i++)
    {
      vhost_user_vring_set_started (vring_at (self, i), FALSE);
      vhost_user_vring_set_enabled (vring_at (self, i), FALSE);
    }
}

/**
 * VhostUserBackend::reset-owner:
 * @self: the back-end
 * @invocation: the request, to answer
 *
 * Deprecated. Default: stop and disable every ring, keep the session.
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
/* Deprecated: the spec now says to ignore it or disable the rings, and
 * never to drop the session. */
static gboolean
real_reset_owner (VhostUserBackend    *self,
                  VhostUserInvocation *invocation)
{
  stop_all_rings (self);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

/**
 * VhostUserBackend::set-vring-num:
 * @self: the back-end
 * @invocation: the request, to answer
 * @index: the queue
 * @num: the ring size, checked against [property@VhostUser.Backend:max-queue-size]
 *
 * The front-end sets a ring's size. Default: record it; refused
 * (%VHOST_USER_ERROR_INVALID_OPERATION) while the ring runs or the device still holds
 * requests of it.
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
static gboolean
real_set_vring_num (VhostUserBackend    *self,
                    VhostUserInvocation *invocation,
                    guint                index,
                    guint                num)
{
  VhostUserVring *vring = vring_at (self, index);
  g_autoptr(GError) error = NULL;

  if (!vhost_user_vring_can_resize (vring, &error))
    {
      vhost_user_invocation_return_error (invocation, error);
      return TRUE;
    }
  vhost_user_vring_set_size (vring, num);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

/**
 * VhostUserBackend::set-vring-addr:
 * @self: the back-end
 * @invocation: the request, to answer
 * @index: the queue
 * @address: where the ring lives
 *
 * The front-end says where a ring lives. Default: check the addresses are in guest memory,
 * record them.
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
static gboolean
real_set_vring_addr (VhostUserBackend            *self,
                     VhostUserInvocation         *invocation,
                     guint                        index,
                     const VhostUserVringAddress *address)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  /* with an IOMMU the addresses are IOVAs, translated later */
  if (!(priv->acked_features & VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_ACCESS_PLATFORM)) &&
      priv->memory_table != NULL)
    {
      /* the whole of each part, at the ring's size (1 if not set yet):
       * split rings have 16-byte descriptors, a 6+2n available ring and a
       * 6+8n used ring (event idx included); packed rings 16-byte
       * descriptors and 4-byte event areas */
      guint64 num = MAX (vhost_user_vring_get_size (vring_at (self, index)), 1);
      gboolean packed = (priv->acked_features &
                         VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_RING_PACKED)) != 0;
      const struct { const char *name; guint64 addr; guint64 len; } parts[] = {
        { "descriptor table", address->desc_user_addr, 16 * num },
        { "available ring", address->avail_user_addr, packed ? 4 : 6 + 2 * num },
        { "used ring", address->used_user_addr, packed ? 4 : 6 + 8 * num },
      };

      for (guint i = 0; i < G_N_ELEMENTS (parts); i++)
        {
          guint64 len = parts[i].len;

          if (vhost_user_memory_table_translate_user_addr (priv->memory_table, parts[i].addr, &len) == NULL ||
              len < parts[i].len)
            {
              vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_PARAM,
                                                   "Vring %u: %s at 0x%" G_GINT64_MODIFIER "x (0x%" G_GINT64_MODIFIER "x bytes)"
                                                   " is not in guest memory",
                                                   index, parts[i].name, parts[i].addr, parts[i].len);
              return TRUE;
            }
        }
    }

  vhost_user_vring_set_address (vring_at (self, index), address);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

/**
 * VhostUserBackend::set-vring-base:
 * @self: the back-end
 * @invocation: the request, to answer
 * @index: the queue
 * @base: the next available index (packed rings: with wrap counters)
 *
 * The front-end sets where a ring resumes. Default: record it.
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
static gboolean
real_set_vring_base (VhostUserBackend    *self,
                     VhostUserInvocation *invocation,
                     guint                index,
                     guint                base)
{
  vhost_user_vring_set_base (vring_at (self, index), base);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

/* Stops the ring without waiting for its requests in flight: they stay
 * marked in the in-flight area, and the base counts them as consumed, so
 * a successor given the area resubmits them. */
static void
answer_vring_base_now (VhostUserVring      *vring,
                       VhostUserInvocation *invocation)
{
  VhostUserWireVringState state = { vhost_user_vring_get_index (vring), 0 };
  g_autoptr(GBytes) payload = NULL;

  vhost_user_vring_stop_skip_drain (vring, &state.num);
  payload = g_bytes_new (&state, sizeof state);
  vhost_user_invocation_return_bytes (invocation, payload, -1);
}

/* A GET_VRING_BASE waiting for the device to complete its requests, and
 * the timer that bounds the wait. The ring holds it (as its drained
 * callback's data) until it drains, times out, or is reset; the back-end
 * resets its rings, and so frees it and its timer, before it goes. */
typedef struct {
  VhostUserBackend    *backend;     /* not a reference (see above) */
  VhostUserVring      *vring;       /* not a reference: the ring holds us */
  VhostUserInvocation *invocation;
  GSource             *timer;
  guint                timeout_ms;
} DrainWait;

static void
drain_wait_free (gpointer data)
{
  DrainWait *wait = data;

  if (wait->timer != NULL)
    {
      g_source_destroy (wait->timer);
      g_source_unref (wait->timer);
    }
  g_object_unref (wait->invocation);
  g_free (wait);
}

/* Drained: report where the ring stands. Its state is kept (the spec
 * says not to reset the queue here); its fds too. */
static void
answer_vring_base (VhostUserVring *vring,
                   gpointer        user_data)
{
  DrainWait *wait = user_data;
  VhostUserWireVringState state = { vhost_user_vring_get_index (vring), vhost_user_vring_get_base (vring) };
  g_autoptr(GBytes) payload = g_bytes_new (&state, sizeof state);

  vhost_user_invocation_return_bytes (wait->invocation, payload, -1);
}

/* The device kept requests past drain-timeout: the front-end gets its
 * answer anyway (a stop must not hang for ever), as if it had asked not
 * to wait; the requests stay in the in-flight area, and their late
 * pushes are dropped. The answer cannot say that anything went wrong,
 * so the ring's error eventfd (or in-band VRING_ERR) does: QEMU reports
 * "vhost vring error in virtqueue N". */
static gboolean
drain_timed_out (gpointer user_data)
{
  DrainWait *wait = user_data;
  VhostUserBackend *self = wait->backend;
  VhostUserVring *vring = wait->vring;
  g_autoptr(VhostUserInvocation) invocation = g_object_ref (wait->invocation);
  guint n = vhost_user_vring_get_in_flight (vring);
  int err = vhost_user_vring_get_err_fd (vring);

  g_warning ("Queue %u: the device did not complete %u request%s within %u ms; GET_VRING_BASE answers "
             "without %s (see VhostUserBackend:drain-timeout)",
             vhost_user_vring_get_index (vring), n, n == 1 ? "" : "s", wait->timeout_ms, n == 1 ? "it" : "them");
  /* the source is ours to drop: it is being dispatched */
  g_clear_pointer (&wait->timer, g_source_unref);
  /* frees @wait: nothing answers twice */
  vhost_user_vring_when_drained (vring, NULL, NULL, NULL);
  /* (before the answer: a front-end that has it can look) */
  if (err >= 0)
    vhost_user_eventfd_signal (err);
  else
    vhost_user_backend_ring_err_inband (self, vring);
  answer_vring_base_now (vring, invocation);
  return G_SOURCE_REMOVE;
}

/* A ring stops (or the device resets): what the IOTLB holds may not
 * outlive it. QEMU registers for the IOMMU's unmaps only while the device
 * runs, so a guest that reboots remaps its IOVAs without an invalidation
 * reaching us; the next start asks for every mapping again. */
static void
forget_iotlb (VhostUserBackend *self)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  if (priv->iotlb != NULL)
    vhost_user_iotlb_flush (priv->iotlb);
}

/**
 * VhostUserBackend::get-vring-base:
 * @self: the back-end
 * @invocation: the request, to answer
 * @index: the queue
 *
 * The front-end stops a ring and asks where it stands. Default: stop it (its state and fds
 * are kept) and reply with its base once the requests in flight are completed. With
 * %VHOST_USER_PROTOCOL_FEATURE_GET_VRING_BASE_INFLIGHT and an in-flight area, reply at once
 * instead: the requests in flight stay recorded in the area for whoever resumes the ring.
 *
 * The wait is bounded by [property@VhostUser.Backend:drain-timeout]: past it, a warning is
 * logged and the reply is sent as if the front-end had asked not to wait
 * (`GET_VRING_BASE_SKIP_DRAIN`): the base counts the requests the device still holds as
 * taken, they stay in the in-flight area (if there is one), and their late pushes are
 * dropped. The front-end is told of the error on the ring's error eventfd
 * (`SET_VRING_ERR`), or with an in-band `VRING_ERR` where that was negotiated.
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
static gboolean
real_get_vring_base (VhostUserBackend    *self,
                     VhostUserInvocation *invocation,
                     guint                index)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  VhostUserVring *vring = vring_at (self, index);
  const guint64 record = VHOST_USER_PROTOCOL_FEATURE_GET_VRING_BASE_INFLIGHT |
                         VHOST_USER_PROTOCOL_FEATURE_INFLIGHT_SHMFD;
  DrainWait *wait;

  forget_iotlb (self);
  if ((priv->acked_protocol_features & record) == record && priv->inflight != NULL)
    {
      answer_vring_base_now (vring, invocation);
      return TRUE;
    }

  /* the spec: requests in flight complete first; the answer (and so the
   * next request of the front-end) waits for the last of them, within a
   * bound. A ring that is drained already answers (and frees the wait)
   * at once, and needs no timer; otherwise the wait stays with the ring
   * at least until this context runs again (a push from another thread
   * answers through it), so the timer is set after. */
  wait = g_new0 (DrainWait, 1);
  wait->backend = self;
  wait->vring = vring;
  wait->invocation = g_object_ref (invocation);
  wait->timeout_ms = priv->drain_timeout_ms;
  vhost_user_vring_set_started (vring, FALSE);
  vhost_user_vring_when_drained (vring, answer_vring_base, wait, drain_wait_free);
  if (!vhost_user_invocation_get_completed (invocation) && priv->drain_timeout_ms > 0)
    {
      wait->timer = g_timeout_source_new (wait->timeout_ms);
      g_source_set_static_name (wait->timer, "VhostUserBackend drain timeout");
      g_source_set_callback (wait->timer, drain_timed_out, wait, NULL);
      g_source_attach (wait->timer, priv->context);
    }
  return TRUE;
}

/* The ring keeps the request's own fd, which the decoder checked is an
 * eventfd (the ring then closes it without care for pipes): a handler of
 * another request that chains up here has a pipe or a socket in hand. */
static gboolean
take_vring_fd (VhostUserBackend     *self,
               VhostUserInvocation  *invocation,
               guint                 index,
               VhostUserVringFdKind  kind)
{
  static const VhostUserRequestType requests[] = {
    [VHOST_USER_VRING_FD_KICK] = VHOST_USER_REQUEST_SET_VRING_KICK,
    [VHOST_USER_VRING_FD_CALL] = VHOST_USER_REQUEST_SET_VRING_CALL,
    [VHOST_USER_VRING_FD_ERR] = VHOST_USER_REQUEST_SET_VRING_ERR,
  };

  g_return_val_if_fail (kind < G_N_ELEMENTS (requests), TRUE);
  g_return_val_if_fail (vhost_user_invocation_get_info (invocation)->number == requests[kind], TRUE);
  vhost_user_vring_take_fd (vring_at (self, index), kind, steal_request_fd (self, 0));
  return TRUE;
}

/**
 * VhostUserBackend::set-vring-kick:
 * @self: the back-end
 * @invocation: the request, to answer
 * @index: the queue
 * @fd: the kick eventfd, or -1 to poll; borrowed for the emission
 *   (a handler that keeps it dup()s it)
 *
 * The front-end passes a ring's kick eventfd. Default: keep it (closing any earlier one) and
 * start the ring. An fd that is not an eventfd is refused with
 * %VHOST_USER_ERROR_INCORRECT_FDS before the signal is emitted.
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
static gboolean
real_set_vring_kick (VhostUserBackend    *self,
                     VhostUserInvocation *invocation,
                     guint                index,
                     int                  fd)
{
  take_vring_fd (self, invocation, index, VHOST_USER_VRING_FD_KICK);
  /* the current spec: SET_VRING_KICK starts the ring */
  vhost_user_vring_set_started (vring_at (self, index), TRUE);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

/**
 * VhostUserBackend::set-vring-call:
 * @self: the back-end
 * @invocation: the request, to answer
 * @index: the queue
 * @fd: the call eventfd, or -1; borrowed for the emission
 *   (a handler that keeps it dup()s it)
 *
 * The front-end passes a ring's call eventfd. Default: keep it. An fd
 * that is not an eventfd is refused with %VHOST_USER_ERROR_INCORRECT_FDS
 * before the signal is emitted.
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
static gboolean
real_set_vring_call (VhostUserBackend    *self,
                     VhostUserInvocation *invocation,
                     guint                index,
                     int                  fd)
{
  take_vring_fd (self, invocation, index, VHOST_USER_VRING_FD_CALL);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

/**
 * VhostUserBackend::set-vring-err:
 * @self: the back-end
 * @invocation: the request, to answer
 * @index: the queue
 * @fd: the error eventfd, or -1; borrowed for the emission
 *   (a handler that keeps it dup()s it)
 *
 * The front-end passes a ring's error eventfd. Default: keep it. An fd
 * that is not an eventfd is refused with %VHOST_USER_ERROR_INCORRECT_FDS
 * before the signal is emitted.
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
static gboolean
real_set_vring_err (VhostUserBackend    *self,
                    VhostUserInvocation *invocation,
                    guint                index,
                    int                  fd)
{
  take_vring_fd (self, invocation, index, VHOST_USER_VRING_FD_ERR);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

/**
 * VhostUserBackend::get-protocol-features:
 * @self: the back-end
 * @invocation: the request, to answer
 *
 * The front-end asks which protocol features the device offers. Default:
 * [property@VhostUser.Backend:protocol-features].
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
static gboolean
real_get_protocol_features (VhostUserBackend    *self,
                            VhostUserInvocation *invocation)
{
  vhost_user_invocation_return_u64 (invocation, priv_of (self)->protocol_features);
  return TRUE;
}

/**
 * VhostUserBackend::set-protocol-features:
 * @self: the back-end
 * @invocation: the request, to answer
 * @features: the protocol features the front-end wants
 *
 * The front-end chooses protocol features. Default: record them; bits that were never
 * offered, or in-band notifications without the back-end channel and `REPLY_ACK`, are
 * refused with %VHOST_USER_ERROR_FEATURE_MISMATCH and the connection is closed.
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
static gboolean
real_set_protocol_features (VhostUserBackend    *self,
                            VhostUserInvocation *invocation,
                            guint64              features)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  const guint64 inband_needs = VHOST_USER_PROTOCOL_FEATURE_BACKEND_REQ | VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK;

  g_autoptr(GError) error = NULL;

  /* Bits never offered are refused, not dropped: a front-end that asked
   * for them believes they are on (the spec says to ask only for bits
   * offered; QEMU masks, DPDK refuses too). */
  if (features & ~priv->protocol_features)
    error = g_error_new (VHOST_USER_ERROR, VHOST_USER_ERROR_FEATURE_MISMATCH,
                         "Protocol features 0x%" G_GINT64_MODIFIER "x were never offered (offered 0x%"
                         G_GINT64_MODIFIER "x)", features & ~priv->protocol_features, priv->protocol_features);
  else if ((features & VHOST_USER_PROTOCOL_FEATURE_INBAND_NOTIFICATIONS) &&
           (features & inband_needs) != inband_needs)
    error = g_error_new_literal (VHOST_USER_ERROR, VHOST_USER_ERROR_FEATURE_MISMATCH,
                                 "In-band notifications need the back-end channel and REPLY_ACK");
  if (error != NULL)
    {
      /* the spec: close the connection; without REPLY_ACK in effect the
       * front-end could not be told otherwise */
      vhost_user_invocation_return_error (invocation, error);
      if (priv->connection != NULL)
        vhost_user_connection_close (priv->connection, error);
      return TRUE;
    }

  if (priv->acked_protocol_features != features)
    {
      priv->acked_protocol_features = features;
      vhost_user_notify (G_OBJECT (self), vhost_user_backend_pspecs[PROP_ACKED_PROTOCOL_FEATURES]);
    }
  if (priv->connection != NULL)
    vhost_user_connection_set_protocol_features (priv->connection, features);
  vhost_user_requester_set_protocol_features (priv->channel_requester, features);
  vhost_user_backend_update_inband (self);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

/**
 * VhostUserBackend::get-queue-num:
 * @self: the back-end
 * @invocation: the request, to answer
 *
 * The front-end asks how many queues there are. Default: [property@VhostUser.Backend:num-
 * queues].
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
static gboolean
real_get_queue_num (VhostUserBackend    *self,
                    VhostUserInvocation *invocation)
{
  vhost_user_invocation_return_u64 (invocation, priv_of (self)->num_queues);
  return TRUE;
}

/**
 * VhostUserBackend::set-vring-enable:
 * @self: the back-end
 * @invocation: the request, to answer
 * @index: the queue
 * @enable: whether to enable it
 *
 * The front-end enables or disables a ring. Default: record it.
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
static gboolean
real_set_vring_enable (VhostUserBackend    *self,
                       VhostUserInvocation *invocation,
                       guint                index,
                       gboolean             enable)
{
  vhost_user_vring_set_enabled (vring_at (self, index), enable);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

/**
 * VhostUserBackend::send-rarp:
 * @self: the back-end
 * @invocation: the request, to answer
 * @mac: the guest's MAC address in the first 6 bytes
 *
 * A net device should announce the guest's MAC address. Default: accept and do nothing.
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */

/**
 * VhostUserBackend::net-set-mtu:
 * @self: the back-end
 * @invocation: the request, to answer
 * @mtu: the MTU
 *
 * A net device is told its MTU. Default: accept.
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
static gboolean
real_accept (VhostUserBackend    *self,
             VhostUserInvocation *invocation,
             guint64              value)
{
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}




static gboolean
real_unsupported (VhostUserBackend    *self,
                  VhostUserInvocation *invocation)
{
  vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_OPERATION,
                                       "%s is not implemented by this device",
                                       vhost_user_invocation_get_request_name (invocation));
  return TRUE;
}

/* An invalidation waiting for the requests that may still write
 * through what it removes: a source in the back-end's context, made with
 * the invalidation and woken when its fence is through (possibly in a
 * ring's thread, under its lock: nothing is made or freed there). The
 * context holds one reference, the fence another, dropped here once the
 * fence's function is surely done with it (or when the fence is
 * cancelled, see vhost_user_backend_update_iotlb()). */
typedef struct {
  GSource              source;
  VhostUserInvocation *invocation;
  VhostUserIotlb      *iotlb;
} HeldInvalidation;

static gboolean
answer_invalidation (GSource     *source,
                     GSourceFunc  callback,
                     gpointer     user_data)
{
  HeldInvalidation *held = (HeldInvalidation *) source;

  vhost_user_invocation_return_ack (held->invocation);
  vhost_user_iotlb_sync (held->iotlb);
  g_source_unref (source);   /* the fence's */
  return G_SOURCE_REMOVE;
}

static void
held_invalidation_finalize (GSource *source)
{
  HeldInvalidation *held = (HeldInvalidation *) source;

  g_clear_object (&held->invocation);
  g_clear_pointer (&held->iotlb, vhost_user_iotlb_unref);
}

static GSourceFuncs held_invalidation_funcs = {
  NULL, NULL, answer_invalidation, held_invalidation_finalize, NULL, NULL
};

static void
invalidation_done (gpointer data)
{
  g_source_set_ready_time (data, 0);
}

/* Whether [@user_addr, @user_addr + @size) is all guest memory. */
static gboolean
in_guest_memory (VhostUserMemoryTable *table,
                 guint64               user_addr,
                 guint64               size)
{
  guint64 done = 0;

  while (done < size)
    {
      guint64 len = size - done;

      if (table == NULL || vhost_user_memory_table_translate_user_addr (table, user_addr + done, &len) == NULL)
        return FALSE;
      done += len;
    }
  return TRUE;
}

/**
 * VhostUserBackend::iotlb-msg:
 * @self: the back-end
 * @invocation: the request, to answer
 * @iova: the I/O virtual address
 * @size: the range's size
 * @user_addr: the front-end address it maps to (updates only)
 * @perm: the access allowed, a #VhostUserIotlbPerm (1 read, 2 write, 3 both; updates only)
 * @type: a #VhostUserIotlbType: 2 update, 3 invalidate, 4 access failure
 *
 * The front-end, as the guest's IOMMU, maps or unmaps I/O virtual
 * addresses (with `VIRTIO_F_ACCESS_PLATFORM` every address the driver
 * gives is one). Default: keep the IOTLB the rings translate through.
 *
 * An update maps [@iova, @iova + @size) to front-end address @user_addr
 * with the access @perm allows; it is refused
 * (%VHOST_USER_ERROR_INVALID_PARAM) when it is empty, wraps around the
 * address space, has no known permission, is not all guest memory, or
 * overlaps a different mapping (the same one twice is accepted). A ring
 * that waited for it (a miss: `BACKEND_IOTLB_MSG`, sent with
 * vhost_user_backend_send_iotlb_miss_async()) tries again.
 *
 * An invalidation removes every mapping it touches; one that runs past
 * the end of the address space means up to its end (QEMU's whole-space
 * flush), and its address and permission fields are ignored (QEMU leaves
 * garbage there). A range never mapped is acknowledged: there is nothing
 * to forget. Requests the device holds may still write through what it
 * removes, so the answer is held until every request out with the
 * device whose buffers lie in the range (between its lowest and highest
 * IOVA), or every request out if the range covers the ring itself (a
 * push writes there), has been pushed back: hold, then finish.
 * Acknowledging at once would let a device write into memory the guest
 * already reused, and failing those requests could not stop a write
 * already under way. A device that holds buffers for long (a network
 * device's receive buffers) should pop them only when it has data for
 * them: the guest's lazy flushes cover everything.
 *
 * An access failure says the IOMMU will not map the range: a ring
 * waiting for an IOVA in it breaks, and its next pop fails with the
 * reason.
 *
 * The table is emptied when a ring stops (`GET_VRING_BASE`) or the device
 * resets: QEMU hears of the guest's unmaps only while the device runs.
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
static gboolean
real_iotlb_msg (VhostUserBackend    *self,
                VhostUserInvocation *invocation,
                guint64              iova,
                guint64              size,
                guint64              user_addr,
                guint                perm,
                guint                type)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  g_autoptr(GError) error = NULL;
  HeldInvalidation *held;
  VhostUserIotlbFence *fence;
  guint n_removed;
  guint64 last;
  guint n_held = 0;

  if (priv->iotlb == NULL)
    {
      vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_OPERATION,
                                           "IOTLB_MSG without VIRTIO_F_ACCESS_PLATFORM");
      return TRUE;
    }

  switch (type)
    {
    case VHOST_USER_IOTLB_UPDATE:
      if (size != 0 && size - 1 <= G_MAXUINT64 - user_addr && !in_guest_memory (priv->memory_table, user_addr, size))
        {
          vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_PARAM,
                                               "IOTLB update of IOVA 0x%" G_GINT64_MODIFIER "x to 0x%" G_GINT64_MODIFIER "x"
                                               " (0x%" G_GINT64_MODIFIER "x bytes) is not all guest memory",
                                               iova, user_addr, size);
          return TRUE;
        }
      if (!vhost_user_iotlb_update (priv->iotlb, iova, size, user_addr, perm, &error))
        {
          vhost_user_invocation_return_error (invocation, error);
          return TRUE;
        }
      VHOST_USER_NOTE (VRING, "IOTLB: 0x%" G_GINT64_MODIFIER "x+0x%" G_GINT64_MODIFIER "x -> 0x%" G_GINT64_MODIFIER "x (%u)",
                       iova, size, user_addr, perm);
      vhost_user_invocation_return_ack (invocation);
      for (guint i = 0; i < priv->vrings->len; i++)
        vhost_user_vring_iotlb_updated (vring_at (self, i));
      return TRUE;

    case VHOST_USER_IOTLB_INVALIDATE:
      if (!vhost_user_iotlb_invalidate (priv->iotlb, iova, size, &n_removed, &error))
        {
          vhost_user_invocation_return_error (invocation, error);
          return TRUE;
        }
      /* whatever it removed: a held buffer's entry may have gone with an
       * earlier invalidation of a neighbour (or been evicted) */
      held = (HeldInvalidation *) g_source_new (&held_invalidation_funcs, sizeof (HeldInvalidation));
      held->invocation = g_object_ref (invocation);
      held->iotlb = vhost_user_iotlb_ref (priv->iotlb);
      g_source_set_static_name (&held->source, "VhostUserBackend IOTLB invalidation");
      g_source_set_ready_time (&held->source, -1);
      g_source_attach (&held->source, priv->context);
      /* (our reference is the fence's from now on) */
      fence = vhost_user_iotlb_fence_new (priv->iotlb, invalidation_done, held);
      last = size - 1 > G_MAXUINT64 - iova ? G_MAXUINT64 : iova + (size - 1);
      for (guint i = 0; i < priv->vrings->len; i++)
        n_held += vhost_user_vring_iotlb_fence (vring_at (self, i), fence, iova, last);
      if (n_held > 0)
        VHOST_USER_NOTE (VRING, "IOTLB: the invalidation of 0x%" G_GINT64_MODIFIER "x+0x%" G_GINT64_MODIFIER "x"
                         " (%u entries) waits for %u requests the device holds", iova, size, n_removed, n_held);
      vhost_user_iotlb_fence_release (fence);
      return TRUE;

    case VHOST_USER_IOTLB_ACCESS_FAIL:
      for (guint i = 0; i < priv->vrings->len; i++)
        vhost_user_vring_iotlb_failed (vring_at (self, i), iova, MAX (size, 1),
                                       "the front-end's IOMMU does not map it (IOTLB access failure)");
      vhost_user_invocation_return_ack (invocation);
      return TRUE;

    default:
      vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_PARAM,
                                           "IOTLB message type %u is not one a front-end sends", type);
      return TRUE;
    }
}

/**
 * VhostUserBackend::set-vring-endian:
 * @self: the back-end
 * @invocation: the request, to answer
 * @index: the queue
 * @big_endian: 1 for a big-endian legacy ring
 *
 * The front-end sets a legacy ring's endianness. Default: accept little-endian only.
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
static gboolean
real_set_vring_endian (VhostUserBackend    *self,
                       VhostUserInvocation *invocation,
                       guint                index,
                       guint                big_endian)
{
  /* only legacy devices may be big-endian, and we are not one */
  if (big_endian != 0)
    vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_PARAM, "Big-endian rings are not supported");
  else
    vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

/* A write must fall inside the device's config; a read may go on to the
 * spec's 256 bytes, the invocation answering zeros past the config. */
static gboolean
config_range_ok (VhostUserBackend    *self,
                 VhostUserInvocation *invocation,
                 guint                offset,
                 guint                size,
                 gboolean             reading)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  gsize config_len = priv->config != NULL ? g_bytes_get_size (priv->config) : 0;
  gsize bound = reading ? MAX (config_len, VHOST_USER_CONFIG_SPACE_SIZE) : config_len;

  if (size == 0 || (guint64) offset + size > bound)
    {
      vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_PARAM,
                                           "Config range %u+%u is outside the %" G_GSIZE_FORMAT "-byte config space",
                                           offset, size, config_len);
      return FALSE;
    }
  return TRUE;
}

/**
 * VhostUserBackend::get-config:
 * @self: the back-end
 * @invocation: the request, to answer
 * @offset: where to start reading
 * @size: how many bytes
 * @flags: the request's flags
 *
 * The front-end reads the config space. Default: reply from
 * [property@VhostUser.Backend:config]; what lies past its end, within the
 * 256 bytes the specification gives the config space, reads as zeros
 * (see vhost_user_invocation_return_config()); ranges beyond are refused.
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
static gboolean
real_get_config (VhostUserBackend    *self,
                 VhostUserInvocation *invocation,
                 guint                offset,
                 guint                size,
                 guint                flags)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  g_autoptr(GBytes) slice = NULL;
  gsize config_len;

  if (!config_range_ok (self, invocation, offset, size, TRUE))
    return TRUE;
  config_len = priv->config != NULL ? g_bytes_get_size (priv->config) : 0;
  if (offset >= config_len)
    slice = g_bytes_new (NULL, 0);
  else
    slice = g_bytes_new_from_bytes (priv->config, offset, MIN (size, config_len - offset));
  vhost_user_invocation_return_config (invocation, slice);
  return TRUE;
}

/**
 * VhostUserBackend::set-config:
 * @self: the back-end
 * @invocation: the request, to answer
 * @offset: where to start writing
 * @flags: 0 for a driver write, 1 during migration
 * @data: the bytes
 *
 * The front-end writes the config space. Default: apply the write where
 * [property@VhostUser.Backend:config-writable-mask] allows it, refuse it otherwise.
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
/* Writes land only where the writable mask has bits set; a write that
 * would change a read-only byte is refused whole. */
static gboolean
real_set_config (VhostUserBackend    *self,
                 VhostUserInvocation *invocation,
                 guint                offset,
                 guint                flags,
                 GBytes              *data)
{
  VhostUserBackendPrivate *priv = priv_of (self);
  gsize size = g_bytes_get_size (data);
  const guint8 *src = g_bytes_get_data (data, NULL);
  const guint8 *mask = NULL;
  gsize mask_len = 0;
  g_autofree guint8 *config = NULL;
  gsize config_len;

  if (!config_range_ok (self, invocation, offset, size, FALSE))
    return TRUE;

  config = g_bytes_unref_to_data (g_bytes_ref (priv->config), &config_len);
  if (priv->config_writable_mask != NULL)
    mask = g_bytes_get_data (priv->config_writable_mask, &mask_len);

  for (gsize i = 0; i < size; i++)
    {
      guint8 writable = offset + i < mask_len ? mask[offset + i] : 0;

      if ((config[offset + i] ^ src[i]) & ~writable)
        {
          vhost_user_invocation_return_errorf (invocation, VHOST_USER_ERROR_INVALID_PARAM,
                                               "Config byte %" G_GSIZE_FORMAT " is read-only", offset + i);
          return TRUE;
        }
      config[offset + i] = src[i];
    }

  g_bytes_unref (priv->config);
  priv->config = g_bytes_new_take (g_steal_pointer (&config), config_len);
  vhost_user_notify (G_OBJECT (self), vhost_user_backend_pspecs[PROP_CONFIG]);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

/**
 * VhostUserBackend::create-crypto-session:
 * @self: the back-end
 * @invocation: the request, to answer
 * @session: the session parameters as sent
 *
 * The front-end creates a crypto session. Default: refuse.
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
static gboolean
real_create_crypto_session (VhostUserBackend    *self,
                            VhostUserInvocation *invocation,
                            GBytes              *session)
{
  return real_unsupported (self, invocation);
}

/**
 * VhostUserBackend::close-crypto-session:
 * @self: the back-end
 * @invocation: the request, to answer
 * @session_id: the session
 *
 * The front-end closes a crypto session. Default: refuse.
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
static gboolean
real_close_crypto_session (VhostUserBackend    *self,
                           VhostUserInvocation *invocation,
                           guint64              session_id)
{
  return real_unsupported (self, invocation);
}

/**
 * VhostUserBackend::gpu-set-socket:
 * @self: the back-end
 * @invocation: the request, to answer
 * @fd: the vhost-user-gpu socket; borrowed for the emission
 *   (a handler that keeps it dup()s it)
 *
 * A vhost-user-gpu front-end passes its socket. Default: refuse.
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
static gboolean
real_fd_unsupported (VhostUserBackend    *self,
                     VhostUserInvocation *invocation,
                     int                  fd)
{
  return real_unsupported (self, invocation);
}

/**
 * VhostUserBackend::reset-device:
 * @self: the back-end
 * @invocation: the request, to answer
 *
 * The front-end resets the device. Default: every ring back to its initial state, status 0;
 * ownership and the protocol session stay.
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
/* Back to the state after negotiation: rings stopped, disabled and
 * forgotten, status 0. Ownership and the protocol session stay. */
static gboolean
real_reset_device (VhostUserBackend    *self,
                   VhostUserInvocation *invocation)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  for (guint i = 0; i < priv->vrings->len; i++)
    vhost_user_vring_reset (vring_at (self, i));
  forget_iotlb (self);
  vhost_user_backend_update_status (self, 0);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

/**
 * VhostUserBackend::vring-kick:
 * @self: the back-end
 * @invocation: the request, to answer
 * @index: the queue
 *
 * An in-band kick. Default: start the ring.
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
static gboolean
real_vring_kick (VhostUserBackend    *self,
                 VhostUserInvocation *invocation,
                 guint                index)
{
  VhostUserVring *vring = vring_at (self, index);

  /* starting the ring looks at it once; a started one is looked at now */
  if (vhost_user_vring_get_started (vring))
    vhost_user_vring_kick (vring);
  else
    vhost_user_vring_set_started (vring, TRUE);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

/**
 * VhostUserBackend::get-max-mem-slots:
 * @self: the back-end
 * @invocation: the request, to answer
 *
 * The front-end asks how many memory regions may be mapped. Default:
 * [property@VhostUser.Backend:max-mem-slots].
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
static gboolean
real_get_max_mem_slots (VhostUserBackend    *self,
                        VhostUserInvocation *invocation)
{
  vhost_user_invocation_return_u64 (invocation, priv_of (self)->max_mem_slots);
  return TRUE;
}

/**
 * VhostUserBackend::set-status:
 * @self: the back-end
 * @invocation: the request, to answer
 * @status: the virtio device status
 *
 * The front-end sets the device status. Default: record it in
 * [property@VhostUser.Backend:status].
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
static gboolean
real_set_status (VhostUserBackend    *self,
                 VhostUserInvocation *invocation,
                 guint64              status)
{
  vhost_user_backend_update_status (self, status);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

/**
 * VhostUserBackend::get-status:
 * @self: the back-end
 * @invocation: the request, to answer
 *
 * The front-end reads the device status. Default: [property@VhostUser.Backend:status].
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
static gboolean
real_get_status (VhostUserBackend    *self,
                 VhostUserInvocation *invocation)
{
  vhost_user_invocation_return_u64 (invocation, priv_of (self)->status);
  return TRUE;
}

/**
 * VhostUserBackend::set-device-state-fd:
 * @self: the back-end
 * @invocation: the request, to answer
 * @direction: 0 save, 1 load
 * @phase: 0 stopped
 * @fd: the pipe end; borrowed for the emission
 *   (a handler that keeps it dup()s it)
 *
 * The front-end starts a device-state transfer. Default: check that @fd
 * is a pipe, answer that it will be used, and give the device a stream
 * over it with [signal@VhostUser.Backend::save-state] or
 * [signal@VhostUser.Backend::load-state].
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */

/**
 * VhostUserBackend::check-device-state:
 * @self: the back-end
 * @invocation: the request, to answer
 *
 * The front-end asks whether the state transfer succeeded. Default:
 * answer once the device closed the transfer's stream: success, or the
 * error given to vhost_user_backend_fail_state_transfer().
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */

/**
 * VhostUserBackend::get-vring-base-skip-drain:
 * @self: the back-end
 * @invocation: the request, to answer
 * @index: the queue
 *
 * The front-end stops a ring without waiting for its requests in flight
 * and asks where it stands. Default: stop it at once and reply with its
 * base, which counts the requests in flight as taken; they stay recorded
 * in the in-flight area (if there is one), so a successor given the area
 * resubmits them, and the device's late completions of them are dropped.
 *
 * Returns: %TRUE if the handler answers @invocation (now or later)
 *
 * Since: 1.0
 */
static gboolean
real_get_vring_base_skip_drain (VhostUserBackend    *self,
                                VhostUserInvocation *invocation,
                                guint                index)
{
  forget_iotlb (self);
  answer_vring_base_now (vring_at (self, index), invocation);
  return TRUE;
}

/* --- the table: which class closure serves which request --- */

#define HANDLER(request, vfunc, func) \
  [VHOST_USER_REQUEST_##request] = { G_STRUCT_OFFSET (VhostUserBackendClass, vfunc), (GCallback) (func) }

static const struct {
  gsize     class_offset;
  GCallback func;
} handlers[] = {
  HANDLER (GET_FEATURES,          handle_get_features, real_get_features),
  HANDLER (SET_FEATURES,          handle_set_features, real_set_features),
  HANDLER (SET_OWNER,             handle_set_owner, real_set_owner),
  HANDLER (RESET_OWNER,           handle_reset_owner, real_reset_owner),
  HANDLER (SET_MEM_TABLE,         handle_set_mem_table, vhost_user_backend_real_set_mem_table),
  HANDLER (SET_LOG_BASE,          handle_set_log_base, vhost_user_backend_real_set_log_base),
  HANDLER (SET_LOG_FD,            handle_set_log_fd, vhost_user_backend_real_set_log_fd),
  HANDLER (SET_VRING_NUM,         handle_set_vring_num, real_set_vring_num),
  HANDLER (SET_VRING_ADDR,        handle_set_vring_addr, real_set_vring_addr),
  HANDLER (SET_VRING_BASE,        handle_set_vring_base, real_set_vring_base),
  HANDLER (GET_VRING_BASE,        handle_get_vring_base, real_get_vring_base),
  HANDLER (SET_VRING_KICK,        handle_set_vring_kick, real_set_vring_kick),
  HANDLER (SET_VRING_CALL,        handle_set_vring_call, real_set_vring_call),
  HANDLER (SET_VRING_ERR,         handle_set_vring_err, real_set_vring_err),
  HANDLER (GET_PROTOCOL_FEATURES, handle_get_protocol_features, real_get_protocol_features),
  HANDLER (SET_PROTOCOL_FEATURES, handle_set_protocol_features, real_set_protocol_features),
  HANDLER (GET_QUEUE_NUM,         handle_get_queue_num, real_get_queue_num),
  HANDLER (SET_VRING_ENABLE,      handle_set_vring_enable, real_set_vring_enable),
  HANDLER (SEND_RARP,             handle_send_rarp, real_accept),
  HANDLER (NET_SET_MTU,           handle_net_set_mtu, real_accept),
  HANDLER (SET_BACKEND_REQ_FD,    handle_set_backend_req_fd, vhost_user_backend_real_set_backend_req_fd),
  HANDLER (IOTLB_MSG,             handle_iotlb_msg, real_iotlb_msg),
  HANDLER (SET_VRING_ENDIAN,      handle_set_vring_endian, real_set_vring_endian),
  HANDLER (GET_CONFIG,            handle_get_config, real_get_config),
  HANDLER (SET_CONFIG,            handle_set_config, real_set_config),
  HANDLER (CREATE_CRYPTO_SESSION, handle_create_crypto_session, real_create_crypto_session),
  HANDLER (CLOSE_CRYPTO_SESSION,  handle_close_crypto_session, real_close_crypto_session),
  HANDLER (POSTCOPY_ADVISE,       handle_postcopy_advise, vhost_user_backend_real_postcopy_advise),
  HANDLER (POSTCOPY_LISTEN,       handle_postcopy_listen, vhost_user_backend_real_postcopy_listen),
  HANDLER (POSTCOPY_END,          handle_postcopy_end, vhost_user_backend_real_postcopy_end),
  HANDLER (GET_INFLIGHT_FD,       handle_get_inflight_fd, vhost_user_backend_real_get_inflight_fd),
  HANDLER (SET_INFLIGHT_FD,       handle_set_inflight_fd, vhost_user_backend_real_set_inflight_fd),
  HANDLER (GPU_SET_SOCKET,        handle_gpu_set_socket, real_fd_unsupported),
  HANDLER (RESET_DEVICE,          handle_reset_device, real_reset_device),
  HANDLER (VRING_KICK,            handle_vring_kick, real_vring_kick),
  HANDLER (GET_MAX_MEM_SLOTS,     handle_get_max_mem_slots, real_get_max_mem_slots),
  HANDLER (ADD_MEM_REG,           handle_add_mem_reg, vhost_user_backend_real_add_mem_reg),
  HANDLER (REM_MEM_REG,           handle_rem_mem_reg, vhost_user_backend_real_rem_mem_reg),
  HANDLER (SET_STATUS,            handle_set_status, real_set_status),
  HANDLER (GET_STATUS,            handle_get_status, real_get_status),
  HANDLER (GET_SHARED_OBJECT,     handle_get_shared_object, vhost_user_backend_real_get_shared_object),
  HANDLER (SET_DEVICE_STATE_FD,   handle_set_device_state_fd, vhost_user_backend_real_set_device_state_fd),
  HANDLER (CHECK_DEVICE_STATE,    handle_check_device_state, vhost_user_backend_real_check_device_state),
  HANDLER (GET_SHMEM_CONFIG,      handle_get_shmem_config, vhost_user_backend_real_get_shmem_config),
  HANDLER (GET_VRING_BASE_SKIP_DRAIN, handle_get_vring_base_skip_drain, real_get_vring_base_skip_drain),
};

G_STATIC_ASSERT (G_N_ELEMENTS (handlers) == VHOST_USER_LAST_REQUEST + 1);

/* Puts the defaults in @klass and says where each one sits, for the
 * signals' class closures. */
void
vhost_user_backend_install_handlers (VhostUserBackendClass *klass,
                                     gsize                 *class_offsets)
{
  for (guint number = 1; number < G_N_ELEMENTS (handlers); number++)
    {
      g_assert (handlers[number].func != NULL);
      G_STRUCT_MEMBER (GCallback, klass, handlers[number].class_offset) = handlers[number].func;
      class_offsets[number] = handlers[number].class_offset;
    }
}
