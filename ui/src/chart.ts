import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { formatMetric } from "./format.js";

/** One line of a chart: its values against step. */
export interface ChartSeries {
  label: string;
  color: string;
  x: ArrayLike<number>;
  y: ArrayLike<number | null>;
  /** Only markers, no line (the best checkpoint). */
  markersOnly?: boolean;
}

/** Steps shared by every series are used as they are; otherwise they are joined. */
function align(series: ChartSeries[]): uPlot.AlignedData {
  if (series.length === 0) return [[]];
  const first = series[0]!.x;
  const shared = series.every((s) => s.x === first || (s.x.length === first.length && sameValues(s.x, first)));
  if (shared) return [first as number[], ...series.map((s) => s.y as (number | null)[])];
  return uPlot.join(series.map((s) => [s.x as number[], s.y as (number | null)[]] as uPlot.AlignedData));
}

function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * One metric against step, on uPlot (canvas; a million points draw in tens of milliseconds).
 * Drag to zoom along the steps, double-click to zoom out; the legend shows each series' value at
 * the cursor. `update` redraws with new data, keeping the zoom when the series are the same.
 *
 * @example
 * const chart = new MetricChart(element, "loss");
 * chart.update([{ label: "e510303", color: "#2563eb", x: [0, 1], y: [0.9, 0.5] }]);
 */
export class MetricChart {
  private plot: uPlot | null = null;
  private signature = "";
  private readonly resize: ResizeObserver;
  private zoomed = false;

  constructor(
    private readonly container: HTMLElement,
    private readonly metric: string,
    private readonly height = 240,
  ) {
    this.resize = new ResizeObserver(() => this.plot?.setSize({ width: this.width(), height: this.height }));
    this.resize.observe(container);
  }

  private width(): number {
    return Math.max(240, this.container.clientWidth);
  }

  update(series: ChartSeries[]): void {
    const data = align(series);
    const signature = JSON.stringify(series.map((s) => [s.label, s.color, !!s.markersOnly]));
    if (this.plot && signature === this.signature) {
      this.plot.setData(data, !this.zoomed);
      return;
    }
    this.plot?.destroy();
    this.signature = signature;
    this.zoomed = false;
    const points = data[0].length;
    const options: uPlot.Options = {
      width: this.width(),
      height: this.height,
      cursor: { drag: { x: true, y: false, setScale: true }, focus: { prox: 24 } },
      focus: { alpha: 0.35 },
      scales: { x: { time: false } },
      legend: { live: true },
      axes: [
        { label: "step", stroke: "#5b6472", grid: { stroke: "#eef0f3" }, ticks: { stroke: "#e2e5ea" } },
        { stroke: "#5b6472", grid: { stroke: "#eef0f3" }, ticks: { stroke: "#e2e5ea" }, size: 60, values: (_u, ticks) => ticks.map((v) => formatMetric(v)) },
      ],
      series: [
        { label: "step", value: (_u, v) => (v === null || v === undefined ? "–" : String(v)) },
        ...series.map(
          (s): uPlot.Series => ({
            label: s.label,
            stroke: s.color,
            width: 1.5,
            spanGaps: true,
            value: (_u, v) => (v === null || v === undefined ? "–" : formatMetric(v)),
            points: s.markersOnly ? { show: true, size: 10, fill: s.color, stroke: "#fff", width: 2 } : { show: points <= 30 },
            ...(s.markersOnly ? { paths: () => null } : {}),
          }),
        ),
      ],
      hooks: {
        setSelect: [() => (this.zoomed = true)],
        ready: [
          (u) =>
            u.over.addEventListener("dblclick", () => {
              this.zoomed = false;
            }),
        ],
      },
    };
    this.plot = new uPlot(options, data, this.container);
    this.plot.root.dataset.metric = this.metric;
    this.plot.root.dataset.series = String(series.length);
  }

  destroy(): void {
    this.resize.disconnect();
    this.plot?.destroy();
    this.plot = null;
  }
}

const PALETTE = ["#2563eb", "#e4572e", "#17a398", "#f3a712", "#8e44ad", "#d6336c", "#3d9970", "#795548", "#0ea5e9", "#64748b"];

/** A color per series: ten distinct ones, then evenly spread hues. @example colorOf(0) // "#2563eb" */
export function colorOf(index: number): string {
  if (index < PALETTE.length) return PALETTE[index]!;
  return `hsl(${Math.round((index * 137.508) % 360)}, 62%, 46%)`;
}
