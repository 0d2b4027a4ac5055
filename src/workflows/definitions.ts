import { defineQuery } from '@temporalio/workflow';
import type { ProcessingProgress } from '../domain/workflow.ts';

/** Shared by the workflow and its callers (API, tests, the Temporal UI's query tab). */
export const progressQuery = defineQuery<ProcessingProgress>('progress');
