import cliProgress from 'cli-progress';
import type { EpochReport } from '../models/family.js';
import { formatNumber } from './output.js';

/**
 * Training progress on stderr: a live bar (epoch, losses, time left) on a terminal, a line every
 * tenth of the run otherwise, nothing with --json unless stderr is a terminal.
 */
export function epochProgress(json: boolean): { onEpoch: (r: EpochReport) => void; stop: () => void } {
  if (process.stderr.isTTY) {
    let bar: cliProgress.SingleBar | undefined;
    return {
      onEpoch: (r) => {
        if (!bar) {
          bar = new cliProgress.SingleBar(
            {
              stream: process.stderr,
              format: '  epoch {value}/{total} [{bar}] train {lossName} {train} · validation {lossName} {valid} · {eta_formatted} left',
              hideCursor: true,
              clearOnComplete: false,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(r.epochs, 0, { train: '-', valid: '-', lossName: r.lossName });
        }
        bar.update(r.epoch, {
          train: formatNumber(r.trainLoss),
          valid: r.evalLoss === undefined ? '-' : formatNumber(r.evalLoss),
          lossName: r.lossName,
        });
      },
      stop: () => {
        bar?.stop();
      },
    };
  }
  return {
    onEpoch: (r) => {
      if (json) return;
      const every = Math.max(1, Math.round(r.epochs / 10));
      if (r.epoch === 1 || r.epoch % every === 0 || r.epoch === r.epochs) {
        const valid = r.evalLoss === undefined ? '' : ` · validation ${r.lossName} ${formatNumber(r.evalLoss)}`;
        process.stderr.write(`  epoch ${r.epoch}/${r.epochs} · train ${r.lossName} ${formatNumber(r.trainLoss)}${valid}\n`);
      }
    },
    stop: () => {},
  };
}

/**
 * Row progress on stderr (batch prediction): a live bar on a terminal, a line every tenth of the
 * rows otherwise, nothing with --json unless stderr is a terminal.
 */
export function rowProgress(json: boolean, label: string): { onProgress: (done: number, total: number) => void; stop: () => void } {
  if (process.stderr.isTTY) {
    let bar: cliProgress.SingleBar | undefined;
    return {
      onProgress: (done, total) => {
        if (!bar) {
          bar = new cliProgress.SingleBar(
            { stream: process.stderr, format: `  ${label} [{bar}] {value}/{total} rows · {eta_formatted} left`, hideCursor: true, clearOnComplete: false },
            cliProgress.Presets.shades_classic,
          );
          bar.start(total, 0);
        }
        // The CSV fast path estimates the total until the end.
        if (total !== bar.getTotal()) bar.setTotal(total);
        bar.update(done);
      },
      stop: () => bar?.stop(),
    };
  }
  let shown = 0;
  return {
    onProgress: (done, total) => {
      if (json) return;
      if (done === total || done - shown >= total / 10) {
        shown = done;
        process.stderr.write(`  ${label}: ${done}/${total} rows\n`);
      }
    },
    stop: () => {},
  };
}
