"""make_tagger: config handling, shapes, causality, and a hand-set IDS4 S5 word-problem tagger."""

from __future__ import annotations

import itertools

import jax
import ml_collections
import numpy as np
import pytest

from ssm_expressivity.models import ids4, lstm, tagger, transformer

VOCAB, OUTPUTS = 7, 5

CONFIGS = {
    "transformer": dict(name="transformer", num_layers=2, d_model=8, num_heads=2),
    "lstm": dict(name="lstm", num_layers=2, d_model=8),
    "ids4": dict(name="ids4", num_layers=2, d_model=8, d_state=3),
    "mamba": dict(name="mamba", num_layers=2, d_model=8, d_state=4),
}


def _tokens(seed: int, shape=(2, 10)) -> np.ndarray:
  return np.random.default_rng(seed).integers(0, VOCAB, size=shape).astype(np.int32)


def _build(name: str):
  if name == "mamba":
    pytest.importorskip("ssm_expressivity.models.mamba")
  model = tagger.make_tagger(CONFIGS[name], VOCAB, OUTPUTS)
  return model, model.init(jax.random.key(0), _tokens(0))


def test_registry_names_and_classes():
  assert set(tagger.STACKS) == {"mamba", "transformer", "lstm", "ids4"}
  assert tagger.STACKS["transformer"] is transformer.TransformerStack
  assert tagger.STACKS["lstm"] is lstm.LSTMStack
  assert tagger.STACKS["ids4"] is ids4.IDS4Stack
  with pytest.raises(KeyError):
    tagger.STACKS["gru"]


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_tagger_shapes_params_and_causality(name):
  model, params = _build(name)
  assert set(params["params"]) == {"embed", "backbone", "head"}
  assert params["params"]["embed"]["embedding"].shape == (VOCAB, CONFIGS[name]["d_model"])
  assert isinstance(model.backbone, tagger.STACKS[name])
  tokens = _tokens(1)
  logits = np.asarray(model.apply(params, tokens))
  assert logits.shape == (2, 10, OUTPUTS) and logits.dtype == np.float32
  # Right padding (or any later change) leaves earlier logits untouched.
  t = 4
  padded = tokens.copy()
  padded[:, t + 1:] = 0
  padded[0, t + 1] = (tokens[0, t + 1] + 1) % VOCAB  # at least one real change
  logits_padded = np.asarray(model.apply(params, padded))
  np.testing.assert_allclose(logits_padded[:, :t + 1], logits[:, :t + 1], rtol=1e-5, atol=1e-5)
  assert np.abs(logits_padded[:, t + 1:] - logits[:, t + 1:]).max() > 1e-5


def test_config_dict_and_dict_build_the_same_model():
  as_config = ml_collections.ConfigDict(CONFIGS["transformer"])
  from_config = tagger.make_tagger(as_config, VOCAB, OUTPUTS)
  from_dict = tagger.make_tagger(CONFIGS["transformer"], VOCAB, OUTPUTS)
  assert from_config.backbone == from_dict.backbone
  assert from_config.backbone.num_heads == 2 and from_config.backbone.pos_encoding == "sinusoidal"


def test_unknown_name_lists_the_valid_names():
  with pytest.raises(ValueError, match="gru") as error:
    tagger.make_tagger(dict(name="gru", num_layers=1, d_model=8), VOCAB, OUTPUTS)
  for name in CONFIGS:
    assert name in str(error.value)
  with pytest.raises(ValueError, match="valid names"):
    tagger.make_tagger(dict(num_layers=1, d_model=8), VOCAB, OUTPUTS)


@pytest.mark.parametrize("name", ["transformer", "lstm", "ids4"])
def test_unknown_field_lists_the_valid_fields(name):
  config = dict(CONFIGS[name], dmodel=8)
  with pytest.raises(ValueError, match="dmodel") as error:
    tagger.make_tagger(config, VOCAB, OUTPUTS)
  valid = tagger.stack_fields(tagger.STACKS[name])
  assert "d_model" in valid and "num_layers" in valid
  for field in valid:
    assert repr(field) in str(error.value)


