#!/usr/bin/env python3
"""PyTorch twin of fewstep's engine bench (tools/bench/src/engine-bench.ts).

Trains the same workloads with the same shapes, the same initial weights and inputs (the
hash initialiser below is bit-identical to tools/bench/src/hash-init.ts), the same math and the
same optimizer settings, on CPU with torch.set_num_threads(--threads). Protocol: --warmup untimed
steps, then the median wall time of --steps steps; a step is zero_grad + forward + loss +
backward + optimizer step + loss.item(). Prints ONE JSON line:

  {"torch": "1.13.1", "threads": 2, "blas": "/usr/lib/.../libblas.so.3", "referenceBlas": true,
   "workloads": {"conv-train": {"ms": 41.2, "loss0": 0.123, "lossLast": 0.1, "params": 147712,
                   "losses": [...every step's loss...]}, ...}}

loss0 is the first step's loss (before any update) and lossLast the last timed step's; the TS
side compares them with its own to check that both compute the same function, gradients and
optimizer update. Layout: fewstep is NHWC, this twin is idiomatic
PyTorch NCHW; canonical (tfjs-layout) initial values are permuted on load.

Usage: python3 engine_bench.py [--workloads a,b] [--steps 10] [--warmup 3] [--threads 2]
                               [--shapes '{"conv-train": {"batch": 1}}']
"""
import argparse
import json
import math
import re
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------- deterministic initialisation

MASK = 0xFFFFFFFF


def name_seed(name):
    """FNV-1a 32-bit hash of an ASCII name (hash-init.ts nameSeed)."""
    h = 0x811C9DC5
    for ch in name.encode("ascii"):
        h ^= ch
        h = (h * 0x01000193) & MASK
    return h


def hash_uniform_values(n, seed, bound):
    """n values on [-bound, bound): murmur3 fmix32 of (i, seed), 24 bits (hash-init.ts)."""
    s = (seed * 0x85EBCA77) & MASK
    x = (np.arange(n, dtype=np.uint64) * np.uint64(0x9E3779B1) + np.uint64(s + 1)) & np.uint64(MASK)
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x85EBCA6B)) & np.uint64(MASK)
    x ^= x >> np.uint64(13)
    x = (x * np.uint64(0xC2B2AE35)) & np.uint64(MASK)
    x ^= x >> np.uint64(16)
    u = (x >> np.uint64(8)).astype(np.float64) / 16777216.0
    return (bound * (2.0 * u - 1.0)).astype(np.float32)


def hash_uniform(name, shape, bound):
    """A tensor in fewstep's canonical (tfjs) layout."""
    n = int(np.prod(shape))
    return torch.from_numpy(hash_uniform_values(n, name_seed(name), bound).reshape(shape))


def default_bound(fan_in):
    return 1.0 / math.sqrt(fan_in)


def load_conv(conv, name, cin):
    """Canonical filter [kh, kw, Cin, Cout] -> torch [Cout, Cin, kh, kw]."""
    b = default_bound(9 * cin)
    with torch.no_grad():
        conv.weight.copy_(hash_uniform(name + ".w", [3, 3, cin, conv.out_channels], b).permute(3, 2, 0, 1))
        conv.bias.copy_(hash_uniform(name + ".b", [conv.out_channels], b))


def load_linear(lin, name, bound=None):
    """Canonical weight [in, out] -> torch [out, in]."""
    b = default_bound(lin.in_features) if bound is None else bound
    with torch.no_grad():
        lin.weight.copy_(hash_uniform(name + ".w", [lin.in_features, lin.out_features], b).t())
        lin.bias.copy_(hash_uniform(name + ".b", [lin.out_features], b))


# ---------------------------------------------------------------- modules


