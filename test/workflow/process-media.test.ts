import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import { Client, Connection, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import {
  bundleWorkflowCode,
  NativeConnection,
  Runtime,
  DefaultLogger,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import type { createActivities } from '../../src/activities/index.ts';
import { workflowsPath } from '../../src/cli/workflow-code.ts';
import { FailureType } from '../../src/domain/errors.ts';
import { planRenditions } from '../../src/domain/renditions.ts';
import type { Probe } from '../../src/domain/probe.ts';
import type { ProcessMediaInput } from '../../src/domain/workflow.ts';
import type { VariantEntry } from '../../src/media/hls.ts';
import { progressQuery } from '../../src/workflows/definitions.ts';
import { defaultLadder, fakeVariant, videoProbe } from '../helpers/fixtures.ts';
import { waitFor } from '../helpers/services.ts';
import { temporalAddress } from '../helpers/services.ts';

/** The workflow on the real Temporal dev server, with its activities replaced by recording fakes. */
type Activities = ReturnType<typeof createActivities>;

Runtime.install({ logger: new DefaultLogger('WARN') });

const ladder = { ...defaultLadder, rungs: defaultLadder.rungs.filter((r) => r.name === '720p' || r.name === '360p') };
const probe = videoProbe(1280, 720);

interface Calls {
  /** Every activity call in order, for ordering assertions. */
  log: string[];
  probe: number;
  encode: Record<string, number>;
  master: VariantEntry[][];
  finalized: number;
  failed: string[];
  statuses: string[];
}

function fakeActivities(
  calls: Calls,
  behaviour: { probe?: () => Probe; encode?: (name: string, attempt: number) => void | Promise<void> },
): Activities {
  const encoded = new Set<string>();
  const fakes: Partial<Activities> = {
    async probeSource({ ladder: l }) {
      calls.probe++;
      const p = behaviour.probe ? behaviour.probe() : probe;
      return { probe: p, plan: planRenditions(p, l) };
    },
    async startProcessing() {
      calls.statuses.push('Processing');
    },
    async encodeRendition({ rendition, stage, publishWith }) {
      const attempt = (calls.encode[rendition.name] = (calls.encode[rendition.name] ?? 0) + 1);
      calls.log.push(`encode ${rendition.name}${stage === 'playable' ? ' playable' : ''}`);
      await behaviour.encode?.(rendition.name, attempt);
      encoded.add(rendition.name);
      // Like the real activity: the last of the playable renditions to finish publishes them.
      if (publishWith?.every((p) => encoded.has(p.name)) && !calls.log.some((l) => l.startsWith('playable'))) {
        calls.log.push(`playable ${publishWith.map((p) => p.name).join(',')}`);
      }
      return fakeVariant(rendition.name);
    },
    async makePictures() {
      calls.log.push('pictures');
      return ['poster.jpg'];
    },
    async makeDownload({ video, audio }) {
      calls.log.push(`download ${video?.name},${audio?.name}`);
      return 'download.mp4';
    },
    async finalizeMedia({ outputs, files }) {
      calls.master.push(outputs);
      calls.log.push(`finalize ${outputs.map((o) => o.name).join(',')} + ${[...files].sort().join(',')}`);
      calls.finalized++;
      calls.statuses.push('Ready');
    },
    async failMedia({ reason }) {
      calls.failed.push(reason);
      calls.statuses.push('Errored');
    },
  };
  return fakes as Activities;
}

let bundle: WorkflowBundleWithSourceMap;
let nativeConnection: NativeConnection;
let client: Client;

beforeAll(async () => {
  bundle = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
  nativeConnection = await NativeConnection.connect({ address: temporalAddress });
  client = new Client({ connection: await Connection.connect({ address: temporalAddress }) });
}, 120_000);

afterAll(async () => {
  await client?.connection.close();
  await nativeConnection?.close();
});

/** Runs one processMedia workflow on its own task queues with the given fake activities. */
async function runWorkflow(
  activities: Activities,
  maxAttempts: number,
  whileRunning?: (h: WorkflowHandle) => Promise<void>,
) {
  const taskQueue = `wf-test-${randomUUID()}`;
  const input: ProcessMediaInput = {
    mediaId: randomUUID(),
    sourceKey: 'medias/x/source',
    kind: 'video',
    ladder,
    maxAttempts,
    encodeTaskQueue: `${taskQueue}-encode`,
    encodeTimeoutSeconds: 60,
    pictures: { posterAt: 0.1, storyboard: null },
  };
  const workers = await Promise.all([
    Worker.create({ connection: nativeConnection, taskQueue, workflowBundle: bundle, activities }),
    Worker.create({ connection: nativeConnection, taskQueue: input.encodeTaskQueue, activities }),
  ]);
  const [main, encoders] = workers;
  return main.runUntil(
    encoders.runUntil(
      (async () => {
        const handle = await client.workflow.start('processMedia', {
          taskQueue,
          workflowId: `media-${input.mediaId}`,
          args: [input],
        });
        await whileRunning?.(handle);
        return handle.result().then(
          (result) => ({ result, error: null }),
          (error: unknown) => ({ result: null, error }),
        );
      })(),
    ),
  );
}

const newCalls = (): Calls => ({ log: [], probe: 0, encode: {}, master: [], finalized: 0, failed: [], statuses: [] });

describe('processMedia workflow', () => {
  it('encodes every planned rendition, writes the master playlist and finalizes', async () => {
    const calls = newCalls();
    const { result, error } = await runWorkflow(fakeActivities(calls, {}), 3);
    expect(error).toBeNull();
    expect(result).toMatchObject({ renditions: ['720p', '360p', 'audio'], duration: 10 });
    expect(calls.encode).toEqual({ '720p': 1, '360p': 1, audio: 1 });
    expect(calls.statuses).toEqual(['Processing', 'Ready']);
  });

  it('encodes the smallest rung and the audio first, makes the media playable with them, and finalizes with everything', async () => {
    const calls = newCalls();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { error } = await runWorkflow(
      // The ladder's 720p waits until the media is playable: playable does not wait for the ladder.
      fakeActivities(calls, { encode: (name) => (name === '720p' ? gate : undefined) }),
      3,
      async () => {
        await waitFor('playable', async () => calls.log.includes('playable 360p,audio') || undefined);
        release();
      },
    );
    expect(error).toBeNull();
    expect(calls.log.slice(0, 2).sort()).toEqual(['encode 360p playable', 'encode audio playable']);
    // The 720p encode was held until the media was playable: playable did not wait for the ladder.
    expect(calls.log).toContain('encode 720p');
    // Pictures and the download (720p with the audio) before the end; the final master lists every rendition.
    expect(calls.log).toEqual(expect.arrayContaining(['pictures', 'download 720p,audio']));
    expect(calls.log.at(-1)).toBe('finalize 720p,360p,audio + download.mp4,poster.jpg');
  });

  it('answers the progress query live', async () => {
    const calls = newCalls();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { error } = await runWorkflow(
      fakeActivities(calls, { encode: (name) => (name === '720p' ? gate : undefined) }),
      3,
      async (handle) => {
        const live = await waitFor('720p encoding, the media playable', async () => {
          const p = await handle.query(progressQuery);
          return p.renditions['720p'] === 'encoding' && p.playable ? p : undefined;
        });
        expect(live).toEqual({
          stage: 'encoding',
          playable: true,
          progress: 66,
          renditions: { '720p': 'encoding', '360p': 'ready', audio: 'ready' },
        });
        release();
      },
    );
    expect(error).toBeNull();
  });

  it('retries a failed encode and then succeeds', async () => {
    const calls = newCalls();
    const { error } = await runWorkflow(
      fakeActivities(calls, {
        encode: (name, attempt) => {
          if (name === '360p' && attempt < 3) throw new Error(`ffmpeg crashed (attempt ${attempt})`);
        },
      }),
      3,
    );
    expect(error).toBeNull();
    expect(calls.encode['360p']).toBe(3);
    expect(calls.statuses).toEqual(['Processing', 'Ready']);
  });

  it('ends Errored after the last attempt, with the encode error as the reason', async () => {
    const calls = newCalls();
    const { error } = await runWorkflow(
      fakeActivities(calls, {
        encode: (name, attempt) => {
          if (name === '720p') throw new Error(`ffmpeg exited with code 1 (attempt ${attempt})`);
        },
      }),
      2,
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect(calls.encode['720p']).toBe(2);
    expect(calls.failed).toEqual(['ffmpeg exited with code 1 (attempt 2)']);
    expect(calls.statuses).toEqual(['Processing', 'Errored']);
    expect(calls.finalized).toBe(0);
  });

  it('fails at once, without retries, on input that is not media', async () => {
    const calls = newCalls();
    const { error } = await runWorkflow(
      fakeActivities(calls, {
        probe: () => {
          throw ApplicationFailure.nonRetryable(
            'not a media file: Invalid data found when processing input',
            FailureType.InvalidMedia,
          );
        },
      }),
      5,
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect(calls.probe).toBe(1);
    expect(calls.encode).toEqual({});
    expect(calls.failed).toEqual(['not a media file: Invalid data found when processing input']);
  });
});
