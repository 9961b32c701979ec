// A line chart of the cumulative net result, drawn by hand in SVG.
import { formatCents, svg } from "./ui.js";

const W = 600;
const H = 240;
const TEXT_PX = 12; // the labels' size on screen, whatever the chart is scaled to

const drawn = new WeakMap(); // chart node -> the points it shows
const resized = new ResizeObserver((entries) => {
  for (const entry of entries) {
    if (entry.contentRect.width && drawn.has(entry.target)) draw(entry.target, drawn.get(entry.target));
  }
});

/** points: [{at: Date, cents: cumulative net}] oldest first. Redrawn when the chart's size
 * changes (a phone turned, a window resized), so its labels keep their size on screen. */
export function drawNetChart(node, points) {
  if (!drawn.has(node)) resized.observe(node);
  drawn.set(node, points);
  draw(node, points);
}

function draw(node, points) {
  node.replaceChildren();
  // The SVG scales with its box (to about half its size on a phone): labels are drawn in
  // viewBox units that come out at TEXT_PX on screen, and the left margin fits them.
  const shown = node.getBoundingClientRect().width || W;
  const font = Math.round(TEXT_PX * Math.max(1, W / shown));
  node.style.setProperty("--chart-font", `${font}px`);
  if (!points.length) {
    node.append(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, "No settled bets yet"));
    return;
  }
  const series = [{ at: points[0].at, cents: 0 }, ...points];
  const values = series.map((p) => p.cents);
  let low = Math.min(0, ...values);
  let high = Math.max(0, ...values);
  if (low === high) high = low + 100;
  const widest = Math.max(formatCents(high).length, formatCents(low).length);
  const PAD = { left: Math.ceil(widest * font * 0.62) + 10, right: 12, top: font + 4, bottom: font * 2 + 4 };
  const x = (index) => PAD.left + (index / Math.max(1, series.length - 1)) * (W - PAD.left - PAD.right);
  const y = (cents) => PAD.top + ((high - cents) / (high - low)) * (H - PAD.top - PAD.bottom);
  node.append(
    svg("line", { class: "axis", x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: H - PAD.bottom }),
    svg("line", { class: "axis", x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom }),
    svg("line", { class: "zero", x1: PAD.left, y1: y(0), x2: W - PAD.right, y2: y(0) }),
  );
  for (const value of [high, 0, low]) {
    if (value === 0 && (high === 0 || low === 0) && value !== high && value !== low) continue;
    node.append(svg("text", { x: PAD.left - 6, y: y(value) + 4, "text-anchor": "end" }, formatCents(value)));
  }
  node.append(svg("text", { x: PAD.left, y: H - 8 }, "first bet"));
  node.append(svg("text", { x: W - PAD.right, y: H - 8, "text-anchor": "end" }, "latest"));
  const path = series.map((p, i) => `${i ? "L" : "M"}${x(i).toFixed(1)} ${y(p.cents).toFixed(1)}`).join(" ");
  node.append(svg("path", { class: "line", d: path }));
  const last = series[series.length - 1];
  node.append(svg("circle", { cx: x(series.length - 1), cy: y(last.cents), r: 4, fill: last.cents >= 0 ? "#5fd08a" : "#ff7b7b" }));
}
