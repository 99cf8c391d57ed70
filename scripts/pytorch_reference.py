"""PyTorch reference for `echolab bench training`: the same GPT, trained and
sampled the same way on the same CPU, so the two can be printed side by side.

Architecture (as echolab's presets): pre-norm blocks, learned position
embeddings, tied token embedding and output projection, GELU (tanh
approximation), LayerNorm (eps 1e-5) with biases, MLP ratio 4, one fused qkv
projection, context 192, vocabulary 166. Training: batch 32, sequence length
128, AdamW (0.9, 0.95, weight decay 0.1, lr 1e-3), gradient clipping at 1.0,
one untimed step then the mean of the timed ones. Sampling: 64 rows, an
8-token prompt, greedy decoding with a preallocated key-value cache to 128
tokens.

Also times the matrix products of one training step alone, each with
torch.matmul (best of three), as echolab's bench does with its gemm
(src/bench/matmul_ceiling.rs lists the same products): no step using
PyTorch's matrix products can be faster than their sum.

Prints one JSON object per preset on stdout:
{"preset", "parameters", "training_tokens_per_second",
 "sampling_tokens_per_second", "training_ceiling_tokens_per_second"}.

    python scripts/pytorch_reference.py --presets tiny small --threads 2
"""

import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {
    "tiny": dict(layers=2, width=80, heads=2),
    "small": dict(layers=4, width=128, heads=4),
    "medium": dict(layers=6, width=256, heads=8),
}
VOCABULARY = 166
CONTEXT = 192
BATCH = 32
LENGTH = 128
SAMPLING_BATCH = 64
PROMPT = 8


class Block(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.attention_norm = nn.LayerNorm(width, eps=1e-5)
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)
        self.feed_forward_norm = nn.LayerNorm(width, eps=1e-5)
        self.up = nn.Linear(width, 4 * width)
        self.down = nn.Linear(4 * width, width)

    def attend(self, x, cache=None, offset=0):
        batch, time_, width = x.shape
        head_width = width // self.heads
        qkv = self.qkv(x).view(batch, time_, 3, self.heads, head_width)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        if cache is None:
            mixed = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            keys, values = cache
            keys[:, :, offset : offset + time_] = k
            values[:, :, offset : offset + time_] = v
            k = keys[:, :, : offset + time_]
            v = values[:, :, : offset + time_]
            mixed = F.scaled_dot_product_attention(q, k, v, is_causal=time_ > 1)
        return self.out(mixed.transpose(1, 2).reshape(batch, time_, width))

    def forward(self, x, cache=None, offset=0):
        x = x + self.attend(self.attention_norm(x), cache, offset)
        return x + self.down(F.gelu(self.up(self.feed_forward_norm(x)), approximate="tanh"))


class Gpt(nn.Module):
    def __init__(self, layers, width, heads):
        super().__init__()
        self.token_embedding = nn.Embedding(VOCABULARY, width)
        self.position_embedding = nn.Embedding(CONTEXT, width)
        self.blocks = nn.ModuleList(Block(width, heads) for _ in range(layers))
        self.final_norm = nn.LayerNorm(width, eps=1e-5)
        for name, parameter in self.named_parameters():
            if parameter.dim() == 2:
                std = 0.02
                if name.endswith("out.weight") or name.endswith("down.weight"):
                    std /= math.sqrt(2 * layers)
                nn.init.normal_(parameter, 0.0, std)
            elif name.endswith("bias"):
                nn.init.zeros_(parameter)

    def forward(self, tokens, caches=None, offset=0):
        time_ = tokens.shape[1]
        positions = torch.arange(offset, offset + time_)
        x = self.token_embedding(tokens) + self.position_embedding(positions)
        for index, block in enumerate(self.blocks):
            x = block(x, None if caches is None else caches[index], offset)
        return self.final_norm(x) @ self.token_embedding.weight.t()


def training_speed(model, steps):
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=1e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1
    )
    generator = torch.Generator().manual_seed(0)
    elapsed = 0.0
    for step in range(steps + 1):
        batch = torch.randint(0, VOCABULARY, (BATCH, LENGTH + 1), generator=generator)
        start = time.perf_counter()
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, VOCABULARY), batch[:, 1:].reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step > 0:
            elapsed += time.perf_counter() - start
    return BATCH * LENGTH * steps / elapsed


@torch.no_grad()
def sampling_speed(model, layers, width, heads, repeats):
    generator = torch.Generator().manual_seed(1)
    best = float("inf")
    for _ in range(repeats + 1):
        caches = [
            (
                torch.zeros(SAMPLING_BATCH, heads, CONTEXT, width // heads),
                torch.zeros(SAMPLING_BATCH, heads, CONTEXT, width // heads),
            )
            for _ in range(layers)
        ]
        tokens = torch.randint(0, VOCABULARY, (SAMPLING_BATCH, PROMPT), generator=generator)
        start = time.perf_counter()
        logits = model(tokens, caches, 0)
        for position in range(PROMPT, LENGTH):
            tokens = logits[:, -1:].argmax(-1)
            logits = model(tokens, caches, position)
        best = min(best, time.perf_counter() - start)
    return SAMPLING_BATCH * (LENGTH - PROMPT) / best


def step_products(layers, width, heads):
    """(rows, inner, columns, count) of every matrix product of one step."""
    tokens = BATCH * LENGTH
    hidden = 4 * width
    products = []
    maps = [(width, 3 * width, layers), (width, width, layers), (width, hidden, layers),
            (hidden, width, layers), (width, VOCABULARY, 1)]
    for inputs, outputs, count in maps:
        products += [(tokens, inputs, outputs, count), (tokens, outputs, inputs, count),
                     (inputs, tokens, outputs, count)]
    head = width // heads
    attention = BATCH * heads * layers
    products += [(LENGTH, head, LENGTH, attention), (LENGTH, LENGTH, head, attention)]
    products += [(LENGTH, head, LENGTH, attention)] + [(LENGTH, LENGTH, head, attention)] * 3
    return products


def training_ceiling(layers, width, heads):
    generator = torch.Generator().manual_seed(2)
    total = 0.0
    for rows, inner, columns, count in step_products(layers, width, heads):
        batched = rows * columns < 64 * 1024
        per_call, calls = (count, 1) if batched else (1, count)
        left = torch.rand(per_call, rows, inner, generator=generator) - 0.5
        right = torch.rand(per_call, inner, columns, generator=generator) - 0.5
        torch.matmul(left, right)
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            torch.matmul(left, right)
            best = min(best, time.perf_counter() - start)
        total += best * calls
    return BATCH * LENGTH / total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--presets", nargs="+", default=["tiny", "small", "medium"])
    parser.add_argument("--threads", type=int, default=2)
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    torch.manual_seed(0)
    for preset in arguments.presets:
        shape = PRESETS[preset]
        model = Gpt(**shape)
        steps = 2 if preset == "medium" else 4
        training = training_speed(model, steps)
        model.eval()
        sampling = sampling_speed(model, shape["layers"], shape["width"], shape["heads"], 2)
        ceiling = training_ceiling(shape["layers"], shape["width"], shape["heads"])
        print(
            json.dumps(
                {
                    "preset": preset,
                    "parameters": sum(p.numel() for p in model.parameters()),
                    "training_tokens_per_second": training,
                    "sampling_tokens_per_second": sampling,
                    "training_ceiling_tokens_per_second": ceiling,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
