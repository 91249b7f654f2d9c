"""Jinja2 template of the self-contained HTML assessment report (rendered with autoescaping on).

Kept as a Python string: module_utils cannot reliably carry non-Python files.
"""

# ruff: noqa: E501  (markup and CSS read better unwrapped)

HTML_TEMPLATE = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="generated-at" content="{{ report.generated_at }}">
<title>kruise-daemon {{ target.line }} assessment: {{ summary.verdict }}</title>
<style>
:root {
  --bg: #f4f6f9; --surface: #ffffff; --surface-2: #f8f9fb; --text: #18202b; --muted: #5d6878;
  --border: #dfe4eb; --accent: #2853c7; --shadow: 0 1px 2px rgba(16,24,40,.06), 0 1px 3px rgba(16,24,40,.08);
  --ok: #137a48; --ok-bg: #e5f5ec; --ok-bar: #2fa36b;
  --bad: #b3261e; --bad-bg: #fdeceb; --bad-bar: #e0483e;
  --warn: #9a5b00; --warn-bg: #fff3dc; --warn-bar: #f0a531;
  --muted-bg: #eef1f5; --code-bg: #eef1f6;
  --mono: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "DejaVu Sans Mono", monospace;
  --sans: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "DejaVu Sans", Arial, sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0e1217; --surface: #161b22; --surface-2: #1b2129; --text: #e5e9ef; --muted: #98a3b3;
    --border: #2b333e; --accent: #7aa2ff; --shadow: none;
    --ok: #5fd49a; --ok-bg: rgba(47,163,107,.16); --ok-bar: #2fa36b;
    --bad: #ff8a80; --bad-bg: rgba(224,72,62,.17); --bad-bar: #e0483e;
    --warn: #f5c26b; --warn-bg: rgba(240,165,49,.16); --warn-bar: #d8901f;
    --muted-bg: #222a34; --code-bg: #222a34;
  }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--text); font: 15px/1.55 var(--sans); }
.wrap { max-width: 1120px; margin: 0 auto; padding: 0 24px; }
h1, h2, h3, h4, h5 { line-height: 1.25; margin: 0; }
h2 { font-size: 1.3rem; margin: 0 0 4px; }
code, .mono { font-family: var(--mono); font-size: .86em; }
code { background: var(--code-bg); padding: 1px 5px; border-radius: 4px; overflow-wrap: break-word; }
a { color: var(--accent); }

.top { background: var(--surface); border-bottom: 1px solid var(--border); padding: 28px 0 22px;
  border-top: 6px solid var(--muted); }
.top.v-incompatible { border-top-color: var(--bad-bar); }
.top.v-compatible { border-top-color: var(--ok-bar); }
.top.v-unknown { border-top-color: var(--warn-bar); }
.eyebrow { margin: 0 0 6px; font-size: .78rem; font-weight: 600; letter-spacing: .08em;
  text-transform: uppercase; color: var(--muted); }
.top h1 { font-size: clamp(1.45rem, 3.2vw, 2.05rem); font-weight: 700; letter-spacing: -.01em; }
.meta { display: flex; flex-wrap: wrap; gap: 8px 18px; align-items: center; margin-top: 14px;
  color: var(--muted); font-size: .92rem; }
.meta strong { color: var(--text); }
.pill { display: inline-flex; align-items: center; gap: 6px; padding: 3px 12px; border-radius: 999px;
  font-weight: 650; font-size: .85rem; text-transform: uppercase; letter-spacing: .04em; }
.pill::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: currentColor; }
.pill.v-compatible { color: var(--ok); background: var(--ok-bg); }
.pill.v-incompatible { color: var(--bad); background: var(--bad-bg); }
.pill.v-unknown { color: var(--warn); background: var(--warn-bg); }

.toc { display: flex; flex-wrap: wrap; gap: 4px 20px; padding-top: 14px; padding-bottom: 2px; font-size: .9rem; }
.toc a { color: var(--muted); text-decoration: none; }
.toc a:hover { color: var(--accent); }

section { margin: 30px 0 38px; }
.lede { margin: 0 0 16px; color: var(--muted); }

.cards { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 14px; }
.card { background: var(--surface); border: 1px solid var(--border); border-radius: 12px;
  padding: 16px 18px 14px; box-shadow: var(--shadow); border-top: 4px solid var(--border); }
.card .n { font-size: 2.2rem; font-weight: 700; line-height: 1.1; font-variant-numeric: tabular-nums; }
.card .label { color: var(--muted); font-size: .88rem; font-weight: 550; }
.card.ok { border-top-color: var(--ok-bar); } .card.ok .n { color: var(--ok); }
.card.bad { border-top-color: var(--bad-bar); } .card.bad .n { color: var(--bad); }
.card.warn { border-top-color: var(--warn-bar); } .card.warn .n { color: var(--warn); }
.card.zero .n { color: var(--muted); }

