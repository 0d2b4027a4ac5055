import { readFile } from 'node:fs/promises';
import { generateClientTypes } from '../../scripts/gen-client.ts';

describe('typed API client', () => {
  it('is generated from the current OpenAPI document (npm run gen:client)', async () => {
    const committed = await readFile(new URL('../../src/client/schema.d.ts', import.meta.url), 'utf8');
    expect(committed).toBe(await generateClientTypes());
  });
});
