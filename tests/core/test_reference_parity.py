"""skniso against the JAX reference, on identical weights and inputs.

``tests/fixtures/reference_tiny.npz`` holds what the reference code computes on
a tiny homNIST model (``benchmarks/reference_fixture.py`` wrote it; see there
for the setting).  Its weights are loaded into skniso's encoder, decoder,
operator and vector-neuron head, and every output is compared: the three
losses, τ, the gradient of every parameter, the head's logits and gradients,
and the training warp.
"""

import os

import numpy as np
import pytest
import torch

from skniso.core.model import NeuralIsometryModel
from skniso.core.operator import SpectralOperator
from skniso.datasets import homography_matrices, warp_homography
from skniso.nn.conv import ConvDecoder, ConvEncoder
from skniso.nn.vector_neurons import OrthNet

FIXTURE = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "reference_tiny.npz")


@pytest.fixture(scope="module")
def reference():
    with np.load(FIXTURE) as data:
        return {key: data[key] for key in data.files}


def _conv(weight):  # flax (kh, kw, in, out) -> torch (out, in, kh, kw)
    return torch.as_tensor(weight).permute(3, 2, 0, 1)


def _dense(weight):  # flax (in, out) -> torch (out, in); reshaped to 1x1 convolutions as needed
    return torch.as_tensor(weight).T


def _model_parameters(model):
    """(torch parameter, reference key, converter) for every model parameter."""
    entries = []

    def pointwise(layer, key):
        entries.extend([(layer.weight, key + "/kernel", _dense), (layer.bias, key + "/bias", torch.as_tensor)])

    def norm(layer, key):
        entries.extend([(layer.weight, key + "/scale", torch.as_tensor), (layer.bias, key + "/bias", torch.as_tensor)])

    for prefix, network in (("encoder", model.encoder), ("decoder", model.decoder)):
        for index, layer in enumerate(network.layers):
            key = f"{prefix}/module_list_{index}"
            kind = type(layer).__name__
            if kind == "ResBlock":
                norm(layer.residual[0], key + "/LayerNorm_0")
                norm(layer.residual[3], key + "/LayerNorm_1")
                for position, name in ((2, "Conv_0"), (5, "Conv_1")):
                    conv = layer.residual[position]
                    entries.extend([(conv.weight, f"{key}/{name}/kernel", _conv),
                                    (conv.bias, f"{key}/{name}/bias", torch.as_tensor)])
                pointwise(layer.skip, key + "/Dense_0")
            elif kind == "Conv2d":
                pointwise(layer, key)
            elif kind == "InstanceNorm2d":
                norm(layer, key)
    operator = model.operator
    entries += [(operator.mass_raw, "kernel/M", torch.as_tensor),
                (operator.basis_raw, "kernel/Phi", torch.as_tensor),
                (operator.eigen_raw, "kernel/Lambda", torch.as_tensor)]
    return entries


def _head_parameters(head):
    entries = []

    def norm(layer, key):
        entries.extend([(layer.scale, key + "/scale", torch.as_tensor), (layer.epsilon, key + "/eps", torch.as_tensor)])

    def neuron(layer, key):
        entries.extend([(layer.query.weight, key + "/Dense_0/kernel", _dense),
                        (layer.key.weight, key + "/Dense_1/kernel", _dense)])

    for trunk, key in ((head.mlp_in, "orth_mlp_0"), (head.mlp_out, "orth_mlp_1")):
        norm(trunk.layers[0], key + "/layers_0")
        neuron(trunk.layers[1], key + "/layers_1")
    entries.append((head.skip.weight, "Dense_0/kernel", _dense))
    norm(head.readout.norm, "orth_out_0/orth_norm_0")
    neuron(head.readout.neuron, "orth_out_0/orth_neuron_0")
    for index, name in ((0, "Dense_0"), (2, "Dense_1")):
        entries.extend([(head.head[index].weight, f"orth_out_0/{name}/kernel", _dense),
                        (head.head[index].bias, f"orth_out_0/{name}/bias", torch.as_tensor)])
    return entries


def _load(entries, reference, prefix):
    with torch.no_grad():
        for parameter, key, convert in entries:
            parameter.copy_(convert(reference[prefix + key]).reshape(parameter.shape))
    loaded = {prefix + key for _, key, _ in entries}
    missing = sorted(k for k in reference if k.startswith(prefix) and k not in loaded)
    assert not missing, f"reference parameters without a skniso counterpart: {missing}"


