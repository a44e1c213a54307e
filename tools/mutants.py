"""Curated mutation testing of hjdl's numerical packages (``make mutants``).

Each mutant is one realistic one-line bug (an operator swap, a wrong constant such as 4π → 2π, an
off-by-one, a sign flip, a dropped eps factor, a changed tie rule, an uncentred covariance, a
wrong log det factor, a detach mistake, ...) in ``core``, ``attribution``, ``bifurcation``,
``robustness`` or ``scaling``. For each mutant this script

1. copies a snapshot of the repository (``src/``, ``tests/``, ``pyproject.toml``, ``docs/``)
   into a temporary folder (the working tree itself is never modified),
2. applies the textual replacement to the copy (the pattern must occur exactly once; a mutant
   whose pattern is gone or ambiguous is reported as ``stale`` and not counted),
3. runs the tests of the mutated package (``pytest -x -q -n 0``, plus the doctests of the
   mutated file) with ``PYTHONPATH`` pointing at the copy, under a per-mutant timeout, and
   optionally ``hjdl verify`` when the tests let a core mutant through,
4. records ``killed`` (a test failed or the import broke), ``timeout`` (counted as killed) or
   ``survived``.

The tests of a package are ``tests/<package>/test_*.py`` (plus ``tests/pde/test_verification.py``
for core) without the end-to-end ``*_experiments.py`` files, which take minutes each
(``--with-experiments`` adds them).

Before the mutants, each package's tests run once on the unmutated copy (the control). Tests that
fail there (work in progress elsewhere) are deselected from that package's mutant runs and listed;
a package whose control cannot run at all (a collection error) is reported and its mutants are
not counted (they would all look killed).
Mutants known to be equivalent (no observable change; the reason is recorded) run too but are
excluded from the kill rate. The script prints the kill rate and the survivors, writes a JSON
summary, and exits 0: it is a report, not a gate.

Usage::

    python tools/mutants.py [--only ID ...] [--package NAME ...] [--timeout S] [--jobs J]
                            [--no-control] [--verify] [--json PATH] [--list]
"""

from __future__ import annotations

import argparse
import concurrent.futures as futures
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "attribution", "bifurcation", "robustness", "scaling")

#: extra test files run for a mutant of a package, besides ``tests/<package>/test_*.py``
EXTRA_TESTS: dict[str, list[str]] = {"core": ["tests/pde/test_verification.py"]}


def test_files(package: str, root: Path, with_experiments: bool) -> list[str]:
    """The test files run for a mutant of ``package`` (relative to ``root``). The end-to-end
    experiment tests (``*_experiments.py``: minutes each) are left out unless asked for."""
    files = sorted(str(f.relative_to(root)) for f in (root / "tests" / package).glob("test_*.py")
                   if with_experiments or not f.name.endswith("_experiments.py"))
    return files + [f for f in EXTRA_TESTS.get(package, []) if (root / f).exists()]


@dataclasses.dataclass(frozen=True)
class Mutant:
    id: str
    file: str          # relative to src/hjdl/
    old: str           # must occur exactly once in the file
    new: str
    what: str          # the bug, in words
    equivalent: str = ""  # non-empty: why no test can see it (excluded from the rate)

    @property
    def package(self) -> str:
        return self.file.split("/", 1)[0]


