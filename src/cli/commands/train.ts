import { basename } from 'node:path';
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { loadModelConfig, withDataset, withDatasetText } from '../../core/config.js';
import { describeVerdict } from '../../evaluation/blessing.js';
import { trainAndRegister, type TrainOutcome } from '../../jobs/kinds/train.js';
import { checkFolds, type CrossValidation } from '../../training/cross-validate.js';
import { formatDuration, formatMetrics, formatNumber } from '../output.js';
import { epochProgress } from '../progress.js';
import { carry, DETACH_FLAG, QUEUE_FLAG, submitAndFollow, type QueueFlags } from '../queued.js';
import { action, withContext, type CommandResult } from '../runner.js';

export function describeTrainOutcome(o: TrainOutcome): string {
  return [
    `Trained ${o.model}${o.version !== null ? ` version ${o.version}` : ''} (run ${o.run}) in ${formatDuration(o.seconds * 1000)}${o.recovered ? ' (found done by an earlier attempt)' : ''}`,
    ...(o.epochs ? [`  epochs ${o.epochs.run}${o.epochs.stoppedEarly ? ` (stopped early; best ${o.epochs.best})` : ''}`] : []),
    `  held-out ${o.rows ? `${o.rows.eval} rows` : 'split'}: ${formatMetrics(o.metrics)}`,
    ...(o.bundle ? [`  bundle ${o.bundle}`] : []),
    // Where the curves are: the report (held-out charts with the training curves) and TensorBoard.
    ...(o.version !== null ? [`  curves  atelier evaluate ${o.model}@${o.version} --report report.html`] : []),
    ...(o.tensorboard ? [`          tensorboard --logdir ${o.tensorboard}`] : []),
    ...(o.validation && o.validation.checks.length > 0 ? describeVerdict(o.validation).map((l) => `  ${l}`) : []),
  ].join('\n');
}

function describeCrossValidation(config: { name: string }, result: CrossValidation, seconds: number): string {
  return [
    `${config.name}: ${result.k}-fold cross-validation on ${result.dataset} in ${formatDuration(seconds * 1000)}`,
    ...Object.entries(result.cv).map(([key, { mean, std }]) => `  ${key.padEnd(9)} ${formatNumber(mean)} ± ${formatNumber(std)}`),
  ].join('\n');
}

interface TrainFlags extends QueueFlags {
  register: boolean;
  cv?: string;
  schema?: string;
  allowAnomalies?: boolean;
  warmStart?: string;
  data?: string;
}

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
    .option('--data <dataset>', "train on this dataset version (NAME or NAME@V) instead of the config's data.dataset: retraining on new data needs no edit")
    .option(...QUEUE_FLAG)
    .option(...DETACH_FLAG)
    .action(
      action(async (io, file: string, opts: TrainFlags): Promise<CommandResult<unknown>> => {
        const config = withDataset(loadModelConfig(file), opts.data);
        // A queued job carries the config's text: the override goes into it.
        const carried = () => (opts.data ? { file, text: withDatasetText(readFileSync(file, 'utf8'), opts.data) } : carry(file));
        if (opts.queue) {
          const started = performance.now();
          if (opts.cv !== undefined) {
            checkFolds(Number(opts.cv));
            return submitAndFollow<CrossValidation>(io, opts, async () => ({ kind: 'cross-validation', title: `cross-validate ${config.name} (${basename(file)}, ${opts.cv} folds)`, payload: { config: carried(), k: Number(opts.cv) } }), {
              describe: (result) => describeCrossValidation(config, result, (performance.now() - started) / 1000),
            });
          }
          return submitAndFollow<TrainOutcome>(
            io,
            opts,
            async () => ({
              kind: 'train',
              title: `train ${config.name} (${basename(file)})`,
              payload: { config: carried(), register: opts.register, ...(opts.schema ? { schema: carry(opts.schema) } : {}), warmStart: opts.warmStart, allowAnomalies: opts.allowAnomalies },
            }),
            { describe: describeTrainOutcome },
          );
        }
        return withContext(io.globals, async (ctx) => {
          if (opts.cv !== undefined) {
            const { crossValidate } = await import('../../training/cross-validate.js');
            const started = performance.now();
            const result = await crossValidate(ctx, config, Number(opts.cv), { onFold: (fold, k) => io.note(`• fold ${fold + 1} of ${k}`) });
            const seconds = (performance.now() - started) / 1000;
            return { json: { ...result, seconds }, human: describeCrossValidation(config, result, seconds) };
          }
          const progress = epochProgress(io.globals.json);
          try {
            const outcome = await trainAndRegister(ctx, config, { register: opts.register, schemaFile: opts.schema, warmStart: opts.warmStart, allowAnomalies: opts.allowAnomalies }, {
              onEpoch: progress.onEpoch,
              onStage: (_s, detail) => io.note(`• ${detail}`),
            });
            return { json: outcome, human: describeTrainOutcome(outcome) };
          } finally {
            progress.stop();
          }
        });
      }),
    );
}
