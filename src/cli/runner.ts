import type { Command } from 'commander';
import { diskFullError } from '../core/disk-full.js';
import { AtelierError, isAtelierError } from '../core/errors.js';
import { findWorkspace, redactUrl, type Workspace } from '../core/workspace.js';
import { openContext, type AtelierContext } from '../store/context.js';
import { sweep } from '../store/gc.js';
import { removeOwnTempFiles, tempFolderOf } from '../store/temp-files.js';

export interface GlobalOptions {
  json: boolean;
  debug: boolean;
  workspace?: string;
  /** --store URL: the metadata store (else ATELIER_STORE_URL, else atelier.yaml). */
  store?: string;
  /** --artifacts URL: the artifact store (else ATELIER_ARTIFACTS_URL, else atelier.yaml). */
  artifacts?: string;
}

export interface CommandIO {
  globals: GlobalOptions;
  /** Progress and notes for people: stderr, and only when not --json. */
  note(line: string): void;
}

/** A command's outcome: the JSON document, and how to say it to a person. */
export interface CommandResult<T> {
  json: T;
  human: string;
  /** Commands that keep running (serve) resolve this when they are done. */
  wait?: Promise<void>;
}

export function globalsOf(command: Command): GlobalOptions {
  const o = command.optsWithGlobals() as { json?: boolean; debug?: boolean; workspace?: string; store?: string; artifacts?: string };
  return { json: Boolean(o.json), debug: Boolean(o.debug), workspace: o.workspace, store: o.store, artifacts: o.artifacts };
}

function write(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve) => (stream.write(text) ? resolve() : stream.once('drain', () => resolve())));
}

/** Ends the process once output is flushed (tfjs and DuckDB may hold the event loop open). */
async function finish(code: number): Promise<never> {
  await write(process.stdout, '');
  await write(process.stderr, '');
  process.exit(code);
}

/** Where the metadata store lives, for errors that do not say (SQLite's "database or disk is full"). */
function storePlace(globals: GlobalOptions): string | undefined {
  try {
    const workspace = workspaceOf(globals);
    return workspace.databasePath ?? redactUrl(workspace.storeUrl);
  } catch {
    return undefined;
  }
}

export async function reportError(raised: unknown, globals: GlobalOptions): Promise<never> {
  // A full disk is reported as such whatever layer it surfaced in (a CSV read, a commit, a rollback).
  const error = diskFullError(raised, storePlace(globals)) ?? raised;
  const known = isAtelierError(error);
  const message = known ? error.message : `internal error: ${(error as Error)?.message ?? String(error)}`;
  const code = known ? error.exitCode : 1;
  if (globals.json) {
    const body = known ? error.toJSON() : { code: 'INTERNAL', message };
    await write(process.stdout, JSON.stringify({ error: body }, null, 2) + '\n');
  }
  await write(process.stderr, `atelier: ${message}${!known && !globals.debug ? ' (rerun with --debug for the stack)' : ''}\n`);
  if (globals.debug && error instanceof Error && error.stack) await write(process.stderr, error.stack + '\n');
  return finish(code);
}

/**
 * Wraps a command body: parses nothing itself, but owns output (JSON or text), exit codes and
 * errors, so every command behaves the same way.
 */
export function action<A extends unknown[], T>(body: (io: CommandIO, ...args: A) => Promise<CommandResult<T>>) {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const globals = globalsOf(command);
    const io: CommandIO = {
      globals,
      note: (line) => {
        if (!globals.json) process.stderr.write(line + '\n');
      },
    };
    try {
      const result = await body(io, ...(args.slice(0, -1) as A));
      await write(process.stdout, globals.json ? JSON.stringify(result.json, null, 2) + '\n' : result.human ? result.human + '\n' : '');
      if (result.wait) await result.wait;
      await finish(typeof process.exitCode === 'number' ? process.exitCode : 0);
    } catch (error) {
      await reportError(error, globals);
    }
  };
}

/**
 * Opens the workspace found from the current directory (or --workspace) for one command. Every
 * command first sweeps (runs whose process vanished become failed, dead processes' temp files
 * go; `sweep: false` for gc, which does it itself and reports it) and, when done, removes its
 * own temp files.
 */
export async function withContext<T>(
  globals: GlobalOptions,
  work: (ctx: AtelierContext, workspace: Workspace) => Promise<T>,
  options: { sweep?: boolean } = {},
): Promise<T> {
  const workspace = workspaceOf(globals);
  const ctx = await openContext(workspace);
  try {
    // Best effort: a busy or read-only store must not fail the command itself; the next one sweeps again.
    if (options.sweep !== false) await sweep(ctx).catch(() => {});
    return await work(ctx, workspace);
  } finally {
    await removeOwnTempFiles(tempFolderOf(ctx.artifacts)).catch(() => {});
    await ctx.store.close();
  }
}

/** The workspace the global options name (--workspace, --store, --artifacts) or the one found from here. */
export function workspaceOf(globals: GlobalOptions): Workspace {
  return findWorkspace({ dir: globals.workspace, store: globals.store, artifacts: globals.artifacts });
}

export function usage(message: string, field?: string): AtelierError {
  return new AtelierError('USAGE', message, field ? { field } : {});
}
