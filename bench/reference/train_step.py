#!/usr/bin/env python3
"""PyTorch reference for `npm run bench:train`: one fine-tuning step of SAM the way the Conv-LoRA
code trains it, on Debian's python3-torch (OpenBLAS), timed and with its peak RSS.

The architecture is the one the SAM fixtures rebuild from torch ops (test/fixtures/sam/
make_fixtures.py, imported with its config replaced), with random frozen weights. The step:
the image encoder with the PEFT method on every block's qkv, the promptless one-mask-token
decoder (no_mask_embed, mask token 0, the IoU head frozen), the masks upsampled bilinearly to the
image, the structure loss (mean BCE + weighted IoU, as the official code computes it) plus, for
Conv-LoRA, the gates' balance loss; backward; AdamW (lr 1e-4, weight decay 1e-4) over what
trains. Methods (spec conv-lora.md section 1):
  conv-lora     LoRA r 3 (alpha 32) whose rank-r features go through a noisy top-1 mixture of 8
                multi-scale experts (bicubic up by s, 3x3 conv, GELU, bicubic down) + balance loss
  lora          LoRA r 3, alpha 32
  decoder-only  nothing in the encoder (it runs without a graph); the mask decoder trains
In every method the mask decoder trains, as in the official code.

Prints one JSON object: {"steps": [seconds per timed step], "rss": [RSS bytes after each step],
"peak_rss": bytes}. Run with OMP_WAIT_POLICY=PASSIVE (small ops spin-wait otherwise on this VM).
Usage: /usr/bin/python3 train_step.py --config small|vit_b --size 64 --batch 4 --method conv-lora --steps 5
"""
import argparse
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures', 'sam'))
import make_fixtures as sam  # noqa: E402  (the architecture; its main() does not run on import)

VIT_B = dict(encoder_embed_dim=768, encoder_depth=12, encoder_num_heads=12, encoder_global_attn_indexes=[2, 5, 8, 11], window_size=14,
             patch_size=16, mlp_ratio=4.0, prompt_embed_dim=256, mask_in_chans=16, decoder_depth=2, decoder_mlp_dim=2048,
             decoder_num_heads=8, iou_head_depth=3, iou_head_hidden_dim=256)
# conv-lora-binary's SMALL_SAM (pipelines/conv-lora-binary.ts).
SMALL = dict(VIT_B, patch_size=4, encoder_embed_dim=96, encoder_depth=4, encoder_num_heads=4, encoder_global_attn_indexes=[1, 3],
             window_size=4, prompt_embed_dim=64, decoder_mlp_dim=256, decoder_num_heads=4, iou_head_hidden_dim=64)

RANK, ALPHA, EXPERTS = 3, 32.0, 8


def rss_bytes():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def normal_cdf(v):
    return 0.5 * (1 + torch.erf(v / math.sqrt(2)))


def cv_squared(v):
    return v.var() / (v.mean() ** 2 + 1e-10) if v.shape[0] > 1 else torch.zeros(())


class ConvLora:
    """LoRA whose rank-r features pass a noisy top-1 mixture of multi-scale conv experts."""

    def __init__(self, dim_in, dim_out):
        self.a = torch.empty(RANK, dim_in).uniform_(-1 / math.sqrt(dim_in), 1 / math.sqrt(dim_in)).requires_grad_()
        self.b = torch.zeros(dim_out, RANK).requires_grad_()
        self.w_gate = torch.zeros(RANK, EXPERTS).requires_grad_()
        self.w_noise = torch.zeros(RANK, EXPERTS).requires_grad_()
        bound = 1 / math.sqrt(9 * RANK)
        self.conv_w = [torch.empty(RANK, RANK, 3, 3).uniform_(-bound, bound).requires_grad_() for _ in range(EXPERTS)]
        self.conv_b = [torch.zeros(RANK).requires_grad_() for _ in range(EXPERTS)]
        self.losses = []

    def params(self):
        return [self.a, self.b, self.w_gate, self.w_noise, *self.conv_w, *self.conv_b]

    def __call__(self, x):  # x [..., H, W, C] with the batch first
        n, h, w = x.shape[0], x.shape[1], x.shape[2]
        z = (x @ self.a.T).permute(0, 3, 1, 2)
        pooled = z.mean(dim=(2, 3))
        clean = pooled @ self.w_gate
        sigma = F.softplus(pooled @ self.w_noise) + 1e-2
        logits = clean + torch.randn_like(clean) * sigma
        top_vals, top_idx = logits.topk(2, dim=1)
        gates = torch.zeros_like(logits).scatter(1, top_idx[:, :1], torch.softmax(top_vals[:, :1], dim=1))
        thr_in, thr_out = top_vals[:, 1:2], top_vals[:, 0:1]
        prob = torch.where(logits > thr_in, normal_cdf((clean - thr_in) / sigma), normal_cdf((clean - thr_out) / sigma))
        self.losses.append(1e-2 * (cv_squared(gates.sum(0)) + cv_squared(prob.sum(0))))
        outs = []
        for i in range(n):
            e = int(top_idx[i, 0])
            u = z[i:i + 1]
            if e:
                u = F.interpolate(u, scale_factor=e + 1, mode='bicubic', align_corners=False)
            u = F.gelu(F.conv2d(u, self.conv_w[e], self.conv_b[e], padding=1))
            if e:
                u = F.interpolate(u, size=(h, w), mode='bicubic', align_corners=False)
            outs.append(u)
        z = z + torch.cat(outs).exp().clamp_min(torch.finfo(z.dtype).eps).log()
        return (ALPHA / RANK) * (z.permute(0, 2, 3, 1) @ self.b.T)


