/**
 * The one place where geometry is applied: a transform is planned once per sample as a list of
 * operations, and `applyGeometry` runs that same list on every plane of the sample (image,
 * mask, label, depth, normals), so they cannot drift apart. Only the resampling differs by
 * plane: the image uses the planned kernel, normals bilinear, and masks, class ids and depth
 * nearest neighbour (values stay exact, no new classes appear).
 *
 * Flip, crop, pad and smooth resizing run in sharp (libvips threads, off the event loop).
 * Nearest-neighbour resizing and rotation run here in JS, because libvips' nearest and affine
 * samplers use pixel-corner conventions that sit up to half a pixel away from its smooth
 * kernels (measured), which would shift masks against their image. Float planes (depth, normals)
 * travel through sharp as 16-bit codes: depth as value / max * 65535 (0 stays 0, i.e. invalid),
 * normals as 32768 + 32767 * v; the round trip is exact to 1/65535 of the depth range and
 * 3e-5 per normal component. Value changes that geometry implies are applied too: a
 * horizontal flip negates the normals' x, and `scale-depth` multiplies depth.
 *
 * ```ts
 * const out = await applyGeometry({ image, mask }, [{ op: 'resize', width: 1024, height: 768, kernel: 'linear' }, { op: 'pad', top: 0, left: 0, right: 0, bottom: 256 }]);
 * ```
 */
import sharp, { type Sharp } from 'sharp';
import { IGNORE_LABEL, type FloatImage, type RawImage } from '../ports.ts';

export type ImageKernel = 'nearest' | 'linear' | 'cubic' | 'lanczos3';

export type GeometryOp =
  /** Mirror left-right. */
  | { readonly op: 'flip' }
  | { readonly op: 'crop'; readonly left: number; readonly top: number; readonly width: number; readonly height: number }
  /** Resample to width x height; `kernel` is the image's (other planes use their own). */
  | { readonly op: 'resize'; readonly width: number; readonly height: number; readonly kernel?: ImageKernel }
  /** Add borders; the image's border is `fill` (grey level, default 0), each other plane its own "nothing" value. */
  | { readonly op: 'pad'; readonly top: number; readonly right: number; readonly bottom: number; readonly left: number; readonly fill?: number }
  /** Rotate about the centre by `degrees` (positive = counter-clockwise), keeping the size; corners get the pad values. */
  | { readonly op: 'rotate'; readonly degrees: number; readonly fill?: number }
  /** Multiply depth values (MTAN's scale-crop divides depth by the zoom factor). */
  | { readonly op: 'scale-depth'; readonly by: number };

/** A sample's planes: an image and any of mask (0/1), label (class ids, 255 ignore), depth, normals. */
export interface Planes {
  readonly image: RawImage;
  readonly mask?: RawImage;
  readonly label?: RawImage;
  readonly depth?: FloatImage;
  readonly normal?: FloatImage;
}

type Role = 'image' | 'mask' | 'label' | 'depth' | 'normal';

interface RoleRules {
  /** Resampling for resize; undefined means the op's image kernel. */
  readonly kernel?: ImageKernel;
  /** Interpolation for rotation. */
  readonly rotate: 'nearest' | 'bilinear';
  /** Border value in sharp's 8-bit terms (16-bit planes scale it by 256). */
  readonly fill: (op: { fill?: number }) => number;
}

const RULES: Record<Role, RoleRules> = {
  image: { rotate: 'bilinear', fill: (op) => op.fill ?? 0 },
  mask: { kernel: 'nearest', rotate: 'nearest', fill: () => 0 },
  label: { kernel: 'nearest', rotate: 'nearest', fill: () => IGNORE_LABEL },
  depth: { kernel: 'nearest', rotate: 'nearest', fill: () => 0 },
  normal: { kernel: 'linear', rotate: 'bilinear', fill: () => 128 },
};

const ROLES: readonly Role[] = ['image', 'mask', 'label', 'depth', 'normal'];

