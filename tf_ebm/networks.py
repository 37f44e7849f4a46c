"""Energy networks F(x; theta): Keras 3 models mapping a batch to one energy per example.

All networks are channels-last and use leaky ReLU with slope 0.05 between layers, as in
Nijkamp et al. (AAAI 2020). Outputs have shape (batch,).
"""

import math

import keras
from keras import layers
from keras import ops

__all__ = [
    "NETWORKS",
    "NonLocalBlock",
    "build_network",
    "nonlocal_convnet",
    "toy_mlp",
    "vanilla_convnet",
]

NETWORKS = ("toy", "vanilla", "nonlocal")
LEAKY_RELU_SLOPE = 0.05
MIN_IMAGE_SIZE = 8


def toy_mlp(input_dim=2, widths=(32, 64, 64, 64), name="toy_mlp"):
    """Build the toy potential for points: dense layers 32, 64, 64, 64, 1.

    A dense layer on a point equals the paper's 1x1 convolution on a 1x1 image with the
    point's coordinates as channels, so this is that stack of 1x1 convolutions.
    """
    if int(input_dim) < 1:
        raise ValueError(f"`input_dim` must be an integer >= 1; received {input_dim!r}.")
    inputs = keras.Input(shape=(int(input_dim),), name="points")
    x = inputs
    for index, width in enumerate(widths):
        x = layers.Dense(width, name=f"dense_{index}")(x)
        x = layers.LeakyReLU(negative_slope=LEAKY_RELU_SLOPE)(x)
    x = layers.Dense(1, name="energy")(x)
    energy = layers.Reshape((), name="per_example")(x)
    return keras.Model(inputs, energy, name=name)


def vanilla_convnet(image_size=32, channels=3, num_filters=32, name="vanilla_convnet"):
    """Build the paper's "vanilla" ConvNet.

    3x3 conv (n_f), then three 4x4 stride-2 convs (2 n_f, 4 n_f, 8 n_f), then a valid conv
    to one scalar, leaky ReLU 0.05 between them. The stride-2 convs use "same" padding, so
    the map before the last conv is ceil(image_size / 8) wide; the last conv's kernel spans
    it, which is the paper's 4x4 kernel at image sizes 25 to 32 (32x32 included).
    """
    _check_image_arguments(image_size, channels, num_filters)
    inputs = keras.Input(shape=(image_size, image_size, channels), name="images")
    x = layers.Conv2D(num_filters, 3, padding="same", name="conv_0")(inputs)
    x = layers.LeakyReLU(negative_slope=LEAKY_RELU_SLOPE)(x)
    for index, multiplier in enumerate((2, 4, 8), start=1):
        x = layers.Conv2D(num_filters * multiplier, 4, strides=2, padding="same", name=f"conv_{index}")(x)
        x = layers.LeakyReLU(negative_slope=LEAKY_RELU_SLOPE)(x)
    final_kernel = math.ceil(image_size / 8)
    x = layers.Conv2D(1, final_kernel, padding="valid", name="energy")(x)
    energy = layers.Reshape((), name="per_example")(x)
    return keras.Model(inputs, energy, name=name)


def nonlocal_convnet(image_size=32, channels=3, num_filters=32, name="nonlocal_convnet"):
    """Build the paper's ConvNet with non-local blocks.

    Three stages of (3x3 conv, leaky ReLU, 2x2 max-pool) with n_f, 2 n_f and 4 n_f filters;
    a non-local block (embedded-Gaussian self-attention, residual, zero-initialized output
    projection) precedes stages two and three; then dense 8 n_f, leaky ReLU, dense 1.
    Any image size >= 8 works; the first dense layer's size follows floor(image_size / 8).
    """
    _check_image_arguments(image_size, channels, num_filters)
    inputs = keras.Input(shape=(image_size, image_size, channels), name="images")
    x = inputs
    for stage, multiplier in enumerate((1, 2, 4)):
        if stage > 0:
            x = NonLocalBlock(name=f"nonlocal_{stage}")(x)
        x = layers.Conv2D(num_filters * multiplier, 3, padding="same", name=f"conv_{stage}")(x)
        x = layers.LeakyReLU(negative_slope=LEAKY_RELU_SLOPE)(x)
        x = layers.MaxPooling2D(2, name=f"pool_{stage}")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(num_filters * 8, name="dense")(x)
    x = layers.LeakyReLU(negative_slope=LEAKY_RELU_SLOPE)(x)
    x = layers.Dense(1, name="energy")(x)
    energy = layers.Reshape((), name="per_example")(x)
    return keras.Model(inputs, energy, name=name)


@keras.saving.register_keras_serializable(package="tf_ebm")
class NonLocalBlock(layers.Layer):
    """Embedded-Gaussian non-local block (Wang et al., 2018) with a residual connection.

    y = x + W_z(softmax(theta(x) phi(x)^T) g(x)), where theta, phi and g are 1x1 convs to
    `inner_channels` (half the input channels by default) and W_z is a 1x1 conv back to the
    input channels, zero-initialized so the block starts as the identity.
    """

    def __init__(self, inner_channels=None, **kwargs):
        super().__init__(**kwargs)
        self.inner_channels = inner_channels

    def build(self, input_shape):
        channels = input_shape[-1]
        inner = self.inner_channels or max(channels // 2, 1)
        self.theta = layers.Conv2D(inner, 1, name="theta")
        self.phi = layers.Conv2D(inner, 1, name="phi")
        self.g = layers.Conv2D(inner, 1, name="g")
        self.output_projection = layers.Conv2D(channels, 1, kernel_initializer="zeros", name="output_projection")
        for layer in (self.theta, self.phi, self.g):
            layer.build(input_shape)
        self.output_projection.build(tuple(input_shape[:-1]) + (inner,))

    def call(self, x):
        shape = ops.shape(x)
        batch, height, width = shape[0], shape[1], shape[2]
        theta = ops.reshape(self.theta(x), (batch, height * width, -1))
        phi = ops.reshape(self.phi(x), (batch, height * width, -1))
        g = ops.reshape(self.g(x), (batch, height * width, -1))
        attention = ops.softmax(ops.matmul(theta, ops.transpose(phi, (0, 2, 1))), axis=-1)
        attended = ops.reshape(ops.matmul(attention, g), (batch, height, width, -1))
        return x + self.output_projection(attended)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["inner_channels"] = self.inner_channels
        return config


def build_network(net, image_size=32, channels=3, num_filters=32, input_dim=2):
    """Build a network by name: 'toy' (points of `input_dim`), 'vanilla' or 'nonlocal'."""
    if net == "toy":
        return toy_mlp(input_dim=input_dim)
    if net == "vanilla":
        return vanilla_convnet(image_size=image_size, channels=channels, num_filters=num_filters)
    if net == "nonlocal":
        return nonlocal_convnet(image_size=image_size, channels=channels, num_filters=num_filters)
    raise ValueError(f"Unknown network `net`={net!r}; allowed values are {', '.join(NETWORKS)}.")


def _check_image_arguments(image_size, channels, num_filters):
    if not isinstance(image_size, int) or image_size < MIN_IMAGE_SIZE:
        raise ValueError(
            f"`image_size` must be an integer >= {MIN_IMAGE_SIZE} (any such size is supported; "
            f"the paper uses 32); received {image_size!r}."
        )
    if not isinstance(channels, int) or channels < 1:
        raise ValueError(f"`channels` must be an integer >= 1; received {channels!r}.")
    if not isinstance(num_filters, int) or num_filters < 1:
        raise ValueError(f"`num_filters` must be an integer >= 1; received {num_filters!r}.")
