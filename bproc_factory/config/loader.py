"""Load a scenario YAML (``safe_load``), apply ``--set`` overrides, validate, and explain errors.

Every error names the file and the key path, e.g. ``demo.yaml: objects[1].count: must be >= 0``.
"""
from __future__ import annotations

import copy
import difflib
import hashlib
import json
import re
import reprlib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from bproc_factory.config.camera import CameraProfile
from bproc_factory.config.distributions import KINDS
from bproc_factory.config.scenario import LightingPreset, Scenario
from bproc_factory.config.sensor import SensorProfile
from bproc_factory.errors import FactoryError

PROFILE_SECTIONS = {"camera": CameraProfile, "sensor": SensorProfile}
# keys of which a profile may give one and the scenario the other: the scenario's replaces the profile's
# what only a profile may say of its camera (its lens); a resolution beside it scales its K (the same
# lens on a smaller or larger image), and dof, motion blur and poses may be set beside it
_PROFILE_ONLY = {"camera": ("K", "focal_length_mm", "sensor_width_mm", "distortion")}


class ConfigError(FactoryError, ValueError):
    """A config could not be read or validated; the message is meant for the user as it is."""


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario together with where it came from."""

    scenario: Scenario
    path: Path
    sha256: str
    overrides: tuple[str, ...] = ()  # the --set items applied, so a worker child can be given them

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def resolve(self, relative: str) -> Path:
        """An absolute path for a path written in the config (relative to the config file)."""
        return (self.base_dir / relative).resolve()


def load_scenario(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> LoadedScenario:
    """Read, override and validate the scenario at ``path``; raise ``ConfigError`` on any problem."""
    path = Path(path).resolve()
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys, got {type(raw).__name__}")
    for item in overrides:
        apply_override(raw, item)
    for section, model in PROFILE_SECTIONS.items():
        _merge_profile(raw, section, model, path)
    _merge_lighting(raw, path)
    scenario = validate(Scenario, raw, path, context={"base_dir": path.parent})
    return LoadedScenario(scenario=scenario, path=path, sha256=config_sha256(scenario), overrides=tuple(overrides))


def as_loaded(config: str | Path | LoadedScenario, overrides: list[str] | tuple[str, ...] = ()) -> LoadedScenario:
    """``config`` itself when it is already loaded (loaded once per process), else loaded now."""
    if isinstance(config, LoadedScenario):
        if overrides:
            raise ValueError("give overrides to load_scenario, not with an already loaded scenario")
        return config
    return load_scenario(config, overrides)


def _merge_profile(raw: dict[str, Any], section: str, model: type[BaseModel], path: Path) -> None:
    """Replace ``section.profile`` by the profile file's values, with the keys given inline laid
    over them (deep: ``dof: {f_stop: 2}`` keeps the profile's focus); a camera profile's lens
    (_PROFILE_ONLY) cannot be overridden inline, only nulled, and an inline resolution scales it."""
    inline = raw.get(section)
    if not isinstance(inline, dict) or not inline.get("profile"):
        return
    ref = inline["profile"]
    if not isinstance(ref, str):
        raise ConfigError(f"{path}: {section}.profile: expected a file path, got {_short(ref)}")
    mixed = [key for key in _PROFILE_ONLY.get(section, ()) if inline.get(key) is not None]
    if mixed:
        raise ConfigError(f"{path}: {section}: the profile '{ref}' is a whole lens, and {', '.join(mixed)} "
                          "given beside it would make a camera that exists nowhere; remove the inline "
                          f"{'key (or set it' if len(mixed) == 1 else 'keys (or set them'} to null), or drop the "
                          "profile")
    profile_path = (path.parent / ref).resolve()
    if not profile_path.is_file():
        raise ConfigError(f"{path}: {section}.profile: file '{ref}' not found (looked for {profile_path})")
    data = read_yaml(profile_path)
    validate(model, data, profile_path)  # errors name the profile file and its keys
    if section == "camera" and inline.get("resolution") is not None:
        _scale_intrinsics(data, inline["resolution"])
    kept = {k: v for k, v in inline.items() if not (v is None and k in _PROFILE_ONLY.get(section, ()))}
    raw[section] = deep_merge(data, kept)


WORLD_KINDS = {"color", "sky", "hdri"}  # the kinds of world light; a world has one


def _merge_lighting(raw: dict[str, Any], path: Path) -> None:
    """Put a lighting preset's lights before the scenario's, and lay the scenario's world over the
    preset's (a scenario that names its own kind of world, colour, sky or HDRI, replaces the preset's)."""
    ref = raw.get("lighting")
    if not ref:
        return
    preset_path = (path.parent / str(ref)).resolve()
    if not preset_path.is_file():
        raise ConfigError(f"{path}: lighting: file '{ref}' not found (looked for {preset_path})")
    data = read_yaml(preset_path)
    validate(LightingPreset, data, preset_path)
    raw["lights"] = list(data.get("lights") or []) + list(raw.get("lights") or [])
    preset, own = dict(data.get("world") or {}), raw.get("world") or {}
    if isinstance(preset.get("hdri"), dict) and "file" in preset["hdri"]:  # relative to the preset, not the scenario
        preset["hdri"] = {**preset["hdri"], "file": str((preset_path.parent / preset["hdri"]["file"]).resolve())}
    if WORLD_KINDS & own.keys():  # the scenario's own kind of world replaces the preset's
        dropped = WORLD_KINDS | ({"strength"} if own.keys() & {"sky", "hdri"} else set())
        preset = {k: v for k, v in preset.items() if k not in dropped}
    if preset or own:
        raw["world"] = deep_merge(preset, own)


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` laid over ``base``: mappings merge key by key, anything else replaces."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and not _is_distribution(value):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _is_distribution(value: dict[str, Any]) -> bool:
    return any(kind in value for kind in KINDS)


MAX_YAML_NODES = 100_000  # values a config may hold once its aliases (*name) are expanded


def read_yaml(path: Path) -> Any:
    """``yaml.safe_load`` a file, with the file and line in any error; a file that is not UTF-8, or
    whose aliases expand past MAX_YAML_NODES values (a "billion laughs"), is refused."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start} is 0x{exc.object[exc.start]:02x}); "
                          "save the config as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_yaml(text, str(path))


