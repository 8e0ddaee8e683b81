import type { Workspace } from '../core/workspace.js';
import { ArtifactStore } from './artifacts.js';
import type { MetadataStore } from './metadata-store.js';
import { openStore } from './open.js';

/** What every library operation on a workspace needs: where it is, its metadata, its files. */
export interface AtelierContext {
  workspace: Workspace;
  store: MetadataStore;
  artifacts: ArtifactStore;
}

/** Opens the workspace's metadata store (by its store URL) and artifact store (by its artifact URL). */
export async function openContext(workspace: Workspace): Promise<AtelierContext> {
  if (!workspace.artifactsDir) throw new Error(`artifact store ${workspace.artifactsUrl}: only file:// is supported so far`);
  return { workspace, store: await openStore(workspace.storeUrl), artifacts: new ArtifactStore(workspace.artifactsDir) };
}
