import { resolve } from 'node:path';
import type { ModelConfig } from '../core/config.js';
import { AtelierError } from '../core/errors.js';
import { sqlIdent, sqlString, withDuckDb } from '../data/duckdb.js';
import { lowerIsBetter } from '../evaluation/blessing.js';
import { regressionMetrics } from '../evaluation/metrics.js';
import { aliasMoves, rollbackStack } from '../registry/aliases.js';
import { rollbackAlias, type RollbackResult } from '../registry/models.js';
import type { AtelierContext } from '../store/context.js';
import { allItems } from '../store/pages.js';
import { logFiles, logSource } from './log-window.js';

/**
 * Outcomes: true labels, arriving later, joined to the logged predictions by request id, give each
 * model version its live metrics (regression: rmse, mae, r2; classifiers: accuracy). They are
 * recorded as `model.live_metrics` events, the latest per version being its current figure; with
 * an auto-rollback rule, an alias whose version does worse live than the version before it, beyond
 * the bound, is rolled back.
 */

export interface LiveMetrics {
  model: string;
  version: number;
  count: number;
  metrics: Record<string, number>;
}

export interface OutcomeOptions {
  labels: string;
  log: string;
  /** Column of the labels file holding the request id (default request_id). */
  idColumn?: string;
  /** Column holding the true value (default: the model's label). */
  labelColumn?: string;
}

async function labelOf(ctx: AtelierContext, model: string): Promise<{ label: string; task: string }> {
  const latest = await ctx.store.getModelVersion(model);
  if (!latest) throw new AtelierError('MODEL_NOT_FOUND', `no model named "${model}"`, { field: 'model' });
  const run = latest.runId ? await ctx.store.getRun(latest.runId) : undefined;
  const config = run?.config as ModelConfig | undefined;
  return { label: config?.data.label ?? 'label', task: config?.task ?? 'regression' };
}

/** Joins labels to logged predictions and records each version's live metrics. */
export async function trackOutcomes(ctx: AtelierContext, model: string, options: OutcomeOptions): Promise<LiveMetrics[]> {
  const { label: defaultLabel, task } = await labelOf(ctx, model);
  const id = options.idColumn ?? 'request_id';
  const label = options.labelColumn ?? defaultLabel;
  const files = logFiles(options.log, model);
  if (files.length === 0) return [];
  const labelsFile = resolve(options.labels);
  const rows = await withDuckDb(async (con) => {
    const labels = `read_csv_auto(${sqlString(labelsFile)}, header = true, all_varchar = true)`;
    const columns = (await con.runAndReadAll(`DESCRIBE SELECT * FROM ${labels}`)).getRowObjectsJS().map((r) => String(r.column_name));
    for (const column of [id, label]) {
      if (!columns.includes(column)) {
        throw new AtelierError('COLUMN_NOT_FOUND', `${options.labels}: has no column "${column}"; it has ${columns.join(', ')}`, { file: options.labels, column });
      }
    }
    const sql = `SELECT CAST(p.version AS BIGINT) AS version, CAST(p.prediction AS VARCHAR) AS predicted, l.${sqlIdent(label)} AS actual
      FROM ${logSource(files)} p JOIN ${labels} l ON CAST(p.request_id AS VARCHAR) = l.${sqlIdent(id)}
      WHERE p.model = ${sqlString(model)} ORDER BY version`;
    return (await con.runAndReadAll(sql)).getRowObjectsJS();
  });
  const byVersion = new Map<number, { predicted: string[]; actual: string[] }>();
  for (const r of rows) {
    const entry = byVersion.get(Number(r.version)) ?? { predicted: [], actual: [] };
    entry.predicted.push(String(r.predicted));
    entry.actual.push(String(r.actual));
    byVersion.set(Number(r.version), entry);
  }
  const results: LiveMetrics[] = [];
  for (const [version, { predicted, actual }] of byVersion) {
    let metrics: Record<string, number>;
    if (task === 'regression') {
      const { count: _count, ...m } = regressionMetrics(predicted.map(Number), actual.map(Number));
      metrics = m;
    } else {
      metrics = { accuracy: predicted.filter((p, i) => p === actual[i]).length / predicted.length };
    }
    results.push({ model, version, count: predicted.length, metrics });
    await ctx.store.appendEvent({ kind: 'model.live_metrics', subject: `${model}@${version}`, details: { count: predicted.length, metrics, labels: labelsFile } });
  }
  return results;
}

/** The latest live metrics recorded for each version of a model. */
export async function liveMetrics(ctx: AtelierContext, model: string): Promise<Map<number, LiveMetrics>> {
  const out = new Map<number, LiveMetrics>();
  for (const e of await allItems((page) => ctx.store.listEvents({ kind: 'model.live_metrics' }, page))) {
    const at = e.subject.lastIndexOf('@');
    if (e.subject.slice(0, at) !== model) continue;
    const version = Number(e.subject.slice(at + 1));
    out.set(version, { model, version, count: Number(e.details.count), metrics: e.details.metrics as Record<string, number> });
  }
  return out;
}

export interface RollbackRule {
  metric: string;
  bound: number;
  alias: string;
}

export interface RollbackDecision {
  alias: string;
  current: number | null;
  predecessor: number | null;
  metric: string;
  currentValue: number | null;
  predecessorValue: number | null;
  rolledBack: RollbackResult | null;
  reason: string;
}

/**
 * Rolls the alias back when its version's live metric is worse than the version it replaced by
 * more than `bound` (relative: 0.1 = 10% worse), both measured on live outcomes.
 */
export async function autoRollback(ctx: AtelierContext, model: string, rule: RollbackRule): Promise<RollbackDecision> {
  const stack = rollbackStack(await aliasMoves(ctx.store, model, rule.alias));
  const current = (await ctx.store.getAlias(model, rule.alias))?.version ?? null;
  const predecessor = stack.length >= 2 && stack.at(-1) === current ? stack.at(-2)! : null;
  const live = await liveMetrics(ctx, model);
  const value = (v: number | null) => (v === null ? null : (live.get(v)?.metrics[rule.metric] ?? null));
  const decision: RollbackDecision = {
    alias: rule.alias,
    current,
    predecessor,
    metric: rule.metric,
    currentValue: value(current),
    predecessorValue: value(predecessor),
    rolledBack: null,
    reason: '',
  };
  const { currentValue: now, predecessorValue: before } = decision;
  if (current === null || predecessor === null || now === null || before === null) {
    decision.reason = `nothing to compare: ${rule.alias} needs a version and a predecessor, both with live ${rule.metric}`;
    return decision;
  }
  const lower = lowerIsBetter(rule.metric);
  const worse = lower ? now > before * (1 + rule.bound) : now < before * (1 - rule.bound);
  const fmt = (x: number) => Number(x.toPrecision(4));
  decision.reason = `live ${rule.metric} of ${model}@${current} is ${fmt(now)} against ${fmt(before)} for ${model}@${predecessor} (bound ${rule.bound * 100}%)`;
  if (worse) decision.rolledBack = await rollbackAlias(ctx, model, rule.alias, `auto rollback: ${decision.reason}`);
  return decision;
}
