// Step Report webview script. The extension sends the report body already escaped; this script
// draws each solution's bar chart from its data-bars attribute and turns clicks into "reveal"
// messages. It never builds markup from strings (CSP: no inline script, no inline style).
// @ts-check
(function () {
  // acquireVsCodeApi is a global VS Code injects into webviews; it has no declaration here.
  // @ts-expect-error -- injected by VS Code at run time
  // eslint-disable-next-line no-undef -- a webview global the linter cannot know
  const vscode = acquireVsCodeApi();
  const SVG = "http://www.w3.org/2000/svg";
  const root = /** @type {HTMLElement} */ (document.getElementById("root"));

  /** @param {string} name @param {Record<string, string | number>} attrs */
  function svg(name, attrs) {
    const el = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    return el;
  }

  /** @param {HTMLElement} host */
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
    const values = bars.map((b) => (typeof b.reward === "number" && isFinite(b.reward) ? b.reward : 0));
    const max = Math.max(1e-6, ...values.map(Math.abs));
    const hasNegative = values.some((v) => v < 0);
    const barW = 28, gap = 10, padL = 44, padT = 10, height = 150, labelH = 18;
    const plotH = height - padT - labelH;
    const zeroY = padT + (hasNegative ? plotH / 2 : plotH);
    const scale = (hasNegative ? plotH / 2 : plotH) / max;
    const width = padL + bars.length * (barW + gap) + gap;
    const chart = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "bars" });
    chart.appendChild(svg("line", { x1: padL, x2: width, y1: zeroY, y2: zeroY, class: "axis" }));
    for (const [value, y] of [[max, padT], [0, zeroY], ...(hasNegative ? [[-max, padT + plotH]] : [])]) {
      const t = svg("text", { x: padL - 6, y: y + 4, class: "tick", "text-anchor": "end" });
      t.textContent = value.toFixed(2);
      chart.appendChild(t);
    }
    bars.forEach((b, i) => {
      const v = values[i];
      const x = padL + gap + i * (barW + gap);
      const h = Math.max(1, Math.abs(v) * scale);
      const rect = svg("rect", { x, y: v >= 0 ? zeroY - h : zeroY, width: barW, height: h, rx: 2, class: `bar ${b.bucket}` });
      rect.dataset.solution = String(solution);
      rect.dataset.step = String(b.step);
      const title = svg("title", {});
      title.textContent = b.label;
      rect.appendChild(title);
      chart.appendChild(rect);
      const label = svg("text", { x: x + barW / 2, y: height - 4, class: "tick", "text-anchor": "middle" });
      label.textContent = String(b.step + 1);
      chart.appendChild(label);
    });
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