.runtimes { margin-top: 16px; display: flex; flex-wrap: wrap; gap: 8px; align-items: center; }
.runtimes .caption { color: var(--muted); font-size: .88rem; margin-right: 4px; }
.chip { display: inline-flex; align-items: center; gap: 6px; border: 1px solid var(--border);
  background: var(--surface); border-radius: 999px; padding: 2px 10px; font-size: .84rem;
  font-family: var(--mono); white-space: nowrap; max-width: 100%; overflow: hidden; text-overflow: ellipsis; }
.chip b { font-family: var(--sans); font-weight: 700; color: var(--muted); }

.panel { background: var(--surface); border: 1px solid var(--border); border-radius: 12px;
  box-shadow: var(--shadow); overflow: hidden; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
.matrix th, .matrix td { padding: 11px 16px; text-align: left; border-bottom: 1px solid var(--border); }
.matrix thead th { font-size: .76rem; text-transform: uppercase; letter-spacing: .06em; color: var(--muted);
  background: var(--surface-2); font-weight: 650; }
.matrix tbody tr:last-child > * { border-bottom: 0; }
.matrix td.num { text-align: right; font-variant-numeric: tabular-nums; width: 1%; white-space: nowrap; }
.matrix thead th.num { text-align: right; }
.matrix tbody th { font-weight: 650; white-space: nowrap; font-variant-numeric: tabular-nums; }
.matrix tr.target > * { background: color-mix(in srgb, var(--accent) 9%, var(--surface)); }
.matrix tr.target th:first-child { box-shadow: inset 4px 0 0 var(--accent); }
.num .z { color: var(--muted); opacity: .55; }
.num.ok { color: var(--ok); font-weight: 650; } .num.bad { color: var(--bad); font-weight: 650; }
.num.warn { color: var(--warn); font-weight: 650; }
.matrix .short { display: none; }
.tag { display: inline-block; margin-left: 8px; padding: 0 7px; border-radius: 5px; font-size: .72rem;
  font-weight: 650; letter-spacing: .03em; vertical-align: 1px; background: var(--accent); color: var(--surface); }
.tag.everywhere { background: var(--ok-bg); color: var(--ok); }
.bar { display: flex; height: 10px; border-radius: 99px; overflow: hidden; background: var(--muted-bg);
  min-width: 140px; }
.bar span { display: block; height: 100%; }
.bar .ok { background: var(--ok-bar); } .bar .bad { background: var(--bad-bar); }
.bar .warn { background: var(--warn-bar); opacity: .7; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 16px; margin-top: 10px; font-size: .82rem; color: var(--muted); }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 3px; margin-right: 6px; vertical-align: -1px; }

.paths { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 14px; }
.path { background: var(--surface); border: 1px solid var(--border); border-radius: 12px; padding: 16px 18px;
  box-shadow: var(--shadow); display: flex; flex-direction: column; gap: 10px; }
.path h3 { font-size: 1.02rem; }
.path p { margin: 0; font-size: .92rem; }
.path ul { margin: 0; padding-left: 18px; font-size: .87rem; color: var(--muted); }
.costs { border-top: 1px solid var(--border); padding-top: 10px; margin-top: auto; }
.costs h4 { font-size: .72rem; text-transform: uppercase; letter-spacing: .07em; color: var(--muted); margin-bottom: 4px; }
.path li { margin: 2px 0; overflow-wrap: anywhere; }
.fit { align-self: flex-start; font-size: .76rem; font-weight: 650; padding: 2px 9px; border-radius: 6px;
  text-transform: uppercase; letter-spacing: .04em; }
.fit.ok { color: var(--ok); background: var(--ok-bg); } .fit.bad { color: var(--bad); background: var(--bad-bg); }
.fit.warn { color: var(--warn); background: var(--warn-bg); } .fit.muted { color: var(--muted); background: var(--muted-bg); }
.hosts { display: flex; flex-wrap: wrap; gap: 5px; }
.hosts code { font-size: .8rem; }

.rec { margin: 26px 0 0; background: var(--surface); border: 1px solid var(--border); border-left: 6px solid var(--accent);
  border-radius: 12px; box-shadow: var(--shadow); padding: 20px 24px 18px; }
.rec .eyebrow { margin-bottom: 4px; }
.rec-head { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 14px; }
.rec-head h2 { font-size: 1.45rem; margin: 0; }
.rec-summary { font-size: 1.02rem; margin: 10px 0 14px; max-width: 72em; }
.risk { display: inline-block; font-size: .76rem; font-weight: 650; padding: 2px 9px; border-radius: 6px;
  text-transform: uppercase; letter-spacing: .04em; white-space: nowrap; }
.risk.ok { color: var(--ok); background: var(--ok-bg); } .risk.bad { color: var(--bad); background: var(--bad-bg); }
.risk.warn { color: var(--warn); background: var(--warn-bg); } .risk.muted { color: var(--muted); background: var(--muted-bg); }
.cmd { margin: 10px 0 0; }
.cmd-label { font-size: .72rem; text-transform: uppercase; letter-spacing: .07em; color: var(--muted); font-weight: 650; }
pre.command { margin: 4px 0 0; background: var(--code-bg); border: 1px solid var(--border); border-radius: 8px;
  padding: 10px 14px; white-space: pre-wrap; overflow-wrap: anywhere; }
