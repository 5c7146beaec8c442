"""Runs as ArviZ ``InferenceData``: building, atomic saving, loading.

A run carries, as attributes of its groups, everything needed to reproduce
it: the prior file's path and text, seed, sample count, chunk size,
precision, package and library versions and the devices it ran on.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import stat
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .. import interrupts
from .._arviz import az
from ..brain.priors import PriorSpec, fixed_values
from ..brain.sites import DERIVED_SITES, has_stages
from ..errors import OutputError, RunFileError
from ..userfiles import check_regular_file
from .provenance import run_attrs as run_attrs

__all__ = [
    "brain_inference_data",
    "check_output_path",
    "conditioning_attrs",
    "load_backtest",
    "load_run",
    "load_saved",
    "load_summaries",
    "save_run",
    "run_attrs",
    "RunWriter",
]


def brain_inference_data(
    draws: dict[str, np.ndarray],
    spec: PriorSpec,
    attrs: dict[str, Any],
    keep_parameters: bool = True,
    conditioned=None,
    float32_margin: float = 1.0,
) -> az.InferenceData:
    """Package brain-model draws as ``InferenceData``.

    The draws are Monte Carlo samples of the prior and live in the ``prior`` group
    (one chain). With ``conditioned`` (:func:`uncertainty.brain.evidence.condition`
    of a file with ``[evidence]``), its draws form the ``posterior`` group (one chain
    of resampled draws for PSIS, the chains for NUTS, whose statistics form
    ``sample_stats``), the evidence quantities' prior and posterior draws go beside
    them, each item's measured interval goes to ``observed_data`` (``bound`` lo, hi;
    hi NaN for a one-sided bound) and the diagnostics (:func:`conditioning_attrs`) join
    the attributes. Parameter draws are stored
    as float32 (7 significant digits; half the file), or left out with
    ``keep_parameters=False`` (a smaller run, without the sensitivity table); the
    derived log10 FLOP/s are kept at the precision they were computed in. Fixed
    values go to ``constant_data``. A site is float32 only when its draws, times or divided by
    ``float32_margin``, stay within float32's range (a run written chunk by chunk decides on its first
    chunk, so it asks for room).
    """
    if not keep_parameters:
        draws = {k: v for k, v in draws.items() if k in DERIVED_SITES}
    dims = {"log10_class_flops": ["neuron_class"], "log10_stage_flops": ["stage"]}
    coords = {"neuron_class": list(spec.class_names)}
    if has_stages(spec):
        coords["stage"] = list(spec.convention.stages)
    groups = {"prior": {k: _stored(k, v, float32_margin)[None, ...] for k, v in draws.items()}}
    if conditioned is not None:
        chains = conditioned.num_chains

        def by_chain(v: np.ndarray) -> np.ndarray:
            return v.reshape(chains, len(v) // chains, *v.shape[1:])

        post = conditioned.draws if keep_parameters else {k: conditioned.draws[k] for k in draws}
        groups["posterior"] = {k: by_chain(_stored(k, v)) for k, v in post.items()}
        for name, (before, after) in conditioned.quantities.items():
            groups["prior"][f"evidence_{name}"] = before[None, :]
            groups["posterior"][f"evidence_{name}"] = by_chain(after)
        if conditioned.sample_stats is not None:
            groups["sample_stats"] = conditioned.sample_stats
    idata = az.from_dict(**groups, coords=coords, dims=dims)
    if conditioned is not None:
        observed = {f"evidence_{e.name}": ("bound", np.array([e.lo, e.hi])) for e in spec.evidence}
        idata.add_groups(observed_data=xr.Dataset(observed, coords={"bound": ["lo", "hi"]}))
    constants = fixed_values(spec)
    if constants:
        idata.add_groups(constant_data=xr.Dataset({k: ((), v) for k, v in constants.items()}))
    if spec.scenarios:  # the ``scenario`` site indexes them
        attrs = {**attrs, "scenario_names": ",".join(sc.name for sc in spec.scenarios)}
    if conditioned is not None:
        attrs = {**attrs, **conditioning_attrs(conditioned)}
        attrs["evidence"] = json.dumps(
            {
                e.name: {
                    "quantity": e.quantity,
                    "kind": e.kind,
                    "lo": e.lo,
                    "hi": e.hi,
                    "ci": e.ci,
                    "df": e.df,
                    "source": e.source,
                    "unit": e.unit,
                }
                for e in spec.evidence
            }
        )
    for group in idata.groups():
        idata[group].attrs.update(attrs)
    return idata


def conditioning_attrs(conditioned, prefix: str = "") -> dict[str, Any]:
    """How a posterior was obtained, as netCDF attributes (``prefix`` ``brain_`` for crossover runs):
    ``inference`` (PSIS or NUTS), ``pareto_k``, ``ess_importance``; for NUTS ``max_rhat``, ``ess_bulk``,
    ``divergences``; ``choice_odds`` (JSON) and ``nuts_unavailable`` (why NUTS could not run)."""
    out: dict[str, Any] = {
        "inference": conditioned.method,
        "pareto_k": conditioned.k_hat,
        "ess_importance": conditioned.ess_importance,
    }
    if conditioned.method == "NUTS":
        out.update(max_rhat=conditioned.max_rhat, ess_bulk=conditioned.ess, divergences=conditioned.divergences())
    if conditioned.choice_odds:
        out["choice_odds"] = json.dumps(conditioned.choice_odds)
    if conditioned.fallback:
        out["nuts_unavailable"] = conditioned.fallback
    return {prefix + k: v for k, v in out.items()}


def _stored(name: str, values: np.ndarray, margin: float = 1.0) -> np.ndarray:
    """Parameter draws as float32 when float32 holds them with ``margin`` to spare (magnitudes 1.2e-38 to
    3.4e38; float64 otherwise); derived log10 FLOP/s and integer sites (``scenario``) as they are."""
    if name in DERIVED_SITES or not np.issubdtype(values.dtype, np.floating) or values.dtype == np.float32:
        return values
    info = np.finfo(np.float32)
    magnitude = np.abs(values[np.isfinite(values) & (values != 0)])
    if magnitude.size and (magnitude.max() * margin > info.max or magnitude.min() / margin < info.tiny):
        return values
    return values.astype(np.float32)


FLOAT32_MARGIN = 1e6  # a run written chunk by chunk stores a site as float32 only with 6 decades to spare


def check_output_path(path: str | Path, force: bool = False, make_folder: bool = False) -> Path:
    """Fail early, before any work, if ``path`` cannot be written. With ``make_folder`` its folder may be
    missing (it is made when the file is saved; its nearest existing ancestor must be a writable folder)."""
    if not str(path):
        raise OutputError("''", None, "empty output path; give a file name such as run.nc")
    path = Path(path)
    parent = path.parent
    try:
        if path.is_dir():
            raise OutputError(path, None, "is a directory; give a file name such as run.nc")
        existing = parent
        while make_folder and not existing.exists() and not existing.is_symlink() and existing != existing.parent:
            existing = existing.parent
        if existing.exists() and not existing.is_dir():
            raise OutputError(path, None, f"'{existing}' is not a folder")
        if not existing.is_dir():
            raise OutputError(path, None, f"folder '{existing}' does not exist")
        if path.exists() or path.is_symlink():
            if not force:
                raise OutputError(path, None, "exists; pass --force to overwrite it")
            if not path.is_file():
                raise OutputError(path, None, "exists and is not a regular file; refusing to replace it")
    except OSError as exc:
        raise OutputError(path, None, f"unusable path ({exc.strerror or exc})") from None
    try:  # os.access says yes to root everywhere; creating a file is the real test
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise OutputError(path, None, f"folder '{existing}' is not writable ({exc.strerror or exc})") from None
    return path


def save_run(idata: az.InferenceData | xr.Dataset, path: str | Path, force: bool = False) -> Path:
    """Write ``idata`` (a run, or a backtest's ``Dataset``) as netCDF atomically: a temporary file, then
    :func:`publish`.

    An existing file is replaced only with ``force``, and only once the new file is complete; without it,
    of two processes saving to one path at once exactly one succeeds. On any failure, or a signal (Ctrl-C,
    SIGTERM) while it is written, the old file is left as it was and the temporary file is removed. The
    netCDF is built in memory and written with plain file I/O, so a full disk is one ``OSError`` (HDF5
    writing to a full disk prints pages of errors and may crash at exit).
    """
    path = check_output_path(path, force)
    data = _netcdf_bytes(idata)
    tmp = None
    try:
        with interrupts.deferred() as received:  # a signal during the write: the old run stays, the temp goes
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            if not received:
                publish(tmp, path, force)
    except OSError as exc:
        raise OutputError(path, None, f"cannot write: {exc.strerror or exc}") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    return path


def publish(tmp: str | Path, path: Path, force: bool) -> None:
    """Move the finished file ``tmp`` to ``path``: with ``force`` over an existing file (keeping that file's
    permission bits), without it only if no file is there at that moment (a hard link fails on an existing
    name, so of two concurrent writers exactly one wins; the other gets :class:`OutputError`). ``tmp`` is
    gone afterwards, or left for the caller to remove on an error."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode) if force else None
    except FileNotFoundError:
        mode = None
    os.chmod(tmp, mode if mode is not None else 0o666 & ~_umask())  # mkstemp makes 0600
    if force:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise OutputError(path, None, _TAKEN) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS):
            raise
        _publish_without_links(tmp, path)  # a file system without hard links
        return
    os.unlink(tmp)


