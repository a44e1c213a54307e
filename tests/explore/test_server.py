"""The served explorer in headless Chromium: each view loads, the eps slider moves it, and the
numbers printed in the page equal independent computations (torch's softmax / logsumexp /
autograd Hessian, finite differences), not the explorer's own code path."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from explore_browser import click_plot, free_port, move_slider, number, open_tab, shown_eps, wait_ready

from hjdl.explore import states as S
from hjdl.explore.model import eps_grid, example_model

REL = 1e-10  # the page prints repr(float): equal up to float64 rounding of independent formulas


@pytest.fixture(scope="module")
def model():
    return example_model()


@pytest.fixture(scope="module")
def server(model):
    from hjdl.explore.server import serve

    # warm the caches the first page needs (the static curves and the states at eps0)
    for name in ("deformation", "particle", "folds", "robustness"):
        getattr(S, f"{name}_state")(model, model.eps0)
    try:
        S.attention_state(None)
    except ImportError:
        pass
    S.training_state(0.1, 8, 0)
    port = free_port()
    thread = serve(model, port=port, show=False, threaded=True)
    yield f"http://127.0.0.1:{port}/"
    thread.stop()


@pytest.fixture
def page(browser, server):
    pg = browser.new_page(viewport={"width": 1280, "height": 1000})
    outside = []
    pg.on("request", lambda r: outside.append(r.url) if not r.url.startswith(("http://127.0.0.1", "ws://127.0.0.1",
                                                                                 "data:", "blob:")) else None)
    pg.goto(server, timeout=120_000)
    wait_ready(pg, timeout=120_000)
    yield pg
    assert outside == [], f"requests left localhost: {outside}"
    pg.close()


def _logits(m, x=None):
    x = m.x0 if x is None else x
    return m.W @ x + m.b


def _check_deformation(pg, m, eps):
    z = _logits(m)
    assert number(pg, "deformation", "eps") == eps
    lse = eps * torch.logsumexp(z / eps, 0)
    assert number(pg, "deformation", "lse") == pytest.approx(float(lse), rel=REL)
    assert number(pg, "deformation", "max") == pytest.approx(float(z.max()), rel=REL)
    band = number(pg, "deformation", "band")
    assert band == pytest.approx(eps * math.log(m.N), rel=REL)
    assert 0 <= number(pg, "deformation", "gap") <= band
    assert 0 <= number(pg, "deformation", "max_gap") <= band


def test_deformation_follows_the_slider(page, model, artifacts):
    grid = eps_grid(model)
    assert shown_eps(page) == pytest.approx(model.eps0, rel=1e-11)
    _check_deformation(page, model, shown_eps(page))
    eps = move_slider(page, 4, grid)
    assert eps > model.eps0
    _check_deformation(page, model, eps)
    eps = move_slider(page, -9, grid)
    _check_deformation(page, model, eps)
    page.screenshot(path=str(artifacts / "explore-deformation.png"), full_page=True)


def _check_particle(pg, m, eps):
    p = torch.softmax(_logits(m) / eps, 0)
    H = float(-(p * torch.log(p)).sum())
    assert number(pg, "particle", "H") == pytest.approx(H, rel=1e-9)
    assert number(pg, "particle", "H_norm") == pytest.approx(H / math.log(m.N), rel=1e-9)
    assert number(pg, "particle", "p_max") == pytest.approx(float(p.max()), rel=1e-9)
    assert number(pg, "particle", "argmax") == int(p.argmax())
    assert number(pg, "particle", "eps_star") == pytest.approx(m.N ** (-1 / m.d), rel=1e-12)
    assert 0 <= number(pg, "particle", "map_min") <= number(pg, "particle", "map_max") <= math.log(m.N) + 1e-12


def test_particle_wave_follows_the_slider(page, model, artifacts):
    grid = eps_grid(model)
    open_tab(page, "Particle ↔ wave", "particle")
    _check_particle(page, model, shown_eps(page))
    low = move_slider(page, -12, grid)  # particle side: entropy falls
    _check_particle(page, model, low)
    H_low = number(page, "particle", "H")
    high = move_slider(page, 20, grid)  # wave side
    _check_particle(page, model, high)
    assert number(page, "particle", "H") > H_low
    page.screenshot(path=str(artifacts / "explore-particle.png"), full_page=True)


def _critical_counts(m, eps):
    """Minima and maxima of H along the view's line, from sign changes of a finite-difference
    derivative of the entropy of torch.softmax on a fine grid (independent of hjdl.bifurcation)."""
    W1, b1, box = S.line_layer(m)
    s = torch.linspace(float(box[0, 0]), float(box[0, 1]), 40001, dtype=torch.float64)
    p = torch.softmax((s[:, None] * W1[:, 0][None, :] + b1[None, :]) / eps, 1)
    H = -(p * torch.log(p.clamp_min(1e-300))).sum(1)
    sign = np.sign(np.diff(H.numpy()))
    flips = np.diff(sign)
    return int((flips > 0).sum()), int((flips < 0).sum())


def test_folds_follow_the_slider(page, model, artifacts):
    grid = eps_grid(model)
    open_tab(page, "Fold bifurcations", "folds")
    for steps in (0, -10, -8):
        eps = move_slider(page, steps, grid) if steps else shown_eps(page)
        minima, maxima = _critical_counts(model, eps)
        assert number(page, "folds", "minima") == minima, eps
        assert number(page, "folds", "maxima") == maxima, eps
    assert number(page, "folds", "n_folds") >= 1  # the example has folds in the slider's range
    page.screenshot(path=str(artifacts / "explore-folds.png"), full_page=True)


def _check_robustness(pg, m, eps):
    x0 = m.x0.clone()

    def f(x):
        return eps * torch.logsumexp((m.W @ x + m.b) / eps, 0)

    hess = torch.autograd.functional.hessian(f, x0)
    kappa = float(torch.linalg.eigvalsh(hess).abs().max())
    assert number(pg, "robustness", "curvature") == pytest.approx(kappa, rel=1e-8)
    row = float((m.W ** 2).sum(1).max()) / eps
    assert number(pg, "robustness", "row_norm") == pytest.approx(row, rel=1e-12)
    bound = number(pg, "robustness", "bound")
    # R^2/eps with R the smallest enclosing radius: half the diameter <= R <= max distance to the mean
    diam = float(torch.cdist(m.W, m.W).max())
    assert (diam / 2) ** 2 / eps * (1 - 1e-9) <= bound <= float(((m.W - m.W.mean(0)) ** 2).sum(1).max()) / eps
    assert kappa <= bound * (1 + 1e-9)
    # the certified radius: no point of the ball changes the side of the threshold
    r, thr = number(pg, "robustness", "radius"), number(pg, "robustness", "threshold")
    g = torch.Generator().manual_seed(0)
    u = torch.randn(4000, m.d, generator=g, dtype=torch.float64)
    u = u / u.norm(dim=1, keepdim=True) * r * torch.rand(4000, 1, generator=g, dtype=torch.float64) ** 0.5
    vals = torch.stack([f(x0 + v) for v in u])
    side = float(f(x0)) > thr
    assert bool(((vals > thr) == side).all())


def test_robustness_follows_the_slider(page, model, artifacts):
    grid = eps_grid(model)
    open_tab(page, "Robustness", "robustness")
    _check_robustness(page, model, shown_eps(page))
    eps = move_slider(page, 6, grid)
    _check_robustness(page, model, eps)
    page.screenshot(path=str(artifacts / "explore-robustness.png"), full_page=True)


def test_server_error_is_shown_in_the_page(browser, server, model, monkeypatch):
    """A failure while computing a state reaches the page's error banner, not only the log."""
    real = S.deformation_state

    def broken(m, eps):
        if abs(eps - m.eps0) > 1e-9 * m.eps0:
            raise RuntimeError("state failed on purpose")
        return real(m, eps)

    monkeypatch.setattr(S, "deformation_state", broken)
    pg = browser.new_page()
    try:
        pg.goto(server, timeout=120_000)
        wait_ready(pg, timeout=120_000)
        assert pg.locator("#hj-error").get_attribute("data-error") == ""
        move_slider(pg, 1, eps_grid(model))
        banner = pg.locator("#hj-error")
        assert banner.get_attribute("data-error") == "1"
        assert "state failed on purpose" in banner.inner_text()
    finally:
        pg.close()


