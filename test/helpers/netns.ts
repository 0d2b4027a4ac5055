import { createServer, connect, type Server } from 'node:net';
import { execa } from 'execa';

/**
 * Machines of their own for workers, on this one machine: a Linux network namespace each, joined
 * to this host by a veth pair. A process in it sees only its own loopback and its link to the
 * host: it reaches the services (which listen on the host's loopback) through forwarders this
 * helper opens on the host's end of the link, as another machine would reach them over the LAN.
 */
export interface Machine {
  name: string;
  /** The host's address on the link: where the machine finds the services. */
  hostAddress: string;
  /** The machine's own address (where the host reaches what it serves). */
  address: string;
  /** The command prefix that runs a process on the machine. */
  prefix: string[];
}

/** The services' ports on the host's loopback (scripts/services.sh): Postgres, RabbitMQ, Temporal, MinIO. */
export const servicePorts = [5432, 5672, 7233, 9000];

const ip = (...args: string[]) => execa('ip', args);

/** Makes `count` machines (namespaces gfy-m<i>, links 10.231.<i>.0/24) with forwarders to `ports`; `close` undoes it all. */
export async function makeMachines(count: number, ports = servicePorts) {
  const machines: Machine[] = [];
  const forwarders: Server[] = [];
  const close = async () => {
    await Promise.all(forwarders.map((s) => new Promise((resolve) => s.close(resolve))));
    for (const m of machines) {
      await ip('netns', 'del', m.name).catch(() => undefined);
    }
  };
  try {
    for (let i = 0; i < count; i++) {
      const name = `gfy-m${i}`;
      const [hostEnd, machineEnd] = [`gfy-h${i}`, `gfy-n${i}`];
      const [hostAddress, address] = [`10.231.${i}.1`, `10.231.${i}.2`];
      // What an earlier run that died left behind.
      await ip('netns', 'del', name).catch(() => undefined);
      await ip('link', 'del', hostEnd).catch(() => undefined);
      await ip('netns', 'add', name);
      machines.push({ name, hostAddress, address, prefix: ['ip', 'netns', 'exec', name] });
      await ip('link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', machineEnd);
      await ip('link', 'set', machineEnd, 'netns', name);
      await ip('addr', 'add', `${hostAddress}/24`, 'dev', hostEnd);
      await ip('link', 'set', hostEnd, 'up');
      const inside = (...args: string[]) => ip('netns', 'exec', name, 'ip', ...args);
      await inside('addr', 'add', `${address}/24`, 'dev', machineEnd);
      await inside('link', 'set', machineEnd, 'up');
      await inside('link', 'set', 'lo', 'up');
      for (const port of ports) forwarders.push(await forward(hostAddress, port));
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { machines, close };
}

/** A TCP forwarder from `address:port` to the same port on the host's loopback. */
function forward(address: string, port: number): Promise<Server> {
  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve(server));
  });
}

/** The same service URL, as a machine reaches it (the host's end of its link instead of loopback). */
export const reachedFrom = (m: Machine, url: string) => url.replace(/127\.0\.0\.1/g, m.hostAddress);
