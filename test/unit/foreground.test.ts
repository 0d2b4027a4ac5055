import { ForegroundGate } from '../../src/media/foreground.ts';
import { runFfmpeg } from '../../src/media/runner.ts';
import { procStat } from '../helpers/pipeline.ts';
import { waitFor } from '../helpers/services.ts';

/** A process's state letter from /proc: R/S running or sleeping, T stopped. */
const stateOf = async (pid: number) => (await procStat(pid))[0];
const until = (what: () => Promise<boolean>) =>
  waitFor('the processes to reach the expected state', async () => ((await what()) ? true : undefined), 2000, 20);

/** A real child that runs until killed: `ffmpeg` reading an endless test source. */
function endless(gate: ForegroundGate, signal: AbortSignal) {
  let pid = 0;
  const done = runFfmpeg(
    'ffmpeg',
    ['-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=64x64:rate=5', '-f', 'null', '-'],
    {
      signal,
      onSpawn: (p) => {
        pid = p;
        return gate.trackBackground(p);
      },
    },
  ).catch((err: unknown) => err);
  return { pid: () => pid, done };
}

describe('ForegroundGate', () => {
  it('pauses background processes while a playable encode runs, and resumes them after the last one', async () => {
    const gate = new ForegroundGate();
    const abort = new AbortController();
    const bg = endless(gate, abort.signal);
    await until(async () => bg.pid() > 0 && (await stateOf(bg.pid())) !== 'T');

    const leaveA = gate.enterForeground();
    const leaveB = gate.enterForeground();
    await until(async () => (await stateOf(bg.pid())) === 'T');
    expect(gate.state).toEqual({ foreground: 2, background: 1, paused: 1 });
    // A background process started while a playable encode runs is paused at once.
    const late = endless(gate, abort.signal);
    await until(async () => late.pid() > 0 && (await stateOf(late.pid())) === 'T');

    leaveA();
    leaveA(); // twice is once
    expect(gate.state.foreground).toBe(1);
    expect(await stateOf(bg.pid())).toBe('T');
    leaveB();
    await until(async () => (await stateOf(bg.pid())) !== 'T' && (await stateOf(late.pid())) !== 'T');

    // Cancelling paused work still stops it: it is resumed before execa signals it.
    const leave = gate.enterForeground();
    await until(async () => (await stateOf(bg.pid())) === 'T');
    abort.abort();
    await Promise.all([bg.done, late.done]);
    await expect(stateOf(bg.pid())).rejects.toThrow();
    expect(gate.state).toEqual({ foreground: 1, background: 0, paused: 0 });
    leave();
  });

  it('does nothing when disabled (encoding.playable_first: false)', async () => {
    const gate = new ForegroundGate(false);
    const abort = new AbortController();
    const bg = endless(gate, abort.signal);
    await until(async () => bg.pid() > 0);
    const leave = gate.enterForeground();
    await new Promise((r) => setTimeout(r, 200));
    expect(await stateOf(bg.pid())).not.toBe('T');
    leave();
    abort.abort();
    await bg.done;
  });
});
