"""Closing the loop: a model's predictions on a dataset scored with COCO's figures, each instance's
outcome, the sampled values that go with misses, and the config that renders more of them."""
from bproc_factory.facade import facade

__all__, __getattr__, __dir__ = facade(__name__, {
    "evaluation": ["evaluate", "Evaluation"],
    "factors": ["rank_factors", "Factor"],
    "predictions": ["load_predictions", "PredictionError"],
})
