import { createServer, connect, type Server, type Socket } from 'node:net';
import { execa } from 'execa';
import { sleep } from './services.ts';

/**
 * Machines of their own for Gilfoyle's roles, on this one machine: a Linux network namespace each,
 * joined to this host by a veth pair. A process in it sees only its own loopback and its link to
 * the host: it reaches the services (which listen on the host's loopback) through forwarders this
 * helper opens on the host's end of the link, as another machine would reach them over the LAN;
 * the host reaches what it serves at its address on the link.
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

/** The names a machine's namespace and the two ends of its link take. */
const namesOf = (i: number) => ({ name: `gfy-m${i}`, hostEnd: `gfy-h${i}`, machineEnd: `gfy-n${i}` });

/** pids of the processes running in namespace `name` (none when it does not exist). */
async function pidsIn(name: string): Promise<number[]> {
  const { stdout } = await execa('ip', ['netns', 'pids', name], { reject: false });
  return stdout.split('\n').filter(Boolean).map(Number);
}

/** SIGKILLs every process of namespace `name` until none is left (bounded); returns the pids killed. */
async function killAllIn(name: string): Promise<number[]> {
  const killed = new Set<number>();
  for (const end = Date.now() + 10_000; Date.now() < end;) {
    const pids = await pidsIn(name);
    if (pids.length === 0) return [...killed];
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        killed.add(pid);
      } catch {
        // Gone already.
      }
    }
    await sleep(50);
  }
  throw new Error(`processes still running in namespace ${name}: ${(await pidsIn(name)).join(', ')}`);
}

/**
 * Removes machine `i`'s namespace and link: its processes first (a namespace lives on, link and
 * all, while a process is in it), then the name, then the host's end of the pair (which takes the
 * other end with it).
 */
async function remove(i: number) {
  const { name, hostEnd } = namesOf(i);
  await killAllIn(name).catch(() => undefined);
  await ip('netns', 'del', name).catch(() => undefined);
  await ip('link', 'del', hostEnd).catch(() => undefined);
}

/** A TCP forwarder from `address:port` to the same port on the host's loopback; `close` cuts its connections too. */
async function forward(address: string, port: number) {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve());
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

/**
 * Makes `count` machines (namespaces gfy-m<i>, links 10.231.<i>.0/24) with forwarders to `ports`.
 * `tearDown(m)` takes one away as a machine that dies does: its processes killed, its link cut.
 * `close` undoes it all, whatever is still running in them.
 */
export async function makeMachines(count: number, ports = servicePorts) {
  const machines: Machine[] = [];
  const forwarders = new Map<string, { close(): Promise<void> }[]>();
  const closeForwarders = async (m: Machine) => {
    await Promise.all((forwarders.get(m.name) ?? []).map((f) => f.close()));
    forwarders.delete(m.name);
  };
  const close = async () => {
    for (const [i, m] of machines.entries()) {
      await closeForwarders(m);
      await remove(i);
    }
  };
  const tearDown = async (m: Machine) => {
    const i = machines.indexOf(m);
    if (i < 0) throw new Error(`${m.name} is not one of these machines`);
    // Killed while the link is up, their connections end as a crashed machine's do (the kernel
    // closes them); then the link goes, and nothing reaches the machine any more.
    const killed = await killAllIn(m.name);
    await closeForwarders(m);
    await remove(i);
    return killed;
  };
  try {
    for (let i = 0; i < count; i++) {
      const { name, hostEnd, machineEnd } = namesOf(i);
      const [hostAddress, address] = [`10.231.${i}.1`, `10.231.${i}.2`];
      // What an earlier run that died left behind.
      await remove(i);
      await ip('netns', 'add', name);
      const m = { name, hostAddress, address, prefix: ['ip', 'netns', 'exec', name] };
      machines.push(m);
      await ip('link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', machineEnd);
      await ip('link', 'set', machineEnd, 'netns', name);
      await ip('addr', 'add', `${hostAddress}/24`, 'dev', hostEnd);
      await ip('link', 'set', hostEnd, 'up');
      const inside = (...args: string[]) => ip('netns', 'exec', name, 'ip', ...args);
      await inside('addr', 'add', `${address}/24`, 'dev', machineEnd);
      await inside('link', 'set', machineEnd, 'up');
      await inside('link', 'set', 'lo', 'up');
      forwarders.set(name, await Promise.all(ports.map((port) => forward(hostAddress, port))));
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { machines, tearDown, close };
}

/** Whether namespace `m.name` exists (listed by `ip netns`). */
export async function exists(m: Machine): Promise<boolean> {
  const { stdout } = await ip('netns', 'list');
  return stdout.split('\n').some((line) => line.split(' ')[0] === m.name);
}

/** The same service URL, as a machine reaches it (the host's end of its link instead of loopback). */
export const reachedFrom = (m: Machine, url: string) => url.replace(/127\.0\.0\.1/g, m.hostAddress);