M = Mutant
MUTANTS: list[Mutant] = [
    # ---------------------------------------------------------------- core/kernel.py
    M("core-01", "core/kernel.py", "out = m + eps * torch.log1p(rest)", "out = m + torch.log1p(rest)",
      "LSE kernel drops the eps factor of eps log1p(Σ)"),
    M("core-02", "core/solution.py", "out = m + e * torch.log1p(z.sum(-1, keepdim=True))",
      "out = m - e * torch.log1p(z.sum(-1, keepdim=True))", "blocked LSE of the layer engine: sign flip of eps log1p(Σ)"),
    M("core-03", "core/kernel.py", "    m = z.amax(dim, keepdim=True)\n    return torch.where(torch.isfinite(m)",
      "    m = z.amin(dim, keepdim=True)\n    return torch.where(torch.isfinite(m)",
      "tropical limit (eps = 0) takes min instead of max"),
    M("core-04", "core/kernel.py", "count = hit.sum(dim, keepdim=True).clamp_min(1)",
      "count = torch.ones_like(hit.sum(dim, keepdim=True))",
      "eps = 0 tie rule: every tied maximum gets weight 1 (weights no longer sum to one)"),
    M("core-05", "core/kernel.py", "hit = (z.detach() == m) & torch.isfinite(m)",
      "hit = (z.detach() >= m - 1e-6) & torch.isfinite(m)",
      "eps = 0 tie rule: near-ties within 1e-6 counted as ties"),
    M("core-06", "core/kernel.py", "return 0.0 - (p * torch.log(p.clamp_min(",
      "return 0.0 - (p * torch.log2(p.clamp_min(", "entropy in bits instead of nats (no-grad path)"),
    M("core-07", "core/kernel.py", "return 0.0 - terms.sum(dim, keepdim=keepdim)",
      "return 0.0 + terms.sum(dim, keepdim=keepdim)", "entropy sign flip on the autograd path"),
    M("core-08", "core/kernel.py", "p = w.div_(total) if in_place else w / total",
      "p = w.div_(total) if in_place else w / total.detach()",
      "Gibbs weights: normaliser detached (wrong gradient of softmax)"),
    M("core-09", "core/kernel.py", "    if finite:\n        m = z.detach().amax(dim, keepdim=True)",
      "    if finite:\n        m = z.amax(dim, keepdim=True)", "the shift m is not detached",
      equivalent="LSE = m + eps log Σ exp((z − m)/eps) for any m: the gradient through m cancels exactly"),
    M("core-10", "core/solution.py", "torch.log(4 * math.pi * safe * t)",
      "torch.log(2 * math.pi * safe * t)", "heat-kernel normalisation with 2π instead of 4π"),
    M("core-11", "core/solution.py", "+ logdet_A)", "+ 2 * logdet_A)",
      "normalisation: (eps) log det A instead of (eps/2) log det A"),
    M("core-12", "core/solution.py", "quad = (xb * data.apply_inverse(xb)).sum(-1) / (4 * tt)",
      "quad = (xb * data.apply_inverse(xb)).sum(-1) / (2 * tt)", "Hopf–Cole value: |x|²/(2t) instead of /(4t)"),
    M("core-13", "core/solution.py", "W, b = Ainv_y / (2 * tt), c / tt - data.g",
      "W, b = Ainv_y / (2 * tt), c / tt + data.g", "bijection at time t: sign of the initial values g"),
    M("core-14", "core/solution.py", "c = -(Ainv_y * data.y).sum(-1) / 4",
      "c = -(Ainv_y * data.y).sum(-1) / 2", "bias of the bijection: |y|²/2 instead of /4"),
    M("core-15", "core/solution.py", "inv_t=1 / tt, g=data.g", "inv_t=tt, g=data.g",
      "per-point times: t instead of 1/t"),
    M("core-16", "core/solution.py", "return s * _affine_blocks(", "return _affine_blocks(",
      "overflow rescaling forgets to multiply back by s (LSE_eps(z) = s LSE_{eps/s}(z/s))"),
    M("core-17", "core/solution.py", "for n0 in range(0, N, pn):\n            Wn, bn",
      "for n0 in range(0, N - 1, pn):\n            Wn, bn", "atom blocks: off-by-one drops the last block"),
    M("core-18", "core/solution.py", "        return z.amax(-1)", "        return z.amin(-1)",
      "blocked engine at eps = 0 (Hopf–Lax, max-affine): min instead of max"),
    M("core-19", "core/solution.py", "diffusion = e * (hess * A).sum((-2, -1))",
      "diffusion = (hess * A).sum((-2, -1))", "PDE residual: diffusion term misses eps"),
    M("core-20", "core/solution.py", "transport = (grad_x * (grad_x @ A)).sum(-1)",
      "transport = (grad_x * grad_x).sum(-1)", "PDE residual: transport term ignores the metric A"),
    M("core-21", "core/solution.py", "return (u_t + transport - diffusion)",
      "return (u_t - transport - diffusion)", "PDE residual: sign of the transport term"),
    M("core-22", "core/solution.py", "per_points = max(1, min(P, chunk // (per_atoms * width)))",
      "per_points = max(1, min(P, chunk // (per_atoms * width) // 2))", "point blocks half as large",
      equivalent="points are independent rows: the point-block size changes memory, not values"),
    M("core-23", "core/initial_data.py", "self._logdet = 2 * torch.log(torch.diagonal(self.cholesky())).sum()",
      "self._logdet = torch.log(torch.diagonal(self.cholesky())).sum()",
      "log det A from the Cholesky factor misses the factor 2"),
    M("core-24", "core/initial_data.py", "y = 2 * tt * WA", "y = tt * WA",
      "to_initial_data: atoms y = tAW instead of 2tAW"),
    M("core-25", "core/initial_data.py", "g = -bt - tt * (WA * Wt).sum(-1)",
      "g = -bt + tt * (WA * Wt).sum(-1)", "to_initial_data: sign of the quadratic term of g"),
    M("core-26", "core/initial_data.py", "b = -data.g - (Ainv_y * data.y).sum(-1) / (4 * tt)",
      "b = -data.g - (Ainv_y * data.y).sum(-1) / (2 * tt)", "from_initial_data: /(2t) instead of /(4t)"),
    # ---------------------------------------------------------------- core/derivatives.py
    M("core-27", "core/derivatives.py", "return ref, shift, (dev * p[..., None]).transpose(-1, -2) @ dev",
      "return ref, shift, (omega * p[..., None]).transpose(-1, -2) @ omega",
      "uncentred covariance (second moment about the top row)"),
    M("core-28", "core/derivatives.py", "return _moments(p, Wt)[2] / e", "return _moments(p, Wt)[2] * e",
      "layer Hessian: Cov·eps instead of Cov/eps"),
    M("core-29", "core/derivatives.py", "return data.apply_inverse((xt - ref) - shift) / (2 * tt)",
      "return data.apply_inverse((xt - ref) - shift) / (4 * tt)", "∇u: 1/(4t) instead of 1/(2t)"),
    M("core-30", "core/derivatives.py", "return ut + e * data.dim / (2 * tt) if normalized else ut",
      "return ut + e * data.dim / tt if normalized else ut",
      "normalised u_t: eps d/t instead of eps d/(2t) (missing 1/2)"),
    M("core-31", "core/derivatives.py", "ut = -(p * D).sum(-1) / tt", "ut = -(p * D).sum(-1)",
      "u_t: E_π[D] instead of E_π[D]/t (a missing 1/t)"),
    M("core-32", "core/derivatives.py", "return base - Ainv @ cov @ Ainv / (4 * tt * tt * e)",
      "return base + Ainv @ cov @ Ainv / (4 * tt * tt * e)", "∇²u: sign of the covariance term"),
    M("core-33", "core/derivatives.py", "base = (Ainv / (2 * tt))", "base = (Ainv / (4 * tt))",
      "∇²u: A⁻¹/(4t) instead of A⁻¹/(2t)"),
    M("core-34", "core/derivatives.py", "return _gibbs(-(data.g + D), e, mode, -1), D",
      "return _gibbs(-(data.g - D), e, mode, -1), D", "closed-form weights: sign of the transport cost"),
    M("core-35", "core/tropical.py", "    return at + bt", "    return at * bt",
      "tropical multiplication as ordinary product"),
    M("core-36", "core/tropical.py", "return p[..., 0] - p[..., 1]", "return p[..., 0]",
      "tanh_eps = π₊ only (no − π₋)"),
    M("core-37", "core/tropical.py", "torch.zeros_like(zt), eps)[..., 0]", "torch.zeros_like(zt), eps)[..., 1]",
      "sigmoid_eps takes the weight of the zero logit"),
    # ---------------------------------------------------------------- attribution
    M("attr-01", "attribution/gibbs.py", "top_value = (f_without - f_shift) / eps",
      "top_value = (f_without - f_shift)", "deletion of the top neuron: missing 1/eps"),
    M("attr-02", "attribution/gibbs.py", "top_value.expand_as(z), torch.log1p(-pi))",
      "top_value.expand_as(z), torch.log1p(pi))", "deletion: log(1 + π) instead of log(1 − π)"),
    M("attr-03", "attribution/gibbs.py", "return eps * _log_one_minus_pi(z, eps, mode)",
      "return _log_one_minus_pi(z, eps, mode)", "deletion influence misses the eps factor"),
    M("attr-04", "attribution/gibbs.py", "return torch.where(top, drop.expand_as(z), torch.zeros_like(z))",
      "return torch.where(top, torch.zeros_like(z), drop.expand_as(z))",
      "tropical deletion: effect put on the non-top neurons"),
    M("attr-05", "attribution/gibbs.py", "h = H / math.log(n) if n > 1", "h = H / math.log2(n) if n > 1",
      "normalised entropy divides by log2 N"),
    M("attr-06", "attribution/gibbs.py", "regime = (h >= PARTICLE_BELOW).long() + (h >= WAVE_ABOVE).long()",
      "regime = (h >= WAVE_ABOVE).long() + (h >= PARTICLE_BELOW).long() * 0",
      "regime codes: the particle/mixed boundary is lost"),
    M("attr-07", "attribution/gibbs.py", "check = (f - ((pi * z).sum(-1) + eps * H)).abs()",
      "check = (f - ((pi * z).sum(-1) - eps * H)).abs()", "self-check T2 with − eps H"),
    M("attr-08", "attribution/averager.py", "rest = pi * (v - F[..., None]) / (1 - pi)",
      "rest = pi * (v - F[..., None])", "leave-one-out: missing 1/(1 − π_k)"),
    M("attr-09", "attribution/averager.py", "top_row = pi * (v - F_wo_top[..., None])",
      "top_row = pi * (v - F[..., None])", "leave-one-out of the top atom uses F instead of F₋top"),
    M("attr-10", "attribution/averager.py", "rest = p * (v - F[..., None, :]) / (1 - p)",
      "rest = p * (v - F[..., None, :]) / (1 + p)", "vector leave-one-out: 1/(1 + π)"),
    M("attr-11", "attribution/averager.py", "return math.sqrt(2 * float(self.eps) * self.t)",
      "return math.sqrt(float(self.eps) * self.t)", "bandwidth √(eps t) instead of √(2 eps t)"),
    M("attr-12", "attribution/averager.py", "W, b = from_initial_data(data, self.t)",
      "W, b = from_initial_data(data, 1.0)", "GibbsAverager ignores its time t"),
    M("attr-13", "attribution/averager.py", "if g is None else as_tensor(g, \"g\")",
      "if g is None else -as_tensor(g, \"g\")", "GibbsAverager: sign of the initial values g"),
    M("attr-14", "attribution/hallucination.py", "bound = eps * torch.log1p((n - 1) * torch.exp(-gap / eps))",
      "bound = eps * torch.log1p(n * torch.exp(-gap / eps))", "sharpened T1 bound with N instead of N − 1"),
    M("attr-15", "attribution/hallucination.py", "ratio = gap / (eps * math.log(n))",
      "ratio = gap / eps", "extrapolation ratio misses log N"),
    M("attr-16", "attribution/hallucination.py", "radius = math.sqrt(2 * e * tt)",
      "radius = math.sqrt(e * tt)", "diffusion radius √(eps t) instead of √(2 eps t)"),
    M("attr-17", "attribution/hallucination.py", "atoms = 2 * tt * W", "atoms = tt * W",
      "atoms of a layer at y = tW instead of 2tW"),
    # ---------------------------------------------------------------- bifurcation
    M("bif-01", "bifurcation/landscape.py", "grad = -(pdz[:, None, :] @ dw)[:, 0] / eps**2",
      "grad = -(pdz[:, None, :] @ dw)[:, 0] / eps", "∇H: 1/eps instead of 1/eps²"),
    M("bif-02", "bifurcation/landscape.py", "grad = -(pdz[:, None, :] @ dw)[:, 0] / eps**2",
      "grad = (pdz[:, None, :] @ dw)[:, 0] / eps**2", "∇H: sign flip"),
    M("bif-03", "bifurcation/landscape.py", "hess = -(cov + third / eps) / eps**2",
      "hess = -(cov - third / eps) / eps**2", "∇²H: sign of the third-moment term"),
    M("bif-04", "bifurcation/landscape.py", "dgrad = -2 * grad +", "dgrad = -grad +",
      "∂∇H/∂log eps: −∇H instead of −2∇H"),
    M("bif-05", "bifurcation/landscape.py", "dz = zeta - (pi * zeta).sum(-1, keepdim=True)",
      "dz = zeta", "uncentred logits z − z_top instead of z − z̄"),
    M("bif-06", "bifurcation/landscape.py", "torch.topk(pi, 2, -1).values[:, 1]",
      "torch.topk(pi, 2, -1).values[:, 0]", "second weight reads the largest weight"),
    M("bif-07", "bifurcation/critical.py", "kind = torch.where(neg == 0, MINIMUM, torch.where(neg == d, MAXIMUM, SADDLE))",
      "kind = torch.where(neg == 0, MAXIMUM, torch.where(neg == d, MINIMUM, SADDLE))",
      "classification: minima and maxima swapped"),
    M("bif-08", "bifurcation/critical.py", "det = a * e - b * c", "det = a * e + b * c",
      "2×2 solve: wrong determinant sign"),
    M("bif-09", "bifurcation/critical.py", "inside = ((x >= box[:, 0]) & (x <= box[:, 1])).all(-1)",
      "inside = ((x >= box[:, 0]) & (x <= box[:, 1])).any(-1)", "a point inside the box in any coordinate counts"),
    M("bif-10", "bifurcation/critical.py", "keep = _dedupe(x, merge_tol * diag)",
      "keep = torch.arange(x.shape[0])", "no de-duplication of converged starts"),
    M("bif-11", "bifurcation/critical.py", "plateau = second < plateau_tol", "plateau = second > plateau_tol",
      "plateau test inverted"),
    M("bif-12", "bifurcation/critical.py", "degenerate = lam.abs().amin(-1) <= rel_tol * scale",
      "degenerate = lam.abs().amax(-1) <= rel_tol * scale", "degenerate test on the largest eigenvalue"),
    M("bif-13", "bifurcation/continuation.py", "sign = -1 if f.turning_to == \"lower\" else 1",
      "sign = 1 if f.turning_to == \"lower\" else -1", "fold events: direction of the count change flipped"),
    M("bif-14", "bifurcation/continuation.py", "cross = ((a < 0) & (c >= 0)) | ((a >= 0) & (c < 0))",
      "cross = ((a < 0) & (c >= 0))", "counts: only crossings in increasing eps"),
    M("bif-15", "bifurcation/continuation.py", "if np.sign(dets[i]) != np.sign(dets[i + 1]) and",
      "if np.sign(dets[i]) == np.sign(dets[i + 1]) and", "fold detection: sign test inverted"),
    # ---------------------------------------------------------------- robustness
    M("rob-01", "robustness/curvature.py", "cols.append(m.scale[c].abs() * lam / m.eps[c])",
      "cols.append(m.scale[c].abs() * lam)", "curvature: missing 1/eps"),
    M("rob-02", "robustness/curvature.py", "cols.append(m.scale[c].abs() * lam / m.eps[c])",
      "cols.append(m.scale[c] * lam / m.eps[c])", "curvature: output weight without |·| (negative norms)"),
    M("rob-03", "robustness/curvature.py", "k = (r / safe.sqrt()) ** 2", "k = r / safe",
      "curvature bound R/eps instead of R²/eps"),
    M("rob-04", "robustness/curvature.py", "r = m.W.norm(dim=-1).amax(-1)", "r = m.W.norm(dim=-1).amin(-1)",
      "row-norm bound with the smallest row"),
    M("rob-05", "robustness/curvature.py", "r = torch.minimum(r, head_radii(m, \"row-norm\"))",
      "r = torch.maximum(r, head_radii(m, \"row-norm\"))", "enclosing-ball radius replaced by the looser row norm"),
    M("rob-06", "robustness/_spectral.py", "out[s:s + step] = torch.linalg.eigvalsh(G)[:, -1] * a * a",
      "out[s:s + step] = torch.linalg.eigvalsh(G)[:, 0] * a * a", "exact engine: smallest eigenvalue"),
    M("rob-07", "robustness/_spectral.py", "out[s:s + step] = torch.linalg.eigvalsh(G)[:, -1] * a * a",
      "out[s:s + step] = torch.linalg.eigvalsh(G)[:, -1] * a", "exact engine: scale applied once, not squared"),
    M("rob-08", "robustness/_spectral.py", "dmu = p_off @ W - p_off.sum(-1, keepdim=True) * W_top",
      "dmu = p_off @ W", "centring: δμ misses the top-row correction"),
    M("rob-09", "robustness/_model.py", "Wc = self.W - self.W.mean(1, keepdim=True)",
      "Wc = self.W - self.W.mean(0, keepdim=True)", "Gibbs weights: mean row over the wrong axis"),
    M("rob-10", "robustness/_model.py", "return self.scale[:, None] * torch.einsum(\"...cn,cnd->...cd\", self.gibbs(x), self.W)",
      "return torch.einsum(\"...cn,cnd->...cd\", self.gibbs(x), self.W)", "head gradient misses the output weight"),
    M("rob-11", "robustness/certify.py", "s = math.sqrt(2) * _sqrt0(", "s = _sqrt0(",
      "second-order radius: √(G² + βm) instead of √(G² + 2βm)"),
    M("rob-12", "robustness/certify.py", "r2 = torch.where(den > 0, 2 * (mm /", "r2 = torch.where(den > 0, (mm /",
      "second-order radius misses the factor 2"),
    M("rob-13", "robustness/certify.py", "G = torch.minimum(G, L)", "G = torch.maximum(G, L)",
      "gradient norm clipped up to the Lipschitz bound"),
    M("rob-14", "robustness/certify.py", "r = torch.maximum(r, torch.maximum(r1, r2))",
      "r = torch.minimum(r, torch.maximum(r1, r2))", "combined radius replaced by max(r1, r2) (looser)"),
    M("rob-15", "robustness/certify.py", "beta_c = part(-a, kappa)", "beta_c = part(a, kappa)",
      "one-sided curvature: convex part of the winner counted"),
    M("rob-16", "robustness/certify.py", "betas = beta_c[pred][:, None] + beta_r[None, :]",
      "betas = torch.maximum(beta_c[pred][:, None], beta_r[None, :])",
      "pair curvature: max instead of sum (unsound)"),
    M("rob-17", "robustness/certify.py", "beta = (a[0].abs() * kappa[0]).expand(B)",
      "beta = (kappa[0]).expand(B)", "single head: β ignores the output weight"),
    M("rob-18", "robustness/certify.py", "u = torch.finfo(m.dtype).eps", "u = 0.0 * torch.finfo(m.dtype).eps",
      "no round-off allowance in margins"),
    M("rob-19", "robustness/certify.py", "gdiff = (grads[ar, pred][:, None, :] - grads).norm(dim=-1)",
      "gdiff = (grads[ar, pred][:, None, :] + grads).norm(dim=-1)", "margin gradient with + instead of −"),
    M("rob-20", "robustness/certify.py", "quad = G * r + 0.5 * torch.where(", "quad = G * r + torch.where(",
      "guaranteed-margin drop: βr² instead of βr²/2"),
    M("rob-21", "robustness/ball.py", "r = float(np.sqrt(((P[S] - c) ** 2).sum(-1).max()))",
      "r = float(np.sqrt(((P[S] - c) ** 2).sum(-1).min()))", "ball radius from the nearest support point"),
    M("rob-22", "robustness/ball.py", "return lam @ Kl - k @ lam, 2 * Kl - k",
      "return lam @ Kl - k @ lam, Kl - k", "dual objective with a wrong gradient"),
    # ---------------------------------------------------------------- scaling
    M("scal-01", "scaling/intrinsic.py", ".sum(1) / (k - 1)  #", ".sum(1) / (k - 2)  #",
      "Levina–Bickel: (k − 2) instead of (k − 1) for the averaged inverse estimate"),
    M("scal-02", "scaling/intrinsic.py", "inv = np.log(T[:, -1:] / T[:, :-1])",
      "inv = np.log(T[:, :-1] / T[:, -1:])", "Levina–Bickel: log(T_j/T_k) (sign flip)"),
    M("scal-03", "scaling/intrinsic.py", "    return 1.0 / mean", "    return float((1.0 / inv).mean())",
      "Levina–Bickel: averages per-point dimensions instead of inverses"),
    M("scal-04", "scaling/intrinsic.py", "F = np.arange(1, n + 1) / n", "F = np.arange(0, n) / n",
      "TwoNN: empirical CDF off by one"),
    M("scal-05", "scaling/intrinsic.py", "x, y = np.log(mu[:keep]), -np.log1p(-F[:keep])",
      "x, y = np.log(mu[:keep]), np.log1p(-F[:keep])", "TwoNN: sign of −log(1 − F)"),
    M("scal-06", "scaling/intrinsic.py", "return (mu.size - 1) / s", "return mu.size / s",
      "TwoNN MLE: n instead of n − 1 (biased)"),
    M("scal-07", "scaling/intrinsic.py", "return dist[:, 1:]", "return dist[:, :-1]",
      "k-NN distances include the point itself"),
    M("scal-08", "scaling/power_law.py", "dof = int(keep.sum()) - 2", "dof = int(keep.sum()) - 1",
      "power-law fit: n − 1 degrees of freedom for a two-parameter line"),
    M("scal-09", "scaling/power_law.py", "se = math.sqrt(sigma2 / sxx)", "se = math.sqrt(sigma2) / sxx",
      "slope standard error: σ/Sxx instead of σ/√Sxx"),
    M("scal-10", "scaling/power_law.py", "q = stats.t.ppf(0.5 + confidence / 2, dof)",
      "q = stats.norm.ppf(0.5 + confidence / 2)", "interval with normal instead of Student t quantiles"),
    M("scal-11", "scaling/power_law.py", "scale = 1.4826 * np.median(", "scale = np.median(",
      "robust fit: MAD without the 1.4826 consistency factor"),
    M("scal-12", "scaling/power_law.py", "se = (hi - lo) / (2 * stats.norm.ppf(", "se = (hi - lo) / (1 * stats.norm.ppf(",
      "Theil–Sen SE: full width instead of half width"),
    M("scal-13", "scaling/power_law.py", "PowerLawFit(slope, float(math.exp(intercept))",
      "PowerLawFit(slope, float(intercept)", "prefactor is the log-intercept"),
    M("scal-14", "scaling/epsilon.py", "return _scalar_or_array(n ** (-1.0 / d))",
      "return _scalar_or_array(n ** (-2.0 / d))", "eps* = N^(−2/d) instead of N^(−1/d)"),
    M("scal-15", "scaling/epsilon.py", "return _scalar_or_array(1.0 / d)", "return _scalar_or_array(2.0 / d)",
      "alpha = 2/d instead of 1/d"),
]


