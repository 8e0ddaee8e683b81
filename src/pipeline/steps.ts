import { readFileSync } from 'node:fs';
import { loadModelConfig, type ModelConfig } from '../core/config.js';
import { AtelierError } from '../core/errors.js';
import { canonicalJson, sha256 } from '../core/hash.js';
import { importDataset } from '../data/datasets.js';
import { datasetStatistics, inferDataSchema, validateVersion } from '../data/profile.js';
import { contentHashOf, resolveSource } from '../data/sources.js';
import { validateModelVersion, type Verdict } from '../evaluation/blessing.js';
import { evaluateModel } from '../evaluation/evaluate.js';
import { promoteModelVersion } from '../registry/models.js';
import type { AtelierContext } from '../store/context.js';
import { allItems } from '../store/pages.js';
import type { ArtifactRecord, DatasetVersionRecord, ModelVersionRecord } from '../store/types.js';
import { train } from '../training/train.js';
import { artifact } from './cache.js';
import type { Pipeline, PipelineStepName } from './config.js';
import { registration } from './register-trained.js';
import { mergeWindow, windowMembers } from './window.js';

/** What the steps of one run hand each other. */
export interface RunState {
  pipeline: Pipeline;
  runId: string;
  /** The import source of this run (a watched file), else the pipeline's own. */
  source?: string;
  dataset?: DatasetVersionRecord;
  statistics?: string;
  /** The schema the delivery was validated against; `id` is its artifact id (type:fingerprint). */
  schema?: { file?: string; name: string; id?: string };
  /** The data training reads: the delivery, or the window merged from several. */
  trainingData?: DatasetVersionRecord;
  modelConfig?: ModelConfig;
  model?: ModelVersionRecord;
  metrics?: Record<string, number>;
  verdict?: Verdict;
  pushed?: { alias: string; previous: number | null };
  note: (line: string) => void;
}

export interface StepPlan {
  /** Settings that, with the inputs, make the cache key. */
  settings: unknown;
  inputs: Record<string, ArtifactRecord>;
  /** Set when the step does not apply to this run (an unblessed model is not pushed). */
  skip?: string;
}

/** One step: plan (resolve inputs), run (write outputs), absorb (read outputs, run or cached, into the state). */
export interface StepDefinition {
  plan(ctx: AtelierContext, state: RunState): Promise<StepPlan>;
  run(ctx: AtelierContext, state: RunState): Promise<Record<string, ArtifactRecord>>;
  absorb(ctx: AtelierContext, state: RunState, outputs: Record<string, ArtifactRecord>): Promise<void>;
  /** One line about what the step produced. */
  describe(state: RunState): string;
}

const ref = (v: { dataset: string; version: number } | { model: string; version: number }) => `${'dataset' in v ? v.dataset : v.model}@${v.version}`;

export function datasetArtifact(v: DatasetVersionRecord): ArtifactRecord {
  return artifact('dataset', ref(v), v.id, { datasetVersionId: v.id, contentHash: v.contentHash, rows: v.rowCount });
}

function modelArtifact(v: ModelVersionRecord): ArtifactRecord {
  return artifact('model', ref(v), ref(v), { model: v.model, version: v.version, runId: v.runId, bundleHash: v.bundleHash, metrics: v.metrics });
}

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new AtelierError('USAGE', `pipeline step needs ${what}, which no earlier step produced`);
  return value;
}

/** Whether an artifact a cached execution wrote is still there to reuse. */
export async function stillThere(ctx: AtelierContext, a: ArtifactRecord): Promise<boolean> {
  if (a.type === 'dataset') return (await ctx.store.getDatasetVersionById(String(a.properties.datasetVersionId))) !== undefined;
  if (a.type === 'statistics') return await ctx.artifacts.has(a.uri);
  if (a.type === 'model') return (await ctx.store.getModelVersion(String(a.properties.model), Number(a.properties.version))) !== undefined;
  return true;
}

