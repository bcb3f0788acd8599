/**
 * @fewstep/eval: metrics and reports. Ground-truth mixture metrics live in @fewstep/core
 * (`mixtureMetrics`); this package renders what people would rather look at than read.
 */
export { encodePng } from './png.js';
export { videoStripPng, type VideoStripOptions } from './video-strip.js';
export { linePlotSvg, type LinePlotOptions, type LineSeries } from './svg-line-plot.js';
export { renderHtmlReport, type ReportSection, type ReportTable } from './html-report.js';
export { videoGridFrames, encodeGif, writeMp4, type VideoGridOptions } from './video-grid.js';
