import { Webhook } from 'standardwebhooks';
import { fetch } from 'undici';
import type { WebhookRepository } from '../db/webhooks.ts';
import type { Logger } from '../logger.ts';
import type { WebhookSending } from '../domain/webhooks.ts';
import type { ActivityDeps } from './deps.ts';
import { forbiddenLiteral, guardedAgent } from './guarded-agent.ts';

/** What one attempt led to: the delivery is done, to be tried again, or no longer wanted. */
export type SendOutcome = 'delivered' | 'retry' | 'gone';

/** Bytes of an answer read (and kept in the attempt's error) at most: a receiver cannot make us read more. */
const answerLimit = 4096;

async function readSome(body: ReadableStream<Uint8Array> | null): Promise<string> {
  if (!body) return '';
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < answerLimit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, answerLimit).toString('utf8');
}

export interface WebhookSender {
  repo: WebhookRepository;
  sending: WebhookSending;
  logger: Logger;
}

/**
 * One attempt of a delivery, signed as Standard Webhooks says (the delivery's id as `webhook-id`
 * on every attempt), recorded with its answer. The dispatcher makes the first one itself; the
 * delivery's workflow makes the ones after a failure.
 */
export async function attemptDelivery(
  { repo, sending, logger }: WebhookSender,
  deliveryId: string,
): Promise<SendOutcome> {
  const found = await repo.delivery(deliveryId);
  // The endpoint (and with it the delivery) was deleted: nothing more to send.
  if (!found) return 'gone';
  const { delivery, endpoint } = found;
  if (delivery.status === 'delivered') return 'delivered';
  if (!endpoint.enabled) {
    await repo.markFailed(deliveryId, 'the endpoint is disabled');
    return 'gone';
  }
  const startedAt = new Date();
  let statusCode: number | null = null;
  let error: string | null = null;
  const url = new URL(endpoint.url);
  const refused = forbiddenLiteral(url, sending.allowPrivateAddresses);
  if (refused) error = `refused to send to ${url.origin}: ${refused}`;
  else {
    const agent = guardedAgent(sending.allowPrivateAddresses);
    try {
      const res = await fetch(url, {
        method: 'POST',
        dispatcher: agent,
        redirect: 'manual',
        signal: AbortSignal.timeout(sending.timeoutMs),
        headers: {
          'content-type': 'application/json',
          'user-agent': sending.userAgent,
          'webhook-id': delivery.id,
          'webhook-timestamp': String(Math.floor(startedAt.getTime() / 1000)),
          'webhook-signature': new Webhook(endpoint.secret).sign(delivery.id, startedAt, delivery.body),
        },
        body: delivery.body,
      });
      statusCode = res.status;
      const answer = await readSome(res.body as ReadableStream<Uint8Array> | null);
      if (res.status < 200 || res.status >= 300)
        error = `answered ${res.status}${res.status >= 300 && res.status < 400 ? ' (redirects are not followed)' : ''}${answer ? `: ${answer.slice(0, 200)}` : ''}`;
    } catch (err) {
      const e = err as Error & { cause?: { message?: string } };
      error =
        e.name === 'TimeoutError' ? `no answer within ${sending.timeoutMs / 1000} s` : (e.cause?.message ?? e.message);
    } finally {
      await agent.close().catch(() => undefined);
    }
  }
  const ok = error === null;
  const recorded = await repo.recordAttempt(deliveryId, {
    startedAt,
    durationMs: Date.now() - startedAt.getTime(),
    statusCode,
    error,
    ok,
  });
  if (!recorded) return 'gone';
  logger.info(
    { deliveryId, endpoint: endpoint.id, type: delivery.type, statusCode, error, attempt: delivery.attempts + 1 },
    ok ? 'webhook delivered' : 'webhook attempt failed',
  );
  if (ok) return 'delivered';
  if (recorded.failingSeconds >= sending.disableAfterSeconds) {
    const reason = `every attempt failed for ${Math.round(recorded.failingSeconds)} s (webhooks.disable_after_seconds); last: ${error}`;
    if (await repo.disable(endpoint.id, reason))
      logger.warn({ endpoint: endpoint.id, url: endpoint.url }, 'webhook endpoint disabled');
    await repo.markFailed(deliveryId, 'the endpoint was disabled');
    return 'gone';
  }
  return 'retry';
}

/** The webhook activities: an attempt of a delivery, and the end of a delivery whose window passed. */
export const createWebhookActivities = (deps: ActivityDeps) => {
  const repository = () => {
    if (!deps.webhooks) throw new Error('this worker was started without webhook deliveries');
    return deps.webhooks;
  };
  return {
    sendWebhook: (deliveryId: string): Promise<SendOutcome> =>
      attemptDelivery({ ...repository(), logger: deps.logger }, deliveryId),

    async failWebhook(deliveryId: string, windowSeconds: number): Promise<void> {
      await repository().repo.markFailed(
        deliveryId,
        `no 2xx answer within ${windowSeconds} s (webhooks.retry_window_seconds)`,
      );
    },
  };
};
