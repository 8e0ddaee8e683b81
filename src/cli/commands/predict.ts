import { copyFile, rename } from 'node:fs/promises';
import { basename, extname, resolve } from 'node:path';
import type { Command } from 'commander';
import { parseRef } from '../../core/config.js';
import { AtelierError } from '../../core/errors.js';
import { loadBundle } from '../../bundle/load.js';
import { artifactPath, shipFile, type PredictOutcome } from '../../jobs/kinds/predict.js';
import { bundleDir, resolveModelVersion } from '../../registry/models.js';
import { predictFile } from '../../serving/batch.js';
import { formatDuration } from '../output.js';
import { rowProgress } from '../progress.js';
import { DETACH_FLAG, QUEUE_FLAG, submitAndFollow, type QueueFlags } from '../queued.js';
import { action, withContext, type CommandIO } from '../runner.js';

interface PredictFlags extends QueueFlags {
  input?: string;
  output?: string;
  chunkRows: string;
}

/** The input file, the output path and the block size, checked. */
function predictArgs(positional: string | undefined, opts: PredictFlags): { input: string; output: string; chunkRows: number } {
  if (opts.input !== undefined && positional !== undefined && resolve(opts.input) !== resolve(positional)) {
    throw new AtelierError('USAGE', `two inputs: ${positional} and --input ${opts.input}; give one`, { field: 'input' });
  }
  const input = opts.input ?? positional;
  if (!input) throw new AtelierError('USAGE', 'predict needs an input file: atelier predict MODEL --input FILE', { field: 'input' });
  const chunkRows = Number(opts.chunkRows);
  if (!Number.isInteger(chunkRows) || chunkRows < 1) throw new AtelierError('USAGE', `--chunk-rows ${opts.chunkRows}: expected a whole number of at least 1`, { field: 'chunk-rows' });
  return { input: resolve(input), output: resolve(opts.output ?? `${basename(input, extname(input))}-predictions.csv`), chunkRows };
}

/**
 * Queued: the input goes to the artifact store, a worker writes the predictions there (under
 * their content hash), and this command copies them to --output when the job is done.
 */
function predictQueued(io: CommandIO, ref: string, positional: string | undefined, opts: PredictFlags) {
  const { input, output, chunkRows } = predictArgs(positional, opts);
  const format = /\.parquet$/i.test(output) ? 'parquet' : /\.csv$/i.test(output) ? 'csv' : undefined;
  if (!format) throw new AtelierError('USAGE', `${output}: the output must end in .csv or .parquet`, { file: output, field: 'output' });
  return submitAndFollow<PredictOutcome>(
    io,
    opts,
    async (ctx) => {
      const { name, selector } = parseRef(ref);
      const version = await resolveModelVersion(ctx, name, selector);
      return { kind: 'predict', title: `predict ${name}@${version.version} (${basename(input)})`, payload: { model: name, version: version.version, input: await shipFile(ctx, input), format, chunkRows } };
    },
    {
      describe: (r) => `Predicted ${r.rows} rows with ${r.model}@${r.version} → ${output}`,
      after: async (ctx, r) => {
        const temp = `${output}.tmp-${process.pid}`;
        await copyFile(await artifactPath(ctx, r.output), temp);
        await rename(temp, output);
        return { output };
      },
    },
  );
}

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('Batch prediction: a CSV, Parquet or JSON Lines file in, the same rows with predictions out (CSV or Parquet)')
    .argument('<model>', 'model, model@version or model@alias')
    .argument('[input]', "file with the model's feature columns (or --input)")
    .option('-i, --input <file>', 'input file: .csv, .parquet or .jsonl')
    .option('-o, --output <file>', 'output .csv or .parquet (default: <input>-predictions.csv in this folder)')
    .option('--chunk-rows <n>', 'rows per block of the CSV fast path (the DuckDB way goes by its chunks of 2,048)', '10000')
    .option(...QUEUE_FLAG)
    .option(...DETACH_FLAG)
    .action(
      action(async (io, ref: string, positional: string | undefined, opts: PredictFlags) => {
        if (opts.queue) return predictQueued(io, ref, positional, opts);
        return withContext(io.globals, async (ctx) => {
          const { input, output, chunkRows } = predictArgs(positional, opts);
          const started = performance.now();
          const { name, selector } = parseRef(ref);
          const version = await resolveModelVersion(ctx, name, selector);
          const bundle = await loadBundle(await bundleDir(ctx, version));
          const progress = rowProgress(io.globals.json, `${name}@${version.version}`);
          try {
            const { rows } = await predictFile(bundle, input, output, { chunkRows, onProgress: progress.onProgress });
            return {
              json: { model: name, version: version.version, input, output, rows },
              human: `Predicted ${rows} rows with ${name}@${version.version} in ${formatDuration(performance.now() - started)} → ${output}`,
            };
          } finally {
            progress.stop();
            bundle.dispose();
          }
        });
      }),
    );
}
