"""Parameter constraints shared by the estimators (sklearn's ``_parameter_constraints``).

Each estimator lists its own parameters and merges :data:`TRAINING_PARAMETER_CONSTRAINTS`
for those of the shared training loop.  sklearn validates them at the start of
``fit`` (through ``sklearn.base._fit_context``) and raises
:class:`sklearn.utils._param_validation.InvalidParameterError`, a ``ValueError``
that names the parameter, the estimator, the accepted values and the value given.
Its common check ``check_param_validation`` asserts that every ``__init__``
parameter has an entry, so a new parameter needs one here or in its estimator.
"""

from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Interval

__all__ = ["TRAINING_PARAMETER_CONSTRAINTS", "positive_int", "non_negative_real"]

positive_int = Interval(Integral, 1, None, closed="left")
non_negative_real = Interval(Real, 0, None, closed="left")

TRAINING_PARAMETER_CONSTRAINTS = {
    "max_steps": [positive_int],
    "batch_size": [positive_int],
    "lr": [Interval(Real, 0, None, closed="neither")],
    "weight_decay": [non_negative_real],
    "warmup_steps": [Interval(Integral, 0, None, closed="left")],
    # "auto", "cpu", "cuda", "cuda:N" or a torch.device; resolve_device names
    # what is wrong with a string that torch does not parse.
    "device": [str, torch.device],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
}
