/**
 * Blessing, champion against challenger (the TFX Evaluator's model validation): a new version is
 * checked against absolute bounds and against the current holder of an alias, both evaluated on
 * the same held-out rows in the same call. The verdict, with both numbers, goes into the verdicts
 * table (and the event log, as `model.validated`); promotion reads the latest verdict of a version.
 */
import type { MetricRequirement, ModelConfig, ValidationConfig } from '../core/config.js';
import { AtelierError } from '../core/errors.js';
import { recordVerdict, type MetricCheck, type Verdict } from '../registry/verdicts.js';
import type { AtelierContext } from '../store/context.js';
import { evaluateModel } from './evaluate.js';

export type { MetricCheck, Verdict } from '../registry/verdicts.js';

/** Metrics where a smaller value is better; every other metric is better larger. */
const LOWER_IS_BETTER = new Set(['rmse', 'mae', 'mape', 'logloss', 'brier']);

export function lowerIsBetter(metric: string): boolean {
  return LOWER_IS_BETTER.has(metric);
}

const fmt = (x: number) => (Number.isInteger(x) ? String(x) : x.toPrecision(4));

/** Checks one metric's requirement; failures explain themselves with both numbers. */
export function checkMetric(metric: string, requirement: MetricRequirement, challenger: number, champion: number | null): MetricCheck {
  const failures: string[] = [];
  const lower = lowerIsBetter(metric);
  if (requirement.at_most !== undefined && !(challenger <= requirement.at_most)) failures.push(`${metric} ${fmt(challenger)} is above the bound ${fmt(requirement.at_most)}`);
  if (requirement.at_least !== undefined && !(challenger >= requirement.at_least)) failures.push(`${metric} ${fmt(challenger)} is below the bound ${fmt(requirement.at_least)}`);
  if (champion !== null) {
    if (requirement.better_by !== undefined) {
      const needed = lower ? champion * (1 - requirement.better_by) : champion * (1 + requirement.better_by);
      if (!(lower ? challenger <= needed : challenger >= needed)) {
        failures.push(
          `${metric} ${fmt(challenger)} is not ${requirement.better_by * 100}% better than the champion's ${fmt(champion)} (needed ${lower ? '<=' : '>='} ${fmt(needed)})`,
        );
      }
    }
    if (requirement.better_by_absolute !== undefined) {
      const needed = lower ? champion - requirement.better_by_absolute : champion + requirement.better_by_absolute;
      if (!(lower ? challenger <= needed : challenger >= needed)) {
        failures.push(`${metric} ${fmt(challenger)} is not ${fmt(requirement.better_by_absolute)} better than the champion's ${fmt(champion)} (needed ${lower ? '<=' : '>='} ${fmt(needed)})`);
      }
    }
  }
  return { metric, challenger, champion, requirement, passed: failures.length === 0, failures };
}

/** Throws naming the field when `validation` asks for a metric the model does not report. */
export function checkValidationMetrics(rules: ValidationConfig | undefined, task: string, reported: Record<string, number>): void {
  for (const metric of Object.keys(rules?.metrics ?? {})) {
    if (typeof reported[metric] === 'number') continue;
    const known = Object.keys(reported).filter((k) => k !== 'count' && typeof reported[k] === 'number');
    throw new AtelierError('CONFIG_INVALID', `validation.metrics.${metric}: not a metric of a ${task} model; it reports ${known.join(', ')}`, {
      field: `validation.metrics.${metric}`,
    });
  }
}

/**
 * Validates `name@version` under `validation` (default: the section of the config it was trained
 * with; none means nothing to check, so blessed). Records and returns the verdict.
 */
export async function validateModelVersion(ctx: AtelierContext, name: string, version: number, validation?: ValidationConfig): Promise<Verdict> {
  const record = await ctx.store.getModelVersion(name, version);
  if (!record) throw new AtelierError('VERSION_NOT_FOUND', `model ${name} has no version ${version}`, { field: 'version' });
  const run = record.runId ? await ctx.store.getRun(record.runId) : undefined;
  const config = run?.config as ModelConfig | undefined;
  const rules = validation ?? config?.validation;
  const alias = rules?.champion ?? 'production';
  const holder = await ctx.store.getAlias(name, alias);
  const championVersion = holder && holder.version !== version ? holder.version : null;

  let verdict: Verdict;
  if (!rules || Object.keys(rules.metrics).length === 0) {
    verdict = {
      model: name,
      version,
      blessed: true,
      champion: { alias, version: championVersion },
      data: null,
      checks: [],
      challengerMetrics: record.metrics,
      championMetrics: null,
      note: 'no validation section in the config: nothing to check',
    };
  } else {
    if (!run || !config) {
      throw new AtelierError('USAGE', `${name}@${version} has no training run on record (imported?); validate it in the workspace that trained it`, { field: 'model' });
    }
    const dataset = await ctx.store.getDatasetVersionById(run.datasetVersionId);
    if (!dataset) throw new AtelierError('DATASET_NOT_FOUND', `the dataset ${name}@${version} was trained on is gone`);
    const dataRef = `${dataset.dataset}@${dataset.version}:eval`;
    const split = config.data.split;
    const challenger = await evaluateModel(ctx, `${name}@${version}`, { data: dataRef, split, importance: { repeats: 0 } });
    const champion = championVersion !== null ? await evaluateModel(ctx, `${name}@${championVersion}`, { data: dataRef, split, importance: { repeats: 0 } }) : undefined;
    const ours = challenger.metrics as unknown as Record<string, number>;
    const theirs = champion?.metrics as unknown as Record<string, number> | undefined;
    checkValidationMetrics(rules, config.task, ours);
    const checks = Object.entries(rules.metrics).map(([metric, requirement]) => checkMetric(metric, requirement, ours[metric]!, theirs?.[metric] ?? null));
    verdict = {
      model: name,
      version,
      blessed: checks.every((c) => c.passed),
      champion: { alias, version: championVersion },
      data: { dataset: `${dataset.dataset}@${dataset.version}`, split: 'eval', rows: challenger.metrics.count },
      checks,
      challengerMetrics: ours,
      championMetrics: theirs ?? null,
      note: championVersion === null ? `no champion: ${name} has no ${alias} version to compare with; only the absolute bounds apply` : null,
    };
  }
  await recordVerdict(ctx.store, name, version, { ...verdict });
  return verdict;
}

/** One line per check, for the CLI. */
export function describeVerdict(v: Verdict): string[] {
  const head = `${v.model}@${v.version} ${v.blessed ? 'BLESSED' : 'NOT BLESSED'}${
    v.champion.version !== null ? ` against ${v.model}@${v.champion.version} (${v.champion.alias})` : ''
  }${v.data ? ` on ${v.data.dataset}:${v.data.split} (${v.data.rows} rows)` : ''}`;
  const lines = [head];
  if (v.note) lines.push(`  ${v.note}`);
  for (const c of v.checks) {
    const champion = c.champion !== null ? `, champion ${fmt(c.champion)}` : '';
    lines.push(`  ${c.passed ? 'ok  ' : 'FAIL'} ${c.metric} ${fmt(c.challenger)}${champion}${c.failures.length ? `: ${c.failures.join('; ')}` : ''}`);
  }
  return lines;
}
