import type { MetadataStore } from '../store/metadata-store.js';
import { allItems } from '../store/pages.js';
import type { AliasMove } from '../store/types.js';

/** One move of an alias (a promotion or a rollback), as the alias_history table keeps it. */
export type { AliasMove } from '../store/types.js';

export function splitSubject(subject: string): { model: string; version: number } | undefined {
  const at = subject.lastIndexOf('@');
  if (at <= 0) return undefined;
  const version = Number(subject.slice(at + 1));
  return Number.isInteger(version) ? { model: subject.slice(0, at), version } : undefined;
}

/** Every move of the model's aliases (or of one alias; or of every model's), oldest first. */
export async function aliasMoves(store: MetadataStore, model?: string, alias?: string): Promise<AliasMove[]> {
  return allItems((page) => store.listAliasMoves({ model, alias }, page));
}

/**
 * The versions an alias has held, as a browser's back stack: a promotion pushes its version, a
 * rollback pops back to the one before. The last entry is where the alias points now; the one
 * before it is where a rollback goes.
 */
export function rollbackStack(moves: AliasMove[]): number[] {
  const stack: number[] = [];
  for (const m of moves) {
    if (m.kind === 'rolled_back' && stack.at(-1) === m.from) stack.pop();
    if (stack.at(-1) !== m.to) stack.push(m.to);
  }
  return stack;
}

/**
 * Time travel: which version each alias of each model pointed at, at `at` (an ISO time), rebuilt
 * from the alias history. An alias that did not exist yet is not listed.
 */
export async function aliasesAt(store: MetadataStore, at: string): Promise<{ model: string; alias: string; version: number; since: string }[]> {
  const held = new Map<string, { model: string; alias: string; version: number; since: string }>();
  for (const m of await allItems((page) => store.listAliasMoves({ until: at }, page))) {
    held.set(`${m.model}\u0000${m.alias}`, { model: m.model, alias: m.alias, version: m.to, since: m.at });
  }
  return [...held.values()].sort((a, b) => (a.model + a.alias < b.model + b.alias ? -1 : 1));
}

/** The aliases pointing at a version, by name. */
export async function aliasesOf(store: MetadataStore, version: { model: string; version: number }): Promise<string[]> {
  return (await allItems((page) => store.listAliases({ model: version.model, version: version.version }, page))).map((a) => a.alias);
}
