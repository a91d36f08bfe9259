// Alert changes (opened, acknowledged, resolved) drawn as annotations on every time series panel.
import { AnnotationQueryBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { GLOSSARY, type Kind } from '../catalog/index.js';
import { DATASOURCE, TIME_FILTER, and, ident, influxql } from './influxql.js';
import { ALERT_FIELDS, MEASUREMENT } from './measurements.js';
import { DEVICE_FILTER, kindIs } from './variables.js';

/** The InfluxQL behind the alert annotations (also used by tests). */
export function alertChangesQuery(kind?: Kind): string {
  const fields = [ALERT_FIELDS.state, ALERT_FIELDS.message, ALERT_FIELDS.value, 'severity', 'rule', 'device_id']
    .map(ident)
    .join(', ');
  return `SELECT ${fields} FROM ${ident(MEASUREMENT.alerts)} WHERE ${and(
    TIME_FILTER,
    DEVICE_FILTER,
    ...(kind ? [kindIs(kind)] : []),
  )}`;
}

export function alertAnnotation(kind?: Kind): AnnotationQueryBuilder {
  return new AnnotationQueryBuilder()
    .name(`${GLOSSARY.concept.alert.id} (alerts)`)
    .datasource(DATASOURCE)
    .enable(true)
    .iconColor('red')
    .target(
      influxql(alertChangesQuery(kind))
        .refId('Anno')
        .format('table')
        .annotation({
          text: ALERT_FIELDS.message,
          title: ALERT_FIELDS.state,
          tags: ['device_id', 'rule', 'severity', ALERT_FIELDS.state],
        }),
    );
}
