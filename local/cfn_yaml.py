"""CloudFormation's YAML: a safe loader that reads the short tags (!Ref, !Sub, !GetAtt...) into their long form
(`{"Ref": name}`, `{"Fn::Sub": text}`, `{"Fn::GetAtt": [resource, attribute]}`), as CloudFormation does.

The local server's template reader and the template tests' own reader both parse template.yaml with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class CfnLoader(yaml.SafeLoader):
    """A SafeLoader that reads CloudFormation's short tags into their long form."""


def _cfn_tag(loader: CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _cfn_tag)


def load_cfn_yaml(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.load(path.read_text(), Loader=CfnLoader)  # a SafeLoader subclass
    return document
