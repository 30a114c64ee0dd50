"""Figures (valid, non-blank PNGs referenced from the reports) and the TensorBoard event files
(checked against published CRC-32C vectors and against protobuf's own Event decoding)."""

import io
import json

import numpy as np
from PIL import Image
import pytest

from ssm_expressivity import figures
from ssm_expressivity import reproduce
from ssm_expressivity.training import loop
from ssm_expressivity.training import tensorboard
from ssm_expressivity.training.rundir import RunDir
from tests_support import tiny_suite_config

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_real_png(data: bytes):
  """A decodable PNG with ink on it: several colours, and more than a sliver not background."""
  assert data[:8] == PNG_SIGNATURE
  image = Image.open(io.BytesIO(data))
  image.verify()
  pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).reshape(-1, 3)
  colours = np.unique(pixels, axis=0)
  assert len(colours) > 10, f"only {len(colours)} colours"
  background = np.all(pixels == pixels[0], axis=1)
  assert background.mean() < 0.99


# ---- the event-file format ---------------------------------------------------------------------

def test_crc32c_published_vectors():
  # RFC 3720 B.4 and the usual check value of CRC-32C.
  assert tensorboard.crc32c(b"123456789") == 0xE3069283
  assert tensorboard.crc32c(bytes(32)) == 0x8A9136AA
  assert tensorboard.crc32c(bytes([0xFF] * 32)) == 0x62A8AB43
  assert tensorboard.crc32c(bytes(range(32))) == 0x46DD794E


