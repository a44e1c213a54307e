"""What each view shows at one eps: plain numbers computed by hjdl, cached per eps.

Each ``*_state(m, eps)`` returns ``{"sources": {name: {column: list}}, "numbers": {key: float}}``:
the columns feed the plots, the numbers are printed in the page (and read back by the browser
tests). Every value comes from a library function (``hjdl.lse_layer``, ``hjdl.layer_weights``,
``hjdl.entropy``, ``hjdl.bifurcation``, ``hjdl.robustness``, ``hjdl.scaling``); nothing here
re-derives a formula. States are cached per (model, eps rounded to 12 significant digits), so
a slider that comes back to a value answers from memory; the same states are embedded by the
exporter, so the server and the exported page show identical numbers.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

import hjdl
from ..bifurcation import continuation, critical_points, entropy_landscape
from ..bifurcation.critical import KINDS
from ..robustness import certify, curvature, curvature_bound
from ..scaling import epsilon_star
from .model import ExploreModel, eps_grid

__all__ = ["key", "deformation_state", "particle_state", "particle_static", "folds_state", "folds_static",
           "robustness_state", "robustness_static", "N_LINE", "N_MAP"]

#: Points along the deformation line, and per axis of the entropy map.
N_LINE = 200
N_MAP = 36


def key(eps: float) -> float:
    """The cache key of a temperature: eps rounded to 12 significant digits."""
    return float(f"{float(eps):.12g}")


def _list(t) -> list:
    return np.asarray(t.detach().cpu() if isinstance(t, torch.Tensor) else t, dtype=float).tolist()


def _line(m: ExploreModel) -> tuple[np.ndarray, torch.Tensor]:
    """The deformation line ``x(s) = x0 + s u`` (``u`` the view plane's first direction) across the box."""
    half = float(np.max(m.bounds[:, 1] - m.bounds[:, 0])) / 2
    s = np.linspace(-half, half, N_LINE)
    X = m.x0[None, :] + torch.as_tensor(s)[:, None] * m.plane[1][None, :]
    return s, X


def _plane_grid(m: ExploreModel) -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
    """``N_MAP × N_MAP`` points of the view plane covering the box (in plane coordinates a, c)."""
    if m.d == 1:
        lo, hi = m.bounds[0]
        a = np.linspace(lo, hi, N_MAP)
        return a, np.zeros(1), torch.as_tensor(a)[:, None]
    if m.d == 2:
        a = np.linspace(*m.bounds[0], N_MAP)
        c = np.linspace(*m.bounds[1], N_MAP)
    else:
        P = (m.W - m.plane[0]) @ m.plane[1:].T  # atoms in plane coordinates
        lo, hi = P.min(0).values.numpy(), P.max(0).values.numpy()
        pad = 0.25 * (hi - lo)
        a = np.linspace(lo[0] - pad[0], hi[0] + pad[0], N_MAP)
        c = np.linspace(lo[1] - pad[1], hi[1] + pad[1], N_MAP)
    A, C = np.meshgrid(a, c)  # rows: c, columns: a (image layout)
    X = (m.plane[0][None, :] + torch.as_tensor(A.ravel())[:, None] * m.plane[1][None, :]
         + torch.as_tensor(C.ravel())[:, None] * m.plane[2][None, :])
    return a, c, X


def _plane_coords(m: ExploreModel, x: torch.Tensor) -> torch.Tensor:
    """Coordinates of points ``(..., d)`` in the view plane."""
    if m.d == 2:
        return x
    return (x - m.plane[0]) @ m.plane[1:].T


# ---------------------------------------------------------------- deformation
@lru_cache(maxsize=512)
def _deformation(m: ExploreModel, eps: float) -> dict:
    s, X = _line(m)
    lse = hjdl.lse_layer(X, m.W, m.b, eps)
    top = hjdl.lse_layer(X, m.W, m.b, 0.0)  # the tropical limit: the eps = 0 branch of the kernel
    band = eps * math.log(m.N)
    f0 = float(hjdl.lse_layer(m.x0, m.W, m.b, eps))
    t0 = float(hjdl.lse_layer(m.x0, m.W, m.b, 0.0))
    return {"sources": {"dfm_curve": {"s": s.tolist(), "lse": _list(lse), "max": _list(top),
                                      "upper": _list(top + band)},
                        "dfm_point": {"s": [0.0], "lse": [f0], "max": [t0]}},
            "numbers": {"eps": eps, "lse": f0, "max": t0, "gap": f0 - t0, "band": band,
                        "max_gap": float((lse - top).max())}}


def deformation_state(m: ExploreModel, eps: float) -> dict:
    """``LSE_eps`` and its tropical limit ``max_j (W_j x + b_j)`` along a line through ``x0``.

    Numbers: ``lse`` and ``max`` at ``x0``, their ``gap``, the ``band`` ``eps log N`` that bounds
    the gap (``0 <= LSE_eps - max <= eps log N``), the largest gap on the line (``max_gap``).
    """
    return _deformation(m, key(eps))


# ---------------------------------------------------------------- particle <-> wave
@lru_cache(maxsize=64)
def particle_static(m: ExploreModel) -> dict:
    """``H(x0; eps)`` over the eps grid and ``eps* = N^{-1/d}`` (independent of the slider)."""
    grid = eps_grid(m, 81)
    z = (m.W @ m.x0 + m.b).expand(len(grid), m.N)  # the logits at x0, one row per eps
    H = hjdl.entropy(hjdl.gibbs(z, torch.as_tensor(grid)))  # eps (E,): one per row
    return {"eps": grid.tolist(), "H": _list(H), "eps_star": float(epsilon_star(m.N, m.d)),
            "log_n": math.log(m.N)}


@lru_cache(maxsize=512)
def _particle(m: ExploreModel, eps: float) -> dict:
    p = hjdl.layer_weights(m.x0, m.W, m.b, eps)
    H = float(hjdl.entropy(p))
    a, c, X = _plane_grid(m)
    Hmap = hjdl.entropy(hjdl.layer_weights(X, m.W, m.b, eps))
    atoms = _plane_coords(m, m.W)
    x0 = _plane_coords(m, m.x0[None])[0]
    image = Hmap.reshape(len(c), len(a)).numpy()
    static = particle_static(m)
    return {"sources": {
                "pw_bars": {"j": list(range(m.N)), "p": _list(p)},
                "pw_map": {"x": np.tile(a, len(c)).tolist(), "y": np.repeat(c, len(a)).tolist(),
                           "H": image.ravel().tolist()},
                "pw_atoms": {"x": _list(atoms[:, 0]), "y": _list(atoms[:, 1] if m.d > 1 else atoms[:, 0] * 0),
                             "p": _list(p)},
                "pw_x0": {"x": [float(x0[0])], "y": [float(x0[1]) if m.d > 1 else 0.0]},
                "pw_now": {"eps": [eps], "H": [H]}},
            "numbers": {"eps": eps, "H": H, "H_norm": H / math.log(m.N), "p_max": float(p.max()),
                        "argmax": float(int(p.argmax())), "eps_star": static["eps_star"],
                        "map_min": float(Hmap.min()), "map_max": float(Hmap.max())}}


def particle_state(m: ExploreModel, eps: float) -> dict:
    """Gibbs weights at ``x0`` (one bar per neuron), the entropy map over the view plane,
    and the current point on ``H(x0; eps)``. Numbers: ``H``, ``H/log N``, the largest weight and
    its neuron, ``eps*``."""
    return _particle(m, key(eps))


# ---------------------------------------------------------------- fold bifurcations
def fold_range(m: ExploreModel) -> tuple[float, float]:
    grid = eps_grid(m)
    return float(grid[0]), float(grid[-1])


@lru_cache(maxsize=16)
def line_layer(m: ExploreModel) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """The layer restricted to the line ``x0 + s u``: a 1-D LSE layer, exactly
    ``W' = W u``, ``b' = W x0 + b`` (``W_j·(x0 + s u) + b_j = (W_j·u) s + W_j·x0 + b_j``), and the
    range of ``s`` the deformation view draws."""
    s, _ = _line(m)
    return (m.W @ m.plane[1])[:, None], m.W @ m.x0 + m.b, np.array([[s[0], s[-1]]])


@lru_cache(maxsize=16)
def folds_static(m: ExploreModel) -> dict:
    """The continuation diagram of ``H`` along the line, over the slider's eps range (once per model)."""
    lo, hi = fold_range(m)
    W1, b1, box = line_layer(m)
    dg = continuation((W1, b1, m.eps0), lo, hi, box, n_anchors=12, n_full=2)
    xs, es, kinds = [], [], []
    for br in dg.branches:
        kind = np.asarray(br.kind).ravel()
        x = np.asarray(br.x)[:, 0]
        e = np.asarray(br.eps)
        # one segment per run of equal kind, so that each segment carries one colour
        cuts = np.flatnonzero(np.diff(kind)) + 1
        for seg in np.split(np.arange(len(kind)), cuts):
            if len(seg):
                xs.append(x[seg].tolist())
                es.append(e[seg].tolist())
                kinds.append(KINDS[int(kind[seg[0]])])
    folds = {"eps": [float(f.eps) for f in dg.folds], "x": [float(np.asarray(f.x).ravel()[0]) for f in dg.folds]}
    return {"branches": {"x": xs, "eps": es, "kind": kinds}, "folds": folds, "eps_min": lo, "eps_max": hi,
            "s_min": float(box[0, 0]), "s_max": float(box[0, 1])}


@lru_cache(maxsize=512)
def _folds(m: ExploreModel, eps: float) -> dict:
    W1, b1, box = line_layer(m)
    layer = (W1, b1, eps)
    cp = critical_points(layer, bounds=box, n_grid=24, n_fine=300)
    kinds = [KINDS[k] for k in cp.kind.tolist()]
    counts = cp.counts()
    s = np.linspace(box[0, 0], box[0, 1], 400)
    L = entropy_landscape(layer, torch.as_tensor(s)[:, None])
    static = folds_static(m)
    return {"sources": {"fd_crit": {"x": _list(cp.x[:, 0]), "H": _list(cp.H), "kind": kinds},
                        "fd_land": {"x": s.tolist(), "H": _list(L.H)},
                        "fd_now": {"eps": [eps, eps], "x": [static["s_min"], static["s_max"]]}},
            "numbers": {"eps": eps, "n_critical": float(cp.x.shape[0]),
                        "minima": float(counts.get("minimum", 0)), "saddles": float(counts.get("saddle", 0)),
                        "maxima": float(counts.get("maximum", 0)), "n_folds": float(len(static["folds"]["eps"]))}}


def folds_state(m: ExploreModel, eps: float) -> dict:
    """The entropy landscape ``H(s; eps)`` along the line ``x0 + s u`` and its critical points
    (:func:`hjdl.bifurcation.critical_points` on the restricted layer); numbers: how many minima,
    saddles and maxima, how many folds the diagram has."""
    return _folds(m, key(eps))


# ---------------------------------------------------------------- robustness
def _threshold(m: ExploreModel) -> float:
    """The regression threshold certified against: the tropical value at the box centre."""
    centre = torch.as_tensor(m.bounds.mean(1))
    return float(hjdl.lse_layer(centre, m.W, m.b, 0.0))


@lru_cache(maxsize=16)
def robustness_static(m: ExploreModel) -> dict:
    """Curvature at ``x0``, both curvature bounds and the certified radius over the eps grid."""
    grid = eps_grid(m, 61)
    thr = _threshold(m)
    curv, ball, row, rad = [], [], [], []
    for e in grid:  # one model per eps: the functions take one temperature per head
        t = m.at(e)
        curv.append(float(curvature(t, m.x0[None])[0]))
        ball.append(float(curvature_bound(t, "enclosing-ball")))
        row.append(float(curvature_bound(t, "row-norm")))
        rad.append(float(certify(t, m.x0, threshold=thr).radius))
    return {"eps": grid.tolist(), "curvature": curv, "bound": ball, "row_norm": row, "radius": rad,
            "threshold": thr}


@lru_cache(maxsize=512)
def _robustness(m: ExploreModel, eps: float) -> dict:
    t = m.at(eps)
    thr = _threshold(m)
    kappa = float(curvature(t, m.x0[None])[0])
    bound = float(curvature_bound(t, "enclosing-ball"))
    cert = certify(t, m.x0, threshold=thr)
    r = float(cert.radius)
    return {"sources": {"rb_now": {"eps": [eps], "curvature": [kappa], "bound": [bound],
                                   "radius": [r]}},
            "numbers": {"eps": eps, "curvature": kappa, "bound": bound,
                        "row_norm": float(curvature_bound(t, "row-norm")), "radius": r,
                        "radius_first": float(cert.radius_first_order), "threshold": thr}}


def robustness_state(m: ExploreModel, eps: float) -> dict:
    """Curvature ``‖∇²f(x0)‖₂`` against the eps-controlled bound ``R²/eps`` and the certified
    radius at ``x0`` (:func:`hjdl.robustness.certify`, threshold: the tropical value at the box
    centre)."""
    return _robustness(m, key(eps))


# ---------------------------------------------------------------- attention
#: The small transformer of the attention view (random weights from a config: no download).
TINY_GPT2 = dict(n_layer=3, n_head=4, n_embd=32, vocab_size=96, n_positions=64, initializer_range=0.5,
                 bos_token_id=0, eos_token_id=0)
ATTENTION_TOKENS = 24


@lru_cache(maxsize=4)
def attention_model(folder: str | None = None):
    """``(model, inputs, name)``: a Hugging Face checkpoint folder, or a tiny GPT-2 from a config
    with random weights (seed 0). The inputs are ``ATTENTION_TOKENS`` token ids drawn with seed 0."""
    import transformers

    if folder is None:
        torch.manual_seed(0)
        cfg = transformers.GPT2Config(**TINY_GPT2, attn_implementation="eager")
        model = transformers.GPT2LMHeadModel(cfg)
        name = "tiny GPT-2 from a config, random weights (seed 0)"
    else:
        model = transformers.AutoModel.from_pretrained(folder, attn_implementation="eager")
        name = f"checkpoint {folder}"
    model.eval()
    vocab = int(getattr(model.config, "vocab_size", 96))
    ids = torch.randint(0, vocab, (1, ATTENTION_TOKENS), generator=torch.Generator().manual_seed(0))
    return model, {"input_ids": ids}, name


@lru_cache(maxsize=4)
def attention_state(folder: str | None = None) -> dict:
    """Mean normalised entropy ``H / log(visible keys)`` per (layer, head) from
    :func:`hjdl.probe.probe_attention`, and every head's attention map (first sequence)."""
    from ..probe import probe_attention

    model, inputs, name = attention_model(folder)
    rec = probe_attention(model, inputs, keep_weights=True)
    layers, heads, values, maps = [], [], [], {}
    for lp in rec.layers:
        per_head = getattr(lp, "head_normalized_entropy", None)
        if per_head is None:  # older records: .entropy was the normalised entropy
            per_head = getattr(lp, "normalized_entropy", lp.entropy).mean(dim=(0, 2))
        for h, v in enumerate(per_head.tolist()):
            layers.append(lp.layer)
            heads.append(h)
            values.append(float(v))
            maps[(lp.layer, h)] = lp.weights[0, h].double().numpy()
    return {"layer": layers, "head": heads, "H_norm": values, "maps": maps, "name": name,
            "n_layers": len(rec.layers), "n_heads": max(heads) + 1 if heads else 0}


def attention_map_source(st: dict, layer: int, head: int) -> dict:
    """One head's attention map as flat columns (query row, key column, weight)."""
    A = st["maps"][(layer, head)]
    Q, K = A.shape
    return {"q": np.repeat(np.arange(Q), K).tolist(), "k": np.tile(np.arange(K), Q).tolist(),
            "w": A.ravel().tolist()}


# ---------------------------------------------------------------- training
def training_data(n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """The 1-D convex target the training view fits: ``|x| + x²/4`` on ``[-2, 2]``."""
    x = np.linspace(-2.0, 2.0, n)
    return x[:, None], np.abs(x) + x ** 2 / 4


@lru_cache(maxsize=64)
def training_state(eps: float, width: int, depth: int, max_iter: int = 300) -> dict:
    """Fit :class:`hjdl.training.HJRegressor` (seed 0) and read what the theory says of the fit:
    the loss curve, the recovered initial data ``(y_j, g_j)`` (one layer only) and the forward
    HJ evolution ``u(x, s)`` (:func:`hjdl.hopf_cole`) next to :func:`hjdl.hopf_lax` at several s."""
    from ..training import HJRegressor

    X, y = training_data()
    reg = HJRegressor(width=int(width), hidden=(int(width),) * int(depth), eps=float(eps), max_iter=int(max_iter),
                      lr=0.05, random_state=0, n_threads=1).fit(X, y)
    pred = reg.predict(X)
    out = {"sources": {"tr_loss": {"step": list(range(len(reg.loss_curve_))), "loss": [float(v) for v in reg.loss_curve_]},
                       "tr_fit": {"x": X[:, 0].tolist(), "y": y.tolist(), "pred": np.asarray(pred, float).tolist()}},
           "numbers": {"eps": float(reg.eps_), "width": float(width), "depth": float(depth),
                       "loss": float(reg.loss_), "n_iter": float(reg.n_iter_)}}
    data = getattr(reg, "initial_data_", None)
    if depth == 0 and data is not None:
        out["sources"]["tr_atoms"] = {"y": _list(data.y[:, 0]), "g": _list(data.g)}
        xs = torch.linspace(-3, 3, 200, dtype=torch.float64)[:, None]
        cols = {"x": xs[:, 0].tolist()}
        for i, s in enumerate((0.25, 0.5, 1.0)):
            cols[f"hc{i}"] = _list(hjdl.hopf_cole(xs, data, float(reg.eps_), t=s))
            cols[f"hl{i}"] = _list(hjdl.hopf_lax(xs, data, t=s))
        out["sources"]["tr_hj"] = cols
        out["numbers"]["hj_gap_max"] = max(float(np.max(np.abs(np.subtract(cols[f"hc{i}"], cols[f"hl{i}"]))))
                                           for i in range(3))
    else:
        out["sources"]["tr_atoms"] = {"y": [], "g": []}
        out["sources"]["tr_hj"] = {"x": [], **{f"hc{i}": [] for i in range(3)}, **{f"hl{i}": [] for i in range(3)}}
    return out
