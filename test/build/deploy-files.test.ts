import { readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { parse, parseAllDocuments } from 'yaml';
import { envVariables, loadConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';
import { encodeTaskQueueOf } from '../../src/domain/workflow.ts';
import { repoRoot } from '../helpers/services.ts';

/**
 * The deployment files, checked by the tools made for them (scripts/install-deploy-tools.sh
 * installs them, pinned, into .tools/): hadolint on the Dockerfile; compose-go (the loader of
 * `docker compose config`: compose-spec schema, interpolation, references) on docker-compose.yml;
 * kustomize build + kubeconform -strict (Kubernetes and KEDA schemas, offline) on
 * deploy/kubernetes. Then what no schema knows: every GILFOYLE_* name is a config key, the
 * ConfigMap's gilfoyle.yml and each service's environment load through Gilfoyle's own config
 * loader, and the ports, grace periods and queue names the files repeat agree with that config.
 * Each checker is shown to fail on a broken copy, so that a pass means something.
 */

const read = (file: string) => readFileSync(path.join(repoRoot, file), 'utf8');
const bin = (name: string) => path.join(repoRoot, '.tools/bin', name);
const kubernetesVersion = /^KUBERNETES_VERSION=v(\S+)$/m.exec(read('scripts/install-deploy-tools.sh'))![1]!;
const schemaLocation = path.join(
  repoRoot,
  '.tools/k8s-schemas/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json',
);

let scratch = '';
let n = 0;
const tempDir = async (label: string) => {
  const dir = path.join(scratch, `${label}-${n++}`);
  await mkdir(dir, { recursive: true });
  return dir;
};

beforeAll(async () => {
  // Idempotent: a second of stamp checks when the tools are there (scripts/test.sh installs them).
  await execa('bash', ['scripts/install-deploy-tools.sh'], { cwd: repoRoot, timeout: 30 * 60_000 });
  scratch = await mkdtemp(path.join(os.tmpdir(), 'gilfoyle-deploy-files-'));
}, 30 * 60_000);

afterAll(() => rm(scratch, { recursive: true, force: true }));

/** The ENV of the Dockerfile's last stage: what every container starts with. */
function dockerfileEnv(text = read('Dockerfile')): Record<string, string> {
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  const runtime = lines.slice(lines.findLastIndex((l) => /^FROM\s/i.test(l)));
  const env: Record<string, string> = {};
  for (const line of runtime.filter((l) => /^ENV\s/i.test(l))) {
    for (const m of line.slice(4).matchAll(/([A-Z0-9_]+)=(\S*)/g)) env[m[1]!] = m[2]!;
  }
  return env;
}

/** The config a container gets from these settings, and nothing of this machine (no ./gilfoyle.yml). */
const configOf = (env: Record<string, string>, file?: string): Config =>
  loadConfig({ file, env, defaultFile: path.join(scratch, 'no-such-gilfoyle.yml') });

/** 45s, 1m30s → seconds. */
const seconds = (duration: string) =>
  [...duration.matchAll(/(\d+(?:\.\d+)?)(h|m|s)/g)].reduce(
    (sum, [, v, unit]) => sum + Number(v) * { h: 3600, m: 60, s: 1 }[unit as 'h' | 'm' | 's'],
    0,
  );

describe('Dockerfile', () => {
  const hadolint = (file: string) =>
    execa(bin('hadolint'), ['--no-color', '--failure-threshold', 'style', file], { reject: false, all: true });

  it('passes hadolint with no finding at any level', async () => {
    const run = await hadolint(path.join(repoRoot, 'Dockerfile'));
    expect(run.all).toBe('');
    expect(run.exitCode).toBe(0);
  });

  it('hadolint fails a broken copy (negative control)', async () => {
    const dir = await tempDir('dockerfile');
    const broken = read('Dockerfile')
      .replace('FROM node:${NODE_VERSION}-bookworm-slim AS build', 'FROM node:latest AS build')
      .replace('USER 1000:1000', 'USER node');
    await writeFile(path.join(dir, 'Dockerfile'), broken);
    const run = await hadolint(path.join(dir, 'Dockerfile'));
    expect(run.exitCode).toBe(1);
    expect(run.all).toMatch(/DL3007 warning: Using latest/);
    expect(run.all).toMatch(/DL3066 info: Non-numeric user-id/);

    await writeFile(path.join(dir, 'Dockerfile'), read('Dockerfile').replace('COPY src ./src', 'COPPY src ./src'));
    const typo = await hadolint(path.join(dir, 'Dockerfile'));
    expect(typo.exitCode).toBe(1);
    expect(typo.all).toMatch(/unexpected 'C'/);
  });

  it('runs the dist/ build of npm start, on the Node version of scripts/node.sh, as a numeric non-root user', () => {
    const text = read('Dockerfile');
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toContain('dist/cli/main.js');
    // Build stage: every dependency and `npm run build`; runtime: production dependencies, dist, admin/dist.
    expect(text).toMatch(/^FROM node:\$\{NODE_VERSION\}-bookworm-slim AS build\n(?:.*\n)*?RUN npm run build$/m);
    expect(text).toMatch(/^RUN npm ci --omit=dev /m);
    expect(text).toMatch(/^COPY --from=build \/src\/dist \.\/dist$/m);
    expect(text).toMatch(/^COPY admin\/dist \.\/admin\/dist$/m);
    expect(text).toMatch(/^ENTRYPOINT \["\/usr\/bin\/tini", "--", "node", "dist\/cli\/main\.js"\]$/m);
    expect(text).not.toMatch(/tsx|bin\/gilfoyle\.js/);
    const nodeVersion = /^GILFOYLE_NODE_VERSION=(\S+)$/m.exec(read('scripts/node.sh'))![1];
    expect(/^ARG NODE_VERSION=(\S+)$/m.exec(text)![1]).toBe(nodeVersion);
    expect(/^USER (\d+):(\d+)$/m.exec(text)!.slice(1).map(Number)).toEqual([1000, 1000]);
  });

  it('writes only under the volume and /tmp, where its user can', () => {
    const env = dockerfileEnv();
    const config = configOf(env);
    for (const dir of [config.tus.dir, config.storage.fs.root]) expect(dir).toMatch(/^\/var\/lib\/gilfoyle\//);
    expect(config.encoding.temp_dir).toBe('/tmp');
    expect(read('Dockerfile')).toMatch(/chown -R node:node \/var\/lib\/gilfoyle$/m);
    expect([config.server.host, config.metrics.host]).toEqual(['0.0.0.0', '0.0.0.0']);
  });

  it('.dockerignore lets only the build inputs into the context (no .env, no local state)', () => {
    const patterns = read('.dockerignore')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'));
    expect(patterns[0]).toBe('*');
    expect(patterns.filter((p) => !p.startsWith('!'))).toEqual(['*']);
    for (const copied of [...read('Dockerfile').matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) =>
      m[1]!.split(' '),
    ))
      expect(patterns).toContainEqual(expect.stringMatching(new RegExp(`^!${copied.replace(/\/$/, '')}/?$`)));
  });
});

interface ComposeService {
  image?: string;
  command?: string[];
  entrypoint?: string[] | null;
  environment?: Record<string, string | null>;
  healthcheck?: { test: string[] };
  stop_grace_period?: string;
  ports?: { host_ip?: string; target: number; published: string }[];
  volumes?: { type: string; source?: string; target: string; read_only?: boolean }[];
  read_only?: boolean;
  cap_drop?: string[];
  depends_on?: Record<string, { condition: string }>;
}

describe('docker-compose.yml', () => {
  /** A project folder with the compose file and an .env (the example, unless given). */
  const project = async (
    compose = read('docker-compose.yml'),
    env: string | null = read('deploy/gilfoyle.env.example'),
  ) => {
    const dir = await tempDir('compose');
    await writeFile(path.join(dir, 'docker-compose.yml'), compose);
    if (env !== null) await writeFile(path.join(dir, '.env'), env);
    await cp(path.join(repoRoot, 'deploy/temporal'), path.join(dir, 'deploy/temporal'), { recursive: true });
    return dir;
  };
  const check = async (dir: string) =>
    execa(bin('compose-check'), ['-f', path.join(dir, 'docker-compose.yml')], { reject: false });

  let services: Record<string, ComposeService>;
  beforeAll(async () => {
    const run = await check(await project());
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    services = (JSON.parse(run.stdout) as { services: Record<string, ComposeService> }).services;
  });

  it('loads with the example .env: schema, interpolation, references between services', () => {
    expect(Object.keys(services).sort()).toEqual(
      [
        'api',
        'bridge',
        'jaeger',
        'migrate',
        'minio',
        'minio-setup',
        'postgres',
        'rabbitmq',
        'temporal',
        'temporal-ui',
        'worker',
      ].sort(),
    );
  });

  it('fails a misspelt field, a dangling reference, and an .env without API keys (negative controls)', async () => {
    const typo = await check(
      await project(read('docker-compose.yml').replace('stop_grace_period:', 'stop_grace_periods:')),
    );
    expect(typo.exitCode).toBe(1);
    expect(typo.stderr).toMatch(/stop_grace_periods/);

    const dangling = await check(
      await project(
        read('docker-compose.yml').replace(
          'jaeger: { condition: service_started }',
          'jaegr: { condition: service_started }',
        ),
      ),
    );
    expect(dangling.exitCode).toBe(1);
    expect(dangling.stderr).toMatch(/depends on undefined service "jaegr"/);

    const keyless = read('deploy/gilfoyle.env.example').replace(/^GILFOYLE_AUTH_API_KEYS=.*$/m, '');
    const open = await check(await project(undefined, keyless));
    expect(open.exitCode).toBe(1);
    expect(open.stderr).toMatch(/required variable GILFOYLE_AUTH_API_KEYS is missing a value/);
  });

  describe.each(['api', 'bridge', 'worker'])('%s', (name) => {
    const service = () => services[name]!;
    const config = () => configOf({ ...dockerfileEnv(), ...(service().environment as Record<string, string>) });

    it('runs the image role with a config that loads (the Dockerfile ENV, then its environment)', () => {
      expect(service().command).toEqual([name]);
      expect(service().entrypoint ?? null).toBeNull();
      const c = config();
      expect(c.auth.api_keys.length).toBeGreaterThan(0);
      expect(c.storage.driver).toBe('s3');
      const endpoint = new URL(c.storage.s3.endpoint!);
      expect(services[endpoint.hostname]).toBeDefined();
      // The bucket minio-setup makes is the one Gilfoyle uses.
      expect(services['minio-setup']!.entrypoint!.at(-1)).toBe(`minio/${c.storage.s3.bucket}`);
      expect(services[new URL(c.tracing.otlp_endpoint!).hostname]).toBeDefined();
      expect(services[c.temporal.address.split(':')[0]!]).toBeDefined();
    });

    it('has a healthcheck on /healthz of its own port, and a stop period longer than the drain', () => {
      const c = config();
      const port = name === 'api' ? c.server.port : c.metrics.port;
      // A worker's or bridge's /healthz is served with its metrics.
      expect(c.metrics.enabled).toBe(true);
      expect(service().healthcheck!.test.join(' ')).toContain(`http://127.0.0.1:${port}/healthz`);
      expect(seconds(service().stop_grace_period!)).toBeGreaterThan(c.shutdown.grace_seconds + 5);
    });

    it('runs with a read-only root, no capabilities, and a /tmp of its own', () => {
      expect(service().read_only).toBe(true);
      expect(service().cap_drop).toEqual(['ALL']);
      const tmp = service().volumes!.find((v) => v.target === '/tmp');
      expect(tmp).toMatchObject({ type: 'volume' });
      expect(tmp!.source).toBeUndefined();
    });
  });

  it('publishes ports on 127.0.0.1 only', () => {
    const published = Object.values(services).flatMap((s) => s.ports ?? []);
    expect(published.length).toBeGreaterThan(0);
    for (const p of published) expect(p.host_ip).toBe('127.0.0.1');
  });

  it("gives Temporal the dynamic config of deploy/temporal, whose queue is the worker's encode queue", () => {
    const temporal = services.temporal!;
    const mount = temporal.volumes!.find((v) => v.target === temporal.environment!.DYNAMIC_CONFIG_FILE_PATH);
    expect(mount?.source).toMatch(/\/deploy\/temporal\/dynamicconfig\.yaml$/);
    expect(mount?.read_only).toBe(true);
    const worker = configOf({ ...dockerfileEnv(), ...(services.worker!.environment as Record<string, string>) });
    const dynamic = parse(readFileSync(mount!.source!, 'utf8')) as Record<string, { constraints?: object }[]>;
    expect(dynamic['matching.numTaskqueueReadPartitions']![0]!.constraints).toEqual({
      taskQueueName: encodeTaskQueueOf(worker.temporal.task_queue),
    });
  });
});

interface Probe {
  httpGet?: { path: string; port: string };
  tcpSocket?: { port: string };
  periodSeconds?: number;
  failureThreshold?: number;
}
interface Container {
  args: string[];
  env?: { name: string; value: string }[];
  envFrom?: unknown[];
  ports: { name: string; containerPort: number }[];
  startupProbe: Probe;
  readinessProbe: Probe;
  livenessProbe: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  securityContext: unknown;
  volumeMounts: { name: string; mountPath: string }[];
}
interface PodSpec {
  containers: Container[];
  volumes: { name: string; configMap?: { name: string }; emptyDir?: unknown }[];
  securityContext: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: unknown };
  automountServiceAccountToken?: boolean;
  terminationGracePeriodSeconds: number;
}
type Labels = Record<string, string>;
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Labels };
  spec?: unknown;
  data?: Record<string, string>;
}
interface DeploymentSpec {
  replicas?: number;
  template: { metadata: { labels: Labels }; spec: PodSpec };
}
interface ScaledObjectSpec {
  scaleTargetRef: { name: string };
  minReplicaCount: number;
  triggers: { type: string; metadata: Record<string, string> }[];
}
const specOf = <T>(o: K8sObject) => o.spec as T;