pre.command code { background: none; padding: 0; font-size: .88rem; }
.rec-none { margin: 0; color: var(--muted); }
.rec-cols { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 12px 28px; margin-top: 16px; }
.rec-cols h4, .manual h4 { font-size: .72rem; text-transform: uppercase; letter-spacing: .07em; color: var(--muted); margin-bottom: 4px; }
.rec-cols ul, .manual ol { margin: 0; padding-left: 18px; font-size: .9rem; }
.rec-cols li, .manual li { margin: 3px 0; overflow-wrap: anywhere; }
.manual { margin-top: 14px; padding: 10px 14px; border-radius: 8px; background: var(--warn-bg); }
.manual p { margin: 0 0 6px; font-size: .9rem; }
.manual p.doc { margin: 6px 0 0; color: var(--muted); font-size: .85rem; }

.ccards { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 14px; }
.ccard { background: var(--surface); border: 1px solid var(--border); border-radius: 12px; padding: 14px 18px;
  box-shadow: var(--shadow); border-top: 4px solid var(--border); display: flex; flex-direction: column; gap: 6px; min-width: 0; }
.ccard.ok { border-top-color: var(--ok-bar); } .ccard.bad { border-top-color: var(--bad-bar); }
.ccard.warn { border-top-color: var(--warn-bar); }
.ccard h4 { font-size: .72rem; text-transform: uppercase; letter-spacing: .07em; color: var(--muted); }
.ccard .big { font-size: 1.5rem; font-weight: 700; line-height: 1.15; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.ccard .big small { font-size: .9rem; font-weight: 600; color: var(--muted); }
.ccard p, .ccard ul { margin: 0; font-size: .87rem; color: var(--muted); overflow-wrap: anywhere; }
.ccard ul { padding-left: 18px; }
.ccard code { font-size: .8rem; }
.subhead { font-size: 1.02rem; margin: 22px 0 8px; }
.pods td, .pods th { vertical-align: top; }
.pods td.name { white-space: nowrap; }
.pods td.msg { overflow-wrap: anywhere; font-family: var(--mono); font-size: .8rem; min-width: 260px; }
.more { color: var(--muted); font-size: .86rem; margin: 8px 0 0; }

.plan { table-layout: fixed; min-width: 860px; }
.plan th, .plan td { vertical-align: top; overflow-wrap: anywhere; }
.plan tbody th { white-space: normal; }
.plan .drained { display: block; margin-top: 2px; font-size: .8rem; color: var(--muted); }
.plan .title { display: block; }
.plan ul { margin: 0; padding-left: 16px; font-size: .84rem; }
.plan li { margin: 1px 0; overflow-wrap: anywhere; }
.plan td { font-size: .88rem; }
.plan .none { color: var(--muted); }
.plan details { margin-top: 6px; }
.plan details ul { color: var(--muted); font-weight: 400; margin-top: 4px; }
.plan code { font-size: .78rem; }
.tag.then { background: var(--muted-bg); color: var(--muted); }
.plan-notes { margin-top: 14px; }

.group { margin-top: 26px; }
.group-head { display: flex; align-items: baseline; gap: 10px; flex-wrap: wrap; margin-bottom: 2px; }
.group-head h3 { font-size: 1.1rem; }
.count { font-size: .8rem; font-weight: 700; padding: 1px 9px; border-radius: 999px; }
.g-incompatible .count { color: var(--bad); background: var(--bad-bg); }
.g-compatible .count { color: var(--ok); background: var(--ok-bg); }
.g-unknown .count { color: var(--warn); background: var(--warn-bg); }
.group > .lede { font-size: .9rem; margin-bottom: 12px; }
.node { background: var(--surface); border: 1px solid var(--border); border-left: 5px solid var(--muted);
  border-radius: 10px; padding: 14px 18px; margin: 10px 0; box-shadow: var(--shadow); break-inside: avoid; }
.node.v-incompatible { border-left-color: var(--bad-bar); }
.node.v-compatible { border-left-color: var(--ok-bar); }
.node.v-unknown { border-left-color: var(--warn-bar); }
.node-head { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 10px; }
.node-head h4 { font-family: var(--mono); font-size: 1rem; font-weight: 700; margin-right: 4px; overflow-wrap: anywhere; }
.node-head .spacer { flex: 1 1 auto; }
.linebadges { display: flex; gap: 4px; list-style: none; margin: 0; padding: 0; flex-wrap: wrap; }
.lb { font-size: .74rem; font-weight: 650; padding: 1px 7px; border-radius: 5px; font-variant-numeric: tabular-nums;
  border: 1px solid transparent; }
.lb.ok { color: var(--ok); background: var(--ok-bg); } .lb.bad { color: var(--bad); background: var(--bad-bg); }
.lb.is-target { border-color: currentColor; }
.reason { margin: 8px 0 0; overflow-wrap: anywhere; }
details { margin-top: 10px; }
summary { cursor: pointer; color: var(--accent); font-size: .88rem; font-weight: 600; width: max-content; max-width: 100%; }
summary:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; border-radius: 3px; }
.evidence { margin-top: 10px; padding: 14px 16px; background: var(--surface-2); border: 1px solid var(--border);
  border-radius: 8px; display: grid; gap: 16px 28px; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); }
