"""Read the HCL literal inside cdktf's `${jsonencode(...)}` back into Python values.

`Fn.jsonencode(...)` synthesizes as `${jsonencode([{"name" = "x", "value" = data.foo.bar}])}`:
HCL object syntax whose values are literals or bare references. The gate needs the structure
(e.g. ECS container environment names), so this small parser handles exactly that subset:
strings (with `${...}` interpolations), numbers, true/false/null, lists, objects with `=` or
`:`, and bare references, which come back as the string `${<reference>}`.
"""

from __future__ import annotations

import json
from typing import Any

_BARE_END = set(",}]) \n\t")


class HclLiteralError(ValueError):
    pass


def parse_jsonencode(expression: str) -> Any:
    """`${jsonencode(<hcl>)}` -> Python value; a plain JSON string is parsed as JSON."""
    text = expression.strip()
    if not (text.startswith("${jsonencode(") and text.endswith(")}")):
        return json.loads(text)
    parser = _Parser(text[len("${jsonencode("):-2])
    value = parser.value()
    parser.skip_ws()
    if parser.pos != len(parser.text):
        raise HclLiteralError(f"trailing text at {parser.pos}: {parser.text[parser.pos:parser.pos + 40]!r}")
    return value


class _Parser:
    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \n\t\r":
            self.pos += 1

    def peek(self) -> str:
        self.skip_ws()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise HclLiteralError(f"expected {char!r} at {self.pos}: {self.text[self.pos:self.pos + 40]!r}")
        self.pos += 1

    def value(self) -> Any:
        char = self.peek()
        if char == "[":
            return self.sequence("[", "]", self.value)
        if char == "{":
            return dict(self.sequence("{", "}", self.member))
        if char == '"':
            return self.string()
        return self.bare()

    def sequence(self, open_: str, close: str, item: Any) -> list[Any]:
        self.expect(open_)
        items = []
        while self.peek() != close:
            items.append(item())
            if self.peek() == ",":
                self.pos += 1
        self.expect(close)
        return items

    def member(self) -> tuple[str, Any]:
        key = self.string() if self.peek() == '"' else str(self.bare())
        if self.peek() not in ("=", ":"):
            raise HclLiteralError(f"expected '=' after key {key!r} at {self.pos}")
        self.pos += 1
        return key, self.value()

    def string(self) -> str:
        self.expect('"')
        out, depth = [], 0
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and depth == 0:
                out.append(json.loads(f'"{self.text[self.pos:self.pos + 2]}"') if self.text[self.pos + 1] != "u"
                           else json.loads(f'"{self.text[self.pos:self.pos + 6]}"'))
                self.pos += 2 if self.text[self.pos + 1] != "u" else 6
                continue
            if self.text.startswith("${", self.pos):
                depth += 1
                out.append("${")
                self.pos += 2
                continue
            if char == "}" and depth:
                depth -= 1
            elif char == '"' and depth == 0:
                self.pos += 1
                return "".join(out)
            out.append(char)
            self.pos += 1
        raise HclLiteralError("unterminated string")

    def bare(self) -> Any:
        start, depth = self.pos, 0
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in "([":
                depth += 1
            elif char in ")]" and depth:
                depth -= 1
            elif depth == 0 and char in _BARE_END:
                break
            self.pos += 1
        token = self.text[start:self.pos]
        if not token:
            raise HclLiteralError(f"empty value at {start}")
        if token in ("true", "false", "null"):
            return json.loads(token)
        try:
            return json.loads(token)  # numbers
        except json.JSONDecodeError:
            return "${" + token + "}"
