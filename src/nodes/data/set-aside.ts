/**
 * Why a data set came out with nothing to read, in words: the files its listing set aside (no
 * partner, not an image file, ISIC superpixels, ...) and what `limit` / `holdout` did to the
 * split. Training's "split 'train' has no samples" and `samflow data inspect` say the same, so
 * the user learns what to fix from either.
 *
 * ```ts
 * setAsideLines(listing);  // ['2 file(s) not an image file (image folder): a.webp, b.gif (1 .webp, 1 .gif)', 'images and masks must be .jpg, ...']
 * ```
 */
import { extname } from 'node:path';
import { IMAGE_EXTENSIONS } from './decode.ts';
import type { Listing, Unpaired } from './listing.ts';
import type { ReaderParams } from './dataset-source.ts';

const SHOWN = 5;

const fileList = (items: readonly string[]) => `${items.slice(0, SHOWN).join(', ')}${items.length > SHOWN ? `, ... (${items.length - SHOWN} more)` : ''}`;

/** '2 .webp, 1 .gif': extension counts, the most common first ('no extension' for bare names). */
function extensionCounts(files: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const f of files) {
    const ext = extname(f).toLowerCase() || 'no extension';
    counts.set(ext, (counts.get(ext) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]).map(([ext, n]) => `${n} ${ext}`).join(', ');
}

/** What readers decode, for messages. */
export const SUPPORTED_IMAGES = `images and masks must be ${IMAGE_EXTENSIONS.join(', ')}`;

/**
 * One line per kind of file set aside: those without a partner (with why, for the first few),
 * then each reason the listing gave for ignoring files. Empty when nothing was set aside.
 */
export function setAsideLines(listing: { readonly unpaired: readonly Unpaired[]; readonly ignored: readonly Unpaired[] }): string[] {
  const lines: string[] = [];
  if (listing.unpaired.length) {
    const shown = listing.unpaired.slice(0, SHOWN).map((u) => `${u.file} (${u.reason})`);
    lines.push(`${listing.unpaired.length} file(s) without a partner: ${shown.join(', ')}${listing.unpaired.length > SHOWN ? `, ... (${listing.unpaired.length - SHOWN} more)` : ''}`);
  }
  const byReason = new Map<string, string[]>();
  for (const i of listing.ignored) byReason.set(i.reason, [...(byReason.get(i.reason) ?? []), i.file]);
  let nonImages = false;
  for (const [reason, files] of byReason) {
    // An unsupported extension is the usual surprise (.webp, .gif): say which, and what is read.
    const isNonImage = reason.startsWith('not an image file');
    nonImages ||= isNonImage;
    lines.push(`${files.length} file(s) ${reason}: ${fileList(files)}${isNonImage ? ` (${extensionCounts(files)})` : ''}`);
  }
  if (nonImages) lines.push(SUPPORTED_IMAGES);
  return lines;
}

/**
 * The error for a planned split without samples: how many the listing found for it, what
 * `limit` and `holdout` did, and every kind of file set aside.
 */
export function emptySplitMessage(listing: Listing, split: string, params: Pick<ReaderParams, 'limit' | 'holdout'>): string {
  const lines: string[] = [];
  const train = listing.splits.find((s) => s.name === 'train');
  const listed = listing.splits.find((s) => s.name === split);
  if (params.holdout > 0 && train?.entries.length && (split === 'train' || (split === 'val' && !listed))) {
    const n = params.limit ? Math.min(params.limit, train.entries.length) : train.entries.length;
    const held = Math.round(n * params.holdout);
    const limited = params.limit && train.entries.length > params.limit ? ` (limit ${params.limit} of ${train.entries.length})` : '';
    lines.push(`holdout ${params.holdout} of ${n} 'train' sample(s)${limited} moves ${held} to 'val' and leaves ${n - held} in 'train'`);
  } else if (listed) {
    lines.push(`${listed.entries.length} sample(s) found in ${listed.where}`);
  }
  const aside = setAsideLines(listing);
  lines.push(...aside);
  if (!aside.length && listed?.entries.length === 0) lines.push('nothing was set aside: the folders hold no files');
  return `${listing.root}: split '${split}' has no samples:\n${lines.map((l) => `  ${l}`).join('\n')}`;
}

/** Image formats people try that the readers do not read, named when a folder holds them. */
const UNSUPPORTED_IMAGES = ['.webp', '.gif', '.heic', '.heif', '.avif', '.jp2', '.svg', '.ico'];

/** '; its .webp, .gif files are not read (images and masks must be ...)', or '' if none of `names` is such a file. */
export function unsupportedImagesNote(names: readonly string[]): string {
  const found = [...new Set(names.map((n) => extname(n).toLowerCase()).filter((ext) => UNSUPPORTED_IMAGES.includes(ext)))];
  return found.length ? `; its ${found.join(', ')} files are not read (${SUPPORTED_IMAGES})` : '';
}
