export { checkTimeZone, InvalidSchedule, localIso, MISSED_FIRE_POLICIES, parseExpression, scheduledEvent, type Expression, type MissedFirePolicy } from './schedule.ts';
export { SCHEDULE_LIMITS, scheduleSchema, type ScheduleInput } from './schemas.ts';
export { Schedules, type FunctionDirectory, type ScheduleChange, type ScheduleEntry } from './schedules.ts';
export { Scheduler, DEFAULT_MISSED_AFTER_MS, MAX_TIMER_MS, type SchedulerOptions } from './scheduler.ts';
export { SqliteScheduleStore, type FireState, type ScheduleRecord, type ScheduleStore } from './store.ts';
