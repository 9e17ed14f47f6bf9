"""The registry of Textual work-arounds: each one declared, checked before it patches, reported
when it steps aside, and reversible. (What each fix changes is proven in test_runtime_tuning.)"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.strip import Strip

from tests.support.textual_fixes import all_fixes, fixes_set
from tui import textual_fixes
from tui.textual_fixes import Needs, State

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, **env: str) -> str:
    skip = ("PYTHONPATH", textual_fixes.DISABLE_ENV)
    environment = {key: value for key, value in os.environ.items() if key not in skip}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env=environment,
    ).stdout


def test_every_fix_is_declared_with_its_upstream_issue_versions_and_needs() -> None:
    fixes = textual_fixes.fixes()
    assert len(fixes) == len({fix.name for fix in fixes}) == 10
    for fix in fixes:
        assert fix.summary and fix.upstream and fix.verified and fix.needs, fix.name
    assert {fix.upstream for fix in fixes} >= {"Textual #6665", "Textual #6381"}


def test_every_fix_meets_its_needs_on_the_textual_this_runs() -> None:
    with all_fixes(on=False):  # checked against Textual's own code
        found = {fix.name: textual_fixes.check(fix) for fix in textual_fixes.fixes()}
    assert found == {fix.name: None for fix in textual_fixes.fixes()}


def test_every_private_name_the_widgets_use_is_there_and_says_why() -> None:
    from tui.textual_fixes.private import PRIVATE_USES, missing

    assert missing() == []
    for use in PRIVATE_USES:
        assert (ROOT / "tui" / use.where).is_file(), use.where
        assert use.why and "\n" not in use.why


def test_the_app_installs_every_fix_and_importing_a_widget_installs_none() -> None:
    probe = (
        "import sys\n"
        "from textual.strip import Strip\n"
        "from textual.app import App\n"
        "divide, end_batch = Strip.divide, App._end_batch\n"
        "import tui.widgets.message_view, tui.widgets.streaming_markdown\n"
        "import tui.screens.conversation, tui.screens.conversations\n"
        "from tui import textual_fixes\n"
        "names = [fix.name for fix in textual_fixes.fixes()]\n"
        "imported = [name for name in names if textual_fixes.installed(name)]\n"
        "assert Strip.divide is divide and App._end_batch is end_batch, 'patched on import'\n"
        "from tui.app import TuiApp\n"
        "app = TuiApp(lambda: None)\n"
        "textual_fixes.install('markdown')  # as the app does once the Markdown stack is loaded\n"
        "installed = [name for name in names if textual_fixes.installed(name)]\n"
        "print(len(imported), len(installed), Strip.divide is divide)\n"
    )
    assert run_python(probe).split() == ["0", "10", "False"]
    disabled = run_python(probe, TUI_CHAT_NO_TEXTUAL_FIXES="1").split()
    # Textual's own methods, but for the two fixes that keep untrusted text from acting.
    assert disabled == ["0", "2", "True"]
    assert {fix.name for fix in textual_fixes.fixes() if fix.protects} == {
        "paste-as-text",
        "table-tooltips-as-text",
    }


def test_version_verbose_reports_each_fix_and_the_switch() -> None:
    out = run_python("from tui.cli import main; raise SystemExit(main(['--version', '--verbose']))")
    lines = out.splitlines()
    assert lines[0].startswith("tui-chat ")
    assert "Textual 8." in lines[1]
    for fix in textual_fixes.fixes():
        assert any(line.split()[:2] == [fix.name, "ready"] for line in lines), fix.name
    assert "(Textual #6665)" in out
    off = run_python(
        "from tui.cli import main; raise SystemExit(main(['--version', '--verbose']))",
        TUI_CHAT_NO_TEXTUAL_FIXES="1",
    )
    assert off.count("disabled: TUI_CHAT_NO_TEXTUAL_FIXES is set") == 8
    assert all(
        any(line.split()[:2] == [fix.name, "ready"] for line in off.splitlines())
        for fix in textual_fixes.fixes()
        if fix.protects
    )
    assert "Private Textual names the widgets use: 17, all present" in out
    plain = run_python("from tui.cli import main; raise SystemExit(main(['--version']))")
    assert plain.strip() == lines[0]


class Probe:
    """A stand-in class with a method, a cached method and attributes, to check needs on."""

    def method(self, first: int, second: int) -> int:
        self.value = first + second
        self.typed: int = second
        return self.value


def test_a_need_names_what_is_missing_in_one_line() -> None:
    here = __name__
    assert Needs(f"{here}:Probe.method", params=("self", "first", "second")).problem() is None
    assert Needs(f"{here}:Probe", sets=("value", "typed")).problem() is None
    problems = [
        Needs(f"{here}:Probe.gone").problem(),
        Needs(f"{here}:Probe.method", params=("self", "first")).problem(),
        Needs(f"{here}:Probe.method", marker="cache_info").problem(),
        Needs(f"{here}:Probe", sets=("never_set",)).problem(),
        Needs("textual.no_such_module:Thing").problem(),
    ]
    assert problems == [
        f"{here}:Probe.gone is not there",
        f"{here}:Probe.method takes (self, first, second), not (self, first)",
        f"{here}:Probe.method is no longer what the fix expects (no cache_info)",
        f"{here}:Probe no longer sets never_set",
        "textual.no_such_module is not there",
    ]


@pytest.fixture
def a_textual_that_changed_strip_divide() -> Iterator[object]:
    """Textual as a later release might have it: ``Strip.divide`` with another signature."""
    with fixes_set("strip-self-cycle", on=False):
        textual_divide = Strip.__dict__["divide"]

        def divide(self: Strip, cuts: object, *, keep: bool = False) -> object:
            return textual_divide(self, cuts)

        Strip.divide = divide  # type: ignore[method-assign,assignment]
        try:
            yield divide
        finally:
            Strip.divide = textual_divide  # type: ignore[method-assign]
            textual_fixes.uninstall(["strip-self-cycle"])  # in case the test failed midway


def test_a_fix_whose_needs_changed_steps_aside_keeps_textual_and_says_so_once(
    a_textual_that_changed_strip_divide: object, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="tui.textual_fixes"):
        first = textual_fixes.install("core", force=True, only={"strip-self-cycle"})
        again = textual_fixes.install("core", force=True, only={"strip-self-cycle"})
    outcome = first["strip-self-cycle"]
    assert outcome.state is State.STEPPED_ASIDE
    assert outcome.reason == (
        "textual.strip:Strip.divide takes (self, cuts, keep), not (self, cuts)"
    )
    assert again["strip-self-cycle"] == outcome
    assert Strip.divide is a_textual_that_changed_strip_divide  # Textual's, untouched
    assert not textual_fixes.installed("strip-self-cycle")
    reported = [r.getMessage() for r in caplog.records if "strip-self-cycle" in r.getMessage()]
    assert reported == [f"Textual work-around strip-self-cycle left out: {outcome.reason}"]
    assert reported[0] in textual_fixes.left_out()
    line = next(line for line in textual_fixes.report() if line.startswith("strip-self-cycle"))
    assert "stepped aside: textual.strip:Strip.divide takes (self, cuts, keep)" in line


def test_uninstall_puts_textual_back_and_install_again_patches_again() -> None:
    with fixes_set("strip-self-cycle", "update-after-batch", on=False):
        from textual.app import App

        textual_divide, textual_end = Strip.__dict__["divide"], App.__dict__["_end_batch"]
        with fixes_set("strip-self-cycle", "update-after-batch", on=True):
            assert Strip.__dict__["divide"] is not textual_divide
            assert App.__dict__["_end_batch"] is not textual_end
            # A second install changes nothing.
            patched = Strip.__dict__["divide"]
            textual_fixes.install("core", force=True, only={"strip-self-cycle"})
            assert Strip.__dict__["divide"] is patched
        assert Strip.__dict__["divide"] is textual_divide
        assert App.__dict__["_end_batch"] is textual_end


def test_a_fix_on_an_inherited_method_is_removed_whole() -> None:
    from textual.widget import Widget
    from textual.widgets._markdown import MarkdownTableCellContents as Cells

    with fixes_set("table-tooltips-as-text", on=False):
        assert "with_tooltip" not in Cells.__dict__  # Textual's: inherited from Widget
        with fixes_set("table-tooltips-as-text", on=True):
            assert Cells.__dict__["with_tooltip"] is not Widget.__dict__["with_tooltip"]
        assert "with_tooltip" not in Cells.__dict__