class Lora:
    def __init__(self, dim_in, dim_out):
        self.a = torch.empty(RANK, dim_in).uniform_(-1 / math.sqrt(dim_in), 1 / math.sqrt(dim_in)).requires_grad_()
        self.b = torch.zeros(dim_out, RANK).requires_grad_()
        self.losses = []

    def params(self):
        return [self.a, self.b]

    def __call__(self, x):
        return (ALPHA / RANK) * ((x @ self.a.T) @ self.b.T)


def structure_loss(logits, mask):
    weit = 1 + 5 * torch.abs(F.avg_pool2d(mask, kernel_size=31, stride=1, padding=15) - mask)
    wbce = F.binary_cross_entropy_with_logits(logits, mask)  # the official reduce='none' reads as a mean
    p = torch.sigmoid(logits)
    inter = ((p * mask) * weit).sum(dim=(2, 3))
    union = ((p + mask) * weit).sum(dim=(2, 3))
    return (wbce + 1 - (inter + 1) / (union - inter + 1)).mean()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--config', choices=['small', 'vit_b'], required=True)
    parser.add_argument('--size', type=int, required=True)
    parser.add_argument('--batch', type=int, required=True)
    parser.add_argument('--method', choices=['conv-lora', 'lora', 'decoder-only'], required=True)
    parser.add_argument('--steps', type=int, default=3)
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    # One mask token (num_multimask_outputs 0): the official Conv-LoRA decoder.
    sam.CFG = dict(SMALL if args.config == 'small' else VIT_B, image_size=args.size, num_multimask_outputs=0)
    sam.GRID = args.size // sam.CFG['patch_size']
    P = sam.random_params()
    d = sam.CFG['encoder_embed_dim']
    adapters = {}
    if args.method != 'decoder-only':
        kind = ConvLora if args.method == 'conv-lora' else Lora
        adapters = {f'image_encoder.blocks.{i}.attn.qkv': kind(d, 3 * d) for i in range(sam.CFG['encoder_depth'])}
    base_linear = sam.linear

    def linear(x, params, name):
        y = base_linear(x, params, name)
        return y + adapters[name](x) if name in adapters else y
    sam.linear = linear
    decoder = [k for k in P if k.startswith('mask_decoder.') and 'iou_prediction_head' not in k and k != 'mask_decoder.iou_token.weight']
    for k in decoder:
        P[k].requires_grad_()
    trainable = [P[k] for k in decoder] + [p for a in adapters.values() for p in a.params()]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4, weight_decay=1e-4)
    image = torch.rand(args.batch, 3, args.size, args.size)
    mask = (torch.rand(args.batch, 1, args.size, args.size) > 0.7).float()
    pe = sam.dense_pe(P)

    def step():
        for a in adapters.values():
            a.losses = []
        with torch.set_grad_enabled(bool(adapters)):
            emb = sam.image_encoder(image, P)
        e = sam.CFG['prompt_embed_dim']
        sparse = torch.empty((args.batch, 0, e))
        dense = P['prompt_encoder.no_mask_embed.weight'].reshape(1, -1, 1, 1).expand(args.batch, -1, sam.GRID, sam.GRID)
        masks, _ = sam.mask_decoder(emb, pe, sparse, dense, P)
        logits = F.interpolate(masks, size=(args.size, args.size), mode='bilinear', align_corners=False)
        loss = structure_loss(logits, mask)
        for a in adapters.values():
            loss = loss + sum(a.losses)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step()  # warm-up
    times, rss = [], []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
        rss.append(rss_bytes())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({'steps': times, 'rss': rss, 'peak_rss': peak}))


if __name__ == '__main__':
    main()