.evidence > .wide { grid-column: 1 / -1; }
.evidence h5 { font-size: .74rem; text-transform: uppercase; letter-spacing: .07em; color: var(--muted); margin-bottom: 6px; }
.ev th, .ev td { text-align: left; padding: 6px 10px 6px 0; border-bottom: 1px solid var(--border);
  font-size: .86rem; vertical-align: top; }
.ev th { font-size: .72rem; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); font-weight: 650; }
.ev tr:last-child td { border-bottom: 0; }
.ev td.err { color: var(--bad); overflow-wrap: anywhere; }
.api { display: inline-block; font-family: var(--mono); font-size: .75rem; padding: 0 6px; border-radius: 4px;
  margin: 1px 3px 1px 0; font-weight: 600; }
.api.v1 { color: var(--ok); background: var(--ok-bg); }
.api.old { color: var(--warn); background: var(--warn-bg); }
.api.none { color: var(--bad); background: var(--bad-bg); }
.kv { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 4px 16px; margin: 0; font-size: .88rem; }
.kv dt { color: var(--muted); }
.kv dd { margin: 0; overflow-wrap: anywhere; }
.findings { list-style: none; margin: 0; padding: 0; display: grid; gap: 6px; font-size: .88rem; }
.findings li { overflow-wrap: anywhere; }
.sev { display: inline-block; font-size: .7rem; font-weight: 700; text-transform: uppercase; padding: 0 6px;
  border-radius: 4px; margin-right: 6px; color: var(--muted); background: var(--muted-bg); }
.sev.warning { color: var(--warn); background: var(--warn-bg); } .sev.error { color: var(--bad); background: var(--bad-bg); }
.none-text { color: var(--muted); font-size: .88rem; margin: 0; }
footer { color: var(--muted); font-size: .82rem; padding: 10px 0 40px; border-top: 1px solid var(--border); margin-top: 40px; }
footer p { margin: 12px 0 0; }

