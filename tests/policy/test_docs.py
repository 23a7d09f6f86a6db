"""docs/security.md carries the suppression table exactly as rendered from suppressions.toml."""

from policy.render_docs import DOC, current_block, rendered_block
from policy.suppressions import load_suppressions, render_table


def test_security_doc_has_the_generated_suppression_table() -> None:
    block = current_block(DOC.read_text())
    assert block is not None, f"{DOC} lacks the suppression markers"
    assert block == rendered_block(), "docs/security.md is out of date: run `python tests/policy/render_docs.py`"


def test_every_suppression_row_is_in_the_doc() -> None:
    text = DOC.read_text()
    for suppression in load_suppressions():
        assert f"`{suppression.check}` | {suppression.stack} | `{suppression.resource}`" in text


def test_table_renders_empty_file_explicitly() -> None:
    assert "No suppressions" in render_table([])
