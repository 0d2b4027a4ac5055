import { OpenAPIHono } from '@hono/zod-openapi';
import type { z } from 'zod';
import type { AppEnv } from './deps.ts';
import { errorBody } from './envelope.ts';

export const describeIssues = (error: z.ZodError) =>
  error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');

/** The router every resource registers its routes on; its own module so that route files never import create-app. */
export function createRouter() {
  return new OpenAPIHono<AppEnv>({
    strict: false,
    // One hook turns every validation failure into the v1 error envelope, naming the field.
    defaultHook: (result, c) => {
      if (!result.success)
        return c.json(errorBody(400, `invalid ${result.target}: ${describeIssues(result.error)}`), 400);
    },
  });
}

export type AppRouter = ReturnType<typeof createRouter>;
