"""EnergyModel under MirroredStrategy on two logical CPU devices."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tf_ebm

from tests.test_model import QuadraticEnergy


@pytest.fixture(scope="module")
def strategy():
    devices = tf.config.list_logical_devices("CPU")
    if len(devices) < 2:
        pytest.skip("needs two logical CPU devices, configured in conftest.py before TF starts")
    return tf.distribute.MirroredStrategy([device.name for device in devices[:2]])


def build_model(strategy, **kwargs):
    with strategy.scope():
        net = keras.Sequential([keras.Input((2,)), QuadraticEnergy(w=0.5)])
        model = tf_ebm.EnergyModel(net, **kwargs)
        model.compile("sgd", learning_rate=1e-3, jit_compile=False)
    return model


def one_batch(x):
    return tf.data.Dataset.from_tensor_slices(x).batch(len(x), drop_remainder=True)


def test_bank_rows_updated_once_across_replicas(strategy):
    model = build_model(strategy, epsilon=0.1, num_steps=3, init_type="persistent", bank_size=40)
    before = model.persistent_bank.numpy().copy()
    model.fit(one_batch(np.zeros((16, 2), np.float32)), epochs=1, verbose=0)
    copies = [copy.numpy() for copy in model.persistent_bank.value.values]
    after = copies[0]
    changed = np.any(before != after, axis=1)
    # 16 distinct rows changed: two replicas of 8 chains never wrote the same row.
    assert changed.sum() == 16
    np.testing.assert_array_equal(before[~changed], after[~changed])
    np.testing.assert_array_equal(copies[0], copies[1])
    assert int(model.update_count.numpy()) == 1


def test_replicas_draw_different_noise(strategy):
    model = build_model(strategy, epsilon=0.1, num_steps=1, init_type="uniform")

    def draw():
        return model.initial_states(4, model._update_seed())

    per_replica = strategy.experimental_local_results(strategy.run(draw))
    assert not np.allclose(per_replica[0].numpy(), per_replica[1].numpy())


def test_metrics_are_means_over_replicas(strategy):
    # With eps = 0, CD initialization, one step and no data noise, the update is
    # deterministic: x_neg = (1 - w) x, so d = (w / 2) mean|x|^2 (1 - (1 - w)^2).
    # Replica 0 sees rows of 1s, replica 1 rows of 3s; their d differ by a factor 9.
    x = np.concatenate([np.ones((4, 2)), 3 * np.ones((4, 2))]).astype(np.float32)
    model = build_model(strategy, epsilon=0.0, num_steps=1, init_type="data", data_epsilon=0.0)
    history = model.fit(one_batch(x), epochs=1, verbose=0)
    w = 0.5
    expected = (w / 2) * np.mean(np.sum(x**2, axis=1)) * (1 - (1 - w) ** 2)
    np.testing.assert_allclose(history.history["d"][0], expected, rtol=1e-5)


def test_training_matches_single_replica(strategy):
    x = np.random.default_rng(0).normal(size=(16, 2)).astype(np.float32)
    kwargs = dict(epsilon=0.0, num_steps=2, init_type="data", data_epsilon=0.0)
    mirrored = build_model(strategy, **kwargs)
    single = build_model(tf.distribute.get_strategy(), **kwargs)
    mirrored.fit(one_batch(x), epochs=3, verbose=0)
    single.fit(one_batch(x), epochs=3, verbose=0)
    np.testing.assert_allclose(
        mirrored.energy_net.layers[-1].w.numpy(), single.energy_net.layers[-1].w.numpy(), rtol=1e-5
    )
