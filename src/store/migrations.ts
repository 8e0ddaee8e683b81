import { type Kysely, type Migration, type MigrationProvider } from 'kysely';

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

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return { getMigrations: async () => migrations(dialect) };
}
