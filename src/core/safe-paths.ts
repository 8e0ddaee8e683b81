import { lstatSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Paths read from files we did not write ourselves (a bundle.json, a tar entry) name files inside
 * one folder. They are refused unless they are plain: relative, "/"-separated, with no ".", ".."
 * or empty segment and no backslash or NUL, so joining one to the folder can never leave it.
 */
export function relativePathProblem(path: unknown): string | undefined {
  if (typeof path !== 'string' || path === '') return 'is empty';
  if (path.includes('\0')) return 'holds a NUL byte';
  if (path.includes('\\')) return 'holds a backslash (separate folders with "/")';
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) return 'is absolute';
  const segments = path.split('/');
  if (segments.includes('..')) return 'climbs out with ".."';
  if (segments.includes('.')) return 'holds a "." segment';
  if (segments.includes('')) return 'holds an empty segment ("//" or a trailing "/")';
  return undefined;
}

/**
 * Why `root/path` (a path that passed `relativePathProblem`) is not a regular file reached
 * through real folders, or undefined when it is. lstat on every segment: a symbolic link anywhere
 * on the way could point outside the folder.
 */
export function regularFileProblem(root: string, path: string): string | undefined {
  const segments = path.split('/');
  let at = root;
  for (let i = 0; i < segments.length; i++) {
    at = join(at, segments[i]!);
    let stat;
    try {
      stat = lstatSync(at);
    } catch {
      return 'is missing';
    }
    const last = i === segments.length - 1;
    if (stat.isSymbolicLink()) return last ? 'is a symbolic link, not a file' : `is reached through the symbolic link ${segments.slice(0, i + 1).join('/')}`;
    if (last && !stat.isFile()) return stat.isDirectory() ? 'is a folder, not a file' : 'is not a regular file';
    if (!last && !stat.isDirectory()) return `is missing (${segments.slice(0, i + 1).join('/')} is not a folder)`;
  }
  return undefined;
}
