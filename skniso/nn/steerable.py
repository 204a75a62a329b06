"""SE(3)-steerable convolutions on voxel grids (Weiler et al., NeurIPS 2018).

A feature field is a list of irreducible SO(3) fields: ``m[l]`` fields of
degree ``l``, each with ``2l + 1`` components.  Channels are laid out by
degree (all l = 0 fields, then all l = 1 fields, …), field-major within a
degree.  A kernel from degree ``l_in`` to ``l_out`` is a learned combination of
basis kernels

    K(x)[m_out, m_in] = G_r(|x|) · Σ_mf C^{l_in, l_f, l_out}[m_in, mf, m_out] · Y_{l_f, mf}(x / |x|),

a radial Gaussian ring G_r times spherical harmonics coupled by Clebsch-Gordan
coefficients, which satisfies K(Rx) = D^{l_out}(R) K(x) D^{l_in}(R)ᵀ for every
rotation R.  Only rotations (SO(3)) are built in: couplings with odd
``l_in + l_f + l_out`` are kept, so the network can tell mirror images apart.

Sampled on the voxel lattice, the constraint holds exactly for the 24
rotations of the cube, which permute the lattice; for other rotations it holds
up to discretisation.  The spherical harmonics and Clebsch-Gordan coefficients
come from e3nn, which is imported only when a basis is computed.
"""

import functools

import torch
from torch import nn
from torch.nn import functional as F

from .._validation import check_int
from .group_conv import even_pool

__all__ = [
    "steerable_basis",
    "SteerableConv3d",
    "FieldBatchNorm",
    "FieldGate",
    "SteerableCNN",
    "gaussian_pool",
]

# Width of the radial rings, in voxels.
_RING_SIGMA = 0.6
# Highest spherical-harmonic degree of a filter (rings of radius r use at most 2r).
_FILTER_LMAX = 3


def _e3nn_o3():
    try:
        from e3nn import o3
    except ImportError as exc:  # pragma: no cover - e3nn is installed in the test environment
        raise ImportError(
            "the steerable CNN needs e3nn for spherical harmonics and Clebsch-Gordan "
            "coefficients: pip install 'skniso[baselines]' (or pip install e3nn)"
        ) from exc
    return o3


def _basis_terms(l_in, l_out, kernel_size):
    """The (ring radius, filter degree) pairs of one block's basis."""
    terms = []
    for radius in range(kernel_size // 2 + 1):
        top = min(2 * radius, _FILTER_LMAX, l_in + l_out)
        terms += [(radius, l_f) for l_f in range(abs(l_in - l_out), top + 1)]
    return terms


@functools.lru_cache(maxsize=None)
def steerable_basis(l_in, l_out, kernel_size):
    """Unit-norm basis kernels from degree ``l_in`` to ``l_out`` on a ``kernel_size³`` lattice.

    Returns
    -------
    Tensor of shape (n_basis, 2 l_out + 1, 2 l_in + 1, k, k, k), float64
        Lattice axes are the grid axes (D, H, W), read as (x, y, z).
    """
    o3 = _e3nn_o3()
    with torch.device("cpu"):
        half = kernel_size // 2
        axis = torch.arange(kernel_size, dtype=torch.float64) - half
        points = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), -1)
        norm = points.norm(dim=-1)
        kernels = []
        for radius, l_f in _basis_terms(l_in, l_out, kernel_size):
            ring = torch.exp(-((norm - radius) ** 2) / (2 * _RING_SIGMA**2))
            if l_f > 0:
                ring = ring * (norm > 0)  # a nonzero degree has no value at the centre
            harmonics = o3.spherical_harmonics(l_f, points, normalize=True, normalization="component")
            coupling = o3.wigner_3j(l_in, l_f, l_out, dtype=torch.float64)
            kernel = torch.einsum("ifo,xyzf,xyz->oixyz", coupling, harmonics, ring)
            kernels.append(kernel / kernel.norm().clamp_min(1e-12))
        if not kernels:
            return torch.zeros(0, 2 * l_out + 1, 2 * l_in + 1, kernel_size, kernel_size, kernel_size,
                               dtype=torch.float64)
        return torch.stack(kernels)


def _dims(mults):
    return sum(m * (2 * l + 1) for l, m in enumerate(mults))


