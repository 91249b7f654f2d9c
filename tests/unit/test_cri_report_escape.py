"""Untrusted node, cluster and plan text in every output: escaped or stripped."""

from __future__ import annotations

from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.html import (
    render_html,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.markdown import (
    render_markdown,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.model import (
    build_report,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.text import (
    summary_table,
)

from tests.unit.cri_report_fixtures import (
    EVIL,
    GENERATED_AT,
    TagCollector,
    cluster_facts,
    evil_report,
    mixed_fleet,
    planned_report,
)


def test_html_escapes_node_text() -> None:
    page = render_html(evil_report())
    assert "<script>alert" not in page and "<img" not in page and "<script>bad" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "&lt;script&gt;host|1" in page
    assert "/<wbr>run/<wbr>&lt;script&gt;sock()&lt;/<wbr>script&gt;/<wbr>c.sock" in page
    parser = TagCollector()
    parser.feed(page)
    # Only the report's own print helper is a script; nothing injected became a tag.
    assert parser.tags.count("script") == 1
    assert not {"img", "blink", "marquee"} & set(parser.tags)
    assert "&lt;blink&gt;" in page and "&lt;marquee&gt;x" in page
    assert "beforeprint" in parser.scripts[0]


def test_markdown_escapes_pipes_and_html() -> None:
    text = render_markdown(evil_report())
    row = next(line for line in text.splitlines() if line.startswith("| node-ctd14 "))
    assert r"a\|b" in row
    assert "<script>" not in text and r"\<script\>" in row
    # The escaped pipe keeps the row at the table's five cells.
    unescaped_pipes = row.replace(r"\|", "").count("|")
    assert unescaped_pipes == 6
    assert r"\<script\>host\|1" in text


def test_summary_table_strips_control_characters() -> None:
    hosts, _unused = mixed_fleet()
    hosts["node-ctd14"]["kruise_daemon"]["1.6"]["reason"] = "bad\x1b[31m red\nsecond line"
    table = summary_table(build_report(hosts, kruise_version="1.6", generated_at=GENERATED_AT))
    assert "\x1b" not in table
    assert "bad[31m red second line" in table


def test_hostile_cluster_text_is_escaped() -> None:
    evil = cluster_facts(crash_message=EVIL + "\x1b[31m", crash_pod="<script>pod()</script>|x")
    evil["findings"][0]["message"] = "<img src=x onerror=alert(2)> a|b"
    report = planned_report(evil)
    page = render_html(report)
    parser = TagCollector()
    parser.feed(page)
    assert parser.tags.count("script") == 1
    assert "img" not in parser.tags
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; a|b" in page
    assert "&lt;script&gt;pod()&lt;/script&gt;|x" in page
    assert "\x1b" not in page.split("<main", 1)[1].split('id="nodes"')[0]
    text = render_markdown(report)
    row = next(line for line in text.splitlines() if "pod()" in line)
    assert row.startswith(r"| \<script\>pod()\</script\>\|x | node-dockershim | 12 | 1 |")
    assert r"\<script\>alert(\"x\")" not in row and r"\<script\>alert(" in row
    assert row.replace(r"\|", "").count("|") == 7  # six cells, the pipes escaped
    assert "\x1b" not in text
    assert r"\<img src=x onerror=alert(2)\> a\|b" in text


def test_a_command_cannot_close_its_code_block() -> None:
    report = planned_report()
    report["plan"]["recommendation"]["commands"] = ["echo ```` done\n<b>x</b>\x07"]
    text = render_markdown(report)
    assert "`````sh\necho ```` done <b>x</b>\n`````" in text
    page = render_html(report)
    assert "<code>echo ```` done &lt;b&gt;x&lt;/b&gt;</code>" in page
