"""Measure the throughput of `tf_ebm.data.make_dataset`.

Run:

    python benchmarks/data_pipeline.py [--batch_size 100] [--num_batches 500]

It times the pipeline alone, with no model, on the toy densities and on the
Fashion-MNIST IDX files (resized to 32x32, gray and RGB). The setup time
covers reading, decoding and resizing the whole dataset once. The throughput
covers `num_batches` batches after one warm-up batch, which fills the shuffle
buffer.
"""

import argparse
import os
import time

import ml_collections

from tf_ebm.data import pipeline

DEFAULT_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"


def data_config(**overrides):
    config = ml_collections.ConfigDict(
        dict(
            dataset="rings",
            path="",
            data_dir="",
            split="train",
            image_size=32,
            channels=1,
            num_examples=10000,
            shuffle_buffer=10000,
        )
    )
    config.update(overrides)
    return config


def measure(config, batch_size, num_batches):
    """Return (setup seconds, examples per second, milliseconds per batch)."""
    start = time.perf_counter()
    info = pipeline.make_dataset(config, batch_size=batch_size, seed=0)
    iterator = iter(info.dataset)
    next(iterator)
    setup_seconds = time.perf_counter() - start

    start = time.perf_counter()
    for _ in range(num_batches):
        next(iterator)
    elapsed = time.perf_counter() - start
    return setup_seconds, num_batches * batch_size / elapsed, 1000.0 * elapsed / num_batches


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch_size", type=int, default=100, help="examples per batch")
    parser.add_argument("--num_batches", type=int, default=500, help="batches timed per case")
    parser.add_argument(
        "--fashion_mnist_dir",
        default=DEFAULT_FASHION_MNIST_DIR,
        help="folder with the Fashion-MNIST IDX files (Debian package dataset-fashion-mnist)",
    )
    args = parser.parse_args()

    cases = [
        ("rings, 10000 points", data_config(dataset="rings")),
        ("gaussian_mixture, 10000 points", data_config(dataset="gaussian_mixture")),
    ]
    if os.path.isdir(args.fashion_mnist_dir):
        for channels in (1, 3):
            config = data_config(
                dataset="idx", path=args.fashion_mnist_dir, channels=channels, num_examples=0
            )
            cases.append((f"fashion_mnist idx 32x32x{channels}, 60000 images", config))
    else:
        print(f"Skipping Fashion-MNIST: {args.fashion_mnist_dir} not found.")

    print(f"batch_size={args.batch_size}, num_batches={args.num_batches}, cpus={os.cpu_count()}")
    print(f"{'source':<40} {'setup s':>8} {'examples/s':>12} {'ms/batch':>9}")
    for name, config in cases:
        setup_seconds, examples_per_second, ms_per_batch = measure(
            config, args.batch_size, args.num_batches
        )
        print(f"{name:<40} {setup_seconds:>8.2f} {examples_per_second:>12,.0f} {ms_per_batch:>9.3f}")


if __name__ == "__main__":
    main()
