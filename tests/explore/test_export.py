"""The exported page: opens from file://, makes no network request (every request intercepted),
and its slider shows the library's numbers at each precomputed eps."""

from __future__ import annotations

import math

import pytest
import torch

from explore_browser import move_slider, number, shown_eps

from hjdl.explore.model import eps_grid, example_model

N_EPS = 7  # a short grid keeps the export quick in the test


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from hjdl.explore import export_html

    return export_html(tmp_path_factory.mktemp("export"), n_eps=N_EPS)


def test_export_is_offline_and_shows_the_librarys_numbers(browser, exported, artifacts):
    m = example_model()
    grid = eps_grid(m, N_EPS)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    seen, blocked = [], []

    def route(r):
        seen.append(r.request.url)
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(exported.as_uri())
    page.wait_for_selector("#hj-eps")
    assert seen and all(u.startswith("file://") for u in seen) and blocked == []
    z = m.W @ m.x0 + m.b
    for steps in (0, 2, -3):
        eps = move_slider(page, steps, grid) if steps else shown_eps(page)
        assert number(page, "deformation", "lse") == pytest.approx(float(eps * torch.logsumexp(z / eps, 0)), rel=1e-10)
    page.get_by_text("Particle ↔ wave", exact=True).click()
    for steps in (0, 3):
        eps = move_slider(page, steps, grid) if steps else shown_eps(page)
        p = torch.softmax(z / eps, 0)
        H = float(-(p * torch.log(p)).sum())
        assert number(page, "particle", "H") == pytest.approx(H, rel=1e-9)
        assert number(page, "particle", "H_norm") == pytest.approx(H / math.log(m.N), rel=1e-9)
    page.screenshot(path=str(artifacts / "explore-export.png"), full_page=True)
    assert blocked == []
    page.close()


@pytest.mark.parametrize("bad", [0, -3, 1, 2.5, 17.0, True, "17", None, 10_000])
def test_bad_n_eps_is_an_input_error(bad, tmp_path):
    from hjdl.errors import InputError
    from hjdl.explore import export_html

    with pytest.raises(InputError) as info:
        export_html(tmp_path / "out", n_eps=bad)
    msg = str(info.value)
    assert msg.startswith("n_eps:") and repr(bad) in msg and "accepted: an integer from 2" in msg
    assert not (tmp_path / "out").exists()  # refused before any work or any folder


def test_out_dir_that_is_a_file_is_an_input_error(tmp_path):
    from hjdl.errors import InputError
    from hjdl.explore import export_html

    f = tmp_path / "file.txt"
    f.write_text("x")
    for target in (f, f / "below"):
        with pytest.raises(InputError) as info:
            export_html(target, n_eps=2)
        msg = str(info.value)
        assert msg.startswith("out_dir:") and str(target) in msg and "existing file" in msg and "accepted:" in msg
    assert f.read_text() == "x"
