"""Measure the time per Langevin step of the energy nets in XLA and plain graph mode.

    python benchmarks/langevin_speed.py [--batch=100] [--steps=20] [--toy_steps=500]

Prints one line per (net, compile mode): milliseconds per Langevin step (one forward and
one backward pass of the batch), the best of 3 timed calls after a warm-up call that
includes compilation. The toy net runs longer chains because one of its steps takes a
fraction of a millisecond, so call overhead would otherwise dominate.
"""

import argparse
import time

import tensorflow as tf

from tf_ebm import networks
from tf_ebm import sampler as sampler_lib

CASES = (
    ("toy", dict(), (2,)),
    ("vanilla", dict(image_size=32, channels=3, num_filters=32), (32, 32, 3)),
    ("vanilla", dict(image_size=32, channels=1, num_filters=32), (32, 32, 1)),
    ("vanilla", dict(image_size=32, channels=1, num_filters=16), (32, 32, 1)),
    ("nonlocal", dict(image_size=32, channels=3, num_filters=32), (32, 32, 3)),
)


def time_per_step(energy_net, shape, batch, steps, jit_compile, repeats=3):
    sampler = sampler_lib.LangevinSampler(energy_net, epsilon=0.01, num_steps=steps, jit_compile=jit_compile)
    x0 = tf.random.uniform((batch,) + shape, -1, 1)
    sampler.run(x0, seed=0).states.numpy()  # Warm-up: tracing and compilation.
    best = float("inf")
    for repeat in range(repeats):
        start = time.perf_counter()
        sampler.run(x0, seed=repeat + 1).states.numpy()
        best = min(best, time.perf_counter() - start)
    return best / steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--toy_steps", type=int, default=500)
    args = parser.parse_args()
    print(f"TensorFlow {tf.__version__}, batch {args.batch}, {args.steps} steps per call "
          f"({args.toy_steps} for the toy net), best of 3")
    for net, kwargs, shape in CASES:
        energy_net = networks.build_network(net, **kwargs)
        label = f"{net} {'x'.join(map(str, shape))} n_f={kwargs.get('num_filters', '-')}"
        for jit_compile in (False, True):
            steps = args.toy_steps if net == "toy" else args.steps
            seconds = time_per_step(energy_net, shape, args.batch, steps, jit_compile)
            mode = "xla  " if jit_compile else "graph"
            print(f"{label:32s} {mode} {1000 * seconds:9.2f} ms/step", flush=True)


if __name__ == "__main__":
    main()
