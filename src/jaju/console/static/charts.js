// Charts drawn in the page as inline SVG (no library): stacked bars per label.
import { fmtNum, h } from "./lib.js";

// labels: x labels (days); series: for each label, the values of each group (stacked).
export function barChart(labels, series, { id, title } = {}) {
  const W = 480, H = 220, left = 48, bottom = 36, top = 10, right = 8;
  const totals = series.map((vals) => vals.reduce((a, v) => a + (v || 0), 0));
  const max = Math.max(...totals, 1);
  const plotW = W - left - right, plotH = H - top - bottom;
  const step = plotW / Math.max(labels.length, 1);
  const barW = Math.max(2, Math.min(40, step * 0.7));
  const svg = h("svg:svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", id, role: "img", "aria-label": title || "" },
    h("svg:title", {}, title || ""));
  for (const f of [0, 0.5, 1]) {
    const y = top + plotH * (1 - f);
    svg.append(h("svg:line", { x1: left, x2: W - right, y1: y, y2: y }),
      h("svg:text", { x: left - 4, y: y + 4, "text-anchor": "end" }, fmtNum(max * f)));
  }
  labels.forEach((label, i) => {
    const x = left + step * i + (step - barW) / 2;
    let y = top + plotH;
    (series[i] || []).forEach((v, g) => {
      const bh = (v / max) * plotH;
      if (bh <= 0) return;
      y -= bh;
      svg.append(h("svg:rect", { x, y, width: barW, height: bh, class: `b${g % 6}` },
        h("svg:title", {}, `${label}: ${fmtNum(v)}`)));
    });
    const every = Math.ceil(labels.length / 8);
    if (i % every === 0) {
      svg.append(h("svg:text", { x: x + barW / 2, y: H - bottom + 14, "text-anchor": "middle" }, label.slice(5)));
    }
  });
  return svg;
}

export function legend(groups) {
  return h("div", { class: "legend" }, groups.map((g, i) => h("span", {}, h("i", { class: `b${i % 6}` }), g)));
}
