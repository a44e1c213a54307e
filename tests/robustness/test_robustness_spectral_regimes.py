"""Lanczos curvature engine (compiled and torch forms) vs a per-point float64 NumPy ``eigvalsh``
oracle across regimes (particle / mixed / wave eps, N < d and N > d, an exactly degenerate top
eigenvalue)."""

import numpy as np
import pytest
import torch

from hjdl.robustness import _spectral, curvature


@pytest.fixture(autouse=True, params=["compiled", "torch"])
def engine(request, monkeypatch):
    """Every check here runs on both forms of the Lanczos engine: the compiled kernel (numba)
    and the batched torch process."""
    if request.param == "compiled" and _spectral.compiled_kernel() is None:
        pytest.skip("numba is not installed: the compiled Lanczos kernel is unavailable")
    monkeypatch.setattr(_spectral, "USE_COMPILED", request.param == "compiled")
    return request.param


def _oracle(W, b, eps, x):
    """Per point, the two-pass centred covariance in extended precision (NumPy longdouble), then
    float64 ``eigvalsh``: accurate even where π is nearly one-hot."""
    out = np.empty(len(x))
    Wl = W.astype(np.longdouble)
    for i, xi in enumerate(x):  # the oracle loops over points on purpose
        z = (Wl @ xi + b) / eps
        p = np.exp(z - z.max())
        p /= p.sum()
        Wc = Wl - p @ Wl
        out[i] = np.linalg.eigvalsh(((Wc.T * p) @ Wc).astype(np.float64))[-1] / eps
    return out


@pytest.mark.parametrize("eps", [0.02, 0.05, 1.0, 10.0])
@pytest.mark.parametrize("N,d", [(128, 50), (30, 60)])
def test_lanczos_matches_eigvalsh_across_regimes(eps, N, d):
    rng = np.random.default_rng(N + d)
    W = rng.normal(size=(N, d)) / np.sqrt(d)
    b = 0.1 * rng.normal(size=N)
    x = rng.normal(size=(400, d))
    got = curvature(tuple(map(torch.from_numpy, (W, b))) + (eps,), torch.from_numpy(x),
                    method="lanczos").numpy()
    ref = _oracle(W, b, eps, x)
    # relative agreement above a floor of ~5 ulp of max|W_j|²/eps (the products' own rounding)
    floor = 1e-15 * float((W * W).sum(1).max()) / eps
    big = ref > floor
    assert big.mean() > 0.5
    assert np.all(np.abs(got[big] - ref[big]) <= 1e-10 * ref[big]), np.max(np.abs(got[big] / ref[big] - 1))
    assert np.all(np.abs(got[~big] - ref[~big]) <= floor)


def _degenerate_rows(rng, d, split=0.0):
    """Rows closed under negation, the swap of axes 0 and 1 and sign flips of either (with
    ``b = 0`` and ``x_0 = x_1 = 0`` the top eigenvalue is double); ``split`` lengthens the ±3e_1
    rows so that the pair separates by a relative gap of order ``split``."""
    base = rng.normal(size=(5, d)) / np.sqrt(d)
    rows = [3 * np.eye(d)[0], -3 * np.eye(d)[0], 3 * (1 + split) * np.eye(d)[1],
            -3 * (1 + split) * np.eye(d)[1]]
    for v in base:
        for sw in (False, True):
            for f0 in (1, -1):
                for f1 in (1, -1):
                    w = v.copy()
                    if sw:
                        w[[0, 1]] = w[[1, 0]]
                    w[0] *= f0
                    w[1] *= f1
                    rows.append(w)
    return np.array(rows)