# --------------------------------------------------------------------------------------------
def _snapshot(dest: Path) -> None:
    """Copy what the tests need (not .git, .venv, caches or runs) into ``dest``."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", ".pytest_cache")
    for name in ("src", "tests", "docs"):
        if (ROOT / name).exists():
            shutil.copytree(ROOT / name, dest / name, ignore=ignore, symlinks=True)
    for name in ("pyproject.toml", "README.md"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, dest / name)


def _apply(src_root: Path, mutant: Mutant) -> str | None:
    """Apply ``mutant`` in ``src_root`` (a copy); returns None, or why it is stale."""
    path = src_root / "hjdl" / mutant.file
    if not path.exists():
        return f"{mutant.file} is missing"
    text = path.read_text(encoding="utf-8")
    n = text.count(mutant.old)
    if n != 1:
        return f"pattern occurs {n} times in {mutant.file}"
    path.write_text(text.replace(mutant.old, mutant.new), encoding="utf-8")
    return None


def _env(src: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(src) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env.setdefault(var, "1")
    env.setdefault("MPLBACKEND", "Agg")
    return env


def _run(cmd: list[str], cwd: Path, env: dict, timeout: float) -> tuple[int | None, str, float]:
    """Run ``cmd`` in its own process group; rc None on timeout (the group is killed)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out, time.perf_counter() - t0
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return None, out, time.perf_counter() - t0
    except BaseException:  # interrupted: take the test run down with us
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise


