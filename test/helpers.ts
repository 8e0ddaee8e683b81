import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { MetadataStore } from '../src/store/metadata-store.js';

export const ROOT = resolve(import.meta.dirname, '..');
export const CLI = join(ROOT, 'dist', 'cli', 'main.js');
export const HOUSING = join(ROOT, 'examples', 'housing', 'housing.csv');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  json: any;
}

export function tempDir(prefix = 'atelier-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Every file under a folder, "/"-separated and sorted, but a SQLite database's own files: to prove a refused command left nothing. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, prefix: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name), `${prefix}${e.name}/`);
      else if (!/metadata\.db(-wal|-shm|-journal)?$/.test(e.name)) out.push(prefix + e.name);
    }
  };
  walk(dir, '');
  return out.sort();
}

/** Runs the built `atelier` command as a user would, in `cwd`. */
export function cli(args: string[], options: { cwd: string; env?: Record<string, string> }): Promise<CliResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd,
      env: { ...process.env, ATELIER_WORKSPACE: '', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', fail);
    child.on('close', (code) => {
      let json: unknown;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      done({ code: code ?? -1, stdout, stderr, json });
    });
  });
}

/** Starts a long-running command and resolves once its stdout holds one whole JSON document. */
export function startCli(args: string[], options: { cwd: string; env?: Record<string, string> }): Promise<{ child: ChildProcess; json: any; stopped: Promise<number> }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd,
      env: { ...process.env, ATELIER_WORKSPACE: '', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let resolved = false;
    const stopped = new Promise<number>((r) => child.on('close', (code) => r(code ?? -1)));
    child.stdout!.on('data', (d) => {
      stdout += d;
      if (resolved) return;
      try {
        const json = JSON.parse(stdout);
        resolved = true;
        done({ child, json, stopped });
      } catch {
        /* not complete yet */
      }
    });
    child.stderr!.on('data', (d) => (stderr += d));
    void stopped.then((code) => {
      if (!resolved) fail(new Error(`exited ${code} before printing JSON: ${stderr}`));
    });
  });
}

export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => done(port));
    });
    server.on('error', fail);
  });
}

export async function postJson(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
}

/** Opens a workspace's SQLite metadata store (in `dir`) for one piece of work, as a library caller would. */
export async function withWorkspaceStore<T>(dir: string, work: (store: MetadataStore) => Promise<T>): Promise<T> {
  const { openStore } = await import('../src/store/open.js');
  const store = await openStore(`sqlite:${join(dir, '.atelier', 'metadata.db')}`);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

/** A long-running `atelier` command (a worker, a server) whose output is kept and can be waited on. */
export interface LoggedProcess {
  child: ChildProcess;
  pid: number;
  log: () => string;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<number>;
}

export function startLogged(args: string[], options: { cwd: string; env?: Record<string, string> }): LoggedProcess {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd,
    env: { ...process.env, ATELIER_WORKSPACE: '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  return {
    child,
    pid: child.pid!,
    log: () => out,
    exited,
    async waitFor(pattern, timeoutMs = 60_000) {
      const until = Date.now() + timeoutMs;
      while (!pattern.test(out)) {
        if (Date.now() > until) throw new Error(`atelier ${args[0]} never printed ${pattern}; it printed:\n${out}`);
        if (child.exitCode !== null) throw new Error(`atelier ${args[0]} exited (${child.exitCode}) before printing ${pattern}:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}
