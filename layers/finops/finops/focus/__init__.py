"""FOCUS (the FinOps Open Cost and Usage Specification): importing cloud bills as cost data, exporting ours."""