def test_lanczos_degenerate_top_eigenvalue():
    # rows closed under negation, swapping axes 0/1 and flipping axis 0; points with x_0 = x_1 = 0
    # and b = 0 give symmetric Gibbs weights, so the (0, 1) block of Cov is a multiple of I and
    # (made dominant by the ±3e_0, ±3e_1 rows) the top eigenvalue is exactly double
    rng = np.random.default_rng(5)
    d = 30
    W = _degenerate_rows(rng, d)
    b = np.zeros(len(W))
    x = rng.normal(size=(200, d))
    x[:, :2] = 0
    for eps in (0.3, 1.0, 5.0):
        ref = _oracle(W, b, eps, x)
        got = curvature((torch.from_numpy(W), torch.from_numpy(b), eps), torch.from_numpy(x),
                        method="lanczos").numpy()
        assert np.all(np.abs(got - ref) <= 1e-10 * ref), np.max(np.abs(got / ref - 1))
    # the construction really is degenerate at the top
    z = W @ x[0]
    p = np.exp(z - z.max())
    p /= p.sum()
    Wc = W - p @ W
    ev = np.linalg.eigvalsh((Wc.T * p) @ Wc)
    assert abs(ev[-1] - ev[-2]) <= 1e-12 * ev[-1]


@pytest.mark.parametrize("split", [1e-9, 1e-7, 1e-5, 1e-3])
def test_lanczos_nearly_degenerate_top_eigenvalue(split):
    # the residual rule cannot see a tiny gap: the top pair must be resolved before a point stops
    # (a float32 warm start failed this at split 1e-9 and 1e-7 with errors of the split's size)
    rng = np.random.default_rng(11)
    d = 60
    W = _degenerate_rows(rng, d, split)
    b = np.zeros(len(W))
    x = rng.normal(size=(150, d))
    x[:, :2] = 0
    ref = _oracle(W, b, 1.0, x)
    got = curvature((torch.from_numpy(W), torch.from_numpy(b), 1.0), torch.from_numpy(x),
                    method="lanczos").numpy()
    assert np.all(np.abs(got - ref) <= 1e-10 * ref), np.max(np.abs(got / ref - 1))


@pytest.mark.parametrize("scale,eps", [(1e18, 1e18), (1e-18, 1e-18), (1.0, 1e-3), (1.0, 0.004)])
def test_lanczos_extreme_scales_and_concentration(scale, eps):
    # W far from unit scale, and π so concentrated that the off-top weights are tiny
    rng = np.random.default_rng(3)
    N, d = 96, 40
    W = rng.normal(size=(N, d)) / np.sqrt(d)
    b = 0.1 * rng.normal(size=N)
    x = rng.normal(size=(200, d))
    ref = _oracle(W * scale, b * scale, eps, x) if scale != 1.0 else _oracle(W, b, eps, x)
    got = curvature((torch.from_numpy(W * scale), torch.from_numpy(b * scale), eps),
                    torch.from_numpy(x), method="lanczos").numpy()
    floor = 1e-15 * float((W * W).sum(1).max()) * scale * scale / eps
    big = ref > floor
    assert big.any()
    assert np.all(np.abs(got[big] - ref[big]) <= 1e-10 * ref[big]), np.max(np.abs(got[big] / ref[big] - 1))
    assert np.all(np.abs(got[~big] - ref[~big]) <= floor)



@pytest.mark.parametrize("gap", [1e-9, 1e-7, 1e-5, 1e-3])
@pytest.mark.parametrize("spread", [0.01, 0.1])
def test_lanczos_close_pair_in_a_crowded_spectrum(gap, spread):
    # Cov with prescribed spectrum 1 + gap, 1, then the rest within `spread` below 1 (slow
    # filtering): rows ±√(λ_i d) R e_i with π uniform (b = 0, x = 0)
    d, B = 60, 120
    rng = np.random.default_rng(0)
    R, _ = np.linalg.qr(rng.normal(size=(d, d)))
    lam = np.concatenate([[1 + gap, 1.0], 1.0 - spread * np.arange(1, d - 1) / (d - 2)])
    s = np.sqrt(lam * d)
    W = np.concatenate([np.diag(s), -np.diag(s)]) @ R.T
    x = torch.zeros(B, d, dtype=torch.float64)
    got = curvature((torch.from_numpy(W), torch.zeros(2 * d, dtype=torch.float64), 1.0), x,
                    method="lanczos").numpy()
    ref = np.linalg.eigvalsh(W.T @ W / (2 * d))[-1]
    assert abs(ref / (1 + gap) - 1) <= 1e-14
    if gap >= 1e-5:  # resolved: the 1e-10 contract
        assert np.all(np.abs(got - ref) <= 1e-10 * ref), np.max(np.abs(got / ref - 1))
    else:  # documented limitation: between the pair, error at most the gap
        assert np.all((got >= (1 - 1e-12) * 1.0) & (got <= ref * (1 + 1e-12)))


