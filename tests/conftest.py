"""Shared pytest setup: makes tests/ importable, so test modules can ``import helpers`` and
``import corpus`` whatever pytest's import mode."""
import os
import sys

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)
