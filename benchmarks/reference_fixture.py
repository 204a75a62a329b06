"""Write the JAX reference's outputs on a tiny homNIST model to a test fixture.

``tests/core/test_reference_parity.py`` loads the weights stored here into
skniso's modules and checks that the losses, τ, the gradients of every
parameter, the vector-neuron head and the training warp agree with what the
reference code (github.com/vsitzmann/neural-isometries, commit 3d47289)
computes.  The fixture is committed; this script only needs re-running if the
fixture's contents change.  It needs jax, flax and a checkout of the reference
(its ``nn`` and ``data`` packages are imported, not copied)::

    pip install jax flax optax scikit-learn scipy icecream
    python benchmarks/reference_fixture.py --reference-dir PATH/neural-isometries \\
        --out tests/fixtures/reference_tiny.npz

The model is the reference's homNIST pipeline at a tiny size: 16 x 16 inputs,
encoder (8, 16) / (1, 1), C = K = 8 (so N = 64), α = 0.5, β = 0.1.  Two weight
settings are stored:

* ``spread``: the reference initialisation, with eigenvalues spread out
  (0.3 apart, so the fuzzy mask is far from all-ones) and a non-uniform mass;
* ``small``: the same weights with the encoder's last layer scaled by 0.01, so
  that the latents, and the singular values of the Procrustes cross-covariance,
  are as small as they become in training (where the reference's damped SVD
  derivative departs from the exact one).

The head is the reference's ``orth_net`` structure, two ``orth_mlp`` trunks of
``num_layers = 2`` (which run one norm + neuron each: the reference builds two
pairs but calls only the first two modules) and an ``orth_out`` readout with 8
instead of 64 Gram channels, to keep the fixture small.
"""

