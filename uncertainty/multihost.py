"""Several processes (hosts) on one run, through ``jax.distributed``.

A streamed ``sample`` run may be split over processes: process ``p`` of ``P`` draws chunks
``p, p + P, ...`` (a chunk's key is ``fold_in(key(seed), chunk)``, so the draws do not depend on ``P``)
and the processes' statistics are gathered and merged (:func:`uncertainty.runs.streaming.summarize_brain`).

Processes are found in one of two ways:

- explicitly: ``--coordinator HOST:PORT --num-processes P --process-id p`` on each process
  (process 0 serves the coordinator at HOST:PORT);
- under a launcher that JAX recognises (SLURM's ``srun``, Open MPI's ``mpirun``) or with
  ``JAX_COORDINATOR_ADDRESS`` set: ``jax.distributed.initialize()`` reads the environment.
"""

from __future__ import annotations

import os

from .errors import InputError

__all__ = ["INIT_TIMEOUT", "launched", "start_processes"]

INIT_TIMEOUT = 120  # seconds a process waits for the others to join


def launched() -> bool:
    """Whether this process was started by a multi-process launcher JAX can read (more than one task)."""
    for variable in ("SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE"):
        try:
            if int(os.environ.get(variable, "1")) > 1:
                return True
        except ValueError:
            continue
    return bool(os.environ.get("JAX_COORDINATOR_ADDRESS"))


def start_processes(coordinator: str | None, num_processes: int | None, process_id: int | None) -> bool:
    """Join a multi-process run when asked (or launched as one); ``True`` when there are several processes.

    Must run before any JAX computation. Bad flags, or processes that do not meet, are one-line errors."""
    given = {"--num-processes": num_processes, "--process-id": process_id}
    if coordinator is None:
        extra = [flag for flag, value in given.items() if value is not None]
        if extra:
            raise InputError(extra[0], None, "needs --coordinator HOST:PORT (the address of process 0)")
        if not launched():
            return False
    else:
        missing = [flag for flag, value in given.items() if value is None]
        if missing:
            raise InputError("--coordinator", None, f"needs {' and '.join(missing)} as well")
        if ":" not in coordinator or not coordinator.rsplit(":", 1)[1].isdigit():
            raise InputError("--coordinator", None, f"{coordinator!r} is not HOST:PORT")
        if not 0 <= process_id < num_processes:
            raise InputError("--process-id", None, f"must lie in 0..{num_processes - 1}, got {process_id}")
        if num_processes == 1:
            return False
    import jax

    try:
        jax.distributed.initialize(
            coordinator_address=coordinator,
            num_processes=num_processes,
            process_id=process_id,
            initialization_timeout=INIT_TIMEOUT,
        )
    except Exception as exc:  # the processes did not meet: a wrong address, a missing process, a busy port
        raise InputError("--coordinator", None, f"could not join the other processes: {exc}") from None
    return jax.process_count() > 1
