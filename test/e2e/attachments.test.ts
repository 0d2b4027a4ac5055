/**
 * Attachments on the v1 routes, against a running Gilfoyle (the real Postgres, RabbitMQ, Temporal,
 * FFmpeg): timed text converted to WebVTT by ffmpeg and joining the HLS master playlist and the
 * DASH manifest of a Ready media at once, files kept as they came, and clear refusals. ffprobe
 * reads the subtitle playlist as served.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import path from 'node:path';
import { apiClient } from '../helpers/api.ts';
import { startGilfoyle, type RunningGilfoyle } from '../helpers/gilfoyle.ts';
import { makeVideo } from '../helpers/media.ts';
import { scratchDir } from '../helpers/scratch.ts';

const dir = scratchDir('gilfoyle-attachments');
let g: RunningGilfoyle;
let mediaId: string;

const srt = `1
00:00:00,500 --> 00:00:01,500
First words

2
00:00:02,000 --> 00:00:04,000
Hello from Gilfoyle
`;

const ass = `[Script Info]
ScriptType: v4.00+
PlayResX: 384
PlayResY: 288

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding
Style: Default,Arial,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Dialogue: 0,0:00:01.00,0:00:03.00,Default,,0,0,0,,[music] Bonjour
`;

beforeAll(async () => {
  g = await startGilfoyle({
    GILFOYLE_ENCODING_RENDITIONS: JSON.stringify([{ name: '240p', height: 240, video_bitrate: 300 }]),
    GILFOYLE_ENCODING_PRESET: 'ultrafast',
    GILFOYLE_ENCODING_PICTURES_ENABLED: 'false',
    GILFOYLE_ATTACHMENTS_MAX_SIZE: '65536',
  });
  const source = path.join(dir(), 'v.mp4');
  await makeVideo(source, { seconds: 5, width: 320, height: 240 });
  const api = apiClient(g.url);
  mediaId = (await api.uploadNew('with subtitles', 'video', source)).id;
  expect((await api.waitForStatus(mediaId, ['Ready', 'Errored'])).status).toBe('Ready');
}, 180_000);
afterAll(() => g?.stop());

/** POSTs one attachment: `fields` beside the file; the status and the body. */
async function attach(fields: Record<string, string>, content: string | Buffer, filename = 'file', type?: string) {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append(
    'file',
    new Blob([typeof content === 'string' ? content : new Uint8Array(content)], type ? { type } : {}),
    filename,
  );
  const res = await fetch(`${g.url}/medias/${mediaId}/attachments`, { method: 'POST', body: form });
  return { status: res.status, body: (await res.json()) as { data: Record<string, unknown>; message?: string } };
}

const text = async (file: string) => {
  const res = await fetch(`${g.url}/medias/${mediaId}/stream/${file}`);
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
};

it('takes SRT and ASS as WebVTT, lists them in the master playlist and the manifest at once, and ffprobe reads the playlist', async () => {
  const before = await text('master.m3u8');
  expect(before.body).not.toContain('TYPE=SUBTITLES');

  const en = await attach(
    { key: 'en', kind: 'subtitles', language: 'en', label: 'English', default: 'true' },
    srt,
    'en.srt',
  );
  expect(en.status).toBe(200);
  expect(en.body.data).toMatchObject({
    key: 'en',
    kind: 'subtitles',
    language: 'en',
    label: 'English',
    default: true,
    content_type: 'text/vtt',
    origin: 'upload',
    url: `/medias/${mediaId}/stream/text_en.vtt`,
  });
  const fr = await attach({ key: 'fr-cc', kind: 'captions', language: 'fr' }, ass, 'fr.ass');
  expect(fr.status).toBe(200);

  const vtt = await text('text_en.vtt');
  expect(vtt.status).toBe(200);
  expect(vtt.type).toMatch(/^text\/vtt/);
  expect(vtt.body).toMatch(/^WEBVTT/);
  expect(vtt.body).toMatch(/(?:00:)?00:02\.000 --> (?:00:)?00:04\.000\s+Hello from Gilfoyle/);
  expect((await text('text_fr-cc.vtt')).body).toContain('Bonjour');

  const master = (await text('master.m3u8')).body;
  expect(master).toMatch(
    /#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,FORCED=NO,URI="text_en\.m3u8\?v=[\w-]{10}"/,
  );
  expect(master).toMatch(
    /TYPE=SUBTITLES,GROUP-ID="subs",NAME="fr",LANGUAGE="fr",DEFAULT=NO.*CHARACTERISTICS="public\.accessibility/,
  );
  for (const line of master.split('\n').filter((l) => l.startsWith('#EXT-X-STREAM-INF')))
    expect(line).toContain('SUBTITLES="subs",CLOSED-CAPTIONS=NONE');
  const manifest = (await text('manifest.mpd')).body;
  expect(manifest).toMatch(/<AdaptationSet[^>]*contentType="text"[^>]*mimeType="text\/vtt"[^>]*lang="en"/);
  expect(manifest).toMatch(/<BaseURL>text_en\.vtt\?v=[\w-]{10}<\/BaseURL>/);
  expect(manifest).toMatch(/value="caption"/);

  const playlist = await text('text_en.m3u8');
  expect(playlist.body).toContain('hlstext_en.vtt');
  expect((await text('hlstext_en.vtt')).body).toMatch(/^WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00\.000\n/);
  // ffprobe, reading the subtitle playlist as served: one WebVTT stream.
  const { stdout } = await execa('ffprobe', [
    '-v',
    'error',
    '-show_entries',
    'stream=codec_type,codec_name',
    '-of',
    'json',
    `${g.url}/medias/${mediaId}/stream/text_en.m3u8`,
  ]);
  expect(JSON.parse(stdout).streams).toEqual([{ codec_type: 'subtitle', codec_name: 'webvtt' }]);

  const listed = await (await fetch(`${g.url}/medias/${mediaId}/attachments`)).json();
  expect(listed.data.map((a: { key: string }) => a.key)).toEqual(['en', 'fr-cc']);
  const types = (await apiClient(g.url).events(mediaId)).map((e) => e.type);
  expect(types.filter((t) => t === 'attachment.created')).toHaveLength(2);

  // Removed: out of the master playlist at once, its files gone.
  const removed = await fetch(`${g.url}/medias/${mediaId}/attachments/fr-cc`, { method: 'DELETE' });
  expect(removed.status).toBe(200);
  expect((await text('master.m3u8')).body).not.toContain('fr-cc');
  expect((await text('text_fr-cc.vtt')).status).toBe(404);
  expect((await apiClient(g.url).events(mediaId)).map((e) => e.type)).toContain('attachment.deleted');
}, 60_000);