describe('deploy/kubernetes', () => {
  /** A copy of deploy/kubernetes with secrets.env made from the example (or not). */
  const copy = async (withSecrets = true) => {
    const dir = await tempDir('kubernetes');
    await cp(path.join(repoRoot, 'deploy/kubernetes'), dir, { recursive: true });
    if (withSecrets) await cp(path.join(dir, 'secrets.env.example'), path.join(dir, 'secrets.env'));
    return dir;
  };
  const build = (dir: string) => execa(bin('kustomize'), ['build', dir], { reject: false });
  const kubeconform = (manifests: string) =>
    execa(
      bin('kubeconform'),
      [
        '-strict',
        '-summary',
        '-verbose',
        '-output',
        'json',
        '-kubernetes-version',
        kubernetesVersion,
        '-schema-location',
        schemaLocation,
        '-',
      ],
      { input: manifests, reject: false },
    );
  interface Report {
    resources: { kind: string; name: string; status: string; msg: string }[];
    summary: { valid: number; invalid: number; errors: number; skipped: number };
  }

  let manifests = '';
  let objects: K8sObject[] = [];
  beforeAll(async () => {
    const run = await build(await copy());
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    manifests = run.stdout;
    objects = parseAllDocuments(manifests).map((d) => d.toJS() as K8sObject);
  });
  const find = (kind: string, name: string) => {
    const found = objects.find((o) => o.kind === kind && o.metadata.name.startsWith(name));
    if (!found) throw new Error(`no ${kind} ${name} in the kustomize build`);
    return found;
  };
  const deployments = () => objects.filter((o) => o.kind === 'Deployment');
  const podOf = (deployment: K8sObject) => specOf<DeploymentSpec>(deployment).template;

  it(`kustomize builds it and every document is valid (kubeconform -strict, Kubernetes ${kubernetesVersion} and KEDA schemas)`, async () => {
    const run = await kubeconform(manifests);
    expect(run.stderr).toBe('');
    const report = JSON.parse(run.stdout) as Report;
    expect(report.summary).toEqual({ valid: objects.length, invalid: 0, errors: 0, skipped: 0 });
    expect(run.exitCode).toBe(0);
    expect(report.resources.map((r) => `${r.kind}/${r.name.replace(/-[a-z0-9]{10}$/, '')}`).sort()).toEqual(
      [
        'ConfigMap/gilfoyle-config',
        'Deployment/gilfoyle-api',
        'Deployment/gilfoyle-bridge',
        'Deployment/gilfoyle-worker',
        'Namespace/gilfoyle',
        'PodDisruptionBudget/gilfoyle-api',
        'PodDisruptionBudget/gilfoyle-bridge',
        'PodDisruptionBudget/gilfoyle-worker',
        'ScaledObject/gilfoyle-worker',
        'Secret/gilfoyle-secrets',
        'Service/gilfoyle-api',
        'ServiceAccount/gilfoyle',
      ].sort(),
    );
    expect(report.resources.every((r) => r.status === 'statusValid')).toBe(true);
  });

  it('kubeconform fails misspelt fields, a number where KEDA wants a string, an unknown kind (negative controls)', async () => {
    const cases: [string, string, RegExp][] = [
      [
        'terminationGracePeriodSeconds:',
        'terminationGracePeriodSecond:',
        /additional properties 'terminationGracePeriodSecond' not allowed/,
      ],
      ['minReplicaCount:', 'minReplicas:', /additional properties 'minReplicas' not allowed/],
      ['targetQueueSize: "2"', 'targetQueueSize: 2', /targetQueueSize': got number, want string/],
      [
        'readOnlyRootFilesystem:',
        'readonlyRootFilesystem:',
        /additional properties 'readonlyRootFilesystem' not allowed/,
      ],
    ];
    for (const [from, to, message] of cases) {
      expect(manifests).toContain(from);
      const report = JSON.parse((await kubeconform(manifests.replace(from, to))).stdout) as Report;
      expect(report.summary.invalid).toBe(1);
      expect(report.resources.find((r) => r.status === 'statusInvalid')?.msg).toMatch(message);
    }
    // A kind with no schema is an error, not a pass.
    const unknown = await kubeconform('apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n');
    expect(unknown.exitCode).toBe(1);
    expect((JSON.parse(unknown.stdout) as Report).summary.errors).toBe(1);
  });

  it('kustomize refuses to build without secrets.env (no deployment without keys)', async () => {
    const run = await build(await copy(false));
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/secrets\.env/);
  });

  /** The config of a container: the ConfigMap's gilfoyle.yml, under the image ENV, its env and the Secret. */
  const podConfig = async (deployment: K8sObject): Promise<Config> => {
    const pod = podOf(deployment).spec;
    const container = pod.containers[0]!;
    const configMap = find('ConfigMap', 'gilfoyle-config');
    const secret = find('Secret', 'gilfoyle-secrets');
    const mount = container.volumeMounts.find(
      (m) => pod.volumes.find((v) => v.name === m.name)?.configMap?.name === configMap.metadata.name,
    )!;
    const env: Record<string, string> = { ...dockerfileEnv() };
    for (const e of container.env ?? []) env[e.name] = e.value;
    expect(container.envFrom).toEqual([{ secretRef: { name: secret.metadata.name } }]);
    for (const [k, v] of Object.entries(secret.data!)) env[k] = Buffer.from(v, 'base64').toString('utf8');
    // GILFOYLE_CONFIG names the file where the ConfigMap is mounted; here, a copy of its content.
    const name = path.relative(mount.mountPath, env.GILFOYLE_CONFIG!);
    expect(Object.keys(configMap.data!)).toContain(name);
    const file = path.join(await tempDir('configmap'), name);
    await writeFile(file, configMap.data![name]!);
    delete env.GILFOYLE_CONFIG;
    return configOf(env, file);
  };

  describe.each(['api', 'bridge', 'worker'])('%s Deployment', (role) => {
    const deployment = () => find('Deployment', `gilfoyle-${role}`);
    const pod = () => podOf(deployment()).spec;

    it('runs its role with the ConfigMap and the Secret, and that config loads', async () => {
      expect(pod().containers).toHaveLength(1);
      expect(pod().containers[0]!.args).toEqual([role]);
      const config = await podConfig(deployment());
      expect(config.auth.api_keys.length).toBeGreaterThan(0);
      expect(config.storage.driver).toBe('s3');
    });

    it('no root, no capabilities, a read-only root filesystem, a writable /tmp', () => {
      expect(pod().securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(pod().securityContext.runAsUser).toBeGreaterThan(0);
      expect(pod().automountServiceAccountToken).toBe(false);
      const container = pod().containers[0]!;
      expect(container.securityContext).toEqual({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
      const tmp = container.volumeMounts.find((m) => m.mountPath === '/tmp');
      expect(pod().volumes.find((v) => v.name === tmp?.name)?.emptyDir).toBeDefined();
    });

    it('probes /healthz (the API’s readiness: /readyz) on the configured port, and stops within a grace period longer than the drain', async () => {
      const config = await podConfig(deployment());
      const container = pod().containers[0]!;
      const port = container.ports.find((p) => p.name === container.startupProbe.httpGet?.port);
      expect(port?.containerPort).toBe(role === 'api' ? config.server.port : config.metrics.port);
      expect(config.metrics.enabled).toBe(true);
      expect(container.startupProbe.httpGet?.path).toBe('/healthz');
      for (const probe of [container.readinessProbe, container.livenessProbe]) {
        expect((probe.httpGet ?? probe.tcpSocket)?.port).toBe(port?.name);
        if (probe.httpGet)
          expect(probe.httpGet.path).toBe(
            role === 'api' && probe === container.readinessProbe ? '/readyz' : '/healthz',
          );
      }
      // The API fails /readyz at SIGTERM and serves shutdown.unready_seconds more, in time for the
      // Service to notice (period × threshold); then it drains like the others.
      if (role === 'api') {
        const r = container.readinessProbe;
        expect(r.httpGet?.path).toBe('/readyz');
        expect((r.periodSeconds ?? 10) * (r.failureThreshold ?? 3)).toBeLessThanOrEqual(
          config.shutdown.unready_seconds,
        );
      }
      const preStop = Number(container.lifecycle?.preStop?.exec?.command?.[1] ?? 0);
      const unready = role === 'api' ? config.shutdown.unready_seconds : 0;
      expect(pod().terminationGracePeriodSeconds).toBeGreaterThan(
        preStop + unready + config.shutdown.grace_seconds + 5,
      );
    });

    it('has a PodDisruptionBudget over its pods', () => {
      const pdb = specOf<{ maxUnavailable?: number; minAvailable?: number; selector: { matchLabels: Labels } }>(
        find('PodDisruptionBudget', `gilfoyle-${role}`),
      );
      expect(pdb.maxUnavailable ?? pdb.minAvailable).toBeDefined();
      expect(podOf(deployment()).metadata.labels).toMatchObject(pdb.selector.matchLabels);
      // It selects no other role's pods.
      for (const other of deployments().filter((d) => d !== deployment()))
        expect(podOf(other).metadata.labels).not.toMatchObject(pdb.selector.matchLabels);
    });
  });

  it('the Service sends to the API pods, on the configured port', async () => {
    const service = specOf<{ selector: Labels; ports: { targetPort: string }[] }>(find('Service', 'gilfoyle-api'));
    const api = find('Deployment', 'gilfoyle-api');
    expect(podOf(api).metadata.labels).toMatchObject(service.selector);
    const port = podOf(api).spec.containers[0]!.ports.find((p) => p.name === service.ports[0]!.targetPort);
    expect(port?.containerPort).toBe((await podConfig(api)).server.port);
  });

  it('KEDA scales the worker on the backlog of the encode task queue of the configured Temporal', async () => {
    const scaled = specOf<ScaledObjectSpec>(find('ScaledObject', 'gilfoyle-worker'));
    const worker = find('Deployment', 'gilfoyle-worker');
    const config = await podConfig(worker);
    expect(scaled.scaleTargetRef.name).toBe(worker.metadata.name);
    // KEDA owns the replicas: a replicas field would fight it at every apply.
    expect(specOf<DeploymentSpec>(worker).replicas).toBeUndefined();
    expect(scaled.minReplicaCount).toBeGreaterThanOrEqual(1);
    expect(scaled.triggers).toHaveLength(1);
    expect(scaled.triggers[0]).toMatchObject({
      type: 'temporal',
      metadata: {
        endpoint: config.temporal.address,
        namespace: config.temporal.namespace,
        taskQueue: encodeTaskQueueOf(config.temporal.task_queue),
        queueTypes: 'activity',
      },
    });
  });

  it("the ConfigMap's gilfoyle.yml loads alone, and a misspelt key in it fails (negative control)", async () => {
    const text = read('deploy/kubernetes/gilfoyle.yml');
    expect(() => configOf({}, path.join(repoRoot, 'deploy/kubernetes/gilfoyle.yml'))).not.toThrow();
    const file = path.join(await tempDir('gilfoyle-yml'), 'gilfoyle.yml');
    await writeFile(file, text.replace('grace_seconds:', 'grace_second:'));
    expect(() => configOf({}, file)).toThrow(/shutdown.*grace_second/);
  });
});

describe('GILFOYLE_* names and the config keys they repeat', () => {
  const deployFiles = async () => [
    'Dockerfile',
    'docker-compose.yml',
    ...(await readdir(path.join(repoRoot, 'deploy'), { recursive: true }))
      .map((f) => path.join('deploy', String(f)))
      .filter((f) => /\.(ya?ml|example)$/.test(f)),
  ];
  const known = new Set([...envVariables().map((v) => v.name), 'GILFOYLE_CONFIG', 'GILFOYLE_COMMIT']);
  const unknownNames = (text: string) =>
    [...text.matchAll(/\bGILFOYLE_[A-Z0-9_]+\b/g)].map((m) => m[0]).filter((v) => !known.has(v));

  it('every GILFOYLE_* variable named in the deployment files is a key of the config schema', async () => {
    const files = await deployFiles();
    expect(files).toEqual(
      expect.arrayContaining([
        'deploy/gilfoyle.env.example',
        'deploy/kubernetes/secrets.env.example',
        'deploy/kubernetes/gilfoyle.yml',
        'deploy/kubernetes/api.yaml',
      ]),
    );
    const named = new Set<string>();
    for (const file of files) {
      const text = read(file);
      expect({ file, unknown: unknownNames(text) }).toEqual({ file, unknown: [] });
      for (const m of text.matchAll(/\bGILFOYLE_[A-Z0-9_]+\b/g)) named.add(m[0]);
    }
    // The check reads the names it should (the files do name many).
    expect(named.size).toBeGreaterThan(20);
    // Negative control: a misspelt name is caught.
    expect(unknownNames('GILFOYLE_STORAGE_S3_ENDPIONT=http://minio:9000')).toEqual(['GILFOYLE_STORAGE_S3_ENDPIONT']);
  });

  it('no key of the ConfigMap file is also set by env (the env would win, unseen)', () => {
    const leafNames = (value: unknown, prefix: string[] = []): string[] =>
      value && typeof value === 'object' && !Array.isArray(value)
        ? Object.entries(value).flatMap(([k, v]) => leafNames(v, [...prefix, k]))
        : [`GILFOYLE_${prefix.join('_').toUpperCase()}`];
    const inFile = new Set(leafNames(parse(read('deploy/kubernetes/gilfoyle.yml'))));
    const byEnv = [
      ...Object.keys(dockerfileEnv()),
      ...[...read('deploy/kubernetes/secrets.env.example').matchAll(/^(GILFOYLE_\w+)=/gm)].map((m) => m[1]!),
      ...['api', 'bridge', 'worker'].flatMap((role) =>
        [...read(`deploy/kubernetes/${role}.yaml`).matchAll(/name: (GILFOYLE_\w+)/g)].map((m) => m[1]!),
      ),
    ];
    expect(byEnv.length).toBeGreaterThan(8);
    expect(byEnv.filter((name) => inFile.has(name))).toEqual([]);
    for (const name of inFile) expect(known).toContain(name);
  });

  it("Temporal's dynamic config: the priority matcher, one partition for Gilfoyle's encode queue, the same for compose and Helm", () => {
    const dynamic = parse(read('deploy/temporal/dynamicconfig.yaml')) as Record<
      string,
      { value: unknown; constraints?: { taskQueueName?: string } }[]
    >;
    expect(dynamic['matching.useNewMatcher']).toEqual([{ value: true }]);
    const encodeQueue = encodeTaskQueueOf(
      configOf({}, path.join(repoRoot, 'deploy/kubernetes/gilfoyle.yml')).temporal.task_queue,
    );
    for (const key of ['matching.numTaskqueueReadPartitions', 'matching.numTaskqueueWritePartitions'])
      expect(dynamic[key]).toEqual([{ value: 1, constraints: { taskQueueName: encodeQueue } }]);
    const helm = parse(read('deploy/temporal/helm-values.yaml')) as { server: { dynamicConfig: unknown } };
    expect(helm.server.dynamicConfig).toEqual(dynamic);
  });
});
