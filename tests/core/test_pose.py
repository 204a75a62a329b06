import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from skniso.core.pose import rotation_from_9d, rotation_loss, scale_invariant_translation_loss


def test_first_two_columns_of_a_rotation_give_it_back():
    rotations = torch.from_numpy(Rotation.random(5, random_state=0).as_matrix())
    translation = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    rep = torch.cat([rotations[..., 0], rotations[..., 1], translation], dim=-1)
    rotation, t = rotation_from_9d(rep)
    torch.testing.assert_close(rotation, rotations)
    torch.testing.assert_close(t, translation)


def test_any_nine_values_give_a_proper_rotation_with_x_along_n1():
    rep = torch.randn(20, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    rotation, _ = rotation_from_9d(rep)
    eye = torch.eye(3, dtype=torch.float64).expand(20, 3, 3)
    torch.testing.assert_close(rotation.mT @ rotation, eye)
    torch.testing.assert_close(torch.linalg.det(rotation), torch.ones(20, dtype=torch.float64))
    torch.testing.assert_close(rotation[..., 0], rep[:, :3] / rep[:, :3].norm(dim=1, keepdim=True))
    # n2 lies in the plane of the first two columns, on the side of y.
    assert torch.all((rotation[..., 2] * rep[:, 3:6]).sum(-1).abs() < 1e-10)
    assert torch.all((rotation[..., 1] * rep[:, 3:6]).sum(-1) > 0)


def test_rotation_lift_gradcheck():
    rep = torch.randn(3, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(2), requires_grad=True)
    assert torch.autograd.gradcheck(lambda r: rotation_from_9d(r)[0], (rep,))


def test_rotation_lift_rejects_other_sizes():
    with pytest.raises(ValueError, match="9 values"):
        rotation_from_9d(torch.zeros(2, 6))


def test_translation_loss_ignores_one_scale_per_group():
    generator = torch.Generator().manual_seed(3)
    target = torch.randn(2, 3, 3, generator=generator, dtype=torch.float64)
    predicted = target * torch.tensor([2.0, -0.5], dtype=torch.float64)[:, None, None]
    assert scale_invariant_translation_loss(predicted, target).item() == pytest.approx(0.0, abs=1e-12)
    # A single scale for both groups would not do.
    assert scale_invariant_translation_loss(predicted.reshape(1, 6, 3), target.reshape(1, 6, 3)).item() > 0.1


def test_translation_loss_value_and_stop_gradient_on_the_scale():
    predicted = torch.tensor([[[1.0, 0, 0], [0, 1.0, 0]]], dtype=torch.float64, requires_grad=True)
    target = torch.tensor([[[2.0, 0, 0], [0, 0, 1.0]]], dtype=torch.float64)
    # s* = <T̂, T> / <T̂, T̂> = 2 / 2 = 1; residual |T − T̂| = [1,0,0 | 0,1,1] → mean 3/6.
    loss = scale_invariant_translation_loss(predicted, target)
    assert loss.item() == pytest.approx(0.5)
    loss.backward()
    # With s* held fixed: d mean|T − s T̂| / dT̂ = −s·sign(T − s T̂) / 6.
    expected = -np.sign(np.array([[[1.0, 0, 0], [0, -1, 1]]])) / 6
    np.testing.assert_allclose(predicted.grad.numpy(), expected)


def test_rotation_loss_is_mean_absolute_difference():
    assert rotation_loss(torch.eye(3)[None], torch.zeros(1, 3, 3)).item() == pytest.approx(3 / 9)


def test_positive_scale_penalises_a_flipped_translation():
    target = torch.tensor([[[1.0, 2.0, 0.0]]])
    assert scale_invariant_translation_loss(-target, target).item() == pytest.approx(0.0)
    assert scale_invariant_translation_loss(-target, target, positive=True).item() == pytest.approx(2.0)