async function datasetOf(ctx: AtelierContext, a: ArtifactRecord): Promise<DatasetVersionRecord> {
  return need(await ctx.store.getDatasetVersionById(String(a.properties.datasetVersionId)), `dataset ${a.uri}`);
}

/** Versions of the dataset that passed this pipeline's validation (any earlier run), by id. */
/**
 * The dataset's versions a sliding window may hold: with a validate step, those that passed
 * validation against the same schema (the same content), by this pipeline or any other, so a new
 * pipeline over a dataset (its locked twin) trains on the last N good deliveries of the dataset
 * from its first run, not on its own first delivery alone; the current delivery has just passed.
 * Without a validate step, every version of the dataset.
 */
async function validatedVersions(ctx: AtelierContext, state: RunState): Promise<DatasetVersionRecord[]> {
  const dataset = need(state.dataset, 'a dataset');
  const versions = () => allItems((page) => ctx.store.listDatasetVersions({ dataset: dataset.dataset }, page));
  if (!state.pipeline.config.steps.validate) return versions();
  const schemaId = need(state.schema?.id, 'a validated schema');
  const validations = await allItems((page) => ctx.store.listExecutions({ step: 'validate' }, page));
  const passed = validations.filter((e) => e.state === 'complete' || e.state === 'cached');
  const ids = new Set<string>([dataset.id]);
  for (const execution of passed) {
    const inputs = (await allItems((page) => ctx.store.listExecutionEvents({ executionId: execution.id }, page))).filter((e) => e.kind === 'input');
    if (!inputs.some((e) => e.name === 'schema' && e.artifactId === schemaId)) continue;
    const data = inputs.find((e) => e.name === 'dataset');
    if (data) ids.add(String((await ctx.store.getArtifact(data.artifactId))?.properties.datasetVersionId));
  }
  return (await versions()).filter((v) => ids.has(v.id));
}

const importStep: StepDefinition = {
  async plan(_ctx, state) {
    const source = state.source ?? state.pipeline.paths.source;
    if (!source) {
      throw new AtelierError('USAGE', `${state.pipeline.file}: steps.import.source is not set; give one, or run under \`atelier pipeline watch --dir\``, {
        field: 'steps.import.source',
      });
    }
    state.source = source;
    const resolved = resolveSource(source);
    const file = artifact('file', source, await contentHashOf(resolved), { files: resolved.files.length, format: resolved.format });
    return { settings: { dataset: state.pipeline.config.steps.import.dataset }, inputs: { source: file } };
  },
  async run(ctx, state) {
    const { version } = await importDataset(ctx, need(state.source, 'a source'), state.pipeline.config.steps.import.dataset);
    return { dataset: datasetArtifact(version) };
  },
  async absorb(ctx, state, outputs) {
    state.dataset = await datasetOf(ctx, outputs.dataset!);
  },
  describe: (s) => `${ref(s.dataset!)} (${s.dataset!.rowCount} rows)`,
};

const statisticsStep: StepDefinition = {
  async plan(_ctx, state) {
    return { settings: {}, inputs: { dataset: datasetArtifact(need(state.dataset, 'a dataset')) } };
  },
  async run(ctx, state) {
    const version = need(state.dataset, 'a dataset');
    await datasetStatistics(ctx, version);
    const key = version.statistics!;
    return { statistics: artifact('statistics', key, key, { dataset: ref(version) }) };
  },
  async absorb(_ctx, state, outputs) {
    state.statistics = outputs.statistics!.uri;
  },
  describe: (s) => `statistics of ${ref(s.dataset!)}`,
};

