import type { Command } from 'commander';
import { loadModelConfig } from '../../core/config.js';
import { warmStartSource } from '../../registry/models.js';
import { describeVerdict, validateModelVersion } from '../../evaluation/blessing.js';
import { registration } from '../../pipeline/register-trained.js';
import { train } from '../../training/train.js';
import { formatDuration, formatMetrics, formatNumber } from '../output.js';
import { epochProgress } from '../progress.js';
import { action, withContext, type CommandResult } from '../runner.js';

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('Train a model from a YAML config, evaluate it on the held-out split and register it')
    .argument('<config>', 'model config (YAML)')
    .option('--no-register', 'train and record the run, but register no model version')
    .option('--cv <k>', 'report K-fold cross-validated metrics instead (nothing is registered)')
    .option('--schema <file>', 'validate the data against this schema instead of the dataset\'s latest one')
    .option('--warm-start <model@version>', 'start from the weights of a registered model of the same family and shape')
    .option('--allow-anomalies', 'train even when the data has error anomalies against its schema (the run records it)')
    .action(
      action(async (io, file: string, opts: { register: boolean; cv?: string; schema?: string; allowAnomalies?: boolean; warmStart?: string }): Promise<CommandResult<unknown>> => {
        const config = loadModelConfig(file);
        return withContext(io.globals, async (ctx) => {
          if (opts.cv !== undefined) {
            const { crossValidate } = await import('../../training/cross-validate.js');
            const started = performance.now();
            const result = await crossValidate(ctx, config, Number(opts.cv), { onFold: (fold, k) => io.note(`• fold ${fold + 1} of ${k}`) });
            return {
              json: { ...result, seconds: (performance.now() - started) / 1000 },
              human: [
                `${config.name}: ${result.k}-fold cross-validation on ${result.dataset} in ${formatDuration(performance.now() - started)}`,
                ...Object.entries(result.cv).map(([key, { mean, std }]) => `  ${key.padEnd(9)} ${formatNumber(mean)} ± ${formatNumber(std)}`),
              ].join('\n'),
            };
          }
          const started = performance.now();
          const progress = epochProgress(io.globals.json);
          let result;
          try {
            const warmStart = opts.warmStart ? await warmStartSource(ctx, opts.warmStart, config.model.family) : undefined;
            result = await train(ctx, config, {
              warmStart,
              allowAnomalies: opts.allowAnomalies,
              schemaFile: opts.schema,
              onEpoch: progress.onEpoch,
              onStage: (_s, detail) => io.note(`• ${detail}`),
              register: opts.register ? registration(ctx, config) : undefined,
            });
          } finally {
            progress.stop();
          }
          const version = result.version ?? undefined;
          const verdict = version ? await validateModelVersion(ctx, version.model, version.version, config.validation) : undefined;
          const m = result.metrics;
          return {
            json: {
              run: result.run.id,
              model: config.name,
              version: version?.version ?? null,
              dataset: `${result.dataset.dataset}@${result.dataset.version}`,
              metrics: m,
              validation: verdict ?? null,
              rows: result.rows,
              epochs: result.epochs,
              bundle: result.bundleDir,
              bundleUrl: ctx.artifacts.locationOf(result.bundleUri),
              bundleHash: result.manifest.contentHash,
              seconds: (performance.now() - started) / 1000,
            },
            human: [
              `Trained ${config.name}${version ? ` version ${version.version}` : ''} (run ${result.run.id}) in ${formatDuration(performance.now() - started)}`,
              `  epochs ${result.epochs.run}${result.epochs.stoppedEarly ? ` (stopped early; best ${result.epochs.best})` : ''}`,
              `  held-out ${result.rows.eval} rows: ${formatMetrics(m)}`,
              `  bundle ${ctx.artifacts.locationOf(result.bundleUri)}`,
              ...(verdict && verdict.checks.length > 0 ? describeVerdict(verdict).map((l) => `  ${l}`) : []),
            ].join('\n'),
          };
        });
      }),
    );
}
