import type { Probe } from '../../src/domain/probe.ts';
import { planRenditions } from '../../src/domain/renditions.ts';
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
    const plan = planRenditions(videoProbe(1280, 720, { displayWidth: 720, displayHeight: 1280, rotation: 90 }), ladder);
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

  it('plans one AAC rendition for audio-only sources', () => {
    const probe: Probe = { ...videoProbe(0, 0), video: null };
    expect(planRenditions(probe, ladder)).toEqual([{ type: 'audio', name: 'audio', audioBitrate: 128, segmentSeconds: 4 }]);
  });
});
