"""The work-arounds for Textual's Markdown widgets (installed once the Markdown stack is loaded,
so the app's first frame does not wait for it)."""

from __future__ import annotations

from typing import Any

from tui.textual_fixes import Fix, Needs, Undo, replace_attribute, undo_all
from tui.textual_fixes.core import VERIFIED, _release

SHARED_STYLE_CONTEXTS = 512
"""Distinct CSS contexts whose Markdown component styles are kept (a chat uses a few dozen)."""


def _component_styles() -> Undo:
    """Textual issue #6381 (full collections stall scrolling through Markdown): for every
    component class of a widget (``em``, ``strong``, ``s`` and ``code_inline`` on *every*
    Markdown block) the stylesheet builds a throw-away ``DOMNode`` with three ``Styles`` objects,
    matches the whole stylesheet against it, and leaves it in a reference cycle. That is four
    nodes of cyclic garbage per block, a large part of what paging a long thread leaves for the
    collector, and a good part of the time it takes to mount a block.

    A component's styles depend only on the stylesheet's rules and on the CSS path down to the
    block: each node's type and classes, its id where a selector names it, and those of its
    pseudo-classes that a rule able to style these components names. Blocks with the same path
    get the same styles, so they are computed once per path and shared (until the rules change:
    new CSS or another theme). The shared nodes hold their first block only by a weak
    reference, as Textual's own do. Widgets other than Markdown blocks are left to Textual.
    """
    from textual.css.model import SelectorType
    from textual.css.stylesheet import Stylesheet
    from textual.widgets.markdown import MarkdownBlock

    original = Stylesheet.__dict__["_process_component_classes"]

    shared: dict[tuple[object, ...], dict[str, Any]] = {}
    relevant: dict[frozenset[str], tuple[str, ...]] = {}
    rules_seen: list[object] = [None]
    named_ids: set[str] = set()

    def pseudo_classes_that_matter(self: Stylesheet, components: frozenset[str]) -> tuple[str, ...]:
        """The pseudo-classes named anywhere in a rule that can style these components."""
        names = relevant.get(components)
        if names is None:
            rules_map = self.rules_map
            selector_names = {"*", "DOMNode", *(f".{component}" for component in components)}
            used: set[str] = set()
            for name in selector_names & rules_map.keys():
                for rule in rules_map[name]:
                    used.update(rule.pseudo_classes)
            names = relevant[components] = tuple(sorted(used))
        return names

    def process_component_classes(self: Stylesheet, node: Any) -> None:
        if not isinstance(node, MarkdownBlock):
            original(self, node)
            return
        rules = self.rules
        if rules is not rules_seen[0] or len(shared) > SHARED_STYLE_CONTEXTS:
            shared.clear()  # new CSS or theme: every component style is computed again
            relevant.clear()
            rules_seen[0] = rules
            named_ids.clear()
            named_ids.update(
                selector.name
                for rule in rules
                for selector_set in rule.selector_set
                for selector in selector_set.selectors
                if selector.type == SelectorType.ID
            )
        components = node._get_component_classes()
        pseudo = pseudo_classes_that_matter(self, components)
        key = (
            id(self),
            components,
            *(
                (
                    type(path_node),
                    path_node.id if path_node.id in named_ids else None,
                    path_node.classes,
                    tuple(path_node.has_pseudo_class(name) for name in pseudo),
                )
                for path_node in node.css_path_nodes
            ),
        )
        styles = shared.get(key)
        if styles is None:
            original(self, node)
            shared[key] = dict(node._component_styles)
            return
        current = node._component_styles
        changed = any(current.get(name) != value for name, value in styles.items())
        current.clear()
        current.update(styles)
        if changed:
            node.refresh()

    process_component_classes.__doc__ = original.__doc__
    return replace_attribute(Stylesheet, "_process_component_classes", process_component_classes)