def parse_yaml(text: str, source: str) -> Any:
    """``yaml.safe_load`` of ``text`` with bounded alias expansion; errors name ``source``."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}) > MAX_YAML_NODES:
            raise ConfigError(f"{source}: its aliases (*name) expand to more than {MAX_YAML_NODES} values; "
                              "write the values out or use fewer nested aliases")
        twice = _duplicate_key(node, "", set())
        if twice:
            raise ConfigError(f"{source}: {twice}")
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}:{where}: invalid YAML: {problem}") from None
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply to read (thousands of levels of lists or mappings); "
                          "a config needs a handful") from None
    finally:
        loader.dispose()


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many values ``node`` holds with every alias written out (shared nodes counted at each
    use, each computed once); recursive aliases are refused by the composer before this."""
    if id(node) in sizes:
        return sizes[id(node)]
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(child, sizes) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    sizes[id(node)] = min(size, MAX_YAML_NODES + 1)
    return sizes[id(node)]


def _duplicate_key(node: yaml.Node, where: str, seen: set[int]) -> str | None:
    """The first key written twice in one mapping (YAML itself keeps the last silently), with its
    key path and lines; None if there is none."""
    if id(node) in seen:
        return None
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        lines: dict[str, int] = {}
        for key, value in node.value:
            named = isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge"
            path = f"{where}.{key.value}" if where and named else (key.value if named else where)
            if named and key.value in lines:
                return (f"line {key.start_mark.line + 1}: key '{path}' is given twice (first on line "
                        f"{lines[key.value]}); YAML would silently keep only the last, so remove one")
            if named:
                lines[key.value] = key.start_mark.line + 1
            found = _duplicate_key(value, path, seen)
            if found:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for i, child in enumerate(node.value):
            found = _duplicate_key(child, f"{where}[{i}]", seen)
            if found:
                return found
    return None


def validate(model: type[BaseModel], raw: Any, path: Path, context: dict | None = None) -> Any:
    """Validate ``raw`` against ``model``; on failure raise one ``ConfigError`` listing every problem."""
    try:
        return model.model_validate(raw, context=context)
    except ValidationError as exc:
        lines = [f"{format_loc(e['loc'])}: {_message(model, e)}" for e in exc.errors()]
        unique = list(dict.fromkeys(lines))
        raise ConfigError(f"{path}: " + unique[0] if len(unique) == 1
                          else f"{path}: {len(unique)} problems:\n  " + "\n  ".join(unique)) from None


