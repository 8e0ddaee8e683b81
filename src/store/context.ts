import type { Workspace } from '../core/workspace.js';
import type { ArtifactStore } from './artifacts.js';
import type { MetadataStore } from './metadata-store.js';
import { openStore } from './open.js';
import { openArtifactStore } from './open-artifacts.js';

/** What every library operation on a workspace needs: where it is, its metadata, its files. */
export interface AtelierContext {
  workspace: Workspace;
  store: MetadataStore;
  artifacts: ArtifactStore;
}

/** Opens the workspace's metadata store (by its store URL) and artifact store (by its artifact URL). */
export async function openContext(workspace: Workspace): Promise<AtelierContext> {
  const artifacts = await openArtifactStore(workspace);
  return { workspace, store: await openStore(workspace.storeUrl), artifacts };
}
