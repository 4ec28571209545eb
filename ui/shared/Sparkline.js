// A sparkline as an inline SVG: the line takes the text colour of its place (currentColor), so it
// follows the Dashboard's light and dark themes.
import { h } from 'vue'

export default {
    name: 'TwinSparkline',
    props: {
        values: { type: Array, default: () => [] },
        width: { type: Number, default: 120 },
        height: { type: Number, default: 28 }
    },
    render () {
        const v = this.values.filter((x) => typeof x === 'number' && Number.isFinite(x))
        if (v.length < 2) return h('svg', { class: 'tw-spark', width: this.width, height: this.height, 'aria-hidden': 'true' })
        const min = Math.min(...v)
        const max = Math.max(...v)
        const span = max - min || 1
        const pad = 2
        const x = (i) => pad + (i * (this.width - 2 * pad)) / (v.length - 1)
        const y = (val) => pad + (this.height - 2 * pad) * (1 - (val - min) / span)
        const points = v.map((val, i) => `${x(i).toFixed(1)},${y(val).toFixed(1)}`).join(' ')
        const last = v[v.length - 1]
        return h('svg', { class: 'tw-spark', width: this.width, height: this.height, viewBox: `0 0 ${this.width} ${this.height}`, role: 'img', 'aria-label': `trend of ${v.length} readings` }, [
            h('polyline', { points, fill: 'none', stroke: 'currentColor', 'stroke-width': 1.5, 'stroke-linejoin': 'round' }),
            h('circle', { cx: x(v.length - 1), cy: y(last), r: 2, fill: 'currentColor' })
        ])
    }
}
