"""Fit a linear image head with the symmetric InfoNCE loss and a learnable temperature.

Both towers are frozen (LiT, "locked-image tuning"; with a linear head this is DeViSE trained
contrastively): only W, b and the logit scale are learned, from cached features, in seconds.
Training rows are (image input, text vectors) pairs; each epoch draws one text per row, so an
image with several captions, or a class with several sentences, sees a different one each time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from searchengine.encoders.bundled.learned import LinearMap


@dataclass
class TrainRows:
    """inputs [n, 1280] in feature space; texts[i] = indices into `text_vectors` for row i."""

    inputs: np.ndarray
    texts: list[list[int]]
    text_vectors: np.ndarray
    weights: np.ndarray = field(default=None)  # per-row sampling weight (None: uniform)


@dataclass
class FitSettings:
    epochs: int = 60
    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 0.1
    init_temperature: float = 0.07
    seed: int = 0


def fit_linear(
    rows: TrainRows, mean: np.ndarray, settings: FitSettings | None = None, log_every: int = 0
) -> tuple[LinearMap, list[float]]:
    """Train v = normalize(W (x − mean) + b) against frozen unit text vectors; returns the map and
    the mean loss of each epoch. Deterministic for a given seed (single-threaded math on CPU)."""
    import torch

    settings = settings or FitSettings()
    gen = torch.Generator().manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    x_all = torch.from_numpy(np.asarray(rows.inputs, np.float32) - mean)
    t_all = torch.from_numpy(np.asarray(rows.text_vectors, np.float32))
    d_in, d_out = x_all.shape[1], t_all.shape[1]
    linear = torch.nn.Linear(d_in, d_out)
    with torch.no_grad():
        bound = 1.0 / np.sqrt(d_in)
        linear.weight.uniform_(-bound, bound, generator=gen)
        linear.bias.zero_()
    logit_scale = torch.nn.Parameter(torch.tensor(float(np.log(1.0 / settings.init_temperature))))
    params = [linear.weight, linear.bias, logit_scale]
    decays = [settings.weight_decay, 0.0, 0.0]
    n = len(x_all)
    steps_per_epoch = max(1, int(np.ceil(n / settings.batch_size)))
    adam = _AdamW(params, decays, settings.lr, total_steps=settings.epochs * steps_per_epoch)
    probs = None if rows.weights is None else np.asarray(rows.weights, np.float64) / np.sum(rows.weights)
    losses = []
    for _epoch in range(settings.epochs):
        order = rng.choice(n, size=n, replace=True, p=probs) if probs is not None else rng.permutation(n)
        chosen = np.array([rows.texts[i][rng.integers(len(rows.texts[i]))] for i in order])
        total = 0.0
        for s in range(steps_per_epoch):
            idx = order[s * settings.batch_size : (s + 1) * settings.batch_size]
            if len(idx) < 2:
                continue
            tidx = chosen[s * settings.batch_size : (s + 1) * settings.batch_size]
            img = torch.nn.functional.normalize(linear(x_all[idx]), dim=1)
            txt = t_all[tidx]
            logits = logit_scale.clamp(max=np.log(100.0)).exp() * img @ txt.T
            # rows sharing a caption are not negatives of each other
            same = torch.from_numpy(tidx[:, None] == tidx[None, :])
            logits = logits.masked_fill(same & ~torch.eye(len(idx), dtype=torch.bool), -1e4)
            target = torch.arange(len(idx))
            loss = 0.5 * (
                torch.nn.functional.cross_entropy(logits, target) + torch.nn.functional.cross_entropy(logits.T, target)
            )
            for p in params:
                p.grad = None
            loss.backward()
            adam.step()
            total += loss.item() * len(idx)
        losses.append(total / n)
    with torch.no_grad():
        weight = linear.weight.detach().numpy().copy()
        bias = linear.bias.detach().numpy().copy()
    return LinearMap(weight, bias, np.asarray(mean, np.float32)), losses


class _AdamW:
    """AdamW with a linear warm-up (10 % of steps) and cosine decay to zero.

    Written out because `torch.optim` imports torch._dynamo, which costs 10+ s on 2 cores."""

    def __init__(self, params, decays, lr, total_steps, betas=(0.9, 0.999), eps=1e-8):
        import torch

        self.params, self.decays, self.lr, self.total = params, decays, lr, max(1, total_steps)
        self.b1, self.b2, self.eps, self.t = betas[0], betas[1], eps, 0
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]

    def rate(self) -> float:
        warm = max(1, int(0.1 * self.total))
        if self.t <= warm:
            return self.lr * self.t / warm
        return 0.5 * self.lr * (1 + np.cos(np.pi * (self.t - warm) / max(1, self.total - warm)))

    def step(self) -> None:
        import torch

        self.t += 1
        lr = self.rate()
        with torch.no_grad():
            for p, decay, m, v in zip(self.params, self.decays, self.m, self.v):
                if p.grad is None:
                    continue
                p.mul_(1 - lr * decay)
                m.mul_(self.b1).add_(p.grad, alpha=1 - self.b1)
                v.mul_(self.b2).addcmul_(p.grad, p.grad, value=1 - self.b2)
                m_hat = m / (1 - self.b1**self.t)
                v_hat = v / (1 - self.b2**self.t)
                p.sub_(lr * m_hat / (v_hat.sqrt() + self.eps))
