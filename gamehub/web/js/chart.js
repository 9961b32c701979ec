// A line chart of the cumulative net result, drawn by hand in SVG.
import { formatCents, svg } from "./ui.js";

const W = 600;
const H = 240;
const PAD = { left: 64, right: 12, top: 14, bottom: 28 };

/** points: [{at: Date, cents: cumulative net}] oldest first. */
export function drawNetChart(node, points) {
  node.replaceChildren();
  if (!points.length) {
    node.append(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, "No settled bets yet"));
    return;
  }
  const series = [{ at: points[0].at, cents: 0 }, ...points];
  const values = series.map((p) => p.cents);
  let low = Math.min(0, ...values);
  let high = Math.max(0, ...values);
  if (low === high) high = low + 100;
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
