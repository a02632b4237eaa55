export { nextRuns } from './schedule-spec.js';
export { type Scheduler, type SchedulerOptions, startScheduler } from './scheduler.js';
export { type ScheduleDefinition, setSchedule } from './set-schedule.js';
