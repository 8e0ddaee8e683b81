import type { JobDefinition } from '../definition.js';
import type { JobKind } from '../types.js';
import { crossValidationJob } from './cross-validation.js';
import { evaluateJob } from './evaluate.js';
import { pipelineJob } from './pipeline.js';
import { predictJob } from './predict.js';
import { trainJob } from './train.js';
import { tuningTrialJob } from './tuning-trial.js';

/** Every kind of job, by name: what workers can run. */
export const JOBS: Record<JobKind, JobDefinition> = {
  train: trainJob,
  'cross-validation': crossValidationJob,
  'tuning-trial': tuningTrialJob,
  pipeline: pipelineJob,
  predict: predictJob,
  evaluate: evaluateJob,
};
