import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { diskFullError } from '../core/disk-full.js';
import { AtelierError, isAtelierError } from '../core/errors.js';
import type { AtelierContext } from '../store/context.js';
import { DEFAULT_BATCH, type BatchOptions } from './batcher.js';
import { DataPlane } from './dataplane.js';
import type { DomainPolicy } from './input-check.js';
import { parseJsonBody, stringifyJsonBody } from './json-body.js';
import { ServingMetrics } from './metrics.js';
import { ModelManager } from './model-manager.js';
import { PredictionLog, type PredictionLogOptions } from './prediction-log.js';
import { registerTfServingRoutes } from './tf-serving.js';
import { registerV2Routes } from './v2.js';

export interface ServerOptions {
  port?: number;
  host?: string;
  /** Models to serve (names, `name@version` pins); default: every registered model. */
  models?: string[] | 'all';
  /** @deprecated the same as `models`. */
  preload?: string[];
  /** Aliases loaded ahead and followed (default: production). */
  aliases?: string[];
  /** SQLite: how often to check the registry's change counter, in ms (default 200; 0: do not follow). PostgreSQL is notified. */
  pollMs?: number;
  /** Versions per model loaded on demand kept at once, least recently used unloaded first (default 2). */
  maxOnDemand?: number;
  batch?: Partial<BatchOptions>;
  /** Per-request limit, in ms (default 30000): past it the answer is 504. */
  timeoutMs?: number;
  /** How long a client may take to send a whole request, in ms (default 30000): past it the connection is closed (408). */
  receiveTimeoutMs?: number;
  /** How long a connection may sit idle, in ms (default 120000). */
  idleTimeoutMs?: number;
  /** Largest request body, in bytes (default 16 MiB): past it the answer is 413. */
  bodyLimit?: number;
  /** Bearer tokens accepted; when set, every route but /v2/health/* needs one (401 otherwise). */
  tokens?: string[];
  /** Where to write the prediction log (JSON Lines), and how much of it. */
  predictionLog?: PredictionLogOptions;
  /** Domain policy: one for every model, or per model with a default. */
  domainPolicy?: DomainPolicy | { default: DomainPolicy; models: Record<string, DomainPolicy> };
  /** Process metrics (CPU, memory, event loop) in /metrics too (default true). */
  processMetrics?: boolean;
  /** This server is a worker of `serve --workers N`: /metrics answers for all the workers. */
  clusterMetrics?: boolean;
  logLevel?: 'silent' | 'error' | 'warn' | 'info' | 'debug';
}

export interface RunningServer {
  app: FastifyInstance;
  plane: DataPlane;
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Reads a token file: one token a line; blank lines and # comments are skipped. */
export function readTokenFile(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new AtelierError('FILE_NOT_FOUND', `${file}: no such token file`, { file });
  }
  const tokens = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  if (tokens.length === 0) throw new AtelierError('USAGE', `${file}: the token file holds no token`, { file, field: 'token-file' });
  return tokens;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

function tokenCheck(tokens: string[]): (header: string | undefined) => boolean {
  const known = tokens.map(digest);
  return (header) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!match) return false;
    const given = digest(match[1]!);
    // Compare against every token in constant time, so timing tells nothing about which matched.
    return known.reduce((ok, k) => timingSafeEqual(k, given) || ok, false);
  };
}

function policyOf(option: ServerOptions['domainPolicy']): (model: string) => DomainPolicy {
  if (option === undefined) return () => 'accept';
  if (typeof option === 'string') return () => option;
  return (model) => option.models[model] ?? option.default;
}

/**
 * Builds the HTTP app (not yet listening): the model manager loads and warms the models first.
 * One error handler maps every error to its status and a TF Serving style `{"error": "..."}`
 * body, never a stack trace.
 */
