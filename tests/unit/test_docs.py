"""The README's generated tables match the code (stage policy, configuration reference)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # also runnable as a script

from config.settings import settings_reference
from config.stage import policy_table

REPO_ROOT = Path(__file__).resolve().parents[2]


def render_policy_table() -> str:
    table = policy_table()
    rows = ["| Setting | production | preview (`pr-123`, …) | dev |", "|---|---|---|---|"]
    for key in table["production"]:
        cells = [table[kind][key] for kind in ("production", "preview", "dev")]
        rows.append(f"| `{key}` | " + " | ".join(f"`{c}`" for c in cells) + " |")
    return "\n".join(rows)


def generated_block(text: str, name: str) -> str:
    match = re.search(rf"<!-- {name}:start -->\n(.*?)\n<!-- {name}:end -->", text, re.S)
    assert match, f"README.md lacks the <!-- {name}:start/end --> markers"
    return match.group(1)


def test_readme_stage_policy_table_is_current() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    assert generated_block(readme, "stage-policy") == render_policy_table(), (
        "README stage policy table is stale: regenerate with `pipenv run python tests/unit/test_docs.py`"
    )


def test_readme_settings_reference_is_current() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    assert generated_block(readme, "settings") == settings_reference(), (
        "README configuration reference is stale: regenerate with `pipenv run python tests/unit/test_docs.py`"
    )


def regenerate() -> None:
    path = REPO_ROOT / "README.md"
    text = path.read_text()
    for name, body in (("stage-policy", render_policy_table()), ("settings", settings_reference())):
        text = re.sub(
            rf"(<!-- {name}:start -->\n).*?(\n<!-- {name}:end -->)",
            lambda m, body=body: m.group(1) + body + m.group(2),
            text,
            flags=re.S,
        )
    path.write_text(text)


if __name__ == "__main__":
    regenerate()
