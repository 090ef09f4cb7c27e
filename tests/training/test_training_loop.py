"""archc.training.loop: augmentation, the order of batches across processes, normalisation."""

from __future__ import annotations

import torch

from archc.training.distributed import Context
from archc.training.loop import Normalise, Tensors, epoch_batches, shift_images
from archc.training.recipe import Recipe


def reference_shift(image: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Move one C x H x W image by (dy, dx), zeros coming in: a loop over pixels."""
    out = torch.zeros_like(image)
    _, h, w = image.shape
    for i in range(h):
        for j in range(w):
            if 0 <= i - dy < h and 0 <= j - dx < w:
                out[:, i, j] = image[:, i - dy, j - dx]
    return out


def test_shift_images_matches_a_pixel_loop() -> None:
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(6, 2, 5, 7, generator=generator)
    shifts = torch.tensor([[0, 0], [3, -3], [-1, 2], [2, 0], [0, -2], [-3, 3]])
    out = shift_images(x, shifts, 3)
    for image, shifted, (dy, dx) in zip(x, out, shifts.tolist()):
        torch.testing.assert_close(shifted, reference_shift(image, dy, dx), rtol=0, atol=0)


def ctx(rank: int, world: int) -> Context:
    return Context(rank, world, rank, world, torch.device("cpu"))


def test_ranks_share_out_the_single_process_batches() -> None:
    """The union of the ranks' k-th batches is the single process's k-th batch, and each
    sample carries the same shift wherever it is."""
    n = 40
    # Each sample's value is its index, so a batch shows which samples it holds and, through
    # the position of the value after the shift, how each was shifted.
    x = torch.zeros(n, 1, 9, 9)
    x[:, 0, 4, 4] = torch.arange(1, n + 1, dtype=torch.float32)
    data = Tensors(x, torch.arange(n))
    recipe = Recipe(batch=8, seed=5, shift=2)
    for epoch in (0, 3):
        single = list(epoch_batches(data, recipe, epoch, ctx(0, 1)))
        ranks = [list(epoch_batches(data, recipe, epoch, ctx(r, 2))) for r in (0, 1)]
        assert [len(b) for b in ranks] == [len(single)] * 2
        for k, (whole_x, whole_y) in enumerate(single):
            parts_y = torch.cat([ranks[0][k][1], ranks[1][k][1]])
            assert sorted(parts_y.tolist()) == sorted(whole_y.tolist())
            by_label = {int(label): image for image, label in zip(whole_x, whole_y)}
            for rank in ranks:
                for image, label in zip(*rank[k]):
                    assert torch.equal(image, by_label[int(label)])
    orders = [torch.cat([y for _, y in epoch_batches(data, recipe, e, ctx(0, 1))]) for e in (0, 1)]
    assert not torch.equal(orders[0], orders[1])  # a new order every epoch


def test_normalise_standardises_each_channel() -> None:
    x = torch.stack([torch.full((4, 4), 2.0), torch.arange(16.0).reshape(4, 4)])[None]
    x = torch.cat([x, x + 1])
    norm = Normalise.of(x)
    assert len(norm.mean) == 2
    out = norm(x)
    torch.testing.assert_close(out[:, 1].mean(), torch.tensor(0.0))
    torch.testing.assert_close(out[:, 1].std(), torch.tensor(1.0))
