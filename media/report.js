// Step Report webview script. The extension sends the report body already escaped; this script
// draws each solution's bar chart from its data-bars attribute and turns clicks into "reveal"
// messages. It never builds markup from strings (CSP: no inline script, no inline style).
// @ts-check
(function () {
  /* global acquireVsCodeApi -- injected by VS Code into its webviews */
  // @ts-expect-error acquireVsCodeApi is injected by VS Code
  const vscode = acquireVsCodeApi();
  const SVG = "http://www.w3.org/2000/svg";
  const root = /** @type {HTMLElement} */ (document.getElementById("root"));

  /** @param {string} name @param {Record<string, string | number>} attrs */
  function svg(name, attrs) {
    const el = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    return el;
  }

  /**
   * One bar per step: its soft label on a fixed 0–1 scale (the number the verdicts, the lens and the
   * after-line text use), the threshold as a dashed line, both axes titled.
   * @param {HTMLElement} host
   */
  function drawChart(host) {
    /** @type {{step: number, reward: number | null, softLabel: number | null, bucket: string, label: string}[]} */
    let bars;
    try {
      bars = JSON.parse(host.dataset.bars || "[]");
    } catch {
      return;
    }
    host.replaceChildren();
    if (bars.length === 0) return;
    const solution = Number(host.dataset.solution);
    const threshold = Number(host.dataset.threshold);
    const barW = 24, gap = 8, padL = 58, padT = 12, padR = 96, height = 170, labelH = 34;
    const plotH = height - padT - labelH;
    const baseY = padT + plotH;
    /** @param {number} v */
    const yOf = (v) => baseY - Math.max(0, Math.min(1, v)) * plotH;
    const width = padL + bars.length * (barW + gap) + gap + padR;
    const chart = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "bars" });
    chart.appendChild(svg("line", { x1: padL, x2: width - padR, y1: baseY, y2: baseY, class: "axis" }));
    chart.appendChild(svg("line", { x1: padL, x2: padL, y1: padT, y2: baseY, class: "axis" }));
    for (const value of [0, 0.5, 1]) {
      const t = svg("text", { x: padL - 6, y: yOf(value) + 4, class: "tick", "text-anchor": "end" });
      t.textContent = value.toFixed(1);
      chart.appendChild(t);
    }
    const yTitle = svg("text", { x: 12, y: padT + plotH / 2, class: "axis-title", "text-anchor": "middle", transform: `rotate(-90 12 ${padT + plotH / 2})` });
    yTitle.textContent = "soft label";
    chart.appendChild(yTitle);
    const xTitle = svg("text", { x: padL + (width - padL - padR) / 2, y: height - 2, class: "axis-title", "text-anchor": "middle" });
    xTitle.textContent = "step";
    chart.appendChild(xTitle);
    bars.forEach((b, i) => {
      const v = typeof b.softLabel === "number" && isFinite(b.softLabel) ? b.softLabel : 0;
      const x = padL + gap + i * (barW + gap);
      const top = Math.min(yOf(v), baseY - 1);
      const rect = svg("rect", { x, y: top, width: barW, height: baseY - top, rx: 2, class: `bar ${b.bucket}` });
      rect.dataset.solution = String(solution);
      rect.dataset.step = String(b.step);
      const title = svg("title", {});
      title.textContent = b.label;
      rect.appendChild(title);
      chart.appendChild(rect);
      const label = svg("text", { x: x + barW / 2, y: baseY + 14, class: "tick", "text-anchor": "middle" });
      label.textContent = String(b.step + 1);
      chart.appendChild(label);
    });
    if (isFinite(threshold)) {
      const y = yOf(threshold);
      chart.appendChild(svg("line", { x1: padL, x2: width - padR, y1: y, y2: y, class: "threshold" }));
      const t = svg("text", { x: width - padR + 4, y: y + 4, class: "threshold-label" });
      t.textContent = `threshold ${threshold}`;
      chart.appendChild(t);
    }
    host.appendChild(chart);
  }

  function render() {
    root.querySelectorAll(".chart").forEach((el) => drawChart(/** @type {HTMLElement} */ (el)));
    markHighlight();
  }

  /** A step ("Explain this step") or a whole solution, as the extension marked it. */
  function markHighlight() {
    const row = root.querySelector("tr.highlight");
    if (row) {
      const { solution, step } = /** @type {HTMLElement} */ (row).dataset;
      root.querySelectorAll(`rect.bar[data-solution="${solution}"][data-step="${step}"]`).forEach((r) => r.classList.add("highlight"));
      row.scrollIntoView({ block: "center" });
      return;
    }
    root.querySelector("section.highlight")?.scrollIntoView({ block: "start" });
  }

  root.addEventListener("click", (event) => {
    const target = /** @type {Element} */ (event.target);
    // Opening a step's per-template terms is not a request to jump to it.
    if (target.closest("details")) return;
    const hit = target.closest("[data-step]");
    if (!hit) return;
    const { solution, step } = /** @type {HTMLElement} */ (hit).dataset;
    vscode.postMessage({ type: "reveal", solutionIndex: Number(solution), stepIndex: Number(step) });
  });

  window.addEventListener("message", (event) => {
    const msg = event.data;
    if (msg && msg.type === "render" && typeof msg.body === "string") {
      // The body comes from the extension's escaping builder, never from page content.
      root.innerHTML = msg.body;
      render();
    }
  });

  render();
})();
