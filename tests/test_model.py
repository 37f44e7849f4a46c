"""EnergyModel: loss sign and scale, learning-rate scaling, bank updates, fit, errors."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import tf_ebm
from tf_ebm import networks


class LinearEnergy(keras.layers.Layer):
    """F(x) = w * sum(x) with one trainable scalar w, so d and its gradient are closed-form."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(), initializer="ones", name="w")

    def call(self, x):
        return self.w * tf.reduce_sum(tf.reshape(x, [tf.shape(x)[0], -1]), axis=-1)


class QuadraticEnergy(keras.layers.Layer):
    """F(x) = w * |x|^2 / 2 with one trainable scalar w."""

    def __init__(self, w=0.5, **kwargs):
        super().__init__(**kwargs)
        self.initial_w = w

    def build(self, input_shape):
        self.w = self.add_weight(shape=(), initializer=keras.initializers.Constant(self.initial_w), name="w")

    def call(self, x):
        return 0.5 * self.w * tf.reduce_sum(tf.square(x), axis=-1)


def linear_model(**kwargs):
    net = keras.Sequential([keras.Input((2,)), LinearEnergy()])
    return tf_ebm.EnergyModel(net, **kwargs)


def test_loss_sign_and_sgd_step_scale():
    # Positives sit at -3 and the energy w * sum(x) is lower there than on the negatives,
    # which start uniform in [-1, 1]; so d < 0. SGD on d * 2/eps^2 with the learning rate
    # times eps^2/2 moves w by exactly -lr * d / w (F is linear in w, w = 1).
    epsilon, learning_rate = 0.2, 0.1
    model = linear_model(epsilon=epsilon, num_steps=1, init_type="uniform", data_epsilon=0.0)
    model.compile("sgd", learning_rate=learning_rate, jit_compile=False)
    x = np.full((8, 2), -3.0, np.float32)
    logs = model.train_on_batch(x, return_dict=True)
    new_w = float(model.energy_net.layers[-1].w.numpy())
    assert logs["d"] < 0
    np.testing.assert_allclose(logs["d"], logs["energy_pos"] - logs["energy_neg"], rtol=1e-5)
    np.testing.assert_allclose(new_w - 1.0, -learning_rate * logs["d"], rtol=1e-4)


def test_sgd_learning_rate_scaled_once():
    model = linear_model(epsilon=0.2)
    model.compile("sgd", learning_rate=0.1)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.1 * 0.2**2 / 2)
    adam_model = linear_model(epsilon=0.2)
    adam_model.compile("adam", learning_rate=0.1)
    assert float(adam_model.optimizer.learning_rate) == pytest.approx(0.1)


def test_zero_epsilon_leaves_loss_unscaled():
    model = linear_model(epsilon=0.0, num_steps=1, data_epsilon=0.0)
    model.compile("sgd", learning_rate=0.1, jit_compile=False)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.1)
    logs = model.train_on_batch(np.full((4, 2), -3.0, np.float32), return_dict=True)
    new_w = float(model.energy_net.layers[-1].w.numpy())
    np.testing.assert_allclose(new_w - 1.0, -0.1 * logs["d"], rtol=1e-4)


def test_learning_rate_decays_to_floor():
    schedule = tf_ebm.ExponentialDecayWithFloor(0.1, 0.5, 0.02, scale=2.0)
    values = [float(schedule(step)) for step in range(5)]
    np.testing.assert_allclose(values, [0.2, 0.1, 0.05, 0.04, 0.04], rtol=1e-6)


def test_persistent_bank_updates_only_sampled_rows():
    net = keras.Sequential([keras.Input((2,)), QuadraticEnergy()])
    model = tf_ebm.EnergyModel(net, epsilon=0.1, num_steps=3, init_type="persistent", bank_size=50)
    model.compile("sgd", learning_rate=0.01, jit_compile=False)
    before = model.persistent_bank.numpy().copy()
    model.train_on_batch(np.zeros((10, 2), np.float32))
    after = model.persistent_bank.numpy()
    changed = np.any(before != after, axis=1)
    assert changed.sum() == 10
    np.testing.assert_array_equal(before[~changed], after[~changed])
    # Three steps of x <- x - 0.5 x + 0.1 z shrink the chains towards 0.
    assert np.abs(after[changed]).mean() < np.abs(before[changed]).mean()


def test_rejuvenation_restarts_chains_from_noise():
    net = keras.Sequential([keras.Input((2,)), QuadraticEnergy()])
    model = tf_ebm.EnergyModel(net, init_type="persistent", bank_size=4000, rejuvenation=0.3)
    model.persistent_bank.assign(np.full((4000, 2), 5.0, np.float32))
    x_init, indices = model._training_initial_states(tf.zeros([4000, 2]), model._update_seed())
    restarted = np.all(np.abs(x_init.numpy()) <= 1.0, axis=1)
    kept = np.all(x_init.numpy() == 5.0, axis=1)
    assert np.all(restarted | kept)
    # 4000 Bernoulli(0.3) draws: the standard error of the fraction is 0.007.
    assert abs(restarted.mean() - 0.3) < 0.03
    assert sorted(indices.numpy().tolist()) == list(range(4000))


