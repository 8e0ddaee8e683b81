import type { AtelierContext } from '../store/context.js';
import type { DatasetVersionRecord } from '../store/types.js';
import { sqlIdent, sqlString, withDuckDb } from './duckdb.js';

/** 32-bit FNV-1a over a string's UTF-16 units, seeded by mixing the seed into the offset basis. */
export function seededHash(text: string, seed: number): number {
  let h = (0x811c9dc5 ^ Math.imul(seed | 0, 0x9e3779b1)) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // Final avalanche (murmur3 fmix32) so that nearby keys spread over the whole range.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

export const TRAIN = 0;
export const EVAL = 1;

/**
 * Assigns each row to train (0) or eval (1) by a seeded hash of its content, so the split does
 * not depend on row order and identical rows always land together (no leakage between splits).
 */
export function assignSplits(rowKeys: string[], seed: number, evalFraction: number): Uint8Array {
  const out = new Uint8Array(rowKeys.length);
  const threshold = evalFraction * 2 ** 32;
  for (let i = 0; i < rowKeys.length; i++) out[i] = seededHash(rowKeys[i]!, seed) < threshold ? EVAL : TRAIN;
  return out;
}

/** One text key per row: all its columns joined, as DuckDB renders them. */
export async function readRowKeys(ctx: AtelierContext, version: DatasetVersionRecord): Promise<string[]> {
  const path = await ctx.artifacts.localPath(version.artifact);
  const parts = version.columns.map((c) => `coalesce(CAST(${sqlIdent(c.name)} AS VARCHAR), '\u2400')`).join(', ');
  return withDuckDb(async (con) => {
    const result = await con.runAndReadAll(`SELECT concat_ws('\u001f', ${parts}) AS k FROM read_parquet(${sqlString(path)})`);
    return result.getColumnsJS()[0]!.map((v) => String(v));
  });
}
