"""``api.build`` pauses Python's cyclic garbage collector while it builds and restores it as
it was: on after a build, a failed build and a build inside a build (a called helper's
derivative), and left off when the user had turned it off."""
import gc

import numpy as np
import pytest

import srcad


def _square_sum(x):
    return np.sum(x * x)


def _not_differentiable(x):
    return {x}


def test_the_collector_is_on_again_after_builds():
    assert gc.isenabled()
    srcad.clear_cache()
    seen = []
    import srcad.api as api
    inner = api._build

    def spy(*args):
        seen.append(gc.isenabled())
        return inner(*args)
    api._build = spy
    try:
        srcad.grad(_square_sum)(np.arange(3.0))
        with pytest.raises(srcad.SrcadError):
            srcad.grad(_not_differentiable)
    finally:
        api._build = inner
    assert seen and not any(seen)          # paused while building
    assert gc.isenabled()


def test_a_collector_the_user_turned_off_stays_off():
    srcad.clear_cache()
    gc.disable()
    try:
        np.testing.assert_allclose(srcad.grad(_square_sum)(np.arange(3.0)), 2 * np.arange(3.0))
        assert not gc.isenabled()
    finally:
        gc.enable()
