/**
 * The binary-segmentation metric set by name, scored per image with the shared preparation
 * done once. Names are the Conv-LoRA code's: iou, dice, sm (S-measure), em (mean E-measure),
 * wfm (weighted F; the code calls it "fm"), mae, ber.
 *
 * ```ts
 * scoreBinaryImage(img, ['sm', 'mae']); // { sm: 0.91, mae: 0.03 }
 * ```
 */
import { sodPrepare, type BinaryImage, type SodInput } from './binary-image.ts';
import { ber } from './ber.ts';
import { iou } from './binary-iou.ts';
import { dice } from './dice.ts';
import { eMeasurePrepared } from './e-measure.ts';
import { maePrepared } from './mae.ts';
import { sMeasurePrepared } from './s-measure.ts';
import { weightedFPrepared } from './weighted-f.ts';

export const BINARY_METRICS = ['iou', 'dice', 'sm', 'em', 'wfm', 'mae', 'ber'] as const;
export type BinaryMetricName = (typeof BINARY_METRICS)[number];

/** True where a higher value is better (for reports and model selection). */
export const HIGHER_IS_BETTER: Readonly<Record<BinaryMetricName, boolean>> = {
  iou: true,
  dice: true,
  sm: true,
  em: true,
  wfm: true,
  mae: false,
  ber: false,
};

export function isBinaryMetricName(name: string): name is BinaryMetricName {
  return (BINARY_METRICS as readonly string[]).includes(name);
}

/** Parses a comma list such as "iou,sm,em"; an unknown name is an error that lists the known ones. */
export function parseBinaryMetricNames(list: string): BinaryMetricName[] {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (names.length === 0) throw new Error(`no metric named in '${list}'; choose from ${BINARY_METRICS.join(', ')}`);
  const unknown = names.filter((n) => !isBinaryMetricName(n));
  if (unknown.length) {
    const hint = unknown.includes('fm') ? " ('fm' in the Conv-LoRA code is the weighted F-measure, here 'wfm')" : '';
    throw new Error(`unknown metric ${unknown.map((u) => `'${u}'`).join(', ')}; choose from ${BINARY_METRICS.join(', ')}${hint}`);
  }
  return [...new Set(names)] as BinaryMetricName[];
}

export type BinaryScores = Partial<Record<BinaryMetricName, number>>;

/** Scores one image on the named metrics. */
export function scoreBinaryImage(img: BinaryImage, names: readonly BinaryMetricName[] = BINARY_METRICS): BinaryScores {
  let prepared: SodInput | undefined;
  const sod = () => (prepared ??= sodPrepare(img));
  const out: BinaryScores = {};
  for (const name of names) {
    switch (name) {
      case 'iou':
        out.iou = iou(img);
        break;
      case 'dice':
        out.dice = dice(img);
        break;
      case 'ber':
        out.ber = ber(img);
        break;
      case 'sm':
        out.sm = sMeasurePrepared(sod());
        break;
      case 'em':
        out.em = eMeasurePrepared(sod());
        break;
      case 'wfm':
        out.wfm = weightedFPrepared(sod());
        break;
      case 'mae':
        out.mae = maePrepared(sod());
        break;
    }
  }
  return out;
}

/** Running per-metric means over images, in the order they were added. */
export class BinaryMeans {
  private readonly sums = new Map<BinaryMetricName, number>();
  private readonly counts = new Map<BinaryMetricName, number>();

  add(scores: BinaryScores): void {
    for (const [name, value] of Object.entries(scores) as [BinaryMetricName, number][]) {
      this.sums.set(name, (this.sums.get(name) ?? 0) + value);
      this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
    }
  }

  means(): BinaryScores {
    const out: BinaryScores = {};
    for (const name of BINARY_METRICS) {
      const count = this.counts.get(name);
      if (count) out[name] = this.sums.get(name)! / count;
    }
    return out;
  }
}
