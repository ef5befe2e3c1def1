"""Seeds come from (run seed, key path) only."""
from bproc_factory.seeding import rng_for, seed_int


def test_same_key_gives_the_same_stream():
    assert rng_for(7, "image", 3, "camera").random(5).tolist() == rng_for(7, "image", 3, "camera").random(5).tolist()


def test_different_images_concerns_and_runs_give_different_streams():
    base = rng_for(7, "image", 3, "camera").random()
    assert base != rng_for(7, "image", 4, "camera").random()
    assert base != rng_for(7, "image", 3, "lights").random()
    assert base != rng_for(8, "image", 3, "camera").random()


def test_seed_int_fits_31_bits_and_is_stable():
    values = {seed_int(1, "scene", s, "cycles") for s in range(100)}
    assert len(values) == 100 and all(0 <= v < 2**31 for v in values)
    assert seed_int(1, "scene", 5, "cycles") == seed_int(1, "scene", 5, "cycles")
