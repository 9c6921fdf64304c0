"""The paper's numbers as data: read by the model, the configs (`${paper:NAME}`), the tests and the
reports, written down once.

Krizhevsky, Sutskever, Hinton, "ImageNet Classification with Deep Convolutional Neural
Networks", NIPS 2012 (section numbers below refer to it), and Krizhevsky's original code
(cuda-convnet, `layers-145.cfg`) where it departs from the text.
"""

from __future__ import annotations

from dataclasses import dataclass

# ---------------------------------------------------------------------------------------------
# §3.5 and Figure 2: the layer table is model.py's AlexNet, written out a layer a line, with the
# kernel counts of both nets (CONV_WIDTHS).
# ---------------------------------------------------------------------------------------------
NUM_CLASSES_IMAGENET = 1000

# ---------------------------------------------------------------------------------------------
# §3.3 Local response normalisation: b = a / (k + alpha * sum a^2)^beta over n channels.
# ---------------------------------------------------------------------------------------------
LRN_SIZE = 5
LRN_K = 2.0
LRN_ALPHA = 1e-4
LRN_BETA = 0.75
# Two readings of alpha (paper.md §2, layers.LRN_READINGS): the original code divides the window
# sum by n (per-term alpha / n = 2e-5, exactly PyTorch's nn.LocalResponseNorm(5, 1e-4, 0.75, 2));
# the printed formula applies alpha = 1e-4 to each term.

# §3.4 Overlapping pooling: z = 3, s = 2; the ablation arm is z = 2, s = 2.
POOL_OVERLAPPING = (3, 2)
POOL_NON_OVERLAPPING = (2, 2)

# §3.1 Figure 1: the training error both activations are timed to (epochs until it is reached).
FIGURE1_THRESHOLD = 0.25

# §4 Dropout on the outputs of fc6 and fc7.
DROPOUT = 0.5

# ---------------------------------------------------------------------------------------------
# §5 Learning.
# ---------------------------------------------------------------------------------------------
BATCH_SIZE = 128
MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4
LEARNING_RATE = 0.01
LR_DROP_FACTOR = 0.1
LR_MAX_DROPS = 3
LR_DROP_EPOCHS_CODE = (25, 51, 78)  # when the original run divided the rate by 10 (paper.md §6)
INIT_STD = 0.01
INIT_STD_CODE_CONV345 = 0.03  # layers-145.cfg: conv3-conv5 weights ~ N(0, 0.03)
ONE_BIAS_LAYERS = ("conv2", "conv4", "conv5", "fc6", "fc7")  # biases 1, all others 0

# §1 and §4.1: images are rescaled so the shorter side is 256, centre 256 crop; the net sees
# random 224 patches (227 makes the arithmetic of conv1 exact; see model.py).
STORED_SIZE = 256
INPUT_SIZE = 227

# §4.1 test procedure: average the softmax over ten patches, the four corners and the centre
# of the stored image and their horizontal reflections.
TEN_CROP_VIEWS = 10

# ---------------------------------------------------------------------------------------------
# §4.1 PCA lighting ("fancy PCA"): to every pixel add [p1 p2 p3]·[a1·s1, a2·s2, a3·s3]^T with
# a_i ~ N(0, PCA_ALPHA_STD), drawn once per image per presentation. The text's s_i is the
# eigenvalue; the original code's is the standard deviation (see data/lighting.py).
# ---------------------------------------------------------------------------------------------
PCA_ALPHA_STD = 0.1
PCA_LIGHTING_VARIANTS = ("text", "code")
# The original code adds `0.1 · noise` to the mean-subtracted crop, then divides the result by
# 1 + 0.1 (convdata.py, `color_noise` = 0.1), "so that the overall scale of the training data
# doesn't become too different from the test data".
PCA_CODE_RESCALE = 1.0 + PCA_ALPHA_STD
# Fallback only (data.pca_from=imagenet): the original code's ImageNet values (paper.md §6),
# standard deviations on the 0-255 scale in ascending order, eigenvectors as columns (RGB rows).
# The project computes its own from the training set and caches them with the mean image.
IMAGENET_PCA_STDEVS_255 = (19.72, 37.09, 121.78)
IMAGENET_PCA_EIGVECS = (
    (0.418, -0.713, -0.564),
    (-0.817, -0.024, -0.576),
    (0.397, 0.701, -0.592),
)

