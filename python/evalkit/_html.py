"""How results show themselves in a notebook (``_repr_html_``): the headline
metrics with their intervals, a small inline SVG ROC curve (binary), the
paired differences of a comparison coloured by whether they are better or
worse beyond the noise, a suite's verdicts, and a report inline. Plain HTML
and SVG: no scripts, nothing fetched."""

from __future__ import annotations

import html
from typing import Any, Dict, List, Optional, Sequence, Tuple

_STYLE = (
    "font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:13px;"
    "display:flex;gap:18px;align-items:flex-start;flex-wrap:wrap"
)
_TD = "padding:2px 8px;text-align:right;border-bottom:1px solid #e3e6e8"
_TH = "padding:2px 8px;text-align:left;border-bottom:1px solid #c9cfd3;font-weight:600"
BETTER = "#0b7a3e"
WORSE = "#b3261e"
NEUTRAL = "#5f6b73"


def _num(v: Optional[float]) -> str:
    if v is None:
        return "n/a"
    if v != 0 and (abs(v) >= 1e6 or abs(v) < 1e-4):
        return f"{v:.4g}"
    return f"{v:.4f}"


def _ci(ci: Optional[Sequence[float]]) -> str:
    if not ci:
        return ""
    return f"<span style='color:{NEUTRAL}'>[{_num(ci[0])}, {_num(ci[1])}]</span>"


def _order(doc: Dict[str, Any], names: Sequence[str]) -> Tuple[List[str], List[str]]:
    """The headline metrics first (in their order), then the rest."""
    head = [n for n in doc.get("headline", []) if n in names]
    return head, [n for n in names if n not in head]


def _roc_points(doc: Dict[str, Any]) -> Optional[List[Tuple[float, float]]]:
    """ROC points (fpr, tpr) from the threshold sweep of a binary result."""
    sweep = doc.get("sweep") or {}
    tp, fp, tn, fn = (sweep.get(k) for k in ("tp", "fp", "tn", "fn"))
    if not (tp and fp and tn and fn):
        return None
    pts = []
    for a, b, c, d in zip(tp, fp, tn, fn):
        p, n = a + d, b + c
        if p <= 0 or n <= 0:
            return None
        pts.append((b / n, a / p))
    pts += [(0.0, 0.0), (1.0, 1.0)]
    return sorted(set(pts))


def roc_svg(doc: Dict[str, Any], size: int = 170) -> str:
    """A small ROC curve (from the threshold sweep), with the bootstrap band
    when the result has one; empty when the result has no sweep."""
    pts = _roc_points(doc)
    if not pts:
        return ""
    m = 22  # margin for the axis labels
    s = size - m - 6

    def xy(x: float, y: float) -> str:
        return f"{m + x * s:.1f},{6 + (1 - y) * s:.1f}"

    band = ""
    b = doc.get("bands") or {}
    if b.get("fpr") and b.get("tpr_lo") and b.get("tpr_hi"):
        upper = [xy(x, y) for x, y in zip(b["fpr"], b["tpr_hi"])]
        lower = [xy(x, y) for x, y in zip(b["fpr"], b["tpr_lo"])][::-1]
        band = f"<polygon points='{' '.join(upper + lower)}' fill='#0072b2' fill-opacity='0.15' stroke='none'/>"
    curve = " ".join(xy(x, y) for x, y in pts)
    auc = (doc.get("metrics") or {}).get("roc_auc", {}).get("value")
    label = f"ROC · AUC {_num(auc)}" if auc is not None else "ROC"
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{size}' height='{size + 14}' "
        f"viewBox='0 0 {size} {size + 14}' role='img' aria-label='{html.escape(label)}'>"
        f"<rect x='{m}' y='6' width='{s}' height='{s}' fill='white' stroke='#c9cfd3'/>"
        f"<line x1='{m}' y1='{6 + s}' x2='{m + s}' y2='6' stroke='#c9cfd3' stroke-dasharray='3 3'/>"
        f"{band}<polyline points='{curve}' fill='none' stroke='#0072b2' stroke-width='2'/>"
        f"<text x='{m + s / 2}' y='{size + 10}' font-size='11' text-anchor='middle' fill='{NEUTRAL}'>"
        f"{html.escape(label)}</text>"
        f"<text x='10' y='{6 + s / 2}' font-size='10' text-anchor='middle' fill='{NEUTRAL}' "
        f"transform='rotate(-90 10 {6 + s / 2})'>TPR</text>"
        f"<text x='{m + s - 2}' y='{6 + s - 4}' font-size='10' text-anchor='end' fill='{NEUTRAL}'>FPR</text>"
        "</svg>"
    )


def _delta_colour(name: str, d: Dict[str, Any], directions: Dict[str, str]) -> str:
    """Green when the difference is better beyond its interval, red when
    worse, grey otherwise (or when the metric has no better direction)."""
    ci, way = d.get("ci"), directions.get(name, "neither")
    if not ci or way == "neither":
        return NEUTRAL
    lo, hi = ci
    if lo > 0 or hi < 0:
        up = lo > 0
        return BETTER if up == (way == "higher") else WORSE
    return NEUTRAL


