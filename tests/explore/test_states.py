"""The explorer's state functions without a browser: model forms, caching per eps, checkpoints."""

from __future__ import annotations

import pytest
import torch

from hjdl.errors import InputError
from hjdl.explore import states as S
from hjdl.explore.model import eps_grid, example_model, from_model


def test_states_are_cached_per_rounded_eps():
    m = example_model()
    a = S.deformation_state(m, m.eps0)
    assert S.deformation_state(m, m.eps0 * (1 + 1e-14)) is a  # same 12-digit key
    assert S.deformation_state(m, m.eps0 * 1.01) is not a


def test_grid_holds_eps0_and_is_log_spaced():
    m = example_model()
    g = eps_grid(m)
    assert S.key(m.eps0) in g.tolist() and (g[1:] > g[:-1]).all()


def test_network_with_hidden_layers_is_refused():
    from hjdl.nn import LSENetwork

    with pytest.raises(InputError, match="one LSE layer"):
        from_model(LSENetwork(2, hidden=(4,), width=3))


def test_line_layer_is_the_restriction_of_the_layer():
    """H along x0 + s u from the 1-D layer equals H of the full layer at those points."""
    import hjdl

    m = example_model()
    W1, b1, box = S.line_layer(m)
    s = torch.linspace(float(box[0, 0]), float(box[0, 1]), 7, dtype=torch.float64)
    X = m.x0 + s[:, None] * m.plane[1]
    full = hjdl.entropy(hjdl.layer_weights(X, m.W, m.b, 0.1))
    line = hjdl.entropy(hjdl.layer_weights(s[:, None], W1, b1, 0.1))
    assert torch.allclose(full, line, rtol=1e-12, atol=1e-14)


def test_attention_view_reads_a_checkpoint_folder(tmp_path):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(1)
    cfg = transformers.GPT2Config(n_layer=2, n_head=2, n_embd=16, vocab_size=50, n_positions=32,
                                  bos_token_id=0, eos_token_id=0)
    transformers.GPT2Model(cfg).save_pretrained(tmp_path)
    st = S.attention_state(str(tmp_path))
    assert st["n_layers"] == 2 and st["n_heads"] == 2 and len(st["H_norm"]) == 4
    assert all(0.0 <= v <= 1.0 for v in st["H_norm"])
