// test/support/redis-cluster.ts
// A real Redis Cluster of our own for one test file: N masters (plus one replica each, for failover)
// as child processes on free loopback ports, with their config in a temporary directory, created
// with `redis-cli --cluster create`. Never touches the shared Redis on 6379.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis, type ClusterOptions } from 'ioredis';
import { describeNeeding } from './services';

/**
 * A port that is free, and whose cluster bus port (port + 10000) is free too. Both stay below
 * Linux's ephemeral range (32768+), so no outgoing connection takes them between the check and
 * redis-server's bind.
 */
async function freePortPair(taken: Set<number>): Promise<number> {
  const free = (port: number) => new Promise<boolean>((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 2700);
    if (taken.has(port) || taken.has(port + 10000)) continue;
    if ((await free(port)) && (await free(port + 10000))) {
      taken.add(port).add(port + 10000);
      return port;
    }
  }
  throw new Error('no free port pair for a Redis Cluster node');
}

/** True when `redis-server` and a `redis-cli` with `--cluster` (Redis ≥ 5) are installed. */
function hasRedisCluster(): boolean {
  if (spawnSync('sh', ['-c', 'command -v redis-server']).status !== 0) return false;
  const help = spawnSync('redis-cli', ['--cluster', 'help'], { encoding: 'utf8' });
  return `${help.stdout}${help.stderr}`.includes('create');
}

/** `describeNeeding` for a local cluster: `describe` when one can be started (.ci/run installs redis-server). */
export function describeWithRedisCluster(name: string, fn: () => void): void {
  describeNeeding(hasRedisCluster() ? null : 'redis-server / redis-cli --cluster (apt-get install redis-server)')(name, fn);
}

interface ClusterNode {
  port: number;
  proc: ChildProcess;
}

