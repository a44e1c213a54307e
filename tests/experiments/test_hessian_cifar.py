"""hessian-cifar: runs on a tiny CIFAR-format folder written here; without the data it says so and
runs nothing (no substitute data under CIFAR's name); a corrupt batch stops it with an InputError;
train and test images never mix; the monotonicity claim's verdict follows the curvatures."""

import pickle

import numpy as np
import pytest

from hjdl.datasets import CIFAR10_FILES
from hjdl.errors import InputError
from hjdl.experiments import get
from hjdl.experiments import hessian_cifar as mod

TINY = {"n_train": 24, "n_test": 12, "width": 8, "max_iter": 5, "eps": [0.3, 1.0, 3.0]}


pytestmark = pytest.mark.usefixtures("one_thread")


def write_cifar(folder, n=30):
    """Training batches with labels 0..4 only, the test batch with labels 5..9 only: a leak of test
    images into the training set (or the reverse) shows in the labels."""
    folder.mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(CIFAR10_FILES["train"] + CIFAR10_FILES["test"]):
        rng = np.random.default_rng(k)
        labels = rng.integers(5, 10, n) if name == "test_batch" else rng.integers(0, 5, n)
        batch = {b"batch_label": name.encode(), b"labels": [int(v) for v in labels],
                 b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 b"filenames": [b"%d.png" % i for i in range(n)]}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f, protocol=2)
    return folder


def test_without_data_it_says_so_and_runs_nothing(tmp_path, quick_run):
    res = quick_run("hessian-cifar", cache=False, data_dir=str(tmp_path), **TINY).result
    assert res.notes and res.notes[0].startswith(mod.NO_DATA) and str(tmp_path) in res.notes[0]
    assert mod.NO_DATA in res.summary and "--data-dir" in res.summary
    assert res.data_notices() == [res.notes[0]]  # printed on the terminal by the CLI, once
    assert res.claims == [] and res.tables == {} and res.series == {}
    from hjdl.plotting import figures_for
    assert figures_for(res) == {}  # no figure drawn from nothing


def test_runs_on_a_cifar_format_folder(tmp_path, quick_run):
    folder = write_cifar(tmp_path / "cifar-10-batches-py")
    res = quick_run("hessian-cifar", cache=False, data_dir=str(tmp_path), **TINY).result
    assert not res.failed and res.data_notices() == []
    assert [c.verdict for c in res.claims][:2] == ["theorem (sanity check)", "identity"]
    assert [c.kind for c in res.claims[2:]] == ["evidence", "evidence"]
    rows = res.tables["bounds"].rows
    assert [r[0] for r in rows] == TINY["eps"]
    assert all(r[4] <= r[6] * (1 + 1e-12) for r in rows)  # LSE max below its ball bound
    assert any(str(folder.resolve()) in n for n in res.notes) and "PCA to 24 dims" in res.notes[0]
    from hjdl.plotting import figures_for
    from hjdl.plotting.style import caption_of
    figs = figures_for(res)
    assert set(figs) == {"hessian_bounds"} and caption_of(figs["hessian_bounds"])
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plotting"))
    from figure_rules import figure_problems
    assert figure_problems(figs["hessian_bounds"]) == []


def test_train_and_test_images_never_mix(tmp_path):
    write_cifar(tmp_path)
    cfg = get("hessian-cifar").config("quick", data_dir=str(tmp_path), n_train=30, n_test=30)
    Xtr, ytr, Xte, yte, note = mod.load_cifar_pca(cfg, seed=3)
    assert ytr.max() <= 4 and yte.min() >= 5  # training labels 0..4, test labels 5..9
    assert Xtr.shape == (30, 30) and Xte.shape == (30, 30)
    # the PCA is fitted on the training images alone: their projection is centred, the test one is not
    assert np.abs(Xtr.mean(0)).max() < 1e-9 and np.abs(Xte.mean(0)).max() > 1e-3


def test_pca_projects_on_the_principal_axes_of_the_centred_training_set():
    # NumPy's eigen-decomposition of the training covariance gives the axes; projections agree up to
    # the sign of each axis. The data sit far from the origin, so axes of the uncentred matrix differ.
    rng = np.random.default_rng(0)
    X_tr = rng.normal(size=(60, 8)) * np.linspace(3.0, 0.3, 8) + 5.0
    X_te = rng.normal(size=(10, 8)) + 5.0
    P_tr, P_te = mod._pca(X_tr, X_te, 3)
    mean = X_tr.mean(0)
    lam, V = np.linalg.eigh(np.cov(X_tr - mean, rowvar=False))
    V = V[:, ::-1][:, :3]
    ref_tr, ref_te = (X_tr - mean) @ V, (X_te - mean) @ V
    sign = np.sign((P_tr * ref_tr).sum(0))
    np.testing.assert_allclose(P_tr * sign, ref_tr, atol=1e-9)
    np.testing.assert_allclose(P_te * sign, ref_te, atol=1e-9)


def test_a_corrupt_batch_stops_the_run(tmp_path):
    write_cifar(tmp_path)
    (tmp_path / "test_batch").write_bytes(b"not a pickle at all")
    with pytest.raises(InputError, match="test_batch.*expected a CIFAR-10 python batch"):
        get("hessian-cifar").run("quick", seed=0, data_dir=str(tmp_path), **TINY)


@pytest.mark.parametrize("values, verdict", [
    ([9.0, 3.1, 1.0, 0.3, 0.11], "confirmed"),       # falls at every step, slope ~ -1
    ([9.0, 3.1, 4.0, 0.3, 0.11], "partly"),          # falls overall, one step up
    ([9.0, 3.1, 3.1, 0.3, 0.11], "partly"),          # falls overall, one step flat (not a step down)
    ([1.0, 1.3, 0.8, 1.2, 0.9], "inconclusive"),     # no trend
    ([0.1, 0.3, 1.0, 3.1, 9.0], "not confirmed"),    # rises
    ([0.63, 0.80, 1.0, 1.23, 1.58], "not confirmed"),  # rises slowly (slope ~ 0.2): still not a fall
])
def test_monotone_claim_follows_the_curvatures(values, verdict):
    claim, v = mod._monotone_claim([0.1, 0.3, 1.0, 3.0, 10.0], values, "test")
    assert v == verdict == claim.verdict and claim.rival
