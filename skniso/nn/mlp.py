"""Fully connected networks: a plain MLP and the reference's skip MLP."""

from torch import nn

__all__ = ["MLP", "SkipMLP"]


class MLP(nn.Module):
    """Plain multi-layer perceptron with a linear output layer.

    ``Linear -> act -> ... -> Linear -> act -> Linear(-> out_features)``.

    Parameters
    ----------
    in_features, out_features : int
        Input and output widths (last axis).
    hidden : sequence of int, default=(256, 256)
        Widths of the hidden layers; empty gives a single linear layer.
    activation : callable returning an nn.Module, default=nn.SiLU
        Activation placed after every hidden layer.
    """

    def __init__(self, in_features, out_features, hidden=(256, 256), activation=nn.SiLU):
        super().__init__()
        layers = []
        width = in_features
        for hidden_width in hidden:
            layers += [nn.Linear(width, hidden_width), activation()]
            width = hidden_width
        layers.append(nn.Linear(width, out_features))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        """Map ``(..., in_features)`` to ``(..., out_features)``."""
        return self.layers(x)


class SkipMLP(nn.Module):
    """Two-stage MLP with a linear skip around the first stage (reference ``skipMLP``).

    The ``n_layers`` dense layers of the main path are split into a first stage
    of ``ceil(n_layers / 2)`` layers and a second of ``floor(n_layers / 2)``::

        h = Dense(w) -> SiLU -> Dense(w) -> ... -> Dense(w)       (first stage)
        h = h + Dense(w)(x)                                        (skip)
        y = SiLU -> Dense(w) -> ... -> SiLU -> Dense(out)(h)       (second stage)

    For ``n_layers=6`` this is the CO3D pose head: three Dense(w) with SiLU in
    between, plus the skip, then SiLU -> Dense(w) -> SiLU -> Dense(w) -> SiLU ->
    Dense(out).

    Parameters
    ----------
    in_features, out_features : int
        Input and output widths (last axis).
    width : int, default=512
        Width of every hidden layer and of the skip.
    n_layers : int, default=6
        Dense layers on the main path, output layer included (>= 2; the skip
        projection is not counted).
    initial_activation : bool, default=False
        Put a SiLU before the first dense layer as well; the reference's
        ``skip_init_act=True`` (used for CO3D) corresponds to ``False`` here.
    """

    def __init__(
        self, in_features, out_features, width=512, n_layers=6, initial_activation=False
    ):
        super().__init__()
        if n_layers < 2:
            raise ValueError(f"n_layers must be >= 2 (one per stage), got {n_layers}")
        first_stage_layers = n_layers // 2 + n_layers % 2
        second_stage_layers = n_layers - first_stage_layers

        first = [nn.SiLU()] if initial_activation else []
        features = in_features
        for index in range(first_stage_layers):
            if index > 0:
                first.append(nn.SiLU())
            first.append(nn.Linear(features, width))
            features = width
        self.first_stage = nn.Sequential(*first)
        self.skip = nn.Linear(in_features, width)

        second = []
        for index in range(second_stage_layers):
            last = index == second_stage_layers - 1
            second += [nn.SiLU(), nn.Linear(width, out_features if last else width)]
        self.second_stage = nn.Sequential(*second)

    def forward(self, x):
        """Map ``(..., in_features)`` to ``(..., out_features)``."""
        return self.second_stage(self.first_stage(x) + self.skip(x))
