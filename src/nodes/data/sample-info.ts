/**
 * A sample's identity as readers emit it on their `info` port: the entry's id, its image file and
 * the decoded image's original size. Whatever regroups or resizes the sample later, this is how
 * a prediction finds its way back to a file name and a resolution (metrics at the ground truth's
 * size, mask PNGs at the image's size).
 *
 * ```ts
 * const { image, mask, info } = await decodeBinaryEntry(entry, { maskThreshold: 127, resizeMasks: false });
 * info; // { id: 'cju0', file: '.../images/cju0.jpg', width: 622, height: 529 }
 * ```
 */
import type { RawImage, SampleInfo } from '../ports.ts';
import { decodeBinarySample } from './decode.ts';
import type { Entry } from './listing.ts';

/** The SampleInfo of an entry whose image decoded to `image`. */
export function sampleInfo(entry: Entry, image: { width: number; height: number }): SampleInfo {
  const file = entry.files.image;
  if (file === undefined) throw new Error(`sample '${entry.id}' has no image file (its files: ${Object.keys(entry.files).join(', ') || 'none'})`);
  return { id: entry.id, file, width: image.width, height: image.height };
}

/** Decodes an image/binary-mask entry (decodeBinarySample) and adds its SampleInfo. */
export async function decodeBinaryEntry(
  entry: Entry,
  options: { maskThreshold: number; resizeMasks: boolean },
): Promise<{ image: RawImage; mask: RawImage; info: SampleInfo }> {
  const sample = await decodeBinarySample(entry.files, options);
  return { ...sample, info: sampleInfo(entry, sample.image) };
}