def test_lanczos_rarely_stops_at_the_second_eigenvalue():
    # 20,000 random starts on one crowded spectrum with a 1e-4 top gap: a start with a tiny
    # component along the top eigenvector converges to the second eigenvalue first. With the
    # residual rule at 1e-7 six of these solves stopped there; at 1e-9 none does.
    d, gap = 30, 1e-4
    rng = np.random.default_rng(0)
    lam = np.concatenate([[1.0, 1 - gap], (1 - 2 * gap) * 0.97 ** np.arange(d - 2)])
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    R = (Q * np.sqrt(lam * d)).T                    # rows ±R: Cov = Q diag(lam) Qᵀ at π uniform
    W = torch.tensor(np.vstack([R, -R]))
    got = curvature((W, torch.zeros(2 * d, dtype=torch.float64), 1.0),
                    torch.zeros(20_000, d, dtype=torch.float64), method="lanczos")
    assert int(((got - 1).abs() > 1e-10).sum()) == 0


@pytest.mark.parametrize("s", [1e-150, 1e-30, 1e30, 1e150])
def test_lanczos_is_scale_free(s):
    # scaling W, b and eps by s scales the Hessian by s: a tiny or huge covariance must not lose
    # digits (β² underflowed at s = 1e-100 before the engine worked in units of tr Cov)
    g = torch.Generator().manual_seed(0)
    W = torch.randn(40, 30, generator=g, dtype=torch.float64)
    b = torch.randn(40, generator=g, dtype=torch.float64)
    x = torch.randn(50, 30, generator=g, dtype=torch.float64)
    ref = curvature((W, b, 1.0), x, method="eigh")
    got = curvature((W * s, b * s, s), x, method="lanczos") / s
    assert float((got / ref - 1).abs().max()) <= 1e-12
    got32 = curvature((W.float() * 1e-15, b.float() * 1e-15, 1e-15), x.float()) / 1e-15
    assert float((got32.double() / ref - 1).abs().max()) <= 1e-4


def test_float32_subnormal_gibbs_weights_do_not_break_eigh():
    # the only off-top weight is subnormal in float32 (~7e-45): the Gram matrix was made of
    # subnormals and LAPACK's eigh failed to converge (a raw LinAlgError)
    g = torch.Generator().manual_seed(1)
    for _ in range(20):
        W = torch.randn(60, 60, generator=g)
        W = W / W.norm(dim=1, keepdim=True)
        b = torch.full((60,), -50.0)
        b[0], b[1] = 0.0, -1.017
        for method in ("eigh", "lanczos"):
            got = curvature((W, b, 0.01), torch.zeros(60), method=method)
            # unit rows: 0 <= ‖∇²f‖ <= max_j |W_j|²/eps = 1/eps (THEORY §6)
            assert torch.isfinite(got) and 0 <= float(got) <= (1 + 1e-5) / 0.01


