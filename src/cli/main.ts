import { Command, Option } from 'commander';
import { stringify } from 'yaml';
import { ConfigError, loadConfig } from '../config/load.ts';
import { redactConfig } from '../config/redact.ts';
import type { Config } from '../config/schema.ts';
import { migrate } from '../db/migrate.ts';
import { createLogger } from '../logger.ts';
import { serveMetrics } from '../metrics.ts';
import { startTracing } from '../tracing.ts';
import { version } from '../version.ts';
import { createResources, startApi, startBridge, type Running } from './roles.ts';

type Role = 'api' | 'bridge' | 'worker';

/** Reads the config once, here at the entry point; everything below receives it. */
function configFrom(opts: { config?: string }): Config {
  try {
    return loadConfig({ file: opts.config, env: process.env });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`gilfoyle: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

async function run(roles: Role[], opts: { config?: string }) {
  const config = configFrom(opts);
  const pretty = config.log.format === 'pretty' || (config.log.format === 'auto' && process.stdout.isTTY === true);
  const tracing = startTracing(config.tracing, roles);
  const logger = createLogger(config.log.level, { pretty });
  const resources = createResources(config, logger, tracing);
  const running: Running[] = [];
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    // A stuck request or connection must not keep a stopped process alive: the worker cancels
    // its activities at 75% of the grace period; this is the last resort.
    const grace = config.shutdown.grace_seconds;
    setTimeout(
      () => {
        logger.warn({ grace_seconds: grace }, 'shutdown took longer than the grace period, exiting');
        process.exit(1);
      },
      (grace + 5) * 1000,
    ).unref();
    // Every role stops taking new work at once (the API unready, for a load balancer to notice
    // while it still serves: on SIGTERM, an orchestrator's stop; at once on Ctrl-C).
    const unreadySeconds = signal === 'SIGTERM' ? config.shutdown.unready_seconds : 0;
    for (const r of running) r.drain?.({ unreadySeconds });
    for (const r of [...running].reverse()) {
      await r.stop().catch((err) => logger.error({ err, role: r.name }, 'stop failed'));
    }
    await resources.close();
    await tracing.shutdown(); // the last spans are flushed
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  try {
    if (roles.includes('api')) {
      // One machine: the API applies pending migrations itself (an advisory lock keeps this safe).
      const applied = await migrate(config.database.url);
      if (applied.length) logger.info({ applied }, 'migrations applied');
    }
    const startWorker: typeof import('./worker-role.ts').startWorker = async (...args) =>
      (await import('./worker-role.ts')).startWorker(...args);
    const starters = { worker: startWorker, bridge: startBridge, api: startApi };
    for (const role of (['worker', 'bridge', 'api'] as const).filter((r) => roles.includes(r))) {
      running.push(await starters[role](config, logger, resources));
    }
    if (!roles.includes('api') && config.metrics.enabled) {
      // Worker and bridge machines have no API to scrape or probe: /metrics and /healthz get a port
      // of their own. It is started last and stopped last (unshift), so the probe sees the drain.
      const server = await serveMetrics(resources.metrics, config.metrics.host, config.metrics.port, logger, {
        roles,
        version,
        stopping: () => stopping,
      });
      if (server)
        running.unshift({ name: 'metrics', stop: () => new Promise<void>((resolve) => server.close(() => resolve())) });
    }
  } catch (err) {
    await Promise.all(running.map((r) => r.stop().catch(() => undefined)));
    await resources.close();
    if (err instanceof ConfigError) {
      process.stderr.write(`gilfoyle: ${err.message}\n`);
      process.exit(2);
    }
    logger.fatal({ err: (err as Error).message }, 'could not start');
    process.exit(1);
  }
}

const program = new Command('gilfoyle')
  .description('Self-hosted media server: upload, encode with FFmpeg, stream as HLS')
  .version(version)
  .addOption(new Option('-c, --config <file>', 'YAML config file (default: $GILFOYLE_CONFIG or ./gilfoyle.yml)'));

const roleCommand = (name: string, roles: Role[], description: string) =>
  program
    .command(name)
    .description(description)
    .action(() => run(roles, program.opts()));

roleCommand('all', ['api', 'bridge', 'worker'], 'run every role in one process (one machine)');
roleCommand('api', ['api'], 'run the REST API and the outbox relay');
roleCommand('bridge', ['bridge'], 'run the RabbitMQ → Temporal bridge');
roleCommand('worker', ['worker'], 'run a Temporal worker: workflows and FFmpeg encodes');

program
  .command('migrate')
  .description('apply pending database migrations')
  .action(async () => {
    const config = configFrom(program.opts());
    const applied = await migrate(config.database.url);
    process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
  });

program
  .command('config')
  .description('print the effective configuration (file + environment + defaults) as YAML')
  .action(() => {
    const config = configFrom(program.opts());
    // Secrets stay out of terminals and logs.
    process.stdout.write(stringify(redactConfig(config)));
  });

await program.parseAsync(process.argv);