export async function buildServer(ctx: AtelierContext, options: ServerOptions = {}): Promise<{ app: FastifyInstance; plane: DataPlane }> {
  const level = options.logLevel ?? 'silent';
  const metrics = new ServingMetrics({ processMetrics: options.processMetrics, cluster: options.clusterMetrics });
  const manager = await ModelManager.create(ctx, {
    models: options.models ?? options.preload ?? 'all',
    aliases: options.aliases,
    pollMs: options.pollMs,
    maxOnDemand: options.maxOnDemand,
    batch: { ...DEFAULT_BATCH, ...options.batch },
    domainPolicy: policyOf(options.domainPolicy),
    metrics,
  });
  const log = options.predictionLog ? new PredictionLog(options.predictionLog) : undefined;
  const plane = new DataPlane(manager, { timeoutMs: options.timeoutMs, metrics, log });

  const app = Fastify({
    // The log goes to stderr: stdout is the command's own output (the address it listens on).
    logger: level === 'silent' ? false : { level, stream: process.stderr },
    bodyLimit: options.bodyLimit ?? 16 * 1024 * 1024,
    // A client that trickles its request (headers and body) is cut off after receiveTimeoutMs, and
    // an idle connection after idleTimeoutMs; Node's defaults leave both off.
    requestTimeout: options.receiveTimeoutMs ?? 30_000,
    connectionTimeout: options.idleTimeoutMs ?? 120_000,
    // Errors the router raises before any route runs (a URL that does not decode) get the same body as ours.
    frameworkErrors: (error, _request, reply: FastifyReply) => {
      void reply.status(400).send({ error: `Malformed request: ${error.message}` });
    },
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && given.length > 0 && given.length <= 200 ? given : randomUUID();
    },
  });

  // TF Serving reads the body as JSON whatever the content type (curl -d sends form encoding),
  // and accepts bare NaN and Infinity.
  app.setReplySerializer((payload) => stringifyJsonBody(payload));
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });

  if (options.tokens && options.tokens.length > 0) {
    const allowed = tokenCheck(options.tokens);
    app.addHook('onRequest', async (request, reply) => {
      if (request.url.startsWith('/v2/health/')) return;
      if (!allowed(request.headers.authorization)) {
        void reply.header('www-authenticate', 'Bearer');
        throw new AtelierError('UNAUTHORIZED', 'missing or unknown bearer token (send Authorization: Bearer <token>)');
      }
    });
  }

  app.setErrorHandler((error, request, reply) => {
    if (isAtelierError(error)) {
      void reply.status(error.status).send({ error: error.message });
      return;
    }
    const fastifyError = error as { statusCode?: number; message: string };
    if (fastifyError.statusCode && fastifyError.statusCode < 500) {
      void reply.status(fastifyError.statusCode).send({ error: fastifyError.message });
      return;
    }
    request.log.error(error);
    // Clients learn that the disk is full (507), not where the server keeps its files.
    const full = diskFullError(error);
    void reply.status(full ? full.status : 500).send({ error: full ? 'disk full on the server; the server log has the path' : 'internal error; the server log has the details' });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ error: `Malformed request: ${request.method} ${request.url}` });
  });

  app.get('/metrics', async (_request, reply) => {
    void reply.header('content-type', metrics.registry.contentType);
    return metrics.render();
  });
  registerTfServingRoutes(app, plane);
  registerV2Routes(app, plane);
  app.addHook('onClose', async () => plane.close());
  return { app, plane };
}

export async function startServer(ctx: AtelierContext, options: ServerOptions = {}): Promise<RunningServer> {
  const { app, plane } = await buildServer(ctx, options);
  const host = options.host ?? '127.0.0.1';
  try {
    await app.listen({ port: options.port ?? 8501, host });
  } catch (error) {
    await app.close();
    const code = (error as { code?: string }).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') {
      throw new AtelierError('PORT_IN_USE', `cannot listen on ${host}:${options.port ?? 8501} (${code}); pass --port`, { field: 'port' });
    }
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 8501);
  return { app, plane, url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`, port, close: () => app.close() };
}
