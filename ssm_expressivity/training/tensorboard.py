"""TensorBoard scalars without TensorFlow: the event-file format written (and read) by hand.

    writer = EventWriter("runs/ff/tensorboard")
    writer.add_record({"step": 100, "loss": 0.1})                   # train/loss
    writer.add_record({"step": 500, "split": "val", "strict_acc": 1.0})  # val/strict_acc
    writer.close()
    read_scalars("runs/ff/tensorboard")   # {"train/loss": [(100, 0.1)], ...}

A metrics.jsonl record becomes one Event of scalar summaries, so `tensorboard --logdir=runs`
shows what metrics.jsonl holds (which stays the source of truth; `write_from_metrics` rebuilds
the event file from it). The file is a TFRecord stream: per record a little-endian uint64
length, the masked CRC-32C of those 8 bytes, the payload, the masked CRC-32C of the payload.
The payload is an `Event` protobuf: wall_time (1, double), step (2, int64), file_version
(3, string) or summary (5, Summary{repeated Value value = 1}), Value{tag = 1, simple_value =
2 (float)}.
"""

from __future__ import annotations

import os
import pathlib
import socket
import struct
import time
from typing import Iterable, Iterator

FILE_VERSION = "brain.Event:2"
FILE_PREFIX = "events.out.tfevents."
# Record fields that are not scalars to plot.
_NOT_SCALARS = ("step", "split")


# ---- CRC-32C (Castagnoli), as TFRecord frames it ---------------------------------------------

def _crc32c_table() -> list[int]:
  table = []
  for byte in range(256):
    crc = byte
    for _ in range(8):
      crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    table.append(crc)
  return table


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
  crc = 0xFFFFFFFF
  for byte in data:
    crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
  return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
  crc = crc32c(data)
  return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame(payload: bytes) -> bytes:
  """One TFRecord: length, its masked CRC, payload, its masked CRC."""
  header = struct.pack("<Q", len(payload))
  return (header + struct.pack("<I", masked_crc32c(header)) + payload
          + struct.pack("<I", masked_crc32c(payload)))


# ---- protobuf encoding of Event / Summary -----------------------------------------------------

def _varint(value: int) -> bytes:
  value &= (1 << 64) - 1  # int64 two's complement, as protobuf encodes negatives
  out = bytearray()
  while True:
    byte = value & 0x7F
    value >>= 7
    if value:
      out.append(byte | 0x80)
    else:
      out.append(byte)
      return bytes(out)


def _length_delimited(field: int, data: bytes) -> bytes:
  return _varint(field << 3 | 2) + _varint(len(data)) + data


def scalar_value(tag: str, value: float) -> bytes:
  """A Summary.Value{tag, simple_value} message."""
  return _length_delimited(1, tag.encode()) + _varint(2 << 3 | 5) + struct.pack("<f", value)


def event(wall_time: float, step: int, *, file_version: str | None = None,
          scalars: dict[str, float] | None = None) -> bytes:
  """An Event message holding a file version or a Summary of scalars."""
  out = _varint(1 << 3 | 1) + struct.pack("<d", wall_time) + _varint(2 << 3 | 0) + _varint(step)
  if file_version is not None:
    out += _length_delimited(3, file_version.encode())
  if scalars:
    summary = b"".join(_length_delimited(1, scalar_value(t, v)) for t, v in scalars.items())
    out += _length_delimited(5, summary)
  return out


def record_scalars(record: dict) -> dict[str, float]:
  """The scalars of a metrics.jsonl record: "<split>/<metric>" for an evaluation,
  "train/<metric>" for a training log line; non-numbers are left out."""
  prefix = record.get("split", "train")
  return {f"{prefix}/{key}": float(value) for key, value in record.items()
          if key not in _NOT_SCALARS and isinstance(value, (int, float))
          and not isinstance(value, bool)}


class EventWriter:
  """Appends scalar events to one new event file in `logdir` (flushed per record)."""

  def __init__(self, logdir: str | os.PathLike):
    self.logdir = pathlib.Path(logdir)
    self.logdir.mkdir(parents=True, exist_ok=True)
    now = time.time()
    # The pid keeps two writers started in the same second (a restart) apart.
    name = f"{FILE_PREFIX}{int(now)}.{socket.gethostname()}.{os.getpid()}.{id(self)}"
    self.path = self.logdir / name
    self._file = open(self.path, "ab")
    self._write(event(now, 0, file_version=FILE_VERSION))

  def _write(self, payload: bytes) -> None:
    self._file.write(frame(payload))
    self._file.flush()

  def add_scalars(self, step: int, scalars: dict[str, float],
                  wall_time: float | None = None) -> None:
    if scalars:
      self._write(event(time.time() if wall_time is None else wall_time, int(step),
                        scalars=scalars))

  def add_record(self, record: dict) -> None:
    self.add_scalars(record.get("step", 0), record_scalars(record))

  def add_records(self, records: Iterable[dict]) -> None:
    for record in records:
      self.add_record(record)

  def close(self) -> None:
    if not self._file.closed:
      self._file.close()

  def __enter__(self) -> "EventWriter":
    return self

  def __exit__(self, *exc) -> None:
    self.close()


