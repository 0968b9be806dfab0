// The JS half of ApexChart.razor: creates an ApexCharts chart in a host element, updates it in place, destroys it.
// ApexCharts 4.7.0 (MIT) is served from /assets/apexcharts/ (see wwwroot-assets/apexcharts/README.md).
import ApexCharts from '../../../assets/apexcharts/apexcharts.esm.js';

// spec: { series: [{ name, kind, axis, color, data: [[ms, y|null]] }], axes: [{ title, decimals, opposite, min, max }],
//         thresholds: [{ y, label, color, axis, dashed }], theme: { mode, foreColor, gridColor } }
export async function create(host, spec) {
    const fixed = {
        chart: {
            type: 'line',
            // The host's height in pixels, legend and time labels included. With '100%' ApexCharts sized the plot
            // to the host and drew legend and labels below it, over whatever follows (the caption on /purchases).
            height: host.clientHeight || '100%',
            parentHeightOffset: 0,
            animations: { enabled: false },
            toolbar: { show: false },
            zoom: { enabled: false },
            fontFamily: 'inherit',
        },
        dataLabels: { enabled: false },
        legend: { show: true, position: 'bottom' },
        markers: { size: 0 },
        tooltip: { shared: true, intersect: false, x: { format: 'HH:mm' } },
        // Horizontal labels, thinned when they would overlap: rotated ones reach below the chart's own box, onto
        // whatever follows it (the caption on /purchases). Day and month appear where the ticks are days apart.
        xaxis: {
            type: 'datetime',
            labels: {
                datetimeUTC: false,
                rotate: 0,
                hideOverlappingLabels: true,
                datetimeFormatter: { year: 'yyyy', month: "MMM 'yy", day: 'dd MMM', hour: 'HH:mm', minute: 'HH:mm' },
            },
        },
        noData: { text: 'No data' },
    };
    const next = options(spec);
    // The theme's chart and tooltip settings join the fixed ones rather than replace them.
    const chart = new ApexCharts(host, {
        ...fixed,
        ...next,
        chart: { ...fixed.chart, ...next.chart },
        tooltip: { ...fixed.tooltip, ...next.tooltip },
    });
    await chart.render();
    host.dataset.chartCreated = String(Number(host.dataset.chartCreated ?? 0) + 1);
    host.dataset.chartUpdates = '0';

    return {
        // One redraw for series, axes and lines together; the chart and its element stay.
        update: async next => {
            await chart.updateOptions(options(next), false, false, false);
            host.dataset.chartUpdates = String(Number(host.dataset.chartUpdates) + 1);
        },
        destroy: () => {
            chart.destroy();
            delete host.dataset.chartCreated;
        },
    };
}

function options(spec) {
    const firstSeriesOf = axis => spec.series.findIndex(s => s.axis === axis);
    const theme = spec.theme ?? { mode: 'light', foreColor: '#373d3f', gridColor: '#e0e0e0' };
    return {
        // The page's surface shows through (ApexCharts' dark mode would paint its own grey background).
        chart: { foreColor: theme.foreColor, background: 'transparent' },
        theme: { mode: theme.mode },
        grid: { borderColor: theme.gridColor },
        tooltip: { theme: theme.mode },
        series: spec.series.map(s => ({ name: s.name, type: s.kind, data: s.data })),
        colors: spec.series.some(s => s.color) ? spec.series.map((s, i) => s.color ?? palette[i % palette.length]) : undefined,
        stroke: { width: spec.series.map(s => (s.kind === 'column' ? 0 : 2)), curve: 'straight' },
        // ApexCharts pairs y axes with series by position: one entry per series, all of an axis's series with the
        // same explicit scale, shown once. (Tying them with seriesName would also group and stack the legend.)
        yaxis: spec.series.map((s, i) => {
            const axis = spec.axes[s.axis] ?? {};
            const decimals = axis.decimals ?? 0;
            const range = scale(spec, s.axis);
            return {
                show: firstSeriesOf(s.axis) === i,
                opposite: !!axis.opposite,
                title: { text: axis.title ?? '' },
                min: range.min,
                max: range.max,
                tickAmount: range.tickAmount,
                labels: { formatter: v => (v === null || v === undefined ? '' : Number(v).toFixed(decimals)) },
            };
        }),
        annotations: {
            yaxis: spec.thresholds
                .filter(t => firstSeriesOf(t.axis) >= 0)
                .map(t => ({
                    y: t.y,
                    yAxisIndex: firstSeriesOf(t.axis),
                    borderColor: t.color,
                    strokeDashArray: t.dashed ? 6 : 0,
                    label: { text: t.label, borderColor: t.color, style: { color: '#fff', background: t.color } },
                })),
        },
    };
}

// The scale of an axis: from its minimum to above its highest point and its highest threshold, so every
// threshold line is drawn even while the data stays far below it (ApexCharts leaves out annotations outside
// the axis range). Steps of 1, 2, 2.5 or 5 times a power of ten, so whole counts get whole labels.
function scale(spec, axis) {
    const settings = spec.axes[axis] ?? {};
    const min = settings.min ?? 0;
    let top = min;
    for (const s of spec.series) {
        if (s.axis !== axis) continue;
        for (const [, y] of s.data) if (y !== null && y > top) top = y;
    }
    for (const t of spec.thresholds) if (t.axis === axis && t.y > top) top = t.y;
    if (settings.max !== null && settings.max !== undefined) return { min, max: settings.max, tickAmount: undefined };

    const span = Math.max((top - min) * 1.1, (settings.decimals ?? 0) === 0 ? 1 : 0.1);
    const rough = span / 5;
    const power = Math.pow(10, Math.floor(Math.log10(rough)));
    const step = [1, 2, 2.5, 5, 10].map(m => m * power).find(candidate => candidate >= rough
        && ((settings.decimals ?? 0) > 0 || Number.isInteger(candidate)));
    const ticks = Math.ceil(span / step);
    return { min, max: min + ticks * step, tickAmount: ticks };
}

const palette = ['#2E93fA', '#66DA26', '#E91E63', '#FF9800', '#546E7A', '#9C27B0'];
