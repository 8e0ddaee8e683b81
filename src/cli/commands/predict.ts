import { basename, extname, resolve } from 'node:path';
import type { Command } from 'commander';
import { parseRef } from '../../core/config.js';
import { AtelierError } from '../../core/errors.js';
import { loadBundle } from '../../bundle/load.js';
import { bundleDir, resolveModelVersion } from '../../registry/models.js';
import { predictFile } from '../../serving/batch.js';
import { formatDuration } from '../output.js';
import { rowProgress } from '../progress.js';
import { action, withContext } from '../runner.js';

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('Batch prediction: a CSV, Parquet or JSON Lines file in, the same rows with predictions out (CSV or Parquet)')
    .argument('<model>', 'model, model@version or model@alias')
    .argument('[input]', "file with the model's feature columns (or --input)")
    .option('-i, --input <file>', 'input file: .csv, .parquet or .jsonl')
    .option('-o, --output <file>', 'output .csv or .parquet (default: <input>-predictions.csv in this folder)')
    .option('--chunk-rows <n>', 'rows per block of the CSV fast path (the DuckDB way goes by its chunks of 2,048)', '10000')
    .action(
      action(async (io, ref: string, positional: string | undefined, opts: { input?: string; output?: string; chunkRows: string }) =>
        withContext(io.globals, async (ctx) => {
          if (opts.input !== undefined && positional !== undefined && resolve(opts.input) !== resolve(positional)) {
            throw new AtelierError('USAGE', `two inputs: ${positional} and --input ${opts.input}; give one`, { field: 'input' });
          }
          const input = opts.input ?? positional;
          if (!input) throw new AtelierError('USAGE', 'predict needs an input file: atelier predict MODEL --input FILE', { field: 'input' });
          const chunkRows = Number(opts.chunkRows);
          if (!Number.isInteger(chunkRows) || chunkRows < 1) throw new AtelierError('USAGE', `--chunk-rows ${opts.chunkRows}: expected a whole number of at least 1`, { field: 'chunk-rows' });
          const started = performance.now();
          const { name, selector } = parseRef(ref);
          const version = await resolveModelVersion(ctx, name, selector);
          const bundle = await loadBundle(await bundleDir(ctx, version));
          const output = resolve(opts.output ?? `${basename(input, extname(input))}-predictions.csv`);
          const progress = rowProgress(io.globals.json, `${name}@${version.version}`);
          try {
            const { rows } = await predictFile(bundle, resolve(input), output, { chunkRows, onProgress: progress.onProgress });
            return {
              json: { model: name, version: version.version, input: resolve(input), output, rows },
              human: `Predicted ${rows} rows with ${name}@${version.version} in ${formatDuration(performance.now() - started)} → ${output}`,
            };
          } finally {
            progress.stop();
            bundle.dispose();
          }
        }),
      ),
    );
}