def test_init_scale_scales_every_noise_start():
    net = keras.Sequential([keras.Input((2,)), QuadraticEnergy()])
    seed = tf.constant([3, 4], tf.int32)
    # 20,000 uniform draws on [-2, 2] have standard deviation 2 / sqrt(3) = 1.155 with a
    # standard error of about 0.004. 20,000 N(0, 4) draws have standard deviation 2 with a
    # standard error of about 0.01.
    model = tf_ebm.EnergyModel(net, init_type="uniform", init_scale=2.0)
    uniform = model.initial_states(10000, seed).numpy()
    assert np.abs(uniform).max() <= 2.0
    assert np.abs(uniform).max() > 1.99
    assert abs(uniform.std() - 2.0 / np.sqrt(3.0)) < 0.02
    gaussian = model.initial_states(10000, seed, init_type="gaussian").numpy()
    assert abs(gaussian.std() - 2.0) < 0.04
    assert abs(gaussian.mean()) < 0.04

    bank_model = tf_ebm.EnergyModel(net, init_type="persistent", bank_size=4000, init_scale=0.5, rejuvenation=0.5)
    bank = bank_model.persistent_bank.numpy()
    assert np.abs(bank).max() <= 0.5
    assert abs(bank.std() - 0.5 / np.sqrt(3.0)) < 0.01
    bank_model.persistent_bank.assign(np.full((4000, 2), 5.0, np.float32))
    x_init, _ = bank_model._training_initial_states(tf.zeros([4000, 2]), bank_model._update_seed())
    restarted = x_init.numpy()[np.all(x_init.numpy() != 5.0, axis=1)]
    assert len(restarted) > 1000
    assert np.abs(restarted).max() <= 0.5


@pytest.mark.parametrize("init_type", tf_ebm.INIT_TYPES)
@pytest.mark.parametrize("net", ["toy", "vanilla", "nonlocal"])
def test_fit_each_init_and_network(net, init_type):
    energy_net = networks.build_network(net, image_size=8, channels=1, num_filters=4)
    shape = (2,) if net == "toy" else (8, 8, 1)
    model = tf_ebm.EnergyModel(energy_net, epsilon=0.05, num_steps=3, init_type=init_type, bank_size=32)
    model.compile("adam", learning_rate=1e-3)
    x = np.random.default_rng(0).uniform(-1, 1, (32,) + shape).astype(np.float32)
    history = model.fit(x, batch_size=8, epochs=1, verbose=0)
    for key in ("d", "r", "energy_pos", "energy_neg", "lr"):
        assert np.isfinite(history.history[key][-1]), key
    assert int(model.update_count.numpy()) == 4
    samples = model.sample(initial_states=x[:3]) if init_type == "data" else model.sample(3)
    assert samples.shape == (3,) + shape


def test_user_network_with_column_output(tmp_path):
    net = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(1)])
    model = tf_ebm.EnergyModel(net, epsilon=0.05, num_steps=2)
    model.compile()
    dataset = tf.data.Dataset.from_tensor_slices(np.zeros((16, 4, 4, 1), np.float32)).batch(8)
    history = model.fit(dataset, epochs=2, verbose=0)
    assert len(history.history["d"]) == 2
    assert model.energy(np.zeros((3, 4, 4, 1))).shape == (3,)


def test_save_and_load_weights_give_identical_energies(tmp_path):
    def build():
        energy_net = networks.vanilla_convnet(image_size=8, channels=1, num_filters=4)
        return tf_ebm.EnergyModel(energy_net, epsilon=0.05, num_steps=2, init_type="persistent", bank_size=16)

    model = build()
    model.compile()
    x = np.random.default_rng(1).uniform(-1, 1, (16, 8, 8, 1)).astype(np.float32)
    model.fit(x, batch_size=8, epochs=1, verbose=0)
    path = os.path.join(tmp_path, "model.weights.h5")
    model.save_weights(path)

    restored = build()
    restored.load_weights(path)
    np.testing.assert_array_equal(restored.energy(x).numpy(), model.energy(x).numpy())
    np.testing.assert_array_equal(restored.persistent_bank.numpy(), model.persistent_bank.numpy())
    assert int(restored.update_count.numpy()) == 2


