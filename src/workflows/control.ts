import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import { deliverWebhookWorkflowType, deliveryWorkflowIdOf, type DeliverWebhookInput } from '../domain/webhooks.ts';
import { workflowIdOf } from '../domain/workflow.ts';

/**
 * What the API asks of a media's workflow, through a Temporal client. It runs in the API process,
 * never in the workflow sandbox: workflow code must not import it (lint keeps it so).
 */
export function createWorkflowControl(temporal: Client) {
  const handleOf = (mediaId: string) => temporal.workflow.getHandle(workflowIdOf(mediaId));
  return {
    /** Terminates the media's open run, if there is one (DELETE, force cancel). */
    async stopWorkflow(mediaId: string, reason: string): Promise<void> {
      try {
        await handleOf(mediaId).terminate(reason);
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
    },
    /** Whether the media's workflow has an open run. */
    async workflowRunning(mediaId: string): Promise<boolean> {
      try {
        return (await handleOf(mediaId).describe()).status.name === 'RUNNING';
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return false;
        throw err;
      }
    },
    /** Asks the open run to cancel; false when none is open. */
    async cancelWorkflow(mediaId: string): Promise<boolean> {
      const handle = handleOf(mediaId);
      try {
        if ((await handle.describe()).status.name !== 'RUNNING') return false;
        await handle.cancel();
        return true;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return false;
        throw err;
      }
    },
  };
}

export type WorkflowControl = ReturnType<typeof createWorkflowControl>;

/**
 * Starts the workflow of a delivery's `run` (1, then one more per redelivery), once: a start
 * repeated (an event relayed twice, a dispatcher restarted) finds it started.
 */
export async function startDelivery(
  temporal: Client,
  taskQueue: string,
  input: DeliverWebhookInput,
  run: number,
): Promise<void> {
  try {
    await temporal.workflow.start(deliverWebhookWorkflowType, {
      workflowId: deliveryWorkflowIdOf(input.deliveryId, run),
      taskQueue,
      args: [input],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}
