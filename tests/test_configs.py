"""Every config composes, and every ablation flips exactly one switch against the paper."""


import pytest
import yaml
from omegaconf import OmegaConf

from alexnet.training import build_module
from conftest import CONF, make_config

ABLATIONS = {
    "ablate_lrn": ("model.lrn", [True, False]),
    "ablate_activation": ("model.activation", ["relu", "tanh"]),
    "ablate_pooling": ("model.pool", ["overlapping", "non_overlapping"]),
    "ablate_columns": ("model.columns", [2, 1]),
    "ablate_dropout": ("model.dropout", [0.5, 0.0]),
    "ablate_pca": ("data.pca_lighting", ["text", False]),
    "ablate_tencrop": ("data.ten_crop", [True, False]),
}
# Evaluation-only switches: the default is the cheap arm (per-epoch validation on one crop);
# the paper's arm comes first in the sweep, and experiment=paper switches it on.
EVALUATION_ONLY = {"ablate_tencrop"}


def test_every_experiment_is_listed_here_or_is_the_paper_preset():
    names = {p.stem for p in (CONF / "experiment").glob("*.yaml") if not p.stem.startswith("_")}
    assert names == set(ABLATIONS) | {"paper"}


@pytest.mark.parametrize("name", sorted(ABLATIONS))
def test_ablation_sweeps_one_switch_over_at_least_two_seeds(name):
    make_config(f"experiment={name}")  # composes
    key, arms = ABLATIONS[name]
    raw = OmegaConf.load(CONF / "experiment" / f"{name}.yaml")
    base = OmegaConf.load(CONF / "experiment" / "_ablation.yaml")
    sweep = {**base.hydra.sweeper.params, **raw.hydra.sweeper.params}
    assert set(sweep) == {"seed", key}
    assert len(str(sweep["seed"]).split(",")) >= 2
    assert [yaml.safe_load(v) for v in str(sweep[key]).split(",")] == arms
    assert raw.hydra.get("mode", base.hydra.mode) == "MULTIRUN"
    # the paper's arm is the default value of the switch
    default = OmegaConf.select(make_config(), key)
    assert default == (arms[1] if name in EVALUATION_ONLY else arms[0])
    assert OmegaConf.select(make_config("experiment=paper", "data.root=/x"), key) == arms[0]


@pytest.mark.parametrize("overrides", [[], ["recipe=modern"], ["experiment=paper"],
                                       ["data=cifar10", "data.root=/x"], ["model=alexnet", "data=imagenet"]])
def test_configs_compose_and_resolve(overrides):
    cfg = make_config(*overrides)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert "${" not in OmegaConf.to_yaml(resolved)
    assert cfg.model.input_size == cfg.data.crop_size


def test_paper_preset_is_the_full_net():
    cfg = make_config("experiment=paper", "data.root=/x")
    module = build_module(cfg, num_classes=1000)
    assert module.num_parameters == 60_965_224
    assert cfg.data.stored_size == 256 and cfg.data.crop_size == 227
    assert cfg.recipe.lr == 0.01 and cfg.recipe.momentum == 0.9 and cfg.recipe.weight_decay == 0.0005


def test_recipes_differ_in_init_and_input_only():
    paper, modern = make_config().recipe, make_config("recipe=modern").recipe
    differ = {k for k in paper if paper[k] != modern[k]}
    assert differ <= {"name", "init", "input", "lr"}
    assert paper.input == "raw_255" and modern.input == "standardized"


@pytest.mark.parametrize("name", sorted(ABLATIONS))
def test_logger_choice_survives_the_experiments(name):
    assert make_config(f"experiment={name}", "logger=csv").logger.wandb.enabled is False