class SelfAttention(nn.Module):
    """Fused-qkv multi-head self-attention on [N, T, C] (attention.ts selfAttention)."""

    def __init__(self, c, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(c, 3 * c)
        self.out = nn.Linear(c, c)

    def load(self, name):
        load_linear(self.qkv, name + ".qkv")
        load_linear(self.out, name + ".out")

    def forward(self, x):
        n, t, c = x.shape
        h = self.heads
        d = c // h
        qkv = self.qkv(x).reshape(n, t, 3, h, d).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * (1.0 / math.sqrt(d)), qkv[1], qkv[2]
        attn = torch.softmax(q @ k.transpose(-2, -1), dim=-1)
        o = (attn @ v).transpose(1, 2).reshape(n, t, c)
        return self.out(o)


class ConvTrain(nn.Module):
    def __init__(self, s):
        super().__init__()
        c = s["channels"]
        self.convs = nn.ModuleList([nn.Conv2d(c, c, 3, padding=1) for _ in range(s["layers"])])
        for i, conv in enumerate(self.convs):
            load_conv(conv, "conv%d" % i, c)
        # canonical [N, H, W, C] -> NCHW
        self.x = hash_uniform("input.x", [s["batch"], s["size"], s["size"], c], 1.0).permute(0, 3, 1, 2).contiguous()
        self.optimizer = lambda params: torch.optim.Adam(params, lr=1e-3)

    def loss(self):
        h = self.x
        last = len(self.convs) - 1
        for i, conv in enumerate(self.convs):
            h = conv(h)
            if i < last:
                h = F.relu(h)
        return h.pow(2).mean()


class VideoUnetBlockTrain(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.s = s
        c, g, heads, tdim = s["channels"], s["groups"], s["heads"], s["tembDim"]
        self.gn1 = nn.GroupNorm(g, c, eps=1e-5)
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.temb = nn.Linear(tdim, c)
        self.gn2 = nn.GroupNorm(g, c, eps=1e-5)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)
        self.sattn_gn = nn.GroupNorm(g, c, eps=1e-5)
        self.sattn = SelfAttention(c, heads)
        self.tattn_ln = nn.LayerNorm(c, eps=1e-5)
        self.tattn = SelfAttention(c, heads)
        load_conv(self.conv1, "res.conv1", c)
        load_conv(self.conv2, "res.conv2", c)
        load_linear(self.temb, "res.temb")
        self.sattn.load("sattn")
        self.tattn.load("tattn")
        b, f, h, w = s["batch"], s["frames"], s["height"], s["width"]
        # canonical [B, F, H, W, C] -> [B, F, C, H, W]
        self.x = hash_uniform("input.x", [b, f, h, w, c], 1.0).permute(0, 1, 4, 2, 3).contiguous()
        self.t = hash_uniform("input.temb", [b, tdim], 1.0)
        self.optimizer = lambda params: torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)

    def loss(self):
        s = self.s
        b, f, h, w, c = s["batch"], s["frames"], s["height"], s["width"], s["channels"]
        hw = h * w
        x0 = self.x.reshape(b * f, c, h, w)
        # 1. ResBlock per frame
        r = self.conv1(F.silu(self.gn1(x0)))
        r = (r.reshape(b, f, c, hw) + self.temb(self.t).reshape(b, 1, c, 1)).reshape(b * f, c, h, w)
        r = self.conv2(F.silu(self.gn2(r)))
        x1 = x0 + r
        # 2. spatial attention per frame: [B*F, HW, C] tokens
        tokens = self.sattn_gn(x1).reshape(b * f, c, hw).transpose(1, 2)
        x2 = x1.reshape(b * f, c, hw).transpose(1, 2) + self.sattn(tokens)
        # 3. temporal attention per pixel: [B*HW, F, C] tokens
        xt = x2.reshape(b, f, hw, c).permute(0, 2, 1, 3).reshape(b * hw, f, c)
        x3 = xt + self.tattn(self.tattn_ln(xt))
        out = x3.reshape(b, hw, f, c).permute(0, 2, 3, 1).reshape(b, f, c, h, w)
        return out.pow(2).mean()


ADA_INIT_BOUND = 0.02  # dit-block-train.ts ADA_INIT_BOUND (small random instead of adaLN-Zero's 0)