import argparse
import sys

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reference-dir", required=True, help="checkout of vsitzmann/neural-isometries")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    import jax
    import jax.numpy as jnp
    from flax import linen
    from flax import traverse_util

    sys.path.insert(0, args.reference_dir)
    from data import xforms
    from nn import conv, equiv, fmaps, losses

    size, channels, blocks, latent, rank, batch = 16, (8, 16), (1, 1), 8, 8, 4
    alpha, beta = 0.5, 0.1
    keys = jax.random.split(jax.random.PRNGKey(0), 9)
    rng = np.random.default_rng(0)
    x0 = rng.uniform(-1, 1, (batch, size, size, 1)).astype(np.float32)
    coefficients = (rng.standard_normal((batch, 8)) * np.array([0.15, 0.35, 0.17, 0.35, 0.15, 0.17, 0.15, 0.15]))
    coefficients = coefficients.astype(np.float32)

    # The training warp, as xforms._draw_and_xform and _draw_and_apply_pair do after drawing H.
    matrices = jax.scipy.linalg.expm(jnp.einsum("ni,iab->nab", jnp.asarray(coefficients), xforms.hom_basis()))
    rows, cols = jnp.meshgrid(jnp.arange(size), jnp.arange(size), indexing="ij")
    grid = jnp.stack([2.0 * (rows.reshape(-1) / (size - 1) - 0.5), 2.0 * (cols.reshape(-1) / (size - 1) - 0.5),
                      jnp.ones(size * size)], -1)
    mapped = jnp.matmul(matrices[:, None], grid[None, ..., None])[..., 0]
    mapped = 0.5 * (mapped[..., :2] * xforms.safe_inverse(mapped[..., 2, None]) + 1.0)
    x_min = jnp.min(x0, axis=(1, 2), keepdims=True)
    x1 = jax.vmap(xforms.interp)(x0 - x_min, mapped[..., 0] * (size - 1), mapped[..., 1] * (size - 1)) + x_min

    encoder = conv.ConvEncoder(channels=channels, block_depth=blocks, kernel_size=3, out_dim=latent)
    decoder = conv.ConvDecoder(channels=channels[::-1], block_depth=blocks[::-1], kernel_size=3, out_dim=1)
    kernel = fmaps.operator_iso(op_dim=rank)
    grid_size = size // 2
    views = jnp.reshape(jnp.stack([x0, x1], 1), (-1, size, size, 1))
    z_init = jnp.ones((2 * batch, grid_size, grid_size, latent))
    params = {
        "encoder": encoder.init(keys[0], views)["params"],
        "decoder": decoder.init(keys[1], z_init)["params"],
        "kernel": kernel.init(keys[2], z_init.reshape(2 * batch, -1, latent), z_init.reshape(2 * batch, -1, latent))[
            "params"],
    }
    operator = dict(params["kernel"])
    operator["Lambda"] = jnp.sqrt(0.3) * (1.0 + 0.1 * jax.random.normal(keys[3], (rank,)))
    operator["M"] = 1.0 + 0.2 * jax.random.normal(keys[4], operator["M"].shape)
    params["kernel"] = operator
    last = f"module_list_{2 + sum(blocks) + len(channels) - 1 + 2}"  # after Dense, SiLU, blocks, pools, norm, SiLU

    def scaled(params, factor):
        enc = dict(params["encoder"])
        enc[last] = {k: v * factor for k, v in enc[last].items()}
        return {**params, "encoder": enc}

    def loss_fn(params):
        # The pairwise objective of experiments/hmnist_encode/train.py::train_step.
        z = encoder.apply({"params": params["encoder"]}, views).reshape(batch, 2, -1, latent)
        a, b = z[:, 0], z[:, 1]
        tau, (phi, eigenvalues, mass) = kernel.apply({"params": params["kernel"]}, a, b)
        a_hat = jnp.einsum("lj,blm->bjm", phi, mass[:, None] * a)
        b_hat = jnp.einsum("lj,blm->bjm", phi, mass[:, None] * b)
        b_from_a = tau @ a_hat
        a_from_b = jnp.swapaxes(tau, -1, -2) @ b_hat
        equivariance = losses.l1_loss(b_hat, b_from_a) + losses.l1_loss(a_hat, a_from_b)
        multiplicity = losses.multiplicity_loss(eigenvalues)
        decoded = decoder.apply(
            {"params": params["decoder"]},
            jnp.concatenate([phi @ a_from_b, phi @ b_from_a]).reshape(-1, grid_size, grid_size, latent),
        )
        reconstruction = losses.l1_loss(x0, decoded[:batch]) + losses.l1_loss(x1, decoded[batch:])
        total = reconstruction + alpha * equivariance + beta * multiplicity
        return total, (reconstruction, equivariance, multiplicity, tau, a_hat)

    class TinyOrthNet(linen.Module):
        """orth_net's structure with an 8-channel Gram readout."""

        @linen.compact
        def __call__(self, x):
            h = equiv.orth_mlp(features=16, num_layers=2)(x) + linen.Dense(16, use_bias=False)(x)
            h = equiv.orth_mlp(features=16, num_layers=2)(h)
            return equiv.orth_out(out_dim=10, inter_features=8)(h)

    flat = lambda tree, prefix: {prefix + "/".join(k): np.asarray(v) for k, v in traverse_util.flatten_dict(tree).items()}
    out = {"x0": x0, "x1": np.asarray(x1), "coefficients": coefficients, "matrices": np.asarray(matrices)}
    out.update(flat(params, "param:"))
    for case, factor in (("spread", 1.0), ("small", 0.01)):
        (total, (rec, equi, mult, tau, a_hat)), grads = jax.value_and_grad(loss_fn, has_aux=True)(scaled(params, factor))
        out.update({f"{case}:loss": total, f"{case}:reconstruction": rec, f"{case}:equivariance": equi,
                    f"{case}:multiplicity": mult, f"{case}:tau": tau, f"{case}:eigenspace": a_hat})
        out.update(flat(grads, f"{case}:grad:"))

    head = TinyOrthNet()
    head_input = np.asarray(out["spread:eigenspace"])
    head_params = head.init(keys[5], head_input)["params"]
    labels = jnp.arange(batch) % 10

    def head_loss(head_params, x):
        logits = head.apply({"params": head_params}, x)
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], 1)), logits

    (loss, logits), (head_grads, input_grad) = jax.value_and_grad(head_loss, argnums=(0, 1), has_aux=True)(
        head_params, head_input)
    out.update(flat(head_params, "head_param:"))
    out.update(flat(head_grads, "head_grad:"))
    out.update({"head:loss": loss, "head:logits": logits, "head:input_grad": input_grad, "head:labels": labels})
    np.savez_compressed(args.out, **{k: np.asarray(v, dtype=np.float32) for k, v in out.items()})
    print(f"wrote {len(out)} arrays to {args.out}")


if __name__ == "__main__":
    main()
