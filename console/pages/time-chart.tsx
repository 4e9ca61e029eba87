/** Clicks, QR scans and visitors over time (uPlot, with its legend), sized to its container. */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import type { SeriesPoint as Point } from '../types.js';

export function TimeChart({ series, label }: { series: Point[]; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const data: uPlot.AlignedData = [series.map((p) => Date.parse(p.start) / 1000), series.map((p) => p.clicks), series.map((p) => p.scans), series.map((p) => p.visitors)];
    const plot = new uPlot(
      {
        width: Math.max(280, el.clientWidth),
        height: 240,
        scales: { x: { time: true } },
        series: [
          {},
          { label: 'Clicks', stroke: '#0b57d0', width: 2, fill: 'rgba(11, 87, 208, 0.12)' },
          { label: 'QR scans', stroke: '#a8320a', width: 2, points: { show: true, size: 5 } },
          { label: 'Visitors', stroke: '#146c2e', width: 2, dash: [6, 4] },
        ],
        axes: [{}, { label: 'per interval', size: 60 }],
      },
      data,
      el,
    );
    const onResize = () => plot.setSize({ width: Math.max(280, el.clientWidth), height: 240 });
    addEventListener('resize', onResize);
    return () => {
      removeEventListener('resize', onResize);
      plot.destroy();
    };
  }, [series]);
  return <div class="chart" ref={box} role="img" aria-label={label} />;
}
