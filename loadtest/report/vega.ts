// Charts without a browser (the one vega / vega-lite import): a Vega-Lite spec compiled and rendered to
// an SVG string. Imported lazily, so a run only loads them when it writes the HTML report.

export interface ChartRenderer {
  toSvg(spec: Record<string, unknown>): Promise<string>;
}

/** Undefined when vega or vega-lite is not installed (they are dev dependencies of a checkout). */
export async function loadChartRenderer(): Promise<ChartRenderer | undefined> {
  let vega: typeof import('vega');
  let vegaLite: typeof import('vega-lite');
  try {
    [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  } catch {
    return undefined;
  }
  return {
    async toSvg(spec) {
      const compiled = vegaLite.compile(spec as unknown as Parameters<typeof vegaLite.compile>[0]).spec;
      // renderer 'none': no canvas, no DOM; toSVG builds the markup from the scenegraph.
      const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
      try {
        return await view.toSVG();
      } finally {
        view.finalize();
      }
    },
  };
}