/** A plane as sharp sees it: 8-bit, or 16-bit codes of a float plane. */
interface Raster {
  readonly width: number;
  readonly height: number;
  readonly channels: number;
  readonly data: Uint8Array | Uint16Array;
}

/** Runs `ops` on every plane of `sample`; the planes must share one size. */
export async function applyGeometry<S extends Planes>(sample: S, ops: readonly GeometryOp[]): Promise<S> {
  const { width, height } = sample.image;
  for (const role of ROLES) {
    const plane = sample[role];
    if (plane && (plane.width !== width || plane.height !== height)) {
      throw new Error(`image is ${width}x${height} but its ${role} is ${plane.width}x${plane.height}`);
    }
  }
  if (ops.length === 0) return sample;
  if (sample.normal && ops.some((o) => o.op === 'rotate' && o.degrees % 360 !== 0)) {
    throw new Error('rotation of surface normals is not supported (their in-plane components would have to turn too); leave rotate out of multi-task pipelines');
  }
  const out: Record<string, unknown> = { ...(sample as Planes) };
  await Promise.all(
    ROLES.map(async (role) => {
      const plane = sample[role];
      if (!plane) return;
      if (role === 'depth' || role === 'normal') out[role] = await transformFloat(plane as FloatImage, role, ops);
      else out[role] = await transformRaster(plane as RawImage, role, ops);
    }),
  );
  return out as S;
}

async function transformRaster(plane: RawImage, role: Role, ops: readonly GeometryOp[]): Promise<RawImage> {
  let raster: Raster = plane;
  for (const op of ops) raster = await step(raster, role, op);
  return raster as RawImage;
}

async function transformFloat(plane: FloatImage, role: 'depth' | 'normal', ops: readonly GeometryOp[]): Promise<FloatImage> {
  const { data, channels } = plane;
  let max = 0;
  if (role === 'depth') for (let i = 0; i < data.length; i++) max = Math.max(max, data[i]!);
  const unit = role === 'depth' ? (max > 0 ? max / 65535 : 1) : 1 / 32767;
  const codes = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) {
    codes[i] = role === 'depth' ? Math.round(Math.max(0, data[i]!) / unit) : 32768 + Math.round(Math.max(-1, Math.min(1, data[i]!)) * 32767);
  }
  let raster: Raster = { width: plane.width, height: plane.height, channels, data: codes };
  for (const op of ops) raster = await step(raster, role, op);
  const flips = ops.filter((o) => o.op === 'flip').length;
  const depthScale = ops.reduce((s, o) => (o.op === 'scale-depth' ? s * o.by : s), 1);
  const values = new Float32Array(raster.data.length);
  for (let i = 0; i < values.length; i++) {
    const code = raster.data[i]!;
    if (role === 'depth') values[i] = code * unit * depthScale;
    else values[i] = ((code - 32768) / 32767) * (flips % 2 === 1 && i % channels === 0 ? -1 : 1);
  }
  return { width: raster.width, height: raster.height, channels, data: values };
}

/** One op on one raster; each sharp call does one operation, since sharp reorders operations within a call. */
async function step(raster: Raster, role: Role, op: GeometryOp): Promise<Raster> {
  const rules = RULES[role];
  switch (op.op) {
    case 'scale-depth':
      return raster;
    case 'flip':
      return run(raster, (s) => s.flop());
    case 'crop':
      checkCrop(raster, op);
      return run(raster, (s) => s.extract({ left: op.left, top: op.top, width: op.width, height: op.height }));
    case 'resize':
      return resize(raster, op.width, op.height, rules.kernel ?? op.kernel ?? 'linear');
    case 'pad': {
      const v = rules.fill(op);
      return run(raster, (s) => s.extend({ top: op.top, right: op.right, bottom: op.bottom, left: op.left, background: { r: v, g: v, b: v, alpha: 1 } }));
    }
    case 'rotate':
      if (op.degrees % 360 === 0) return raster;
      return rotate(raster, op.degrees, rules.rotate === 'bilinear', rules.fill(op) * (raster.data instanceof Uint16Array ? 256 : 1));
  }
}

