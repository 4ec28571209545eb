import css from '../shared/style.css?inline'
import { injectStyle } from '../shared/inject-style.js'
import UITwinCard from './UITwinCard.vue'

injectStyle('twinwire-dashboard-style', css)

export { UITwinCard }