def test_attention_heads_match_the_models_own_attention(page, artifacts):
    """The heatmap value of a head equals the entropy of the attention weights transformers itself
    returns (output_attentions), normalised by log of the keys each causal query sees."""
    pytest.importorskip("transformers")
    page.get_by_text("Attention", exact=True).click()
    page.wait_for_selector("#attention-H_norm_keys", timeout=60_000)
    page.locator("select").select_option("1,2")
    page.wait_for_selector('#attention-layer[data-value="1.0"]', timeout=60_000)
    page.wait_for_selector('#attention-head[data-value="2.0"]', timeout=60_000)
    model, inputs, _ = S.attention_model(None)
    with torch.no_grad():
        A = model(**inputs, output_attentions=True).attentions[1][0, 2].double()
    Q = A.shape[0]
    Hn = [float(-(A[q, :q + 1] * torch.log(A[q, :q + 1])).sum()) / math.log(q + 1) for q in range(1, Q)]
    assert number(page, "attention", "H_norm_keys") == pytest.approx(sum(Hn) / len(Hn), rel=1e-5)  # float32 model
    # clicking a head on the heatmap shows that head
    click_plot(page, "attention-heatmap", 3, 2)
    page.wait_for_selector('#attention-layer[data-value="2.0"]', timeout=60_000)
    page.wait_for_selector('#attention-head[data-value="3.0"]', timeout=60_000)
    st = S.attention_state(None)
    assert number(page, "attention", "H_norm_keys") == st["H_norm"][st["layer"].index(2) + 3]
    page.screenshot(path=str(artifacts / "explore-attention.png"), full_page=True)


