/**
 * The report's gallery as it travels: the gallery nodes keep the first `count` images of a split
 * in each epoch (image, ground truth, prediction, as small PNGs) and emit them as one log event
 * at the end of that (split, epoch) group. The event stream is the run's record (events.jsonl),
 * so the report, rebuilt at every checkpoint and after a resume, finds the pictures there and
 * inlines them: report.html stays one self-contained file, and no node needs to know the run
 * folder.
 */
import sharp from 'sharp';
import { z } from 'zod';
import type { NodeContext } from '../../graph/node.ts';
import type { ItemMeta, RunEvent } from '../../graph/events.ts';
import type { SampleInfo } from '../ports.ts';

export const GalleryItem = z.object({
  id: z.string(),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  /** base64 PNGs at width x height: RGB image; grey truth; grey prediction. */
  image: z.string(),
  truth: z.string(),
  pred: z.string(),
});
export type GalleryItem = z.output<typeof GalleryItem>;

export const GalleryRecord = z.object({
  /** binary: truth 0/255, pred round(p · 255); classes: truth and pred are class ids (255 = ignore). */
  kind: z.enum(['binary', 'classes']),
  split: z.string(),
  epoch: z.number().int().min(0),
  threshold: z.number().optional(),
  classes: z.number().int().optional(),
  items: z.array(GalleryItem),
});
export type GalleryRecord = z.output<typeof GalleryRecord>;

/** Every gallery a run's events hold, in order (log events of other shapes are skipped). */
export function galleriesOf(events: readonly RunEvent[]): GalleryRecord[] {
  return events.flatMap((e) => {
    if (e.type !== 'log' || typeof e.data !== 'object' || e.data === null || !('gallery' in e.data)) return [];
    const parsed = GalleryRecord.safeParse((e.data as { gallery: unknown }).gallery);
    return parsed.success ? [parsed.data] : [];
  });
}

export const GalleryParams = z.object({
  count: z.number().int().min(1).max(64).default(8).describe('images kept per epoch (the first of the split, in order)'),
  split: z.string().min(1).default('val').describe('the split whose images are kept'),
  maxSize: z.number().int().min(8).max(1024).default(96).describe('longest side of the kept pictures (larger images are shrunk)'),
});
export type GalleryParams = z.output<typeof GalleryParams>;

/** One image's three planes, 8-bit, at the model's input size. */
export interface GalleryPlanes {
  readonly width: number;
  readonly height: number;
  /** RGB, HWC. */
  readonly image: Uint8Array;
  readonly truth: Uint8Array;
  readonly pred: Uint8Array;
}

/** Size that fits `max` on the longest side, keeping the aspect ratio (never enlarged). */
export function thumbnailSize(width: number, height: number, max: number): { width: number; height: number } {
  const scale = Math.min(1, max / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/** A base64 PNG of `pixels` (1 or 3 channels, HWC), resized to `to` with `kernel` when it differs. */
export async function png(pixels: Uint8Array, width: number, height: number, channels: 1 | 3, to: { width: number; height: number }, kernel: 'nearest' | 'lanczos3'): Promise<string> {
  let image = sharp(pixels, { raw: { width, height, channels } });
  if (to.width !== width || to.height !== height) image = image.resize(to.width, to.height, { fit: 'fill', kernel });
  if (channels === 1) image = image.toColourspace('b-w');
  return (await image.png().toBuffer()).toString('base64');
}

/**
 * What every gallery node shares, whatever one kept image holds (`Item`): which images of a
 * (split, epoch) group to keep, the log event at the group's end, and the state a resumed run
 * needs (the pictures kept so far of a group a checkpoint fell inside).
 */
export class KeptGroup<Item extends { readonly id: string }> {
  private epoch: number | undefined;
  private items: Item[] = [];
  private seen = 0;

  constructor(
    protected readonly params: GalleryParams,
    private readonly ctx: NodeContext,
    /** The record's fields besides split, epoch and items (its kind first). */
    private readonly record: { readonly kind: string } & Readonly<Record<string, unknown>>,
    private readonly itemSchema: z.ZodType<Item>,
  ) {}

  /** How many images of this batch to keep (0 for other splits, or once `count` are kept). */
  wants(meta: ItemMeta): number {
    if (meta.split !== this.params.split) return 0;
    if (meta.epoch !== this.epoch) {
      this.epoch = meta.epoch;
      this.items = [];
      this.seen = 0;
    }
    return Math.max(0, this.params.count - this.items.length);
  }

  /** The id of batch image `b` about to be kept: the sample's, else its place in the split. */
  idOf(infos: readonly SampleInfo[] | undefined, b: number): string {
    return infos?.[b]?.id ?? `${this.params.split} ${this.seen + 1}`;
  }

  push(item: Item): void {
    this.items.push(item);
    this.seen++;
  }

  /** At the group's end: the event with what was kept. */
  end(meta: ItemMeta): void {
    if (meta.split !== this.params.split || !meta.groupEnd || !this.items.length) return;
    const gallery = { ...this.record, split: meta.split, epoch: meta.epoch, items: this.items };
    this.ctx.emit({
      type: 'log',
      message: `kept ${this.items.length} ${meta.split} image${this.items.length === 1 ? '' : 's'} of epoch ${meta.epoch + 1} for the report's gallery`,
      data: { gallery },
    });
    this.items = [];
  }

  readonly state = {
    save: () => ({ epoch: this.epoch, seen: this.seen, items: this.items }),
    restore: (saved: unknown) => {
      const parsed = z.object({ epoch: z.number().int().optional(), seen: z.number().int(), items: z.array(this.itemSchema) }).parse(saved);
      this.epoch = parsed.epoch;
      this.seen = parsed.seen;
      this.items = parsed.items;
    },
  };
}

/** The binary and class galleries' keeper: three grey or RGB planes per image (GalleryItem). */
export class GalleryKeeper extends KeptGroup<GalleryItem> {
  private readonly kind: GalleryRecord['kind'];

  constructor(params: GalleryParams, ctx: NodeContext, record: Pick<GalleryRecord, 'kind' | 'threshold' | 'classes'>) {
    super(params, ctx, record, GalleryItem);
    this.kind = record.kind;
  }

  /** Keeps the planes (shrunk to maxSize); masks of class ids are shrunk nearest-neighbour, as ids cannot be blended. */
  async keep(planes: readonly GalleryPlanes[], infos: readonly SampleInfo[] | undefined): Promise<void> {
    for (const [b, p] of planes.entries()) {
      const size = thumbnailSize(p.width, p.height, this.params.maxSize);
      const maskKernel = this.kind === 'classes' ? 'nearest' : 'lanczos3';
      this.push({
        id: this.idOf(infos, b),
        ...size,
        image: await png(p.image, p.width, p.height, 3, size, 'lanczos3'),
        truth: await png(p.truth, p.width, p.height, 1, size, 'nearest'),
        pred: await png(p.pred, p.width, p.height, 1, size, maskKernel),
      });
    }
  }
}

/** A float32 NHWC batch in [0, 1] as 8-bit planes of image `b`. */
export function bytesOf(data: Float32Array, b: number, per: number, scale = 255): Uint8Array {
  const out = new Uint8Array(per);
  const from = b * per;
  for (let i = 0; i < per; i++) out[i] = Math.round(Math.min(Math.max(data[from + i]!, 0), 1) * scale);
  return out;
}
