"""One runtime for every inference entry point: a model turned into its fastest exact runner.

See :mod:`efficientvit.runtime.runner` (backends, staleness), :mod:`~efficientvit.runtime.rules` (what
``auto`` picks and the measurements behind it) and :mod:`~efficientvit.runtime.cache` (the content-keyed
export cache).
"""

from efficientvit.runtime.cache import cache_root
from efficientvit.runtime.graphs import GRAPHS, Graph
from efficientvit.runtime.rules import auto_backend
from efficientvit.runtime.runner import (
    BACKEND_ENV,
    BACKENDS,
    Backend,
    Runner,
    backend_for,
    onnxruntime_providers,
    release,
    resolve_backend,
    runner_for,
)
from efficientvit.runtime.threads import one_torch_thread_before, runs_onnxruntime_on_cpu

__all__ = [
    "BACKENDS",
    "BACKEND_ENV",
    "GRAPHS",
    "Backend",
    "Graph",
    "Runner",
    "auto_backend",
    "backend_for",
    "cache_root",
    "one_torch_thread_before",
    "onnxruntime_providers",
    "release",
    "resolve_backend",
    "runner_for",
    "runs_onnxruntime_on_cpu",
]
