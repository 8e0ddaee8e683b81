import { existsSync } from 'node:fs';
import { lstat, readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { tempFilePid, type ArtifactStore } from './artifacts.js';

/**
 * Temp files (and folders) of the artifact store are named `<pid>-<time>-<random><suffix>`
 * (`tempPath`, `tempFilePid` in artifacts.ts): the
 * process that writes one is in its name, so a process that died (Ctrl-C, kill -9, a crash) leaves
 * files anyone on the machine can recognise as garbage. The temp folder is local to the machine.
 */
/** Names from before the pid was in them: `<time>-<random>`. */
const OLD_TEMP_NAME = /^\d{13}-[0-9a-f]{12}/;

export interface TempEntry {
  path: string;
  pid: number | null;
  bytes: number;
  modifiedAt: Date;
}

/** The folder the artifact store puts its temp files in. */
export function tempFolderOf(artifacts: Pick<ArtifactStore, 'tempPath'>): string {
  return dirname(artifacts.tempPath());
}

/** Whether a process with this pid is alive on this machine (EPERM: alive, someone else's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function sizeOf(path: string): Promise<{ bytes: number; modifiedAt: Date }> {
  const info = await lstat(path);
  if (!info.isDirectory()) return { bytes: info.size, modifiedAt: info.mtime };
  let bytes = 0;
  let modifiedAt = info.mtime;
  for (const name of await readdir(path)) {
    const inner = await sizeOf(join(path, name)).catch(() => ({ bytes: 0, modifiedAt: info.mtime }));
    bytes += inner.bytes;
    if (inner.modifiedAt > modifiedAt) modifiedAt = inner.modifiedAt;
  }
  return { bytes, modifiedAt };
}

/** The entries of a temp folder with the pid their name holds (null for names from before). */
export async function listTempEntries(folder: string): Promise<TempEntry[]> {
  if (!existsSync(folder)) return [];
  const entries: TempEntry[] = [];
  for (const name of await readdir(folder)) {
    const old = OLD_TEMP_NAME.test(name);
    const pid = old ? undefined : tempFilePid(name);
    if (!old && pid === undefined) continue; // not a temp name of ours
    const path = join(folder, name);
    const size = await sizeOf(path).catch(() => undefined); // removed meanwhile
    if (size) entries.push({ path, pid: pid === undefined ? null : Number(pid), ...size });
  }
  return entries;
}

/**
 * Temp entries whose process is gone: a pid that is not alive here, or an old-style name (no pid)
 * untouched for `graceMs`.
 */
export async function deadTempEntries(folder: string, graceMs: number, now = Date.now()): Promise<TempEntry[]> {
  const entries = await listTempEntries(folder);
  return entries.filter((e) => (e.pid === null ? now - e.modifiedAt.getTime() > graceMs : e.pid !== process.pid && !processAlive(e.pid)));
}

export async function removeTempEntries(entries: TempEntry[]): Promise<void> {
  for (const entry of entries) await rm(entry.path, { recursive: true, force: true });
}

/** Removes this process's own temp files (on Ctrl-C, and when a command is done). */
export async function removeOwnTempFiles(folder: string): Promise<void> {
  await removeTempEntries((await listTempEntries(folder)).filter((e) => e.pid === process.pid));
}
