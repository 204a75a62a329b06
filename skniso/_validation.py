"""Parameter constraints shared by the estimators (sklearn's ``_parameter_constraints``).

Each estimator lists its own parameters and merges :data:`TRAINING_PARAMETER_CONSTRAINTS`
for those of the shared training loop.  sklearn validates them at the start of
``fit`` (through ``sklearn.base._fit_context``) and raises
:class:`sklearn.utils._param_validation.InvalidParameterError`, a ``ValueError``
that names the parameter, the estimator, the accepted values and the value given.
Its common check ``check_param_validation`` asserts that every ``__init__``
parameter has an entry, so a new parameter needs one here or in its estimator.
"""

import os
from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Interval, StrOptions

__all__ = ["TRAINING_PARAMETER_CONSTRAINTS", "positive_int", "non_negative_real", "check_finite_output"]

positive_int = Interval(Integral, 1, None, closed="left")
non_negative_real = Interval(Real, 0, None, closed="left")

TRAINING_PARAMETER_CONSTRAINTS = {
    "max_steps": [positive_int],
    "batch_size": [positive_int],
    "lr": [Interval(Real, 0, None, closed="neither")],
    "weight_decay": [non_negative_real],
    "warmup_steps": [Interval(Integral, 0, None, closed="left")],
    # "auto" (or None), "cpu", "cuda", "cuda:N" or a torch.device; resolve_device
    # names what is wrong with a string that torch does not parse.
    "device": [str, torch.device, None],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
    "n_iter_no_change": [positive_int],
    "tol": [non_negative_real],
    "validation_interval": [positive_int],
    "grad_clip_norm": [Interval(Real, 0, None, closed="neither"), None],
    "warm_start": ["boolean"],
    "checkpoint_path": [str, os.PathLike, None],
    "checkpoint_interval": [positive_int],
    "on_divergence": [StrOptions({"raise", "restore"})],
    "precision": [StrOptions({"32", "bf16", "16-mixed"})],
    "compile": ["boolean", dict],
    "max_time": [Interval(Real, 0, None, closed="neither"), None],
}


def check_finite_output(outputs, inputs, start, estimator):
    """Raise if a batch of model outputs holds NaN or inf.

    Finite inputs of huge magnitude (say 1e30) overflow float32 inside the
    network; a clear error is better than latents or scores full of NaN.
    ``start`` is the index of the batch's first sample in the caller's input.
    """
    for output in outputs:
        bad = ~torch.isfinite(output.reshape(output.shape[0], -1)).all(dim=1)
        if bool(bad.any()):
            index = start + int(bad.nonzero()[0, 0])
            peak = max(float(x.abs().max()) for x in inputs)
            raise ValueError(
                f"{type(estimator).__name__} produced non-finite values for sample {index} "
                f"({int(bad.sum())} in its batch): inputs of magnitude up to {peak:.3g} overflow "
                "float32 inside the model; rescale X to the range it was fitted on"
            )
