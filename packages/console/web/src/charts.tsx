// SVG line charts of the last seconds of gateway traffic (no chart library).
import { niceTicks } from './layout.js';

/** One line of a chart: a value (or a gap, `null`) per point. */
export interface ChartSeries {
  readonly name: string;
  readonly colour: string;
  readonly values: readonly (number | null)[];
}

/** Props of {@link LineChart}. */
export interface LineChartProps {
  readonly title: string;
  readonly testId: string;
  /** Each point's time, epoch ms, oldest first (one per value of each series). */
  readonly times: readonly number[];
  readonly series: readonly ChartSeries[];
  /** Formats an axis value and the latest values in the legend. */
  readonly format: (value: number) => string;
  /** The time span shown, ending at `end`, ms. */
  readonly spanMs: number;
  readonly end: number;
  /** Lowest y-axis top, so a quiet chart does not magnify noise. */
  readonly minTop?: number;
}

const W = 560;
const H = 190;
const PAD = { left: 52, right: 12, top: 12, bottom: 24 };

/** A line chart of a few series over the last `spanMs`, with a y axis from 0 and a legend of the latest values. */
export function LineChart(props: LineChartProps) {
  const { times, series, spanMs, end } = props;
  const start = end - spanMs;
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  const ticks = niceTicks(Math.max(props.minTop ?? 0, ...all, 0));
  const top = ticks[ticks.length - 1] ?? 1;
  const x = (t: number): number => PAD.left + ((t - start) / spanMs) * (W - PAD.left - PAD.right);
  const y = (v: number): number => H - PAD.bottom - (v / (top || 1)) * (H - PAD.top - PAD.bottom);
  const path = (values: readonly (number | null)[]): string => {
    let d = '';
    let pen = false;
    values.forEach((v, i) => {
      const t = times[i];
      if (v === null || t === undefined || !Number.isFinite(v) || t < start) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${x(t).toFixed(1)} ${y(v).toFixed(1)} `;
      pen = true;
    });
    return d.trim();
  };
  const xTicks = [0, 30, 60, 90, 120].filter((s) => s * 1000 <= spanMs);
  return (
    <figure class="chart" data-testid={props.testId}>
      <figcaption>
        <strong>{props.title}</strong>
        {series.map((s) => {
          const last = [...s.values].reverse().find((v) => v !== null);
          return (
            <span class="legend" key={s.name}>
              <i style={{ background: s.colour }} />
              {s.name} {last === undefined || last === null ? '–' : props.format(last)}
            </span>
          );
        })}
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={props.title}>
        <title>{props.title}</title>
        {ticks.map((v) => (
          <g key={v}>
            <line class="grid" x1={PAD.left} x2={W - PAD.right} y1={y(v)} y2={y(v)} />
            <text class="axis" x={PAD.left - 6} y={y(v) + 4} text-anchor="end">
              {props.format(v)}
            </text>
          </g>
        ))}
        {xTicks.map((s) => (
          <text key={s} class="axis" x={x(end - s * 1000)} y={H - 6} text-anchor="middle">
            {s === 0 ? 'now' : `-${s}s`}
          </text>
        ))}
        {series.map((s) => (
          <path
            key={s.name}
            d={path(s.values)}
            fill="none"
            stroke={s.colour}
            stroke-width="1.8"
            stroke-linejoin="round"
          />
        ))}
      </svg>
    </figure>
  );
}
