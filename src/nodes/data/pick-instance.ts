/**
 * Choosing the objects of an instance-id map that a promptable step segments. SAM trains many
 * masks per image (the decoder is cheap next to the encoder); here up to `count` distinct
 * objects per scene. The choice is a function of the map's content and a seed: a held-out scene
 * is scored on the same objects by every model and at every validation (fixed seed), a training
 * scene offers other objects each epoch (the epoch in the seed). Objects smaller than `minArea`
 * of the image are left out (SA-1B drops tiny masks too); a scene with none gives its largest.
 */
import { mixSeed, mulberry32 } from '../random.ts';

/** FNV-1a over the ids: the scene's identity, whatever position it has in the stream. */
export function contentHash(ids: ArrayLike<number>): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < ids.length; i++) h = Math.imul(h ^ (ids[i]! & 0xff), 0x01000193) >>> 0;
  return h;
}

/** Up to `count` distinct object ids of one id map (0 = background, negative = ignore), in the order drawn. */
export function pickInstances(ids: ArrayLike<number>, count: number, seed: number, minArea: number): number[] {
  const areas = new Map<number, number>();
  for (let i = 0; i < ids.length; i++) if (ids[i]! > 0) areas.set(ids[i]!, (areas.get(ids[i]!) ?? 0) + 1);
  const present = [...areas.keys()].sort((a, b) => a - b);
  if (!present.length) return [];
  const big = present.filter((id) => areas.get(id)! >= minArea * ids.length);
  if (!big.length) return [present.reduce((best, id) => (areas.get(id)! > areas.get(best)! ? id : best))];
  const random = mulberry32(mixSeed(contentHash(ids), seed));
  // A partial Fisher-Yates shuffle: the first `count` of a random order.
  for (let i = 0; i < Math.min(count, big.length); i++) {
    const j = i + Math.floor(random() * (big.length - i));
    [big[i], big[j]] = [big[j]!, big[i]!];
  }
  return big.slice(0, count);
}