def _training_width(page, value):
    """Open the Training view and set its width N (the inputs are eps, width N, hidden layers)."""
    page.get_by_text("Training", exact=True).click()
    page.wait_for_selector("#training-loss", timeout=60_000)
    width = page.locator("input.bk-input").nth(1)
    width.fill(str(value))
    width.press("Enter")


def test_training_fits_live(page, artifacts):
    from hjdl.training import HJRegressor

    _training_width(page, 5)
    page.get_by_role("button", name="Fit").click()
    page.wait_for_selector('#training-width[data-value="5.0"]', timeout=120_000)
    X, y = S.training_data()
    reg = HJRegressor(width=5, eps=0.1, max_iter=300, lr=0.05, random_state=0, n_threads=1).fit(X, y)
    assert number(page, "training", "loss") == pytest.approx(reg.loss_, rel=1e-9)
    assert number(page, "training", "n_iter") == reg.n_iter_
    page.screenshot(path=str(artifacts / "explore-training.png"), full_page=True)


def test_training_fit_does_not_block_the_slider(page, model, monkeypatch):
    """A fit runs off the server's event loop: while it is held (an Event the test releases), a tab
    switch and a slider move elsewhere are answered with the library's numbers; then the fit ends
    and shows the same loss as an independent fit."""
    import threading

    from hjdl.training import HJRegressor

    release, started = threading.Event(), threading.Event()
    real = S.training_state

    def held(*args, **kw):
        started.set()
        assert release.wait(120), "the test never released the fit"
        return real(*args, **kw)

    monkeypatch.setattr(S, "training_state", held)
    grid = eps_grid(model)
    try:
        _training_width(page, 7)
        page.get_by_role("button", name="Fit").click()
        page.wait_for_selector('#training-state[data-state="fitting"]', timeout=60_000)
        assert started.wait(60)
        open_tab(page, "Deformation", "deformation")
        eps = move_slider(page, 2, grid)
        _check_deformation(page, model, eps)
        assert page.locator("#training-state").get_attribute("data-state") == "fitting"
        before = page.locator("#training-state").text_content()
        page.wait_for_timeout(2 * 250 + 200)  # the periodic progress keeps counting the seconds
        after = page.locator("#training-state").text_content()
        assert "fitting" in after and after != before
    finally:
        release.set()
    page.wait_for_selector('#training-state[data-state="ready"]', state="attached", timeout=120_000)
    page.wait_for_selector('#training-width[data-value="7.0"]', state="attached", timeout=60_000)
    X, y = S.training_data()
    reg = HJRegressor(width=7, eps=0.1, max_iter=300, lr=0.05, random_state=0, n_threads=1).fit(X, y)
    assert number(page, "training", "loss") == pytest.approx(reg.loss_, rel=1e-9)
