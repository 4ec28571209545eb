// The widgets' CSS goes into the page once, from the bundle itself: the Dashboard loads only the
// .umd.js file of a third-party widget.
export function injectStyle (id, css) {
    if (typeof document === 'undefined' || document.getElementById(id)) return
    const style = document.createElement('style')
    style.id = id
    style.textContent = css
    document.head.appendChild(style)
}

export function ago (ts, now = Date.now()) {
    if (typeof ts !== 'number') return 'never'
    const s = Math.max(0, Math.round((now - ts) / 1000))
    if (s < 60) return `${s} s ago`
    if (s < 3600) return `${Math.round(s / 60)} min ago`
    if (s < 86400) return `${Math.round(s / 3600)} h ago`
    return `${Math.round(s / 86400)} d ago`
}
