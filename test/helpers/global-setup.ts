import amqp from 'amqplib';
import { execa } from 'execa';
import { prepareTemplateDatabase } from './database.ts';
import { rabbitUrl } from './services.ts';

/**
 * Before a test run: the template of the tests' databases, and no RabbitMQ queues (nor events exchanges) earlier runs left (each test server declares
 * its own durable `gilfoyle.test.<id>…` queue and dead-letter queue). Left to pile up, a
 * thousand of them make RabbitMQ's restart in the outage tests take minutes.
 */
export default async function globalSetup(): Promise<void> {
  await prepareTemplateDatabase();
  await removeStaleQueues();
}

async function removeStaleQueues(): Promise<void> {
  const listed = await execa('rabbitmqctl', ['-q', 'list_queues', 'name', 'consumers', '--no-table-headers'], {
    reject: false,
    timeout: 60_000,
  });
  if (listed.exitCode !== 0) {
    console.warn(`could not list RabbitMQ queues to remove old test queues: ${String(listed.stderr).split('\n')[0]}`);
    return;
  }
  const queues = new Map(
    String(listed.stdout)
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter(([name]) => name?.startsWith('gilfoyle.test.'))
      .map(([name, consumers]) => [name!, Number(consumers)]),
  );
  // A test queue nobody consumes is left over; one with a consumer belongs to a run going on now.
  const stale = [...queues]
    .filter(([name, consumers]) => !name.endsWith('.dead') && consumers === 0)
    .map(([name]) => name);
  const orphanedDead = [...queues.keys()].filter(
    (name) => name.endsWith('.dead') && !queues.has(name.slice(0, -'.dead'.length)),
  );
  // Each test server's events exchange too, unless its webhook queue has a consumer now.
  const exchanges = await execa('rabbitmqctl', ['-q', 'list_exchanges', 'name', '--no-table-headers'], {
    reject: false,
    timeout: 60_000,
  });
  const staleExchanges = String(exchanges.stdout)
    .split('\n')
    .map((l) => l.trim())
    .filter((name) => name.startsWith('gilfoyle.test.') && !((queues.get(`${name}.webhooks`) ?? 0) > 0));
  if (stale.length === 0 && orphanedDead.length === 0 && staleExchanges.length === 0) return;
  const connection = await amqp.connect(rabbitUrl);
  try {
    const channel = await connection.createChannel();
    for (const name of staleExchanges) await channel.deleteExchange(name);
    for (const name of stale) {
      await channel.deleteQueue(name);
      if (queues.has(`${name}.dead`)) await channel.deleteQueue(`${name}.dead`);
    }
    for (const name of orphanedDead) await channel.deleteQueue(name);
    await channel.close();
  } finally {
    await connection.close();
  }
}
