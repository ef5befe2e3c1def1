"""Seeds come from (run seed, key path) only."""
from bproc_factory.config.seeding import rng_for, seed_int

SEED_7_IMAGE_2 = 1922647682
FIRST_DRAW = 0.791593268746


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


def test_the_seeding_scheme_is_pinned():
    # Changing these values re-rolls every existing dataset: do it only on purpose.
    assert seed_int(7, "image", 2) == SEED_7_IMAGE_2
    assert round(float(rng_for(SEED_7_IMAGE_2, "camera").random()), 12) == FIRST_DRAW
