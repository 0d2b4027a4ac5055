import { ApplicationFailure, CancelledFailure, type Context } from '@temporalio/activity';
import type { ActivityInterceptors } from '@temporalio/worker';
import type { Metrics } from '../metrics.ts';

/** Counts every activity's retries and failed attempts, whatever the activity, by its type. */
export const activityMetricsInterceptor =
  (metrics: Metrics) =>
  (ctx: Context): ActivityInterceptors => ({
    inbound: {
      async execute(input, next) {
        const activity = ctx.info.activityType;
        if (ctx.info.attempt > 1) metrics.activityRetries.inc({ activity });
        try {
          return await next(input);
        } catch (err) {
          const type =
            err instanceof ApplicationFailure
              ? (err.type ?? 'ApplicationFailure')
              : err instanceof CancelledFailure
                ? 'Cancelled'
                : ((err as Error).name ?? 'Error');
          metrics.activityFailures.inc({ activity, type });
          throw err;
        }
      },
    },
  });
