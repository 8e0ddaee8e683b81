import type { Command } from 'commander';
import { join, relative } from 'node:path';
import { formatDuration, formatNumber } from '../output.js';
import { epochProgress } from '../progress.js';
import { action } from '../runner.js';
import { parsePort, untilSignal } from './serve.js';

export function registerQuickstart(program: Command): void {
  program
    .command('quickstart')
    .description('The whole path on the housing data: import, train, evaluate, register, serve, predict')
    .option('--dir <dir>', 'folder for the workspace', 'atelier-quickstart')
    .option('--port <port>', 'port for the model server (default 8501, or a free one if taken)')
    .option('--no-serve', 'stop after the two predictions instead of serving until Ctrl-C')
    .action(
      action(async (io, opts: { dir: string; port?: string; serve: boolean }) => {
        const { quickstart } = await import('../../pipeline/quickstart.js');
        const progress = epochProgress(io.globals.json);
        let outcome;
        try {
          outcome = await quickstart({
            dir: opts.dir,
            port: opts.port === undefined ? undefined : parsePort(opts.port),
            onStage: (m) => io.note(`• ${m}`),
            onEpoch: progress.onEpoch,
          });
        } finally {
          progress.stop();
        }
        const { result, server, ctx } = outcome;
        const houses = result.request.body.instances;
        // Commands that work where quickstart ran: the same launcher (npx runs the local install
        // from here, not from the workspace) with the workspace named.
        const ws = relative(process.cwd(), result.workspace) || '.';
        const here = `npx atelier -w ${ws}`;
        const human = [
          '',
          `Model ${result.model} version ${result.version} (alias ${result.alias}), trained and served in ${formatDuration(result.seconds * 1000)}`,
          `  held-out RMSE ${formatNumber(result.rmse, 3)} · MAE ${formatNumber(result.metrics.mae, 3)} · R² ${formatNumber(result.metrics.r2, 3)}  (MEDV, $1000s)`,
          '',
          'Two houses, predicted by the server:',
          ...houses.map((h, i) => `  rooms ${h.RM}, lower-status ${h.LSTAT}%, crime ${h.CRIM} → $${formatNumber(result.predictions[i]! * 1000, 0)}`),
          '',
          opts.serve ? 'The request that got them:' : `The request that got them (the server has stopped; \`${here} serve\` starts it again):`,
          `  ${result.curl}`,
          '',
          opts.serve ? `Serving at ${result.url} until Ctrl-C. Next, from this folder:` : 'Next, from this folder:',
          `  ${here} models list · ${here} predict housing ${join(ws, 'housing.csv')}`,
        ].join('\n');
        const shutdown = async () => {
          await server.close();
          await ctx.store.close();
        };
        if (!opts.serve) {
          await shutdown();
          return { json: { ...result, serving: false }, human };
        }
        return { json: { ...result, serving: true }, human, wait: untilSignal().then(shutdown) };
      }),
    );
}