def _reference_model(reference, scale):
    # The reference's encoder stem is a fixed 48-wide dense layer.
    encoder = ConvEncoder(1, 8, (8, 16), (1, 1), stem_channels=48)
    decoder = ConvDecoder(8, 1, (8, 16), (1, 1))
    model = NeuralIsometryModel(encoder, decoder, (8, 8), SpectralOperator(64, 8))
    entries = _model_parameters(model)
    _load(entries, reference, "param:")
    with torch.no_grad():  # the "small" case: the encoder's last layer scaled down
        encoder.layers[-1].weight.mul_(scale)
        encoder.layers[-1].bias.mul_(scale)
    return model, entries


def _relative_error(ours, theirs):
    return float(np.linalg.norm(ours - theirs) / np.linalg.norm(theirs))


def _losses(model, reference, gradient):
    """skniso's pairwise objective on the fixture's pair, with the reference's α and β."""
    views = [torch.as_tensor(reference[key]).permute(0, 3, 1, 2) for key in ("x0", "x1")]
    return model.losses(views, alpha=0.5, beta=0.1, procrustes_gradient=gradient)


def _gradient_errors(model, entries, reference, case, gradient):
    out = _losses(model, reference, gradient)
    out["loss"].backward()
    errors = {}
    for parameter, key, convert in entries:
        theirs = convert(reference[f"{case}:grad:{key}"]).reshape(parameter.shape).numpy()
        # Biases feeding an instance norm have a zero gradient; both sides hold rounding noise.
        if np.linalg.norm(theirs) > 1e-5:
            errors[key] = _relative_error(parameter.grad.numpy(), theirs)
    return errors


@pytest.mark.parametrize("case, scale", [("spread", 1.0), ("small", 0.01)])
def test_losses_and_tau_match_the_reference(reference, case, scale):
    model, _ = _reference_model(reference, scale)
    with torch.no_grad():
        out = _losses(model, reference, "reference")
    for name in ("loss", "reconstruction", "equivariance", "multiplicity"):
        np.testing.assert_allclose(out[name].item(), reference[f"{case}:{name}"], rtol=2e-5)
    np.testing.assert_allclose(out["tau"][0].detach().numpy(), reference[f"{case}:tau"], atol=1e-4)


def test_gradients_match_the_reference_at_initial_scale(reference):
    # Singular values are large here, so the exact and the damped derivative agree.
    for gradient in ("exact", "reference"):
        model, entries = _reference_model(reference, 1.0)
        errors = _gradient_errors(model, entries, reference, "spread", gradient)
        assert len(errors) >= 40
        worst = max(errors, key=errors.get)
        assert errors[worst] < 1e-2, (gradient, worst, errors[worst])


def test_damped_gradient_matches_the_reference_once_latents_are_small(reference):
    model, entries = _reference_model(reference, 0.01)
    errors = _gradient_errors(model, entries, reference, "small", "reference")
    worst = max(errors, key=errors.get)
    assert errors[worst] < 1e-2, (worst, errors[worst])
    # The exact derivative departs from the reference here: the damping is real.
    model, entries = _reference_model(reference, 0.01)
    exact_errors = _gradient_errors(model, entries, reference, "small", "exact")
    encoder_errors = [e for key, e in exact_errors.items() if key.startswith("encoder")]
    assert np.median(encoder_errors) > 0.05


def test_vector_neuron_head_matches_reference_orth_net(reference):
    # The reference's orth_net(F, num_layers=2) runs ONE norm + neuron per trunk
    # (it builds two but calls the first two modules): skniso's n_layers=0.
    head = OrthNet(8, 10, width=16, n_layers=0, gram_channels=8)
    entries = _head_parameters(head)
    _load(entries, reference, "head_param:")
    inputs = torch.as_tensor(reference["spread:eigenspace"]).requires_grad_()
    logits = head(inputs)
    loss = torch.nn.functional.cross_entropy(logits, torch.as_tensor(reference["head:labels"]).long())
    loss.backward()
    np.testing.assert_allclose(logits.detach().numpy(), reference["head:logits"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(loss.item(), reference["head:loss"], rtol=1e-5)
    assert _relative_error(inputs.grad.numpy(), reference["head:input_grad"]) < 1e-4
    for parameter, key, convert in entries:
        theirs = convert(reference["head_grad:" + key]).reshape(parameter.shape).numpy()
        assert _relative_error(parameter.grad.numpy(), theirs) < 1e-3, key


def test_training_warp_matches_the_reference(reference):
    matrices = homography_matrices(reference["coefficients"].astype(np.float64))
    np.testing.assert_allclose(matrices, reference["matrices"], rtol=1e-5, atol=1e-6)
    x0 = torch.as_tensor(reference["x0"]).permute(0, 3, 1, 2)
    warped = warp_homography(x0, torch.as_tensor(reference["matrices"]))
    np.testing.assert_allclose(warped.permute(0, 2, 3, 1).numpy(), reference["x1"], atol=2e-5)
    assert not np.allclose(reference["x1"], reference["x0"], atol=0.1)  # the warps are not the identity
