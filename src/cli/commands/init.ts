import type { Command } from 'commander';
import { initWorkspace, redactUrl } from '../../core/workspace.js';
import { openStore } from '../../store/open.js';
import { action } from '../runner.js';

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('Create a workspace: atelier.yaml and .atelier/ (metadata database, artifacts)')
    .argument('[dir]', 'folder to create it in', '.')
    .option('--name <name>', 'workspace name')
    .action(
      action(async (io, dir: string, opts: { name?: string }) => {
        // --store and --artifacts given to init are written into atelier.yaml (a team workspace).
        const workspace = initWorkspace(dir, opts.name, { store: io.globals.store, artifacts: io.globals.artifacts });
        const store = await openStore(workspace.storeUrl);
        await store.close();
        return {
          json: {
            root: workspace.root,
            store: redactUrl(workspace.storeUrl),
            artifacts: workspace.artifactsDir ?? workspace.artifactsUrl,
            database: workspace.databasePath ?? null,
          },
          human: `Created workspace in ${workspace.root}\n  metadata  ${workspace.databasePath ?? redactUrl(workspace.storeUrl)}\n  artifacts ${workspace.artifactsDir ?? workspace.artifactsUrl}`,
        };
      }),
    );
}