def test_common_offset_does_not_cancel():
    # rows = a common offset 1e8 times their spread: Cov does not see the offset, but products
    # with W_j (as in (W_j − W_t)·q) cancel; Lanczos must match eigh on the same model (it
    # returned values off by 100 % before rows were shifted by their mean)
    rng = np.random.default_rng(2)
    base = rng.normal(size=(40, 30)) / np.sqrt(30)
    W = torch.from_numpy(base + 1e8 * rng.normal(size=30))
    b = torch.zeros(40, dtype=torch.float64)
    x = torch.from_numpy(rng.normal(size=(60, 30)))
    ref = curvature((W, b, 1.0), x, method="eigh")
    got = curvature((W, b, 1.0), x, method="lanczos")
    assert float((got / ref - 1).abs().max()) <= 1e-10


def test_weight_on_a_copy_of_the_top_row_keeps_the_trace():
    # half the weight on an exact copy of the top row, the rest tiny: the expanded squared
    # distances |W_j|² − 2W_j·W_t + |W_t|² cancelled to a trace <= 0 in float32 (value 0
    # returned where the curvature is ~1e-6); distances from differences keep it
    rng = np.random.default_rng(3)
    for trial in range(10):
        W = rng.standard_normal((40, 30)) * 3
        W[1] = W[0]
        b = np.full(40, -1e3)
        b[0] = b[1] = 0.0
        b[2] = -rng.uniform(15, 30)
        args = (torch.tensor(W, dtype=torch.float32), torch.tensor(b, dtype=torch.float32), 1.0)
        x = torch.zeros(1, 30)
        ref = curvature(args, x, method="eigh")
        got = curvature(args, x, method="lanczos")
        assert float(ref) > 0 and abs(float(got / ref) - 1) <= 1e-4


@pytest.mark.parametrize("method", ["eigh", "lanczos"])
def test_common_offset_costs_no_digits_of_the_gibbs_weights(method):
    # rows sharing an offset 1e6 times their spread: π does not see it, but logits W_j·x
    # computed with it lost ~|offset||x| u of their differences (2.9e-9 relative curvature error)
    rng = np.random.default_rng(7)
    N, d = 64, 30
    W = rng.normal(size=(N, d)) / np.sqrt(d) + 1e6 * rng.normal(size=d)
    b = 0.1 * rng.normal(size=N)
    x = rng.normal(size=(100, d))
    Wl = W.astype(np.longdouble)
    ref = np.empty(len(x))
    for i, xi in enumerate(x):  # extended-precision oracle, offset removed exactly in longdouble
        z = (Wl - Wl.mean(0)) @ xi + b
        p = np.exp(z - z.max())
        p /= p.sum()
        Wc = Wl - p @ Wl
        ref[i] = np.linalg.eigvalsh(((Wc.T * p) @ Wc).astype(np.float64))[-1]
    got = curvature((torch.from_numpy(W), torch.from_numpy(b), 1.0), torch.from_numpy(x),
                    method=method).numpy()
    assert np.max(np.abs(got / ref - 1)) <= 1e-10


def test_engines_report_which_ran_and_agree(engine):
    g = torch.Generator().manual_seed(4)
    W = torch.randn(70, 40, generator=g, dtype=torch.float64)
    p = torch.softmax(torch.randn(300, 70, generator=g, dtype=torch.float64), -1)
    stats: dict = {}
    got = _spectral._top_eig_lanczos(p, W - W.mean(0), stats=stats)
    assert stats["engine"] == engine and stats["point_steps"] > 0
    ref = _spectral._top_eig_eigh(p, W - W.mean(0))
    assert float((got / ref - 1).abs().max()) <= 1e-10


def test_points_that_do_not_stop_are_finished_by_eigh(engine, monkeypatch):
    # with rules that can never hold, every point runs min(N, d) steps and is flagged: the
    # values must then come from eigh (not from an unfinished process, nor NaN)
    monkeypatch.setattr(_spectral, "_TOL", 0.0)
    monkeypatch.setattr(_spectral, "_STILL", -1.0)
    g = torch.Generator().manual_seed(6)
    W = torch.randn(50, 30, generator=g, dtype=torch.float64)
    p = torch.softmax(3 * torch.randn(64, 50, generator=g, dtype=torch.float64), -1)
    stats: dict = {}
    got = _spectral._top_eig_lanczos(p, W, stats=stats)
    assert stats["eigh_points"] > 0 and torch.isfinite(got).all()
    ref = _spectral._top_eig_eigh(p, W)
    assert float((got / ref - 1).abs().max()) <= 1e-12


