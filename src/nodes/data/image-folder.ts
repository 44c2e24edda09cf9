/**
 * The source of a prediction run: every image file in one folder (jpg, jpeg, png, tif, tiff,
 * bmp; natural name order, '2' before '10'; sub-folders are not read), one pass, split
 * 'predict'. Each item is the decoded RGB image and its SampleInfo (id = the file's stem), so
 * a mask writer downstream can name its PNG and size it back to the original.
 *
 * ```ts
 * g.add('images', ImageFolder, { params: { root: 'photos/' } }); // outputs image, info
 * ```
 */
import { existsSync } from 'node:fs';
import { extname, join } from 'node:path';
import { z } from 'zod';
import { defineNode, type Emission } from '../../graph/node.ts';
import { Image, SampleInfo, type RawImage } from '../ports.ts';
import { DecodeError, decodeImage, IMAGE_EXTENSIONS, isImageFile } from './decode.ts';
import { filesOf, isDirectory, LayoutError, stemOf, subdirectories } from './listing.ts';

export interface ImageFolderListing {
  readonly root: string;
  /** The image files, full paths, in natural name order. */
  readonly files: readonly string[];
  /** Files left out because their type is not supported. */
  readonly unsupported: readonly string[];
}

const SUPPORTED = `supported: ${IMAGE_EXTENSIONS.join(', ')}`;

/** "3 .webp files, 1 .gif file, 2 files without an extension". */
function countByType(files: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const file of files) {
    const ext = extname(file).toLowerCase();
    counts.set(ext, (counts.get(ext) ?? 0) + 1);
  }
  return [...counts]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([ext, n]) => (ext ? `${n} ${ext} file${n === 1 ? '' : 's'}` : `${n} file${n === 1 ? '' : 's'} without an extension`))
    .join(', ');
}

/** Lists the image files of `root`; a LayoutError says what the folder holds and what was expected. */
export function listImageFolder(root: string): ImageFolderListing {
  if (!existsSync(root)) throw new LayoutError(`${root}: no such folder (expected a folder of images)`);
  if (!isDirectory(root)) throw new LayoutError(`${root}: not a folder (expected a folder of images; ${SUPPORTED})`);
  const names = filesOf(root);
  const folders = subdirectories(root);
  const images = names.filter(isImageFile);
  const unsupported = names.filter((n) => !isImageFile(n));
  if (images.length === 0) {
    if (names.length === 0 && folders.length === 0) throw new LayoutError(`${root}: the folder is empty (expected image files; ${SUPPORTED})`);
    const what = [
      ...(unsupported.length ? [countByType(unsupported)] : []),
      ...(folders.length ? [`${folders.length} sub-folder${folders.length === 1 ? '' : 's'} (${folders.slice(0, 3).join(', ')}${folders.length > 3 ? ', ...' : ''}; sub-folders are not read)`] : []),
    ];
    throw new LayoutError(`${root}: no image files: the folder holds ${what.join(' and ')}; ${SUPPORTED}`);
  }
  // The id names the output file (<id>.png): two images with one stem would write one mask.
  const byStem = new Map<string, string>();
  for (const name of images) {
    const seen = byStem.get(stemOf(name));
    if (seen) throw new LayoutError(`${root}: two images share the name '${stemOf(name)}' (${seen}, ${name}); expected one image per name, since outputs are named after it`);
    byStem.set(stemOf(name), name);
  }
  return { root, files: images.map((n) => join(root, n)), unsupported: unsupported.map((n) => join(root, n)) };
}

export const ImageFolderParams = z.object({
  root: z.string().min(1).describe('the folder of images to read (not recursive)'),
  skipCorrupt: z.boolean().default(false).describe('leave out files that cannot be decoded, with a warning, instead of failing'),
});
export type ImageFolderParams = z.output<typeof ImageFolderParams>;

export const ImageFolder = defineNode({
  kind: 'data/image-folder',
  description: "reads every image of a folder (jpg, png, tif, bmp; name order, not recursive) once, as split 'predict'",
  placement: 'main',
  inputs: {},
  outputs: { image: Image, info: SampleInfo },
  params: ImageFolderParams,
  main: {
    type: 'source',
    total(params) {
      try {
        return listImageFolder(params.root).files.length;
      } catch {
        return undefined; // create() reports the problem with its full message
      }
    },
    // A resumed prediction run starts at file `ctx.skip` without decoding the ones before it.
    resumable: true,
    async *create(params, ctx): AsyncGenerator<Emission<{ image: RawImage; info: SampleInfo }>> {
      const { files, unsupported } = listImageFolder(params.root);
      if (unsupported.length) {
        ctx.emit({ type: 'warning', message: `${params.root}: left out ${countByType(unsupported)} (${SUPPORTED})` });
      }
      for (let i = ctx.skip ?? 0; i < files.length; i++) {
        const file = files[i]!;
        let image: RawImage;
        try {
          image = await decodeImage(file);
        } catch (error) {
          if (params.skipCorrupt && error instanceof DecodeError) {
            ctx.emit({ type: 'warning', message: `skipped ${error.message}` });
            continue;
          }
          throw error;
        }
        const info: SampleInfo = { id: stemOf(file), file, width: image.width, height: image.height };
        yield { values: { image, info }, meta: { split: 'predict', epoch: 0, groupEnd: i === files.length - 1 } };
      }
    },
  },
});
