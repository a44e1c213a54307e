import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))  # tests/helpers.py importable as `helpers`

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def rng():
    return torch.Generator().manual_seed(1234)


@pytest.fixture(params=[torch.float32, torch.float64], ids=["f32", "f64"])
def dtype(request):
    return request.param


@pytest.fixture
def cli_run(capsys):
    """``cli_run(*argv) -> (exit code, stdout, stderr)``: the ``hjdl`` command run in-process on
    ``argv``, with what it printed (captured by ``capsys`` and cleared after each call)."""
    from hjdl import cli

    def run(*argv):
        code = cli.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module (``pytestmark = pytest.mark.usefixtures("one_torch_thread")``),
    the count restored after it: modules of many small tensor ops, where intra-op threads only add
    spin-up cost (on a loaded 2-core machine they slowed such a module ten-fold)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
