"""Setup shim: the package metadata lives in setup.cfg."""

import setuptools

setuptools.setup()