const validateStep: StepDefinition = {
  async plan(ctx, state) {
    const dataset = need(state.dataset, 'a dataset');
    const settings = state.pipeline.config.steps.validate!;
    const file = state.pipeline.paths.schema;
    let schema: ArtifactRecord;
    if (file) {
      schema = artifact('schema', file, sha256(readFileSync(file)));
      state.schema = { file, name: file, id: schema.id };
    } else {
      let record = await ctx.store.getDataSchema(dataset.dataset);
      if (!record) {
        // The first delivery sets the contract the next ones are held to.
        const label = settings.label ?? loadModelConfig(state.pipeline.paths.modelConfig).data.label;
        record = (await inferDataSchema(ctx, dataset, { label })).record;
        state.note(`  schema inferred from ${ref(dataset)} (label ${label}) as ${dataset.dataset} schema v${record.version}`);
      }
      schema = artifact('schema', `${record.dataset} schema v${record.version}`, record.contentHash);
      state.schema = { name: schema.uri, id: schema.id };
    }
    const inputs: Record<string, ArtifactRecord> = { dataset: datasetArtifact(dataset), schema };
    if (state.statistics) inputs.statistics = artifact('statistics', state.statistics, state.statistics);
    return { settings: { fail_on: settings.fail_on }, inputs };
  },
  async run(ctx, state) {
    const dataset = need(state.dataset, 'a dataset');
    const failOn = state.pipeline.config.steps.validate!.fail_on;
    const result = await validateVersion(ctx, dataset, { schemaFile: state.schema?.file, environment: 'TRAINING' });
    const blocking = result.anomalies.filter((a) => a.severity === 'error' || failOn === 'warning');
    if (blocking.length > 0) {
      const listed = blocking.slice(0, 3).map((a) => `${a.feature ?? 'dataset'}: ${a.message}`).join('; ');
      throw new AtelierError('DATA_ANOMALIES', `${ref(dataset)} breaks ${result.schema}: ${listed}${blocking.length > 3 ? '; …' : ''}; the run stops before training`, {
        field: 'steps.validate',
        anomalies: result.anomalies,
      });
    }
    const fingerprint = sha256(canonicalJson({ dataset: dataset.id, schema: result.schema, anomalies: result.anomalies }));
    return { anomalies: artifact('anomalies', `${ref(dataset)} against ${result.schema}`, fingerprint, { errors: result.errors, warnings: result.warnings, anomalies: result.anomalies }) };
  },
  async absorb() {},
  describe: (s) => `${ref(s.dataset!)} passes ${s.schema?.name ?? 'its schema'}`,
};

const trainStep: StepDefinition = {
  async plan(ctx, state) {
    const settings = state.pipeline.config.steps.train;
    const delivered = need(state.dataset, 'a dataset');
    state.trainingData = settings.window ? await mergeWindow(ctx, windowMembers(await validatedVersions(ctx, state), settings.window)) : delivered;
    const config = loadModelConfig(state.pipeline.paths.modelConfig);
    state.modelConfig = { ...config, data: { ...config.data, dataset: ref(state.trainingData) } };
    return {
      settings: {},
      inputs: {
        data: datasetArtifact(state.trainingData),
        config: artifact('model_config', state.pipeline.paths.modelConfig, sha256(canonicalJson(state.modelConfig))),
      },
    };
  },
  async run(ctx, state) {
    const config = need(state.modelConfig, 'a model config');
    const result = await train(ctx, config, { onStage: (_stage, detail) => state.note(`  ${detail}`), register: registration(ctx, config) });
    return { model: modelArtifact(result.version!) };
  },
  async absorb(ctx, state, outputs) {
    const m = outputs.model!.properties;
    state.model = need(await ctx.store.getModelVersion(String(m.model), Number(m.version)), `model ${outputs.model!.uri}`);
  },
  describe: (s) => `${ref(s.model!)} trained on ${ref(s.trainingData!)}`,
};

