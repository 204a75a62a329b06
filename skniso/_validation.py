"""Parameter checks shared by the estimators and the dataset functions.

Single values are validated through sklearn's ``_parameter_constraints``: each
estimator lists its own parameters and merges :data:`TRAINING_PARAMETER_CONSTRAINTS`
for those of the shared training loop.  sklearn validates them at the start of
``fit`` (through ``sklearn.base._fit_context``) and raises
:class:`sklearn.utils._param_validation.InvalidParameterError`, a ``ValueError``
that names the parameter, the estimator, the accepted values and the value given.
Its common check ``check_param_validation`` asserts that every ``__init__``
parameter has an entry, so a new parameter needs one here or in its estimator.

Integers follow one rule everywhere, in constraints and in the hand-written checks
of the dataset, geometry, plotting and network functions (:func:`is_integer`,
:func:`check_int`, :func:`check_ints`): Python ints and numpy integer scalars
count, bools, floats (even ``3.0``) and arrays (even 0-d) do not.  A check with
its own range passes it to these (``minimum``, ``maximum``, ``odd``, ``length``)
rather than writing the rule again.
"""

import os
from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Interval, StrOptions

__all__ = [
    "TRAINING_PARAMETER_CONSTRAINTS",
    "NumberInterval",
    "OddInterval",
    "positive_int",
    "odd_positive_int",
    "non_negative_int",
    "non_negative_real",
    "positive_real",
    "is_integer",
    "check_int",
    "check_ints",
    "check_finite_output",
]


def is_integer(value, *, minimum, maximum=None):
    """Whether ``value`` is an integer in [``minimum``, ``maximum``].

    Python ints and numpy integer scalars count; bools (a ``True`` passed for a
    size is a mistake, not a 1), floats and arrays do not.  ``None`` leaves a
    bound open (``minimum=None`` for seeds and offsets of any sign).
    """
    return (
        isinstance(value, Integral)
        and not isinstance(value, bool)
        and (minimum is None or value >= minimum)
        and (maximum is None or value <= maximum)
    )


def _integers(minimum, maximum, odd, plural):
    """The range in words: 'positive integer', 'integers >= 2', 'odd integer in [1, 9]', ..."""
    noun = "integers" if plural else "integer"
    if maximum is not None:
        words = f"{noun} in [{'-inf' if minimum is None else minimum}, {maximum}]"
    elif minimum in (0, 1):
        words = f"{'positive' if minimum == 1 else 'non-negative'} {noun}"
    else:
        words = noun if minimum is None else f"{noun} >= {minimum}"
    return f"odd {words}" if odd else words


def check_int(value, name, *, minimum=1, maximum=None, odd=False):
    """Return ``value`` as an int, or raise a ``ValueError`` naming ``name``, the range and the value.

    Parameters
    ----------
    value : object
        Accepted if :func:`is_integer` accepts it with these bounds (and, with
        ``odd``, it is odd).
    name : str
        The parameter's name, for the message.
    minimum, maximum : int or None, default=1, None
        Inclusive bounds; None leaves that side open.
    odd : bool, default=False
        Accept only odd integers (kernel sizes with a centre).

    Returns
    -------
    int
    """
    if not is_integer(value, minimum=minimum, maximum=maximum) or (odd and value % 2 != 1):
        words = _integers(minimum, maximum, odd, plural=False)
        article = "an" if words[0] in "aeiou" else "a"
        raise ValueError(f"{name} must be {article} {words}, got {value!r}")
    return int(value)


def check_ints(value, name, *, minimum=1, allow_empty=False, length=None):
    """Return ``value`` as a tuple of ints, or raise a ``ValueError`` naming ``name`` and the value.

    Parameters
    ----------
    value : object
        A tuple, list, 1-D array or other iterable whose every entry
        :func:`is_integer` accepts with ``minimum``.
    name : str
        The parameter's name, for the message.
    minimum : int or None, default=1
        Inclusive lower bound of every entry; None: any integer.
    allow_empty : bool, default=False
        Whether an empty sequence is accepted.
    length : int or None, default=None
        The number of entries required, e.g. 2 for ``(height, width)``.

    Returns
    -------
    tuple of int
    """
    try:
        entries = tuple(value)
    except TypeError:
        entries = None
    if (
        entries is None
        or (not entries and not allow_empty)
        or (length is not None and len(entries) != length)
        or not all(is_integer(entry, minimum=minimum) for entry in entries)
    ):
        kind = f"tuple of {length}" if length is not None else "tuple of" if allow_empty else "non-empty tuple of"
        raise ValueError(
            f"{name} must be a {kind} {_integers(minimum, None, False, plural=True)}, got {value!r}"
        )
    return tuple(int(entry) for entry in entries)


class NumberInterval(Interval):
    """sklearn's ``Interval`` under the rule of :func:`is_integer`: a bool is no number.

    sklearn's own ``Interval`` takes ``True`` for 1, so ``max_steps=True`` would
    train one step.
    """

    def is_satisfied_by(self, val):
        return not isinstance(val, bool) and super().is_satisfied_by(val)

    def __str__(self):
        return f"{super().__str__()} (not a bool)"


class OddInterval(NumberInterval):
    """A :class:`NumberInterval` of integers that also must be odd (kernel sizes with a centre)."""

    def is_satisfied_by(self, val):
        return super().is_satisfied_by(val) and val % 2 == 1

    def __str__(self):
        return f"an odd {super().__str__()[3:]}"


positive_int = NumberInterval(Integral, 1, None, closed="left")
odd_positive_int = OddInterval(Integral, 1, None, closed="left")
non_negative_int = NumberInterval(Integral, 0, None, closed="left")
non_negative_real = NumberInterval(Real, 0, None, closed="left")
positive_real = NumberInterval(Real, 0, None, closed="neither")

TRAINING_PARAMETER_CONSTRAINTS = {
    "max_steps": [positive_int],
    "batch_size": [positive_int],
    "lr": [positive_real],
    "weight_decay": [non_negative_real],
    "warmup_steps": [non_negative_int],
    # "auto" (or None), "cpu", "cuda", "cuda:N" or a torch.device; resolve_device
    # names what is wrong with a string that torch does not parse.
    "device": [str, torch.device, None],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
    "validation_fraction": [NumberInterval(Real, 0, 1, closed="neither"), None],
    "n_iter_no_change": [positive_int],
    "tol": [non_negative_real],
    "validation_interval": [positive_int],
    "grad_clip_norm": [positive_real, None],
    "warm_start": ["boolean"],
    "checkpoint_path": [str, os.PathLike, None],
    "checkpoint_interval": [positive_int],
    "on_divergence": [StrOptions({"raise", "restore"})],
    "precision": [StrOptions({"32", "bf16", "16-mixed"})],
    "compile": ["boolean", dict],
    "max_time": [positive_real, None],
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
