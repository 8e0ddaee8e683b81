import { sql, type ColumnDefinitionBuilder, type Kysely, type Migration, type MigrationProvider } from '#kysely';
import { typedParams } from './params.js';

/**
 * Versioned migrations, applied in name order by Kysely's Migrator and recorded in its
 * `kysely_migration` table. Never edit a landed migration: add the next one.
 * `dialect` lets a column type differ where SQLite and PostgreSQL disagree (auto-increment).
 */
export type Dialect = 'sqlite' | 'postgres';

function migrations(dialect: Dialect): Record<string, Migration> {
  return {
    '0001_initial': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('dataset_versions')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('dataset', 'text', (c) => c.notNull())
          .addColumn('version', 'integer', (c) => c.notNull())
          .addColumn('content_hash', 'text', (c) => c.notNull())
          .addColumn('row_count', 'bigint', (c) => c.notNull())
          .addColumn('columns_json', 'text', (c) => c.notNull())
          .addColumn('source', 'text', (c) => c.notNull())
          .addColumn('artifact', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addUniqueConstraint('dataset_versions_dataset_version', ['dataset', 'version'])
          .addUniqueConstraint('dataset_versions_dataset_hash', ['dataset', 'content_hash'])
          .execute();

        await db.schema
          .createTable('runs')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('model', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('config_json', 'text', (c) => c.notNull())
          .addColumn('config_hash', 'text', (c) => c.notNull())
          .addColumn('dataset_version_id', 'text', (c) => c.notNull().references('dataset_versions.id'))
          .addColumn('params_json', 'text', (c) => c.notNull())
          .addColumn('started_at', 'text', (c) => c.notNull())
          .addColumn('ended_at', 'text')
          .addColumn('user_name', 'text', (c) => c.notNull())
          .addColumn('host', 'text', (c) => c.notNull())
          .addColumn('error', 'text')
          .execute();

        await db.schema
          .createTable('run_metrics')
          .addColumn('run_id', 'text', (c) => c.notNull().references('runs.id'))
          .addColumn('key', 'text', (c) => c.notNull())
          .addColumn('step', 'integer', (c) => c.notNull())
          .addColumn('value', 'double precision', (c) => c.notNull())
          .addPrimaryKeyConstraint('run_metrics_pk', ['run_id', 'key', 'step'])
          .execute();

        await db.schema
          .createTable('model_versions')
          .addColumn('model', 'text', (c) => c.notNull())
          .addColumn('version', 'integer', (c) => c.notNull())
          .addColumn('run_id', 'text', (c) => c.references('runs.id'))
          .addColumn('bundle_uri', 'text', (c) => c.notNull())
          .addColumn('bundle_hash', 'text', (c) => c.notNull())
          .addColumn('metrics_json', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('description', 'text')
          .addPrimaryKeyConstraint('model_versions_pk', ['model', 'version'])
          .execute();

        await db.schema
          .createTable('aliases')
          .addColumn('model', 'text', (c) => c.notNull())
          .addColumn('alias', 'text', (c) => c.notNull())
          .addColumn('version', 'integer', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('aliases_pk', ['model', 'alias'])
          .execute();

        // Append-only: nothing updates or deletes events.
        await db.schema
          .createTable('events')
          .addColumn('seq', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
            dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn('at', 'text', (c) => c.notNull())
          .addColumn('user_name', 'text', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('subject', 'text', (c) => c.notNull())
          .addColumn('details_json', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('events_kind').on('events').column('kind').execute();
      },
    },
    '0002_statistics_and_schemas': {
      async up(db: Kysely<any>) {
        // The artifact key of a version's statistics, computed once and reused.
        await db.schema.alterTable('dataset_versions').addColumn('statistics', 'text').execute();
        await db.schema
          .createTable('data_schemas')
          .addColumn('dataset', 'text', (c) => c.notNull())
          .addColumn('version', 'integer', (c) => c.notNull())
          .addColumn('content_hash', 'text', (c) => c.notNull())
          .addColumn('artifact', 'text', (c) => c.notNull())
          .addColumn('source', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('data_schemas_pk', ['dataset', 'version'])
          .execute();
      },
    },
    '0003_pipeline_metadata': {
      async up(db: Kysely<any>) {
        // ML Metadata's three record kinds: artifacts (what a step read or wrote), executions (a
        // step run once, with the hash of its inputs and settings) and the events joining them.
        await db.schema
          .createTable('artifacts')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('uri', 'text', (c) => c.notNull())
          .addColumn('fingerprint', 'text', (c) => c.notNull())
          .addColumn('properties_json', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('artifacts_type_fingerprint').on('artifacts').columns(['type', 'fingerprint']).execute();
        await db.schema
          .createTable('executions')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('pipeline', 'text', (c) => c.notNull())
          .addColumn('pipeline_run', 'text', (c) => c.notNull())
          .addColumn('step', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('cache_key', 'text', (c) => c.notNull())
          .addColumn('properties_json', 'text', (c) => c.notNull())
          .addColumn('started_at', 'text', (c) => c.notNull())
          .addColumn('ended_at', 'text')
          .addColumn('error', 'text')
          .execute();
        await db.schema.createIndex('executions_cache_key').on('executions').column('cache_key').execute();
        await db.schema.createIndex('executions_pipeline_run').on('executions').column('pipeline_run').execute();
        await db.schema
          .createTable('execution_events')
          .addColumn('execution_id', 'text', (c) => c.notNull().references('executions.id'))
          .addColumn('artifact_id', 'text', (c) => c.notNull().references('artifacts.id'))
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('execution_events_pk', ['execution_id', 'kind', 'name'])
          .execute();
        await db.schema.createIndex('execution_events_artifact').on('execution_events').column('artifact_id').execute();
      },
    },
    '0004_store_as_system_of_record': {
      up: (db: Kysely<any>) => storeAsSystemOfRecord(db, dialect),
    },
    '0005_run_lifecycle': {
      async up(db: Kysely<any>) {
        // A running run's process proves it is alive: its pid (on `host`) and a heartbeat written
        // every few seconds. A run whose process vanished is found by these (see run-lifecycle.ts).
        await db.schema.alterTable('runs').addColumn('heartbeat_at', 'text').execute();
        await db.schema.alterTable('runs').addColumn('pid', 'integer').execute();
        // Every command sweeps the running runs: this keeps that a look-up, not a scan.
        await db.schema.createIndex('runs_status').on('runs').column('status').execute();
      },
    },
  };
}

/** An auto-numbered primary key: bigserial on PostgreSQL, SQLite's integer rowid alias. */
const serial = (dialect: Dialect) =>
  [dialect === 'postgres' ? 'bigserial' : 'integer', (c: ColumnDefinitionBuilder) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement())] as const;

/** "name@3" to its parts (as the event log writes subjects). */
function subjectParts(subject: string): { model: string; version: number } | undefined {
  const at = subject.lastIndexOf('@');
  const version = Number(subject.slice(at + 1));
  return at > 0 && Number.isInteger(version) ? { model: subject.slice(0, at), version } : undefined;
}

const wholeOrNull = (value: unknown) => (typeof value === 'number' && Number.isInteger(value) ? value : null);

/**
 * 0004: the store becomes the system of record. Verdicts and alias moves get tables of their own
 * (they were found by scanning the event log), runs get a parent, an experiment and typed
 * parameters, and the lists get the indexes their queries need. The new tables are filled from
 * the event log and the runs' JSON, so an existing workspace keeps its verdicts and alias history.
 */
async function storeAsSystemOfRecord(db: Kysely<any>, dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('experiments')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('description', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .execute();
  await db.schema.alterTable('runs').addColumn('parent_run_id', 'text', (c) => c.references('runs.id')).execute();
  await db.schema.alterTable('runs').addColumn('experiment', 'text', (c) => c.references('experiments.name')).execute();
  await db.schema.createIndex('runs_parent').on('runs').column('parent_run_id').execute();
  await db.schema.createIndex('runs_experiment').on('runs').column('experiment').execute();
  await db.schema.createIndex('runs_started').on('runs').columns(['started_at', 'id']).execute();
  await db.schema.createIndex('runs_model').on('runs').columns(['model', 'started_at']).execute();

  await db.schema
    .createTable('run_params')
    .addColumn('run_id', 'text', (c) => c.notNull().references('runs.id'))
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('num_value', 'double precision')
    .addColumn('text_value', 'text')
    .addPrimaryKeyConstraint('run_params_pk', ['run_id', 'key'])
    .execute();
  await db.schema.createIndex('run_params_num').on('run_params').columns(['key', 'num_value']).execute();
  await db.schema.createIndex('run_params_text').on('run_params').columns(['key', 'text_value']).execute();
  await db.schema.createIndex('run_metrics_key').on('run_metrics').columns(['key', 'value']).execute();

  await db.schema
    .createTable('verdicts')
    .addColumn('seq', ...serial(dialect))
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('blessed', 'integer', (c) => c.notNull())
    .addColumn('details_json', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('user_name', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('verdicts_version').on('verdicts').columns(['model', 'version', 'seq']).execute();

  await db.schema
    .createTable('alias_history')
    .addColumn('seq', ...serial(dialect))
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('alias', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('from_version', 'integer')
    .addColumn('to_version', 'integer', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('user_name', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('alias_history_alias').on('alias_history').columns(['model', 'alias', 'seq']).execute();
  await db.schema.createIndex('alias_history_at').on('alias_history').columns(['at', 'seq']).execute();

  // A run registers at most one version (a retried job finds its own); imports have no run.
  await sql`create unique index model_versions_run on model_versions (run_id) where run_id is not null`.execute(db);
  await db.schema.createIndex('aliases_version').on('aliases').columns(['model', 'version']).execute();
  await db.schema.createIndex('events_kind_subject').on('events').columns(['kind', 'subject', 'seq']).execute();
  await db.schema.createIndex('events_subject').on('events').columns(['subject', 'seq']).execute();

  // SQLite's cheap change check: one row whose counter each registry change bumps.
  await db.schema
    .createTable('registry_changes')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('counter', 'bigint', (c) => c.notNull())
    .execute();
  await db.insertInto('registry_changes').values({ id: 1, counter: 0 }).execute();

  // Backfill from the event log, in its order.
  const events = await db
    .selectFrom('events')
    .selectAll()
    .where('kind', 'in', ['model.validated', 'model.promoted', 'model.rolled_back'])
    .orderBy('seq')
    .execute();
  for (const e of events) {
    const subject = subjectParts(e.subject);
    const details = JSON.parse(e.details_json) as Record<string, unknown>;
    if (!subject) continue;
    if (e.kind === 'model.validated') {
      await db
        .insertInto('verdicts')
        .values({ model: subject.model, version: subject.version, blessed: details.blessed === true ? 1 : 0, details_json: e.details_json, at: e.at, user_name: e.user_name })
        .execute();
    } else if (typeof details.alias === 'string') {
      const promoted = e.kind === 'model.promoted';
      await db
        .insertInto('alias_history')
        .values({
          model: subject.model,
          alias: details.alias,
          kind: promoted ? 'promoted' : 'rolled_back',
          from_version: wholeOrNull(promoted ? details.previous : details.from),
          to_version: subject.version,
          reason: typeof details.reason === 'string' ? details.reason : null,
          at: e.at,
          user_name: e.user_name,
        })
        .execute();
    }
  }
  for (const run of await db.selectFrom('runs').select(['id', 'params_json']).execute()) {
    for (const p of typedParams(JSON.parse(run.params_json))) {
      await db.insertInto('run_params').values({ run_id: run.id, key: p.key, num_value: p.num, text_value: p.text }).execute();
    }
  }
}

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return { getMigrations: async () => migrations(dialect) };
}

/** The names of every migration, to tell cheaply whether a database is up to date. */
export function migrationNames(dialect: Dialect): string[] {
  return Object.keys(migrations(dialect)).sort();
}