it('keeps a file as it came, with its content type, served by the keyed route', async () => {
  const bytes = Buffer.from('%PDF-1.4 not really a pdf\n\u0000\u0001binary');
  const made = await attach({ key: 'notes', kind: 'file', label: 'Notes' }, bytes, 'notes.pdf', 'application/pdf');
  expect(made.status).toBe(200);
  expect(made.body.data).toMatchObject({
    kind: 'file',
    content_type: 'application/pdf',
    size: bytes.length,
    filename: 'notes.pdf',
  });
  const res = await fetch(`${g.url}/medias/${mediaId}/attachments/notes`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/pdf');
  expect(res.headers.get('content-disposition')).toBe(`attachment; filename="notes.pdf"; filename*=UTF-8''notes.pdf`);
  expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
  // A file is not a stream file.
  expect((await text('text_notes.vtt')).status).toBe(404);
});

it('refuses what is not timed text, bad fields, a taken key and a file past max_size, keeping nothing', async () => {
  const before = await (await fetch(`${g.url}/medias/${mediaId}/attachments`)).json();
  const cases: [Record<string, string>, string, number, RegExp][] = [
    [
      { kind: 'subtitles' },
      '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nfile:///etc/passwd\n',
      400,
      /not timed text/,
    ],
    [{ kind: 'subtitles' }, "ffconcat version 1.0\nfile '/etc/passwd'\n", 400, /not timed text/],
    [{ kind: 'captions' }, 'WEBVTT\n\n', 400, /has no cue/],
    [{ kind: 'subtitles' }, '1\n00:00:01,000 --> 00:00:00,500\nbackwards\n', 400, /timings are not valid/],
    [{ kind: 'poster' }, srt, 400, /kind: /],
    [{ kind: 'subtitles', language: 'not a language' }, srt, 400, /language: a BCP 47 language tag/],
    [{ kind: 'subtitles', key: '../etc' }, srt, 400, /key: /],
    [{ kind: 'subtitles', colour: 'red' }, srt, 400, /unexpected form field "colour"/],
    [{ kind: 'file', key: 'notes' }, 'again', 409, /already has an attachment notes/],
    [{ kind: 'file' }, 'x'.repeat(70_000), 413, /attachments\.max_size/],
  ];
  for (const [fields, content, status, message] of cases) {
    const got = await attach(fields, content);
    expect({ fields, status: got.status, message: got.body.message }).toEqual({
      fields,
      status,
      message: expect.stringMatching(message),
    });
  }
  const after = await (await fetch(`${g.url}/medias/${mediaId}/attachments`)).json();
  expect(after.data).toEqual(before.data);
  // Nothing of the refused uploads is left in storage: the attachments' files are those listed.
  const kept = await g.storage.list(`medias/${mediaId}/attachment`);
  expect(kept.map((k) => k.split('/').slice(2, 4).join('/')).sort()).toEqual(['attachments/en', 'attachments/notes']);
  expect((await fetch(`${g.url}/medias/${crypto.randomUUID()}/attachments`)).status).toBe(404);
  expect((await fetch(`${g.url}/medias/${mediaId}/attachments/nope`, { method: 'DELETE' })).status).toBe(404);
}, 60_000);

it.each([
  // MP4 keeps no title for a track (only a handler name); Matroska does.
  ['an MP4 (mov_text)', 'mp4', 'mov_text', null],
  ['a Matroska file (SubRip)', 'mkv', 'srt', 'Français'],
])(
  'takes the subtitle stream of %s as an attachment while processing it',
  async (_what, container, codec, label) => {
    const api = apiClient(g.url);
    const subs = path.join(dir(), `subs-${container}.srt`);
    await writeFile(subs, srt);
    const source = path.join(dir(), `with-subs.${container}`);
    // The video of the first upload, with a French subtitle stream muxed in.
    await execa('ffmpeg', [
      ...['-v', 'error', '-y', '-i', path.join(dir(), 'v.mp4'), '-i', subs, '-map', '0', '-map', '1', '-c', 'copy'],
      ...['-c:s', codec, '-metadata:s:s:0', 'language=fra', '-metadata:s:s:0', 'title=Français', source],
    ]);
    const media = await api.uploadNew(`subtitled ${container}`, 'video', source);
    expect((await api.waitForStatus(media.id, ['Ready', 'Errored'])).status).toBe('Ready');
    const listed = (await (await fetch(`${g.url}/medias/${media.id}/attachments`)).json()).data;
    expect(listed).toEqual([
      expect.objectContaining({
        kind: 'subtitles',
        language: 'fra',
        label,
        origin: 'source',
        content_type: 'text/vtt',
      }),
    ]);
    const { key } = listed[0] as { key: string };
    expect(key).toMatch(/^source-\d+$/);
    const vtt = await fetch(`${g.url}/medias/${media.id}/stream/text_${key}.vtt`);
    expect(await vtt.text()).toContain('Hello from Gilfoyle');
    const master = await (await fetch(`${g.url}/medias/${media.id}/stream/master.m3u8`)).text();
    expect(master).toContain(`NAME="${label ?? 'fra'}",LANGUAGE="fra"`);
    expect((await api.events(media.id)).map((e) => e.type)).toContain('attachment.created');
  },
  120_000,
);

it('serves the original file with its name and type, whole or a range (filesystem store)', async () => {
  const bytes = await readFile(path.join(dir(), 'v.mp4'));
  const whole = await fetch(`${g.url}/medias/${mediaId}/source`);
  expect(whole.status).toBe(200);
  expect(whole.headers.get('content-disposition')).toBe(`attachment; filename="v.mp4"; filename*=UTF-8''v.mp4`);
  expect(whole.headers.get('accept-ranges')).toBe('bytes');
  expect(Buffer.from(await whole.arrayBuffer()).equals(bytes)).toBe(true);
  const part = await fetch(`${g.url}/medias/${mediaId}/source`, { headers: { range: 'bytes=100-199' } });
  expect(part.status).toBe(206);
  expect(part.headers.get('content-range')).toBe(`bytes 100-199/${bytes.length}`);
  expect(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(100, 200))).toBe(true);
  const past = await fetch(`${g.url}/medias/${mediaId}/source`, { headers: { range: `bytes=${bytes.length + 10}-` } });
  expect(past.status).toBe(416);
  const fresh = (await apiClient(g.url).createMedia('nothing yet')).body.data;
  const none = await fetch(`${g.url}/medias/${fresh.id}/source`);
  expect(none.status).toBe(409);
  expect(((await none.json()) as { message: string }).message).toMatch(/has no source stored \(it is AwaitingUpload\)/);
});

it("takes v1's form of the route, the key in the path", async () => {
  const form = new FormData();
  form.append('kind', 'subtitles');
  form.append('language', 'de');
  form.append('file', new Blob([srt]), 'de.srt');
  const res = await fetch(`${g.url}/medias/${mediaId}/attachments/de`, { method: 'POST', body: form });
  expect(res.status).toBe(200);
  expect(((await res.json()) as { data: { key: string } }).data.key).toBe('de');
  const twice = new FormData();
  twice.append('kind', 'subtitles');
  twice.append('key', 'other');
  twice.append('file', new Blob([srt]), 'de.srt');
  const refused = await fetch(`${g.url}/medias/${mediaId}/attachments/de2`, { method: 'POST', body: twice });
  expect(refused.status).toBe(400);
  expect(((await refused.json()) as { message: string }).message).toMatch(/the key is in the path already/);
  expect((await fetch(`${g.url}/medias/${mediaId}/attachments/de`, { method: 'DELETE' })).status).toBe(200);
});