def _protobuf_event_class():
  """tensorflow/core/util/event.proto's Event, Summary and Summary.Value (the fields used),
  built with protobuf itself: an oracle independent of the hand encoding."""
  from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
  F = descriptor_pb2.FieldDescriptorProto
  file = descriptor_pb2.FileDescriptorProto(name="oracle_event.proto", package="oracle")
  value = file.message_type.add(name="Value")
  value.field.add(name="tag", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
  value.field.add(name="simple_value", number=2, type=F.TYPE_FLOAT, label=F.LABEL_OPTIONAL)
  summary = file.message_type.add(name="Summary")
  summary.field.add(name="value", number=1, type=F.TYPE_MESSAGE, label=F.LABEL_REPEATED,
                    type_name=".oracle.Value")
  event = file.message_type.add(name="Event")
  event.field.add(name="wall_time", number=1, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL)
  event.field.add(name="step", number=2, type=F.TYPE_INT64, label=F.LABEL_OPTIONAL)
  event.field.add(name="file_version", number=3, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
  event.field.add(name="summary", number=5, type=F.TYPE_MESSAGE, label=F.LABEL_OPTIONAL,
                  type_name=".oracle.Summary")
  pool = descriptor_pool.DescriptorPool()
  pool.Add(file)
  return message_factory.GetMessageClass(pool.FindMessageTypeByName("oracle.Event"))


def test_events_decode_with_protobuf():
  Event = _protobuf_event_class()
  payload = tensorboard.event(1234.5, 70000, scalars={"val/strict_acc": 0.75, "train/loss": 3e-4})
  parsed = Event.FromString(payload)
  assert parsed.wall_time == 1234.5 and parsed.step == 70000
  assert [(v.tag, v.simple_value) for v in parsed.summary.value] == [
      ("val/strict_acc", 0.75), ("train/loss", np.float32(3e-4))]
  # and the other way: protobuf's bytes read back by our parser
  other = Event(wall_time=2.0, step=-3, file_version="brain.Event:2").SerializeToString()
  assert tensorboard.parse_event(other) == {"wall_time": 2.0, "step": -3, "scalars": {},
                                            "file_version": "brain.Event:2"}


def test_corrupt_event_file_is_refused(tmp_path):
  with tensorboard.EventWriter(tmp_path) as writer:
    writer.add_record({"step": 5, "loss": 0.5})
  assert tensorboard.read_scalars(tmp_path) == {"train/loss": [(5, 0.5)]}
  data = bytearray(writer.path.read_bytes())
  data[-6] ^= 1  # a bit of the last payload
  writer.path.write_bytes(bytes(data))
  with pytest.raises(tensorboard.EventFileError, match="checksum"):
    tensorboard.read_scalars(tmp_path)
  writer.path.write_bytes(bytes(data[:-3]))
  with pytest.raises(tensorboard.EventFileError, match="truncated"):
    tensorboard.read_scalars(tmp_path)


def test_record_scalars_names():
  assert tensorboard.record_scalars({"step": 3, "split": "bin1", "strict_acc": 1.0,
                                     "note": "x", "flag": True}) == {"bin1/strict_acc": 1.0}
  assert tensorboard.record_scalars({"step": 3, "loss": 2, "learning_rate": 1e-3}) == {
      "train/loss": 2.0, "train/learning_rate": 1e-3}


# ---- a run: the event file mirrors metrics.jsonl, the figures are drawn -------------------------

@pytest.mark.slow  # trains (about 10 s alone, far more on a loaded machine)
def test_reproduce_writes_figures_and_tensorboard_mirror(tmp_path):
  experiment = reproduce.build("counter", "quick", language="dyck1")
  (name,) = experiment.runs
  experiment.runs[name] = tiny_suite_config(num_steps=8, log_every=2, eval_every=4,
                                            checkpoint_every=8, tensorboard=True)
  _, report, _ = reproduce.run(experiment, tmp_path)

  records = RunDir(tmp_path / name).read_metrics()
  scalars = tensorboard.read_scalars(RunDir(tmp_path / name).tensorboard_dir)
  expected = {}
  for record in records:
    for tag, value in tensorboard.record_scalars(record).items():
      expected.setdefault(tag, []).append((record["step"], float(np.float32(value))))
  assert {"train/loss", "bin0/strict_acc", "bin1/strict_acc"} <= set(expected)
  assert [s for s, _ in expected["train/loss"]] == [2, 4, 6, 8]
  assert scalars == expected

  for path in ("accuracy_vs_length.png", f"{name}/training.png"):
    assert f"]({path})" in report
    assert_real_png((tmp_path / path).read_bytes())


@pytest.mark.slow
def test_tensorboard_off_writes_no_event_file(tmp_path):
  loop.train_and_evaluate(tiny_suite_config(num_steps=2, log_every=1, eval_every=2,
                                            checkpoint_every=2), tmp_path)
  assert not RunDir(tmp_path).tensorboard_dir.exists()
  assert json.loads((tmp_path / "config.json").read_text())["tensorboard"] is False


def test_figures_plot_the_numbers_given():
  # An accuracy-vs-length figure of a run at 100% differs from one at 0%: the data is drawn.
  def results(acc):
    return {"short": {"min_length": 2, "max_length": 50, "strict_acc": acc},
            "long": {"min_length": 51, "max_length": 400, "strict_acc": acc}}
  high = figures.png_bytes(figures.accuracy_vs_length({"run": results(1.0)}))
  low = figures.png_bytes(figures.accuracy_vs_length({"run": results(0.0)}))
  assert_real_png(high)
  assert high != low
  curves = figures.training_curves([{"step": 1, "loss": 1.0}, {"step": 2, "loss": 0.5},
                                    {"step": 2, "split": "val", "strict_acc": 0.5}])
  assert_real_png(figures.png_bytes(curves))


def test_run_record_mirrors_metrics_into_tensorboard(tmp_path):
  # What the training loop calls for every log line and evaluation.
  run_dir = RunDir(tmp_path)
  writer = tensorboard.EventWriter(run_dir.tensorboard_dir)
  run = loop._Run(spec=None, dir=run_dir, checkpoints=None, monitor=None, total_steps=10,
                  tensorboard=writer)
  run.record([{"step": 5, "loss": 0.25, "steps_per_s": 3.0}])
  run.record([{"step": 10, "split": "bin1", "strict_acc": 0.5, "min_length": 51}])
  writer.close()
  assert run_dir.read_metrics()[1]["split"] == "bin1"
  assert tensorboard.read_scalars(run_dir.tensorboard_dir) == {
      "train/loss": [(5, 0.25)], "train/steps_per_s": [(5, 3.0)],
      "bin1/strict_acc": [(10, 0.5)], "bin1/min_length": [(10, 51.0)]}
