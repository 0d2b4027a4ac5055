import type { Probe } from '../../src/domain/probe.ts';
import { canCopyAudio, downloadRendition, firstRenditions, planRenditions } from '../../src/domain/renditions.ts';
import { defaultLadder, videoProbe } from '../helpers/fixtures.ts';

const ladder = defaultLadder;

describe('planRenditions', () => {
  it('drops rungs above a 720p source and never upscales', () => {
    const plan = planRenditions(videoProbe(1280, 720), ladder);
    expect(plan.map((r) => r.name)).toEqual(['720p', '480p', '360p', 'audio']);
    expect(plan[0]).toMatchObject({ width: 1280, height: 720, frameRate: 30, gopFrames: 60 });
    expect(plan[1]).toMatchObject({ width: 854, height: 480 });
  });

  it('keeps a portrait source portrait, with even sizes', () => {
    const plan = planRenditions(videoProbe(1080, 1920, { displayWidth: 1080, displayHeight: 1920 }), ladder);
    expect(plan[0]).toMatchObject({ name: '1080p', width: 1080, height: 1920 });
    expect(plan.find((r) => r.name === '360p')).toMatchObject({ width: 360, height: 640 });
  });

  it('uses the displayed size of a rotated source', () => {
    const plan = planRenditions(
      videoProbe(1280, 720, { displayWidth: 720, displayHeight: 1280, rotation: 90 }),
      ladder,
    );
    expect(plan[0]).toMatchObject({ name: '720p', width: 720, height: 1280 });
  });

  it('gives odd sizes even dimensions that keep the aspect', () => {
    const plan = planRenditions(videoProbe(853, 481), ladder);
    for (const r of plan) if (r.type === 'video') expect([r.width % 2, r.height % 2]).toEqual([0, 0]);
    expect(plan[0]).toMatchObject({ name: '480p', width: 852, height: 480 });
  });

  it('encodes a source smaller than every rung once, at its own size', () => {
    const plan = planRenditions(videoProbe(320, 240, {}, false), ladder);
    expect(plan).toHaveLength(1);
    expect(plan[0]).toMatchObject({ type: 'video', width: 320, height: 240 });
  });

  it('caps the frame rate and keeps a 2 s GOP', () => {
    const plan = planRenditions(videoProbe(1280, 720, { frameRate: 120 }), ladder);
    expect(plan[0]).toMatchObject({ frameRate: 60, gopFrames: 120 });
  });

  it('copies stereo AAC-LC 48 kHz audio from an MP4 at no more than the rendition bitrate, and encodes anything else', () => {
    const withAudio = (audio: Partial<NonNullable<Probe['audio']>>, formatName = 'mov,mp4,m4a,3gp,3g2,mj2'): Probe => {
      const p = videoProbe(1280, 720);
      return { ...p, formatName, audio: { ...p.audio!, bitrate: 96_000, ...audio } };
    };
    const copyLadder = { ...ladder, audioCopy: true };
    const audioOf = (p: Probe, l = copyLadder) => planRenditions(p, l).find((r) => r.type === 'audio');
    expect(audioOf(withAudio({}))).toMatchObject({ copy: true, channels: 2 });
    expect(audioOf(withAudio({ channels: 1 }))).toMatchObject({ copy: true, channels: 1 });
    expect(canCopyAudio(withAudio({ bitrate: 140_000 }), 128)).toBe(true);
    for (const p of [
      withAudio({ bitrate: 192_000 }),
      withAudio({ bitrate: null }),
      withAudio({ channels: 6 }),
      withAudio({ sampleRate: 44_100 }),
      withAudio({ profile: 'HE-AAC' }),
      withAudio({ codec: 'opus' }),
      withAudio({}, 'mpegts'),
      withAudio({}, 'matroska,webm'),
    ]) {
      expect(canCopyAudio(p, 128)).toBe(false);
      expect(audioOf(p)).not.toHaveProperty('copy');
      expect(audioOf(p)).toMatchObject({ channels: 2 });
    }
    // Off in the config: always encoded.
    expect(audioOf(withAudio({}), { ...ladder, audioCopy: false })).not.toHaveProperty('copy');
  });

  it('plans one AAC rendition for audio-only sources', () => {
    const probe: Probe = { ...videoProbe(0, 0), video: null };
    expect(planRenditions(probe, ladder)).toEqual([
      { type: 'audio', name: 'audio', audioBitrate: 128, segmentSeconds: 4, channels: 2 },
    ]);
  });
});

describe('ladder details', () => {
  it('sizes a rung given by width from the long side', () => {
    const plan = planRenditions(videoProbe(1920, 1080), {
      ...ladder,
      rungs: [{ name: 'w960', width: 960, videoBitrate: 1000, maxRate: 1070, codec: 'h264' }],
    });
    expect(plan[0]).toMatchObject({ name: 'w960', width: 960, height: 540 });
    expect(
      planRenditions(videoProbe(640, 360), {
        ...ladder,
        rungs: [{ name: 'w960', width: 960, videoBitrate: 1000, maxRate: 1070, codec: 'h264' }],
      })[0],
    ).toMatchObject({ width: 640, height: 360 });
  });

  it('applies a rung frame-rate cap and keeps the 2 s GOP in seconds', () => {
    const rungs = [
      { name: 'hi', height: 720, videoBitrate: 3000, maxRate: 3210, codec: 'h264' as const },
      { name: 'lo', height: 360, videoBitrate: 600, maxRate: 642, codec: 'av1' as const, maxFrameRate: 30 },
    ];
    const plan = planRenditions(videoProbe(1280, 720, { frameRate: 60 }), { ...ladder, rungs });
    expect(plan[0]).toMatchObject({ name: 'hi', frameRate: 60, gopFrames: 120, codec: 'h264' });
    expect(plan[1]).toMatchObject({ name: 'lo', frameRate: 30, gopFrames: 60, codec: 'av1' });
  });

  it('plays first with the smallest rung and the audio', () => {
    const plan = planRenditions(videoProbe(1920, 1080), ladder);
    expect(firstRenditions(plan).map((r) => r.name)).toEqual(['360p', 'audio']);
    const audioOnly = planRenditions({ ...videoProbe(0, 0), video: null }, ladder);
    expect(firstRenditions(audioOnly).map((r) => r.name)).toEqual(['audio']);
  });

  it('downloads the preferred rung, or the largest planned when it was dropped', () => {
    expect(downloadRendition(planRenditions(videoProbe(1920, 1080), ladder), '720p')?.name).toBe('720p');
    expect(downloadRendition(planRenditions(videoProbe(854, 480), ladder), '720p')?.name).toBe('480p');
    expect(downloadRendition(planRenditions({ ...videoProbe(0, 0), video: null }, ladder), '720p')).toBeNull();
  });
});