@media (max-width: 860px) {
  .paths { grid-template-columns: 1fr; }
  .ccards { grid-template-columns: repeat(2, minmax(0, 1fr)); }
  .rec-cols { grid-template-columns: 1fr; }
  .cards { grid-template-columns: repeat(2, minmax(0, 1fr)); }
}
@media (max-width: 560px) {
  body { font-size: 14.5px; }
  .ccards { grid-template-columns: 1fr; }
  .rec { padding: 16px 16px 14px; }
  .wrap { padding: 0 14px; }
  .top { padding: 20px 0 16px; }
  .card { padding: 12px 14px 10px; } .card .n { font-size: 1.8rem; }
  .matrix th, .matrix td { padding: 9px 10px; }
  .matrix thead th { font-size: .66rem; letter-spacing: .02em; }
  .matrix .bar-col { display: none; }
  .matrix .tag { display: block; width: max-content; margin: 3px 0 0; }
  .matrix .long { display: none; }
  .matrix .short { display: inline; font-size: .9rem; }
  .node-head .spacer { display: none; }
  .node { padding: 12px 14px; }
  .ev-endpoints thead { display: none; }
  .ev-endpoints tr { display: block; padding: 6px 0; border-bottom: 1px solid var(--border); }
  .ev-endpoints tr:last-child { border-bottom: 0; }
  .ev-endpoints td { display: block; border: 0; padding: 1px 0; }
  .ev-endpoints td[data-label]::before { content: attr(data-label) ": "; color: var(--muted); font-size: .78rem; }
}
@media print {
  :root { --bg: #fff; --surface: #fff; --surface-2: #fff; --shadow: none; }
  body { font-size: 11pt; }
  .toc, summary { display: none; }
  .top { padding-top: 12px; }
  section { margin: 18px 0; }
  .node, .path, .card, .panel, .rec, .ccard { break-inside: avoid; }
  h2, h3, .group-head, .lede { break-after: avoid; }
  .scroll { overflow: visible; }
  .bar { min-width: 60px; }
  .matrix tr.target > * { background: #eef2fb; }
  a { color: inherit; text-decoration: none; }
}
</style>
</head>
<body>
<header class="top v-{{ summary.verdict }}">
  <div class="wrap">
    <p class="eyebrow">kruise-daemon CRI assessment</p>
    <h1>{{ headline }}</h1>
    <div class="meta">
      <span class="pill v-{{ summary.verdict }}">{{ summary.verdict }}</span>
      <span>Target OpenKruise <strong>{{ target.kruise_version }}</strong> (line {{ target.line }})</span>
      <span>Generated <time datetime="{{ report.generated_at }}">{{ report.generated_at }}</time></span>
    </div>
  </div>
</header>
<nav class="wrap toc" aria-label="Sections">
  {% if rec %}<a href="#recommendation">Recommendation</a>{% endif %}<a href="#summary">Summary</a>{% if cluster %}<a href="#cluster">Cluster</a>{% endif %}<a href="#lines">Lines</a><a href="#ways-out">Ways out</a>
  {% for group in groups %}<a href="#nodes-{{ group.verdict }}">{{ group.title }} ({{ group.nodes|length }})</a>{% endfor %}
</nav>
<main class="wrap">
{% if rec %}
<section id="recommendation" class="rec" aria-label="Recommendation">
  <p class="eyebrow">Recommendation</p>
  <div class="rec-head">
    <h2>{{ rec.title }}</h2>
    <span class="risk {{ rec.risk_tone }}">risk: {{ rec.risk_level }}</span>
  </div>
  <p class="rec-summary">{{ rec.summary }}</p>
  {% for command in rec.commands %}
  <div class="cmd">
    {% if rec.commands|length > 1 %}<span class="cmd-label">Step {{ loop.index }} of {{ rec.commands|length }}</span>{% endif %}
    <pre class="command"><code>{{ command }}</code></pre>
  </div>
  {% else %}
  <p class="rec-none">{{ rec.no_command }}</p>
  {% endfor %}
  {% if rec.reasons or rec.risk_reasons %}
  <div class="rec-cols">
    <div><h4>Why</h4>{% if rec.reasons %}<ul>{% for reason in rec.reasons %}<li>{{ reason }}</li>{% endfor %}</ul>{% else %}<p class="none-text">No reasons given.</p>{% endif %}</div>
    <div><h4>Risk: {{ rec.risk_level }}</h4>{% if rec.risk_reasons %}<ul>{% for reason in rec.risk_reasons %}<li>{{ reason }}</li>{% endfor %}</ul>{% else %}<p class="none-text">Nothing in particular.</p>{% endif %}</div>
  </div>
  {% endif %}
  {% if rec.manual_steps %}
  <div class="manual">
    {% if rec.not_shipped %}<p>Not shipped in this collection yet: {% for name in rec.not_shipped %}<code>{{ name }}</code>{% if not loop.last %}, {% endif %}{% endfor %}. The command{{ 's are' if rec.commands|length > 1 else ' is' }} what {{ 'they' if rec.commands|length > 1 else 'it' }} will be; until then:</p>{% endif %}
    <h4>Manual steps</h4>
    <ol>{% for step in rec.manual_steps %}<li>{{ step }}</li>{% endfor %}</ol>
    {% if rec.manual_steps_doc %}<p class="doc">In detail: <code>{{ rec.manual_steps_doc }}</code> in the collection.</p>{% endif %}
  </div>
  {% endif %}
</section>
{% endif %}
<section id="summary" aria-label="Summary">
  <div class="cards">
    <div class="card"><div class="n">{{ summary.nodes }}</div><div class="label">Nodes</div></div>
    <div class="card ok{% if not summary.compatible %} zero{% endif %}"><div class="n">{{ summary.compatible }}</div><div class="label">Compatible</div></div>
    <div class="card bad{% if not summary.incompatible %} zero{% endif %}"><div class="n">{{ summary.incompatible }}</div><div class="label">Incompatible</div></div>
    <div class="card warn{% if not summary.unknown %} zero{% endif %}"><div class="n">{{ summary.unknown }}</div><div class="label">Not assessed</div></div>
  </div>
  {% if summary.by_runtime %}
  <div class="runtimes">
    <span class="caption">Runtimes the kubelets use:</span>
    {% for label, n in summary.by_runtime.items() %}
    <span class="chip" title="{{ label }}">{{ label }} <b>&times;{{ n }}</b></span>
    {% endfor %}
  </div>
  {% endif %}
</section>

{% if cluster %}
<section id="cluster">
  <h2>Cluster</h2>
  <p class="lede">What the Kubernetes API at <code>{{ cluster.server|wbr }}</code> (Kubernetes {{ cluster.api_version }}) says.</p>
  <div class="ccards">
    <div class="ccard">
      <h4>OpenKruise</h4>
      <div class="big">{% if cluster.installed is sameas false %}not installed{% else %}{{ cluster.version or 'unknown version' }}{% endif %}</div>
      <p>{{ cluster.install_how }}</p>
    </div>
    <div class="ccard{% if cluster.daemon_enabled is sameas false %} warn{% endif %}">
      <h4>Feature gates</h4>
      <div class="big">{% if cluster.daemon_enabled is sameas false %}daemon off{% elif cluster.daemon_enabled is sameas true %}daemon on{% else %}unknown{% endif %}</div>
      <p>{% if cluster.gates_argument %}<code>{{ cluster.gates_argument }}</code>{% else %}none set (defaults){% endif %}</p>
    </div>
    <div class="ccard{% if cluster.crash_looping_total %} bad{% elif cluster.daemon %} ok{% endif %}">
      <h4>kruise-daemon</h4>
      {% if cluster.daemon %}
      <div class="big">{{ cluster.daemon.ready or 0 }} / {{ cluster.daemon.desired or 0 }} <small>ready</small></div>
      {% else %}
      <div class="big">none</div>
      {% endif %}
      <p>{{ cluster.daemon_text }}</p>
    </div>
    <div class="ccard{% if cluster.feature_use.in_use %} warn{% endif %}">
      <h4>Daemon features in use</h4>
      <div class="big">{{ {True: 'yes', False: 'none found'}.get(cluster.feature_use.in_use, 'unknown') }}</div>
      {% if cluster.feature_use.summary %}<ul>{% for item in cluster.feature_use.summary %}<li>{{ item }}</li>{% endfor %}</ul>{% endif %}
    </div>
  </div>
  {% if cluster.by_runtime %}
  <div class="runtimes">
    <span class="caption">Runtimes the API reports:</span>
    {% for label, n in cluster.by_runtime.items() %}
    <span class="chip" title="{{ label }}">{{ label }} <b>&times;{{ n }}</b></span>
    {% endfor %}
  </div>
  {% endif %}
  {% if cluster.crash_looping %}
  <h3 class="subhead">Crash-looping kruise-daemon pods ({{ cluster.crash_looping_total }})</h3>
  <div class="panel scroll">
  <table class="matrix pods">
    <thead><tr><th scope="col">Pod</th><th scope="col">Node</th><th scope="col" class="num">Restarts</th><th scope="col" class="num">Exit</th><th scope="col">Last message</th></tr></thead>
    <tbody>
    {% for pod in cluster.crash_looping %}
      <tr><td class="name"><code>{{ pod.pod or '?' }}</code></td><td class="name"><code>{{ pod.node or '?' }}</code></td><td class="num">{{ pod.restarts if pod.restarts is not none else '?' }}</td><td class="num">{{ pod.last_exit_code if pod.last_exit_code is not none else '?' }}</td><td class="msg">{{ pod.message or '—' }}</td></tr>
    {% endfor %}
    </tbody>
  </table>
  </div>
  {% if cluster.crash_looping_more %}<p class="more">And {{ cluster.crash_looping_more }} more; report.json lists them all.</p>{% endif %}
  {% endif %}
  {% if cluster.findings %}
  <h3 class="subhead">Cluster findings</h3>
  <ul class="findings">
  {% for finding in cluster.findings %}
    <li><span class="sev {{ finding.severity }}">{{ finding.severity }}</span>{% if finding.source %}<code>{{ finding.source|wbr }}</code> {% endif %}{{ finding.message }}</li>
  {% endfor %}
  </ul>
  {% endif %}
</section>
{% endif %}

<section id="lines">
  <h2>kruise-daemon lines</h2>
  <p class="lede">On how many nodes each kruise-daemon release line would start and manage the kubelet's runtime.</p>
  <div class="panel scroll">
  <table class="matrix">
    <thead><tr><th scope="col">Line</th><th scope="col" class="num"><span class="long">Compatible</span><span class="short" title="compatible">&#10003;</span></th><th scope="col" class="num"><span class="long">Incompatible</span><span class="short" title="incompatible">&#10007;</span></th><th scope="col" class="num"><span class="long">Unknown</span><span class="short" title="unknown">?</span></th><th scope="col" class="bar-col">Fleet</th></tr></thead>
    <tbody>
    {% for row in lines %}
      <tr{% if row.is_target %} class="target"{% endif %}>
        <th scope="row">{{ row.line }}{% if row.is_target %}<span class="tag">target</span>{% endif %}{% if row.everywhere %}<span class="tag everywhere">every node</span>{% elif row.all_assessed %}<span class="tag everywhere">every assessed node</span>{% endif %}</th>
        <td class="num{% if row.compatible %} ok{% endif %}">{% if row.compatible %}{{ row.compatible }}{% else %}<span class="z">0</span>{% endif %}</td>
        <td class="num{% if row.incompatible %} bad{% endif %}">{% if row.incompatible %}{{ row.incompatible }}{% else %}<span class="z">0</span>{% endif %}</td>
        <td class="num{% if row.unknown %} warn{% endif %}">{% if row.unknown %}{{ row.unknown }}{% else %}<span class="z">0</span>{% endif %}</td>
        <td class="bar-col"><div class="bar" role="img" aria-label="{{ row.compatible }} compatible, {{ row.incompatible }} incompatible, {{ row.unknown }} unknown"><span class="ok" style="width: {{ row.pct.compatible }}%"></span><span class="bad" style="width: {{ row.pct.incompatible }}%"></span><span class="warn" style="width: {{ row.pct.unknown }}%"></span></div></td>
      </tr>
    {% endfor %}
    </tbody>
  </table>
  </div>
  <div class="legend"><span><i style="background: var(--ok-bar)"></i>compatible</span><span><i style="background: var(--bad-bar)"></i>incompatible</span><span><i style="background: var(--warn-bar)"></i>unknown (not assessed)</span></div>
</section>

<section id="ways-out">
  <h2>Ways out</h2>
  {% if plan_paths is not none %}
  <p class="lede">Every path the planner weighed{% if cluster %}, from the node facts and the cluster{% else %}, from the node facts alone: without a kubeconfig the installation and the use of the daemon's features are unknown{% endif %}.</p>
  <div class="panel scroll">
  <table class="matrix plan">
    <colgroup><col style="width: 19%"><col style="width: 10%"><col style="width: 25%"><col style="width: 12%"><col style="width: 24%"><col style="width: 10%"></colgroup>
    <thead><tr><th scope="col">Path</th><th scope="col">Feasible</th><th scope="col">Features lost</th><th scope="col">Drains</th><th scope="col">Helm changes</th><th scope="col">Risk</th></tr></thead>
    <tbody>
    {% for path in plan_paths %}
      <tr{% if path.recommended %} class="target"{% endif %}>
        <th scope="row"><span class="title">{{ path.title }}{% if path.recommended %}<span class="tag">recommended</span>{% elif path.step %}<span class="tag then">then</span>{% endif %}</span>
          {% if path.reasons or path.notes %}<details><summary>Why</summary><ul>{% for reason in path.reasons %}<li>{{ reason }}</li>{% endfor %}{% for note in path.notes %}<li>{{ note }}</li>{% endfor %}</ul></details>{% endif %}</th>
        <td><span class="fit {{ path.feasible_tone }}">{{ path.feasible }}</span></td>
        <td>{% if path.features_lost %}<ul>{% for feature in path.features_lost %}<li>{{ feature }}</li>{% endfor %}</ul>{% else %}<span class="none">none</span>{% endif %}</td>
        <td>{{ path.nodes_drained }} {{ 'node' if path.nodes_drained == 1 else 'nodes' }}{% if path.drained_nodes %}<span class="drained">{{ path.drained_nodes|join(', ') }}</span>{% endif %}</td>
        <td>{% if path.helm_changes %}<ul>{% for change in path.helm_changes %}<li>{{ change }}</li>{% endfor %}</ul>{% else %}<span class="none">none</span>{% endif %}</td>
        <td><span class="risk {{ path.risk_tone }}">{{ path.risk_level }}</span>{% if path.risk_reasons %}<details><summary>Why</summary><ul>{% for reason in path.risk_reasons %}<li>{{ reason }}</li>{% endfor %}</ul></details>{% endif %}</td>
      </tr>
    {% endfor %}
    </tbody>
  </table>
  </div>
  {% if plan_findings %}
  <div class="plan-notes">
  <h3 class="subhead">Notes from the plan</h3>
  <ul class="findings">
  {% for finding in plan_findings %}
    <li><span class="sev {{ finding.severity }}">{{ finding.severity }}</span>{% if finding.source %}<code>{{ finding.source|wbr }}</code> {% endif %}{{ finding.message }}</li>
  {% endfor %}
  </ul>
  </div>
  {% endif %}
  {% else %}
  <p class="lede">What the node data says about each option. Cluster usage of the affected features is not part of this report.</p>
  <div class="paths">
  {% for path in paths %}
    <div class="path">
      <h3>{{ path.title }}</h3>
      <span class="fit {{ path.tone }}">{{ path.fit_label }}</span>
      <p>{{ path.statement }}</p>
      {% if path.hosts %}
      <div class="hosts">{% for host in path.hosts %}<code>{{ host }}</code>{% endfor %}</div>
      {% endif %}
      {% if path.costs is defined and path.costs %}
      <div class="costs"><h4>{{ path.costs_title }}</h4>
      <ul>{% for cost in path.costs %}<li>{{ cost }}</li>{% endfor %}</ul></div>
      {% endif %}
    </div>
  {% endfor %}
  </div>
  {% endif %}
</section>

<section id="nodes">
  <h2>Nodes</h2>
  {% if not groups %}<p class="none-text">No node was assessed.</p>{% endif %}
  {% for group in groups %}
  <div class="group g-{{ group.verdict }}" id="nodes-{{ group.verdict }}">
    <div class="group-head"><h3>{{ group.title }}</h3><span class="count">{{ group.nodes|length }}</span></div>
    <p class="lede">{{ group.blurb }}</p>
    {% for node in group.nodes %}
    <article class="node v-{{ node.verdict }}">
      <div class="node-head">
        <h4>{{ node.host }}</h4>
        {% if node.runtime != 'unknown' %}<span class="chip" title="Runtime the kubelet uses">{{ node.runtime }}</span>{% endif %}
        {% if node.kubelet_version %}<span class="chip" title="kubelet version"><b>kubelet</b> {{ node.kubelet_version }}</span>{% endif %}
        <span class="spacer"></span>
        {% if node.lines %}
        <ul class="linebadges" aria-label="kruise-daemon lines">
          {% for line, ok in node.lines.items() %}
          <li class="lb {{ 'ok' if ok else 'bad' }}{% if line == target.line %} is-target{% endif %}" title="kruise-daemon {{ line }}: {{ 'compatible' if ok else 'incompatible' }}">{{ line }} {{ '✓' if ok else '✗' }}</li>
          {% endfor %}
        </ul>
        {% endif %}
      </div>
      <p class="reason">{{ node.reason }}</p>
      {% if node.endpoints or node.kubelet_endpoint or node.docker or node.findings or node.daemon %}
      <details>
        <summary>Evidence</summary>
        <div class="evidence">
          <div class="wide">
            <h5>CRI endpoints</h5>
            {% if node.endpoints %}
            <div class="scroll">
            <table class="ev ev-endpoints">
              <thead><tr><th>Socket</th><th>Runtime</th><th>CRI API</th><th>Error</th></tr></thead>
              <tbody>
              {% for ep in node.endpoints %}
                <tr>
                  <td data-label="Socket"><code>{{ ep.socket|wbr }}</code>{% if ep.kind %} <span class="mono" style="color: var(--muted)">({{ ep.kind }})</span>{% endif %}</td>
                  <td data-label="Runtime">{{ ep.runtime_name or '—' }} {{ ep.runtime_version or '' }}</td>
                  <td data-label="CRI API">{% for api in ep.cri_api_versions %}<span class="api {{ 'v1' if api == 'v1' else 'old' }}">{{ api }}</span>{% else %}<span class="api none">none</span>{% endfor %}</td>
                  <td data-label="Error" class="{% if ep.error %}err{% endif %}">{{ ep.error or '—' }}</td>
                </tr>
              {% endfor %}
              </tbody>
            </table>
            </div>
            {% else %}
            <p class="none-text">No CRI socket found.</p>
            {% endif %}
          </div>
          <div>
            <h5>Kubelet</h5>
            <dl class="kv">
              <dt>Runtime</dt><dd>{{ node.kubelet_runtime or 'unknown' }}</dd>
              <dt>Endpoint</dt><dd>{% if node.kubelet_endpoint %}<code>{{ node.kubelet_endpoint|wbr }}</code>{% else %}unknown{% endif %}</dd>
              <dt>Version</dt><dd>{{ node.kubelet_version or 'unknown' }}</dd>
            </dl>
          </div>
          {% if node.daemon %}
          <div>
            <h5>kruise-daemon {{ target.line }} on this node</h5>
            <dl class="kv">
              <dt>Starts</dt><dd>{{ {True: 'yes', False: 'no'}.get(node.daemon.starts, 'unknown') }}</dd>
              <dt>Socket</dt><dd>{% if node.daemon.socket %}<code>{{ node.daemon.socket|wbr }}</code>{% else %}none{% endif %}</dd>
              <dt>Would manage</dt><dd>{{ node.daemon.runtimes|join(', ') or 'nothing' }}</dd>
            </dl>
          </div>
          {% endif %}
          {% if node.docker %}
          <div>
            <h5>Docker Engine</h5>
            <dl class="kv">
              <dt>Version</dt><dd>{{ node.docker.version or 'unknown' }}{% if node.docker.api_version %} (API {{ node.docker.api_version }}){% endif %}</dd>
              <dt>Socket</dt><dd>{% if node.docker.socket %}<code>{{ node.docker.socket|wbr }}</code>{% else %}—{% endif %}</dd>
              <dt>Cgroup driver</dt><dd>{{ node.docker.cgroup_driver or 'unknown' }}</dd>
              <dt>Registry mirrors</dt><dd>{{ node.docker.registry_mirrors|join(', ') or 'none' }}</dd>
              <dt>Insecure registries</dt><dd>{{ node.docker.insecure_registries|join(', ') or 'none' }}</dd>
              {% if node.docker.error %}<dt>Error</dt><dd class="err">{{ node.docker.error }}</dd>{% endif %}
            </dl>
          </div>
          {% endif %}
          {% if node.findings %}
          <div class="wide">
            <h5>Findings</h5>
            <ul class="findings">
            {% for finding in node.findings %}
              <li><span class="sev {{ finding.severity }}">{{ finding.severity }}</span>{% if finding.source %}<code>{{ finding.source|wbr }}</code> {% endif %}{{ finding.message }}</li>
            {% endfor %}
            </ul>
          </div>
          {% endif %}
        </div>
      </details>
      {% endif %}
    </article>
    {% endfor %}
  </div>
  {% endfor %}
</section>
</main>
<footer>
  <div class="wrap"><p>kruise_cri.remediation assessment report, schema {{ report.schema }}. The JSON and Markdown versions sit beside this file.</p></div>
</footer>
<script>
window.addEventListener("beforeprint", function () {
  document.querySelectorAll("details").forEach(function (d) { d.open = true; });
});
</script>
</body>
</html>
"""
