"""Figures 3 and 4 from checkpoints that train.py writes, for one- and two-column nets."""

import importlib.util
import json

import pytest
import torch

from alexnet.checkpoint import CheckpointError, load
from alexnet.figures import colour_specificity, column_scores, nearest_neighbours
from alexnet.figures.neighbours import fc7_and_logits
from alexnet.training import train
from conftest import REPO, make_config


def _figures_cli():
    spec = importlib.util.spec_from_file_location("figures_main", REPO / "src" / "figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module", params=[1, 2], ids=["one-column", "two-column"])
def job_dir(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"columns{request.param}") / "job"
    cfg = make_config("debug=tiny", "callbacks.progress_bar=none", "trainer.max_epochs=1",
                      "trainer.limit_train_batches=2", "trainer.limit_val_batches=1",
                      f"model.columns={request.param}")
    train(cfg, out, arm={"model.columns": request.param})
    return out


# -- colour specificity on synthetic kernels ------------------------------------------------------
def test_grey_kernel_scores_zero_and_red_against_green_scores_one():
    pattern = torch.randn(5, 5)
    grey = pattern.expand(3, 5, 5).unsqueeze(0)
    red_green = torch.stack([pattern, -pattern, torch.zeros(5, 5)]).unsqueeze(0)
    scores = colour_specificity(torch.cat([grey, red_green]))
    assert scores[0] == pytest.approx(0.0, abs=1e-6)
    assert scores[1] == pytest.approx(1.0, abs=1e-6)


def test_single_channel_kernel_by_hand_and_random_kernels_on_average():
    red = torch.zeros(1, 3, 3, 3)
    red[0, 0] = torch.randn(3, 3)
    # all energy on [1,0,0]: its grey component is 1/√3, so 1 - 1/3 of the energy is off-axis
    assert colour_specificity(red)[0] == pytest.approx(2 / 3, abs=1e-6)
    torch.manual_seed(0)
    assert colour_specificity(torch.randn(2000, 3, 5, 5)).mean() == pytest.approx(2 / 3, abs=0.01)


def test_column_scores_split_conv1_channels_in_halves():
    pattern = torch.randn(4, 3, 3)
    grey = pattern.unsqueeze(1).expand(4, 3, 3, 3)
    colour = torch.stack([pattern, -pattern, torch.zeros_like(pattern)], dim=1)
    scores = column_scores(torch.cat([grey, colour]), columns=2)
    assert scores == pytest.approx([0.0, 1.0], abs=1e-6)
    assert column_scores(torch.cat([grey, colour]), columns=1) == pytest.approx([0.5], abs=1e-6)
    with pytest.raises(ValueError, match="RGB"):
        colour_specificity(torch.zeros(2, 4, 3, 3))


# -- nearest neighbours ---------------------------------------------------------------------------
def test_nearest_neighbours_against_brute_force():
    torch.manual_seed(1)
    train_feats, queries = torch.rand(50, 8), torch.rand(4, 8)
    idx, dist = nearest_neighbours(queries, train_feats, k=3)
    for q in range(4):
        brute = sorted(range(50), key=lambda j: float(((queries[q] - train_feats[j]) ** 2).sum()))[:3]
        assert idx[q].tolist() == brute
        assert dist[q, 0] == pytest.approx(float(((queries[q] - train_feats[brute[0]]) ** 2).sum().sqrt()), rel=1e-5)


# -- from a checkpoint ----------------------------------------------------------------------------
def test_checkpoint_loads_safely_and_matches_the_trained_net(job_dir):
    loaded = load(job_dir)
    assert loaded.job_dir == job_dir and loaded.net.training is False
    state = torch.load(job_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    torch.testing.assert_close(loaded.net.features.conv1.weight, state["net.features.conv1.weight"])
    fc7, logits = fc7_and_logits(loaded.net, torch.randn(2, 3, 28, 28))
    assert fc7.shape == (2, loaded.net.config.fc_width()) and (fc7 >= 0).all()  # after the ReLU
    assert logits.shape == (2, 10)


def test_a_checkpoint_with_code_in_it_is_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    bad = tmp_path / "evil.ckpt"
    torch.save({"hyper_parameters": {"model": {}}, "state_dict": {}, "x": Payload()}, bad)
    with pytest.raises(CheckpointError, match="refusing to load"):
        load(bad)


def test_figures_command_writes_both_figures(job_dir, tmp_path, capsys):
    out = tmp_path / "figs"
    assert _figures_cli().main([str(job_dir / "checkpoints" / "last.ckpt"), "--out", str(out),
                                "--images", "2", "--neighbours", "3", "--train-limit", "300"]) == 0
    columns = load(job_dir).net.config.columns
    for name in ("figure3-conv1-kernels.png", "figure4-fc7-neighbours.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    facts = json.loads((out / "figures.json").read_text())
    assert facts["columns"] == columns and len(facts["column_colour_specificity"]) == columns
    assert all(0.0 <= s <= 1.0 for s in facts["kernel_colour_specificity"])
    classes = sorted(p.name for p in (REPO / "data" / "cifar10-sample" / "train").iterdir() if p.is_dir())
    assert len(facts["neighbours"]) == 2
    for q in facts["neighbours"]:
        assert len(q["top5"]) == 5 and all(c in classes for c, _ in q["top5"])
        assert len(q["neighbours"]) == 3
        distances = [d for _, _, d in q["neighbours"]]
        assert distances == sorted(distances)
    assert "colour specificity: column 1" in capsys.readouterr().out
    assert "| val image | true class |" in (out / "figures.md").read_text()


def test_figures_command_names_a_missing_checkpoint(tmp_path, capsys):
    assert _figures_cli().main([str(tmp_path / "none.ckpt")]) == 2
    assert "none.ckpt" in capsys.readouterr().err