def test_missing_field_and_bad_arguments():
  with pytest.raises(ValueError, match="d_model"):
    tagger.make_tagger(dict(name="lstm", num_layers=1), VOCAB, OUTPUTS)
  with pytest.raises(ValueError, match="vocab_size"):
    tagger.make_tagger(CONFIGS["lstm"], 0, OUTPUTS)
  with pytest.raises(ValueError, match="num_outputs"):
    tagger.make_tagger(CONFIGS["lstm"], VOCAB, -1)
  with pytest.raises(ValueError, match="dict"):
    tagger.make_tagger("lstm", VOCAB, OUTPUTS)
  # A bad value of a known field is the stack's own ValueError.
  with pytest.raises(ValueError, match="pos_encoding"):
    tagger.make_tagger(dict(CONFIGS["transformer"], pos_encoding="alibi"), VOCAB, OUTPUTS)


def test_dropout_reaches_the_transformer_backbone():
  model = tagger.make_tagger(dict(CONFIGS["transformer"], dropout_rate=0.5), VOCAB, OUTPUTS)
  tokens = _tokens(2)
  params = model.init(jax.random.key(0), tokens)
  quiet = [np.asarray(model.apply(params, tokens)) for _ in range(2)]
  noisy = [np.asarray(model.apply(params, tokens, deterministic=False,
                                  rngs={"dropout": jax.random.key(seed)})) for seed in (1, 2)]
  np.testing.assert_array_equal(quiet[0], quiet[1])
  assert np.abs(noisy[0] - noisy[1]).max() > 1e-3


def _permutation_matrix(perm) -> np.ndarray:
  """P with P e_i = e_{perm[i]}."""
  matrix = np.zeros((len(perm), len(perm)), np.float32)
  matrix[list(perm), range(len(perm))] = 1.0
  return matrix


def test_hand_set_one_layer_ids4_tagger_solves_s5_word_problem():
  """Tokens: 0 pad, 1 begin, 2.. the 120 elements of S5; output = running product."""
  perms = list(itertools.permutations(range(5)))
  n, vocab = 5, 2 + len(perms)
  d_model = vocab + n * n  # token one-hot, then vec(H) written by the layer
  model = tagger.make_tagger(dict(name="ids4", num_layers=1, d_model=d_model, d_state=n),
                             vocab, len(perms))
  rng = np.random.default_rng(3)
  length = 150
  tokens = np.concatenate([np.ones((2, 1), np.int64), rng.integers(2, vocab, (2, length))], 1)
  tokens[1, 100:] = 0  # the second word is shorter, right-padded
  tokens = tokens.astype(np.int32)
  params = jax.tree.map(np.zeros_like, model.init(jax.random.key(0), tokens[:, :2])["params"])
  params["embed"]["embedding"][:, :vocab] = np.eye(vocab)
  # The norm's scale undoes the RMS of a one-hot vector, so the block sees the one-hot itself.
  params["backbone"]["norm_0"]["scale"][:] = np.sqrt(1.0 / d_model + 1e-5)
  block = params["backbone"]["layer_0"]
  block["B_proj"]["kernel"][1] = np.eye(n).ravel()  # begin: H = I
  for token, perm in enumerate(perms, start=2):
    block["A_proj"]["kernel"][token] = _permutation_matrix(perm).ravel()
  block["C_proj"]["kernel"][:, vocab:] = np.eye(n * n)
  params["backbone"]["final_norm"]["scale"][:] = 1.0
  params["head"]["kernel"][vocab:] = np.stack([_permutation_matrix(p).ravel() for p in perms], 1)
  predicted = np.asarray(model.apply({"params": params}, tokens)).argmax(-1)
  for word in range(2):
    running = np.arange(n)  # oracle: compose index maps, newest applied last
    last = length + 1 if word == 0 else 100
    for t in range(last):
      if t > 0:
        running = np.asarray(perms[tokens[word, t] - 2])[running]
      assert perms[predicted[word, t]] == tuple(running), (word, t)
