"""Energy networks: shapes, gradients, parameter counts and rejected sizes."""

import numpy as np
import pytest
import tensorflow as tf

from tf_ebm import networks

# Parameter counts for num_filters=32 and 3 channels at 32x32, worked out by hand:
# toy: 2*32+32 + 32*64+64 + 2*(64*64+64) + 64+1 = 10,593.
# vanilla: 896 + 32,832 + 131,200 + 524,544 + (16*256+1) = 693,569.
# nonlocal: convs 896 + 18,496 + 73,856; non-local blocks 2,128 + 8,352;
#   dense 2048*256+256 = 524,544 and 257; total 628,529.
EXPECTED_PARAMETERS = {"toy": 10593, "vanilla": 693569, "nonlocal": 628529}


def build(net, image_size=32, channels=3, num_filters=32):
    return networks.build_network(net, image_size=image_size, channels=channels, num_filters=num_filters)


def example_batch(net, batch, image_size=32, channels=3):
    shape = (batch, 2) if net == "toy" else (batch, image_size, image_size, channels)
    return tf.random.stateless_uniform(shape, seed=[0, batch], minval=-1, maxval=1)


@pytest.mark.parametrize("net", networks.NETWORKS)
def test_parameter_count(net):
    assert build(net).count_params() == EXPECTED_PARAMETERS[net]


@pytest.mark.parametrize("net", networks.NETWORKS)
@pytest.mark.parametrize("batch", [1, 5])
def test_output_is_one_energy_per_example(net, batch):
    energy = build(net, num_filters=8)(example_batch(net, batch))
    assert energy.shape == (batch,)


@pytest.mark.parametrize("net", networks.NETWORKS)
def test_input_gradient_is_finite(net):
    model = build(net, num_filters=8)
    x = example_batch(net, 3)
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(model(x))
    gradient = tape.gradient(total, x).numpy()
    assert gradient.shape == tuple(x.shape)
    assert np.all(np.isfinite(gradient))
    assert np.any(gradient != 0)


@pytest.mark.parametrize("net", ["vanilla", "nonlocal"])
@pytest.mark.parametrize("image_size, channels", [(28, 1), (64, 3), (8, 1)])
def test_other_image_sizes_work(net, image_size, channels):
    model = build(net, image_size=image_size, channels=channels, num_filters=4)
    assert model(example_batch(net, 2, image_size, channels)).shape == (2,)


def test_vanilla_final_kernel_is_four_at_32():
    model = build("vanilla")
    assert model.get_layer("energy").kernel.shape == (4, 4, 256, 1)


@pytest.mark.parametrize("net", ["vanilla", "nonlocal"])
def test_too_small_image_is_rejected(net):
    with pytest.raises(ValueError, match=r"`image_size` must be an integer >= 8.*received 4"):
        build(net, image_size=4)


def test_unknown_network_is_rejected():
    with pytest.raises(ValueError, match=r"net.*'resnet'.*toy, vanilla, nonlocal"):
        networks.build_network("resnet")


def test_nonlocal_block_starts_as_identity():
    block = networks.NonLocalBlock()
    x = tf.random.normal([2, 4, 4, 6])
    np.testing.assert_allclose(block(x).numpy(), x.numpy(), atol=1e-6)
