import { S3Client } from '@aws-sdk/client-s3';
import { AtelierError } from '../core/errors.js';

/** An `s3://bucket/prefix` URL with the settings to reach it. */
export interface S3Location {
  /** `s3://bucket/prefix`, without settings: what messages name. */
  url: string;
  bucket: string;
  /** Key prefix without slashes at either end ('' for the bucket's root). */
  prefix: string;
  /** An S3-compatible endpoint (MinIO, Ceph, s3rver); undefined for AWS itself. */
  endpoint: string | undefined;
  region: string;
  forcePathStyle: boolean;
}

const QUERY_SETTINGS = ['endpoint', 'region', 'path_style'];

function invalid(url: string, message: string): AtelierError {
  return new AtelierError('CONFIG_INVALID', `artifact store URL "${url}": ${message}`, { field: 'artifacts.url' });
}

function flag(value: string, url: string, name: string): boolean {
  if (/^(1|true|yes)$/i.test(value)) return true;
  if (/^(0|false|no)$/i.test(value)) return false;
  throw invalid(url, `${name} "${value}": expected true or false`);
}

/**
 * Reads `s3://bucket/prefix?endpoint=http://host:9000&region=us-east-1&path_style=true`. A setting
 * missing from the URL comes from the environment: ATELIER_S3_ENDPOINT, ATELIER_S3_REGION or
 * AWS_REGION (default us-east-1), ATELIER_S3_FORCE_PATH_STYLE (default: true with an endpoint,
 * as MinIO, Ceph and s3rver want). Credentials are the SDK's default chain (AWS_ACCESS_KEY_ID...).
 */
export function parseS3Url(url: string, env: NodeJS.ProcessEnv = process.env): S3Location {
  const match = /^s3:\/\/([^/?#]*)\/?([^?#]*)(?:\?([^#]*))?$/.exec(url);
  if (!match) throw invalid(url, 'expected s3://bucket/prefix');
  const [, bucket = '', rawPrefix = '', query = ''] = match;
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw invalid(url, `bucket "${bucket}" is not a bucket name (3-63 lowercase letters, digits, dots and hyphens)`);
  }
  const params = new URLSearchParams(query);
  for (const name of params.keys()) {
    if (!QUERY_SETTINGS.includes(name)) throw invalid(url, `unknown setting "${name}"; allowed: ${QUERY_SETTINGS.join(', ')}`);
  }
  const setting = (name: string, ...vars: string[]) => params.get(name) || vars.map((v) => env[v]).find((v) => v !== undefined && v !== '');
  const endpoint = setting('endpoint', 'ATELIER_S3_ENDPOINT');
  if (endpoint !== undefined && !/^https?:\/\/[^/]+/.test(endpoint)) throw invalid(url, `endpoint "${endpoint}": expected http://host:port or https://host`);
  const pathStyle = setting('path_style', 'ATELIER_S3_FORCE_PATH_STYLE');
  const prefix = decodeURIComponent(rawPrefix).replace(/^\/+|\/+$/g, '');
  return {
    url: `s3://${bucket}${prefix ? `/${prefix}` : ''}`,
    bucket,
    prefix,
    endpoint,
    region: setting('region', 'ATELIER_S3_REGION', 'AWS_REGION', 'AWS_DEFAULT_REGION') ?? 'us-east-1',
    forcePathStyle: pathStyle === undefined ? endpoint !== undefined : flag(pathStyle, url, 'path_style'),
  };
}

/**
 * A client for the location. Checksums only when the API requires them (we check sha256
 * ourselves, and many S3-compatible stores reject the SDK's newer default checksums); bounded
 * connection time so an unreachable endpoint fails instead of hanging; the SDK's three attempts.
 */
export function s3ClientFor(location: S3Location): S3Client {
  // Atelier supports Node 20; the SDK's notice about its own future Node support is not the user's to act on.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return new S3Client({
    region: location.region,
    ...(location.endpoint ? { endpoint: location.endpoint } : {}),
    forcePathStyle: location.forcePathStyle,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 5_000, socketTimeout: 60_000 },
  });
}

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  Code?: string;
}

const UNREACHABLE = /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ECONNRESET|socket hang up|TimeoutError|RequestTimeout/;
const DENIED = ['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'Forbidden', 'InvalidToken', 'ExpiredToken', 'CredentialsProviderError'];

/**
 * One clear AtelierError for a failed S3 call: which bucket or object, where, and what to check.
 * `what` is the object's s3:// URL (or the bucket's) and `action` what we were doing.
 */
export function s3Failure(error: unknown, location: S3Location, what: string, action: string): AtelierError {
  if (error instanceof AtelierError) return error;
  const e = (error ?? {}) as SdkError;
  const name = e.name ?? e.Code ?? '';
  const status = e.$metadata?.httpStatusCode;
  const where = location.endpoint ? ` at ${location.endpoint}` : '';
  const facts = { url: what, bucket: location.bucket, endpoint: location.endpoint };
  // A HEAD's error has no body: the SDK can only say "Unknown"; the status says more.
  const bodyless = name === '' || name === 'Unknown' || e.message === 'UnknownError';
  const detail = bodyless ? `HTTP ${status ?? 'error'}` : `${name}${e.message && e.message !== name ? `: ${e.message}` : ''}`.split('\n')[0];
  if (name === 'NoSuchBucket') {
    return new AtelierError('ARTIFACT_BUCKET_NOT_FOUND', `${what}: bucket "${location.bucket}" does not exist${where}; create it or correct the artifact store URL`, facts);
  }
  if (name === 'CredentialsProviderError') {
    return new AtelierError(
      'ARTIFACT_ACCESS_DENIED',
      `${what}: no credentials for the artifact store${where}; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or an AWS profile)`,
      facts,
    );
  }
  if (DENIED.includes(name) || status === 403) {
    const key = process.env.AWS_ACCESS_KEY_ID ? ` with access key ${process.env.AWS_ACCESS_KEY_ID}` : '';
    return new AtelierError(
      'ARTIFACT_ACCESS_DENIED',
      `${what}: access denied${where}${key} while ${action} (${detail}); check the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) and the bucket's permissions`,
      facts,
    );
  }
  if (status === undefined && (UNREACHABLE.test(`${name} ${e.code ?? ''} ${e.message ?? ''}`) || name === 'Error' || name === 'TypeError')) {
    return new AtelierError(
      'ARTIFACT_STORE_UNREACHABLE',
      `${what}: cannot reach the artifact store${where || ` (region ${location.region})`} (${detail}); check the endpoint and that the server is up`,
      facts,
    );
  }
  return new AtelierError('ARTIFACT_STORE_FAILED', `${what}: ${action} failed${where} (${detail})`, facts);
}