const evaluateStep: StepDefinition = {
  async plan(_ctx, state) {
    return { settings: {}, inputs: { model: modelArtifact(need(state.model, 'a model')), data: datasetArtifact(need(state.trainingData, 'training data')) } };
  },
  async run(ctx, state) {
    const model = state.model!;
    const data = `${ref(state.trainingData!)}:eval`;
    const result = await evaluateModel(ctx, ref(model), { data, split: state.modelConfig?.data.split, importance: { repeats: 0 } });
    const metrics = result.metrics as unknown as Record<string, number>;
    return { evaluation: artifact('evaluation', `${ref(model)} on ${data}`, sha256(canonicalJson({ model: ref(model), data, metrics })), { metrics }) };
  },
  async absorb(_ctx, state, outputs) {
    state.metrics = outputs.evaluation!.properties.metrics as Record<string, number>;
  },
  describe: (s) =>
    Object.entries(s.metrics ?? {})
      .filter(([k]) => k !== 'count')
      .slice(0, 4)
      .map(([k, v]) => `${k} ${Number(v.toPrecision(4))}`)
      .join(', '),
};

const blessStep: StepDefinition = {
  async plan(ctx, state) {
    const model = need(state.model, 'a model');
    const validation = state.modelConfig?.validation ?? null;
    const holder = (await ctx.store.getAlias(model.model, validation?.champion ?? 'production'))?.version;
    const champion = holder !== undefined && holder !== model.version ? holder : null;
    // The verdict depends on who the champion is now: a new champion means a new verdict.
    return { settings: { validation, champion }, inputs: { model: modelArtifact(model) } };
  },
  async run(ctx, state) {
    const model = state.model!;
    const verdict = await validateModelVersion(ctx, model.model, model.version, state.modelConfig?.validation);
    return { verdict: artifact('verdict', ref(model), sha256(canonicalJson(verdict)), { verdict }) };
  },
  async absorb(_ctx, state, outputs) {
    state.verdict = outputs.verdict!.properties.verdict as Verdict;
  },
  describe: (s) =>
    s.verdict!.blessed
      ? `${ref(s.model!)} blessed${s.verdict!.champion.version !== null ? ` against ${s.model!.model}@${s.verdict!.champion.version}` : ''}`
      : `${ref(s.model!)} NOT blessed: ${s.verdict!.checks.flatMap((c) => c.failures).join('; ')}`,
};

export function pushAlias(pipeline: Pipeline): string {
  return pipeline.config.steps.push?.policy === 'automatic' ? 'production' : 'staging';
}

const pushStep: StepDefinition = {
  async plan(_ctx, state): Promise<StepPlan> {
    const model = need(state.model, 'a model');
    if (!state.verdict?.blessed) return { settings: {}, inputs: {}, skip: `${ref(model)} is not blessed, so it is not pushed` };
    const policy = state.pipeline.config.steps.push!.policy;
    const verdict = artifact('verdict', ref(model), sha256(canonicalJson(state.verdict)));
    return { settings: { policy, alias: pushAlias(state.pipeline) }, inputs: { model: modelArtifact(model), verdict } };
  },
  async run(ctx, state) {
    const model = state.model!;
    const alias = pushAlias(state.pipeline);
    const policy = state.pipeline.config.steps.push!.policy;
    const holder = await ctx.store.getAlias(model.model, alias);
    const previous = holder?.version ?? null;
    if (previous !== model.version) {
      await promoteModelVersion(ctx, model.model, model.version, alias, `pipeline ${state.pipeline.config.name} (${policy} policy), run ${state.runId}`);
    }
    return { pushed: artifact('push', `${model.model}@${alias}`, `${ref(model)}:${alias}`, { model: model.model, version: model.version, alias, previous }) };
  },
  async absorb(_ctx, state, outputs) {
    const p = outputs.pushed!.properties;
    state.pushed = { alias: String(p.alias), previous: (p.previous as number | null) ?? null };
  },
  describe: (s) => `${s.model!.model}@${s.pushed!.alias}: ${s.pushed!.previous ?? '-'} → ${s.model!.version}`,
};

export const STEPS: Record<PipelineStepName, StepDefinition> = {
  import: importStep,
  statistics: statisticsStep,
  validate: validateStep,
  train: trainStep,
  evaluate: evaluateStep,
  bless: blessStep,
  push: pushStep,
};
