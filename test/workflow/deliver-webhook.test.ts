import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { SendOutcome } from '../../src/activities/webhooks.ts';
import { workflowsPath } from '../../src/cli/workflow-code.ts';
import type { DeliverWebhookInput, DeliverySchedule } from '../../src/domain/webhooks.ts';
import { temporalAddress } from '../helpers/services.ts';

/** The delivery workflow on the real Temporal dev server, its two activities replaced by recording fakes. */
Runtime.install({ logger: new DefaultLogger('WARN') });

let bundle: WorkflowBundleWithSourceMap;
let nativeConnection: NativeConnection;
let connection: Connection;
let client: Client;

beforeAll(async () => {
  bundle = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
  nativeConnection = await NativeConnection.connect({ address: temporalAddress });
  connection = await Connection.connect({ address: temporalAddress });
  client = new Client({ connection });
}, 120_000);
afterAll(async () => {
  await connection?.close();
  await nativeConnection?.close();
});

const schedule: DeliverySchedule = {
  initialBackoffSeconds: 0.4,
  maxBackoffSeconds: 1,
  windowSeconds: 60,
  attemptTimeoutSeconds: 5,
};

/** Runs one delivery whose attempts answer `outcomes` in turn; the result, and when each activity ran (ms after start). */
async function run(input: Omit<DeliverWebhookInput, 'deliveryId'>, outcomes: SendOutcome[]) {
  const taskQueue = `wh-test-${randomUUID()}`;
  const calls: { name: string; at: number }[] = [];
  let t0 = 0;
  const activities = {
    async sendWebhook(): Promise<SendOutcome> {
      calls.push({ name: 'send', at: Date.now() - t0 });
      return outcomes.shift() ?? 'delivered';
    },
    async failWebhook(): Promise<void> {
      calls.push({ name: 'fail', at: Date.now() - t0 });
    },
  };
  const worker = await Worker.create({ connection: nativeConnection, taskQueue, workflowBundle: bundle, activities });
  const result = await worker.runUntil(async () => {
    t0 = Date.now();
    return client.workflow.execute('deliverWebhook', {
      taskQueue,
      workflowId: `webhook-msg_test${randomUUID()}`,
      args: [{ deliveryId: 'msg_test', ...input }],
    });
  });
  return { result, calls };
}

describe('deliverWebhook', () => {
  it('started without attempts made, it sends at once and retries after a backoff', async () => {
    const { result, calls } = await run({ schedule }, ['retry', 'delivered']);
    expect(result).toBe('delivered');
    expect(calls.map((c) => c.name)).toEqual(['send', 'send']);
    // The wait after attempt 1 is between half and all of the initial backoff.
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(200);
  }, 60_000);

  it('after the dispatcher made the first attempt, it waits out the backoff before its own', async () => {
    const { result, calls } = await run({ schedule, attemptsMade: 1 }, ['delivered']);
    expect(result).toBe('delivered');
    expect(calls.map((c) => c.name)).toEqual(['send']);
    expect(calls[0]!.at).toBeGreaterThanOrEqual(200);
  }, 60_000);

  it('marks the delivery failed, with no attempt of its own, when the first wait would end past the window', async () => {
    const { result, calls } = await run({ schedule: { ...schedule, windowSeconds: 0.1 }, attemptsMade: 1 }, []);
    expect(result).toBe('failed');
    expect(calls.map((c) => c.name)).toEqual(['fail']);
  }, 60_000);

  it('ends at once when the delivery is gone', async () => {
    const { result, calls } = await run({ schedule }, ['gone']);
    expect(result).toBe('gone');
    expect(calls.map((c) => c.name)).toEqual(['send']);
  }, 60_000);
});
