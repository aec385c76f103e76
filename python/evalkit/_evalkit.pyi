"""Type stubs of the native module (Rust, PyO3). Use the functions of
``evalkit`` itself; these return the CLI's JSON documents as strings."""

from typing import Any, Dict, List, Optional, Sequence, Tuple

__version__: str

class EvalkitError(Exception): ...
class InputError(EvalkitError): ...
class FormatError(InputError): ...
class ColumnError(InputError): ...
class BadValueError(InputError): ...
class UsageError(EvalkitError): ...
class EvalkitIOError(EvalkitError): ...

def fast(
    y_true: Any,
    y_score: Any,
    weights: Optional[Any] = None,
    task: Optional[str] = None,
    score_kind: Optional[str] = None,
    sample: Optional[int] = 10000,  # evalkit.fast also takes "all"
    seed: int = 0,
    threshold: float = 0.5,
    name: str = "arrays",
    query: Optional[Any] = None,
) -> str: ...
def full(
    y_true: Any,
    y_score: Any,
    weights: Optional[Any] = None,
    task: Optional[str] = None,
    score_kind: Optional[str] = None,
    bootstrap: int = 1000,
    ci: float = 0.95,
    method: str = "percentile",
    resample: str = "poisson",
    seed: int = 0,
    threshold: float = 0.5,
    thresholds: str = "1000",
    name: str = "arrays",
    cluster: Optional[Any] = None,
    operating_points: List[str] = ...,
    certified: bool = True,
    cost: Optional[str] = None,
    max_fpr: Optional[float] = None,
    tpr_at_fpr: List[float] = ...,
    cost_fp: Optional[Any] = None,
    cost_fn: Optional[Any] = None,
    query: Optional[Any] = None,
    k: List[int] = ...,
    gain: str = "linear",
    empty_queries: str = "zero",
    per_query: bool = False,
    columns: List[Tuple[str, Any]] = ...,
    slices: List[List[str]] = ...,
    min_slice: int = 30,
) -> str: ...

# A model: ("file", path, label, score, weight, columns, cluster) or
# ("arrays", name, y_true, y_score, weights, [(column, values), ...]).
def compare(
    candidate: tuple,
    baseline: tuple,
    id: Optional[str] = None,
    task: Optional[str] = None,
    score_kind: Optional[str] = None,
    bootstrap: int = 1000,
    ci: float = 0.95,
    method: str = "percentile",
    resample: str = "poisson",
    seed: int = 0,
    threshold: float = 0.5,
    thresholds: str = "1000",
    cluster: Optional[Any] = None,
    slices: List[List[str]] = ...,
    min_slice: int = 30,
) -> str: ...
def read_predictions(
    path: str,
    label: str = "label",
    score: Optional[List[str]] = None,
    weight: Optional[str] = None,
    task: Optional[str] = None,
    score_kind: Optional[str] = None,
    query: Optional[str] = None,
) -> Dict[str, Any]: ...
# An entry: (name, model, task, score_kind), the model as compare's.
def report(
    candidates: Sequence[tuple],
    path: str,
    baseline: Optional[tuple] = None,
    bootstrap: int = 1000,
    ci: float = 0.95,
    method: str = "percentile",
    resample: str = "poisson",
    seed: int = 0,
    threshold: float = 0.5,
    thresholds: str = "1000",
    title: Optional[str] = None,
    id: Optional[str] = None,
    slices: List[List[str]] = ...,
    min_slice: int = 30,
    cluster: Optional[List[Optional[Any]]] = None,
    operating_points: List[str] = ...,
    certified: bool = True,
    cost: Optional[str] = None,
    max_fpr: Optional[float] = None,
    tpr_at_fpr: List[float] = ...,
) -> str: ...
def report_states(
    candidates: Sequence[Tuple[str, bytes]],
    path: str,
    bootstrap: int = 1000,
    ci: float = 0.95,
    method: str = "percentile",
    resample: str = "poisson",
    seed: int = 0,
    threshold: float = 0.5,
    thresholds: str = "1000",
    title: Optional[str] = None,
    operating_points: List[str] = ...,
    certified: bool = True,
    cost: Optional[str] = None,
    max_fpr: Optional[float] = None,
    tpr_at_fpr: List[float] = ...,
) -> str: ...
def _scores_address(y_true: Any, y_score: Any) -> int: ...
def state(
    y_true: Any,
    y_score: Any,
    weights: Optional[Any] = None,
    task: Optional[str] = None,
    score_kind: Optional[str] = None,
    name: str = "arrays",
) -> bytes: ...
def merge_states(states: List[bytes]) -> bytes: ...