def test_sample_replays_with_seed_and_does_not_retrace():
    model = linear_model(epsilon=0.1, num_steps=2)
    first = model.sample(5, seed=3).numpy()
    np.testing.assert_array_equal(first, model.sample(5, seed=3).numpy())
    assert not np.allclose(first, model.sample(5, seed=4).numpy())
    model.sample(5, num_steps=9, epsilon=0.3, seed=1)
    model.set_sampler(num_steps=4)
    model.sample(5)
    assert model._compiled_sample.experimental_get_tracing_count() == 1
    assert model.num_steps == 4


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(epsilon=-0.01), r"`epsilon` must be a float >= 0.*-0.01"),
        (dict(num_steps=0), r"`num_steps` must be an integer >= 1.*0"),
        (dict(init_type="zeros"), r"`init_type`='zeros'.*uniform, gaussian, data, persistent"),
        (dict(rejuvenation=1.5), r"`rejuvenation` must be a fraction in \[0, 1\)"),
        (dict(data_epsilon=-1.0), r"`data_epsilon` must be a float >= 0"),
        (dict(init_scale=0.0), r"`init_scale` must be a finite float > 0 \(the scale of noise starts\); received 0.0"),
        (dict(init_scale=float("inf")), r"`init_scale` must be a finite float > 0"),
    ],
)
def test_invalid_model_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        linear_model(**kwargs)


def test_bank_smaller_than_batch_is_rejected():
    model = linear_model(init_type="persistent", bank_size=4)
    model.compile(jit_compile=False)
    with pytest.raises(ValueError, match=r"`bank_size`=4 is smaller than the global batch size 8"):
        model.train_on_batch(np.zeros((8, 2), np.float32))


def test_unknown_optimizer_is_rejected():
    with pytest.raises(ValueError, match=r"`optimizer`='rmsprop'.*adam, sgd"):
        linear_model().compile("rmsprop")


def test_set_sampler_does_not_retrace_train_step():
    model = linear_model(epsilon=0.1, num_steps=2)
    model.compile(jit_compile=False)
    traces = []
    train_step = model.train_step

    def counting_train_step(data):
        traces.append(1)  # Python runs only while TensorFlow traces the step.
        return train_step(data)

    model.train_step = counting_train_step
    x = np.zeros((16, 2), np.float32)
    model.fit(x, batch_size=8, epochs=1, verbose=0)
    # The first fit may trace twice: creating the optimizer's variables forces a retrace.
    traces_after_first_fit = len(traces)
    model.set_sampler(epsilon=0.05, num_steps=7)
    model.fit(x, batch_size=8, epochs=1, verbose=0)
    assert len(traces) == traces_after_first_fit
    assert (model.epsilon, model.num_steps) == (pytest.approx(0.05), 7)


def test_evaluate_reports_heldout_d():
    # eps = 0, CD initialization, one step and no data noise make d deterministic:
    # x_neg = (1 - w) x, so d = (w / 2) mean|x|^2 (1 - (1 - w)^2) with w = 0.5.
    net = keras.Sequential([keras.Input((2,)), QuadraticEnergy(w=0.5)])
    model = tf_ebm.EnergyModel(net, epsilon=0.0, num_steps=1, init_type="data", data_epsilon=0.0)
    model.compile(jit_compile=False)
    heldout = np.array([[1.0, 1.0], [2.0, 0.0], [0.0, 3.0], [1.0, -1.0]], np.float32)
    logs = model.evaluate(heldout, batch_size=2, verbose=0, return_dict=True)
    expected = 0.25 * np.mean(np.sum(heldout**2, axis=1)) * 0.75
    np.testing.assert_allclose(logs["d"], expected, rtol=1e-5)
    np.testing.assert_allclose(logs["energy_pos"] - logs["energy_neg"], expected, rtol=1e-5)
    assert int(model.update_count.numpy()) == 0


def test_state_range_applies_to_training_and_sampling():
    net = keras.Sequential([keras.Input((2,)), LinearEnergy()])
    model = tf_ebm.EnergyModel(net, epsilon=0.1, num_steps=5, init_type="persistent", bank_size=16,
                               state_range=(-1, 1))
    model.compile("sgd", learning_rate=1e-6, jit_compile=False)
    model.train_on_batch(np.zeros((16, 2), np.float32))
    # F = w * sum(x) with w = 1 drives the chains down by 1 per step, onto the lower bound.
    np.testing.assert_array_less(-1.0 - 1e-6, model.persistent_bank.numpy())
    np.testing.assert_allclose(model.persistent_bank.numpy(), -1.0, atol=0.35)
    assert model.sample(8, init_type="uniform").numpy().min() >= -1.0
    config = tf_ebm.EnergyModel(tf_ebm.toy_mlp(), state_range=(-1, 1)).get_config()
    assert tf_ebm.EnergyModel.from_config(config).state_range == (-1.0, 1.0)


def test_invalid_state_range_is_rejected():
    with pytest.raises(ValueError, match=r"`state_range` must have low < high; received \(1, -1\)"):
        linear_model(state_range=(1, -1))
