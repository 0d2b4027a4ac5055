import path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { execa, type ResultPromise } from 'execa';
import { apiClient } from '../helpers/api.ts';
import { scratchDir } from '../helpers/scratch.ts';
import { startGilfoyle, type RunningGilfoyle } from '../helpers/gilfoyle.ts';
import { makeVideo } from '../helpers/media.ts';
import { minio, minioEnv } from '../helpers/minio.ts';
import { ffmpegsIn } from '../helpers/pipeline.ts';
import { freePort, repoRoot, sleep, waitFor } from '../helpers/services.ts';

/** The object store missing or down: clear answers, nothing lost, and processing that survives an outage. */
const dir = scratchDir('gilfoyle-outage');

describe('a bucket that does not exist', () => {
  let g: RunningGilfoyle;
  beforeAll(async () => {
    g = await startGilfoyle(minioEnv('gilfoyle-no-such-bucket'), { expectHealthy: false });
  }, 120_000);
  afterAll(() => g?.stop());

  it('shows as storage down in /healthz, and uploads answer 503 naming the problem', async () => {
    const health = await fetch(`${g.url}/healthz`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({
      data: { status: 'degraded', dependencies: { storage: 'down', database: 'up' } },
    });
    const file = path.join(dir(), 'clip.mp4');
    await makeVideo(file, { seconds: 1 });
    const api = apiClient(g.url);
    const { body } = await api.createMedia('no bucket');
    const up = await api.upload(body.data.id, 'video', file);
    expect(up.status).toBe(503);
    expect(up.body.message).toMatch(/storage is unavailable: .*gilfoyle-no-such-bucket/);
    expect((await api.getMedia(body.data.id)).body.data.status).toBe('AwaitingUpload');
  });
});

describe('an object store outage during encoding', () => {
  let patient: RunningGilfoyle;
  let impatient: RunningGilfoyle;
  let source: string;
  let server: ResultPromise | null = null;
  let endpoint: string;
  let dataDir: string;
  const bucket = 'outage';

  /** A MinIO of this test's own, so that stopping it disturbs nothing else. */
  async function startMinio(port: number) {
    server = execa(
      path.join(repoRoot, '.tools/bin/minio'),
      [
        'server',
        dataDir,
        '--quiet',
        '--address',
        `127.0.0.1:${port}`,
        '--console-address',
        `127.0.0.1:${await freePort()}`,
      ],
      {
        env: { MINIO_ROOT_USER: minio.accessKeyId, MINIO_ROOT_PASSWORD: minio.secretAccessKey },
        reject: false,
      },
    );
    await waitFor(
      'minio',
      async () => ((await fetch(`${endpoint}/minio/health/live`).catch(() => null))?.ok ? true : undefined),
      30_000,
    );
  }
  async function stopMinio() {
    server?.kill('SIGKILL');
    await server;
    server = null;
  }

  beforeAll(async () => {
    dataDir = path.join(dir(), 'minio');
    const port = await freePort();
    endpoint = `http://127.0.0.1:${port}`;
    await startMinio(port);
    const client = new S3Client({ endpoint, region: minio.region, forcePathStyle: true, credentials: minio });
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    client.destroy();
    const env = {
      ...minioEnv(bucket),
      GILFOYLE_STORAGE_S3_ENDPOINT: endpoint,
      GILFOYLE_ENCODING_PRESET: 'ultrafast',
      // Each rendition whole (the source read from a local copy): the patience tested here is the
      // store's, when the encode's result is stored. (A chunk reads its source from the store
      // while it encodes; a store outage then costs that chunk an attempt.)
      GILFOYLE_ENCODING_CHUNK_SECONDS: '0',
      GILFOYLE_ENCODING_RENDITIONS: JSON.stringify([
        { name: '360p', height: 360, video_bitrate: 600 },
        { name: '240p', height: 240, video_bitrate: 300 },
      ]),
    };
    [patient, impatient] = await Promise.all([
      startGilfoyle(env),
      startGilfoyle({ ...env, GILFOYLE_ENCODING_OUTAGE_PATIENCE_SECONDS: '0', GILFOYLE_ENCODING_MAX_ATTEMPTS: '5' }),
    ]);
    source = path.join(dir(), 'long.mp4');
    await makeVideo(source, { seconds: 60, width: 1280, height: 720 });
  }, 120_000);
  afterAll(async () => {
    await Promise.all([patient?.stop(), impatient?.stop()]);
    await stopMinio();
  });

  /**
   * The store goes away while the 360p encode runs, and stays away until that encode has ended,
   * so that storing its segments meets the outage; it comes back 2 s later. Returns the media
   * once Ready, and how many attempts its 360p rendition took.
   */
  async function throughAnOutage(g: RunningGilfoyle) {
    const api = apiClient(g.url);
    const { body } = await api.createMedia('outage');
    const id = body.data.id;
    expect((await api.upload(id, 'video', source)).status).toBe(200);
    await waitFor(
      'the 360p encode to run',
      async () => ((await ffmpegsIn(g.tempDir, '360p')).length > 0 ? true : undefined),
      60_000,
      50,
    );
    await stopMinio();
    expect((await fetch(`${g.url}/healthz`)).status).toBe(503);
    await waitFor(
      'the 360p encode to end',
      async () => ((await ffmpegsIn(g.tempDir, '360p')).length === 0 ? true : undefined),
      60_000,
      50,
    );
    await sleep(2000);
    await startMinio(Number(new URL(endpoint).port));
    const media = await api.waitForStatus(id, ['Ready', 'Errored'], 120_000);
    expect(media).toMatchObject({ status: 'Ready', error: null });
    expect((await fetch(`${g.url}/medias/${id}/stream/master.m3u8`)).status).toBe(200);
    return (await api.renditions(id)).find((r) => r.name === '360p')?.attempts;
  }

  it('waits for the store: the encode stores its result once the store is back, on its first attempt', async () => {
    expect(await throughAnOutage(patient)).toBe(1);
    expect(patient.logs()).toContain('storage unavailable: waiting for it');
  });

  it('without patience (encoding.outage_patience_seconds: 0), retries the activities that failed, and the media still ends Ready', async () => {
    expect(await throughAnOutage(impatient)).toBeGreaterThanOrEqual(2);
  });
});
