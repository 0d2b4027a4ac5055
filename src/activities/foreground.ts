/**
 * Playable first, on one worker: while an encode that makes a media playable runs here, this
 * worker's background ffmpeg processes (the ladder above the playable rung, pictures, downloads)
 * are paused (SIGSTOP) and resumed (SIGCONT) when the last such encode ends. Background work
 * already runs at the lowest CPU priority; pausing it also spares the playable encode the caches
 * and memory bandwidth it would share, so a media is playable as soon as if the machine were idle.
 * The background activities keep their worker slot and their heartbeats meanwhile.
 */
export class ForegroundGate {
  private foreground = 0;
  private readonly background = new Set<number>();

  constructor(private readonly enabled = true) {}

  /** Marks a playable encode running until the returned function is called. */
  enterForeground(): () => void {
    if (!this.enabled) return () => undefined;
    if (this.foreground++ === 0) for (const pid of this.background) signal(pid, 'SIGSTOP');
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
    if (this.foreground > 0) signal(pid, 'SIGSTOP');
    return () => {
      if (this.background.delete(pid)) signal(pid, 'SIGCONT');
    };
  }

  /** What the gate holds, for tests and logs. */
  get state() {
    return { foreground: this.foreground, background: this.background.size, paused: this.foreground > 0 ? this.background.size : 0 };
  }
}

function signal(pid: number, sig: 'SIGSTOP' | 'SIGCONT') {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}
