"""Reader for law.go.kr lawService.do XML (법령 본문 조회), e.g. legalize-kr's .cache/detail/<MST>.xml.

The element tree is turned into the JSON payload shape (element → dict, repeated children →
list, leaf → its text with CDATA sections joined, attributes beside 'content') and read by the
JSON reader, so the two formats cannot disagree about structure.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from ..errors import ParseError, UnsupportedFormat
from .lawjson import raw_law_from_payload
from .structure import RawLaw


def parse_lawxml(path: Path, data: bytes) -> RawLaw:
    """Read one lawService.do XML file into the shared intermediate.

    The XML carries no 법령일련번호 (MST); legalize-kr names the file after it, so a numeric
    file name is taken as the MST.
    """
    try:
        root = SafeET.fromstring(data)
    except ET.ParseError as exc:
        raise ParseError(f"{path}: malformed XML ({exc}); download it again from lawService.do") from exc
    except DefusedXmlException as exc:  # a billion laughs, external entities: never expanded
        raise ParseError(
            f"{path}: the XML declares entities or a DTD ({type(exc).__name__}), which law.go.kr files "
            "never do; it was not read. Download the law again from lawService.do"
        ) from exc
    if root.tag != "법령":
        raise UnsupportedFormat(
            f"{path}: root element <{root.tag}> is not <법령>: a search or history list, not one law; "
            "fetch each law's text with lawService.do (법령 본문 조회) and ingest that file"
        )
    mst = path.stem if path.stem.isdigit() else None
    return raw_law_from_payload(path, {"법령": _to_payload(root)}, "lawxml", mst=mst)


def _to_payload(element: ET.Element) -> Any:
    children = list(element)
    if not children:
        text = element.text or ""
        return {"content": text, **element.attrib} if element.attrib else text
    payload: dict[str, Any] = dict(element.attrib)
    repeated: set[str] = set()
    for child in children:
        value = _to_payload(child)
        if child.tag in repeated:
            payload[child.tag].append(value)
        elif child.tag in payload:
            payload[child.tag] = [payload[child.tag], value]
            repeated.add(child.tag)
        else:
            payload[child.tag] = value
    return payload
