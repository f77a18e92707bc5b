"""AlbertLamb, WarmupPolynomialDecay and create_optimizer against hand-written numpy references."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from albert_tf.optimization import (
    DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY,
    AlbertLamb,
    WarmupPolynomialDecay,
    create_optimizer,
)

KERNEL, GAMMA, BIAS = "toy/dense/kernel", "group_0_layer_0/attention_layer_norm/gamma", "pooler/bias"


# --------------------------------------------------------------------- helpers
def make_variable(path: str, value: np.ndarray) -> keras.Variable:
    """A keras.Variable whose `path` is `path` (name scopes hold no "/")."""
    *scopes, name = path.split("/")
    with contextlib.ExitStack() as stack:
        for scope in scopes:
            stack.enter_context(keras.name_scope(scope))
        return keras.Variable(np.asarray(value, "float32"), name=name)


def initial_weights() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        KERNEL: rng.normal(size=(4, 3)),
        GAMMA: 1.0 + 0.1 * rng.normal(size=(3,)),
        BIAS: 0.1 * rng.normal(size=(3,)),
    }


def gradient_steps(count: int, scales=None) -> list[dict[str, np.ndarray]]:
    """Per-step gradients; `scales[t]` multiplies step t (to exercise clipping)."""
    rng = np.random.default_rng(1)
    scales = scales or [1.0] * count
    return [
        {path: scale * rng.normal(size=shape) for path, shape in ((KERNEL, (4, 3)), (GAMMA, (3,)), (BIAS, (3,)))}
        for scale in scales[:count]
    ]


def numpy_albert_lamb(weights, steps, learning_rate, weight_decay_rate=0.01, beta_1=0.9, beta_2=0.999,
                      epsilon=1e-6, exclude_from_weight_decay=DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY,
                      exclude_from_layer_adaptation=None, global_clipnorm=None, bias_correction=False):
    """ALBERT's LAMB (lamb_optimizer.py) in float64, written from its equations.

    `learning_rate` is a float or a function of the 0-based step;
    `bias_correction=True` gives the Adam-corrected variant for contrast.
    """
    if exclude_from_layer_adaptation is None:
        exclude_from_layer_adaptation = exclude_from_weight_decay
    w = {path: np.array(value, "float64") for path, value in weights.items()}
    m = {path: np.zeros_like(value) for path, value in w.items()}
    v = {path: np.zeros_like(value) for path, value in w.items()}
    for step, grads in enumerate(steps):
        grads = {path: np.array(g, "float64") for path, g in grads.items()}
        if global_clipnorm:
            norm = np.sqrt(sum(np.sum(g ** 2) for g in grads.values()))
            grads = {path: g * global_clipnorm / max(norm, global_clipnorm) for path, g in grads.items()}
        lr = learning_rate(step) if callable(learning_rate) else learning_rate
        for path, g in grads.items():
            m[path] = beta_1 * m[path] + (1 - beta_1) * g
            v[path] = beta_2 * v[path] + (1 - beta_2) * g ** 2
            m_hat, v_hat = m[path], v[path]
            if bias_correction:
                m_hat, v_hat = m_hat / (1 - beta_1 ** (step + 1)), v_hat / (1 - beta_2 ** (step + 1))
            update = m_hat / (np.sqrt(v_hat) + epsilon)
            if weight_decay_rate and not any(s in path for s in exclude_from_weight_decay):
                update = update + weight_decay_rate * w[path]
            ratio = 1.0
            if not any(s in path for s in exclude_from_layer_adaptation):
                w_norm, u_norm = np.linalg.norm(w[path]), np.linalg.norm(update)
                ratio = w_norm / u_norm if w_norm > 0 and u_norm > 0 else 1.0
            w[path] = w[path] - lr * ratio * update
    return w


def run_optimizer(optimizer, weights, steps, mode="eager", sparse=False):
    """Applies `steps` with `optimizer` to fresh variables; returns their values."""
    variables = [make_variable(path, value) for path, value in weights.items()]

    def apply(grads):
        optimizer.apply(grads, variables)

    if mode == "function":
        apply = tf.function(apply)
    elif mode == "jit":
        apply = tf.function(apply, jit_compile=True)
    for grads in steps:
        apply([tf.constant(grads[variable.path], "float32") for variable in variables])
    return {variable.path: variable.numpy() for variable in variables}


def assert_weights_close(actual, expected, atol=1e-6):
    for path in expected:
        np.testing.assert_allclose(actual[path], expected[path], rtol=0, atol=atol, err_msg=path)


def max_difference(first, second) -> float:
    return max(float(np.max(np.abs(first[path] - second[path]))) for path in first)


# ------------------------------------------------------------ the update rule
@pytest.mark.parametrize("mode", ["eager", "function", "jit"])
@pytest.mark.parametrize("exclude", [DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY, ()], ids=["albert_exclusions", "none"])
def test_lamb_matches_numpy_reference(mode, exclude):
    # A large decay rate so that decaying the wrong variables shows above 1e-6.
    settings = dict(learning_rate=0.01, weight_decay_rate=0.3, exclude_from_weight_decay=exclude)
    weights, steps = initial_weights(), gradient_steps(4)
    actual = run_optimizer(AlbertLamb(**settings), weights, steps, mode=mode)
    assert_weights_close(actual, numpy_albert_lamb(weights, steps, **settings))
    # The reference is sensitive to the exclusions at this tolerance.
    other = () if exclude else DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY
    flipped = numpy_albert_lamb(weights, steps, **{**settings, "exclude_from_weight_decay": other})
    assert max_difference(actual, flipped) > 1e-3


def test_weight_decay_and_layer_adaptation_exclusions_are_separate():
    settings = dict(learning_rate=0.01, weight_decay_rate=0.3, exclude_from_weight_decay=["bias"],
                    exclude_from_layer_adaptation=["layer_norm", "kernel"])
    weights, steps = initial_weights(), gradient_steps(3)
    actual = run_optimizer(AlbertLamb(**settings), weights, steps)
    assert_weights_close(actual, numpy_albert_lamb(weights, steps, **settings))
    same_lists = {**settings, "exclude_from_layer_adaptation": None}
    assert max_difference(actual, numpy_albert_lamb(weights, steps, **same_lists)) > 1e-3


def test_keras_exclude_from_weight_decay_is_honoured():
    optimizer = AlbertLamb(learning_rate=0.01, weight_decay_rate=0.3, exclude_from_weight_decay=[])
    optimizer.exclude_from_weight_decay(var_names=["pooler/", "dense/kernel"])
    weights, steps = initial_weights(), gradient_steps(3)
    actual = run_optimizer(optimizer, weights, steps)
    expected = numpy_albert_lamb(weights, steps, learning_rate=0.01, weight_decay_rate=0.3,
                                 exclude_from_weight_decay=["pooler/", "dense/kernel"],
                                 exclude_from_layer_adaptation=[])
    assert_weights_close(actual, expected)
    assert max_difference(actual, numpy_albert_lamb(weights, steps, learning_rate=0.01, weight_decay_rate=0.3,
                                                    exclude_from_weight_decay=[])) > 1e-3


def test_plain_tf_variables_are_matched_by_name():
    weights, steps = initial_weights(), gradient_steps(2)
    variables = []
    for path, value in weights.items():
        scope, name = path.rsplit("/", 1)
        with tf.name_scope(scope):
            variables.append(tf.Variable(value.astype("float32"), name=name))
    assert [v.name for v in variables] == [f"{path}:0" for path in weights]
    optimizer = AlbertLamb(learning_rate=0.01, weight_decay_rate=0.3)
    for grads in steps:
        optimizer.apply([tf.constant(grads[path], "float32") for path in weights], variables)
    actual = {path: v.numpy() for path, v in zip(weights, variables)}
    assert_weights_close(actual, numpy_albert_lamb(weights, steps, learning_rate=0.01, weight_decay_rate=0.3))


def test_default_settings_are_albert_s():
    optimizer = AlbertLamb()
    settings = (optimizer.beta_1, optimizer.beta_2, optimizer.epsilon, optimizer.weight_decay_rate)
    assert settings == (0.9, 0.999, 1e-6, 0.01)
    assert optimizer.weight_decay_exclusions == ("layer_norm", "LayerNorm", "bias")
    weights, steps = initial_weights(), gradient_steps(3)
    actual = run_optimizer(AlbertLamb(learning_rate=0.01), weights, steps)
    assert_weights_close(actual, numpy_albert_lamb(weights, steps, learning_rate=0.01))


def test_no_bias_correction_and_difference_from_keras_lamb():
    learning_rate = 0.01
    weights, steps = initial_weights(), gradient_steps(3)
    ours = run_optimizer(AlbertLamb(learning_rate=learning_rate), weights, steps[:1])
    # The bias is neither decayed nor trust-ratio scaled: after one step it moved
    # by lr * (1 - beta_1) / sqrt(1 - beta_2) = 3.16 lr per element; Adam with
    # bias correction moves it by lr.
    g = np.abs(steps[0][BIAS])
    moved = np.abs(ours[BIAS] - weights[BIAS]) / learning_rate
    np.testing.assert_allclose(moved, 0.1 * g / (np.sqrt(0.001) * g + 1e-6), rtol=1e-4)
    assert np.all(moved > 3.15)
    corrected = numpy_albert_lamb(weights, steps[:1], learning_rate, bias_correction=True)
    np.testing.assert_allclose(np.abs(corrected[BIAS] - weights[BIAS]) / learning_rate, 1.0, rtol=1e-4)

    ours = run_optimizer(AlbertLamb(learning_rate=learning_rate), weights, steps)
    keras_lamb = run_optimizer(keras.optimizers.Lamb(learning_rate=learning_rate, weight_decay=0.01), weights, steps)
    assert np.max(np.abs(ours[BIAS] - keras_lamb[BIAS])) > 0.01
    assert np.max(np.abs(ours[GAMMA] - keras_lamb[GAMMA])) > 0.01
    assert np.max(np.abs(ours[KERNEL] - keras_lamb[KERNEL])) > 1e-5


def test_global_clipnorm_clips_before_the_update():
    settings = dict(learning_rate=0.01, global_clipnorm=1.0)
    # Big, small, big: the clip factor changes between steps, so clipping shows
    # through the moments (a constant factor would cancel in m / sqrt(v)).
    weights, steps = initial_weights(), gradient_steps(3, scales=[50.0, 0.1, 20.0])
    actual = run_optimizer(AlbertLamb(**settings), weights, steps, mode="function")
    assert_weights_close(actual, numpy_albert_lamb(weights, steps, **settings))
    assert max_difference(actual, numpy_albert_lamb(weights, steps, learning_rate=0.01)) > 1e-3


def test_learning_rate_schedule_drives_the_update():
    schedule = WarmupPolynomialDecay(0.02, warmup_steps=2, decay_steps=6)
    weights, steps = initial_weights(), gradient_steps(4)
    actual = run_optimizer(AlbertLamb(learning_rate=schedule), weights, steps, mode="jit")
    expected = numpy_albert_lamb(weights, steps, learning_rate=lambda step: float(schedule(step)))
    assert_weights_close(actual, expected)
    # The original's first update has rate 0 (warm-up from step 0).
    first = run_optimizer(AlbertLamb(learning_rate=schedule), weights, steps[:1])
    assert max_difference(first, {path: value.astype("float32") for path, value in weights.items()}) == 0.0


def test_sparse_gradients_with_repeated_ids_equal_dense_ones():
    path = "embeddings/word_embeddings/embeddings"
    table = np.random.default_rng(2).normal(size=(5, 3))
    rows = np.random.default_rng(3).normal(size=(4, 3))
    ids = np.array([1, 1, 3, 1])
    dense = np.zeros((5, 3))
    np.add.at(dense, ids, rows)
    results = []
    for gradient in (tf.IndexedSlices(tf.constant(rows, "float32"), tf.constant(ids), tf.constant([5, 3])),
                     tf.constant(dense, "float32")):
        variable = make_variable(path, table)
        optimizer = AlbertLamb(learning_rate=0.01, global_clipnorm=1.0)
        for _ in range(3):
            optimizer.apply([gradient], [variable])
        results.append(variable.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=0, atol=1e-7)
    expected = numpy_albert_lamb({path: table}, [{path: dense}] * 3, learning_rate=0.01, global_clipnorm=1.0)
    np.testing.assert_allclose(results[0], expected[path], rtol=0, atol=1e-6)


def test_loss_scale_optimizer_unscales_and_skips_non_finite_steps():
    weights, steps = initial_weights(), gradient_steps(3)
    scale = 1024.0
    optimizer = keras.optimizers.LossScaleOptimizer(AlbertLamb(learning_rate=0.01), initial_scale=scale)
    variables = [make_variable(path, value) for path, value in weights.items()]
    for grads in steps:
        optimizer.apply([tf.constant(grads[v.path] * scale, "float32") for v in variables], variables)
    before = {v.path: v.numpy() for v in variables}
    assert_weights_close(before, numpy_albert_lamb(weights, steps, learning_rate=0.01), atol=2e-6)
    optimizer.apply([tf.fill(v.shape, np.inf) for v in variables], variables)
    assert max_difference({v.path: v.numpy() for v in variables}, before) == 0.0
    assert int(optimizer.iterations.numpy()) == 3


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(weight_decay=0.01), "weight_decay_rate"),
        (dict(beta_1=1.0), "beta_1"),
        (dict(beta_2=-0.1), "beta_2"),
        (dict(epsilon=0.0), "epsilon"),
        (dict(weight_decay_rate=-1.0), "weight_decay_rate"),
        (dict(exclude_from_weight_decay="bias"), "exclude_from_weight_decay"),
        (dict(exclude_from_layer_adaptation=[""]), "exclude_from_layer_adaptation"),
    ],
)
def test_lamb_rejects_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AlbertLamb(**kwargs)


# ------------------------------------------------------------------- schedule
def test_schedule_values():
    # Decay counts from step 0 (as in the original): at the end of warm-up the
    # rate is already decayed(10) = 0.45 * 0.9 + 0.05, below the peak.
    schedule = WarmupPolynomialDecay(0.5, warmup_steps=10, decay_steps=100, end_learning_rate=0.05)
    expected = {0: 0.0, 5: 0.25, 9: 0.45, 10: 0.455, 55: 0.2525, 99: 0.0545, 100: 0.05, 150: 0.05}
    for step, value in expected.items():
        for typed_step in (step, tf.constant(step, "int32"), tf.constant(step, "int64"), tf.constant(step, "float32")):
            assert float(schedule(typed_step)) == pytest.approx(value, abs=1e-7), (step, typed_step)
    variable_step = keras.Variable(55, dtype="int64", trainable=False)
    assert float(schedule(variable_step)) == pytest.approx(0.2525, abs=1e-7)
    compiled = tf.function(schedule, jit_compile=True)
    values = [float(compiled(tf.constant(step, "int64"))) for step in expected]
    assert values == pytest.approx(list(expected.values()), abs=1e-7)


def test_schedule_power_and_no_warmup():
    squared = WarmupPolynomialDecay(1.0, warmup_steps=0, decay_steps=10, power=2.0)
    assert [float(squared(s)) for s in (0, 5, 10, 20)] == pytest.approx([1.0, 0.25, 0.0, 0.0], abs=1e-7)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(peak_learning_rate=0.0), "peak_learning_rate"),
        (dict(warmup_steps=-1), "warmup_steps"),
        (dict(warmup_steps=1.5), "warmup_steps"),
        (dict(decay_steps=10), "decay_steps"),
        (dict(end_learning_rate=2.0), "end_learning_rate"),
        (dict(power=0.0), "power"),
    ],
)
def test_schedule_rejects_invalid_arguments(kwargs, message):
    arguments = dict(peak_learning_rate=1.0, warmup_steps=10, decay_steps=100)
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        WarmupPolynomialDecay(**arguments)


# -------------------------------------------------------------- serialization
def test_get_config_round_trips():
    schedule = WarmupPolynomialDecay(0.00176, warmup_steps=3125, decay_steps=125000, end_learning_rate=1e-5, power=0.5)
    restored_schedule = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
    assert isinstance(restored_schedule, WarmupPolynomialDecay)
    assert restored_schedule.get_config() == schedule.get_config()

    optimizer = AlbertLamb(learning_rate=schedule, weight_decay_rate=0.02, beta_2=0.99, epsilon=1e-5,
                           exclude_from_weight_decay=["bias"], exclude_from_layer_adaptation=["LayerNorm"],
                           global_clipnorm=1.0)
    config = optimizer.get_config()
    serialized = keras.optimizers.serialize(optimizer)
    for restored in (AlbertLamb.from_config(config), keras.optimizers.deserialize(serialized)):
        assert isinstance(restored, AlbertLamb)
        assert restored.get_config() == config
        assert isinstance(restored._learning_rate, WarmupPolynomialDecay)
    assert config["exclude_from_weight_decay"] == ["bias"] and config["global_clipnorm"] == 1.0


def tiny_model(vocab_size: int = 20) -> keras.Model:
    ids = keras.Input(shape=(6,), dtype="int32")
    hidden = keras.layers.Embedding(vocab_size, 8, name="embeddings")(ids)  # sparse gradients
    hidden = keras.layers.LayerNormalization(name="layer_norm")(hidden)
    hidden = keras.layers.GlobalAveragePooling1D()(hidden)
    logits = keras.layers.Dense(3, name="classifier", dtype="float32")(hidden)
    return keras.Model(ids, logits)


def tiny_data(count: int = 12):
    rng = np.random.default_rng(4)
    return rng.integers(0, 20, size=(count, 6)).astype("int32"), rng.integers(0, 3, size=(count,)).astype("int32")


def compiled_tiny_model(**compile_kwargs) -> keras.Model:
    keras.utils.set_random_seed(7)
    model = tiny_model()
    model.compile(
        optimizer=create_optimizer("lamb", learning_rate=0.05, warmup_steps=1, total_steps=20),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), **compile_kwargs,
    )
    return model


def test_compiled_model_saves_and_reloads_optimizer_state(tmp_path):
    x, y = tiny_data()
    model = compiled_tiny_model()
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    path = str(tmp_path / "tiny.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored.optimizer, AlbertLamb)
    assert restored.optimizer.get_config() == model.optimizer.get_config()
    assert int(restored.optimizer.iterations.numpy()) == 3
    for saved, loaded in zip(model.optimizer.variables, restored.optimizer.variables):
        np.testing.assert_array_equal(saved.numpy(), loaded.numpy())
    # Training on continues identically from the restored state.
    for each in (model, restored):
        each.train_on_batch(x[:4], y[:4])
    for saved, loaded in zip(model.weights, restored.weights):
        np.testing.assert_allclose(saved.numpy(), loaded.numpy(), rtol=0, atol=1e-6)


# ----------------------------------------------------------------- model.fit
def test_fit_eager_graph_and_xla_agree():
    x, y = tiny_data()
    results = {}
    for mode, kwargs in {"eager": dict(run_eagerly=True), "graph": {}, "xla": dict(jit_compile=True)}.items():
        model = compiled_tiny_model(**kwargs)
        initial = [w.numpy() for w in model.weights]
        history = model.fit(x, y, batch_size=4, epochs=2, verbose=0, shuffle=False)
        assert int(model.optimizer.iterations.numpy()) == 6
        assert np.all(np.isfinite(history.history["loss"]))
        assert any(np.max(np.abs(w.numpy() - w0)) > 1e-3 for w, w0 in zip(model.weights, initial))
        results[mode] = [w.numpy() for w in model.weights]
    for mode in ("graph", "xla"):
        for expected, actual in zip(results["eager"], results[mode]):
            np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-5, err_msg=mode)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_fit_with_mixed_precision(policy):
    keras.config.set_dtype_policy(policy)
    x, y = tiny_data()
    model = compiled_tiny_model()
    if policy == "mixed_float16":
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        assert isinstance(model.optimizer.inner_optimizer, AlbertLamb)
    initial = [w.numpy() for w in model.weights]
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    assert np.all(np.isfinite(history.history["loss"]))
    assert all(w.dtype == "float32" for w in model.weights)
    assert any(np.max(np.abs(w.numpy() - w0)) > 1e-3 for w, w0 in zip(model.weights, initial))


_MIRRORED_SCRIPT = textwrap.dedent(
    """
    import numpy as np, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from albert_tf.optimization import AlbertLamb, create_optimizer

    def train(strategy, clipnorm=1.0, policy="float32"):
        keras.config.set_dtype_policy(policy)
        with strategy.scope():
            keras.utils.set_random_seed(7)
            ids = keras.Input(shape=(6,), dtype="int32")
            hidden = keras.layers.Embedding(20, 8, name="embeddings")(ids)  # sparse gradients
            hidden = keras.layers.LayerNormalization(name="layer_norm")(hidden)
            pooled = keras.layers.GlobalAveragePooling1D()(hidden)
            logits = keras.layers.Dense(3, name="classifier", dtype="float32")(pooled)
            model = keras.Model(ids, logits)
            model.compile(optimizer=create_optimizer("lamb", 0.05, warmup_steps=1, total_steps=20, clipnorm=clipnorm),
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        rng = np.random.default_rng(4)
        x, y = rng.integers(0, 20, size=(16, 6)).astype("int32"), rng.integers(0, 3, size=(16,)).astype("int32")
        history = model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
        assert np.all(np.isfinite(history.history["loss"]))
        optimizer = getattr(model.optimizer, "inner_optimizer", model.optimizer)
        assert isinstance(optimizer, AlbertLamb) and int(optimizer.iterations.numpy()) == 4
        return [w.numpy() for w in model.weights]

    def difference(first, second):
        return max(float(np.max(np.abs(a - b))) for a, b in zip(first, second))

    one_device = tf.distribute.get_strategy()
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    single = train(one_device)
    print("MIRRORED", difference(single, train(mirrored)))
    print("CLIPPING", difference(single, train(one_device, clipnorm=None)))
    print("FLOAT16", difference(train(one_device, policy="mixed_float16"), train(mirrored, policy="mixed_float16")))
    """
)


@pytest.mark.long
def test_mirrored_strategy_matches_one_device():
    # Logical devices must be configured before any TF op: a fresh process.
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", _MIRRORED_SCRIPT], env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    values = {key: float(value) for key, value in (line.split() for line in result.stdout.splitlines())}
    # Global-norm clipping of the summed gradient: two replicas match one device.
    assert values["MIRRORED"] < 1e-5
    assert values["CLIPPING"] > 1e-3, "the toy must actually clip for this test to mean anything"
    # Loss scaling (LossScaleOptimizer around AlbertLamb) under the strategy.
    assert values["FLOAT16"] < 1e-2


# ------------------------------------------------------------------ factory
def test_factory_builds_the_recipe():
    lamb = create_optimizer("lamb", learning_rate=0.00176, warmup_steps=3125, total_steps=125000)
    assert isinstance(lamb, AlbertLamb) and lamb.global_clipnorm == 1.0 and lamb.weight_decay_rate == 0.01
    schedule = lamb._learning_rate
    assert isinstance(schedule, WarmupPolynomialDecay)
    assert (schedule.peak_learning_rate, schedule.warmup_steps, schedule.decay_steps) == (0.00176, 3125, 125000)
    adamw = create_optimizer("adamw", learning_rate=3e-5, warmup_steps=10, total_steps=100, clipnorm=None)
    assert isinstance(adamw, keras.optimizers.AdamW) and adamw.global_clipnorm is None
    assert adamw.weight_decay == 0.01 and adamw.epsilon == 1e-6
    with pytest.raises(ValueError, match="name"):
        create_optimizer("sgd", learning_rate=0.1, warmup_steps=1, total_steps=10)
    with pytest.raises(ValueError, match="clipnorm"):
        create_optimizer("lamb", learning_rate=0.1, warmup_steps=1, total_steps=10, clipnorm=-1.0)


def test_adamw_excludes_layer_norm_and_bias_from_weight_decay():
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="dense"),
                              keras.layers.LayerNormalization(name="layer_norm")])
    for variable in model.weights:  # non-zero everywhere, so a decay would show
        variable.assign(np.random.default_rng(5).normal(size=variable.shape).astype("float32"))
    dense, layer_norm = model.get_layer("dense"), model.get_layer("layer_norm")
    named = {"kernel": dense.kernel, "bias": dense.bias, "gamma": layer_norm.gamma, "beta": layer_norm.beta}
    before = {name: variable.numpy() for name, variable in named.items()}
    learning_rate, weight_decay = 0.1, 0.2
    optimizer = create_optimizer("adamw", learning_rate=learning_rate, warmup_steps=0, total_steps=10,
                                 weight_decay=weight_decay)
    # Zero gradients: the Adam step is zero, only weight decay can move a variable.
    optimizer.apply([tf.zeros_like(v) for v in model.trainable_variables], model.trainable_variables)
    np.testing.assert_allclose(dense.kernel.numpy(), before["kernel"] * (1 - learning_rate * weight_decay), rtol=1e-6)
    for name in ("bias", "gamma", "beta"):
        np.testing.assert_array_equal(named[name].numpy(), before[name], err_msg=name)

    # On the TensorFlow backend Keras searches `var_names` in the tf.Variable
    # name, which is the path plus ":0": path fragments work too.
    path_style = keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay)
    path_style.exclude_from_weight_decay(var_names=["layer_norm"])
    path_style.apply([tf.zeros_like(v) for v in named.values()], list(named.values()))
    np.testing.assert_allclose(dense.kernel.numpy(), before["kernel"] * (1 - learning_rate * weight_decay) ** 2,
                               rtol=1e-6)
    np.testing.assert_allclose(dense.bias.numpy(), before["bias"] * (1 - learning_rate * weight_decay), rtol=1e-6)
    np.testing.assert_array_equal(layer_norm.gamma.numpy(), before["gamma"])