class DitBlockTrain(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.s = s
        d, heads, hidden = s["dim"], s["heads"], s["mlpRatio"] * s["dim"]
        self.ada = nn.Linear(d, 6 * d)
        self.attn = SelfAttention(d, heads)
        self.fc1 = nn.Linear(d, hidden)
        self.fc2 = nn.Linear(hidden, d)
        load_linear(self.ada, "ada", ADA_INIT_BOUND)
        self.attn.load("attn")
        load_linear(self.fc1, "mlp.fc1")
        load_linear(self.fc2, "mlp.fc2")
        self.x = hash_uniform("input.x", [s["batch"], s["tokens"], d], 1.0)
        self.c = hash_uniform("input.c", [s["batch"], d], 1.0)
        self.optimizer = lambda params: torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)

    def loss(self):
        d = self.s["dim"]
        x = self.x
        shift1, scale1, gate1, shift2, scale2, gate2 = self.ada(F.silu(self.c)).unsqueeze(1).chunk(6, dim=2)
        h = F.layer_norm(x, (d,), eps=1e-6) * (1 + scale1) + shift1
        x = x + gate1 * self.attn(h)
        h = F.layer_norm(x, (d,), eps=1e-6) * (1 + scale2) + shift2
        x = x + gate2 * self.fc2(F.gelu(self.fc1(h), approximate="tanh"))
        return x.pow(2).mean()


WORKLOADS = {
    "conv-train": (ConvTrain, {"batch": 4, "size": 32, "channels": 64, "layers": 4}),
    "video-unet-block-train": (
        VideoUnetBlockTrain,
        {"batch": 2, "frames": 8, "height": 16, "width": 16, "channels": 64, "tembDim": 256, "groups": 32, "heads": 4},
    ),
    "dit-block-train": (DitBlockTrain, {"batch": 2, "tokens": 512, "dim": 192, "heads": 6, "mlpRatio": 4}),
}


def blas_library():
    """The BLAS shared library torch's matmuls run on (from /proc/self/maps), and whether it is the
    slow netlib reference implementation (Debian's python3-torch uses whatever libblas.so.3 the
    alternatives system points to; with only libblas3 installed that is the reference BLAS, about
    10x slower than OpenBLAS for Linear/matmul; convolutions use oneDNN and are unaffected)."""
    torch.ones(8, 8) @ torch.ones(8, 8)
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                low = path.lower()
                if "blas" in low or "mkl" in low:
                    libs.add(path)
    except OSError:
        return {"blas": "unknown", "referenceBlas": False}
    names = sorted(p for p in libs if "cublas" not in p)
    info = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    blas_info = info.group(1) if info else "unknown"
    # BLAS_INFO=generic: torch calls whatever libblas.so.3 is loaded; the netlib one is slow.
    reference = blas_info == "generic" and any("/blas/libblas.so" in p for p in names) and not any(
        "openblas" in p for p in names
    )
    return {"blas": "%s (%s)" % (blas_info, ", ".join(names) or "linked in"), "referenceBlas": reference}


def bench(model, steps, warmup):
    params = list(model.parameters())
    opt = model.optimizer(params)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = model.loss()
        loss.backward()
        opt.step()
        return loss.item()

    losses = []
    for _ in range(warmup):
        losses.append(step())
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        losses.append(step())
        times.append((time.perf_counter() - t0) * 1000.0)
    loss0, value = losses[0], losses[-1]
    return {
        "ms": statistics.median(times),
        "minMs": min(times),
        "maxMs": max(times),
        "loss0": loss0,
        "lossLast": value,
        "params": sum(p.numel() for p in params),
        "losses": losses,
    }


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--shapes", default="{}", help="JSON: per-workload shape overrides")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    overrides = json.loads(a.shapes)
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "workloads": {}}
    out.update(blas_library())
    for name in [w for w in a.workloads.split(",") if w]:
        if name not in WORKLOADS:
            sys.exit("unknown workload %r; known: %s" % (name, ", ".join(WORKLOADS)))
        cls, defaults = WORKLOADS[name]
        shapes = dict(defaults)
        shapes.update(overrides.get(name, {}))
        model = cls(shapes)
        out["workloads"][name] = bench(model, a.steps, a.warmup)
        print("%s: %.1f ms/step" % (name, out["workloads"][name]["ms"]), file=sys.stderr)
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
