"""Training and evaluation: train state, steps, the group loop, sweeps, devices, workdirs.

Modules:
  state        TrainState and the optimizer with per-run numbers as data
  objectives   targets, loss, correctness and metrics per objective
  steps        the jitted train and eval steps (vmapped over runs)
  loop         train_and_evaluate (one run) and train_group (many in one program)
  sweep        grids, grouping by shape, sweep.json
  devices      the (runs, data) mesh, shardings, jax.distributed
  evaluate     evaluation of a group, and of a saved run at any lengths
  monitor      best checkpoint, stop rules and plateau decisions of a run
  rundir       the one owner of a workdir's files
  checkpoints  orbax checkpoints with digests
"""
