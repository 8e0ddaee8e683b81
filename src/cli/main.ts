#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { AtelierError } from '../core/errors.js';
import { registerData } from './commands/data.js';
import { registerEvaluate } from './commands/evaluate.js';
import { registerHistory } from './commands/history.js';
import { registerInit } from './commands/init.js';
import { registerLineage } from './commands/lineage.js';
import { registerModels } from './commands/models.js';
import { registerMonitor } from './commands/monitor.js';
import { registerPipeline } from './commands/pipeline.js';
import { registerPredict } from './commands/predict.js';
import { registerQuickstart } from './commands/quickstart.js';
import { registerServe } from './commands/serve.js';
import { registerTrain } from './commands/train.js';
import { reportError } from './runner.js';

const program = new Command('atelier')
  .description('Atelier: data, training, evaluation, registry and serving for machine-learning models, in one program.')
  .version('0.1.0')
  .option('--json', 'print one JSON document on stdout')
  .option('--debug', 'print stack traces of errors')
  .option('-w, --workspace <dir>', 'workspace folder (default: found from the current folder, or ATELIER_WORKSPACE)')
  .showHelpAfterError('(add --help for usage)')
  .exitOverride()
  .configureOutput({ writeErr: (text) => process.stderr.write(text) });

registerInit(program);
registerQuickstart(program);
registerData(program);
registerTrain(program);
registerEvaluate(program);
registerModels(program);
registerServe(program);
registerPredict(program);
registerHistory(program);
registerLineage(program);
registerPipeline(program);
registerMonitor(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version are successes; anything else commander rejects is a usage error (2).
    const ok = error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help';
    process.exit(ok ? 0 : 2);
  }
  await reportError(error instanceof Error ? error : new AtelierError('USAGE', String(error)), {
    json: process.argv.includes('--json'),
    debug: process.argv.includes('--debug'),
  });
}
