import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { THREADS_ENV } from '../core/threads.js';
import type { Workspace } from '../core/workspace.js';
import type { JobError, JobKind } from './types.js';

export interface ChildStart {
  job: { id: string; kind: JobKind; payload: unknown; attempt: number };
  workspace: { root: string; store: string; artifacts: string };
}

export type ChildMessage = { type: 'progress'; line: string } | { type: 'done'; result: unknown } | { type: 'failed'; error: JobError };

export type ChildOutcome = { ok: true; result: unknown } | { ok: false; error: JobError };

export interface RunningChild {
  pid: number;
  outcome: Promise<ChildOutcome>;
  /** Stops the job's process: SIGTERM, then SIGKILL if it lingers. */
  stop(reason: string): void;
}

/** child.js next to this module once compiled; child.ts under tsx (which the fork inherits through execArgv). */
const CHILD = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './child.ts' : './child.js', import.meta.url));
const KILL_AFTER_MS = 5_000;

/** Runs one job in its own process with a thread budget; progress lines go to `onProgress`. */
export function runInChild(
  workspace: Workspace,
  job: ChildStart['job'],
  options: { threads: number; onProgress?: (line: string) => void },
): RunningChild {
  const child: ChildProcess = fork(CHILD, [], {
    env: { ...process.env, [THREADS_ENV]: String(options.threads) },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2000);
  });
  let settled: ChildOutcome | undefined;
  let stopReason: string | undefined;
  const outcome = new Promise<ChildOutcome>((resolve) => {
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'progress') options.onProgress?.(message.line);
      else if (message.type === 'done') settled ??= { ok: true, result: message.result };
      else settled ??= { ok: false, error: message.error };
    });
    child.on('error', (error) => {
      settled ??= { ok: false, error: { code: 'INTERNAL', message: `job process: ${error.message}` } };
    });
    child.on('exit', (code, signal) => {
      const lastLine = stderr.trim().split('\n').at(-1);
      const how = stopReason ?? `the job's process exited with ${signal ? `signal ${signal}` : `code ${code}`}${lastLine ? `: ${lastLine}` : ''}`;
      resolve(settled ?? { ok: false, error: { code: 'INTERNAL', message: how } });
    });
  });
  child.send({ job, workspace: { root: workspace.root, store: workspace.storeUrl, artifacts: workspace.artifactsUrl } } satisfies ChildStart);
  return {
    pid: child.pid!,
    outcome,
    stop(reason) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      stopReason = reason;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS).unref();
    },
  };
}
