import { describe, expect, it } from 'vitest';
import { barChart, sparkline } from '../src/chart.js';

describe('terminal charts', () => {
  it('sparkline scales to the largest value', () => {
    expect(sparkline([0, 1, 2, 3, 4, 5, 6, 7])).toBe('▁▂▃▄▅▆▇█');
    expect(sparkline([0, 0, 0])).toBe('▁▁▁');
    expect(sparkline([])).toBe('');
  });

  it('bar chart: aligned labels and values, eighths of a cell', () => {
    expect(barChart([{ label: 'US', value: 8 }, { label: 'DE', value: 3 }, { label: '(unknown)', value: 1 }], 4)).toEqual([
      'US        │████ 8',
      'DE        │█▌   3',
      '(unknown) │▌    1',
    ]);
    expect(barChart([{ label: 'a', value: 0 }], 3)).toEqual(['a │    0']);
  });
});
