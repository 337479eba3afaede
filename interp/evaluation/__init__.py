"""Evaluation layer: metrics with event-bootstrap intervals, scoring files, baselines, domain
shift, transfer warnings and few-shot recalibration."""
