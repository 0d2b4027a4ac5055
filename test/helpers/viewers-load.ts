/**
 * The clients of test/e2e/viewers.test.ts, each run as a process of its own (as viewers and a
 * customer's backend are separate from each other and from the server): the latency a client
 * measures is then that of the server, not the pauses of a test runner's heap or of the process
 * that also receives every viewer's segments.
 *
 *   node test/helpers/viewers-load.ts viewers <stream base URL> <viewers> <seconds>
 *   node test/helpers/viewers-load.ts probe <URL> <seconds>
 *
 * Each prints one JSON line when done: viewers { segments, bytes, failures }, probe { ms[], failures }.
 */
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

interface Answer {
  status: number;
  bytes: number;
  ms: number;
  body: string;
}

function get(agent: http.Agent, url: string, keepBody = false): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      let bytes = 0;
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => {
        bytes += d.length;
        if (keepBody) chunks.push(d);
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          bytes,
          ms: performance.now() - started,
          body: Buffer.concat(chunks).toString(),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/**
 * `count` players, arriving over the first 4 s, each playing the media's first rendition in real
 * time on a keep-alive connection of its own (as each viewer's browser has its own).
 */
async function viewers(base: string, count: number, seconds: number) {
  const ends = Date.now() + seconds * 1000;
  const failures: string[] = [];
  let segments = 0;
  let bytes = 0;
  const agents: http.Agent[] = [];
  const viewer = async (n: number) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    await sleep((n * 4000) / count);
    const master = await get(agent, `${base}/master.m3u8`, true);
    const playlistName = master.body.split('\n').find((l) => !l.startsWith('#') && l.includes('.m3u8'));
    const playlist = playlistName ? await get(agent, `${base}/${playlistName}`, true) : undefined;
    if (master.status !== 200 || playlist?.status !== 200) {
      failures.push(`playlists ${master.status} ${playlist?.status}`);
      return;
    }
    const lines = playlist.body.split('\n');
    const names = lines.filter((l) => l && !l.startsWith('#'));
    const durations = lines.filter((l) => l.startsWith('#EXTINF:')).map((l) => parseFloat(l.slice(8)));
    for (let i = 0; Date.now() < ends; i = (i + 1) % names.length) {
      const seg = await get(agent, `${base}/${names[i]}`);
      if (seg.status !== 200 || seg.bytes < 1000) failures.push(`${names[i]}: ${seg.status}, ${seg.bytes} bytes`);
      segments++;
      bytes += seg.bytes;
      // A player asks for the next segment as playback reaches it.
      await sleep(Math.max(0, durations[i]! * 1000 - seg.ms));
    }
  };
  await Promise.all(Array.from({ length: count }, (_, n) => viewer(n).catch((err) => failures.push(String(err)))));
  for (const agent of agents) agent.destroy();
  return { segments, bytes, failures };
}

/** GET `url` every 100 ms for `seconds`, on one keep-alive connection, as a backend polling a media. */
async function probe(url: string, seconds: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const ends = Date.now() + seconds * 1000;
  const ms: number[] = [];
  const failures: string[] = [];
  while (Date.now() < ends) {
    const r = await get(agent, url).catch((err) => ({ status: 0, ms: NaN, error: String(err) }));
    if (r.status !== 200) failures.push(`GET ${url}: ${r.status}${'error' in r ? ` ${r.error}` : ''}`);
    else ms.push(r.ms);
    await sleep(100);
  }
  agent.destroy();
  return { ms, failures };
}

const [what, url, ...rest] = process.argv.slice(2);
const result =
  what === 'viewers'
    ? await viewers(url!, Number(rest[0]), Number(rest[1]))
    : what === 'probe'
      ? await probe(url!, Number(rest[0]))
      : (() => {
          throw new Error(`usage: viewers-load.ts viewers <base> <count> <seconds> | probe <url> <seconds>`);
        })();
process.stdout.write(`${JSON.stringify(result)}\n`);