def result_html(doc: Dict[str, Any]) -> str:
    """A tier's result (or a comparison's) as HTML."""
    title = f"evalkit {doc.get('tier', '')} · {doc.get('task', '')} · {doc.get('rows', '')} rows"
    metrics = doc.get("metrics") or {}
    delta = doc.get("delta") or {}
    base = doc.get("baseline") or {}
    directions = doc.get("directions") or {}
    head, rest = _order(doc, list(metrics))

    def rows(names: Sequence[str]) -> str:
        out = []
        for n in names:
            m = metrics[n]
            cells = f"<td style='{_TH};font-weight:400'>{html.escape(n)}</td>"
            if m.get("value") is None:
                cells += f"<td style='{_TD};color:{NEUTRAL}' colspan='2'>n/a: {html.escape(m.get('reason') or '')}</td>"
            else:
                cells += f"<td style='{_TD}'>{_num(m['value'])}</td><td style='{_TD}'>{_ci(m.get('ci'))}</td>"
            if delta:
                d = delta.get(n) or {}
                cells += f"<td style='{_TD}'>{_num((base.get(n) or {}).get('value'))}</td>"
                colour = _delta_colour(n, d, directions)
                v = d.get("value")
                sign = "+" if v is not None and v > 0 else ""
                cells += (
                    f"<td style='{_TD};color:{colour};font-weight:600' class='evalkit-delta' "
                    f"data-colour='{colour}'>{sign}{_num(v)} {_ci(d.get('ci'))}</td>"
                )
            out.append(f"<tr>{cells}</tr>")
        return "".join(out)

    cols = "<th style='{0}'>metric</th><th style='{0}'>value</th><th style='{0}'>interval</th>".format(_TH)
    if delta:
        cols = (
            f"<th style='{_TH}'>metric</th><th style='{_TH}'>candidate</th><th style='{_TH}'>interval</th>"
            f"<th style='{_TH}'>baseline</th><th style='{_TH}'>candidate − baseline</th>"
        )
    table = (
        f"<table style='border-collapse:collapse'><caption style='text-align:left;font-weight:600;"
        f"padding-bottom:4px'>{html.escape(title)}</caption><thead><tr>{cols}</tr></thead>"
        f"<tbody>{rows(head)}</tbody></table>"
    )
    if rest:
        table += (
            f"<details><summary style='cursor:pointer;color:#0b5cad'>all {len(metrics)} metrics</summary>"
            f"<table style='border-collapse:collapse'><tbody>{rows(rest)}</tbody></table></details>"
        )
    return f"<div class='evalkit-result' style=\"{_STYLE}\"><div>{table}</div>{roc_svg(doc)}</div>"


def suite_html(doc: Dict[str, Any]) -> str:
    """A suite run's verdicts."""
    colour = {"pass": BETTER, "fail": WORSE, "inconclusive": "#8a5a00"}
    rows = []
    for g in doc.get("gates", []):
        v = g["verdict"]
        value = "n/a" if g.get("value") is None else f"{_num(g['value'])} {html.escape(g.get('unit') or '')}"
        rows.append(
            f"<tr><td style='{_TH};font-weight:400'><code>{html.escape(g['gate'])}</code></td>"
            f"<td style='{_TD}'>{value} {_ci(g.get('interval'))}</td>"
            f"<td style='{_TD};color:{colour.get(v, NEUTRAL)};font-weight:600' class='evalkit-verdict'>"
            f"{html.escape(v)}</td><td style='{_TD};text-align:left'>{html.escape(g.get('detail') or '')}</td></tr>"
        )
    verdict = "passed" if doc.get("passed") else "FAILED"
    return (
        f"<div class='evalkit-suite' style=\"{_STYLE}\"><table style='border-collapse:collapse'>"
        f"<caption style='text-align:left;font-weight:600;padding-bottom:4px'>evalkit run · "
        f"{html.escape(doc.get('name', ''))} · <span style='color:{BETTER if doc.get('passed') else WORSE}'>"
        f"{verdict}</span></caption><thead><tr><th style='{_TH}'>gate</th><th style='{_TH}'>value</th>"
        f"<th style='{_TH}'>verdict</th><th style='{_TH}'>judged</th></tr></thead><tbody>{''.join(rows)}"
        "</tbody></table></div>"
    )


def report_iframe(page: str, height: int = 900) -> str:
    """A report page inline: the self-contained HTML in a sandboxed iframe
    (``srcdoc``), so its styles do not leak into the notebook."""
    return (
        f"<iframe class='evalkit-report' sandbox='' srcdoc=\"{html.escape(page, quote=True)}\" "
        f"style='width:100%;height:{int(height)}px;border:1px solid #d9dee2;border-radius:6px'></iframe>"
    )
