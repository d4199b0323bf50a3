/* vhost-user-vring-receive.c: a packet into a receive queue's buffers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A network device's receive queue is where it writes: each packet goes
 * into the buffers the driver posted, after a header, into one request or
 * (with merged receive buffers) into as many as it takes, whose count the
 * header carries. Built on pop, unpop and push alone.
 */

#include "config.h"

#include "vhost-user-error.h"
#include "vhost-user-vring.h"

/* Newest first; a request that cannot go back (the ring stopped since)
 * is given back used, with nothing written. */
static void
give_back (VhostUserVring        *self,
           VhostUserVringElement *scratch,
           guint                  n)
{
  while (n-- > 0)
    if (!vhost_user_vring_unpop (self, scratch[n].head, NULL))
      vhost_user_vring_push (self, scratch[n].head, 0, NULL);
}

/* Pops until the requests hold @need bytes, @max requests, or the ring
 * runs out. Returns how many it took, with @error when the ring broke
 * (those taken are given back used then: a broken ring takes nothing). */
static guint
take (VhostUserVring        *self,
      VhostUserVringElement *scratch,
      guint                  max,
      gsize                  need,
      gsize                 *room,
      GError               **error)
{
  GError *local_error = NULL;
  guint n = 0;

  *room = 0;
  while (*room < need && n < max && vhost_user_vring_pop (self, &scratch[n], &local_error))
    *room += scratch[n++].in_len;
  if (local_error != NULL)
    {
      for (guint i = 0; i < n; i++)
        vhost_user_vring_push (self, scratch[i].head, 0, NULL);
      g_propagate_error (error, local_error);
    }
  return n;
}

/**
 * vhost_user_vring_receive:
 * @self: a started ring the device writes into (a network receive queue)
 * @scratch: (array length=n_scratch): requests to pop into: a packet takes
 *   at most this many (and at most %VHOST_USER_VRING_MAX_UNPOP)
 * @n_scratch: how many @scratch holds
 * @header: (array length=header_len) (nullable): what goes before the
 *   packet (a virtio-net header)
 * @header_len: its size, which the first request must hold
 * @num_buffers_offset: where in @header the number of requests used goes
 *   (a little-endian 16-bit count: `num_buffers` with
 *   `VIRTIO_NET_F_MRG_RXBUF`), or -1 for one request per packet
 * @data: (array length=len): the packet
 * @len: its size
 * @n_used: (out) (optional): how many requests it took
 * @error: return location for a #GError
 *
 * Writes @header and @data into the requests the driver posted, and hands
 * them back at once (one used index step, so the driver never sees half a
 * packet). With @num_buffers_offset a packet spreads over as many requests
 * as it needs, and the first one's header says how many. Tell the driver
 * with vhost_user_vring_call() once a batch of packets is in.
 *
 * When the ring holds too little now, nothing is taken: the requests
 * popped are handed back (vhost_user_vring_unpop()) and the driver is
 * asked to kick when it posts more. Never allocates.
 *
 * Returns: %TRUE when the packet is in; %FALSE without @error when the
 *   ring has no room for it now; %FALSE with @error when the packet can
 *   never fit (larger than @n_scratch requests, or one request without
 *   merged buffers, hold, or a first request shorter than the header: drop
 *   it) or the driver broke the ring
 *
 * Since: 1.0
 */
gboolean
vhost_user_vring_receive (VhostUserVring         *self,
                          VhostUserVringElement  *scratch,
                          guint                   n_scratch,
                          const guint8           *header,
                          gsize                   header_len,
                          gssize                  num_buffers_offset,
                          const guint8           *data,
                          gsize                   len,
                          guint                  *n_used,
                          GError                **error)
{
  guint heads[VHOST_USER_VRING_MAX_UNPOP], lens[VHOST_USER_VRING_MAX_UNPOP];
  gsize need = header_len + len, room = 0, done = 0;
  gboolean merged = num_buffers_offset >= 0;
  guint max, n = 0;
  guint8 count[2];

  g_return_val_if_fail (VHOST_USER_IS_VRING (self), FALSE);
  g_return_val_if_fail (scratch != NULL && n_scratch > 0, FALSE);
  g_return_val_if_fail (header != NULL || header_len == 0, FALSE);
  g_return_val_if_fail (data != NULL || len == 0, FALSE);
  g_return_val_if_fail (!merged || (gsize) num_buffers_offset + 2 <= header_len, FALSE);

  if (n_used != NULL)
    *n_used = 0;
  max = merged ? MIN (n_scratch, VHOST_USER_VRING_MAX_UNPOP) : 1;

  /* short: hand them back, which asks for a kick, and look once more
   * (for buffers posted before that request was seen) */
  for (guint attempt = 0; attempt < 2; attempt++)
    {
      GError *local_error = NULL;

      n = take (self, scratch, max, need, &room, &local_error);
      if (local_error != NULL)
        {
          g_propagate_error (error, local_error);
          return FALSE;
        }
      if (n == 0)
        return FALSE;
      if (room >= need && scratch[0].in_len >= header_len)
        break;
      give_back (self, scratch, n);
      if (scratch[0].in_len < header_len || n == max)
        {
          g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                       "Queue %u: a %" G_GSIZE_FORMAT "-byte packet does not fit in %" G_GSIZE_FORMAT
                       " bytes of receive buffers (%u of them)",
                       vhost_user_vring_get_index (self), need, room, n);
          return FALSE;
        }
      n = 0;
    }
  if (n == 0)
    return FALSE;

  vhost_user_vring_element_write (&scratch[0], 0, header, header_len);
  for (guint i = 0; i < n; i++)
    {
      gsize at = i == 0 ? header_len : 0;
      gsize piece = vhost_user_vring_element_write (&scratch[i], at, data + done, len - done);

      done += piece;
      heads[i] = scratch[i].head;
      lens[i] = at + piece;
    }
  if (merged)
    {
      count[0] = n & 0xff;
      count[1] = n >> 8;
      vhost_user_vring_element_write (&scratch[0], num_buffers_offset, count, 2);
    }
  if (!vhost_user_vring_push_batch (self, heads, lens, n, error))
    {
      /* refused whole, it hands nothing back: each on its own then,
       * which the ring takes or, refusing it, counts done with */
      for (guint i = 0; n > 1 && i < n; i++)
        vhost_user_vring_push (self, heads[i], lens[i], NULL);
      return FALSE;
    }
  if (n_used != NULL)
    *n_used = n;
  return TRUE;
}
