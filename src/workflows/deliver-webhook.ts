import { proxyActivities, sleep, workflowInfo } from '@temporalio/workflow';
import type { createWebhookActivities } from '../activities/webhooks.ts';
import { backoffSeconds, type DeliverWebhookInput } from '../domain/webhooks.ts';

type Activities = ReturnType<typeof createWebhookActivities>;

/**
 * An attempt that could not even be made (the database down, the worker killed mid-send) is
 * retried by Temporal without end, and costs none of the delivery's own attempts; the time it
 * takes still counts against the window.
 */
const activitiesOf = (input: DeliverWebhookInput) =>
  proxyActivities<Activities>({
    startToCloseTimeout: `${input.schedule.attemptTimeoutSeconds} seconds`,
    retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
  });

/**
 * One webhook delivery, durably: attempts until the endpoint answers 2xx, waiting between them
 * with exponential backoff and jitter (a Temporal timer: it survives restarts of every role), and
 * marks it failed once the next wait would end past the window. Each attempt is an activity, so
 * every one shows in the Temporal UI. Started after the dispatcher's own first attempt failed
 * (`attemptsMade`), it waits first; a redelivery's run starts with an attempt.
 */
export async function deliverWebhook(input: DeliverWebhookInput): Promise<'delivered' | 'failed' | 'gone'> {
  const { schedule } = input;
  const { sendWebhook, failWebhook } = activitiesOf(input);
  const started = workflowInfo().startTime.getTime();
  for (let attempt = input.attemptsMade ?? 0; ;) {
    if (attempt > 0) {
      // Math.random in a workflow is seeded by Temporal: replays take the same waits.
      const wait = backoffSeconds(schedule, attempt, Math.random());
      if ((Date.now() - started) / 1000 + wait > schedule.windowSeconds) {
        await failWebhook(input.deliveryId, schedule.windowSeconds);
        return 'failed';
      }
      await sleep(Math.round(wait * 1000));
    }
    attempt++;
    const outcome = await sendWebhook(input.deliveryId);
    if (outcome !== 'retry') return outcome;
  }
}
