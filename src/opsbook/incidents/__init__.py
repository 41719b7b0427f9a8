"""Incidents and on-call: severities with response clocks, escalation over on-call schedules,
timelines with change correlation, postmortems, handoff reports and scheduled runbooks.

Every function takes ``now`` explicitly: a drill, a test and production run the same code.
"""
