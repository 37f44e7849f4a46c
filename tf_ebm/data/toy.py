"""Two-dimensional toy densities with exact, normalized log densities.

Two densities are available, both in float32:

- `"gaussian_mixture"`: 8 equal-weight isotropic Gaussians with standard
  deviation 0.15 whose means are evenly spaced on the unit circle. These are the
  toy settings of Nijkamp et al., "On the Anatomy of MCMC-Based Maximum
  Likelihood Learning of Energy-Based Models" (AAAI 2020). The density is a
  `tfp.distributions.MixtureSameFamily`.
- `"rings"`: 4 equally weighted concentric rings with radii 1, 2, 3 and 4, the
  rings of the same paper. The angle is uniform and the radius follows a
  Gaussian with standard deviation 0.15 truncated to r > 0, so neighbouring
  rings are 6.7 standard deviations apart. `RingMixture` implements it.

`TOY_GRID_LIMITS` gives the square on which each density is plotted and
compared.

Both objects follow the TFP conventions for `sample(sample_shape, seed)`: a
Python `int` or `None` seed draws statefully, and an `int32[2]` tensor (or a
pair of ints) draws statelessly and reproducibly. `sample_toy` always draws
statelessly from its integer seed.
"""

import math

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

__all__ = [
    "TOY_DATASETS",
    "TOY_GRID_LIMITS",
    "RingMixture",
    "sample_toy",
    "toy_distribution",
]

TOY_DATASETS = ("rings", "gaussian_mixture")

GAUSSIAN_MIXTURE_NUM_COMPONENTS = 8
GAUSSIAN_MIXTURE_RADIUS = 1.0
GAUSSIAN_MIXTURE_STDDEV = 0.15

RING_RADII = (1.0, 2.0, 3.0, 4.0)
RING_WEIGHTS = (1.0, 1.0, 1.0, 1.0)
RING_RADIAL_STDDEV = 0.15

# Square [low, high]^2 for the density plots and grid KLs of each toy. Both leave
# 1.0 (6.7 standard deviations) beyond the outermost mode. The true density there
# is below 1e-9 of its peak, and the margin shows learned mass outside the data.
TOY_GRID_LIMITS = {
    "gaussian_mixture": (-2.0, 2.0),
    "rings": (-5.0, 5.0),
}


class RingMixture:
    """Mixture of concentric rings in the plane with an exact density.

    A point is drawn by choosing ring `k` with probability `weights[k]`, a
    radius `r` from a Gaussian with mean `radii[k]` and standard deviation
    `radial_stddev` truncated to `r > 0`, and a uniform angle. In Cartesian
    coordinates `x` with `r = |x|` the density is

        p(x) = sum_k weights[k] * N(r; radii[k], radial_stddev)
               / (2 pi r Phi(radii[k] / radial_stddev)),

    where `Phi(radii[k] / radial_stddev)` is the mass of the untruncated radial
    Gaussian on `r > 0`. The factor `1 / (2 pi r)` is the Jacobian of the polar
    map, so `p` integrates to one over the plane.

    Warning: the density diverges like `1 / r` at the origin because the radial
    density is positive at `r = 0`, so `log_prob` returns `+inf` there. The
    singularity is integrable.
    """

    def __init__(self, radii, weights, radial_stddev, name="RingMixture"):
        """Build the ring mixture.

        Args:
          radii: sequence of positive ring radii.
          weights: sequence of nonnegative ring weights, one per radius. They
            are normalized to sum to one.
          radial_stddev: positive standard deviation of the radius around each
            ring radius, before truncation to `r > 0`.
          name: name of the distribution.

        Raises:
          ValueError: if `radii` and `weights` differ in length, a radius or
            `radial_stddev` is not positive, or a weight is negative or all
            weights are zero.
        """
        radii = np.asarray(radii, dtype=np.float64)
        weights = np.asarray(weights, dtype=np.float64)
        if radii.ndim != 1 or radii.shape != weights.shape:
            raise ValueError(
                "`radii` and `weights` must be 1-D with equal length, got "
                f"shapes {radii.shape} and {weights.shape}."
            )
        if np.any(radii <= 0):
            raise ValueError(f"`radii` must be positive, got {radii.tolist()}.")
        if np.any(weights < 0) or weights.sum() <= 0:
            raise ValueError(
                "`weights` must be nonnegative with a positive sum, got "
                f"{weights.tolist()}."
            )
        if not radial_stddev > 0:
            raise ValueError(f"`radial_stddev` must be positive, got {radial_stddev}.")

        self._radii = radii.astype(np.float32)
        self._weights = (weights / weights.sum()).astype(np.float32)
        self._radial_stddev = float(radial_stddev)
        self._name = name
        self._radius_distribution = tfd.MixtureSameFamily(
            mixture_distribution=tfd.Categorical(probs=self._weights),
            components_distribution=tfd.TruncatedNormal(
                loc=self._radii,
                scale=np.float32(self._radial_stddev),
                low=np.float32(0.0),
                high=np.float32(np.inf),
            ),
            name=f"{name}_radius",
        )

    @property
    def radii(self):
        """Ring radii as a float32 numpy array."""
        return self._radii

    @property
    def weights(self):
        """Normalized ring weights as a float32 numpy array."""
        return self._weights

    @property
    def radial_stddev(self):
        """Standard deviation of the radius around each ring, before truncation."""
        return self._radial_stddev

    @property
    def radius_distribution(self):
        """Distribution of `|x|`, a `tfp.distributions.MixtureSameFamily`."""
        return self._radius_distribution

    @property
    def dtype(self):
        return tf.float32

    @property
    def event_shape(self):
        return tf.TensorShape([2])

    @property
    def name(self):
        return self._name

    def sample(self, sample_shape=(), seed=None):
        """Draw points from the mixture.

        Args:
          sample_shape: int or sequence of ints, the leading shape of the result.
          seed: an `int32[2]` tensor or pair of ints for a reproducible
            stateless draw, or a Python `int` or `None` for a stateful draw, as
            in TFP.

        Returns:
          float32 tensor of shape `sample_shape + [2]`.
        """
        seed = tfp.random.sanitize_seed(seed, salt="RingMixture")
        radius_seed, angle_seed = tfp.random.split_seed(seed, n=2)
        radius = self._radius_distribution.sample(sample_shape, seed=radius_seed)
        angle = tf.random.stateless_uniform(
            tf.shape(radius),
            seed=angle_seed,
            minval=0.0,
            maxval=2.0 * math.pi,
            dtype=tf.float32,
        )
        return tf.stack([radius * tf.cos(angle), radius * tf.sin(angle)], axis=-1)

    def log_prob(self, x):
        """Compute the log density at points `x` of shape `[..., 2]`."""
        x = tf.convert_to_tensor(x, dtype=tf.float32)
        radius = tf.norm(x, axis=-1)
        radial_log_prob = self._radius_distribution.log_prob(radius)
        return radial_log_prob - tf.math.log(2.0 * math.pi * radius)

    def prob(self, x):
        """Compute the density at points `x` of shape `[..., 2]`."""
        return tf.exp(self.log_prob(x))