export interface LocalCluster {
  nodes: ClusterNode[];
  /** `host:port` seeds for an ioredis `Cluster`. */
  seeds: { host: string; port: number }[];
  /** A new ioredis Cluster client on this cluster (the caller quits it). */
  client(options?: ClusterOptions): Cluster;
  /** A plain connection to one node (for CLUSTER commands). */
  node(port: number): Redis;
  /** The port of the master serving `slot`, read from CLUSTER SHARDS/SLOTS on any node. */
  masterOf(slot: number): Promise<number>;
  /** Node id and role of every node, from CLUSTER NODES. */
  topology(): Promise<{ id: string; port: number; master: boolean; masterId: string | null; slots: string[] }[]>;
  /** Promotes a replica of the master of `slot` with CLUSTER FAILOVER; resolves once every node agrees. */
  failover(slot: number): Promise<{ from: number; to: number }>;
  /** Moves `slot` to another master, key by key with MIGRATE (the way `redis-cli --cluster reshard` does). */
  migrateSlot(slot: number, options?: { keysPerBatch?: number; pauseMs?: number }): Promise<{ from: number; to: number; keys: number }>;
  /** Waits until every node reports cluster_state:ok and agrees on the owner of every slot. */
  waitConverged(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function runCli(args: string[], timeoutMs = 30_000): string {
  const r = spawnSync('redis-cli', args, { encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`redis-cli ${args.join(' ')} failed (${r.status}): ${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** Starts `masters` masters with `replicasPerMaster` replicas each and forms the cluster. */
export async function startCluster(options: { masters?: number; replicasPerMaster?: number } = {}): Promise<LocalCluster> {
  const masters = options.masters ?? 3;
  const replicas = options.replicasPerMaster ?? 0;
  const total = masters * (1 + replicas);
  const dir = mkdtempSync(join(tmpdir(), 'sf-redis-cluster-'));
  const taken = new Set<number>();
  const nodes: ClusterNode[] = [];
  const admin = new Map<number, Redis>();
  const node = (port: number): Redis => {
    let r = admin.get(port);
    if (!r) {
      r = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 2, lazyConnect: false });
      r.on('error', () => {});
      admin.set(port, r);
    }
    return r;
  };

  async function stop(): Promise<void> {
    for (const r of admin.values()) r.disconnect();
    admin.clear();
    await Promise.all(nodes.map((n) => new Promise<void>((resolve) => {
      if (n.proc.exitCode !== null || n.proc.signalCode !== null) return resolve();
      n.proc.once('exit', () => resolve());
      n.proc.kill('SIGTERM');
      setTimeout(() => n.proc.kill('SIGKILL'), 3000).unref();
    })));
    rmSync(dir, { recursive: true, force: true });
  }

  try {
    for (let i = 0; i < total; i++) {
      const port = await freePortPair(taken);
      const proc = spawn('redis-server', [
        '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes',
        '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', '5000',
        '--dir', dir, '--save', '', '--appendonly', 'no', '--logfile', join(dir, `redis-${port}.log`),
        // A replica's first full sync starts at once (Redis waits 5 s by default for more replicas).
        '--repl-diskless-sync-delay', '0',
      ], { stdio: 'ignore' });
      nodes.push({ port, proc });
    }
    // Each node answers PING before the cluster is formed.
    for (const n of nodes) {
      let ok = false;
      for (let i = 0; i < 100 && !ok; i++) {
        try {
          ok = (await node(n.port).ping()) === 'PONG';
        } catch {
          await sleep(50);
        }
      }
      if (!ok) throw new Error(`redis-server on ${n.port} did not start`);
    }
    runCli(['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', String(replicas), '--cluster-yes']);
  } catch (error) {
    await stop();
    throw error;
  }

  const alive = () => nodes.filter((n) => n.proc.exitCode === null && n.proc.signalCode === null);

  /** Every node's own line of CLUSTER NODES (`myself`): its id, role and slots as the node itself sees them. */
  async function topology() {
    return Promise.all(alive().map(async (n) => {
      const text = (await node(n.port).call('CLUSTER', 'NODES')) as string;
      const line = text.trim().split('\n').find((l) => l.split(' ')[2]!.split(',').includes('myself'))!;
      const [id, , flags, masterId, , , , , ...slots] = line.split(' ');
      return { id: id!, port: n.port, master: flags!.split(',').includes('master'), masterId: masterId === '-' ? null : masterId!, slots };
    }));
  }

  /** What one node believes: id → role/master, and the slot map. */
  async function viewOf(port: number): Promise<string> {
    const text = (await node(port).call('CLUSTER', 'NODES')) as string;
    const roles = text.trim().split('\n').map((l) => {
      const [id, , flags, masterId] = l.split(' ');
      const f = flags!.split(',');
      return `${id}:${f.includes('master') ? 'm' : 's'}:${masterId}:${f.some((x) => x.startsWith('fail')) ? 'fail' : ''}`;
    }).sort();
    const slots = ((await node(port).call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][])
      .map(([a, b, m]) => `${a}-${b}@${m[1]}`).sort();
    return JSON.stringify([roles, slots]);
  }

  async function ownerFrom(port: number, slot: number): Promise<number | null> {
    const slots = (await node(port).call('CLUSTER', 'SLOTS')) as [number, number, [string, number, string]][];
    for (const [start, end, master] of slots) if (slot >= start && slot <= end) return Number(master[1]);
    return null;
  }

  async function waitConverged(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const states = await Promise.all(alive().map(async (n) => String(await node(n.port).call('CLUSTER', 'INFO'))));
        const views = await Promise.all(alive().map((n) => viewOf(n.port)));
        if (states.every((s) => s.includes('cluster_state:ok')) && views.every((v) => v === views[0]) && !views[0]!.includes(':fail')) return;
      } catch {
        // a node mid-change: try again
      }
      if (Date.now() > deadline) throw new Error('Redis Cluster did not converge');
      await sleep(100);
    }
  }

  async function masterOf(slot: number): Promise<number> {
    const port = await ownerFrom(nodes[0]!.port, slot);
    if (port === null) throw new Error(`slot ${slot} has no owner`);
    return port;
  }

  /**
   * Every replica has finished its first full sync and follows its master. Until then a replica
   * holds no copy of the data: a failover in that window (seen: CLUSTER FAILOVER 3 s after the
   * cluster formed, its RDB still pending) is not the failover the suites mean to test.
   */
  async function waitReplicasInSync(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const infos = await Promise.all(alive().map(async (n) => String(await node(n.port).call('INFO', 'replication'))));
      const replicas = infos.filter((i) => i.includes('role:slave'));
      if (replicas.length > 0 && replicas.every((i) => i.includes('master_link_status:up') && i.includes('master_sync_in_progress:0'))) return;
      if (Date.now() > deadline) throw new Error('Redis Cluster replicas did not finish their first sync');
      await sleep(100);
    }
  }

  await waitConverged(30_000);
  await waitReplicasInSync();

  return {
    nodes,
    seeds: nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
    client: (clientOptions = {}) => {
      const c = new Cluster(nodes.map((n) => ({ host: '127.0.0.1', port: n.port })), clientOptions);
      c.on('error', () => {});
      return c;
    },
    node,
    masterOf,
    topology,
    waitConverged,
    async failover(slot) {
      const from = await masterOf(slot);
      const topo = await topology();
      const master = topo.find((n) => n.port === from)!;
      const replica = topo.find((n) => !n.master && n.masterId === master.id);
      if (!replica) throw new Error(`master ${from} has no replica to fail over to`);
      // Manual failover: the master stops writes, the replica catches up, then takes over.
      await node(replica.port).call('CLUSTER', 'FAILOVER');
      const deadline = Date.now() + 20_000;
      while ((await ownerFrom(replica.port, slot)) !== replica.port) {
        if (Date.now() > deadline) throw new Error('CLUSTER FAILOVER did not complete');
        await sleep(20);
      }
      await waitConverged();
      // The old master now follows the new one: wait for its resync, so the next failover has a replica with the data.
      await waitReplicasInSync();
      return { from, to: replica.port };
    },
    async migrateSlot(slot, { keysPerBatch = 10, pauseMs = 0 } = {}) {
      const from = await masterOf(slot);
      const topo = await topology();
      const source = topo.find((n) => n.port === from)!;
      const target = topo.find((n) => n.master && n.port !== from && n.slots.length > 0)!;
      const src = node(source.port);
      const dst = node(target.port);
      // The order redis-cli uses: IMPORTING on the target first, then MIGRATING on the source.
      await dst.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', source.id);
      await src.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', target.id);
      let moved = 0;
      for (;;) {
        const keys = (await src.call('CLUSTER', 'GETKEYSINSLOT', slot, keysPerBatch)) as string[];
        if (keys.length === 0) break;
        await src.call('MIGRATE', '127.0.0.1', target.port, '', 0, 5000, 'KEYS', ...keys);
        moved += keys.length;
        if (pauseMs > 0) await sleep(pauseMs);
      }
      // Target first, then source, then every other master (as redis-cli does).
      await dst.call('CLUSTER', 'SETSLOT', slot, 'NODE', target.id);
      await src.call('CLUSTER', 'SETSLOT', slot, 'NODE', target.id);
      for (const other of topo.filter((n) => n.master && n.port !== source.port && n.port !== target.port)) {
        await node(other.port).call('CLUSTER', 'SETSLOT', slot, 'NODE', target.id);
      }
      await waitConverged();
      return { from: source.port, to: target.port, keys: moved };
    },
    stop,
  };
}

/** The Redis Cluster slot of a key (CRC16/XMODEM of its hash tag or whole key, mod 16384). */
export function keySlot(key: string): number {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(key, 'utf8')) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

/** Deletes every key under `prefix` (SCAN on every node the client knows, DEL routed by the client, one key at a time). */
export async function deleteClusterKeys(cluster: Cluster, prefix: string): Promise<number> {
  const keys = new Set<string>();
  for (const each of cluster.nodes('all')) {
    let cursor = '0';
    do {
      const [next, batch] = await each.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      for (const key of batch) keys.add(key);
    } while (cursor !== '0');
  }
  let deleted = 0;
  for (const key of keys) deleted += await cluster.del(key);
  return deleted;
}