_TAKEN = "was created by another process while this one ran; pass --force to overwrite it"


def _publish_without_links(tmp: str | Path, path: Path) -> None:
    """:func:`publish` where hard links are refused: claim the name with ``O_EXCL``, then rename over it."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        raise OutputError(path, None, _TAKEN) from None
    os.replace(tmp, path)


def _netcdf_bytes(idata: az.InferenceData | xr.Dataset) -> bytes:
    """The netCDF-4 file of a run (each group as ArviZ writes it: zlib-compressed numbers) or a dataset."""
    buffer = io.BytesIO()
    if isinstance(idata, xr.Dataset):
        idata.to_netcdf(buffer, engine="h5netcdf")
        return buffer.getvalue()
    for i, group in enumerate(idata.groups()):
        ds = idata[group]
        encoding = {name: {"zlib": True} for name, v in ds.variables.items() if v.dtype.kind in "biuf"}
        ds.to_netcdf(buffer, mode="w" if i == 0 else "a", group=group, engine="h5netcdf", encoding=encoding)
    return buffer.getvalue()


class RunWriter:
    """A kept run written to disk chunk by chunk, never assembled in memory (``sample --keep-draws --out``
    above 10^6 draws).

    The first chunk's ``InferenceData`` is written group by group with an unlimited ``draw`` dimension;
    each later chunk extends it in place (h5netcdf). The file is a temporary one until :meth:`close`
    renames it over ``path``; on an error, or when the writer is left without closing, it is removed.
    Draws are stored as :func:`brain_inference_data` stores them (no compression: speed first)."""

    def __init__(
        self,
        path: str | Path,
        force: bool,
        spec: PriorSpec,
        attrs: dict[str, Any],
        num_samples: int,
        keep_parameters: bool = True,
    ):
        self.path = check_output_path(path, force)
        self.force, self.spec, self.attrs, self.num_samples = force, spec, attrs, num_samples
        self.keep_parameters = keep_parameters
        self._tmp: str | None = None
        self._file = None

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self._discard()

    def add(self, start: int, draws: dict[str, np.ndarray]) -> None:
        """Append the draws ``start, start + 1, ...`` (host arrays by site, one chunk)."""
        try:
            with interrupts.deferred():
                self._append(start, draws)
        except OSError as exc:
            self._discard()
            raise OutputError(self.path, None, f"cannot write: {exc.strerror or exc}") from None

    def _append(self, start: int, draws: dict[str, np.ndarray]) -> None:
        if self._tmp is None:
            self._create(draws)
            return
        group = self._file.groups["prior"]
        stop = start + len(draws["log10_brain_flops"])
        group.resize_dimension("draw", stop)
        for name, var in group.variables.items():
            if name == "draw":
                var[start:stop] = np.arange(start, stop)
            elif "draw" in var.dimensions:
                values = _stored(name, draws[name])
                if var.dtype == np.float32 and values.dtype != np.float32:  # beyond even the first chunk's margin
                    problem = f"draws of {name} left float32's range after the first chunk was stored as float32"
                    raise OutputError(self.path, name, problem)
                var[0, start:stop] = values

    def _create(self, first: dict[str, np.ndarray]) -> None:
        import shutil

        import h5netcdf

        fd, self._tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        os.close(fd)
        interrupts.temporary(self._tmp)  # a signal between chunks removes it
        idata = brain_inference_data(
            first, self.spec, self.attrs, keep_parameters=self.keep_parameters, float32_margin=FLOAT32_MARGIN
        )
        for i, group in enumerate(idata.groups()):
            ds = idata[group]
            unlimited = ["draw"] if "draw" in ds.dims else None
            mode = "w" if i == 0 else "a"
            ds.to_netcdf(self._tmp, mode=mode, group=group, engine="h5netcdf", unlimited_dims=unlimited)
        need = os.path.getsize(self._tmp) * (self.num_samples / len(first["log10_brain_flops"]) - 1)
        free = shutil.disk_usage(self.path.parent).free
        if need > 0.98 * free:
            raise OSError(f"{self.num_samples:g} draws need about {need / 2**30:.1f} GiB; {free / 2**30:.1f} GiB free")
        self._file = h5netcdf.File(self._tmp, "a")

    def close(self) -> Path:
        """Finish the file and move it to ``path`` (an existing one only with ``force``)."""
        try:
            with interrupts.deferred() as received:
                self._file.close()
                self._file = None
                check_output_path(self.path, self.force)  # still replaceable after the long write
                if not received:
                    publish(self._tmp, self.path, self.force)
        except OSError as exc:
            raise OutputError(self.path, None, f"cannot write: {exc.strerror or exc}") from None
        finally:
            self._discard()
        return self.path

    def _discard(self) -> None:
        if self._file is not None:
            with contextlib.suppress(Exception):  # closing a half-written file: nothing left to save
                self._file.close()
            self._file = None
        if self._tmp is not None:
            if os.path.exists(self._tmp):
                os.unlink(self._tmp)
            interrupts.forget(self._tmp)
        self._tmp = None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def load_run(path: str | Path) -> az.InferenceData:
    """Read a kept run saved by :func:`save_run` or :class:`RunWriter`, checked against the schema of one
    (:func:`uncertainty.runs.runfile.check_run`)."""
    path = Path(path)
    _check_path(path)
    return _read_run(path)


def load_backtest(path: str | Path) -> xr.Dataset | None:
    """The hindcast saved by ``uncertainty backtest --out`` at ``path`` (checked), or None if the file is not one."""
    return _load_kind(path, "backtest")


def load_summaries(path: str | Path) -> xr.Dataset | None:
    """The streamed summaries saved by ``uncertainty sample --no-keep-draws --out`` at ``path`` (checked), or None."""
    return _load_kind(path, "summaries")


def load_saved(path: str | Path) -> az.InferenceData | xr.Dataset:
    """Any file the tool writes, checked once against its schema (:mod:`uncertainty.runs.runfile`): a kept
    run (``InferenceData``), or streamed summaries or a backtest (a ``Dataset`` with ``kind`` in its attributes)."""
    from .runfile import dataset_kind

    path = Path(path)
    _check_path(path)
    ds = _read_root(path)
    kind = None if ds is None else dataset_kind(path, ds)
    if kind is None:
        return _read_run(path)
    _check_dataset(path, ds, kind)
    return ds


def _load_kind(path: str | Path, kind: str) -> xr.Dataset | None:
    path = Path(path)
    _check_path(path)
    ds = _read_root(path)
    if ds is None or ds.attrs.get("kind") != kind:
        return None
    _check_dataset(path, ds, kind)
    return ds


def _read_root(path: Path) -> xr.Dataset | None:
    """The root group of a netCDF file, loaded (a few arrays: a kept run keeps its draws in groups), or None
    when it is not a plain netCDF dataset (an error :func:`_read_run` then reports)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a file that makes a library warn is not one this tool wrote
            with xr.open_dataset(path, engine="h5netcdf") as ds:
                return ds.load()
    except Exception:
        return None


def _read_run(path: Path) -> az.InferenceData:
    from .runfile import check_run

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            idata = az.from_netcdf(path)
        except Exception as exc:  # h5py/xarray raise many types for a bad file
            raise RunFileError(path, None, f"not a readable netCDF run ({type(exc).__name__})") from None
        try:
            check_run(path, idata)
        except (Warning, OSError, ValueError, TypeError) as exc:  # values that cannot be read or decoded
            if isinstance(exc, RunFileError):
                raise
            raise RunFileError(path, None, f"not a readable netCDF run ({type(exc).__name__})") from None
    return idata


def _check_dataset(path: Path, ds: xr.Dataset, kind: str) -> None:
    from .runfile import check_backtest, check_summaries

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (check_summaries if kind == "summaries" else check_backtest)(path, ds)


def _check_path(path: Path) -> None:
    """Refuse, before reading, a path that is not a regular file (a FIFO would block, a device never ends)."""
    check_regular_file(path, RunFileError, "a run file")
