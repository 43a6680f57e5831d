"""CloudFormation templates as plain data: load YAML (short-form intrinsics such as !Ref become their long form) or
JSON, and write YAML without aliases (CloudFormation refuses them)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser when PyYAML has it: ~10x faster
    """SafeLoader that reads CloudFormation's short-form intrinsic functions."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict:
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        return {name: value.split(".", 1) if suffix == "GetAtt" else value}
    if isinstance(node, yaml.SequenceNode):
        return {name: loader.construct_sequence(node, deep=True)}
    return {name: loader.construct_mapping(node, deep=True)}


_Loader.add_multi_constructor("!", _intrinsic)


class _Dumper(yaml.SafeDumper):
    """SafeDumper that writes a shared object in full each time (no &anchors / *aliases)."""

    def ignore_aliases(self, data) -> bool:
        return True


def load(path: Path) -> dict:
    """The template at `path` (YAML or JSON) with every intrinsic in its long form ({"Ref": ...}, {"Fn::Sub": ...})."""
    text = path.read_text()
    return json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=_Loader)


def dump(template: dict, path: Path) -> None:
    """Write `template` as YAML that CloudFormation accepts."""
    path.write_text(yaml.dump(template, Dumper=_Dumper, sort_keys=False, width=120, allow_unicode=True))


def intrinsic(value) -> tuple[str, object] | None:
    """(function, argument) when `value` is an intrinsic function call such as {"Ref": "X"}, else None."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, argument),) = value.items()
        if key in ("Ref", "Condition") or key.startswith("Fn::"):
            return key, argument
    return None
