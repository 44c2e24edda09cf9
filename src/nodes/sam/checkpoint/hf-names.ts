/**
 * Hugging Face `SamModel` parameter names -> the official segment-anything names, the inverse
 * of the renaming transformers applies when it converts the released checkpoints.
 */

const RENAMES: readonly [RegExp, string][] = [
  [/^vision_encoder\./, 'image_encoder.'],
  [/^image_encoder\.layers\./, 'image_encoder.blocks.'],
  [/\.patch_embed\.projection\./, '.patch_embed.proj.'],
  [/\.neck\.conv1\./, '.neck.0.'],
  [/\.neck\.layer_norm1\./, '.neck.1.'],
  [/\.neck\.conv2\./, '.neck.2.'],
  [/\.neck\.layer_norm2\./, '.neck.3.'],
  [/\.mask_embed\.conv1\./, '.mask_downscaling.0.'],
  [/\.mask_embed\.layer_norm1\./, '.mask_downscaling.1.'],
  [/\.mask_embed\.conv2\./, '.mask_downscaling.3.'],
  [/\.mask_embed\.layer_norm2\./, '.mask_downscaling.4.'],
  [/\.mask_embed\.conv3\./, '.mask_downscaling.6.'],
  [/\.point_embed\./, '.point_embeddings.'],
  [/^prompt_encoder\.shared_embedding\.positional_embedding$/, 'prompt_encoder.pe_layer.positional_encoding_gaussian_matrix'],
  [/^shared_image_embedding\.positional_embedding$/, 'prompt_encoder.pe_layer.positional_encoding_gaussian_matrix'],
  [/^mask_decoder\.upscale_conv1\./, 'mask_decoder.output_upscaling.0.'],
  [/^mask_decoder\.upscale_layer_norm\./, 'mask_decoder.output_upscaling.1.'],
  [/^mask_decoder\.upscale_conv2\./, 'mask_decoder.output_upscaling.3.'],
  [/\.layer_norm(\d|_final_attn)/, '.norm$1'],
];

/** True when the names look like transformers' SamModel rather than segment-anything's. */
export function isHuggingFaceNaming(names: Iterable<string>): boolean {
  for (const name of names) if (name.startsWith('vision_encoder.') || name.startsWith('shared_image_embedding.')) return true;
  return false;
}

/** Maps one HF name to the official one; `iouHeadDepth` places the IoU head's proj_out. */
export function officialName(hfName: string, iouHeadDepth: number): string {
  let name = hfName;
  for (const [pattern, replacement] of RENAMES) name = name.replace(pattern, replacement);
  // MLP heads: proj_in, layers.0 … layers.(n-3), proj_out  ->  layers.0 … layers.(n-1).
  const mlp = /^(mask_decoder\.(?:output_hypernetworks_mlps\.\d+|iou_prediction_head))\.(proj_in|proj_out|layers\.(\d+))\.(weight|bias)$/.exec(name);
  if (mlp) {
    const depth = mlp[1]!.includes('iou_prediction_head') ? iouHeadDepth : 3;
    const layer = mlp[2] === 'proj_in' ? 0 : mlp[2] === 'proj_out' ? depth - 1 : Number(mlp[3]) + 1;
    name = `${mlp[1]}.layers.${layer}.${mlp[4]}`;
  }
  return name;
}
