"""The paper's qualitative figures from a trained checkpoint: Figure 3 (conv1 kernels per column,
with a colour-specificity score) and Figure 4 (fc7 nearest neighbours, top-5 predictions)."""

from alexnet.figures.kernels import colour_specificity, column_scores, plot_kernels
from alexnet.figures.neighbours import nearest_neighbours, plot_neighbours

__all__ = ["colour_specificity", "column_scores", "nearest_neighbours", "plot_kernels",
           "plot_neighbours"]