def test_float32_inputs_keep_their_dtype(engine):
    # float32 weights: the compiled kernel works in float64 (its value is float64 eigh's on the
    # same float32 inputs, correctly rounded to float32: within 2⁻²⁴ relative); the torch
    # engine works in float32 (1e-4, its tolerances scaled from float64's by √u)
    g = torch.Generator().manual_seed(8)
    W = torch.randn(60, 40, generator=g)
    p = torch.softmax(2 * torch.randn(200, 60, generator=g), -1)
    got = _spectral._top_eig_lanczos(p, W - W.mean(0))
    assert got.dtype == torch.float32
    ref = _spectral._top_eig_eigh(p.double(), (W - W.mean(0)).double())
    err = float((got.double() / ref - 1).abs().max())
    assert err <= (2.0 ** -24 * (1 + 1e-6) if engine == "compiled" else 1e-4), err


def test_without_numba_the_torch_engine_runs(monkeypatch):
    # numba missing (its import fails): compiled_kernel() says so and Lanczos runs in torch
    import sys

    monkeypatch.setitem(sys.modules, "numba", None)
    import hjdl.robustness

    monkeypatch.delitem(sys.modules, "hjdl.robustness._lanczos_kernel", raising=False)
    monkeypatch.delattr(hjdl.robustness, "_lanczos_kernel", raising=False)
    monkeypatch.setattr(_spectral, "_KERNEL", False)
    assert _spectral.compiled_kernel() is None
    g = torch.Generator().manual_seed(2)
    W = torch.randn(40, 30, generator=g, dtype=torch.float64)
    p = torch.softmax(torch.randn(20, 40, generator=g, dtype=torch.float64), -1)
    stats: dict = {}
    got = _spectral._top_eig_lanczos(p, W, stats=stats)
    assert stats["engine"] == "torch"
    assert float((got / _spectral._top_eig_eigh(p, W) - 1).abs().max()) <= 1e-10


def test_a_forked_child_runs_the_torch_engine():
    # an OpenMP pool does not survive fork(): numba's parallel launch hung in a forked child, so
    # a child (set to one torch thread, as DataLoader workers are) must run the torch engine
    import os

    if _spectral.compiled_kernel() is None or not hasattr(os, "fork"):
        pytest.skip("needs numba and os.fork")
    g = torch.Generator().manual_seed(3)
    W = torch.randn(40, 30, generator=g, dtype=torch.float64)
    p = torch.softmax(torch.randn(50, 40, generator=g, dtype=torch.float64), -1)
    ref = _spectral._top_eig_eigh(p, W)
    _spectral._top_eig_lanczos(p, W)            # the parent uses the kernel
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report the engine and the agreement, then leave without cleanup
        try:
            torch.set_num_threads(1)
            stats: dict = {}
            got = _spectral._top_eig_lanczos(p, W, stats=stats)
            ok = stats["engine"] == "torch" and float((got / ref - 1).abs().max()) <= 1e-10
            os.write(w, b"ok" if ok else b"bad")
        finally:
            os._exit(0)
    os.close(w)
    import select

    ready, _, _ = select.select([r], [], [], 60.0)   # a hung child fails the test, not the run
    msg = os.read(r, 16) if ready else b"hung"
    if not ready:
        os.kill(pid, 9)
    os.waitpid(pid, 0)
    os.close(r)
    assert msg == b"ok"


