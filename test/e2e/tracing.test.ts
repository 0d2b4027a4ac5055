import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { apiClient } from '../helpers/api.ts';
import { joining, startGilfoyle, type RunningGilfoyle } from '../helpers/gilfoyle.ts';
import { makeVideo } from '../helpers/media.ts';
import { scratchDir } from '../helpers/scratch.ts';
import { waitFor } from '../helpers/services.ts';

/**
 * One trace per media, across the roles: api, bridge and worker as three processes export their
 * spans over OTLP to a real Jaeger (scripts/services.sh starts it for the tests), and Jaeger's
 * query API gives back one trace for the upload, with each role's spans parented in order:
 * the upload request → the outbox's publish → the bridge's consume → the workflow start → the
 * workflow run → an activity → ffmpeg.
 */
const jaeger = 'http://127.0.0.1:16686';
const dir = scratchDir('gilfoyle-e2e-tracing');
const service = `gftest-${process.pid}-${Date.now().toString(36)}`;
let api: RunningGilfoyle;
let bridge: RunningGilfoyle;
let worker: RunningGilfoyle;

interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: string; spanID: string }[];
  duration: number;
  startTime: number;
  processID: string;
  tags: { key: string; value: unknown }[];
}
interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}

const tag = (s: JaegerSpan, key: string) => s.tags.find((t) => t.key === key)?.value;

beforeAll(async () => {
  const ladder = JSON.stringify([{ name: '240p', height: 240, video_bitrate: 300 }]);
  const tracing = {
    GILFOYLE_TRACING_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
    GILFOYLE_TRACING_SERVICE_NAME: service,
    GILFOYLE_TRACING_UI_URL: jaeger,
    GILFOYLE_LOG_LEVEL: 'info',
  };
  api = await startGilfoyle({ GILFOYLE_ENCODING_RENDITIONS: ladder, ...tracing }, { role: 'api' });
  const shared = joining(api, {
    GILFOYLE_ENCODING_RENDITIONS: ladder,
    GILFOYLE_ENCODING_PRESET: 'ultrafast',
    ...tracing,
  });
  [bridge, worker] = await Promise.all([
    startGilfoyle(shared, { role: 'bridge' }),
    startGilfoyle(shared, { role: 'worker' }),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all([worker?.stop(), bridge?.stop()]);
  await api?.stop();
});

it('gives one media one trace in Jaeger, with spans of api, bridge and worker parented in order', async () => {
  const client = apiClient(api.url);
  const file = path.join(dir(), 'traced.mp4');
  await makeVideo(file, { seconds: 2 });
  const media = await client.uploadNew('traced', 'video', file);
  const ready = await client.waitForStatus(media.id, ['Ready', 'Errored'], 90_000);
  expect(ready.status).toBe('Ready');

  // The media's trace, once the worker's spans are in (they are batched, about a second).
  const found = await waitFor(
    'the media’s trace in Jaeger with spans of the three roles',
    async () => {
      const res = await fetch(`${jaeger}/api/traces?service=${service}-api&limit=50&lookback=1h`);
      if (!res.ok) return undefined;
      const { data } = (await res.json()) as { data: JaegerTrace[] | null };
      const t = (data ?? []).find((tr) =>
        tr.spans.some((s) => tag(s, 'media.id') === media.id && s.operationName.includes('upload')),
      );
      if (!t) return undefined;
      const services = new Set(Object.values(t.processes).map((p) => p.serviceName));
      const hasFfmpeg = t.spans.some((s) => s.operationName === 'ffmpeg');
      // Every parent is in (a workflow's own span is exported when the run ends, after Ready).
      const ids = new Set(t.spans.map((s) => s.spanID));
      const whole = t.spans.every((s) => s.references.every((r) => ids.has(r.spanID)));
      return whole && services.has(`${service}-worker`) && services.has(`${service}-bridge`) && hasFfmpeg
        ? t
        : undefined;
    },
    60_000,
    500,
  );
  const byId = new Map(found.spans.map((s) => [s.spanID, s]));
  const serviceOf = (s: JaegerSpan) => found.processes[s.processID]!.serviceName.slice(service.length + 1);
  const parentOf = (s: JaegerSpan) => {
    const ref = s.references.find((r) => r.refType === 'CHILD_OF');
    return ref ? byId.get(ref.spanID) : undefined;
  };
  const chain = (s: JaegerSpan) => {
    const out: JaegerSpan[] = [];
    for (let at: JaegerSpan | undefined = s; at; at = parentOf(at)) out.unshift(at);
    return out;
  };

  // Every span of the trace hangs from one root: the upload request.
  const roots = found.spans.filter((s) => !parentOf(s));
  expect(roots).toHaveLength(1);
  expect(serviceOf(roots[0]!)).toBe('api');
  expect(roots[0]!.operationName).toMatch(/^POST \/medias\/:id\/upload/);
  expect(tag(roots[0]!, 'http.response.status_code')).toBeLessThan(300);

  // An ffmpeg run's ancestry crosses the three roles, in the order the media went.
  const ffmpeg = found.spans.filter((s) => s.operationName === 'ffmpeg');
  const encode = ffmpeg.find((s) => String(tag(s, 'ffmpeg.argv')).includes('libx264'));
  expect(encode).toBeDefined();
  const path_ = chain(encode!).map((s) => `${serviceOf(s)}:${s.operationName}`);
  const expected = [
    /^api:POST \/medias\/:id\/upload/,
    /^api:publish media\.uploaded$/,
    /^bridge:process /,
    /^bridge:StartWorkflow:processMedia$/,
    /^worker:RunWorkflow:processMedia$/,
    /^worker:StartActivity:/,
    /^worker:RunActivity:/,
    /^worker:ffmpeg$/,
  ];
  let i = 0;
  for (const step of path_) if (i < expected.length && expected[i]!.test(step)) i++;
  expect({ path: path_, matched: i }).toEqual({ path: path_, matched: expected.length });
  expect(Number(tag(encode!, 'ffmpeg.wall_seconds'))).toBeGreaterThan(0);

  // The trace as Jaeger shows it (operation, role, duration), kept for whoever reads the run.
  const lines = found.spans
    .sort((a, b) => a.startTime - b.startTime)
    .map(
      (s) =>
        `${'  '.repeat(chain(s).length - 1)}${serviceOf(s)} ${s.operationName} ${(s.duration / 1000).toFixed(1)} ms`,
    );
  await mkdir('.data/test-artifacts', { recursive: true });
  await writeFile('.data/test-artifacts/trace-of-one-media.txt', `${found.traceID}\n${lines.join('\n')}\n`);

  // Log lines written inside a span carry its trace_id.
  // (the bridge's "workflow start" line).
  expect(bridge.logs()).toMatch(new RegExp(`"trace_id":"${found.traceID}".*"msg":"workflow start"`));

  // The media links to that trace in Jaeger's UI (the admin page shows the link), and the link's
  // trace is the one Jaeger's API gives for it.
  const linked = (await client.getMedia(media.id)).body.data.workflow?.trace_url;
  expect(linked).toBe(`${jaeger}/trace/${found.traceID}`);
  const byLink = await fetch(`${jaeger}/api/traces/${found.traceID}`);
  expect(byLink.status).toBe(200);
}, 180_000);
