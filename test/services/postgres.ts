/**
 * A real PostgreSQL for tests. Two ways, tried in order:
 * 1. `ATELIER_TEST_PG_URL` (CI starts one cluster for the whole run): each caller gets a fresh
 *    database on it, dropped at the end.
 * 2. Debian's `postgresql` binaries (/usr/lib/postgresql/N/bin): a throwaway cluster in a temp
 *    folder on a free port, stopped and removed at the end. PostgreSQL refuses to run as root, so
 *    as root the cluster runs as the `postgres` user (Debian's package creates it) or `nobody`.
 * With neither, `startPostgres()` returns undefined and the caller skips (the reason is printed).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { freePort } from '../helpers.js';

export interface TestPostgres {
  /** A connection URL to a fresh, empty database. */
  url: string;
  /** Another fresh database on the same server (for tests that need two stores). */
  newDatabase(): Promise<string>;
  /** Stops the server (a throwaway cluster) for fault tests; `start()` brings it back on the same port. */
  stopServer(): void;
  startServer(): void;
  stop(): Promise<void>;
}

export function postgresBinDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(base, versions[0], 'bin') : undefined;
}

function unprivilegedUser(): { user: string; uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const user of ['postgres', 'nobody']) {
    const id = spawnSync('id', ['-u', user], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', user], { encoding: 'utf8' });
    if (id.status === 0) return { user, uid: Number(id.stdout.trim()), gid: Number(gid.stdout.trim()) };
  }
  throw new Error('running as root and neither the postgres nor the nobody user exists to run PostgreSQL');
}

async function createDatabase(adminUrl: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `atelier_test_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** A fresh database on the shared server or on a throwaway cluster; undefined when PostgreSQL is not here. */
export async function startPostgres(): Promise<TestPostgres | undefined> {
  const shared = process.env.ATELIER_TEST_PG_URL;
  if (shared) {
    const drops: (() => Promise<void>)[] = [];
    const fresh = async () => {
      const db = await createDatabase(shared);
      drops.push(db.drop);
      return db.url;
    };
    const url = await fresh();
    const unsupported = () => {
      throw new Error('stopping the shared server is not supported; unset ATELIER_TEST_PG_URL to use a throwaway cluster');
    };
    return {
      url,
      newDatabase: fresh,
      stopServer: unsupported,
      startServer: unsupported,
      stop: async () => {
        for (const drop of drops) await drop().catch(() => {});
      },
    };
  }
  const bin = postgresBinDir();
  if (!bin) return undefined;
  const cluster = startCluster(bin, await freePort());
  const drops: (() => Promise<void>)[] = [];
  const fresh = async () => {
    const db = await createDatabase(cluster.adminUrl);
    drops.push(db.drop);
    return db.url;
  };
  try {
    const url = await fresh();
    return { url, newDatabase: fresh, stopServer: cluster.stopServer, startServer: cluster.startServer, stop: async () => cluster.remove() };
  } catch (error) {
    cluster.remove();
    throw error;
  }
}

/** initdb + pg_ctl start in a temp folder; trust auth on loopback only. */
export function startCluster(bin: string, port: number): { adminUrl: string; stopServer(): void; startServer(): void; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'atelier-pg-'));
  const data = join(dir, 'data');
  const owner = unprivilegedUser();
  if (owner) {
    chmodSync(dir, 0o755);
    chownSync(dir, owner.uid, owner.gid);
  }
  const run = (program: string, args: string[]) => {
    const command = owner ? 'runuser' : join(bin, program);
    const argv = owner ? ['-u', owner.user, '--', join(bin, program), ...args] : args;
    execFileSync(command, argv, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir, timeout: 60_000 });
  };
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  const startServer = () => run('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-o', options, '-w', '-t', '60', 'start']);
  const stopServer = () => run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
  startServer();
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    try {
      stopServer();
    } catch {
      /* already stopped */
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', remove);
  return { adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`, stopServer, startServer, remove };
}
