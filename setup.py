# Metadata lives in pyproject.toml; this shim keeps older tooling (`python setup.py develop`) working.
from setuptools import setup

setup()
