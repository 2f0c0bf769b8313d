"""HTML bodies as text (``plugin_kit.html_to_text`` over ``html_text``): the layout the plugins and core rely on,
and the parser-free path for plain bodies giving exactly what the parser gives."""

from __future__ import annotations

from html.entities import name2codepoint

from hypothesis import given, settings
from hypothesis import strategies as st

from helpdesk_retain.html_text import plain_blocks, render, render_parsed
from helpdesk_retain.plugin_kit import html_to_text


def test_blocks_become_lines_and_paragraphs_stand_apart_by_one_blank_line():
    assert html_to_text("<div>Hi,</div><div>we were <b>charged twice</b>.</div>") == "Hi,\nwe were charged twice."
    assert html_to_text("<p>One</p><p>Two</p>\n\n<h1>Three</h1>") == "One\n\nTwo\n\nThree"


def test_a_line_break_breaks_a_line_and_several_leave_at_most_one_blank_line():
    assert html_to_text("x<br>y") == "x\ny"
    assert html_to_text("x<br><br><br><br>y") == "x\n\ny"


def test_entities_are_decoded_once():
    assert html_to_text("<p>a &amp; b &ndash; c&nbsp;d &#39;e&#x27;</p>") == "a & b – c d 'e'"
    assert html_to_text("<div>&amp;lt;b&amp;gt; is bold</div>") == "&lt;b&gt; is bold"


def test_the_head_scripts_styles_and_hidden_elements_are_dropped():
    html = '<head><title>T</title></head><script>var x;</script><style>p{}</style>a<span style="display:none">b</span>'
    assert html_to_text(html) == "a"


def test_with_links_each_link_url_follows_its_text():
    html = 'see <a href="https://github.com/acme/app/issues/123">the bug</a> and <a>this</a>'
    assert html_to_text(html, links=True) == "see [the bug](https://github.com/acme/app/issues/123) and this"
    assert html_to_text(html) == "see the bug and this"


def test_list_items_start_with_a_bullet_or_their_number():
    assert html_to_text("<ul><li>one</li><li>two<ul><li>inner</li></ul></li></ul>") == "* one\n* two\n+ inner"
    assert html_to_text('<ol><li>a</li><li value="5">b</li><li>c</li></ol>') == "1. a\n5. b\n6. c"


def test_table_cells_are_set_side_by_side_in_columns():
    html = "<p>before</p><table><tr><td>a</td><td>b</td></tr><tr><td>ccc</td><td>d</td></tr></table>after"
    assert html_to_text(html) == "before\n\na    b\nccc  d\n\nafter"


def test_preformatted_text_keeps_its_lines():
    assert html_to_text("<pre>line one\nline two</pre><p>a\nb</p>") == "line one\nline two\n\na b"


def test_text_without_markup_only_has_its_whitespace_collapsed():
    assert html_to_text("  The export\n\tfails  ") == "The export fails"
    assert html_to_text(None) == html_to_text("") == html_to_text("<!-- only a comment -->") == ""


def test_plain_blocks_are_laid_out_without_the_parser():
    html = "<div>Hi&nbsp;Ada,<br/>the refund is &lt;done&gt;.</div>\n<p>Sam</p>"
    assert plain_blocks(html) == render_parsed(html)
    assert html_to_text(html) == "Hi Ada,\nthe refund is <done>.\n\nSam"


def test_every_html4_entity_decodes_as_the_parser_decodes_it():
    for name in name2codepoint:
        html = f"<p>a&{name};b</p>"
        assert render(html) == render_parsed(html), name


def test_entities_whose_decoding_depends_on_the_libxml2_version_are_left_to_the_parser():
    for entity in ("&#128;", "&#x9F;", "&#0;", "&#xD800;", "&#xFFFE;", "&#1114112;", "&check;", "&AMP;", "&lang;"):
        html = f"<div>a{entity}b</div>"
        assert plain_blocks(html) is None, entity
        assert render(html) == render_parsed(html)


#: what plain bodies are made of (most pieces), and a few things that make a body not plain
_PLAIN_PIECES = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"), exclude_characters="<>&"), max_size=6),
    st.sampled_from(["<br>", "<br/>", "<br />", "&amp;", "&nbsp;", "&#39;", "&#x1F600;", " ", "\n", "\t", "\u3000"]),
)
_PIECES = st.one_of(
    _PLAIN_PIECES,
    _PLAIN_PIECES,
    _PLAIN_PIECES,
    st.sampled_from(["<b>", "</b>", "<div>", "<p>", "<", ">", "&", "&#150;", "&foo;", "&amp", "\x0b", "\x7f"]),
)
_BLOCKS = st.lists(
    st.tuples(st.sampled_from(["div", "p"]), st.lists(_PIECES, max_size=5), st.sampled_from(["", " ", "\n"])),
    min_size=1,
    max_size=4,
)


@settings(max_examples=300, deadline=None)
@given(blocks=_BLOCKS)
def test_a_plain_body_comes_out_as_the_parser_lays_it_out(blocks: list[tuple[str, list[str], str]]):
    html = "".join(f"{gap}<{tag}>{''.join(pieces)}</{tag}>" for tag, pieces, gap in blocks)
    assert render(html, links=True) == render_parsed(html, links=True)
