import type { MetadataStore } from '../store/metadata-store.js';

/** One move of an alias, read back from the event log (`model.promoted`, `model.rolled_back`). */
export interface AliasMove {
  seq: number;
  at: string;
  user: string;
  kind: 'promoted' | 'rolled_back';
  model: string;
  alias: string;
  /** The version the alias pointed at before the move (null: the alias was new). */
  from: number | null;
  to: number;
  reason: string | null;
}

export function splitSubject(subject: string): { model: string; version: number } | undefined {
  const at = subject.lastIndexOf('@');
  if (at <= 0) return undefined;
  const version = Number(subject.slice(at + 1));
  return Number.isInteger(version) ? { model: subject.slice(0, at), version } : undefined;
}

function asVersion(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) ? value : null;
}

/** Every move of the model's aliases (or of one alias; or of every model's), oldest first. */
export async function aliasMoves(store: MetadataStore, model?: string, alias?: string): Promise<AliasMove[]> {
  const events = [...(await store.listEvents({ kind: 'model.promoted' })), ...(await store.listEvents({ kind: 'model.rolled_back' }))].sort(
    (a, b) => a.seq - b.seq,
  );
  const moves: AliasMove[] = [];
  for (const e of events) {
    const subject = splitSubject(e.subject);
    if (!subject || (model !== undefined && subject.model !== model)) continue;
    const d = e.details;
    if (typeof d.alias !== 'string' || (alias !== undefined && d.alias !== alias)) continue;
    const promoted = e.kind === 'model.promoted';
    moves.push({
      seq: e.seq,
      at: e.at,
      user: e.user,
      kind: promoted ? 'promoted' : 'rolled_back',
      model: subject.model,
      alias: d.alias,
      from: asVersion(promoted ? d.previous : d.from),
      to: subject.version,
      reason: typeof d.reason === 'string' ? d.reason : null,
    });
  }
  return moves;
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
 * from the event log. An alias that did not exist yet is not listed.
 */
export async function aliasesAt(store: MetadataStore, at: string): Promise<{ model: string; alias: string; version: number; since: string }[]> {
  const limit = Date.parse(at);
  const held = new Map<string, { model: string; alias: string; version: number; since: string }>();
  for (const m of await aliasMoves(store)) {
    if (Date.parse(m.at) > limit) continue;
    held.set(`${m.model}\u0000${m.alias}`, { model: m.model, alias: m.alias, version: m.to, since: m.at });
  }
  return [...held.values()].sort((a, b) => (a.model + a.alias < b.model + b.alias ? -1 : 1));
}
