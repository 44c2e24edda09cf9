/**
 * The report's charts as inline SVG, drawn by Apache ECharts' server-side renderer (SVG string
 * output, no DOM, no canvas): the page then needs no script to show them. ECharts rather than
 * hand-made SVG because axes with readable ticks, legends and grouped bars are what it does well,
 * and its SSR mode is made for exactly this; rather than Vega because it has two small
 * dependencies and renders text without a canvas package.
 */
import * as echarts from 'echarts';

export interface LineSeries {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
  /** Drawn dashed (a second split of the same quantity). */
  readonly dashed?: boolean;
  /** Drawn thin and pale, without markers (per-step values under the per-epoch means). */
  readonly faint?: boolean;
  readonly colour?: string;
}

const FONT = 'system-ui, sans-serif';

function render(option: echarts.EChartsOption, width: number, height: number, label: string): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height });
  try {
    chart.setOption({ animation: false, textStyle: { fontFamily: FONT }, ...option });
    // The accessible name and a class the page's style (and its test) can find charts by.
    return chart.renderToSVGString().replace('<svg ', `<svg class="chart" role="img" aria-label="${label.replace(/[&<>"]/g, (c) => `&#${c.codePointAt(0)};`)}" `);
  } finally {
    chart.dispose();
  }
}

/** Lines over epochs (x from 0 to the last epoch); '' when no series has a point. `mark` draws a vertical line at an x. */
export function lineChart(options: {
  readonly title: string;
  readonly series: readonly LineSeries[];
  readonly xName?: string;
  readonly yName?: string;
  readonly mark?: { readonly x: number; readonly label: string };
  readonly width?: number;
  readonly height?: number;
}): string {
  const series = options.series.filter((s) => s.points.length);
  if (!series.length) return '';
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const lastX = Math.max(1, Math.ceil(Math.max(...xs)));
  return render(
    {
      title: { text: options.title, left: 8, top: 4, textStyle: { fontSize: 13, fontWeight: 'bold' } },
      // Server-side text widths are estimates, narrower than the browser's: keep legend items apart.
      legend: { top: 26, left: 8, itemWidth: 18, itemGap: 26, textStyle: { fontSize: 11 } },
      grid: { left: 56, right: 36, top: 60, bottom: 40 },
      xAxis: { type: 'value', name: options.xName ?? 'epoch', nameLocation: 'middle', nameGap: 24, min: 0, max: lastX, minInterval: 1 },
      yAxis: { type: 'value', name: options.yName ?? '', scale: true, splitLine: { lineStyle: { color: '#eee' } } },
      series: series.map((s, i) => ({
        type: 'line',
        name: s.name,
        data: s.points.map((p) => [...p]),
        showSymbol: !s.faint,
        symbolSize: 5,
        lineStyle: { width: s.faint ? 1 : 2, type: s.dashed ? 'dashed' : 'solid', opacity: s.faint ? 0.45 : 1, ...(s.colour ? { color: s.colour } : {}) },
        ...(s.colour ? { itemStyle: { color: s.colour } } : {}),
        ...(options.mark && i === 0
          ? { markLine: { silent: true, symbol: 'none', lineStyle: { color: '#2e7d32', type: 'dotted' }, label: { formatter: options.mark.label, color: '#2e7d32' }, data: [{ xAxis: options.mark.x }] } }
          : {}),
      })),
    },
    options.width ?? 560,
    options.height ?? 280,
    options.title,
  );
}

/** Grouped bars over named categories; '' when there are no categories. */
export function barChart(options: {
  readonly title: string;
  readonly categories: readonly string[];
  readonly series: readonly { readonly name: string; readonly values: readonly number[] }[];
  readonly xName?: string;
  readonly yName?: string;
  readonly width?: number;
  readonly height?: number;
}): string {
  if (!options.categories.length || !options.series.length) return '';
  return render(
    {
      title: { text: options.title, left: 8, top: 4, textStyle: { fontSize: 12, fontWeight: 'bold' } },
      legend: { top: 4, right: 8, itemWidth: 14, itemGap: 18, textStyle: { fontSize: 10 } },
      grid: { left: 44, right: 12, top: 40, bottom: 36 },
      xAxis: { type: 'category', name: options.xName ?? '', nameLocation: 'middle', nameGap: 22, data: [...options.categories] },
      yAxis: { type: 'value', name: options.yName ?? '', splitLine: { lineStyle: { color: '#eee' } } },
      series: options.series.map((s) => ({ type: 'bar', name: s.name, data: [...s.values], barMaxWidth: 18 })),
    },
    options.width ?? 300,
    options.height ?? 200,
    options.title,
  );
}