def write_from_metrics(records: Iterable[dict], logdir: str | os.PathLike) -> pathlib.Path:
  """A fresh event file in `logdir` holding `records` (e.g. RunDir.read_metrics())."""
  with EventWriter(logdir) as writer:
    writer.add_records(records)
  return writer.path


# ---- reading back ------------------------------------------------------------------------------

class EventFileError(ValueError):
  """An event file is truncated or fails its checksums."""


def read_records(path: str | os.PathLike) -> Iterator[bytes]:
  """The payloads of a TFRecord file, checksums verified."""
  data = pathlib.Path(path).read_bytes()
  offset = 0
  while offset < len(data):
    if offset + 12 > len(data):
      raise EventFileError(f"{path}: truncated record header at byte {offset}")
    header = data[offset:offset + 8]
    (length,), (header_crc,) = struct.unpack("<Q", header), struct.unpack(
        "<I", data[offset + 8:offset + 12])
    if masked_crc32c(header) != header_crc:
      raise EventFileError(f"{path}: bad length checksum at byte {offset}")
    start, end = offset + 12, offset + 12 + length
    if end + 4 > len(data):
      raise EventFileError(f"{path}: truncated record at byte {offset}")
    payload = data[start:end]
    if masked_crc32c(payload) != struct.unpack("<I", data[end:end + 4])[0]:
      raise EventFileError(f"{path}: bad payload checksum at byte {offset}")
    yield payload
    offset = end + 4


def _read_varint(data: bytes, offset: int) -> tuple[int, int]:
  value, shift = 0, 0
  while True:
    byte = data[offset]
    offset += 1
    value |= (byte & 0x7F) << shift
    shift += 7
    if not byte & 0x80:
      return value, offset


def _fields(data: bytes) -> Iterator[tuple[int, int, bytes | int]]:
  """(field number, wire type, value) of a protobuf message (varint, 64-bit, bytes, 32-bit)."""
  offset = 0
  while offset < len(data):
    key, offset = _read_varint(data, offset)
    field, wire = key >> 3, key & 7
    if wire == 0:
      value, offset = _read_varint(data, offset)
    elif wire == 1:
      value, offset = data[offset:offset + 8], offset + 8
    elif wire == 2:
      size, offset = _read_varint(data, offset)
      value, offset = data[offset:offset + size], offset + size
    elif wire == 5:
      value, offset = data[offset:offset + 4], offset + 4
    else:
      raise EventFileError(f"unsupported protobuf wire type {wire}")
    yield field, wire, value


def parse_event(payload: bytes) -> dict:
  """{"wall_time", "step", "file_version"?, "scalars": {tag: value}} of an Event message."""
  out = {"wall_time": 0.0, "step": 0, "scalars": {}}
  for field, _, value in _fields(payload):
    if field == 1:
      out["wall_time"] = struct.unpack("<d", value)[0]
    elif field == 2:
      out["step"] = value - (1 << 64) if value >= 1 << 63 else value
    elif field == 3:
      out["file_version"] = value.decode()
    elif field == 5:
      for f, _, summary_value in _fields(value):
        if f != 1:
          continue
        parts = {f2: v2 for f2, _, v2 in _fields(summary_value)}
        if 1 in parts and 2 in parts:
          out["scalars"][parts[1].decode()] = struct.unpack("<f", parts[2])[0]
  return out


def read_scalars(logdir: str | os.PathLike) -> dict[str, list[tuple[int, float]]]:
  """tag -> [(step, value)] over every event file in `logdir`, in file then record order."""
  series: dict[str, list[tuple[int, float]]] = {}
  for path in sorted(pathlib.Path(logdir).glob(FILE_PREFIX + "*")):
    for payload in read_records(path):
      parsed = parse_event(payload)
      for tag, value in parsed["scalars"].items():
        series.setdefault(tag, []).append((parsed["step"], value))
  return series
