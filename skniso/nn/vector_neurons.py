"""Smooth vector-neuron layers, equivariant or invariant under the orthogonal group.

Inputs are ``X`` of shape ``(..., K, C)``: ``C`` channels, each a vector in
``R^K``.  The orthogonal group ``O(K)`` acts on the ``K`` axis from the left,
``X -> Q X``, and every layer here mixes channels only from the right, with
weights that never touch the ``K`` axis.  So :class:`OrthNorm`,
:class:`OrthNeuron` and :class:`OrthMLP` are equivariant (``f(QX) = Q f(X)``),
and :class:`GramReadout` and :class:`OrthNet` are invariant (``f(QX) = f(X)``),
for rotations and reflections alike.

In NIso these heads read the spectral latent ``Phi^T M E(x)``, on which the
learned isometries act as orthogonal ``K x K`` matrices.
"""

import torch
from torch import nn
from torch.nn import functional as F

from .._validation import check_int

__all__ = ["OrthNorm", "OrthNeuron", "OrthMLP", "GramReadout", "OrthNet"]

# Regulariser of the reference code, used both in the norm and in the
# smooth inverse ``n / (n^2 + eps)``.
_EPS = 1e-6


class OrthNorm(nn.Module):
    """Per-channel RMS normalisation over the group axis.

    ``X[:, c] * scale_c / sqrt(mean_k X[k, c]^2 + 1e-6 + |epsilon_c|)``.  The
    mean of squares is ``O(K)``-invariant, so the layer is equivariant.

    Parameters
    ----------
    channels : int
        Number of channels ``C`` (last axis).

    Attributes
    ----------
    scale : nn.Parameter of shape (channels,)
        Learnable gain, initialised to 1.
    epsilon : nn.Parameter of shape (channels,)
        Learnable extra regulariser (its absolute value is used), initialised
        to 1e-3.
    """

    def __init__(self, channels):
        super().__init__()
        self.channels = int(channels)
        self.scale = nn.Parameter(torch.empty(self.channels))
        self.epsilon = nn.Parameter(torch.empty(self.channels))
        if not self.scale.is_meta:
            self.reset_parameters_(None)

    def reset_parameters_(self, generator):
        """Set ``scale`` to 1 and ``epsilon`` to 1e-3 (``generator`` is unused)."""
        with torch.no_grad():
            self.scale.fill_(1.0)
            self.epsilon.fill_(1e-3)

    def forward(self, x):
        """Normalise ``(..., K, C)`` channel-wise; same shape out."""
        mean_square = x.pow(2).mean(dim=-2, keepdim=True)
        return x * (self.scale * torch.rsqrt(mean_square + _EPS + self.epsilon.abs()))


class OrthNeuron(nn.Module):
    """Smooth vector-neuron linear map followed by a smooth VN-ReLU.

    With ``Q = X W_q`` and ``Kk = X W_k`` (channel mixing, no bias),
    ``d = sum_k Q * Kk`` and ``n = sum_k Kk^2`` per channel, the output is
    ``Q + SiLU(-d) * Kk * n / (n^2 + 1e-6)``.  For strongly negative ``d`` this
    removes the component of ``Q`` along ``Kk`` (the VN-ReLU), and it is smooth
    everywhere.  ``d`` and ``n`` are invariant, hence the layer is equivariant.

    Parameters
    ----------
    in_channels, out_channels : int
        Channel widths before and after the layer.
    """

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.query = nn.Linear(in_channels, out_channels, bias=False)
        self.key = nn.Linear(in_channels, out_channels, bias=False)

    def forward(self, x):
        """Map ``(..., K, in_channels)`` to ``(..., K, out_channels)``."""
        query = self.query(x)
        key = self.key(x)
        alignment = (query * key).sum(dim=-2, keepdim=True)
        key_sq_norm = key.pow(2).sum(dim=-2, keepdim=True)
        # n / (n^2 + eps) is a smooth 1/n that stays finite for a zero key.
        inverse_sq_norm = key_sq_norm / (key_sq_norm.pow(2) + _EPS)
        return query + F.silu(-alignment) * inverse_sq_norm * key


