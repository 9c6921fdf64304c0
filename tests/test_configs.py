"""Every config composes, and every ablation flips exactly one switch against the paper."""


import inspect

import pytest
import yaml
from omegaconf import OmegaConf

from alexnet import paper
from alexnet.data.datamodule import AlexNetDataModule
from alexnet.model import AlexNet, count_parameters
from alexnet.training import build_module
from conftest import CONF, make_config

EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("ablate_*.yaml"))


def test_every_claim_has_an_experiment_and_every_experiment_a_claim_or_none():
    claims = {make_config(f"experiment={name}").ablation.claim for name in EXPERIMENTS}
    # null: a comparison of our own (e.g. BatchNorm instead of LRN), with no claim to judge;
    # all: ablate_all, every one-switch claim against one shared baseline
    assert set(paper.CLAIMS) <= claims <= {*paper.CLAIMS, None, "all"}


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_ablation_sweeps_its_claims_switch_over_at_least_two_seeds(name):
    cfg = make_config(f"experiment={name}")
    raw = OmegaConf.load(CONF / "experiment" / f"{name}.yaml")
    base = OmegaConf.load(CONF / "_ablation.yaml")
    sweep = {**base.hydra.sweeper.params, **(OmegaConf.select(raw, "hydra.sweeper.params") or {})}
    assert len(str(sweep["seed"]).split(",")) >= 2
    assert OmegaConf.select(raw, "hydra.mode", default=base.hydra.mode) == "MULTIRUN"
    if cfg.ablation.claim is None:  # a comparison of our own: one switch, its default arm first
        (switch,) = set(sweep) - {"seed"}
        arms = [yaml.safe_load(v) for v in str(sweep[switch]).split(",")]
        assert len(arms) >= 2 and arms[0] == OmegaConf.select(make_config(), switch)
        return
    if cfg.ablation.claim == "all":  # the baseline, then one arm per AlexNet claim with a switch to flip
        arms = str(sweep["ablation.arm"]).split(",")
        assert set(sweep) == {"seed", "ablation.arm"} and arms[0] == "baseline"
        flippable = [k for k, c in paper.CLAIMS.items() if c.measure != "paired_eval" and c.arch == "alexnet"]
        assert sorted(arms[1:]) == sorted(flippable)
        assert OmegaConf.select(cfg, "data.ten_crop") is True  # ten-crop from the baselines' own test pass
        return
    claim = paper.CLAIMS[cfg.ablation.claim]
    if claim.measure == "paired_eval":  # evaluation only: one training, scored both ways
        assert set(sweep) == {"seed"} and OmegaConf.select(cfg, claim.switch) == claim.paper_arm
        return
    assert set(sweep) == {"seed", claim.switch}
    assert [yaml.safe_load(v) for v in str(sweep[claim.switch]).split(",")] == [claim.paper_arm, claim.other_arm]
    # the paper's arm is the experiment's default value of the switch and, for AlexNet's
    # switches, the default config's and the paper preset's
    assert OmegaConf.select(cfg, claim.switch) == claim.paper_arm
    if cfg.model.arch == "alexnet":
        assert OmegaConf.select(make_config(), claim.switch) == claim.paper_arm
        assert OmegaConf.select(make_config("experiment=paper", "data.root=/x"), claim.switch) == claim.paper_arm


@pytest.mark.parametrize("overrides", [[], ["recipe=modern"], ["experiment=paper"],
                                       ["data=cifar10", "data.root=/x"], ["model=alexnet", "data=imagenet"]])
def test_configs_compose_and_resolve(overrides):
    cfg = make_config(*overrides)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert "${" not in OmegaConf.to_yaml(resolved)
    assert cfg.model.input_size == cfg.data.crop_size


@pytest.mark.parametrize("name", sorted(p.stem for p in (CONF / "data").glob("*.yaml")))
def test_every_data_option_is_an_argument_of_the_datamodule(name):
    options = set(make_config(f"data={name}", "data.root=/x").data)
    assert options <= set(inspect.signature(AlexNetDataModule).parameters)
    with pytest.raises(ValueError, match="data.colour is not an option"):
        AlexNetDataModule.from_config({"source": "folder", "colour": True})


def test_paper_preset_is_the_full_net():
    cfg = make_config("experiment=paper", "data.root=/x")
    module = build_module(cfg, num_classes=1000)
    assert module.num_parameters == count_parameters(AlexNet())  # the paper's net (test_model.py)
    assert (cfg.data.stored_size, cfg.data.crop_size) == (paper.STORED_SIZE, paper.INPUT_SIZE)
    recipe = cfg.recipe
    assert (recipe.lr, recipe.momentum, recipe.weight_decay) == (paper.LEARNING_RATE, paper.MOMENTUM, paper.WEIGHT_DECAY)


def test_recipes_differ_in_init_and_input_and_their_measured_lr_only():
    paper, modern = make_config().recipe, make_config("recipe=modern").recipe
    differ = {k for k in paper if paper[k] != modern[k]}
    assert {"init", "input"} <= differ <= {"name", "init", "input", "lr"}
    assert paper.input == "raw_255" and modern.input == "standardized"


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_logger_choice_survives_the_experiments(name):
    assert make_config(f"experiment={name}", "logger=csv").logger.wandb.enabled is False
