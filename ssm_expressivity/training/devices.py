"""Where a group of runs lives: one mesh over every device, with a runs axis and a data axis.

    placement = devices.place(num_runs=12, batch_size=32)
    states = placement.put(stacked_states, placement.runs_sharding)
    host = placement.fetch(states)

Stacked train states are sharded on "runs" (a device holds whole runs: no communication
between them), batches on "data" (the gradient of a run is then an all-reduce over the data
axis). `place` picks the split of the devices that gives each device the least work. The same
code runs on one CPU, on 8 forced host devices, on a GPU node, a TPU slice or several hosts
(`jax.distributed`): every process computes the same global host arrays (the data is a pure
function of seeds) and `put` hands each device its own slice of them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from absl import logging
import jax
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec
import numpy as np

RUNS, DATA = "runs", "data"


@dataclasses.dataclass(frozen=True)
class Placement:
  """Attributes:
    mesh: the ("runs", "data") mesh over every device.
    num_runs: runs in the group, padded up to a multiple of the runs axis.
  """
  mesh: Mesh
  num_runs: int

  @property
  def runs_devices(self) -> int:
    return self.mesh.shape[RUNS]

  @property
  def data_devices(self) -> int:
    return self.mesh.shape[DATA]

  @property
  def runs_sharding(self) -> NamedSharding:
    """Leading runs axis split over "runs"; everything else replicated."""
    return NamedSharding(self.mesh, PartitionSpec(RUNS))

  def batch_sharding(self, per_run: bool) -> NamedSharding:
    """[runs, batch, ...] (per_run) or [batch, ...] arrays with the batch split over "data"."""
    spec = PartitionSpec(RUNS, DATA) if per_run else PartitionSpec(DATA)
    return NamedSharding(self.mesh, spec)

  @property
  def replicated(self) -> NamedSharding:
    return NamedSharding(self.mesh, PartitionSpec())

  def put(self, tree: Any, sharding: NamedSharding) -> Any:
    """Host arrays (the same on every process) -> global device arrays with `sharding`."""
    def one(x):
      x = np.asarray(x)
      return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])
    return jax.tree_util.tree_map(one, tree)

  def fetch(self, tree: Any) -> Any:
    """Global device arrays -> host numpy arrays on every process."""
    if jax.process_count() > 1:
      return jax.tree_util.tree_map(np.asarray,
                                    multihost_utils.process_allgather(tree, tiled=True))
    return jax.tree_util.tree_map(np.asarray, jax.device_get(tree))

  def round_rows(self, rows: int) -> int:
    """`rows` rounded up to a multiple of the data axis."""
    return -(-rows // self.data_devices) * self.data_devices


def place(num_runs: int, batch_size: int) -> Placement:
  """The mesh for a group of `num_runs` runs with `batch_size` strings per step.

  Over (runs devices r) x (data devices d) = every device, with batch_size divisible by d,
  it minimizes each device's share ceil(num_runs / r) * batch_size / d; ties go to more runs
  devices (runs need no communication).
  """
  devices = jax.devices()
  count = len(devices)
  best = None
  for r in range(1, count + 1):
    if count % r:
      continue
    d = count // r
    if batch_size % d:
      continue
    work = -(-num_runs // r) * batch_size / d
    key = (work, -r)
    if best is None or key < best[0]:
      best = (key, r, d)
  _, r, d = best  # r = count, d = 1 always qualifies
  mesh = Mesh(np.asarray(devices).reshape(r, d), (RUNS, DATA))
  return Placement(mesh=mesh, num_runs=-(-num_runs // r) * r)


def initialize_distributed(coordinator_address: str | None, num_processes: int | None,
                           process_id: int | None) -> None:
  """`jax.distributed.initialize` from flags, else from the usual environment (SLURM, TPU
  pods, JAX_COORDINATOR_ADDRESS ...). On CPU it selects the gloo collectives first, which
  multi-process CPU runs need (the setting touches nothing but the CPU client)."""
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  kwargs = {k: v for k, v in (("coordinator_address", coordinator_address),
                              ("num_processes", num_processes), ("process_id", process_id))
            if v is not None}
  jax.distributed.initialize(**kwargs)
  logging.info("process %d of %d, %d local / %d global devices", jax.process_index(),
               jax.process_count(), jax.local_device_count(), jax.device_count())
