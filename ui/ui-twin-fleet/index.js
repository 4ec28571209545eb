import css from '../shared/style.css?inline'
import { injectStyle } from '../shared/inject-style.js'
import UITwinFleet from './UITwinFleet.vue'

injectStyle('twinwire-dashboard-style', css)

export { UITwinFleet }
