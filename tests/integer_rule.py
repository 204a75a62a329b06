"""Cases of the package's one integer rule (skniso/_validation.py) for the tests of each check.

Python ints and numpy integer scalars count; bools, floats (even ``3.0``) and
values outside the range do not.
"""

import re


def bad_integers(valid, *, minimum=1, maximum=None):
    """Values an integer parameter must reject: a bool, ``valid`` (an accepted value)
    as a float, ``minimum - 1`` and, with ``maximum``, ``maximum + 1``."""
    return [True, float(valid), minimum - 1] + ([] if maximum is None else [maximum + 1])


def names_the_value(name, value):
    """A ``match`` pattern for a message that names the parameter and the value given."""
    return rf"{re.escape(name)} must be .*got {re.escape(repr(value))}"
