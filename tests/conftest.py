import numpy as np
import pytest
import torch

# The suite runs as two pytest-xdist workers on CI's two cores: one torch
# thread each avoids oversubscription, which slows small models many-fold.
torch.set_num_threads(1)


def tiny_conv_params(**overrides):
    """A NeuralIsometryTransformer config that fits in well under a second."""
    params = dict(
        channels=(4, 8),
        blocks_per_level=(1, 1),
        latent_channels=3,
        n_components=6,
        max_steps=4,
        batch_size=4,
        warmup_steps=0,
        random_state=0,
    )
    params.update(overrides)
    return params


@pytest.fixture
def tiny_pairs():
    """12 pairs of 1-channel 8×8 images related by circular shifts, plus labels."""
    rng = np.random.default_rng(0)
    images = rng.standard_normal((12, 1, 8, 8)).astype(np.float32)
    shifted = np.roll(images, 1, axis=-1)
    labels = np.array([0, 1, 2] * 4)
    return np.stack([images, shifted], axis=1), labels


@pytest.fixture(scope="session")
def synthetic_co3d_root(tmp_path_factory):
    """A tiny CO3D-format folder: 4 sequences (orbit and hand-held) of 8 frames, 24×32."""
    from skniso.datasets import make_synthetic_co3d

    return make_synthetic_co3d(
        tmp_path_factory.mktemp("co3d"), n_sequences=4, n_frames=8, image_size=(24, 32), random_state=0
    )
