import { existsSync } from 'node:fs';
import { inSpan } from '../tracing.ts';
import { execa, ExecaError } from 'execa';

/**
 * A worker killed outright (SIGKILL, OOM) must not leave its ffmpeg running, orphaned: on
 * Linux each child is started through util-linux's setpriv with a parent-death signal, so
 * the kernel kills it when the worker dies. Elsewhere children are started directly.
 */
const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
const chrt = ['/usr/bin/chrt', '/bin/chrt'].find((p) => existsSync(p));
const nice = ['/usr/bin/nice', '/bin/nice'].find((p) => existsSync(p));

/**
 * CPU priority of a child process. `idle`: Linux's SCHED_IDLE, it runs only on cores nothing else
 * wants, so it never slows the work that makes a media playable (nor the API); `low`: nice 10,
 * a small share when the cores are contended; `normal`: like everything else.
 */
export type CpuPriority = 'normal' | 'low' | 'idle';

/** The prefix that starts a command at `priority` (util-linux chrt, coreutils nice: every thread inherits it). */
function priorityPrefix(priority: CpuPriority): string[] {
  if (priority === 'idle' && chrt) return [chrt, '--idle', '0'];
  if (priority !== 'normal' && nice) return [nice, '-n', priority === 'idle' ? '19' : '10'];
  return [];
}

/** The argv that starts `command` dying with its parent, at the given CPU priority. */
export function diesWithParent(command: string, args: string[], priority: CpuPriority = 'normal'): [string, string[]] {
  // setpriv first: the parent-death signal is set before anything else runs (it survives the execs).
  const argv = [
    ...(setpriv ? [setpriv, '--pdeathsig', 'KILL', '--'] : []),
    ...priorityPrefix(priority),
    command,
    ...args,
  ];
  return [argv[0]!, argv.slice(1)];
}

/** ffmpeg's `-progress` key=value blocks, reduced to what Gilfoyle reports. */
export interface FfmpegProgress {
  /** Seconds of output written so far. */
  outTime: number;
  speed: number | null;
  done: boolean;
}

/** Parses one `-progress` block (lines up to and including `progress=continue|end`). */
export function parseProgressBlock(lines: string[]): FfmpegProgress | null {
  const kv = new Map<string, string>();
  for (const line of lines) {
    const i = line.indexOf('=');
    if (i > 0) kv.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  const progress = kv.get('progress');
  if (!progress) return null;
  const us = Number(kv.get('out_time_us') ?? kv.get('out_time_ms'));
  const speed = parseFloat(kv.get('speed') ?? '');
  return {
    outTime: Number.isFinite(us) && us > 0 ? us / 1e6 : 0,
    speed: Number.isFinite(speed) ? speed : null,
    done: progress === 'end',
  };
}

export class FfmpegError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | undefined,
    /** Last lines ffmpeg printed on stderr: what an operator needs to see why. */
    readonly stderrTail: string,
  ) {
    super(message);
    this.name = 'FfmpegError';
  }
}

export interface RunOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  /** CPU priority: lower for work that may wait while the machine has other work. */
  priority?: CpuPriority;
  /**
   * Called with the child's pid once it runs; the function it returns is called when the child
   * ends or is cancelled, before it is signalled (a paused child is resumed so it can stop).
   */
  onSpawn?: (pid: number) => () => void;
  onProgress?: (p: FfmpegProgress) => void;
}

const tail = (text: string, lines = 15) => text.trim().split('\n').slice(-lines).join('\n');

/** Runs ffmpeg (no shell) and reports `-progress` blocks from its stdout. */
export function runFfmpeg(ffmpegPath: string, args: string[], opts: RunOptions = {}): Promise<void> {
  // A span per run: what it was asked (the argv, its outputs) and how fast it went (media seconds
  // made per wall second, from its own progress reports).
  return inSpan('ffmpeg', { attributes: { 'ffmpeg.argv': argvSummary(args) } }, async (span) => {
    const started = performance.now();
    let last: FfmpegProgress | null = null;
    try {
      await runUntraced(ffmpegPath, args, {
        ...opts,
        onProgress: (p) => {
          last = p;
          opts.onProgress?.(p);
        },
      });
    } finally {
      const seconds = (performance.now() - started) / 1000;
      const made = (last as FfmpegProgress | null)?.outTime ?? 0;
      span.setAttributes({
        'ffmpeg.wall_seconds': Math.round(seconds * 1000) / 1000,
        'ffmpeg.media_seconds': made,
        ...(made > 0 && seconds > 0 ? { 'ffmpeg.realtime_factor': Math.round((made / seconds) * 100) / 100 } : {}),
      });
    }
  });
}

