export { instrumentWithOpenTelemetry } from './instrument-with-opentelemetry.js';
export type { OpenTelemetryOptions, QueueDepthSource } from './operation-telemetry.js';
export { subscribeOpenTelemetry } from './subscribe-opentelemetry.js';
