#!/usr/bin/env python3
"""PyTorch reference timings for `npm run bench:kernels` (Debian's python3-torch + OpenBLAS).

The same work the TypeScript bench times, written the way segment_anything does it:
  * GEMM: C = A @ B for the given shapes (and B transposed).
  * One SAM ViT block with global attention over a g x g grid (g*g tokens, dim D): LayerNorm,
    qkv linear with a rank-4 LoRA update (scale 1), attention with decomposed relative positions,
    proj, residual, LayerNorm, MLP (4x, exact GELU), residual. Frozen base weights; the
    backward pass computes gradients for the input and the LoRA matrices only, as fine-tuning does.

Prints one JSON object: {"gemm": [...], "blocks": [...]} with median milliseconds.
Usage: OPENBLAS_NUM_THREADS=2 /usr/bin/python3 vit_block.py --threads 2 --blocks 32x256,32x768,64x768
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F


def median_ms(fn, runs, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return times[len(times) // 2]


def rel_pos_table(size, table):
    coords = torch.arange(size)
    return table[(coords[:, None] - coords[None, :] + size - 1).long()]


class Block(torch.nn.Module):
    def __init__(self, dim, heads, grid, rank=4):
        super().__init__()
        self.heads = heads
        self.norm1 = torch.nn.LayerNorm(dim, eps=1e-6)
        self.qkv = torch.nn.Linear(dim, 3 * dim)
        self.proj = torch.nn.Linear(dim, dim)
        hd = dim // heads
        self.rel_pos_h = torch.nn.Parameter(torch.randn(2 * grid - 1, hd) * 0.02)
        self.rel_pos_w = torch.nn.Parameter(torch.randn(2 * grid - 1, hd) * 0.02)
        self.norm2 = torch.nn.LayerNorm(dim, eps=1e-6)
        self.lin1 = torch.nn.Linear(dim, 4 * dim)
        self.lin2 = torch.nn.Linear(4 * dim, dim)
        for p in self.parameters():
            p.requires_grad_(False)
        self.lora_a = torch.nn.Parameter(torch.randn(dim, rank) * 0.02)
        self.lora_b = torch.nn.Parameter(torch.randn(rank, 3 * dim) * 0.02)

    def attention(self, x):
        B, H, W, C = x.shape
        heads = self.heads
        qkv = self.qkv(x) + (x @ self.lora_a) @ self.lora_b
        qkv = qkv.reshape(B, H * W, 3, heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.reshape(3, B * heads, H * W, -1).unbind(0)
        hd = q.shape[-1]
        attn = (q * hd ** -0.5) @ k.transpose(-2, -1)
        r_q = q.reshape(B * heads, H, W, hd)
        rel_h = torch.einsum('bhwc,hkc->bhwk', r_q, rel_pos_table(H, self.rel_pos_h))
        rel_w = torch.einsum('bhwc,wkc->bhwk', r_q, rel_pos_table(W, self.rel_pos_w))
        attn = (attn.view(B * heads, H, W, H, W) + rel_h[:, :, :, :, None] + rel_w[:, :, :, None, :]).view(B * heads, H * W, H * W)
        attn = attn.softmax(dim=-1)
        x = (attn @ v).view(B, heads, H, W, -1).permute(0, 2, 3, 1, 4).reshape(B, H, W, -1)
        return self.proj(x)

    def forward(self, x):
        x = x + self.attention(self.norm1(x))
        return x + self.lin2(F.gelu(self.lin1(self.norm2(x))))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--gemm', default='4096x768x768,4096x768x3072')
    parser.add_argument('--blocks', default='32x256,32x768,64x768')
    parser.add_argument('--runs', type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    out = {'torch': torch.__version__, 'threads': torch.get_num_threads(), 'gemm': [], 'blocks': []}

    for spec in filter(None, args.gemm.split(',')):
        m, k, n = map(int, spec.split('x'))
        a = torch.randn(m, k)
        b = torch.randn(k, n)
        bt = b.t().contiguous()
        plain = median_ms(lambda: a @ b, 13)
        transposed = median_ms(lambda: a @ bt.t(), 13)
        out['gemm'].append({'m': m, 'k': k, 'n': n, 'ms': plain, 'ms_transposed_b': transposed})

    for spec in filter(None, args.blocks.split(',')):
        grid, dim = map(int, spec.split('x'))
        heads = dim // 64 if dim >= 512 else dim // 32
        block = Block(dim, heads, grid)
        x = torch.randn(1, grid, grid, dim)
        weights = torch.randn(1, grid, grid, dim)

        def forward():
            with torch.no_grad():
                block(x)

        def train_step():
            xg = x.clone().requires_grad_(True)
            (block(xg) * weights).sum().backward()
            block.lora_a.grad = None
            block.lora_b.grad = None

        out['blocks'].append({'grid': grid, 'dim': dim, 'heads': heads,
                              'forward_ms': median_ms(forward, args.runs),
                              'train_ms': median_ms(train_step, args.runs)})
    print(json.dumps(out))


if __name__ == '__main__':
    main()
