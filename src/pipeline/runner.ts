import { diskFullError } from '../core/disk-full.js';
import { isAtelierError } from '../core/errors.js';
import { currentHost, newId, nowIso } from '../core/identity.js';
import type { AtelierContext } from '../store/context.js';
import type { ArtifactRecord, ExecutionEvent } from '../store/types.js';
import { cacheKey, cachedOutputs } from './cache.js';
import { STEP_ORDER, type Pipeline, type PipelineStepName } from './config.js';
import { STEPS, stillThere, type RunState } from './steps.js';
import { closedOnInterrupt } from '../store/run-lifecycle.js';

export type StepStatus = 'done' | 'cached' | 'failed' | 'skipped';

export interface StepReport {
  step: PipelineStepName;
  status: StepStatus;
  execution: string | null;
  /** What it produced, or why it failed or was skipped. */
  detail: string;
  outputs: Record<string, string>;
  seconds: number;
}

export interface PipelineRunResult {
  pipeline: string;
  run: string;
  trigger: string;
  source: string | null;
  status: 'succeeded' | 'failed';
  steps: StepReport[];
  model: { name: string; version: number; blessed: boolean | null; pushed: string | null } | null;
  error: { code: string; message: string; facts?: Record<string, unknown> } | null;
}

export interface RunOptions {
  /** The import source of this run (a new file in a watched folder). */
  source?: string;
  /** What started the run: manual, watch FILE, schedule, monitor. */
  trigger?: string;
  /** Progress for people. */
  note?: (line: string) => void;
}

const outputsSummary = (outputs: Record<string, ArtifactRecord>) => Object.fromEntries(Object.entries(outputs).map(([name, a]) => [name, a.uri]));

/**
 * Runs a pipeline's steps in order. Each step is an execution in the metadata store with its input
 * and output artifacts; a step whose cache key (settings and inputs) matches a finished execution
 * is not run again but takes that execution's outputs (reported as cached). So a run that was
 * killed resumes, on the next run, after its last finished step. A failing step (data anomalies,
 * a training error) stops the run; the steps after it are reported as skipped.
 */
export async function runPipeline(ctx: AtelierContext, pipeline: Pipeline, options: RunOptions = {}): Promise<PipelineRunResult> {
  const note = options.note ?? (() => {});
  const name = pipeline.config.name;
  const runId = newId('prun');
  const trigger = options.trigger ?? 'manual';
  const state: RunState = { pipeline, runId, source: options.source, note };
  const reports: StepReport[] = [];
  await ctx.store.appendEvent({ kind: 'pipeline.started', subject: name, details: { run: runId, trigger, source: options.source ?? pipeline.paths.source ?? null } });
  let error: PipelineRunResult['error'] = null;

  for (const step of STEP_ORDER.filter((s) => pipeline.config.steps[s] !== undefined)) {
    if (error) {
      reports.push({ step, status: 'skipped', execution: null, detail: 'an earlier step failed', outputs: {}, seconds: 0 });
      continue;
    }
    const definition = STEPS[step];
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    let executionId: string | null = null;
    try {
      const plan = await definition.plan(ctx, state);
      if (plan.skip) {
        reports.push({ step, status: 'skipped', execution: null, detail: plan.skip, outputs: {}, seconds: seconds() });
        note(`○ ${step}: skipped (${plan.skip})`);
        continue;
      }
      const key = cacheKey(step, plan.settings, plan.inputs);
      for (const input of Object.values(plan.inputs)) await ctx.store.putArtifact(input);
      const inputEvents = (id: string): ExecutionEvent[] => Object.entries(plan.inputs).map(([n, a]) => ({ executionId: id, artifactId: a.id, kind: 'input', name: n }));
      const outputEvents = (id: string, outputs: Record<string, ArtifactRecord>): ExecutionEvent[] =>
        Object.entries(outputs).map(([n, a]) => ({ executionId: id, artifactId: a.id, kind: 'output', name: n }));
      const cached = await cachedOutputs(ctx.store, key, (a) => stillThere(ctx, a));
      executionId = newId('ex');
      const execution = { id: executionId, pipeline: name, pipelineRun: runId, step, cacheKey: key, startedAt: nowIso(), error: null };
      let outputs: Record<string, ArtifactRecord>;
      if (cached) {
        outputs = cached.outputs;
        await ctx.store.transaction(async (tx) => {
          await tx.insertExecution({ ...execution, state: 'cached', properties: { cachedFrom: cached.executionId }, endedAt: nowIso() });
          await tx.insertExecutionEvents([...inputEvents(execution.id), ...outputEvents(execution.id, outputs)]);
        });
      } else {
        note(`● ${step}…`);
        await ctx.store.transaction(async (tx) => {
          // The process running the step, so a step whose process vanished is found (run-lifecycle.ts).
          await tx.insertExecution({ ...execution, state: 'running', properties: { settings: plan.settings ?? null, pid: process.pid, host: currentHost() }, endedAt: null });
          await tx.insertExecutionEvents(inputEvents(execution.id));
        });
        // Ctrl-C or SIGTERM mid-step: the step is recorded as failed (killed), not left running.
        const killed = (signal: string) => ctx.store.updateExecution(execution.id, { state: 'failed', endedAt: nowIso(), error: `killed by ${signal}` });
        outputs = await closedOnInterrupt(ctx, killed, () => definition.run(ctx, state));
        await ctx.store.transaction(async (tx) => {
          for (const output of Object.values(outputs)) await tx.putArtifact(output);
          await tx.insertExecutionEvents(outputEvents(execution.id, outputs));
          await tx.updateExecution(execution.id, { state: 'complete', endedAt: nowIso() });
        });
      }
      await definition.absorb(ctx, state, outputs);
      const detail = definition.describe(state);
      reports.push({ step, status: cached ? 'cached' : 'done', execution: executionId, detail, outputs: outputsSummary(outputs), seconds: seconds() });
      note(`${cached ? '○' : '✓'} ${step}${cached ? ' (cached)' : ''}: ${detail}`);
    } catch (raised) {
      const caught = diskFullError(raised) ?? raised;
      const message = (caught as Error).message;
      error = isAtelierError(caught) ? { code: caught.code, message, facts: caught.facts } : { code: 'INTERNAL', message };
      if (executionId) await ctx.store.updateExecution(executionId, { state: 'failed', endedAt: nowIso(), error: message });
      reports.push({ step, status: 'failed', execution: executionId, detail: message, outputs: {}, seconds: seconds() });
      note(`✗ ${step}: ${message}`);
    }
  }

  const model = state.model
    ? { name: state.model.model, version: state.model.version, blessed: state.verdict?.blessed ?? null, pushed: state.pushed ? state.pushed.alias : null }
    : null;
  const result: PipelineRunResult = { pipeline: name, run: runId, trigger, source: state.source ?? null, status: error ? 'failed' : 'succeeded', steps: reports, model, error };
  await ctx.store.appendEvent({
    kind: error ? 'pipeline.failed' : 'pipeline.finished',
    subject: name,
    details: { run: runId, trigger, source: result.source, steps: reports.map((r) => `${r.step}:${r.status}`), model, error: error ? error.message : null },
  });
  return result;
}
