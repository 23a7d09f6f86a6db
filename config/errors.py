"""`ConfigError`: bad user input as data (setting, value, reason, rule, hint), rendered in one place.

Every check in config/ (and the stacks' few synth-time checks) raises a `ConfigError` that says
*which* setting, *what* value and *which* rule; `ConfigError.message` turns that into the one line
users see. Code that needs another wording (the setting as the user spelled it, or the reason
inside another rule's message) changes the fields (`relabel`) or reads them (`detail`); nothing
parses a message back.
"""

from __future__ import annotations

from typing import Any

_NO_VALUE: Any = object()
"""Marks an error about a setting as a whole (no single bad value to quote)."""


class ConfigError(ValueError):
    """Bad user input, reported before any construct is built as one line naming value and rule.

    Fields (all text except `value`):
      `setting`: the setting as the user typed it (`HEBO_STAGE`, `cdktf context key 'stage'
        (HEBO_STAGE)`, `--stage`) or, inside config/, the plain name (`stage`, `app`) that
        `Settings` relabels;
      `value`: the bad value (any type; quoted with `repr`), absent for a setting as a whole;
      `reason`: what is wrong with this value (may be empty);
      `rule`: what is allowed, usually "must be …";
      `hint`: what to do instead (may be empty);
      `problem`: the first word, `invalid` or `unknown`.
    The message is `{problem} {setting} {value!r}: {reason}; {rule}; {hint}` (empty parts left out).
    """

    def __init__(
        self,
        setting: str,
        value: Any = _NO_VALUE,
        *,
        reason: str = "",
        rule: str = "",
        hint: str = "",
        problem: str = "invalid",
    ) -> None:
        self.setting = setting
        self.value = value
        self.reason = reason
        self.rule = rule
        self.hint = hint
        self.problem = problem
        super().__init__(self.message)

    @property
    def has_value(self) -> bool:
        """False for an error about a setting as a whole (then the message quotes no value)."""
        return self.value is not _NO_VALUE

    @property
    def detail(self) -> str:
        """The message after `{problem} {setting} {value!r}: `: reason, rule and hint."""
        return "; ".join(part for part in (self.reason, self.rule, self.hint) if part)

    @property
    def message(self) -> str:
        """The one line users see (the only place a ConfigError is rendered)."""
        head = f"{self.problem} {self.setting} {self.value!r}" if self.has_value else f"{self.problem} {self.setting}"
        return f"{head}: {self.detail}"

    def __str__(self) -> str:
        return self.message

    def relabel(self, setting: str) -> ConfigError:
        """The same error naming the setting as the user spelled it (`HEBO_STAGE`, `--stage`)."""
        return ConfigError(
            setting,
            self.value,
            reason=self.reason,
            rule=self.rule,
            hint=self.hint,
            problem=self.problem,
        )
