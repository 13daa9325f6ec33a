"""Types of the extension module under ``infoplane`` (use the package's functions)."""

from typing import Any, Dict, List, Optional, Sequence, Tuple, Union, final

import numpy as np
import numpy.typing as npt

__all__ = [
    "__version__",
    "Worker",
    "catalog",
    "delta_distance",
    "estimate",
    "figures",
    "mi",
    "read_csv",
    "run",
    "run_caption",
    "run_option_names",
    "schedule_epochs",
]

__version__: str

_Bits = List[Tuple[float, float]]

def estimate(
    t: npt.NDArray[np.float32],
    labels: npt.NDArray[np.uint32],
    inputs: Optional[npt.NDArray[np.float32]],
    estimators: Sequence[str],
    settings: Optional[Dict[str, Any]],
    threads: int,
) -> Tuple[_Bits, List[str]]: ...
def mi(
    a: npt.NDArray[np.float32],
    b: Optional[npt.NDArray[np.float32]],
    b_labels: Optional[npt.NDArray[np.uint32]],
    estimators: Sequence[str],
    settings: Optional[Dict[str, Any]],
    threads: int,
) -> Tuple[List[float], List[str]]: ...
def schedule_epochs(spec: str, epochs: int) -> Optional[List[int]]: ...
def delta_distance(
    a: Sequence[Tuple[float, float]], b: Sequence[Tuple[float, float]], h_x: float, h_y: float
) -> float: ...
def run(options: Dict[str, Any], simd: Optional[str]) -> List[str]: ...
def run_option_names() -> List[str]: ...
def read_csv(
    path: str,
) -> List[Tuple[str, Union[npt.NDArray[np.int64], npt.NDArray[np.float64], List[str]]]]: ...
def figures(
    run: Sequence[int],
    epoch: Sequence[int],
    layer: Sequence[int],
    estimator: Sequence[str],
    i_xt: Sequence[float],
    i_ty: Sequence[float],
    caption: Sequence[str],
    last_epoch: int,
    overlay: bool,
) -> List[Tuple[str, str]]: ...
def run_caption(manifest: str, seeds: Sequence[int]) -> List[str]: ...
def catalog() -> str: ...

@final
class Worker:
    def __new__(
        cls,
        labels: npt.NDArray[np.uint32],
        inputs: Optional[npt.NDArray[np.float32]],
        estimators: Sequence[str],
        settings: Optional[Dict[str, Any]],
        threads: int,
        max_pending: int,
    ) -> "Worker": ...
    def submit(self, epoch: int, layer: int, t: npt.NDArray[np.float32]) -> None: ...
    def collect(self, block: bool) -> List[Tuple[int, int, _Bits, List[str]]]: ...
    def pending(self) -> int: ...
    def entropies(self) -> Tuple[float, float]: ...
    def close(self) -> None: ...
