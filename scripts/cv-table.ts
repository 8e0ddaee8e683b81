// The cross-validation table of docs/training.md: which examples, which metric, the peers measured
// by ../shared/peers (scikit-learn's own folds). Shared by scripts/cv-figures.ts and its test.

export interface CvExample {
  config: string;
  metric: 'rmse' | 'accuracy';
  peer: string;
  /** Fast enough (seconds) for the test to rerun. */
  fast: boolean;
}

export const CV_EXAMPLES: CvExample[] = [
  { config: 'housing/linear.yaml', metric: 'rmse', peer: 'LinearRegression 4.84', fast: true },
  { config: 'housing/derived.yaml', metric: 'rmse', peer: '', fast: true },
  { config: 'housing/dnn.yaml', metric: 'rmse', peer: 'MLP (10,10) 3.81', fast: false },
  { config: 'housing/wide_deep.yaml', metric: 'rmse', peer: '', fast: false },
  { config: 'housing/gbdt.yaml', metric: 'rmse', peer: 'XGBoost 2.99 default, 2.87 tuned; sklearn GB 2.92', fast: true },
  { config: 'iris/logistic.yaml', metric: 'accuracy', peer: '', fast: true },
  { config: 'iris/dnn.yaml', metric: 'accuracy', peer: '', fast: false },
  { config: 'iris/gbdt.yaml', metric: 'accuracy', peer: '', fast: true },
];

/** How a figure is written in the table. */
export function cvFigure(example: CvExample, value: number): string {
  return example.metric === 'rmse' ? `RMSE ${value.toFixed(2)}` : `accuracy ${value.toFixed(2)}`;
}

export function cvTable(figures: Record<string, number>): string {
  const rows = CV_EXAMPLES.map((e) => `| \`${e.config}\` | ${cvFigure(e, figures[e.config]!)} |${e.peer ? ` ${e.peer} ` : ' '}|`);
  return ['| example | 5-fold | peer |', '|---|---|---|', ...rows].join('\n');
}

const START = '<!-- cv-table: npm run docs:cv -->';
const END = '<!-- /cv-table -->';

export function replaceCvTable(page: string, table: string): string {
  const from = page.indexOf(START);
  const to = page.indexOf(END);
  if (from < 0 || to < 0) throw new Error(`docs/training.md: the markers ${START} and ${END} are missing`);
  return `${page.slice(0, from + START.length)}\n${table}\n${page.slice(to)}`;
}

/** The figure a page shows for an example, as written. */
export function cvFigureIn(page: string, config: string): string | undefined {
  return new RegExp(`^\\| \`${config.replace(/[./]/g, (c) => `\\${c}`)}\` \\| ([^|]+?) \\|`, 'm').exec(page)?.[1];
}
