"""The base of every config model: unknown keys are errors, values are frozen, defaults validated,
numbers finite and of a sane size (a NaN passed every bound check and reached Blender, which crashed;
a distance of 2**63 m was accepted)."""
from pydantic import BaseModel, ConfigDict, model_validator

MAX_MAGNITUDE = 1e9  # no setting in metres, pixels, degrees, kelvin or watts is sensibly larger


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)

    @model_validator(mode="after")
    def _sane_magnitudes(self):
        for name, value in self.__dict__.items():
            numbers = value if isinstance(value, (tuple, list)) else (value,)
            if any(isinstance(v, float) and abs(v) > MAX_MAGNITUDE for v in numbers):
                raise ValueError(f"{name}: {value!r:.40} is out of range (at most {MAX_MAGNITUDE:g} in size)")
        return self