@pytest.mark.parametrize("eps", [0.05, 1.0])
def test_without_the_distance_table(monkeypatch, eps):
    # above _DIST_TABLE neurons the row distances come from differences (no N × N table): the
    # same values as the oracle, concentrated π included
    monkeypatch.setattr(_spectral, "_DIST_TABLE", 8)
    rng = np.random.default_rng(12)
    N, d = 40, 30
    W = rng.normal(size=(N, d)) / np.sqrt(d)
    b = 0.1 * rng.normal(size=N)
    x = rng.normal(size=(120, d))
    got = curvature((torch.from_numpy(W), torch.from_numpy(b), eps), torch.from_numpy(x),
                    method="lanczos").numpy()
    ref = _oracle(W, b, eps, x)
    floor = 1e-15 * float((W * W).sum(1).max()) / eps
    big = ref > floor
    assert big.any()
    assert np.all(np.abs(got[big] - ref[big]) <= 1e-10 * ref[big]), np.max(np.abs(got[big] / ref[big] - 1))
    assert np.all(np.abs(got[~big] - ref[~big]) <= floor)


def test_compiled_kernel_keeps_blas_single_threaded(engine, monkeypatch):
    # the kernel's threads call BLAS on their chunks: a multi-threaded OpenBLAS inside them
    # printed "Detect OpenMP Loop and this application may hang" and ran 18x slower (800 × 800
    # layer); every BLAS library must be at one thread while the kernel runs, and back after
    if engine != "compiled":
        pytest.skip("a check of the compiled kernel")
    kernel = _spectral.compiled_kernel()
    seen = []
    original = kernel.lanczos_top

    def spy(*args):
        seen.extend(lib["num_threads"] for lib in kernel.blas_controller().info()
                    if lib["user_api"] == "blas")
        return original(*args)

    monkeypatch.setattr(kernel, "lanczos_top", spy)
    before = kernel.blas_controller().info()
    g = torch.Generator().manual_seed(0)
    W = torch.randn(60, 40, generator=g, dtype=torch.float64)
    p = torch.softmax(torch.randn(100, 60, generator=g, dtype=torch.float64), -1)
    got = _spectral._top_eig_lanczos(p, W, compiled=True)
    assert seen and set(seen) == {1}
    assert kernel.blas_controller().info() == before
    assert float((got / _spectral._top_eig_eigh(p, W) - 1).abs().max()) <= 1e-10


@pytest.mark.parametrize("scale", [1e155, 1e-155])
def test_huge_and_tiny_rows_with_concentrated_weights(scale):
    # max|W| = 1e155: the engine's unit s² overflows on its own (inf was returned) while λ,
    # with π this concentrated (1 − π_t ~ e⁻²⁰), is finite
    W = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 0.5]], dtype=torch.float64) * scale
    b = torch.zeros(3, dtype=torch.float64)
    x = torch.tensor([[20.0 / scale, 0.0], [30.0 / scale, 0.0], [25.0 / scale, 5.0 / scale]],
                     dtype=torch.float64)
    ref = curvature((W, b, 1.0), x, method="eigh")
    got = curvature((W, b, 1.0), x, method="lanczos")
    assert torch.isfinite(ref).all() and (ref > 0).all()
    assert float((got / ref - 1).abs().max()) <= 1e-10


def test_concurrent_calls_from_two_threads(engine):
    # compiled calls are serialised by a lock (numba's workqueue layer aborts on concurrent
    # launches); results must equal the sequential ones
    from concurrent.futures import ThreadPoolExecutor

    g = torch.Generator().manual_seed(13)
    W = torch.randn(64, 40, generator=g, dtype=torch.float64)
    b = torch.randn(64, generator=g, dtype=torch.float64)
    xs = [torch.randn(300, 40, generator=g, dtype=torch.float64) for _ in range(4)]
    seq = [curvature((W, b, 0.7), x, method="lanczos") for x in xs]
    with ThreadPoolExecutor(2) as ex:
        par = list(ex.map(lambda x: curvature((W, b, 0.7), x, method="lanczos"), xs))
    for a, c in zip(seq, par):
        assert torch.equal(a, c)
