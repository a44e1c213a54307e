"""scikit-learn's own estimator checks on HJRegressor / HJClassifier (small, fast settings)."""

import pytest

pytest.importorskip("sklearn")
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

from hjdl.training import HJClassifier, HJRegressor  # noqa: E402

FAST = dict(width=6, max_iter=60, lr=0.05, refine_iter=15, n_iter_no_change=20)


@pytest.mark.parametrize("estimator", [HJRegressor(**FAST), HJClassifier(**FAST)],
                         ids=["HJRegressor", "HJClassifier"])
def test_check_estimator(estimator):
    failures = []

    def collect(**kw):
        failures.append(kw)

    check_estimator(estimator, on_fail=None, callback=collect)
    bad = [(f["check_name"], str(f.get("exception"))[:300]) for f in failures if f["status"] == "failed"]
    assert not bad, bad