# ---------------------------------------------------------------------------------------------
# The claims the ablations test (§3.1-§4.2; the original code's runs in paper.md §6).
# Differences are "arm minus the paper's arm", in percentage points of error on ILSVRC-2012.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """One sentence of the paper that an ablation can test, with the numbers it states.

    `measure` says what the report compares: "error" (test error, other arm minus the
    paper's arm), "speed" (epochs to reach `threshold` training error; `speedup` is the
    other arm's epochs over the paper arm's), "overfit" (the val − train gap, training error
    measured in eval mode, grows without the idea; `top1_delta` is our reading of the
    paper's words) or "paired_eval" (two evaluations of the same weights, per image).
    """

    switch: str  # the config key the ablation flips
    paper_arm: object  # the paper's value of that switch
    other_arm: object
    top1_delta: float | None  # other arm's error minus the paper arm's, percentage points
    top5_delta: float | None
    text: str
    measure: str = "error"  # "error" | "speed" | "overfit" | "paired_eval"
    at_least: bool = False  # top1_delta is a lower bound ("1 % or more")
    speedup: float | None = None  # measure="speed": other arm's epochs / paper arm's epochs
    threshold: float | None = None  # measure="speed": training top-1 error, fraction
    reading: str | None = None  # how we turned the paper's words into a number, when we had to
    # the net the claim is about: AlexNet, or the CIFAR-10 four-layer net (convnet4)
    arch: str = "alexnet"


CLAIMS: dict[str, Claim] = {
    "lrn": Claim("model.lrn", True, False, 1.4, 1.2, "removing LRN: top-1 +1.4, top-5 +1.2 (§3.3)"),
    "pool": Claim(
        "model.pool", "overlapping", "non_overlapping", 0.4, 0.3,
        "non-overlapping 2/2 pooling: top-1 +0.4, top-5 +0.3 (§3.4)",
    ),
    "columns": Claim(
        "model.columns", 2, 1, 1.7, 1.2, "one column (footnote net): top-1 +1.7, top-5 +1.2 (§3.2)"
    ),
    "activation": Claim(
        "model.activation", "relu", "tanh", None, None,
        "ReLU reaches 25% training error six times faster (epochs) than tanh (§3.1, Figure 1)",
        measure="speed", speedup=6.0, threshold=FIGURE1_THRESHOLD,
    ),
    "dropout": Claim(
        "model.dropout", DROPOUT, 0.0, 1.0, None,
        "without dropout the net overfits substantially (§4.2)", measure="overfit", at_least=True,
        reading="'substantially' read as: the val − train gap (and the test error) at least 1 "
                "point larger",
    ),
    # §4.1: "reduces the top-1 error rate by over 1%". The switch is the data pipeline's.
    "pca_lighting": Claim(
        "data.pca_lighting", "text", False, 1.0, None,
        "without PCA colour augmentation: top-1 +1 or more (§4.1)", at_least=True,
    ),
    # §6's footnote, ILSVRC-2010 test: one centre patch 39.0 / 18.3 against the ten patches of
    # §4.1, 37.5 / 17.0. Evaluation only: both evaluations are made on the same weights.
    "ten_crop": Claim(
        "data.ten_crop", True, False, 1.5, 1.3,
        "centre crop instead of ten patches at test time: top-1 +1.5, top-5 +1.3 "
        "(39.0 / 18.3 vs 37.5 / 17.0, §6 footnote)", measure="paired_eval",
    ),
    # §7: "removing any of the middle layers results in a loss of about 2% for the top-1
    # performance". We leave out conv4 (conv3 is also where the columns exchange activations).
    "depth": Claim(
        "model.remove", None, "conv4", 2.0, None,
        "removing a middle conv layer (conv4): top-1 about +2 (§7)",
    ),
    # §3.3 on CIFAR-10 with the four-layer net (model=convnet4): 13 % test error without
    # normalisation, 11 % with; the original 13 % net also differed in other layers (paper.md §6).
    "cifar_lrn": Claim(
        "model.norm", True, False, 2.0, None,
        "CIFAR-10, the four-layer net without response normalisation: test error 13 % instead of "
        "11 % (§3.3)",
        arch="convnet4",
    ),
    # §3.1, Figure 1, on the net it was measured with: no regularisation, each activation at its
    # own best learning rate.
    "cifar_relu": Claim(
        "model.activation", "relu", "tanh", None, None,
        "CIFAR-10, the four-layer net: ReLU reaches 25% training error six times faster (epochs) "
        "than tanh (§3.1, Figure 1)", measure="speed", speedup=6.0, threshold=FIGURE1_THRESHOLD,
        arch="convnet4",
    ),
}


# ---------------------------------------------------------------------------------------------
# Where the paper's numbers were measured (§2, §5; paper.md §6 for cuda-convnet's CIFAR-10
# files), set beside ours in experiments/README.md so that no row is over-read.
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Setting:
    net: str
    input_px: int
    data: str
    epochs: str
    batch: int
    error: str  # how far the paper's own net trained: its test error


PAPER_SETTINGS: dict[str, Setting] = {
    "alexnet": Setting("two-column AlexNet, full widths", 224,
                       "ILSVRC-2012: 1.2 M train / 50,000 val / 150,000 test, 1,000 classes", "~90",
                       BATCH_SIZE,
                       "37.5 % top-1 (ILSVRC-2010 test, §6)"),
    # §3.3's 11 % net; Figure 1's own net and its input were never published (its plot runs to
    # ~40 epochs)
    "convnet4": Setting("cuda-convnet's layers-conv-local-11pct (Figure 1's net: unpublished)", 24,
                        "CIFAR-10: 50,000 train / 10,000 test", "~520 (Figure 1: ~40)", 128,
                        "11 % (CIFAR-10 test, §3.3)"),
}


def claim_switched(arm: dict | None) -> str | None:
    """The claim whose switch alone, at its other arm, is this job's arm (experiment=ablate_all's
    `ablation.arm=<claim>`, as the run records it); None for any other arm."""
    return next((name for name, c in CLAIMS.items() if arm == {c.switch: c.other_arm}), None)
