"""The task registry: one object per task, and no task-name comparison anywhere else in the package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import efficientvit
from efficientvit.errors import EfficientViTError
from efficientvit.runtime import GRAPHS
from efficientvit.tasks.registry import TASK_MODULES, get_task, require_task, task_names
from efficientvit.zoo import REGISTRY, get_model_info

PACKAGE = Path(efficientvit.__file__).parent
REGISTRY_MODULE = PACKAGE / "tasks" / "registry.py"


def test_every_task_is_defined_by_its_module_under_its_name() -> None:
    assert set(task_names()) == set(TASK_MODULES)
    for name in task_names():
        task = get_task(name)
        assert task.name == name
        assert task.graphs and all(graph in GRAPHS for graph in task.graphs)
        if task.trainable:  # training needs every training hook
            assert task.transforms is not None and task.summary_table is not None
        assert not task.dense or task.labels_classes  # a per-pixel label is a class


def test_every_registered_model_has_a_known_task() -> None:
    assert {info.task for info in REGISTRY.values()} == set(task_names())


def test_trainable_tasks_are_those_with_a_training_hook() -> None:
    assert task_names(trainable=True) == ("cls", "seg", "sr")  # SAM is not trained here


def test_unknown_task_names_the_known_ones() -> None:
    with pytest.raises(EfficientViTError, match="unknown task 'det'; expected one of cls, seg, sam, sr"):
        get_task("det")


def test_require_task_names_both_tasks_in_words() -> None:
    info = get_model_info("efficientvit-sam-l0")
    assert require_task(info, "sam") is info
    with pytest.raises(EfficientViTError, match="is a segment-anything model, not a super-resolution model"):
        require_task(info, "sr")


def _task_comparisons(source: str) -> list[int]:
    """Lines comparing something named like a task with a task name (``info.task == "seg"``,
    ``task in ("cls", "seg")``)."""
    names = set(TASK_MODULES)
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        constants = {
            elt.value
            for operand in operands
            for elt in (operand.elts if isinstance(operand, (ast.Tuple, ast.List, ast.Set)) else [operand])
            if isinstance(elt, ast.Constant) and isinstance(elt.value, str)
        }
        mentions_task = any("task" in ast.unparse(operand) for operand in operands)
        if constants & names and mentions_task:
            lines.append(node.lineno)
    return lines


def test_the_check_finds_task_comparisons() -> None:
    source = 'if info.task == "seg":\n    pass\nx = config.task in ("cls", "seg")\n'
    assert _task_comparisons(source) == [1, 3]
    assert _task_comparisons('if "sam" in peers:\n    pass\n') == []  # a peer group, not a task


def test_no_task_name_comparison_outside_the_registry() -> None:
    found = {
        f"{path.relative_to(PACKAGE)}:{line}"
        for path in PACKAGE.rglob("*.py")
        if path != REGISTRY_MODULE
        for line in _task_comparisons(path.read_text())
    }
    assert not found, f"ask the task (efficientvit.tasks.registry), not its name: {sorted(found)}"