def config_sha256(scenario: Scenario) -> str:
    """SHA-256 of the validated config's canonical JSON: the run's identity."""
    canonical = json.dumps(scenario.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


_TAGS = set(KINDS)  # pydantic names union members by these tags in error locations


def format_loc(loc: tuple[Any, ...]) -> str:
    """``('objects', 1, 'count')`` -> ``objects[1].count``, dropping pydantic's union tags."""
    out = ""
    for i, part in enumerate(loc):
        is_tag = part in _TAGS and (i + 1 == len(loc) or loc[i + 1] == part)
        if is_tag:
            continue
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out or "(top level)"


def _message(model: type[BaseModel], error: dict[str, Any]) -> str:
    kind, ctx = error["type"], error.get("ctx", {})
    if kind == "extra_forbidden":
        allowed = _fields_at(model, error["loc"][:-1])
        key = str(error["loc"][-1])
        hint = ""
        if allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (allowed: {', '.join(allowed)})"
        return f"unknown key{hint}"
    if kind == "missing":
        return "required key is missing"
    if kind in {"greater_than_equal", "greater_than", "less_than_equal", "less_than"}:
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
        bound = next(iter(ctx.values()))
        return f"must be {op} {bound} (got {_short(error.get('input'))})"
    if kind == "value_error":
        return re.sub(r"^Value error, ", "", error["msg"])
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')} (got {_short(error.get('input'))})"
    return f"{error['msg'][0].lower()}{error['msg'][1:]} (got {_short(error.get('input'))})"


_PREVIEW = reprlib.Repr()  # Python 3.11 takes no keywords here
_PREVIEW.maxlevel, _PREVIEW.maxdict, _PREVIEW.maxlist, _PREVIEW.maxtuple = 3, 4, 4, 4
_PREVIEW.maxstring = _PREVIEW.maxother = 40


def _short(value: Any) -> str:
    """A preview of a value for an error message, built without walking all of it (a value
    shared through YAML aliases can be astronomically large written out)."""
    text = _PREVIEW.repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the model reached by following ``loc`` from ``model`` (best effort)."""
    current: Any = model
    for part in loc:
        current = _unwrap(current, part)
        if current is None:
            return []
    current = _unwrap_model(current)
    return sorted(current.model_fields) if current is not None else []


def _unwrap_model(tp: Any) -> type[BaseModel] | None:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    for arg in typing.get_args(tp):
        found = _unwrap_model(arg)
        if found is not None:
            return found
    return None


def _unwrap(tp: Any, part: Any) -> Any:
    model = _unwrap_model(tp) if not isinstance(part, int) else None
    if isinstance(part, str):
        if model is None or part not in model.model_fields:
            return tp if part in _TAGS else None
        return model.model_fields[part].annotation
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (list, tuple) and args:
        return args[0]
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        for arg in args:
            inner = _unwrap(arg, part)
            if inner is not None:
                return inner
    return None


_INDEX = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _scale_intrinsics(camera: dict[str, Any], resolution: Any) -> None:
    """An inline K follows a new ``camera.resolution`` (the same lens on a smaller or larger image:
    focal lengths and principal point scaled with the pixels); left alone when either is not a
    well-formed value (validation names it then)."""
    old, K = camera.get("resolution"), camera.get("K")
    numbers = (int, float)
    if not (isinstance(K, dict) and all(isinstance(K.get(k), numbers) for k in ("fx", "fy", "cx", "cy"))
            and isinstance(old, list) and isinstance(resolution, list) and len(old) == len(resolution) == 2
            and all(isinstance(v, numbers) and v > 0 for v in old + resolution)):
        return
    sx, sy = resolution[0] / old[0], resolution[1] / old[1]
    camera["K"] = {**K, "fx": K["fx"] * sx, "fy": K["fy"] * sy,
                   "cx": (K["cx"] + 0.5) * sx - 0.5, "cy": (K["cy"] + 0.5) * sy - 0.5}


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Apply one ``key.path=value`` override in place (value parsed as YAML)."""
    key, sep, text = item.partition("=")
    parts: list[str | int] = [int(i) if i else name for name, i in _INDEX.findall(key.strip())]
    if not sep or not parts:
        raise ConfigError(f"--set {item}: expected key.path=value")
    value = parse_yaml(text, f"--set {_short(item)}")
    node: Any = raw
    for depth, part in enumerate(parts):
        where = format_loc(tuple(parts[:depth]))
        if isinstance(part, int):
            if not isinstance(node, list):
                raise ConfigError(f"--set {item}: {where} is not a list")
            if part >= len(node):
                raise ConfigError(f"--set {item}: {format_loc(tuple(parts[:depth + 1]))} is out of "
                                  f"range (the list has {len(node)} entries)")
        elif not isinstance(node, dict):
            raise ConfigError(f"--set {item}: {where} is a {type(node).__name__}, not a mapping")
        if depth == len(parts) - 1:
            if parts == ["camera", "resolution"]:
                _scale_intrinsics(node, value)
            node[part] = copy.deepcopy(value)
        else:
            if isinstance(part, str) and node.get(part) is None:
                node[part] = {}
            node = node[part]