# Paired states (evalkit::state::paired; evalkit.PairedState, evalkit.ray.compare).
def paired_state(
    y_true: Any,
    candidate: Any,
    baseline: Any,
    weights: Optional[Any],
    task: Optional[str],
    score_kind: Optional[str],
    candidate_name: str = "candidate",
    baseline_name: str = "baseline",
    name: str = "arrays",
) -> bytes: ...
def paired_slice_states(
    y_true: Any,
    candidate: Any,
    baseline: Any,
    weights: Optional[Any],
    task: Optional[str],
    score_kind: Optional[str],
    columns: List[Tuple[str, Any]],
    slicings: List[List[str]],
    candidate_name: str = "candidate",
    baseline_name: str = "baseline",
    name: str = "arrays",
) -> Tuple[bytes, List[List[bool]], List[Tuple[int, List[str], bytes]]]: ...
def merge_paired(states: List[bytes]) -> bytes: ...
def compare_paired(
    state: bytes,
    bootstrap: int = 1000,
    ci: float = 0.95,
    method: str = "percentile",
    resample: str = "poisson",
    seed: int = 0,
    threshold: float = 0.5,
    thresholds: str = "1000",
    name: str = "paired state",
    metrics: Optional[str] = None,
    notes: List[str] = ...,
) -> str: ...
def compare_paired_slices(
    state: bytes,
    slicings: List[List[str]],
    numeric: List[List[bool]],
    items: List[Tuple[int, List[str], bytes]],
    bootstrap: int = 1000,
    ci: float = 0.95,
    method: str = "percentile",
    resample: str = "poisson",
    seed: int = 0,
    threshold: float = 0.5,
    thresholds: str = "1000",
    min_slice: int = 30,
    name: str = "paired state",
    metrics: Optional[str] = None,
    notes: List[str] = ...,
) -> str: ...

# Score ranges (evalkit::state::ranges; evalkit.ray.full(..., ranges=K)).
# Binary rows: one sketch and one list of cuts; multiclass rows: one per
# class, and range_states gives the rows' sums first (EVRMCS1 bytes).
def range_sketch(
    y_true: Any, y_score: Any, weights: Optional[Any], task: Optional[str], score_kind: Optional[str], name: str = "arrays"
) -> List[bytes]: ...
def range_sketch_merge(sketches: List[bytes]) -> bytes: ...
def range_cuts(sketch: bytes, ranges: int) -> List[float]: ...
def range_states(
    y_true: Any,
    y_score: Any,
    weights: Optional[Any],
    task: Optional[str],
    score_kind: Optional[str],
    cuts: List[List[float]],
    name: str = "arrays",
) -> List[Optional[bytes]]: ...
def range_class_sums_merge(sums: List[bytes]) -> bytes: ...
def range_summary(state: bytes, name: str = "a range") -> bytes: ...
def range_plan(summaries: List[bytes], **options: Any) -> List[bytes]: ...
def range_partial(state: bytes, context: bytes, name: str = "a range") -> bytes: ...
def range_delong_contexts(contexts: List[bytes], partials: List[bytes]) -> Optional[List[bytes]]: ...
def range_finish(
    summaries: List[bytes], partials: List[bytes], delong: Optional[List[bytes]], name: str = "state", **options: Any
) -> str: ...
def range_finish_multiclass(
    sums: bytes, classes: List[Tuple[List[bytes], List[bytes]]], name: str = "state", **options: Any
) -> str: ...
def full_state(
    state: bytes,
    bootstrap: int = 1000,
    ci: float = 0.95,
    method: str = "percentile",
    resample: str = "poisson",
    seed: int = 0,
    threshold: float = 0.5,
    thresholds: str = "1000",
    name: str = "state",
) -> str: ...
def power(
    metric: str,
    value: float,
    effect: float,
    prevalence: float = 0.5,
    power: float = 0.8,
    alpha: float = 0.05,
    paired: Optional[float] = None,
) -> str: ...
def profile(
    models: List[str],
    data: str,
    label: Optional[str] = None,
    features: Optional[List[str]] = None,
    ignore: List[str] = ...,
    filter: Optional[str] = None,
    fill_null: Optional[float] = None,
    batch_sizes: List[int] = ...,
    concurrency: Optional[List[int]] = None,
    concurrency_batch: int = 1,
    duration: float = 1.0,
    max_requests: int = 100000,
    warmup: int = 10,
    threads: int = 1,
    device: str = "cpu",
    output: Optional[str] = None,
    ci: float = 0.95,
    latencies: bool = False,
    bootstrap: int = 1000,
    report: Optional[str] = None,
) -> str: ...
def infer(
    model: str,
    data: str,
    output: str,
    label: Optional[str] = None,
    features: Optional[List[str]] = None,
    keep: List[str] = ...,
    filter: Optional[str] = None,
    fill_null: Optional[float] = None,
    batch_size: int = 4096,
    device: str = "cpu",
    threads: int = 0,
    output_name: Optional[str] = None,
    score_kind: str = "probability",
    task: Optional[str] = None,
    classes: Optional[List[str]] = None,
    cache_dir: Optional[str] = None,
    no_cache: bool = False,
) -> str: ...
def run_suite(path: str, cache_dir: Optional[str] = None, report: Optional[str] = None) -> str: ...
def main(argv: List[str]) -> int: ...

class BlockScorer:
    """One ONNX model loaded for blocks of rows (``evalkit.ray.infer``'s
    actors): ``score(name, ipc_stream_bytes, output)`` writes the block's
    prediction file and returns ``(rows, key, cache, metadata_json,
    state_bytes_or_None, notes)``."""

    def __init__(
        self,
        model: str,
        label: Optional[str] = None,
        features: Optional[List[str]] = None,
        keep: List[str] = ...,
        fill_null: Optional[float] = None,
        batch_size: int = 4096,
        device: str = "cpu",
        threads: int = 1,
        output_name: Optional[str] = None,
        score_kind: str = "probability",
        task: Optional[str] = None,
        classes: Optional[List[str]] = None,
        cache_dir: Optional[str] = None,
        no_cache: bool = False,
    ) -> None: ...
    def score(
        self, name: str, block: Any, output: str
    ) -> Tuple[int, str, str, str, Optional[bytes], List[str]]: ...
