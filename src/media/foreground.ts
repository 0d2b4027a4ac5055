import { readFileSync } from 'node:fs';

/**
 * Playable first, on one worker: while an encode that makes a media playable runs here, this
 * worker's background ffmpeg processes (the ladder above the playable rung, pictures, downloads)
 * are paused (SIGSTOP) and resumed (SIGCONT) when the last such encode ends. Background work
 * already runs at the lowest CPU priority; pausing it also spares the playable encode the caches
 * and memory bandwidth it would share, so a media is playable as soon as if the machine were idle.
 * The background activities keep their worker slot and their heartbeats meanwhile.
 *
 * A process is paused only once it runs ffmpeg itself: stopped while still a launcher (chrt,
 * setpriv), it would not yet have its parent-death signal, and would outlive a worker that dies.
 */
export class ForegroundGate {
  private foreground = 0;
  private readonly background = new Set<number>();

  constructor(private readonly enabled = true) {}

  /** Marks a playable encode running until the returned function is called. */
  enterForeground(): () => void {
    if (!this.enabled) return () => undefined;
    if (this.foreground++ === 0) for (const pid of this.background) this.pause(pid);
    let left = false;
    return () => {
      if (left) return;
      left = true;
      if (--this.foreground === 0) for (const pid of this.background) signal(pid, 'SIGCONT');
    };
  }

  /**
   * Tracks a background process (paused at once if a playable encode runs) until the returned
   * function is called; that function resumes it, so that it can be stopped or exit normally.
   */
  trackBackground(pid: number): () => void {
    if (!this.enabled) return () => undefined;
    this.background.add(pid);
    this.pause(pid);
    return () => {
      if (this.background.delete(pid)) signal(pid, 'SIGCONT');
    };
  }

  /** Stops a tracked process while a playable encode runs, once it has become ffmpeg (polling a few ms until then). */
  private pause(pid: number, tries = 0): void {
    if (this.foreground === 0 || !this.background.has(pid)) return;
    const comm = commandOf(pid);
    if (comm === null) return;
    if (launchers.has(comm)) {
      if (tries < 400) setTimeout(() => this.pause(pid, tries + 1), 5).unref();
      return;
    }
    signal(pid, 'SIGSTOP');
  }

  /** What the gate holds, for tests and logs. */
  get state() {
    return {
      foreground: this.foreground,
      background: this.background.size,
      paused: this.foreground > 0 ? this.background.size : 0,
    };
  }
}

/** The programs runFfmpeg starts ffmpeg through (each execs the next). */
const launchers = new Set(['chrt', 'nice', 'setpriv']);

/** The program a process runs now (Linux /proc), or null when it is gone or cannot be told. */
function commandOf(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
}

function signal(pid: number, sig: 'SIGSTOP' | 'SIGCONT') {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}
