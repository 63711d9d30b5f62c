"""Pages of the audits app: the supervisors' oversight pages."""
