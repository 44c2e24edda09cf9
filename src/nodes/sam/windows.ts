/** Non-overlapping attention windows (image_encoder.window_partition / window_unpartition). */
import * as tf from '@tensorflow/tfjs';

/** [B, H, W, C] -> [B·nWindows, ws, ws, C], zero-padding H and W up to multiples of ws. */
export function windowPartition(x: tf.Tensor4D, ws: number): { windows: tf.Tensor4D; padded: [number, number] } {
  const [b, h, w, c] = x.shape;
  const ph = (ws - (h % ws)) % ws;
  const pw = (ws - (w % ws)) % ws;
  const padded = ph || pw ? tf.pad(x, [[0, 0], [0, ph], [0, pw], [0, 0]]) : x;
  const hp = h + ph;
  const wp = w + pw;
  const windows = padded
    .reshape([b, hp / ws, ws, wp / ws, ws, c])
    .transpose([0, 1, 3, 2, 4, 5])
    .reshape([-1, ws, ws, c]) as tf.Tensor4D;
  return { windows, padded: [hp, wp] };
}

/** The inverse: windows back to [B, H, W, C], dropping the padding. */
export function windowUnpartition(windows: tf.Tensor4D, ws: number, [hp, wp]: readonly [number, number], [h, w]: readonly [number, number]): tf.Tensor4D {
  const c = windows.shape[3];
  const b = windows.shape[0] / ((hp / ws) * (wp / ws));
  const x = windows.reshape([b, hp / ws, wp / ws, ws, ws, c]).transpose([0, 1, 3, 2, 4, 5]).reshape([b, hp, wp, c]) as tf.Tensor4D;
  return hp > h || wp > w ? tf.slice(x, [0, 0, 0, 0], [b, h, w, c]) : x;
}
