import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { configSchema, type Config } from './schema.ts';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const envPrefix = 'GILFOYLE_';

type Shape = Record<string, z.ZodType>;

/** The object shape under optional/default/prefault/pipe wrappers, if the schema is an object. */
function objectShape(schema: z.ZodType): Shape | null {
  let s: z.ZodType = schema;
  for (let i = 0; i < 10; i++) {
    if (s instanceof z.ZodObject) return s.shape as Shape;
    const def = (s as unknown as { def: { innerType?: z.ZodType; in?: z.ZodType } }).def;
    const inner = def.innerType ?? def.in;
    if (!inner) return null;
    s = inner;
  }
  return null;
}

/** Every leaf key of the schema with its env variable name: encoding.max_attempts → GILFOYLE_ENCODING_MAX_ATTEMPTS. */
export function envVariables(): { path: string[]; name: string }[] {
  const out: { path: string[]; name: string }[] = [];
  const walk = (shape: Shape, path: string[]) => {
    for (const [key, child] of Object.entries(shape)) {
      const sub = objectShape(child);
      if (sub) walk(sub, [...path, key]);
      else out.push({ path: [...path, key], name: envPrefix + [...path, key].join('_').toUpperCase() });
    }
  };
  walk(objectShape(configSchema)!, []);
  return out;
}

/** Env values are text: numbers and booleans are read as such, JSON arrays/objects as JSON. */
function parseEnvValue(raw: string): unknown {
  const t = raw.trim();
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  if (t === 'true' || t === 'false') return t === 'true';
  if (t.startsWith('[') || t.startsWith('{')) {
    try {
      return JSON.parse(t);
    } catch {
      return raw;
    }
  }
  return raw;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown) {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

export function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

/** Validate a raw config object (from YAML, with env applied). Throws ConfigError naming the key. */
export function parseConfig(raw: unknown): Config {
  const result = configSchema.safeParse(raw ?? {});
  if (!result.success) throw new ConfigError(`invalid configuration: ${formatIssues(result.error)}`);
  return result.data;
}

export interface LoadOptions {
  /** Path of the YAML file; when absent, GILFOYLE_CONFIG, else ./gilfoyle.yml if it exists. */
  file?: string;
  env: Record<string, string | undefined>;
  /** Defaults to checking ./gilfoyle.yml when no file was named. */
  defaultFile?: string;
}

/** YAML file + GILFOYLE_* env overrides → validated config. The only place that reads the env is its caller. */
export function loadConfig({ file, env, defaultFile = 'gilfoyle.yml' }: LoadOptions): Config {
  const path = file ?? env.GILFOYLE_CONFIG;
  let raw: Record<string, unknown> = {};
  let text: string | null = null;
  try {
    text = readFileSync(path ?? defaultFile, 'utf8');
  } catch (err) {
    if (path) throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  if (text !== null) {
    try {
      raw = (parseYaml(text) ?? {}) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError(`config file ${path ?? defaultFile} is not valid YAML: ${(err as Error).message}`);
    }
    if (typeof raw !== 'object' || Array.isArray(raw)) {
      throw new ConfigError(`config file ${path ?? defaultFile} must hold a mapping at the top level`);
    }
  }
  for (const { path: keyPath, name } of envVariables()) {
    const value = env[name];
    if (value !== undefined && value !== '') setPath(raw, keyPath, parseEnvValue(value));
  }
  return parseConfig(raw);
}