def toy_distribution(name):
    """Build the toy density called `name`.

    Args:
      name: one of `TOY_DATASETS`.

    Returns:
      An object with `sample(sample_shape, seed=None)` returning float32 points
      of shape `sample_shape + [2]` and `log_prob(x)` returning the exact log
      density of shape `x.shape[:-1]`: a `tfp.distributions.MixtureSameFamily`
      for `"gaussian_mixture"` and a `RingMixture` for `"rings"`.

    Raises:
      ValueError: if `name` is not in `TOY_DATASETS`.
    """
    if name == "gaussian_mixture":
        angles = (
            2.0
            * np.pi
            * np.arange(GAUSSIAN_MIXTURE_NUM_COMPONENTS)
            / GAUSSIAN_MIXTURE_NUM_COMPONENTS
        )
        means = GAUSSIAN_MIXTURE_RADIUS * np.stack([np.cos(angles), np.sin(angles)], axis=-1)
        return tfd.MixtureSameFamily(
            mixture_distribution=tfd.Categorical(
                logits=np.zeros(GAUSSIAN_MIXTURE_NUM_COMPONENTS, np.float32)
            ),
            components_distribution=tfd.MultivariateNormalDiag(
                loc=means.astype(np.float32),
                scale_diag=np.full(2, GAUSSIAN_MIXTURE_STDDEV, np.float32),
            ),
            name="gaussian_mixture",
        )
    if name == "rings":
        return RingMixture(
            radii=RING_RADII,
            weights=RING_WEIGHTS,
            radial_stddev=RING_RADIAL_STDDEV,
            name="rings",
        )
    raise ValueError(
        f"Unknown toy dataset {name!r}; expected one of {list(TOY_DATASETS)}."
    )


def sample_toy(name, num_examples, seed):
    """Draw `num_examples` points from the toy density `name`.

    Args:
      name: one of `TOY_DATASETS`.
      num_examples: positive number of points.
      seed: integer seed. Equal seeds give equal points.

    Returns:
      float32 numpy array of shape `(num_examples, 2)`.

    Raises:
      ValueError: if `name` is unknown or `num_examples` is not positive.
    """
    distribution = toy_distribution(name)
    if int(num_examples) <= 0:
        raise ValueError(f"`num_examples` must be positive, got {num_examples}.")

    stateless_seed = tf.constant([int(seed) % (2**31 - 1), 0], dtype=tf.int32)
    points = distribution.sample(int(num_examples), seed=stateless_seed)
    return points.numpy().astype(np.float32)
