// The Spin and Win wheel drawn in SVG: one slice per segment, sized by its weight, turned by
// requestAnimationFrame until the pointer (at the top) rests inside the segment the server chose.
import { svg } from "./ui.js";

const COLOURS = ["#5a6b80", "#f5b82e", "#5fd08a", "#ff8a65", "#7cc4ff", "#c39bff", "#e6e6e6"];
const RADIUS = 100;

function point(angle, radius) {
  const radians = ((angle - 90) * Math.PI) / 180; // angle 0 = top, clockwise
  return [radius * Math.cos(radians), radius * Math.sin(radians)];
}

export class Wheel {
  constructor(node) {
    this.node = node;
    this.rotation = 0;
    this.spans = [];
    this.rotor = null;
  }

  draw(segments) {
    const total = segments.reduce((sum, s) => sum + s.weight, 0);
    const rotor = svg("g", { class: "rotor" });
    let start = 0;
    this.spans = segments.map((segment, index) => {
      const sweep = (segment.weight / total) * 360;
      const end = start + sweep;
      const [x1, y1] = point(start, RADIUS);
      const [x2, y2] = point(end, RADIUS);
      const large = sweep > 180 ? 1 : 0;
      const colour = COLOURS[index % COLOURS.length];
      rotor.append(svg("path", {
        d: `M0 0 L${x1.toFixed(3)} ${y1.toFixed(3)} A${RADIUS} ${RADIUS} 0 ${large} 1 ${x2.toFixed(3)} ${y2.toFixed(3)} Z`,
        fill: colour, stroke: "#10141b", "stroke-width": 1.5,
      }));
      const middle = start + sweep / 2;
      const [tx, ty] = point(middle, RADIUS * 0.66);
      const label = svg("text", {
        x: tx.toFixed(2), y: ty.toFixed(2), "text-anchor": "middle", "dominant-baseline": "middle",
        // Radial labels, turned over in the lower half so none starts upside down.
        transform: `rotate(${(middle > 90 && middle < 270 ? middle + 180 : middle).toFixed(2)} ${tx.toFixed(2)} ${ty.toFixed(2)})`,
      }, `×${segment.multiplier}`);
      rotor.append(label);
      const span = { start, end };
      start = end;
      return span;
    });
    rotor.append(svg("circle", { r: 14, fill: "#10141b", stroke: "#f5b82e", "stroke-width": 3 }));
    const pointer = svg("path", { d: "M-9 -109 L9 -109 L0 -88 Z", fill: "#eef2f7", stroke: "#10141b", "stroke-width": 1.5 });
    this.node.replaceChildren(
      svg("circle", { r: 104, fill: "#232b37" }), rotor, pointer);
    this.rotor = rotor;
    this.apply();
  }

  apply() {
    this.rotor?.setAttribute("transform", `rotate(${this.rotation.toFixed(3)})`);
  }

  /** Turn the wheel until `segment` is under the pointer; resolves when it rests. */
  spinTo(segment) {
    const span = this.spans[segment];
    if (!span) return Promise.resolve();
    const width = span.end - span.start;
    const target = span.start + width * (0.2 + Math.random() * 0.6);
    // A point at angle a sits at a + rotation; it is under the pointer when that is 0 mod 360.
    const base = ((-target - this.rotation) % 360 + 360) % 360;
    const reduced = matchMedia("(prefers-reduced-motion: reduce)").matches;
    const from = this.rotation;
    const to = from + base + (reduced ? 0 : 360 * 5);
    const duration = reduced ? 200 : 3200;
    this.node.dataset.state = "spinning";
    return new Promise((resolve) => {
      const started = performance.now();
      const frame = (now) => {
        const t = Math.min(1, (now - started) / duration);
        const eased = 1 - (1 - t) ** 4;
        this.rotation = from + (to - from) * eased;
        this.apply();
        if (t < 1) requestAnimationFrame(frame);
        else {
          this.rotation %= 360;
          this.apply();
          this.node.dataset.state = "idle";
          this.node.dataset.segment = String(segment);
          this.node.dataset.pointer = String(this.segmentAtPointer());
          resolve();
        }
      };
      requestAnimationFrame(frame);
    });
  }

  /** The segment under the pointer now (what the player sees). */
  segmentAtPointer() {
    const angle = ((-this.rotation % 360) + 360) % 360;
    return this.spans.findIndex((span) => angle >= span.start && angle < span.end);
  }
}
