import { MockActivityEnvironment } from '@temporalio/testing';
import { Context } from '@temporalio/activity';
import { attemptStartInterceptor, patienceLeft } from '../../src/activities/attempt.ts';
import { waitOut, withinMs } from '../../src/patience.ts';

class Outage extends Error {}
const isOutage = (err: unknown) => err instanceof Outage;

describe('waitOut', () => {
  it('tries again while the outage lasts, and returns the result once it is over', async () => {
    let calls = 0;
    const waits: number[] = [];
    const result = await waitOut(async () => (++calls < 4 ? Promise.reject(new Outage('down')) : 'done'), isOutage, {
      patienceMs: 5000,
      firstPauseMs: 10,
      onWait: (_err, waited) => waits.push(waited),
    });
    expect(result).toBe('done');
    expect(calls).toBe(4);
    expect(waits).toHaveLength(3);
  });

  it('throws other errors at once, and the outage once the patience is spent', async () => {
    let calls = 0;
    await expect(
      waitOut(async () => (calls++, Promise.reject(new Error('wrong'))), isOutage, { patienceMs: 5000 }),
    ).rejects.toThrow('wrong');
    expect(calls).toBe(1);
    const started = Date.now();
    await expect(
      waitOut(() => Promise.reject(new Outage('still down')), isOutage, { patienceMs: 200, firstPauseMs: 20 }),
    ).rejects.toThrow('still down');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('stops waiting at once when its signal is aborted (a cancelled activity)', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('cancelled')), 100);
    const started = Date.now();
    await expect(
      waitOut(() => Promise.reject(new Outage('down')), isOutage, {
        patienceMs: 60_000,
        firstPauseMs: 5000,
        signal: () => controller.signal,
      }),
    ).rejects.toThrow('cancelled');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('asks a patience function once per operation', async () => {
    let asked = 0;
    await expect(
      waitOut(() => Promise.reject(new Outage('down')), isOutage, { patienceMs: () => (asked++, 0) }),
    ).rejects.toThrow('down');
    expect(asked).toBe(1);
  });
});

describe("a worker's patience", () => {
  it('is the configured one outside an activity, and never past the attempt’s start-to-close timeout inside one', async () => {
    expect(patienceLeft(120_000)).toBe(120_000);
    const short = new MockActivityEnvironment({
      startToCloseTimeoutMs: 30_000,
      currentAttemptScheduledTimestampMs: Date.now(),
    });
    const left = await short.run(async () => patienceLeft(120_000));
    expect(left).toBeGreaterThan(27_000);
    expect(left).toBeLessThanOrEqual(28_000);
    const long = new MockActivityEnvironment({
      startToCloseTimeoutMs: 3_600_000,
      currentAttemptScheduledTimestampMs: Date.now(),
    });
    expect(await long.run(async () => patienceLeft(120_000))).toBe(120_000);
    const late = new MockActivityEnvironment({
      startToCloseTimeoutMs: 30_000,
      currentAttemptScheduledTimestampMs: Date.now() - 60_000,
    });
    expect(await late.run(async () => patienceLeft(120_000))).toBe(0);
    // Its timer runs from the attempt's start on the worker, not from when it was scheduled:
    // an encode that waited an hour in the queue has its whole patience.
    const queued = new MockActivityEnvironment({
      startToCloseTimeoutMs: 7_200_000,
      currentAttemptScheduledTimestampMs: Date.now() - 6_000_000,
    });
    expect(await queued.run(async () => (attemptStartInterceptor(Context.current()), patienceLeft(120_000)))).toBe(
      120_000,
    );
  });
});

describe('withinMs', () => {
  it('gives the answer that comes in time, and refuses one that does not', async () => {
    await expect(withinMs(Promise.resolve(7), 50)).resolves.toBe(7);
    const started = Date.now();
    await expect(withinMs(new Promise(() => undefined), 50)).rejects.toThrow('no answer within 50 ms');
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(withinMs(Promise.reject(new Error('refused')), 50)).rejects.toThrow('refused');
  });
});
