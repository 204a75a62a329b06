import numpy as np
import pytest

from skniso.geometry import icosphere

from ..integer_rule import bad_integers, names_the_value


@pytest.mark.parametrize("subdivisions", bad_integers(2, minimum=0))
def test_icosphere_subdivisions_follow_the_integer_rule(subdivisions):
    with pytest.raises(ValueError, match=names_the_value("subdivisions", subdivisions)):
        icosphere(subdivisions)
    vertices, faces = icosphere(np.int64(0))  # the icosahedron itself
    assert vertices.shape == (12, 3) and faces.shape == (20, 3)
