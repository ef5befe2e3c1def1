"""Scenario configs: models, value distributions and the YAML loader."""
from bproc_factory.config.loader import ConfigError, LoadedScenario, load_scenario
from bproc_factory.config.scenario import Scenario

__all__ = ["ConfigError", "LoadedScenario", "Scenario", "load_scenario"]