class OrthMLP(nn.Module):
    """``n_layers`` x [:class:`OrthNorm` -> :class:`OrthNeuron`], all of width ``width``.

    Parameters
    ----------
    in_channels : int
        Channels of the input.
    width : int
        Channels of every layer's output.
    n_layers : int
        Number of norm + neuron pairs (>= 1).
    """

    def __init__(self, in_channels, width, n_layers):
        super().__init__()
        check_int(n_layers, "n_layers")
        layers = []
        channels = in_channels
        for _ in range(n_layers):
            layers += [OrthNorm(channels), OrthNeuron(channels, width)]
            channels = width
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        """Map ``(..., K, in_channels)`` to ``(..., K, width)``."""
        return self.layers(x)


class GramReadout(nn.Module):
    """Invariant features: the upper triangle of the channel Gram matrix.

    :class:`OrthNorm` -> :class:`OrthNeuron` (to ``hidden`` channels) -> ``H^T H``
    (``hidden x hidden``, inner products over the group axis, hence
    ``O(K)``-invariant) -> upper triangle including the diagonal, row-major.

    Parameters
    ----------
    in_channels : int
        Channels of the input.
    hidden : int, default=64
        Channels whose pairwise inner products are read out.

    Attributes
    ----------
    out_features : int
        ``hidden * (hidden + 1) // 2``.
    """

    def __init__(self, in_channels, hidden=64):
        super().__init__()
        self.hidden = int(hidden)
        self.out_features = self.hidden * (self.hidden + 1) // 2
        self.norm = OrthNorm(in_channels)
        self.neuron = OrthNeuron(in_channels, self.hidden)

    def forward(self, x):
        """Map ``(..., K, in_channels)`` to ``(..., out_features)``."""
        h = self.neuron(self.norm(x))
        gram = h.transpose(-2, -1) @ h
        # Indices are built on the fly: a buffer would be left uninitialised
        # by the meta-device construction.
        rows, cols = torch.triu_indices(self.hidden, self.hidden, device=gram.device)
        return gram[..., rows, cols]


class OrthNet(nn.Module):
    """``O(K)``-invariant classifier/regressor head of the reference (``orth_net``).

    With ``L = n_layers // 2 + 1``::

        h = OrthMLP(width, L)(X) + Linear_noBias(C -> width)(X)
        h = OrthMLP(width, L)(h)
        y = Linear(-> readout_width) -> SiLU -> Linear(-> n_classes)  of  GramReadout(h)

    Parameters
    ----------
    in_channels : int
        Channels ``C`` of the input ``(B, K, C)``.
    n_classes : int
        Output features (logits).
    width : int, default=128
        Channels of the equivariant trunk.
    n_layers : int, default=2
        Depth setting of the reference; each of the two trunk MLPs has
        ``n_layers // 2 + 1`` norm + neuron layers, as the reference's
        ``orth_net`` describes.  Its code builds those layers but runs only the
        first norm and neuron of each trunk (``orth_mlp`` loops over
        ``num_layers`` of its ``2 * num_layers`` modules), so the head it trained
        is ``n_layers=0`` here (``tests/core/test_reference_parity.py``).
    gram_channels : int, default=64
        Channels of the Gram readout (``gram_channels * (gram_channels + 1) / 2``
        invariant features).
    readout_width : int or None, default=None
        Hidden width of the final MLP; ``None`` uses 4x the number of invariant
        features, as the reference does (8320 for 64 Gram channels).
    """

    def __init__(
        self,
        in_channels,
        n_classes,
        width=128,
        n_layers=2,
        gram_channels=64,
        readout_width=None,
    ):
        super().__init__()
        trunk_layers = n_layers // 2 + 1
        self.mlp_in = OrthMLP(in_channels, width, trunk_layers)
        # Linear over channels only, so the skip is equivariant too.
        self.skip = nn.Linear(in_channels, width, bias=False)
        self.mlp_out = OrthMLP(width, width, trunk_layers)
        self.readout = GramReadout(width, gram_channels)
        n_features = self.readout.out_features
        if readout_width is None:
            readout_width = 4 * n_features
        self.head = nn.Sequential(
            nn.Linear(n_features, readout_width),
            nn.SiLU(),
            nn.Linear(readout_width, n_classes),
        )

    def invariant_features(self, x):
        """Gram features of ``(..., K, C)``, shape ``(..., gram_features)``."""
        h = self.mlp_in(x) + self.skip(x)
        return self.readout(self.mlp_out(h))

    def forward(self, x):
        """Map ``(..., K, C)`` to ``(..., n_classes)``."""
        return self.head(self.invariant_features(x))
