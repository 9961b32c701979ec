// The house report as bars: each day's net result per game, drawn by hand in SVG.
import { formatCents, svg, toCents } from "../ui.js";

const W = 600;
const H = 240;
const PAD = { left: 64, right: 12, top: 14, bottom: 28 };
const GAMES = [
  ["spin-and-win", "spin"],
  ["russian-roulette", "roulette"],
];

// "-12.50" -> -1250 without floating point.
const cents = (text) => {
  const negative = String(text).startsWith("-");
  const value = toCents(String(text).replace(/^-/, "")) ?? 0;
  return negative ? -value : value;
};

export function drawHouseChart(node, rows) {
  for (const child of [...node.children]) if (child.tagName !== "title") child.remove();
  const days = [...new Set(rows.map((row) => row.day))].sort();
  if (!days.length) {
    node.append(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, "No settled bets in this period"));
    return;
  }
  const net = new Map(rows.map((row) => [`${row.day}|${row.game}`, cents(row.net)]));
  const values = [0, ...net.values()];
  let low = Math.min(...values);
  let high = Math.max(...values);
  if (low === high) high = low + 100;
  const y = (value) => PAD.top + ((high - value) / (high - low)) * (H - PAD.top - PAD.bottom);
  const slot = (W - PAD.left - PAD.right) / days.length;
  const bar = Math.max(2, (slot * 0.8) / GAMES.length);
  node.append(
    svg("line", { class: "axis", x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: H - PAD.bottom }),
    svg("line", { class: "axis", x1: PAD.left, y1: y(0), x2: W - PAD.right, y2: y(0) }),
  );
  for (const value of new Set([high, 0, low])) {
    node.append(svg("text", { x: PAD.left - 6, y: y(value) + 4, "text-anchor": "end" }, formatCents(value)));
  }
  days.forEach((day, index) => {
    const left = PAD.left + index * slot + slot * 0.1;
    GAMES.forEach(([game, kind], g) => {
      const value = net.get(`${day}|${game}`);
      if (value === undefined) return;
      const top = Math.min(y(value), y(0));
      const rect = svg("rect", {
        class: `bar ${kind}`,
        x: (left + g * bar).toFixed(1),
        y: top.toFixed(1),
        width: bar.toFixed(1),
        height: Math.max(1, Math.abs(y(value) - y(0))).toFixed(1),
      });
      rect.append(svg("title", {}, `${day} ${game}: ${formatCents(value)}`));
      node.append(rect);
    });
    if (days.length <= 14 || index % Math.ceil(days.length / 14) === 0) {
      node.append(svg("text", { x: (left + slot * 0.4).toFixed(1), y: H - 8, "text-anchor": "middle" }, day.slice(5)));
    }
  });
}