/** ffmpeg's argv for a span: long values (filter graphs, paths) cut, at most 2 000 characters in all. */
export function argvSummary(args: string[]): string {
  return args
    .map((a) => (a.length > 120 ? `${a.slice(0, 117)}...` : a))
    .join(' ')
    .slice(0, 2000);
}

async function runUntraced(ffmpegPath: string, args: string[], opts: RunOptions): Promise<void> {
  let release: (() => void) | undefined;
  // Registered before execa's own listener, so a paused child is resumed before it is killed.
  const onAbort = () => release?.();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const child = execa(...diesWithParent(ffmpegPath, args, opts.priority), {
    cancelSignal: opts.signal,
    timeout: opts.timeoutMs,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: { stdout: false, stderr: true },
    maxBuffer: { stderr: 1024 * 1024 },
    forceKillAfterDelay: 5000,
    // SVT-AV1 prints its banner at info level; errors are what an operator needs.
    env: { SVT_LOG: '1' },
  });
  if (child.pid !== undefined) release = opts.onSpawn?.(child.pid);
  let block: string[] = [];
  let pending = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      block.push(line);
      if (line.startsWith('progress=')) {
        const p = parseProgressBlock(block);
        block = [];
        if (p) opts.onProgress?.(p);
      }
    }
  });
  try {
    await child;
  } catch (err) {
    if (err instanceof ExecaError) {
      if (err.isCanceled) throw err.cause ?? err;
      const stderr = typeof err.stderr === 'string' ? err.stderr : '';
      const why = err.timedOut
        ? `timed out after ${opts.timeoutMs} ms`
        : `exited with code ${err.exitCode ?? err.signal}`;
      throw new FfmpegError(`ffmpeg ${why}: ${tail(stderr, 3) || 'no output'}`, err.exitCode, tail(stderr));
    }
    throw err;
  } finally {
    release?.();
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

/** Whether ffmpeg decodes the whole input without a single error (cheap for audio). */
export async function decodesCleanly(
  ffmpegPath: string,
  input: string,
  opts: Pick<RunOptions, 'signal' | 'timeoutMs'> & {
    /** Only this stream (e.g. `0:a:0`, the audio of a video file), not the whole input. */
    map?: string;
    /** How the input may be read (sourceInputArgs for an upload). */
    inputArgs?: string[];
  } = {},
): Promise<boolean> {
  try {
    const { map, inputArgs = [], ...run } = opts;
    const only = map ? ['-map', map] : [];
    await runFfmpeg(
      ffmpegPath,
      ['-hide_banner', '-nostdin', '-v', 'error', '-xerror', ...inputArgs, '-i', input, ...only, '-f', 'null', '-'],
      run,
    );
    return true;
  } catch (err) {
    if (err instanceof FfmpegError) return false;
    throw err;
  }
}

/** Runs ffprobe (no shell) and returns its stdout; a failure carries ffprobe's own message. */
export async function runFfprobe(
  ffprobePath: string,
  args: string[],
  opts: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<string> {
  try {
    const { stdout } = await execa(...diesWithParent(ffprobePath, args), {
      cancelSignal: opts.signal,
      timeout: opts.timeoutMs ?? 60_000,
      stdin: 'ignore',
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    if (err instanceof ExecaError) {
      if (err.isCanceled) throw err.cause ?? err;
      const stderr = typeof err.stderr === 'string' ? err.stderr : '';
      throw new FfmpegError(
        `ffprobe could not read the file: ${tail(stderr, 3) || `exit code ${err.exitCode}`}`,
        err.exitCode,
        tail(stderr),
      );
    }
    throw err;
  }
}