def _pytest_cmd(package: str, doctest_file: Path | None, root: Path, with_experiments: bool,
                deselect: list[str] = (), stop_first: bool = True) -> list[str]:
    cmd = [sys.executable, "-m", "pytest", "-q", "-rfE", "-n", "0", "-p", "no:cacheprovider",
           "-p", "no:randomly", "--no-header", "-o", "addopts=", "--doctest-modules"]
    cmd += ["-x"] if stop_first else []
    for node in deselect:
        cmd += ["--deselect", node]
    cmd += test_files(package, root, with_experiments)
    if doctest_file is not None:
        cmd.append(str(doctest_file))
    return cmd


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    failed = [ln for ln in lines if ln.startswith(("FAILED", "ERROR"))]
    return (failed[0] if failed else lines[-1] if lines else "")[:200]


def run_mutant(mutant: Mutant, snap: Path, work: Path, timeout: float, verify: bool,
               with_experiments: bool = False, deselect: list[str] = ()) -> dict:
    mdir = Path(tempfile.mkdtemp(prefix=f"{mutant.id}-", dir=work))
    src = mdir / "src"
    shutil.copytree(snap / "src", src)
    record = {"id": mutant.id, "package": mutant.package, "file": mutant.file, "what": mutant.what,
              "equivalent": mutant.equivalent, "old": mutant.old, "new": mutant.new}
    stale = _apply(src, mutant)
    if stale:
        shutil.rmtree(mdir, ignore_errors=True)
        return {**record, "status": "stale", "detail": stale, "seconds": 0.0}
    env = _env(src)
    rc, out, secs = _run(_pytest_cmd(mutant.package, src / "hjdl" / mutant.file, snap, with_experiments,
                                     deselect), snap, env, timeout)
    if rc is None:
        status, detail = "timeout", f"tests ran past {timeout:.0f} s"
    elif rc in (1, 2, 3):  # failures, interrupted (collection/import error), internal error
        status, detail = "killed", _last_line(out)
    elif rc == 0:
        status, detail = "survived", ""
    else:
        status, detail = "invalid", f"pytest exit code {rc}: {_last_line(out)}"
    record["killed_by"] = "tests" if status in ("killed", "timeout") else None
    if status == "survived" and verify and mutant.package == "core":
        vrc, vout, vsecs = _run([sys.executable, "-m", "hjdl", "verify"], snap, env, timeout)
        secs += vsecs
        if vrc != 0:
            status, record["killed_by"], detail = "killed", "verify", _last_line(vout)
    shutil.rmtree(mdir, ignore_errors=True)
    return {**record, "status": status, "detail": detail, "seconds": round(secs, 1)}


