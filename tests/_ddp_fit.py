"""Fit under ``torchrun`` with a gloo process group; rank 0 saves the result.

Run by tests/test_training.py::test_ddp_matches_a_single_process_run as
``torchrun --nproc_per_node=2 --standalone tests/_ddp_fit.py OUT``.
"""

import sys

import numpy as np
import torch
import torch.distributed as dist

from skniso import NeuralIsometryTransformer


def ddp_problem():
    """Pairs, parameters and the global batch shared by the test and this script."""
    rng = np.random.default_rng(3)
    images = rng.standard_normal((16, 1, 8, 8)).astype(np.float32)
    X = np.stack([images, np.roll(images, 1, axis=-1)], axis=1)
    params = dict(channels=(4, 8), blocks_per_level=(1, 1), latent_channels=3, n_components=6,
                  max_steps=6, batch_size=8, warmup_steps=2, random_state=0, device="cpu")
    return X, params


if __name__ == "__main__":
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    X, params = ddp_problem()
    niso = NeuralIsometryTransformer(**params).fit(X)
    if dist.get_rank() == 0:
        np.savez(sys.argv[1], losses=[row["loss"] for row in niso.history_], Z=niso.transform(X))
    dist.destroy_process_group()
