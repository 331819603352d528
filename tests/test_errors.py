"""One-line error messages, also for errors raised in DataLoader worker processes."""

from __future__ import annotations

import pytest
import torch.utils.data

from efficientvit.errors import EfficientViTError, NoImageError, one_line


class _BrokenDataset(torch.utils.data.Dataset[int]):
    def __init__(self, error: Exception) -> None:
        self.error = error

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int) -> int:
        raise self.error


def test_whitespace_collapses_and_an_empty_error_names_its_type() -> None:
    assert one_line(EfficientViTError("a\n  b\tc ")) == "a b c"
    assert one_line(ValueError()) == "ValueError"
    assert one_line("plain\ntext") == "plain text"


@pytest.mark.parametrize(
    "error",
    [EfficientViTError("photo.jpg: not an image\nfile Pillow can read"), NoImageError("set an image first")],
)
def test_an_error_from_a_dataloader_worker_keeps_only_its_own_message(error: Exception) -> None:
    loader = torch.utils.data.DataLoader(_BrokenDataset(error), num_workers=1)
    with pytest.raises(type(error)) as caught:
        next(iter(loader))
    assert "Traceback" in str(caught.value)  # what PyTorch re-raises in the main process
    assert one_line(caught.value) == one_line(error)
