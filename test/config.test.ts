import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseModelConfig } from '../src/core/config.js';
import { AtelierError } from '../src/core/errors.js';
import { ROOT } from './helpers.js';

const example = readFileSync(join(ROOT, 'examples', 'housing', 'dnn.yaml'), 'utf8');

function errorOf(text: string): AtelierError {
  try {
    parseModelConfig(text, 'm.yaml');
  } catch (error) {
    assert.ok(error instanceof AtelierError);
    return error;
  }
  assert.fail('expected a CONFIG_INVALID error');
}

test('the example config parses, with defaults filled in', () => {
  const config = parseModelConfig(example, 'dnn.yaml');
  assert.equal(config.name, 'housing');
  assert.equal(config.model.family, 'dnn');
  assert.deepEqual(config.model.hidden_units, [64, 32]);
  assert.equal(config.model.dropout, 0);
  assert.deepEqual(config.training.early_stopping, { patience: 30, validation: 0.1 });
});

test('an unknown model field lists the chosen family\'s own fields, suggests the nearest, and every error in the file is reported', () => {
  const text = 'name: m\ntask: regression\ndata: {dataset: d, label: y}\nmodel:\n  family: gbdt\n  max_dept: 4\n  hidden_units: [8]\ntraining: {epoch: 3}\n';
  const error = errorOf(text);
  assert.equal(error.facts.errors, 3);
  assert.equal(
    error.message,
    'm.yaml: 3 errors: ' +
      'line 6: model.max_dept: unknown field (did you mean max_depth?); allowed here: family, n_estimators, learning_rate, max_depth, num_leaves, growth, min_child_weight, min_split_gain, reg_lambda, reg_alpha, subsample, colsample_bytree, max_bin, threads; ' +
      'line 7: model.hidden_units: unknown field; allowed here: family, n_estimators, learning_rate, max_depth, num_leaves, growth, min_child_weight, min_split_gain, reg_lambda, reg_alpha, subsample, colsample_bytree, max_bin, threads; ' +
      'line 8: training.epoch: unknown field (did you mean epochs?); allowed here: epochs, batch_size, optimizer, learning_rate, weight_decay, schedule, decay_rate, early_stopping, seed',
  );
});

test('a minimal config gets every default', () => {
  const config = parseModelConfig('name: m\ntask: regression\ndata: {dataset: d, label: y}\nmodel: {family: dnn}\n', 'm.yaml');
  assert.deepEqual(config.data.split, { eval: 0.2, seed: 42 });
  assert.equal(config.training.epochs, 200);
  assert.equal(config.training.optimizer, 'adam');
});

test('errors name the file, line and field, and what is allowed', () => {
  const unknown = errorOf(example.replace('batch_size:', 'batch_sise:'));
  assert.equal(unknown.code, 'CONFIG_INVALID');
  assert.equal(unknown.facts.field, 'training.batch_sise');
  assert.match(unknown.message, /^m\.yaml:\d+: training\.batch_sise: unknown field \(did you mean batch_size\?\); allowed here: epochs, batch_size, optimizer/);

  const family = errorOf(example.replace('family: dnn', 'family: forest'));
  assert.equal(family.facts.field, 'model.family');

  const missing = errorOf('name: m\ntask: regression\nmodel: {family: dnn}\n');
  assert.match(missing.message, /^m\.yaml(:\d+)?: data: required field is missing \(expected object\)/);

  const type = errorOf(example.replace('epochs: 300', 'epochs: -3'));
  assert.match(type.message, /m\.yaml:\d+: training\.epochs: .*>0|too small/i);

  const yaml = errorOf('name: [unclosed\n');
  assert.match(yaml.message, /^m\.yaml:\d+: not valid YAML/);
});