/**
 * Resampling with pixel centres aligned (the convention of PIL, PyTorch's align_corners=false
 * and nearest neighbour here), so an image and its nearest-resized mask stay registered.
 * libvips' own upsampling with a smooth kernel is shifted by half an output pixel, so axes that
 * grow go through an affine map with centre offsets instead; axes that shrink use sharp's
 * antialiased resize, which is centred.
 */
async function resize(raster: Raster, width: number, height: number, kernel: ImageKernel): Promise<Raster> {
  if (width === raster.width && height === raster.height) return raster;
  if (kernel === 'nearest') return resizeNearest(raster, width, height);
  const shrunk = { width: Math.min(width, raster.width), height: Math.min(height, raster.height) };
  const source = shrunk.width === raster.width && shrunk.height === raster.height ? raster : await run(raster, (s) => s.resize(shrunk.width, shrunk.height, { fit: 'fill', kernel }));
  if (source.width === width && source.height === height) return source;
  const [sx, sy] = [width / source.width, height / source.height];
  const interpolator = sharp.interpolators[kernel === 'linear' ? 'bilinear' : 'bicubic'];
  const grown = await run(source, (s) => s.affine([[sx, 0], [0, sy]], { interpolator, idx: 0.5, idy: 0.5, odx: -0.5, ody: -0.5 }));
  if (grown.width < width || grown.height < height) throw new Error(`resize: sharp made ${grown.width}x${grown.height}, expected ${width}x${height}`);
  const out = grown.width === width && grown.height === height ? grown : await run(grown, (s) => s.extract({ left: 0, top: 0, width, height }));
  repairBorder(source, out, sx, sy, kernel === 'linear' ? 1 : 2);
  return out;
}

/**
 * The affine map reads outside the source near the edges (black there); recomputes those
 * output pixels with edge-clamped bilinear interpolation, as resizing conventionally does.
 */
function repairBorder(source: Raster, out: Raster, sx: number, sy: number, reach: number): void {
  const { width, height, channels } = out;
  // Output pixels whose kernel footprint (reach source pixels either side) leaves the source, plus one.
  const band = (s: number, size: number, outSize: number): [number, number] =>
    s <= 1 ? [0, outSize] : [Math.max(0, Math.ceil(s * (reach - 0.5) - 0.5) + 1), Math.min(outSize, Math.floor(s * (size - reach + 0.5) - 0.5))];
  const [x0, x1] = band(sx, source.width, width); // columns x0 .. x1 - 1 need no repair
  const [y0, y1] = band(sy, source.height, height);
  const tap = (p: number, s: number, size: number) => {
    const t = Math.min(size - 1, Math.max(0, (p + 0.5) / s - 0.5));
    const i = Math.max(0, Math.min(size - 2, Math.floor(t)));
    return size === 1 ? { i: 0, j: 0, f: 0 } : { i, j: i + 1, f: t - i };
  };
  const src = source.data;
  const fix = (x: number, y: number) => {
    const u = tap(x, sx, source.width);
    const v = tap(y, sy, source.height);
    for (let c = 0; c < channels; c++) {
      const at = (yy: number, xx: number) => src[(yy * source.width + xx) * channels + c]!;
      const top = at(v.i, u.i) * (1 - u.f) + at(v.i, u.j) * u.f;
      const bottom = at(v.j, u.i) * (1 - u.f) + at(v.j, u.j) * u.f;
      out.data[(y * width + x) * channels + c] = Math.round(top * (1 - v.f) + bottom * v.f);
    }
  };
  for (let y = 0; y < height; y++) {
    if (y < y0 || y >= y1) {
      for (let x = 0; x < width; x++) fix(x, y);
    } else {
      for (let x = 0; x < x0; x++) fix(x, y);
      for (let x = x1; x < width; x++) fix(x, y);
    }
  }
}