def run_control(package: str, snap: Path, timeout: float, with_experiments: bool = False) -> dict:
    env = _env(snap / "src")
    probe = subprocess.run([sys.executable, "-c", "import hjdl; print(hjdl.__file__)"], cwd=snap, env=env,
                           capture_output=True, text=True)
    where = probe.stdout.strip()
    if not where.startswith(str(snap / "src")):
        return {"package": package, "ok": False, "detail": f"hjdl imported from {where!r}, not the copy"}
    rc, out, secs = _run(_pytest_cmd(package, None, snap, with_experiments, stop_first=False),
                         snap, env, timeout)
    # tests that fail on the unmutated tree (work in progress elsewhere) cannot kill a mutant:
    # they are deselected from the mutant runs and listed
    failing = [ln.split(" ", 1)[1].split(" - ", 1)[0].strip() for ln in out.splitlines()
               if ln.startswith("FAILED ")]
    ok = rc == 0 or (rc == 1 and bool(failing) and not any(ln.startswith("ERROR ") for ln in out.splitlines()))
    return {"package": package, "ok": ok, "seconds": round(secs, 1), "deselected": failing,
            "detail": "" if rc == 0 else f"exit code {rc}: {_last_line(out)}"}


def markdown(summary: dict) -> str:
    """The summary as Markdown: the rate per package, then every survivor with its diff."""
    lines = [f"# Mutation testing: {summary['killed']}/{summary['counted']} = {100 * summary['kill_rate']:.1f} % "
             "of non-equivalent mutants killed (goal >= 90 %)", "",
             f"Commit {summary['commit']}{' with local changes' if summary['dirty'] else ''}, "
             f"{summary['seconds'] / 60:.0f} min. `make mutants` (tools/mutants.py) reruns it.", "",
             "| package | killed / counted |", "| --- | --- |"]
    lines += [f"| {p} | {c['killed']}/{c['counted']} |" for p, c in summary["by_package"].items()]
    by_id = {r["id"]: r for r in summary["results"]}
    lines += ["", "## Survivors (no test failed)", ""]
    for rid in summary["survivors"]:
        r = by_id[rid]
        lines += [f"- **{rid}** `{r['file']}`: {r['what']}  ",
                  f"  `{r['old'].strip()}` → `{r['new'].strip()}`"]
    if not summary["survivors"]:
        lines.append("none")
    verify = [r for r in summary["results"] if r.get("killed_by") == "verify"]
    if verify:
        lines += ["", "## Killed only by `hjdl verify` (the tests let them through)", ""]
        lines += [f"- **{r['id']}** `{r['file']}`: {r['what']}" for r in verify]
    eq = [by_id[i] for i in summary["equivalent"]]
    if eq:
        lines += ["", "## Equivalent (excluded from the rate)", ""]
        lines += [f"- **{r['id']}** ({r['status']}): {r['what']}: {r['equivalent']}" for r in eq]
    for key in ("stale", "invalid"):
        if summary[key]:
            lines += ["", f"## {key.capitalize()} (not counted)", ""]
            lines += [f"- **{i}**: {by_id[i]['detail']}" for i in summary[key]]
    deselected = {p: c.get("deselected") for p, c in summary["controls"].items() if c.get("deselected")}
    if deselected:
        lines += ["", "## Tests failing on the unmutated tree (deselected from the mutant runs)", ""]
        lines += [f"- {p}: " + ", ".join(f"`{n}`" for n in nodes) for p, nodes in deselected.items()]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="+", metavar="ID", help="run only these mutants")
    ap.add_argument("--package", nargs="+", choices=PACKAGES, help="run only these packages' mutants")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per mutant (default 900)")
    ap.add_argument("--jobs", type=int, default=1, help="mutants run at the same time (default 1)")
    ap.add_argument("--no-control", action="store_true", help="skip the unmutated control runs")
    ap.add_argument("--verify", action="store_true", help="also run 'hjdl verify' on surviving core mutants")
    ap.add_argument("--with-experiments", action="store_true",
                    help="also run the packages' end-to-end experiment tests (much slower)")
    ap.add_argument("--json", default="mutants.json", metavar="PATH", help="summary file (default mutants.json)")
    ap.add_argument("--markdown", default=None, metavar="PATH", help="also write the summary as Markdown")
    ap.add_argument("--from-json", default=None, metavar="PATH",
                    help="run nothing: render --markdown from an earlier summary")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = ap.parse_args(argv)

    ids = [m.id for m in MUTANTS]
    assert len(ids) == len(set(ids)), "duplicate mutant ids"
    chosen = [m for m in MUTANTS if (not args.only or m.id in args.only)
              and (not args.package or m.package in args.package)]
    if args.only:
        unknown = sorted(set(args.only) - set(ids))
        if unknown:
            ap.error(f"unknown mutant id(s) {', '.join(unknown)}")
    if args.from_json:
        text = markdown(json.loads(Path(args.from_json).read_text(encoding="utf-8")))
        if args.markdown:
            Path(args.markdown).write_text(text, encoding="utf-8")
        else:
            print(text, end="")
        return 0
    if args.list:
        for m in chosen:
            print(f"{m.id:8} {m.file:32} {m.what}" + (f"  [equivalent: {m.equivalent}]" if m.equivalent else ""))
        return 0

    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hjdl-mutants-") as tmp:
        work = Path(tmp)
        snap = work / "snapshot"
        _snapshot(snap)
        try:
            commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                    text=True).stdout.strip()
            dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "src", "tests"],
                                        cwd=ROOT, capture_output=True, text=True).stdout.strip())
        except OSError:
            commit, dirty = "", None
        packages = sorted({m.package for m in chosen}, key=PACKAGES.index)
        controls = {}
        if not args.no_control:
            for p in packages:
                controls[p] = c = run_control(p, snap, args.timeout, args.with_experiments)
                print(f"control {p:12} {'ok' if c['ok'] else 'FAILED'} {c.get('seconds', '')}s {c['detail']}"
                      + (f" (deselected for the mutants: {', '.join(c['deselected'])})" if c.get("deselected") else ""),
                      flush=True)
        results = []
        with futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
            jobs = [pool.submit(run_mutant, m, snap, work, args.timeout, args.verify, args.with_experiments,
                                controls.get(m.package, {}).get("deselected", [])) for m in chosen]
            for job in futures.as_completed(jobs):
                r = job.result()
                results.append(r)
                tag = " (equivalent)" if r["equivalent"] else ""
                print(f"{r['id']:8} {r['status']:8}{tag} {r['seconds']:6.1f}s  {r['what']}"
                      + (f"  | {r['detail']}" if r["status"] != "killed" and r["detail"] else ""), flush=True)
    results.sort(key=lambda r: ids.index(r["id"]))

    bad_controls = {p for p, c in controls.items() if not c["ok"]}
    counted = [r for r in results if not r["equivalent"] and r["status"] in ("killed", "timeout", "survived")
               and r["package"] not in bad_controls]
    killed = [r for r in counted if r["status"] in ("killed", "timeout")]
    survivors = [r for r in counted if r["status"] == "survived"]
    rate = len(killed) / len(counted) if counted else float("nan")
    by_package = {}
    for p in packages:
        cp = [r for r in counted if r["package"] == p]
        by_package[p] = {"counted": len(cp), "killed": sum(r["status"] != "survived" for r in cp)}
    summary = {
        "commit": commit, "dirty": dirty, "seconds": round(time.perf_counter() - t_start, 1),
        "mutants": len(results), "counted": len(counted), "killed": len(killed), "kill_rate": rate,
        "goal": 0.9, "by_package": by_package, "controls": controls,
        "equivalent": [r["id"] for r in results if r["equivalent"]],
        "stale": [r["id"] for r in results if r["status"] == "stale"],
        "invalid": [r["id"] for r in results if r["status"] == "invalid"],
        "survivors": [r["id"] for r in survivors],
        "results": results,
    }
    Path(args.json).write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if args.markdown:
        Path(args.markdown).write_text(markdown(summary), encoding="utf-8")

    print()
    print(f"kill rate {len(killed)}/{len(counted)} = {100 * rate:.1f} % of non-equivalent mutants "
          f"(goal >= 90 %), commit {commit}{' + local changes' if dirty else ''}, "
          f"{summary['seconds'] / 60:.1f} min")
    for p, c in by_package.items():
        print(f"  {p:12} {c['killed']}/{c['counted']}" + ("  (control FAILED: not counted)" if p in bad_controls else ""))
    if survivors:
        print("survivors:")
        for r in survivors:
            print(f"  {r['id']:8} {r['file']}: {r['what']}")
    for key in ("stale", "invalid"):
        if summary[key]:
            print(f"{key}: {', '.join(summary[key])}")
    print(f"summary written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
