/**
 * Linear models on typed arrays, for all three tasks, solved to convergence (convex problems):
 *  - regression, l1 = 0: ridge / ordinary least squares, exactly, by Cholesky on the centred
 *    normal equations (intercept unpenalised);
 *  - regression, l1 > 0: elastic net by cyclic coordinate descent to a duality-gap tolerance;
 *  - binary and multiclass: (multinomial) logistic regression by L-BFGS (l1 = 0) or OWL-QN (l1 > 0).
 * Penalties are per sample (see params.ts for the scikit-learn equivalents). training.epochs,
 * batchSize, optimizer, learningRate, seed, earlyStoppingPatience and threads are ignored: the
 * solution is the optimum of the objective, the same for the same data, bit for bit.
 * onEpoch is called once per solver iteration (coordinate-descent sweep or quasi-Newton step;
 * once for the exact solve), with `epochs` = max_iterations (1 for the exact solve).
 */
import { AtelierError } from '../../core/errors.js';
import { outputWidthOf, type FitInput, type FitSummary, type ModelFamily } from '../family.js';
import { taskLoss } from '../losses.js';
import { fitLogistic } from './logistic.js';
import { LinearModel, type LinearFitInfo } from './model.js';
import { effectiveL2, resolveParams, type LinearParams } from './params.js';
import { fitElasticNet, fitRidge } from './regression.js';

export { LINEAR_PARAMS, defaultParams, effectiveL2, resolveParams, type LinearParams } from './params.js';
export { LinearModel, MODEL_FILE, type LinearCoefficients, type LinearFitInfo, type LinearModelJSON } from './model.js';

function checkInput(input: FitInput<unknown>): void {
  const { train, task } = input;
  const { x, y } = train;
  if (x.rows < 1 || y.length !== x.rows) {
    throw new AtelierError('DATA_TOO_SMALL', `linear model: ${x.rows} training rows and ${y.length} labels`, { expected: 'at least 1 row' });
  }
  for (let i = 0; i < x.data.length; i++) {
    if (!Number.isFinite(x.data[i]!)) {
      throw new AtelierError('TRAINING_FAILED', `linear model: feature ${i % x.cols} of training row ${Math.floor(i / x.cols)} is not a finite number`, {
        row: Math.floor(i / x.cols),
      });
    }
  }
  const classes = task === 'binary' ? 2 : input.numClasses;
  if (task === 'multiclass' && !(Number.isInteger(classes) && classes >= 2)) {
    throw new AtelierError('TRAINING_FAILED', `linear model: multiclass needs at least 2 classes, got ${input.numClasses}`);
  }
  for (let i = 0; i < y.length; i++) {
    const v = y[i]!;
    const ok = task === 'regression' ? Number.isFinite(v) : Number.isInteger(v) && v >= 0 && v < classes;
    if (!ok) {
      const expected = task === 'regression' ? 'a finite number' : `a class index 0..${classes - 1}`;
      throw new AtelierError('TRAINING_FAILED', `linear model: label of training row ${i} is ${v}, expected ${expected}`, { row: i, expected });
    }
  }
}

export const linearFamily: ModelFamily<LinearParams> = {
  name: 'linear',
  // The solvers are exact or converge tightly from zero: a starting point would change nothing.
  warmStart: false,
  tasks: ['regression', 'binary', 'multiclass'],

  async fit(input: FitInput<LinearParams>) {
    checkInput(input);
    // The config section may carry its discriminator ("family"); the rest are this family's parameters.
    const { family: _family, ...given } = (input.params ?? {}) as Partial<LinearParams> & { family?: string };
    let params: LinearParams;
    try {
      params = resolveParams(given);
    } catch (error) {
      throw new AtelierError('CONFIG_INVALID', (error as Error).message, { field: 'model' });
    }
    const { task, train } = input;
    const numClasses = task === 'regression' ? 0 : task === 'binary' ? 2 : input.numClasses;
    const outputs = outputWidthOf(task, numClasses);
    const l1 = params.l1;
    const l2 = effectiveL2(params, task, train.x.rows);
    const lossName = task === 'regression' ? 'rmse' : 'logloss';
    const evalSet = input.eval;
    const fitInfo = (solver: string, iterations: number, converged: boolean): LinearFitInfo => ({
      l1,
      l2,
      fitIntercept: params.fit_intercept,
      solver,
      iterations,
      converged,
    });
    const report = (epoch: number, epochs: number, trainLoss: number, weights: Float64Array, intercepts: Float64Array) => {
      if (!input.onEpoch) return;
      let evalLoss: number | undefined;
      if (evalSet) {
        const probe = new LinearModel(task, numClasses, train.x.cols, weights, intercepts, fitInfo('', epoch, false));
        evalLoss = taskLoss(task, probe.predict(evalSet.x), outputs, evalSet.y).value;
      }
      input.onEpoch({ epoch, epochs, trainLoss, evalLoss, lossName });
    };

    let model: LinearModel;
    if (task === 'regression') {
      const exact = l1 === 0;
      const epochs = exact ? 1 : params.max_iterations;
      const fit = (exact ? fitRidge : fitElasticNet)(train.x, train.y, {
        l1,
        l2,
        fitIntercept: params.fit_intercept,
        maxIterations: params.max_iterations,
        tolerance: params.tolerance,
        onIteration: input.onEpoch
          ? (iteration, rmse, weights, intercept) => report(iteration, epochs, rmse, weights, Float64Array.of(intercept))
          : undefined,
      });
      model = new LinearModel(task, 0, train.x.cols, fit.weights, Float64Array.of(fit.intercept), fitInfo(fit.solver, fit.iterations, fit.converged));
    } else {
      const solver = l1 > 0 ? 'owlqn' : 'lbfgs';
      const fit = fitLogistic(train.x, train.y, {
        outputs,
        l1,
        l2,
        fitIntercept: params.fit_intercept,
        maxIterations: params.max_iterations,
        tolerance: params.tolerance,
        onIteration: input.onEpoch
          ? (iteration, logLoss, weights, intercepts) => report(iteration, params.max_iterations, logLoss, weights, intercepts)
          : undefined,
      });
      model = new LinearModel(task, numClasses, train.x.cols, fit.weights, fit.intercepts, fitInfo(solver, fit.result.iterations, fit.result.converged));
      if (!fit.result.theta.every(Number.isFinite)) {
        throw new AtelierError('TRAINING_FAILED', 'linear model: the solver produced non-finite coefficients');
      }
    }
    const iterations = model.fit.iterations;
    const summary: FitSummary = { epochsRun: iterations, bestEpoch: iterations, stoppedEarly: false };
    return { model, summary };
  },

  async load(dir: string) {
    return LinearModel.load(dir);
  },
};