def _list_items() -> Undo:
    """A Markdown list builds an item block per item and mounts only the item's contents (in
    widgets of its own), so the items, never mounted, never removed, keep their cycles, and
    with them the blocks inside them once those are removed. They are released as soon as
    their list has composed.
    """
    from textual.widgets._markdown import MarkdownBulletList, MarkdownListItem, MarkdownOrderedList
    from textual.widgets.markdown import MarkdownBlock

    def releasing_items(compose: Any) -> Any:
        def compose_then_release_items(self: MarkdownBlock) -> Any:
            items = [block for block in self._blocks if isinstance(block, MarkdownListItem)]
            yield from compose(self)
            for item in items:  # their contents are in the list's own widgets now
                item._blocks.clear()  # (to be mounted: they are not the item's to release)
                _release(item)

        compose_then_release_items.__doc__ = compose.__doc__
        return compose_then_release_items

    return undo_all(
        *(
            replace_attribute(cls, "compose", releasing_items(cls.__dict__["compose"]))
            for cls in (MarkdownBulletList, MarkdownOrderedList)
        )
    )


def _table_tooltips() -> Undo:
    """A Markdown table gives each cell its text as a tooltip, as a ``str``, which the tooltip
    reads as markup: a model's table with ``x [/b] y`` in a cell raises ``MarkupError`` when the
    pointer rests on it (the app stops), and ``[@click=app.quit]`` would be obeyed. The text is
    given as ``Content`` instead, which is shown as it is."""
    from textual.content import Content
    from textual.widgets._markdown import MarkdownTableCellContents

    original = MarkdownTableCellContents.with_tooltip

    def with_tooltip(self: MarkdownTableCellContents, tooltip: Any) -> Any:
        return original(self, Content(tooltip) if isinstance(tooltip, str) else tooltip)

    with_tooltip.__doc__ = original.__doc__
    return replace_attribute(MarkdownTableCellContents, "with_tooltip", with_tooltip)


FIXES = (
    Fix(
        name="markdown-shared-styles",
        group="markdown",
        summary="blocks on the same CSS path share their component styles (no throw-away nodes)",
        upstream="Textual #6381",
        verified=VERIFIED,
        needs=(
            Needs(
                "textual.css.stylesheet:Stylesheet._process_component_classes",
                params=("self", "node"),
            ),
            Needs("textual.css.stylesheet:Stylesheet.rules_map"),
            Needs("textual.css.stylesheet:Stylesheet", sets=("rules",)),
            Needs("textual.dom:DOMNode._get_component_classes"),
            Needs("textual.dom:DOMNode.css_path_nodes"),
            Needs("textual.dom:DOMNode", sets=("_component_styles",)),
            Needs("textual.css.model:SelectorType.ID"),
        ),
        apply=_component_styles,
    ),
    Fix(
        name="markdown-list-items",
        group="markdown",
        summary="a list's item blocks, built and never mounted, are released once it composes",
        upstream="not filed: MarkdownList composes its items' contents, never the items",
        verified=VERIFIED,
        needs=(
            Needs("textual.widgets._markdown:MarkdownBulletList.compose", params=("self",)),
            Needs("textual.widgets._markdown:MarkdownOrderedList.compose", params=("self",)),
            Needs("textual.widgets._markdown:MarkdownListItem"),
            Needs("textual.widgets._markdown:MarkdownBlock", sets=("_blocks",)),
        ),
        apply=_list_items,
    ),
    Fix(
        name="table-tooltips-as-text",
        group="markdown",
        summary="a table cell's tooltip is its text, never markup (a model's table can't act)",
        upstream="not filed: MarkdownTable passes cell text to with_tooltip as markup",
        verified=VERIFIED,
        needs=(
            Needs(
                "textual.widgets._markdown:MarkdownTableCellContents.with_tooltip",
                params=("self", "tooltip"),
            ),
            Needs("textual.content:Content"),
        ),
        apply=_table_tooltips,
        protects=True,
    ),
)
