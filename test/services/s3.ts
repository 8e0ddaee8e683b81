/**
 * A real S3-compatible server for tests: s3rver (npm), on a free loopback port, its data in a
 * temp folder. Tests talk to it with the real AWS SDK, never a mock of the client.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { freePort } from '../helpers.js';

export interface TestS3 {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  /** Buckets created at start. */
  buckets: string[];
  /** Credentials s3rver accepts (its fixed pair). */
  accessKeyId: string;
  secretAccessKey: string;
  /** Environment for a child `atelier` process to reach this server. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startS3(buckets: string[] = ['atelier']): Promise<TestS3> {
  const directory = mkdtempSync(join(tmpdir(), 'atelier-s3-'));
  const port = await freePort();
  const server = new S3rver({
    address: '127.0.0.1',
    port,
    silent: true,
    directory,
    configureBuckets: buckets.map((name) => ({ name, configs: [] })),
  });
  await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  // s3rver's documented default credentials.
  const accessKeyId = 'S3RVER';
  const secretAccessKey = 'S3RVER';
  return {
    endpoint,
    buckets,
    accessKeyId,
    secretAccessKey,
    env: {
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
      AWS_REGION: 'us-east-1',
      ATELIER_S3_ENDPOINT: endpoint,
      ATELIER_S3_FORCE_PATH_STYLE: 'true',
    },
    stop: async () => {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
