"""The base of every config model: unknown keys are errors, values are frozen, defaults validated."""
from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)
