/**
 * `--point x,y,label` and `--box x0,y0,x1,y1` of `samflow sam-forward`, parsed and checked
 * against the image they prompt: SAM would take a point outside the image or a box with its
 * corners swapped without complaint and answer something meaningless. Coordinates are image
 * pixels, continuous, so the far edges (x = width, y = height) are inside.
 */

/** The image's size as [height, width], as loadImage returns it. */
export type ImageSize = readonly [number, number];

function numbers(text: string, count: number, flag: string): number[] {
  const values = text.split(',').map((v) => Number(v.trim()));
  if (values.length !== count || values.some((v) => !Number.isFinite(v))) throw new Error(`${flag} expects ${count} comma-separated numbers, got '${text}'`);
  return values;
}

const bounds = ([h, w]: ImageSize) => `0 <= x <= ${w} and 0 <= y <= ${h} (image pixels of the ${w}x${h} image)`;

/** Each `--point x,y,label`: label 1 (foreground) or 0 (background), (x, y) inside the image. */
export function parsePoints(texts: readonly string[], size: ImageSize): number[][] {
  return texts.map((text) => {
    const [x, y, label] = numbers(text, 3, '--point') as [number, number, number];
    if (label !== 0 && label !== 1) throw new Error(`--point '${text}': the label must be 1 (foreground) or 0 (background), got ${label}`);
    if (x < 0 || y < 0 || x > size[1] || y > size[0]) throw new Error(`--point '${text}': (${x}, ${y}) is outside the image; expected ${bounds(size)}`);
    return [x, y, label];
  });
}

/** `--box x0,y0,x1,y1`: the top-left corner first, both corners inside the image. */
export function parseBox(text: string, size: ImageSize): number[] {
  const [x0, y0, x1, y1] = numbers(text, 4, '--box') as [number, number, number, number];
  if (!(x0 < x1) || !(y0 < y1)) {
    throw new Error(`--box '${text}': expected x0 < x1 and y0 < y1 (top-left corner first), got x0 ${x0}, x1 ${x1}, y0 ${y0}, y1 ${y1}`);
  }
  if (x0 < 0 || y0 < 0 || x1 > size[1] || y1 > size[0]) throw new Error(`--box '${text}': reaches outside the image; expected ${bounds(size)} for both corners`);
  return [x0, y0, x1, y1];
}