/** Nearest neighbour with pixel centres aligned: output pixel x reads input floor((x + 0.5) * in / out). */
export function resizeNearest<R extends Raster>(raster: R, width: number, height: number): R {
  const { channels } = raster;
  const data = raster.data instanceof Uint16Array ? new Uint16Array(width * height * channels) : new Uint8Array(width * height * channels);
  const columns = Int32Array.from({ length: width }, (_, x) => Math.min(raster.width - 1, Math.floor(((x + 0.5) * raster.width) / width)));
  for (let y = 0; y < height; y++) {
    const row = Math.min(raster.height - 1, Math.floor(((y + 0.5) * raster.height) / height)) * raster.width;
    for (let x = 0; x < width; x++) {
      const from = (row + columns[x]!) * channels;
      const to = (y * width + x) * channels;
      for (let c = 0; c < channels; c++) data[to + c] = raster.data[from + c]!;
    }
  }
  return { ...raster, width, height, data };
}

/**
 * Rotation about the image centre, same size: each output pixel centre is mapped back through
 * the inverse rotation and sampled (bilinear or nearest); samples outside read `fill`.
 */
function rotate(raster: Raster, degrees: number, smooth: boolean, fill: number): Raster {
  const { width, height, channels } = raster;
  const t = (degrees * Math.PI) / 180;
  const [cos, sin] = [Math.cos(t), Math.sin(t)];
  const data = raster.data instanceof Uint16Array ? new Uint16Array(raster.data.length) : new Uint8Array(raster.data.length);
  const [cx, cy] = [width / 2, height / 2];
  const at = (x: number, y: number, c: number) => (x < 0 || y < 0 || x >= width || y >= height ? fill : raster.data[(y * width + x) * channels + c]!);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      // Counter-clockwise on screen (y down): the source of (x, y) is the clockwise turn of it.
      const [dx, dy] = [x + 0.5 - cx, y + 0.5 - cy];
      const sx = cos * dx - sin * dy + cx - 0.5;
      const sy = sin * dx + cos * dy + cy - 0.5;
      const to = (y * width + x) * channels;
      if (!smooth) {
        const [nx, ny] = [Math.round(sx), Math.round(sy)];
        for (let c = 0; c < channels; c++) data[to + c] = at(nx, ny, c);
        continue;
      }
      const [x0, y0] = [Math.floor(sx), Math.floor(sy)];
      const [fx, fy] = [sx - x0, sy - y0];
      for (let c = 0; c < channels; c++) {
        const top = at(x0, y0, c) * (1 - fx) + at(x0 + 1, y0, c) * fx;
        const bottom = at(x0, y0 + 1, c) * (1 - fx) + at(x0 + 1, y0 + 1, c) * fx;
        data[to + c] = Math.round(top * (1 - fy) + bottom * fy);
      }
    }
  }
  return { width, height, channels, data };
}

function checkCrop(raster: Raster, op: { left: number; top: number; width: number; height: number }): void {
  if (op.left < 0 || op.top < 0 || op.width < 1 || op.height < 1 || op.left + op.width > raster.width || op.top + op.height > raster.height) {
    throw new Error(`crop ${op.width}x${op.height} at (${op.left}, ${op.top}) does not fit in ${raster.width}x${raster.height}`);
  }
}

async function run(raster: Raster, apply: (s: Sharp) => Sharp): Promise<Raster> {
  const wide = raster.data instanceof Uint16Array;
  const { width, height, channels } = raster;
  // One-channel and 16-bit planes must be told to stay so (sharp would write 8-bit sRGB); 8-bit RGB is sharp's default.
  const space = channels === 1 ? (wide ? 'grey16' : 'b-w') : wide ? 'rgb16' : undefined;
  let pipeline = apply(sharp(raster.data, { raw: { width, height, channels: channels as 1 | 3 } }));
  if (space) pipeline = pipeline.toColourspace(space);
  const { data, info } = await pipeline.raw({ depth: wide ? 'ushort' : 'uchar' }).toBuffer({ resolveWithObject: true });
  if (info.channels !== channels) throw new Error(`sharp returned ${info.channels} channels for a ${channels}-channel plane`);
  const bytes = wide && data.byteOffset % 2 !== 0 ? Uint8Array.prototype.slice.call(data) : data;
  const out = wide ? new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2) : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: info.width, height: info.height, channels, data: out };
}
