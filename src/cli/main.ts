#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { AtelierError } from '../core/errors.js';
import { reportError } from './runner.js';

const program = new Command('atelier')
  .description('Atelier: data, training, evaluation, registry and serving for machine-learning models, in one program.')
  .version('0.1.0')
  .option('--json', 'print one JSON document on stdout')
  .option('--debug', 'print stack traces of errors')
  .option('-w, --workspace <dir>', 'workspace folder (default: found from the current folder, or ATELIER_WORKSPACE)')
  .option('--store <url>', 'metadata store: sqlite:PATH or postgres://... (default: ATELIER_STORE_URL, else atelier.yaml)')
  .option('--artifacts <url>', 'artifact store: file:///path or s3://bucket/prefix (default: ATELIER_ARTIFACTS_URL, else atelier.yaml)')
  .showHelpAfterError('(add --help for usage)')
  .exitOverride()
  .configureOutput({ writeErr: (text) => process.stderr.write(text) });

type Register = (program: Command) => void;
/**
 * The commands, in help order, each loaded on demand: a command's module brings its libraries
 * (TF.js, DuckDB, Fastify, Vega take 60-200 ms each to import), so only the one being run is
 * loaded; help, or a word that is no command, loads them all.
 */
const COMMANDS = ['init', 'quickstart', 'data', 'train', 'evaluate', 'models', 'serve', 'predict', 'history', 'lineage', 'pipeline', 'monitor', 'worker', 'jobs', 'gc'];

/** commands/<name>.js exports register<Name>. */
async function loadCommand(name: string): Promise<Register> {
  const module = (await import(`./commands/${name}.js`)) as Record<string, Register>;
  return module[`register${name[0]!.toUpperCase()}${name.slice(1)}`]!;
}

/** The command word of argv: the first argument that is neither a global option nor its value. */
function commandWord(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '-w' || arg === '--workspace' || arg === '--store' || arg === '--artifacts') i++;
    else if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

const args = process.argv.slice(2);
const word = commandWord(args);
// `atelier --version` needs no command; a command word loads its own; anything else (help, a typo) loads all.
const versionOnly = word === undefined && (args.includes('--version') || args.includes('-V'));
const load = versionOnly ? [] : word && COMMANDS.includes(word) ? [word] : COMMANDS;
for (const name of load) (await loadCommand(name))(program);

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