class SteerableConv3d(nn.Module):
    """Convolution between fields of SO(3) irreps on a voxel grid.

    Parameters
    ----------
    in_mults, out_mults : sequence of int
        Fields per degree l = 0, 1, 2, … of input and output.
    kernel_size : int, default=5
        Odd.

    Maps ``(B, dims(in_mults), D, H, W)`` to ``(B, dims(out_mults), D, H, W)``.
    """

    def __init__(self, in_mults, out_mults, kernel_size=5):
        super().__init__()
        self.in_mults = tuple(int(m) for m in in_mults)
        self.out_mults = tuple(int(m) for m in out_mults)
        self.kernel_size = check_int(kernel_size, "kernel_size", odd=True)
        self.blocks = []  # (l_out, l_in, offset, n_basis) of each weight block
        offset = 0
        for l_out, m_out in enumerate(self.out_mults):
            for l_in, m_in in enumerate(self.in_mults):
                n_basis = len(_basis_terms(l_in, l_out, self.kernel_size))
                if m_out and m_in and n_basis:
                    k = self.kernel_size
                    self.register_buffer(
                        f"basis_{l_out}_{l_in}", torch.empty(n_basis, 2 * l_out + 1, 2 * l_in + 1, k, k, k)
                    )
                    self.blocks.append((l_out, l_in, offset, n_basis))
                    offset += n_basis * m_out * m_in
        self.weight = nn.Parameter(torch.empty(offset))
        self.bias = nn.Parameter(torch.empty(self.out_mults[0] if self.out_mults else 0))

    def reset_parameters_(self, generator):
        """Gaussian weights of variance 1 / fan-in per output degree; zero bias; the basis."""
        fan_in = [0] * len(self.out_mults)
        for l_out, l_in, _, n_basis in self.blocks:
            fan_in[l_out] += n_basis * self.in_mults[l_in]
        values = torch.empty(self.weight.shape)
        values.normal_(generator=generator)
        with torch.no_grad():
            for l_out, l_in, offset, n_basis in self.blocks:
                size = n_basis * self.out_mults[l_out] * self.in_mults[l_in]
                values[offset:offset + size] /= fan_in[l_out] ** 0.5
                basis = getattr(self, f"basis_{l_out}_{l_in}")
                basis.copy_(steerable_basis(l_in, l_out, self.kernel_size).to(basis))
            self.weight.copy_(values.to(self.weight.device))
            self.bias.zero_()

    def kernel(self):
        """The full (C_out, C_in, k, k, k) kernel."""
        k = self.kernel_size
        rows = []
        for l_out, m_out in enumerate(self.out_mults):
            row = [
                self.weight.new_zeros(m_out * (2 * l_out + 1), m_in * (2 * l_in + 1), k, k, k)
                for l_in, m_in in enumerate(self.in_mults)
            ]
            rows.append(row)
        for l_out, l_in, offset, n_basis in self.blocks:
            m_out, m_in = self.out_mults[l_out], self.in_mults[l_in]
            weights = self.weight[offset:offset + n_basis * m_out * m_in].view(n_basis, m_out, m_in)
            basis = getattr(self, f"basis_{l_out}_{l_in}")
            block = torch.einsum("bvu,bmnxyz->vmunxyz", weights, basis)
            rows[l_out][l_in] = block.reshape(m_out * (2 * l_out + 1), m_in * (2 * l_in + 1), k, k, k)
        return torch.cat([torch.cat(row, dim=1) for row in rows], dim=0)

    def forward(self, x):
        out = F.conv3d(x, self.kernel(), padding=self.kernel_size // 2)
        n_scalars = self.out_mults[0] if self.out_mults else 0
        if n_scalars:
            out = torch.cat([out[:, :n_scalars] + self.bias[:, None, None, None], out[:, n_scalars:]], dim=1)
        return out


class FieldBatchNorm(nn.Module):
    """Batch normalisation that commutes with rotations of irreducible fields.

    Scalars get ordinary batch norm; a field of degree l > 0 is divided by the
    root of its mean squared norm (over batch and voxels) and scaled by a learned
    gain, which leaves its direction, and so its rotation behaviour, intact.
    ``momentum=None`` makes the running statistics a cumulative average.
    """

    def __init__(self, mults, momentum=0.1, eps=1e-5):
        super().__init__()
        self.mults = tuple(int(m) for m in mults)
        self.momentum = momentum
        self.eps = eps
        n_fields = sum(self.mults)
        self.weight = nn.Parameter(torch.empty(n_fields))
        self.bias = nn.Parameter(torch.empty(self.mults[0]))
        self.register_buffer("running_mean", torch.empty(self.mults[0]))
        self.register_buffer("running_power", torch.empty(n_fields))
        self._n_tracked = 0

    def reset_parameters_(self, generator):
        """Unit gain, zero bias, running statistics of a standard input."""
        with torch.no_grad():
            self.weight.fill_(1.0)
            self.bias.zero_()
        self.reset_running_stats()

    def reset_running_stats(self):
        """Statistics of a standard input; ``momentum=None`` then averages all later batches."""
        with torch.no_grad():
            self.running_mean.zero_()
            self.running_power.fill_(1.0)
        self._n_tracked = 0

    def forward(self, x):
        batch, spatial = x.shape[0], x.shape[2:]
        m0 = self.mults[0]
        scalars = x[:, :m0]
        parts = [scalars]
        start = m0
        for l, m in enumerate(self.mults[1:], start=1):
            parts.append(x[:, start:start + m * (2 * l + 1)].reshape(batch, m, 2 * l + 1, *spatial))
            start += m * (2 * l + 1)
        reduce = (0,) + tuple(range(2, x.dim()))
        if self.training:
            mean = scalars.mean(dim=reduce)
            centred = scalars - mean.view(1, -1, *(1,) * len(spatial))
            powers = [centred.pow(2).mean(dim=reduce)]
            powers += [p.pow(2).mean(dim=2).mean(dim=reduce) for p in parts[1:]]
            power = torch.cat(powers)
            self._n_tracked += 1
            # momentum=None: a cumulative average, as torch's batch norm does.
            weight = 1.0 / self._n_tracked if self.momentum is None else self.momentum
            with torch.no_grad():
                self.running_mean.lerp_(mean.detach(), weight)
                self.running_power.lerp_(power.detach(), weight)
        else:
            mean, power = self.running_mean, self.running_power
        scale = self.weight * torch.rsqrt(power + self.eps)
        view = (1, -1) + (1,) * len(spatial)
        out = [(scalars - mean.view(view)) * scale[:m0].view(view) + self.bias.view(view)]
        start = m0
        for l, part in enumerate(parts[1:], start=1):
            gain = scale[start:start + part.shape[1]].view(1, -1, 1, *(1,) * len(spatial))
            out.append((part * gain).flatten(1, 2))
            start += part.shape[1]
        return torch.cat(out, dim=1)


class FieldGate(nn.Module):
    """Gated nonlinearity: SiLU on scalars, a sigmoid gate scalar per field of degree > 0.

    Input fields ``(m0 + Σ_{l>0} m_l, m1, m2, …)``: the first m0 scalars are
    activated, the next ones gate the higher fields one each.  Output
    ``(m0, m1, m2, …)``.  Gates are invariant, so the layer is equivariant.
    """

    def __init__(self, mults):
        super().__init__()
        self.mults = tuple(int(m) for m in mults)

    @staticmethod
    def gated_mults(mults):
        """The input multiplicities a gate producing ``mults`` needs."""
        mults = tuple(int(m) for m in mults)
        return (mults[0] + sum(mults[1:]),) + mults[1:]

    def forward(self, x):
        m0, n_gates = self.mults[0], sum(self.mults[1:])
        out = [F.silu(x[:, :m0])]
        gates = torch.sigmoid(x[:, m0:m0 + n_gates])
        start, gate = m0 + n_gates, 0
        for l, m in enumerate(self.mults[1:], start=1):
            size = m * (2 * l + 1)
            fields = x[:, start:start + size].unflatten(1, (m, 2 * l + 1))
            out.append((fields * gates[:, gate:gate + m].unsqueeze(2)).flatten(1, 2))
            start, gate = start + size, gate + m
        return torch.cat(out, dim=1)


def gaussian_pool(x, sigma=1.0):
    """Anti-aliased 2× downsampling of every channel of (B, C, D, H, W).

    A 4-tap Gaussian at offsets ±0.5, ±1.5 with stride 2: the output voxels sit
    where 2³ average pooling puts them, so 90° rotations of an even grid still
    commute with it, while the isotropic-ish blur suppresses the aliasing that
    breaks equivariance to other rotations.  Grids with an odd or unit size are
    returned as they are.
    """
    spatial = x.shape[2:]
    if not all(s % 2 == 0 and s > 1 for s in spatial):
        return x
    offsets = torch.tensor([-1.5, -0.5, 0.5, 1.5], dtype=x.dtype, device=x.device)
    taps = torch.exp(-offsets**2 / (2 * sigma**2))
    taps = taps / taps.sum()
    kernel = taps[:, None, None] * taps[None, :, None] * taps[None, None, :]
    batch, channels = x.shape[:2]
    flat = x.reshape(batch * channels, 1, *spatial)
    pooled = F.conv3d(flat, kernel[None, None], stride=2, padding=1)
    return pooled.reshape(batch, channels, *pooled.shape[2:])


class SteerableCNN(nn.Module):
    """A rotation-invariant voxel classifier from steerable convolutions.

    Each layer is ``SteerableConv3d → FieldBatchNorm → FieldGate``; after every
    layer but the last, the grid is average-pooled 2³ where its sizes are even
    (which commutes with 90° rotations).  The invariant features for the linear
    layer are spatial means of the last layer's scalar fields, of the dot
    products of its vector fields, and of their triple products.  The triple
    products are pseudo-scalars, rotation invariant but sign-flipping under
    reflections: without them the chiral information would have to pass through
    the gates, where it arrives only at second order.

    Parameters
    ----------
    in_channels, n_classes : int
        The input channels are scalar fields.
    fields : sequence of sequence of int, default=((8, 4), (16, 8), (16, 8))
        Multiplicities (m0, m1, m2, …) of each layer's output fields.  Degree-2
        (and higher) fields are supported, but off by default: on small grids
        their kernels discretise poorly and cost invariance to rotations off
        the lattice (see BENCHMARKS.md, 3D Tetris).
    kernel_size : int, default=5
    pooling : {"gaussian", "mean", None}, default="gaussian"
        Downsampling after every layer but the last: :func:`gaussian_pool`, 2³
        average pooling, or none (all layers at full resolution).
    """

    def __init__(
        self, in_channels, n_classes, fields=((8, 4), (16, 8), (16, 8)), kernel_size=5, pooling="gaussian"
    ):
        super().__init__()
        if pooling not in ("gaussian", "mean", None):
            raise ValueError(f"pooling must be 'gaussian', 'mean' or None, got {pooling!r}")
        self.pooling = pooling
        fields = [tuple(int(m) for m in f) for f in fields]
        previous = (int(in_channels),)
        self.convs, self.norms, self.gates = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for mults in fields:
            gated = FieldGate.gated_mults(mults)
            self.convs.append(SteerableConv3d(previous, gated, kernel_size))
            self.norms.append(FieldBatchNorm(gated))
            self.gates.append(FieldGate(mults))
            previous = mults
        self.n_scalars = fields[-1][0]
        self.n_vectors = n_vectors = fields[-1][1] if len(fields[-1]) > 1 else 0
        self.pairs = [(i, j) for i in range(n_vectors) for j in range(i, n_vectors)]
        self.triples = [
            (i, j, k) for i in range(n_vectors) for j in range(i + 1, n_vectors) for k in range(j + 1, n_vectors)
        ]
        self.head = nn.Linear(self.n_scalars + len(self.pairs) + len(self.triples), n_classes)

    def features(self, x):
        """Rotation-invariant features of volumes (B, C, D, H, W)."""
        for index, (conv, norm, gate) in enumerate(zip(self.convs, self.norms, self.gates)):
            x = gate(norm(conv(x)))
            if index < len(self.convs) - 1 and self.pooling == "gaussian":
                x = gaussian_pool(x)
            elif index < len(self.convs) - 1 and self.pooling == "mean":
                x = even_pool(x, 3, "mean")
        return self.readout(x)

    def readout(self, x):
        """Invariants of the last layer's fields (B, C, *grid): spatial means of its
        scalars, of its vector fields' dot products and of their triple products."""
        # Means, not maxima: a maximum picks single voxels, whose values
        # discretisation perturbs far more under rotations off the lattice.
        invariants = [x[:, :self.n_scalars].flatten(2).mean(-1)]
        if self.pairs:
            vectors = x[:, self.n_scalars:self.n_scalars + 3 * self.n_vectors]
            vectors = vectors.unflatten(1, (-1, 3)).flatten(3)  # (B, m1, 3, voxels)
            first, second = zip(*self.pairs)
            dots = (vectors[:, list(first)] * vectors[:, list(second)]).sum(2)
            invariants.append(dots.mean(-1))
        if self.triples:
            a, b, c = (vectors[:, list(index)] for index in zip(*self.triples))
            # Triple products det(a, b, c) are pseudo-scalars: they flip sign
            # under reflections, which is what tells mirror images apart.
            invariants.append((torch.linalg.cross(a, b, dim=2) * c).sum(2).mean(-1))
        return torch.cat(invariants, dim=1)

    def forward(self, x):
        """Logits (B, n_classes)."""
        return self.head(self.features(x))
